"""Shadow git repositories that agents keep of project files (Gemini CLI `history/`, Cline, Roo Code and Kilo
Code `checkpoints/`, OpenCode `snapshot/`): the text a repository file holds, for searching, and the repository
a file belongs to, for erasing it whole.

Loose objects are zlib streams (`<type> <size>\\0<content>`); a pack holds one zlib stream per object, a
whole object or a delta whose inserted text is stored as it is, so every stream is inflated and searched
(text split across a delta's copy and insert instructions is not rebuilt). Pack indexes hold hashes only;
every other file of a repository (index, refs, logs, `COMMIT_EDITMSG`, config) is searched as stored.
A repository is never edited: rewriting history would break the agent's restore points, so a repository
holding the subject is deleted whole (method F). Decides nothing about people.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

__all__ = ["MAX_GIT_FILE_BYTES", "GitFormatError", "object_texts", "repository_of"]

MAX_GIT_FILE_BYTES = 64 << 20
"""Larger repository files are not read (reported as skipped, never as searched)."""
MAX_OBJECT_BYTES = 64 << 20

_LOOSE = re.compile(r"(?:^|/)objects/[0-9a-f]{2}/[0-9a-f]{38}", re.DOTALL)
_INDEXES = re.compile(r"(?:^|/)objects/pack/[^/]+\.(?:idx|rev|bitmap)", re.DOTALL)
_REPOSITORY = re.compile(
    r"(?P<repo>.*?/(?:\.gemini/history|globalStorage/[^/]+/checkpoints|\.cline/data/checkpoints|opencode/snapshot)"
    r"/[^/]+)/.+",
    re.DOTALL,
)
_OFS_DELTA = 6
_REF_DELTA = 7


class GitFormatError(ValueError):
    """A repository file is not what its name says (corrupt or truncated object or pack)."""


def repository_of(path: str) -> str | None:
    """The repository folder a shadow-git file belongs to (`<store>/<name>`), or None."""
    match = _REPOSITORY.fullmatch(path)
    return match["repo"] if match else None


def object_texts(path: str, data: bytes) -> Iterator[bytes]:
    """The searchable contents of one repository file (`path` decides how it is read).

    Raises:
        GitFormatError: a corrupt loose object or pack.
    """
    if _LOOSE.search(path):
        inflated = _inflate(data)
        yield inflated.split(b"\0", 1)[-1]
    elif path.endswith(".pack"):
        yield from _pack_texts(data)
    elif not _INDEXES.search(path):
        yield data


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_OBJECT_BYTES)
    except zlib.error as exc:
        raise GitFormatError("corrupt git object") from exc
    if inflater.unconsumed_tail or (len(out) >= MAX_OBJECT_BYTES and not inflater.eof):
        raise GitFormatError("git object too large")  # never search (and count as searched) only its first part
    return out


def _inflate_at(view: memoryview, pos: int, step: int = 1 << 16) -> tuple[bytes, int]:
    """Inflate the zlib stream starting at `pos`, fed in steps so that the rest of the pack is never copied;
    returns the content and the position after the stream."""
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    size = 0
    while not inflater.eof:
        chunk = view[pos : pos + step]
        if not chunk:
            raise GitFormatError("truncated git pack")
        part = inflater.decompress(chunk)
        size += len(part)
        if size > MAX_OBJECT_BYTES:
            raise GitFormatError("git object too large")
        parts.append(part)
        pos += len(chunk) - len(inflater.unused_data)
    return b"".join(parts), pos


def _pack_texts(data: bytes) -> Iterator[bytes]:
    if data[:4] != b"PACK" or len(data) < 12:
        raise GitFormatError("not a git pack")
    count = int.from_bytes(data[8:12], "big")
    view = memoryview(data)
    pos = 12
    try:
        for _ in range(count):
            byte = data[pos]
            kind = (byte >> 4) & 7
            pos += 1
            while byte & 0x80:
                byte = data[pos]
                pos += 1
            if kind == _OFS_DELTA:
                byte = data[pos]
                pos += 1
                while byte & 0x80:
                    byte = data[pos]
                    pos += 1
            elif kind == _REF_DELTA:
                pos += 20
            out, pos = _inflate_at(view, pos)
            yield out
    except (IndexError, zlib.error) as exc:
        raise GitFormatError("corrupt git pack") from exc
