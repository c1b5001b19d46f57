"""The record reader: streams JSONL, JSON and text files as numbered records in bounded memory.

Owns line splitting, decoding and the malformed-line codes. Knows no layouts and matches nothing.

Line rule (shared by reader, detection, simulator and reports): `Record.line` is the 1-based number of the
raw line (split on `b"\\n"`) and `Record.offset` the byte offset of its first byte, for every format.

- `raw` is exactly the bytes between two newlines (a CR of CRLF and a leading BOM stay in `raw`; `text`
  and `value` never contain them). Lines that are empty or only whitespace yield no record.
- JSONL: one record per line; `value` is the decoded line, `text` is set only for malformed lines.
- JSON (one document, possibly pretty-printed): one record per raw line with `text` set; the whole decoded
  document is `value` of the first record (None on the others). If the document does not parse, the first
  record has `malformed="invalid_json"`. A document larger than `max_line_bytes` is not decoded (every
  `value` is None) but its lines are still yielded as text.
- TEXT: one record per line with `text`.
- A line longer than `max_line_bytes` yields `malformed="oversized"` with `raw`, `text` and `value` None
  and is never held in memory; `iter_line_chunks(stream, record.offset)` streams its bytes again.
- Malformed codes: `invalid_json`, `invalid_utf8` (decoded with replacement characters and still scanned as
  text; `value` set when the replaced text parses), `truncated` (last line without a newline that does not
  parse), `oversized`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Protocol

import orjson

READ_CHUNK = 1 << 20
DEFAULT_MAX_LINE_BYTES = 8 << 20
BOM = b"\xef\xbb\xbf"


class RecordFormat(StrEnum):
    """How an artifact's bytes are read; `NONE` means never opened (audit keys, residual stores).

    Re-exported by `connectors.layouts`, which assigns a format to every artifact.
    """

    JSONL = "jsonl"
    JSON = "json"
    TEXT = "text"
    BINARY = "binary"
    NONE = "none"
    SQLITE = "sqlite"  # read row by row (connectors.sqlite_store); findings carry `record`, not `line`
    JSONL_ZSTD = "jsonl_zst"  # zstd-compressed JSONL: lines count in the decompressed text


@dataclass(frozen=True, slots=True)
class Record:
    """One raw line of a file, decoded as far as its format allows (see the module docstring)."""

    line: int
    offset: int
    raw: bytes | None
    value: object | None
    text: str | None
    malformed: str | None


@dataclass(frozen=True, slots=True)
class _RawLine:
    line: int
    offset: int
    data: bytes | None  # None: oversized
    terminated: bool


def _iter_raw_lines(stream: _Readable, max_line_bytes: int) -> Iterator[_RawLine]:
    """Split a stream on newlines holding at most `max_line_bytes + READ_CHUNK` bytes at a time."""
    buf = bytearray()
    buf_offset = 0  # file offset of buf[0]
    line_no = 0
    skipping = False  # inside an oversized line, discarding bytes until the next newline
    skip_offset = 0
    pos = 0  # file offset after the last byte read
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            break
        chunk_offset = pos
        pos += len(chunk)
        if skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                continue
            line_no += 1
            yield _RawLine(line_no, skip_offset, None, True)
            skipping = False
            buf = bytearray(chunk[newline + 1 :])
            buf_offset = chunk_offset + newline + 1
            search_from = 0
        else:
            search_from = len(buf)
            buf += chunk
        start = 0
        while (newline := buf.find(b"\n", max(start, search_from))) >= 0:
            line_no += 1
            if newline - start > max_line_bytes:
                yield _RawLine(line_no, buf_offset + start, None, True)
            else:
                yield _RawLine(line_no, buf_offset + start, bytes(buf[start:newline]), True)
            start = newline + 1
        if start:
            del buf[:start]
            buf_offset += start
        if len(buf) > max_line_bytes:
            skipping = True
            skip_offset = buf_offset
            buf = bytearray()
    if skipping:
        yield _RawLine(line_no + 1, skip_offset, None, False)
    elif buf:
        yield _RawLine(line_no + 1, buf_offset, bytes(buf), False)


def iter_line_chunks(stream: BinaryIO, offset: int, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
    """Stream the bytes of the line starting at `offset` (without its newline) in chunks.

    Used to scan an `oversized` record without holding it in memory. The stream must be seekable.
    """
    stream.seek(offset)
    while chunk := stream.read(chunk_size):
        newline = chunk.find(b"\n")
        if newline >= 0:
            if newline:
                yield chunk[:newline]
            return
        yield chunk


def _clean(data: bytes, first: bool) -> bytes:
    if first and data.startswith(BOM):
        data = data[len(BOM) :]
    return data[:-1] if data.endswith(b"\r") else data


MAX_JSON_DEPTH = 200
"""Deepest nesting decoded as a JSON value; deeper (hostile) documents are handled as text, so no recursive
encoder, decoder or rewrite can overflow the stack."""


def is_shallow(value: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a decoded JSON value nests at most `limit` arrays/objects deep (checked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def decode_json(data: bytes) -> object:
    """Decode JSON bytes with orjson, falling back to `json` for lone surrogate escapes.

    Raises:
        ValueError: the bytes are not valid JSON (or not valid UTF-8), or nest deeper than `MAX_JSON_DEPTH`.
    """
    try:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            text = data.decode("utf-8")  # raises UnicodeDecodeError (a ValueError) on invalid UTF-8
            value = json.loads(text)  # accepts "\ud800" escapes orjson rejects
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not is_shallow(value):
        raise ValueError("JSON nested too deeply")
    return value


def _oversized(raw: _RawLine) -> Record:
    return Record(raw.line, raw.offset, None, None, None, "oversized")


def _jsonl_record(raw: _RawLine) -> Record:
    if raw.data is None:
        return _oversized(raw)
    data = _clean(raw.data, raw.line == 1)
    try:
        value = decode_json(data)
    except ValueError:
        pass
    else:
        return Record(raw.line, raw.offset, raw.data, value, None, None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        try:
            replaced: object | None = decode_json(text.encode("utf-8", "surrogatepass"))
        except ValueError:
            replaced = None
        return Record(raw.line, raw.offset, raw.data, replaced, text, "invalid_utf8")
    reason = "invalid_json" if raw.terminated else "truncated"
    return Record(raw.line, raw.offset, raw.data, None, text, reason)


def _text_record(raw: _RawLine) -> Record:
    if raw.data is None:
        return _oversized(raw)
    data = _clean(raw.data, raw.line == 1)
    try:
        return Record(raw.line, raw.offset, raw.data, None, data.decode("utf-8"), None)
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return Record(raw.line, raw.offset, raw.data, None, text, "invalid_utf8")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Prepended:
    """A stream that first returns `head`, then the rest of `stream` (no seeking needed)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = io.BytesIO(head)
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._head.read(size) or self._stream.read(size)


def read_up_to(stream: BinaryIO, limit: int) -> bytes:
    """Read until `limit` bytes or end of stream (streams may return short reads before EOF)."""
    parts: list[bytes] = []
    got = 0
    while got < limit:
        chunk = stream.read(min(READ_CHUNK, limit - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _iter_json_document(stream: BinaryIO, max_line_bytes: int) -> Iterator[Record]:
    head = read_up_to(stream, max_line_bytes + 1)
    if len(head) > max_line_bytes:
        for raw in _iter_raw_lines(_Prepended(head, stream), max_line_bytes):
            if raw.data is None:
                yield _oversized(raw)
            elif raw.data.strip():
                yield _text_record(raw)
        return
    document = head[len(BOM) :] if head.startswith(BOM) else head
    value: object | None
    try:
        value = decode_json(document)
        doc_error: str | None = None
    except UnicodeDecodeError:
        value, doc_error = None, "invalid_utf8"
    except ValueError:
        value, doc_error = None, "invalid_json"
    first = True
    for raw in _iter_raw_lines(io.BytesIO(head), max_line_bytes):
        if raw.data is None:
            yield _oversized(raw)
            first = False
            continue
        if not raw.data.strip():
            continue
        record = _text_record(raw)
        if first:
            malformed = record.malformed or doc_error
            record = Record(record.line, record.offset, record.raw, value, record.text, malformed)
            first = False
        yield record


def iter_records(
    stream: BinaryIO, fmt: RecordFormat, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[Record]:
    """Stream a file as numbered records in bounded memory, whatever its line lengths.

    Args:
        stream: binary stream positioned at the start of the file (from `Connector.open`).
        fmt: the artifact's format; JSONL, JSON and TEXT are read, BINARY and NONE yield nothing.
        max_line_bytes: lines longer than this are reported as `oversized` and not kept.

    Yields:
        One `Record` per non-blank raw line (see the module docstring for the rules).
    """
    if fmt in (RecordFormat.BINARY, RecordFormat.NONE, RecordFormat.SQLITE, RecordFormat.JSONL_ZSTD):
        return
    if fmt is RecordFormat.JSON:
        yield from _iter_json_document(stream, max_line_bytes)
        return
    make = _jsonl_record if fmt is RecordFormat.JSONL else _text_record
    for raw in _iter_raw_lines(stream, max_line_bytes):
        if raw.data is None:
            yield _oversized(raw)
        elif raw.data.strip():
            yield make(raw)
