"""Two-stage identifier matching: a multi-literal prefilter over raw bytes, then exact confirmation.

Owns the candidate rule, the prefilter engines (hyperscan, else google-re2, else the stdlib rule), decoding of
candidate lines and the boundary rules. Must not log or raise with identifier values or file content.

Candidate rule (shared with the stdlib remote scanner, `connectors.remote_scan`): a raw line is a candidate
iff `any(lit in line.lower() for lit in matcher.literals)`, `bytes.lower()` lowering ASCII only. Confirmation
depends only on the candidate's bytes and the file format, so candidates found on a laptop and confirmed on
the orchestrator give the same findings as a local scan.

Lines longer than `max_line_bytes` (default 8 MiB) are never held whole: the prefilter streams through them
and yields one `oversized` candidate per window of `WINDOW_BYTES` around each hit; such windows are
confirmed as text (pointer `""`, `malformed="oversized"`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from connectors.records import RecordFormat, decode_json
from detection.identifiers import (
    Form,
    NameVariants,
    SubjectIdentifiers,
    ascii_lower,
    email_forms,
    name_variants,
    phone_forms,
    raw_literals,
    user_id_forms,
)
from models.types import IdentifierKind

logger = logging.getLogger(__name__)

CHUNK_BYTES = 8 << 20
MAX_LINE_BYTES = 8 << 20
WINDOW_BYTES = 64 << 10
_BOM = b"\xef\xbb\xbf"

# -- prefilter engines ------------------------------------------------------------------------------------

_hyperscan: Any = None
_re2: Any = None
try:
    import hyperscan as _hyperscan_module

    _hyperscan = _hyperscan_module
    ENGINE = "hyperscan"
except ImportError:  # pragma: no cover - depends on the platform's wheels
    try:
        import re2 as _re2_module

        _re2 = _re2_module
        ENGINE = "re2"
    except ImportError:
        ENGINE = "stdlib"
logger.info("detection prefilter engine: %s", ENGINE)


class _Engine:
    """Finds the end offsets of literal hits in a byte buffer (ASCII-case-insensitive)."""

    def ends(self, data: bytes) -> list[int]:
        """Sorted end offsets (exclusive) of every literal occurrence."""
        raise NotImplementedError

    def any(self, data: bytes) -> bool:
        """Whether any literal occurs."""
        return bool(self.ends(data))


class _HyperscanEngine(_Engine):
    def __init__(self, literals: Sequence[bytes]) -> None:
        self._db = _hyperscan.Database(mode=_hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=list(literals),
            ids=list(range(len(literals))),
            elements=len(literals),
            flags=_hyperscan.HS_FLAG_CASELESS,  # ASCII-only caseless without HS_FLAG_UTF8
            literal=True,
        )
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = _hyperscan.Scratch(self._db)
            self._local.scratch = scratch
        return scratch

    def ends(self, data: bytes) -> list[int]:
        out: list[int] = []

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            out.append(end)

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        out.sort()
        return out

    def any(self, data: bytes) -> bool:
        def on_match(_id: int, _start: int, _end: int, _flags: int, _ctx: object) -> bool:
            return True

        try:
            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        except _hyperscan.ScanTerminated:
            return True
        return False


def _re2_literal(lit: bytes) -> bytes:
    out = []
    for byte in lit:
        char = chr(byte)
        if char.isascii() and char.isalpha():
            out.append(f"[{char.lower()}{char.upper()}]".encode("ascii"))
        else:
            out.append(f"\\x{byte:02x}".encode("ascii"))
    return b"".join(out)


class _RE2Engine(_Engine):
    def __init__(self, literals: Sequence[bytes]) -> None:
        options = _re2.Options()
        options.encoding = _re2.Options.Encoding.LATIN1  # bytes as bytes: no Unicode case folding
        self._pattern = _re2.compile(b"|".join(_re2_literal(lit) for lit in literals), options)

    def ends(self, data: bytes) -> list[int]:
        out: list[int] = []
        pos = 0
        while (match := self._pattern.search(data, pos)) is not None:
            out.append(match.end())
            pos = match.start() + 1
        return out

    def any(self, data: bytes) -> bool:
        return self._pattern.search(data) is not None


class _StdlibEngine(_Engine):
    def __init__(self, literals: Sequence[bytes]) -> None:
        self._literals = tuple(literals)

    def ends(self, data: bytes) -> list[int]:
        lowered = data.lower()
        out = []
        for lit in self._literals:
            pos = lowered.find(lit)
            while pos >= 0:
                out.append(pos + len(lit))
                pos = lowered.find(lit, pos + 1)
        out.sort()
        return out

    def any(self, data: bytes) -> bool:
        lowered = data.lower()
        return any(lit in lowered for lit in self._literals)


def _make_engine(literals: Sequence[bytes], engine: str) -> _Engine:
    if engine == "hyperscan":
        return _HyperscanEngine(literals)
    if engine == "re2":
        global _re2  # noqa: PLW0603 - the fallback module is imported on first use when hyperscan won
        if _re2 is None:
            import re2 as _re2_module  # noqa: PLC0415

            _re2 = _re2_module
        return _RE2Engine(literals)
    return _StdlibEngine(literals)


# -- values -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A raw line (or, for an oversized line, a window of it) that contains a prefilter literal.

    Attributes:
        line: 1-based raw line number.
        offset: byte offset of the line start (of the window start when `oversized`).
        data: the raw line without its newline (the window's bytes when `oversized`).
        oversized: the line is longer than the limit and `data` is only a window around hits.
    """

    line: int
    offset: int
    data: bytes
    oversized: bool = False


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A candidate confirmed to hold one of the subject's identifiers.

    Attributes:
        line: 1-based raw line number.
        offset: byte offset of the line (or window) start.
        pointers: RFC 6901 JSON pointers of the matching fields; `""` for text and malformed lines.
        forms: labels of the spellings found (e.g. `email`, `name/reversed`, `phone/national`).
        malformed: None, or `invalid_json`, `invalid_utf8`, `truncated`, `oversized`.
        value: the decoded JSON value, or the decoded text for text and malformed lines.
    """

    line: int
    offset: int
    pointers: tuple[str, ...]
    forms: tuple[str, ...]
    malformed: str | None
    value: object | None


@dataclass(frozen=True, slots=True)
class Span:
    """One confirmed occurrence of an identifier inside a decoded string."""

    start: int
    end: int
    kind: IdentifierKind
    label: str


# -- boundaries -------------------------------------------------------------------------------------------

_ESCAPE_BEFORE_RE = re.compile(r'(?:\\[ntrbf"/\\]|\\u([0-9a-fA-F]{4})|%([0-9a-fA-F]{2}))$')
_ESCAPE_AFTER_RE = re.compile(r'\\(?:[ntrbf"/\\]|u([0-9a-fA-F]{4}))')
_INTL_PREFIX_RE = re.compile(r"(?:\+|(?<![0-9])00)[0-9]{1,3}[ .\-]?(?:\(0\)\s?)?$")
_EMAIL_LOCAL_CHARS = frozenset("._%+-")


def _escaped_before(text: str, start: int) -> str | None:
    """If an escape sequence (`\\n`, `\\u00a0`, `%3C`) ends right before `start`, the character it stands for."""
    match = _ESCAPE_BEFORE_RE.search(text, max(0, start - 6), start)
    if match is None:
        return None
    hexa = match.group(1) or match.group(2)
    return chr(int(hexa, 16)) if hexa else " "


def _escaped_after(text: str, end: int) -> str | None:
    match = _ESCAPE_AFTER_RE.match(text, end)
    if match is None:
        return None
    return chr(int(match.group(1), 16)) if match.group(1) else " "


def _char_before(text: str, start: int) -> str:
    escaped = _escaped_before(text, start)
    if escaped is not None:
        return escaped
    return text[start - 1] if start > 0 else " "


def _char_after(text: str, end: int) -> str:
    escaped = _escaped_after(text, end)
    if escaped is not None:
        return escaped
    return text[end] if end < len(text) else " "


def _continues(text: str, end: int) -> bool:
    """Whether `.` or `-` followed by a letter or digit continues the token after `end` (`x.invalid.com`)."""
    return end + 1 < len(text) and text[end] in ".-" and text[end + 1].isalnum()


def _boundary_ok(kind: IdentifierKind, text: str, start: int, end: int) -> bool:
    before = _char_before(text, start)
    after = _char_after(text, end)
    if kind is IdentifierKind.EMAIL:
        if before.isalnum() or before in _EMAIL_LOCAL_CHARS:
            return False
        return not (after.isalnum() or after in "-_" or _continues(text, end))
    if kind is IdentifierKind.NAME:
        return not (before.isalnum() or after.isalnum() or unicodedata.combining(after))
    if kind is IdentifierKind.PHONE:
        if before.isdigit() or before == "+":
            return False
        if start >= 2 and text[start - 1] in ".-" and text[start - 2].isdigit():
            return False
        # A country-code group right before means another country's number (+33 07700 ...).
        if _INTL_PREFIX_RE.search(text, max(0, start - 10), start):
            return False
        return not (after.isdigit() or (end + 1 < len(text) and text[end] in ".-/" and text[end + 1].isdigit()))
    # user ids: exact token
    if before.isalnum() or before == "_":
        return False
    if start >= 2 and text[start - 1] in ".-" and text[start - 2].isalnum():
        return False
    return not (after.isalnum() or after == "_" or _continues(text, end))


# -- the matcher ------------------------------------------------------------------------------------------

_NAME_SEP = r"(?:[\s\u00a0\u2010\u2011\u2013_\-]|\\u00a0|\\u2010|\\u2011|\\u2013|\\[nt]){1,3}"
_COMMA_SEP = r"(?:\s*,\s*|" + _NAME_SEP + ")"
_REGEX_FLAGS = re.IGNORECASE | re.ASCII  # ASCII-only case-insensitivity, as the prefilter


def _alternation(spellings: Sequence[str]) -> str:
    return "(?:" + "|".join(re.escape(s) for s in sorted(set(spellings), key=lambda s: -len(s))) + ")"


@dataclass(frozen=True)
class _NameRule:
    pattern: re.Pattern[str]
    labels: dict[str, str]  # group name -> order label
    ascii_only: bool


def _name_rule(variants: NameVariants) -> _NameRule:
    token_patterns = [_alternation([s for _, s in spellings]) for spellings in variants.tokens]
    alternatives = []
    labels: dict[str, str] = {}
    for index, (label, order, comma) in enumerate(variants.orders):
        parts = [token_patterns[order[0]]]
        for position in range(1, len(order)):
            prev, cur = order[position - 1], order[position]
            sep = _COMMA_SEP if comma and position == 1 else _NAME_SEP
            if cur == prev + 1 and variants.hyphenated[prev]:
                sep = f"(?:{sep})?"
            parts.append(sep + token_patterns[cur])
        group = f"o{index}"
        labels[group] = label
        alternatives.append(f"(?P<{group}>{''.join(parts)})")
    ascii_only = all(s.isascii() and "\\" not in s for spellings in variants.tokens for _, s in spellings)
    return _NameRule(re.compile("|".join(alternatives), _REGEX_FLAGS), labels, ascii_only)


def _spelling_label(matched: str, ascii_only: bool) -> str:
    if "\\u" in matched:
        return "escaped"
    if any(unicodedata.combining(c) for c in matched):
        return "nfd"
    if matched.isascii() and not ascii_only:
        return "ascii"
    return ""


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class Matcher:
    """Finds a subject's identifiers in raw files (prefilter) and in decoded records (confirmation).

    Build it with `Matcher.from_identifiers`; it pickles as its identifiers and region.
    """

    literals: tuple[bytes, ...]

    def __init__(
        self,
        identifiers: SubjectIdentifiers,
        *,
        default_region: str = "GB",
        engine: str | None = None,
    ) -> None:
        """Compile the prefilter and confirmation patterns (prefer `from_identifiers`).

        Raises:
            InputError: an identifier is malformed, or none is given.
        """
        from models.errors import InputError  # noqa: PLC0415 - keeps the import graph of this module small

        if identifiers.is_empty():
            raise InputError("no identifier given")
        self.identifiers = identifiers
        self.default_region = default_region
        self.engine_name = engine or ENGINE
        forms: list[Form] = []
        for email in identifiers.emails:
            forms += email_forms(email)
        for phone in identifiers.phones:
            forms += phone_forms(phone, default_region)
        for user_id in identifiers.user_ids:
            forms += user_id_forms(user_id)
        self._forms: dict[str, list[Form]] = {}
        for form in forms:
            self._forms.setdefault(ascii_lower(form.text), []).append(form)
        self._plain = re.compile(_alternation([f.text for f in forms]), _REGEX_FLAGS) if forms else None
        names = [name_variants(name) for name in identifiers.names]
        self._names = tuple(_name_rule(v) for v in names)
        spellings = [f.text for f in forms] + [s for v in names for s in v.literals]
        literal_set: set[bytes] = set()
        for spelling in spellings:
            literal_set |= raw_literals(spelling)
        self.literals = _prune(literal_set)
        self.max_literal = max(len(lit) for lit in self.literals)
        self._engine = _make_engine(self.literals, self.engine_name)

    @classmethod
    def from_identifiers(cls, ids: SubjectIdentifiers, *, default_region: str = "GB") -> Matcher:
        """Build a matcher for the subject's identifiers; `default_region` is the controller's region.

        Raises:
            InputError: an identifier is malformed, or none is given.
        """
        return cls(ids, default_region=default_region)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.identifiers, self.default_region, self.engine_name))

    # -- decoded text -------------------------------------------------------------------------------------

    def has_literal(self, data: bytes) -> bool:
        """The candidate rule on one byte string: whether any prefilter literal occurs (ASCII-insensitive)."""
        return self._engine.any(data)

    def hit_ends(self, data: bytes) -> list[int]:
        """Sorted end offsets of every prefilter literal occurrence in `data` (the engine's raw hits)."""
        return self._engine.ends(data)

    def find(self, text: str) -> list[Span]:
        """Every confirmed occurrence of an identifier in one decoded string, in text order.

        A string without any prefilter literal has none (this keeps confirmation and the prefilter
        consistent: whatever is confirmed was a candidate).
        """
        if not text or not self.has_literal(text.encode("utf-8", "surrogatepass")):
            return []
        spans: list[Span] = []
        if self._plain is not None:
            pos = 0
            while (match := self._plain.search(text, pos)) is not None:
                span = self._plain_span(text, match)
                if span is None:
                    pos = match.start() + 1
                else:
                    spans.append(span)
                    pos = match.end()
        for rule in self._names:
            pos = 0
            while (match := rule.pattern.search(text, pos)) is not None:
                if _boundary_ok(IdentifierKind.NAME, text, match.start(), match.end()):
                    group = match.lastgroup or "o0"
                    label = rule.labels.get(group, "name")
                    suffix = _spelling_label(match.group(), rule.ascii_only)
                    spans.append(
                        Span(match.start(), match.end(), IdentifierKind.NAME, f"{label}/{suffix}" if suffix else label)
                    )
                    pos = match.end()
                else:
                    pos = match.start() + 1
        spans.sort(key=lambda s: (s.start, -s.end))
        return spans

    def _plain_span(self, text: str, match: re.Match[str]) -> Span | None:
        matched = match.group()
        for form in self._forms.get(ascii_lower(matched), []):
            if form.case_sensitive and matched != form.text:
                continue
            if _boundary_ok(form.kind, text, match.start(), match.end()):
                return Span(match.start(), match.end(), form.kind, form.label)
        return None

    def is_identifier(self, value: str) -> bool:
        """Whether `value` is, as a whole, one of the subject's identifiers (used for ownership)."""
        value = value.strip()
        spans = self.find(value)
        return any(s.start == 0 and s.end == len(value) for s in spans)

    def iter_matches(self, value: object) -> Iterator[tuple[str, Span]]:
        """Walk a decoded JSON value (or a string) and yield (pointer, span) for every occurrence.

        Object keys are checked too (their span is reported under the member's pointer). Integers are
        checked as their decimal text (a phone or account id stored as a number).
        """
        for text, path, _is_key in walk_strings(value):
            spans = self.find(text)
            if spans:
                pointer = pointer_of(path)[1]
                for span in spans:
                    yield pointer, span

    # -- raw bytes ----------------------------------------------------------------------------------------

    def iter_candidates(
        self,
        stream: BinaryIO,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> Iterator[Candidate]:
        """Yield candidate lines of a stream in file order (see the module docstring for oversized lines)."""
        carry = b""
        offset = 0  # absolute offset of buf[0]
        newlines = 0  # newlines before buf[0], once `pending` is counted
        pending: tuple[bytes, int] | None = None  # last region, counted only if another one follows
        eof = False
        while not eof:
            chunk = stream.read(chunk_bytes)
            eof = not chunk
            buf = carry + chunk if carry else chunk
            if not buf:
                break
            if pending is not None:
                newlines += pending[0].count(b"\n", 0, pending[1])
                pending = None
            if eof:
                cut = len(buf)
            else:
                newline = buf.rfind(b"\n")
                if newline < 0:
                    if len(buf) <= max_line_bytes:
                        carry = buf
                        continue
                    rest, consumed, eof = yield from self._stream_oversized(
                        stream, buf, offset, newlines + 1, chunk_bytes
                    )
                    offset += consumed
                    newlines += 1
                    carry = rest
                    continue
                cut = newline + 1
            yield from self._candidates_in(buf, cut, offset, newlines, max_line_bytes)
            pending = (buf, cut)
            offset += cut
            carry = buf[cut:]
        if carry:  # only reachable when the stream ended right after an oversized line's newline
            if pending is not None:
                newlines += pending[0].count(b"\n", 0, pending[1])
            yield from self._candidates_in(carry, len(carry), offset, newlines, max_line_bytes)

    def _candidates_in(
        self, buf: bytes, cut: int, offset: int, newlines: int, max_line_bytes: int
    ) -> Iterator[Candidate]:
        """Candidates among the complete lines in `buf[:cut]`."""
        line_end = -1
        counted_to = 0
        line_no = newlines
        hits = self._engine.ends(buf)
        index = 0
        while index < len(hits):
            end = hits[index]
            index += 1
            if end > cut:
                break
            if end - 1 < line_end:
                continue
            start = buf.rfind(b"\n", 0, end - 1) + 1
            stop = buf.find(b"\n", end - 1, cut)
            if stop < 0:
                stop = cut
            line_no += buf.count(b"\n", counted_to, start)
            counted_to = start
            line_end = stop
            if stop - start > max_line_bytes:
                line_hits = [end] + [h for h in hits[index:] if h <= stop]
                yield from self._windows(buf, start, stop, line_hits, offset, line_no + 1)
                continue
            yield Candidate(line_no + 1, offset + start, buf[start:stop])

    def _windows(
        self, buf: bytes, start: int, stop: int, hits: Sequence[int], offset: int, line: int, done: int = -1
    ) -> Iterator[Candidate]:
        """Window candidates around `hits` (end offsets in buf) inside the line `buf[start:stop]`."""
        covered = done
        for end in hits:
            if end <= covered or end > stop:
                continue
            lo = max(start, end - self.max_literal - WINDOW_BYTES)
            hi = min(stop, end + WINDOW_BYTES)
            covered = hi
            yield Candidate(line, offset + lo, buf[lo:hi], oversized=True)

    def _stream_oversized(self, stream: BinaryIO, buf: bytes, offset: int, line: int, chunk_bytes: int) -> Any:
        """Stream through one oversized line starting at `buf[0]`; returns (rest after it, bytes consumed, eof)."""
        keep = self.max_literal + WINDOW_BYTES
        base = 0  # bytes of the line already dropped from buf
        covered = -1  # absolute end of the last window
        eof = False
        while True:
            newline = buf.find(b"\n")
            stop = newline if newline >= 0 else len(buf)
            final = newline >= 0 or eof
            limit = stop if final else max(0, len(buf) - WINDOW_BYTES)  # later hits keep their whole literal
            hits = [e for e in self._engine.ends(buf[:stop]) if e <= limit and offset + base + e > covered]
            for candidate in self._windows(buf, 0, stop, hits, offset + base, line):
                covered = candidate.offset + len(candidate.data)
                yield candidate
            if final:
                consumed = base + (newline + 1 if newline >= 0 else len(buf))
                return (buf[newline + 1 :] if newline >= 0 else b""), consumed, eof and newline < 0
            drop = max(0, len(buf) - keep)
            base += drop
            chunk = stream.read(chunk_bytes)
            eof = not chunk
            buf = buf[drop:] + chunk

    def confirm(self, candidate: Candidate, fmt: RecordFormat) -> Confirmation | None:
        """Decode a candidate and confirm it on decoded strings; None when no identifier is really there."""
        data = candidate.data
        malformed: str | None = None
        if candidate.oversized:
            malformed = "oversized"
        elif fmt in (RecordFormat.JSONL, RecordFormat.JSON):
            value, malformed = decode_line(data)
            if malformed is None:
                pointers: list[str] = []
                labels: set[str] = set()
                for pointer, span in self.iter_matches(value):
                    if pointer not in pointers:
                        pointers.append(pointer)
                    labels.add(span.label)
                if not pointers:
                    return None
                return Confirmation(
                    candidate.line, candidate.offset, tuple(pointers), tuple(sorted(labels)), None, value
                )
            if fmt is RecordFormat.JSON and malformed != "invalid_utf8":
                malformed = None  # one line of a pretty-printed document: text, not malformed
        text = data.decode("utf-8", errors="replace")
        if malformed is None and fmt is not RecordFormat.BINARY and "\ufffd" in text and b"\xef\xbf\xbd" not in data:
            malformed = "invalid_utf8"
        spans = self.find(text)
        if not spans:
            return None
        return Confirmation(
            candidate.line, candidate.offset, ("",), tuple(sorted({s.label for s in spans})), malformed, text
        )

    def scan(self, stream: BinaryIO, fmt: RecordFormat) -> Iterator[Confirmation]:
        """Prefilter and confirm a whole stream: confirmed records in file order."""
        for candidate in self.iter_candidates(stream):
            confirmation = self.confirm(candidate, fmt)
            if confirmation is not None:
                yield confirmation


def _rebuild(identifiers: SubjectIdentifiers, region: str, engine: str) -> Matcher:
    return Matcher(identifiers, default_region=region, engine=engine)


def _prune(literals: set[bytes]) -> tuple[bytes, ...]:
    """Drop literals that contain another literal (redundant under the `any(...)` rule); sorted."""
    ordered = sorted(literals, key=lambda lit: (len(lit), lit))
    kept: list[bytes] = []
    for lit in ordered:
        if not any(other in lit for other in kept):
            kept.append(lit)
    return tuple(kept)


def decode_line(data: bytes) -> tuple[object | None, str | None]:
    """Decode one JSON line: (value, None), or (None, reason) with reason `invalid_json`, `invalid_utf8`,
    `truncated` (the JSON ends early).
    """
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return decode_json(data), None  # orjson, then `json` for lone surrogate escapes that orjson rejects
    except UnicodeDecodeError:
        return None, "invalid_utf8"
    except json.JSONDecodeError as exc:
        text = data.decode("utf-8")
        return None, ("truncated" if exc.pos >= len(text.rstrip()) else "invalid_json")
    except ValueError:
        return None, "invalid_json"  # nested deeper than MAX_JSON_DEPTH: confirmed as text


def iter_strings(value: object) -> Iterator[tuple[str, str, bool]]:
    """Yield (pointer, text, is_key) for every string, object key and integer in a decoded JSON value.

    Depth-first in document order, without recursion (deeply nested values cannot exhaust the stack).
    A key's pointer is its member's pointer.
    """
    for text, path, is_key in walk_strings(value):
        yield pointer_of(path)[1], text, is_key


def walk_strings(value: object, root: object = None) -> Iterator[tuple[str, object, bool]]:
    """Yield (text, path, is_key) for every string, object key and integer of a decoded JSON value, in the order
    of `iter_strings`; `pointer_of(path)` gives the pointer, only where a caller needs it (most strings are read
    and let go: building every pointer costs more than reading them).

    A path is `root` for the value itself, else (the parent's path, the member's key or the item's index);
    `root` is anything else than a tuple, for the caller to tell where the value itself is.
    """
    stack: list[tuple[object, object]] = [(root, value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield node, path, False
        elif isinstance(node, dict):
            children = []
            for key, child in node.items():
                text = str(key)
                child_path = (path, text)
                yield text, child_path, True
                children.append((child_path, child))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(((path, i), child) for i, child in reversed(list(enumerate(node))))
        elif isinstance(node, int) and not isinstance(node, bool):
            yield str(node), path, False


def pointer_of(path: object) -> tuple[object, str]:
    """The root a `walk_strings` path starts from, and the JSON pointer from there (`""` for the root)."""
    tokens: list[str] = []
    while isinstance(path, tuple):
        path, token = path
        tokens.append(str(token) if isinstance(token, int) else _pointer_token(token))
    tokens.reverse()
    return path, "".join("/" + token for token in tokens)


def map_strings(value: object, fn: Callable[[str, str, bool], str], *, pointers: bool = True) -> object:
    """A copy of a decoded JSON value with every string and object key replaced by `fn(pointer, text, is_key)`.

    Pointers are those of `iter_strings`; with `pointers=False` every pointer is `""` (for an `fn` that does
    not read them: building one per string is most of a walk's time). Types of non-string values are kept
    (numbers stay numbers, booleans booleans), so typed fields such as `createdAt` survive a redaction.
    """
    return _map(value, "" if pointers else None, fn)


def _map(value: object, pointer: str | None, fn: Callable[[str, str, bool], str]) -> object:
    if isinstance(value, str):
        return fn(pointer or "", value, False)
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, child in value.items():
            child_pointer = None if pointer is None else f"{pointer}/{_pointer_token(str(key))}"
            new_key = fn(child_pointer or "", str(key), True)
            while new_key in out:  # two keys redacted to the same text must not overwrite each other
                new_key += " "
            out[new_key] = _map(child, child_pointer, fn)
        return out
    if isinstance(value, list):
        if pointer is None:
            return [_map(child, None, fn) for child in value]
        return [_map(child, f"{pointer}/{i}", fn) for i, child in enumerate(value)]
    return value
