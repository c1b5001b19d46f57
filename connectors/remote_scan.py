"""Stdlib-only tree walker and candidate-line finder: runs on the laptop (sent over SSH stdin) and locally.

Owns the candidate rule shared by the remote scanner and the SFTP fallback. Must import nothing outside the
standard library, write no files, and keep Python 3.7 syntax: this very source is what laptops execute.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import errno
import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO

# Each name below must stay valid on a laptop's stock python3 (3.7+): no walrus, no match, no 3.9+ APIs.

BLOCK_SIZE = 1 << 20
PROTOCOL_VERSION = 1
HEARTBEAT_SECONDS = 5.0

# Record types of the framed stream (one compact JSON object per line on stdout).
RECORD_HELLO = "hello"
RECORD_ITEM = "i"
RECORD_HIT = "h"
RECORD_SKIPPED = "k"
RECORD_HEARTBEAT = "."
RECORD_END = "end"


def usable_literals(literals: Iterable[bytes]) -> list[bytes]:
    """Literals that can match a line: empty ones and ones containing a newline are dropped.

    Args:
        literals: the detection Matcher's prefilter literals.

    Returns:
        The distinct usable literals in their given order.
    """
    seen: list[bytes] = []
    for lit in literals:
        if lit and b"\n" not in lit and lit not in seen:
            seen.append(lit)
    return seen


def _candidates_in_region(
    region: bytes, literals: Sequence[bytes], first_line: int, base_offset: int
) -> Iterator[tuple[int, int, bytes]]:
    """Candidates among the complete lines of `region` (lines joined by b"\\n", no trailing newline)."""
    lowered = region.lower()  # bytes.lower(): ASCII-only, so byte positions are unchanged
    starts: dict[int, int] = {}
    for lit in literals:
        pos = lowered.find(lit)
        while pos >= 0:
            start = lowered.rfind(b"\n", 0, pos) + 1
            end = lowered.find(b"\n", pos)
            if end < 0:
                end = len(lowered)
            starts[start] = end
            pos = lowered.find(lit, end)
    line = first_line
    previous = 0
    for start in sorted(starts):
        line += region.count(b"\n", previous, start)
        previous = start
        yield (line, base_offset + start, region[start : starts[start]])


def iter_candidate_lines(
    read: Callable[[int], bytes], literals: Sequence[bytes], block_size: int = BLOCK_SIZE
) -> Iterator[tuple[int, int, bytes]]:
    """Yield `(line, offset, data)` for each raw line where `any(lit in line.lower() for lit in literals)`.

    Lines are split on b"\\n" and numbered from 1; `offset` is the byte offset of the line start; `data` is
    the raw line without its newline. This is exactly the detection Matcher's prefilter rule.

    Args:
        read: a `read(n)` callable returning at most n bytes, b"" at the end.
        literals: the prefilter literals (bytes, matched against the ASCII-lowercased line).
        block_size: bytes per read.

    Yields:
        Candidate lines in file order.
    """
    lits = usable_literals(literals)
    carry = bytearray()
    line = 1
    offset = 0
    while True:
        chunk = read(block_size)
        if not chunk:
            break
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry += chunk
            continue
        region = bytes(carry) + chunk[:cut]
        carry = bytearray(chunk[cut + 1 :])
        if lits:
            yield from _candidates_in_region(region, lits, line, offset)
        line += region.count(b"\n") + 1
        offset += len(region) + 1
    if carry and lits:
        yield from _candidates_in_region(bytes(carry), lits, line, offset)


_BOM_CODECS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def utf8_reader(read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """`read` as UTF-8: a file with a UTF-16/32 byte-order mark is decoded incrementally (line numbers are
    unchanged: every encoding ends a line at U+000A); any other file is returned byte for byte.

    Mirrors `connectors.encoding.utf8_view` with the standard library only (this source runs on laptops).
    """
    head = b""
    while len(head) < 4:
        more = read(4 - len(head))
        if not more:
            break
        head += more
    codec = None
    for bom, name in _BOM_CODECS:
        if head.startswith(bom):
            codec, head = name, head[len(bom) :]
            break
    pending = [head]
    if codec is None:

        def plain(n: int) -> bytes:
            if pending[0]:
                data, pending[0] = pending[0], b""
                return data
            return read(n)

        return plain
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    state = [decoder.decode(head, False).encode("utf-8", "surrogatepass"), False]

    def decoded(n: int) -> bytes:
        buf = state[0]
        while not buf and not state[1]:
            chunk = read(n)
            if not chunk:
                buf = decoder.decode(b"", True).encode("utf-8", "surrogatepass")
                state[1] = True
            else:
                buf = decoder.decode(chunk, False).encode("utf-8", "surrogatepass")
        state[0] = b""
        return buf  # type: ignore[return-value]

    return decoded


def laptop_path(rel: str) -> str:
    """The laptop view of a path relative to the root: "/" plus the relative path."""
    return "/" + rel if rel else "/"


def is_under(path: str, base: str) -> bool:
    """Whether POSIX `path` is `base` or below it."""
    return base in ("/", path) or path.startswith(base.rstrip("/") + "/")


# --- laptop side -------------------------------------------------------------------------------------------


class _Emitter:
    """Writes framed records to stdout and a heartbeat when nothing was written for a while."""

    def __init__(self, out: BinaryIO, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self._out = out
        self._heartbeat = heartbeat
        self._last = time.monotonic()

    def emit(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"
        self._out.write(line)
        now = time.monotonic()
        if now - self._last > 0.2:
            self._out.flush()
            self._last = now

    def heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last > self._heartbeat:
            self.emit({"t": RECORD_HEARTBEAT})
            self._out.flush()
            self._last = now

    def flush(self) -> None:
        self._out.flush()


def _decode_name(raw: bytes) -> str:
    """A listed name as `str`; bytes that are not UTF-8 become surrogate escapes, which the framed JSON
    (ASCII, `\\udcxx` escapes) carries back unchanged, so the other side gets the exact name."""
    return raw.decode("utf-8", "surrogateescape")


def _scan_file(emitter: _Emitter, real: bytes, path: str, literals: Sequence[bytes], block_size: int) -> None:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(real, flags)
    except FileNotFoundError:
        emitter.emit({"t": RECORD_SKIPPED, "p": path, "r": "vanished"})
        return
    except OSError:
        emitter.emit({"t": RECORD_SKIPPED, "p": path, "r": "permission_denied"})
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            emitter.emit({"t": RECORD_SKIPPED, "p": path, "r": "special_file"})
            return
        # Read up to the size at open, as the SFTP fallback does: a consistent prefix of an appended file.
        remaining = [st.st_size]

        def read(n: int) -> bytes:
            emitter.heartbeat()
            data = os.read(fd, min(n, remaining[0])) if remaining[0] > 0 else b""
            remaining[0] -= len(data)
            return data

        for line, offset, data in iter_candidate_lines(utf8_reader(read), literals, block_size):
            emitter.emit(
                {
                    "t": RECORD_HIT,
                    "p": path,
                    "l": line,
                    "o": offset,
                    "d": base64.b64encode(data).decode("ascii"),
                }
            )
    finally:
        os.close(fd)


class _Walker:
    """LocalConnector's walk: same order and symlink rules (canonical paths, in-root links followed once)."""

    def __init__(
        self, emitter: _Emitter, root: bytes, literals: Sequence[bytes], block_size: int, *, scan: bool
    ) -> None:
        self.emitter = emitter
        self.root = root  # "" stands for "/"
        self.root_real = os.path.realpath(root or b"/")
        self.literals = literals
        self.block_size = block_size
        self.scan = scan
        self.covered: list[bytes] = []

    def real(self, path: str) -> bytes:
        encoded = path.encode("utf-8", "surrogateescape")
        return encoded if not self.root else (self.root + encoded if path != "/" else self.root)

    def laptop_of_real(self, real: bytes) -> str:
        rel = real[len(self.root_real) :].decode("utf-8", "surrogateescape")
        return rel if rel.startswith("/") else "/" + rel

    def start(self, prefix: str) -> None:
        """List one prefix: LocalConnector's order (a directory's files first, then its subdirectories)."""
        emit = self.emitter.emit
        real = self.real(prefix)
        try:
            st = os.lstat(real)
        except FileNotFoundError:
            return
        except OSError:
            emit({"t": RECORD_SKIPPED, "p": prefix, "r": "permission_denied"})
            return
        self.covered.append(os.path.realpath(real))
        stack: list[tuple[str, bytes]] = []
        if stat.S_ISDIR(st.st_mode):
            stack.append((prefix, real))
        elif stat.S_ISREG(st.st_mode):
            self.file(prefix, real, st)
        elif stat.S_ISLNK(st.st_mode):
            self.follow(prefix, real, stack)
        else:
            emit({"t": RECORD_SKIPPED, "p": prefix, "r": "special_file"})
        while stack:
            path, directory = stack.pop()
            subdirs: list[tuple[str, bytes]] = []
            self.directory(path, directory, subdirs)
            stack.extend(reversed(subdirs))

    def file(self, path: str, real: bytes, st: os.stat_result) -> None:
        self.emitter.emit({"t": RECORD_ITEM, "p": path, "s": st.st_size, "m": int(st.st_mtime), "n": st.st_nlink})
        if self.scan:
            _scan_file(self.emitter, real, path, self.literals, self.block_size)

    def directory(self, path: str, real: bytes, subdirs: list[tuple[str, bytes]]) -> None:
        emit = self.emitter.emit
        try:
            names = sorted(os.listdir(real))
        except FileNotFoundError:
            emit({"t": RECORD_SKIPPED, "p": path, "r": "vanished"})
            return
        except OSError:
            emit({"t": RECORD_SKIPPED, "p": path, "r": "permission_denied"})
            return
        for raw in names:
            name = _decode_name(raw)
            prefix = path.rstrip("/") + "/"
            child, child_real = prefix + name, real.rstrip(b"/") + b"/" + raw
            try:
                st = os.lstat(child_real)
            except FileNotFoundError:
                emit({"t": RECORD_SKIPPED, "p": child, "r": "vanished"})
                continue
            except OSError:
                emit({"t": RECORD_SKIPPED, "p": child, "r": "permission_denied"})
                continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append((child, child_real))
            elif stat.S_ISREG(st.st_mode):
                self.file(child, child_real, st)
            elif stat.S_ISLNK(st.st_mode):
                self.follow(child, child_real, subdirs)
            else:
                emit({"t": RECORD_SKIPPED, "p": child, "r": "special_file"})

    def follow(self, path: str, link: bytes, subdirs: list[tuple[str, bytes]]) -> None:
        """Follow one symlink at most once, never out of the root (see `connectors.local.LocalConnector`)."""
        emit = self.emitter.emit
        try:
            raw_target = os.readlink(link).decode("utf-8", "surrogateescape")
        except OSError:
            emit({"t": RECORD_SKIPPED, "p": path, "r": "vanished"})
            return
        real = os.path.realpath(link)
        if not is_under(real.decode("utf-8", "surrogateescape"), self.root_real.decode("utf-8", "surrogateescape")):
            emit({"t": RECORD_SKIPPED, "p": path, "r": "symlink_out_of_scope", "g": raw_target})
            return
        target = self.laptop_of_real(real)
        try:
            st = os.stat(link)
        except OSError as exc:
            reason = "symlink_loop" if exc.errno == errno.ELOOP else "vanished"
            emit({"t": RECORD_SKIPPED, "p": path, "r": reason, "g": raw_target})
            return
        covered = any(
            is_under(real.decode("utf-8", "surrogateescape"), c.decode("utf-8", "surrogateescape"))
            for c in self.covered
        )
        if stat.S_ISREG(st.st_mode):
            if not covered:
                self.file(target, real, os.lstat(real))
        elif stat.S_ISDIR(st.st_mode):
            parent = os.path.realpath(os.path.dirname(link)).decode("utf-8", "surrogateescape")
            if is_under(parent, real.decode("utf-8", "surrogateescape")):
                emit({"t": RECORD_SKIPPED, "p": path, "r": "symlink_loop", "g": target})
            elif not covered:
                self.covered.append(real)
                subdirs.append((target, real))
        else:
            emit({"t": RECORD_SKIPPED, "p": path, "r": "special_file", "g": target})


def encode_payload(
    root: str,
    prefixes: Sequence[str],
    literals: Sequence[bytes],
    *,
    scan: bool = True,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> str:
    """Hex-encode the scanner's input (root, prefixes, literals) so it travels on stdin only.

    Args:
        root: the real directory on the laptop that stands for the laptop's `/` ("" for `/` itself).
        prefixes: the laptop paths to walk, in order (each a directory or a file).
        literals: the prefilter literals.
        scan: False to stream the inventory only.
        heartbeat: seconds of silence after which the scanner sends a keep-alive record.

    Returns:
        A hex string.
    """
    header = {
        "v": PROTOCOL_VERSION,
        "root": root,
        "prefixes": list(prefixes),
        "literals": [binascii.hexlify(lit).decode("ascii") for lit in literals],
        "scan": scan,
        "hb": heartbeat,
    }
    return binascii.hexlify(json.dumps(header).encode("utf-8")).decode("ascii")


def remote_main(payload: str) -> int:
    """Entry point on the laptop: walk the tree and stream the framed records to stdout.

    Args:
        payload: the hex string made by `encode_payload`.

    Returns:
        The process exit code.
    """
    header = json.loads(binascii.unhexlify(payload).decode("utf-8"))
    literals = [binascii.unhexlify(h) for h in header["literals"]]
    root = header["root"].rstrip("/").encode("utf-8", "surrogateescape")
    emitter = _Emitter(sys.stdout.buffer, float(header.get("hb", HEARTBEAT_SECONDS)))
    emitter.emit({"t": RECORD_HELLO, "v": PROTOCOL_VERSION})
    emitter.flush()
    for prefix in header["prefixes"]:
        # One walker per prefix: each has its own "already listed" set, as one iter_items call would.
        walker = _Walker(emitter, root, usable_literals(literals), BLOCK_SIZE, scan=bool(header.get("scan", True)))
        walker.start(laptop_path(prefix.strip("/")))
    emitter.emit({"t": RECORD_END})
    emitter.flush()
    return 0
