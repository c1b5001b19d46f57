"""Deterministic new content for erasure: redact the subject on named lines, or drop named lines.

Pure functions over bytes (no I/O); the same input always gives the same output, which is what lets a
rerun after a crash recognise work already done. Never logs the text it changes.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from connectors.records import decode_json
from detection.matcher import Matcher
from detection.redact import erase_in_text, erase_subject

_STYLES: tuple[tuple[bool, tuple[str, str]], ...] = (
    (False, (",", ":")),
    (True, (",", ":")),
    (False, (", ", ": ")),
    (True, (", ", ": ")),
)


@dataclass(frozen=True)
class Rewrite:
    """The outcome of a rewrite.

    Attributes:
        data: the new bytes.
        lines_changed: named lines whose bytes changed (or that were dropped).
        replacements: identifier occurrences replaced.
    """

    data: bytes
    lines_changed: int
    replacements: int


def split_lines(data: bytes) -> list[bytes]:
    """Raw lines by the house rule (split on `\\n`; a trailing newline gives a last empty line)."""
    return data.split(b"\n")


def _redact_text(raw: bytes, matcher: Matcher) -> tuple[bytes, int]:
    """Replace identifier spans in the raw text itself (undecodable bytes are kept as they were)."""
    text, count = erase_in_text(raw.decode("utf-8", "surrogateescape"), matcher)
    return (text.encode("utf-8", "surrogateescape") if count else raw), count


def _dump_like(value: object, raw: bytes) -> tuple[bool, tuple[str, str]]:
    """The json.dumps style that reproduces `raw` for its own decoded value (compact, no escapes if none)."""
    decoded = decode_json(raw)
    for ensure_ascii, separators in _STYLES:
        if json.dumps(decoded, ensure_ascii=ensure_ascii, separators=separators).encode("utf-8") == raw:
            return ensure_ascii, separators
    return (raw.isascii(), (",", ":"))


def redact_json_line(raw: bytes, matcher: Matcher) -> tuple[bytes, int]:
    """Erase the subject from one JSONL record, keeping types (numbers, ids) and the line's JSON style.

    A line that does not decode as JSON, or whose style cannot be reproduced exactly, gets the identifier
    spans replaced at the text level instead (so nothing else on the line changes); if its decoded value
    still names the subject after that, it is re-encoded compactly from the erased value.
    """
    body, cr = (raw[:-1], b"\r") if raw.endswith(b"\r") else (raw, b"")
    try:
        value = decode_json(body)
    except (UnicodeDecodeError, ValueError):
        new, count = _redact_text(body, matcher)
        return new + cr, count
    ensure_ascii, separators = _dump_like(value, body)
    if json.dumps(value, ensure_ascii=ensure_ascii, separators=separators).encode("utf-8") != body:
        new, count = _redact_text(body, matcher)
        try:
            still = next(matcher.iter_matches(decode_json(new)), None) is not None
        except ValueError:
            still = False
        if not still:
            return new + cr, count
        # The text level missed a form that only decoding reveals (e.g. `\u00C5`): erasure wins over the
        # line's original layout, which is then re-encoded compactly.
    erased, count = erase_subject(value, matcher)
    new = json.dumps(erased, ensure_ascii=ensure_ascii, separators=separators).encode("utf-8")
    # Identifiers that only appear in the raw text (e.g. escaped in a way decoding hides) go too.
    new, extra = _redact_text(new, matcher)
    return new + cr, count + extra


def redact_lines(data: bytes, lines: Collection[int], fmt: str, matcher: Matcher) -> Rewrite:
    """Redact the subject on the named 1-based lines; every other byte stays as it was.

    Args:
        data: the file's bytes.
        lines: 1-based raw line numbers to redact (numbers beyond the file are ignored).
        fmt: `RecordFormat` value: `jsonl` lines are decoded and re-encoded in their own style; other
            formats (pretty JSON, text) are redacted at the text level, which keeps JSON documents valid
            because the placeholder contains no quote or backslash.
        matcher: the subject's matcher.
    """
    parts = split_lines(data)
    changed = 0
    replacements = 0
    for number in sorted(set(lines)):
        if not 1 <= number <= len(parts):
            continue
        raw = parts[number - 1]
        new, count = redact_json_line(raw, matcher) if fmt == "jsonl" else _redact_text(raw, matcher)
        if new != raw:
            changed += 1
            replacements += count
            parts[number - 1] = new
    data_out = b"\n".join(parts)
    if fmt == "json" and lines:
        fallback = _json_document_fallback(data, data_out, matcher)
        if fallback != data_out:
            changed = max(changed, 1)
            data_out = fallback
    return Rewrite(data_out, changed, replacements)


def _json_document_fallback(original: bytes, redacted: bytes, matcher: Matcher) -> bytes:
    """If a JSON document still names the subject once decoded (an escape the text level cannot see), erase
    it from the decoded document and re-encode it in the original's indentation (erasure wins over layout)."""
    try:
        document = decode_json(redacted)
    except ValueError:
        return redacted
    if next(matcher.iter_matches(document), None) is None:
        return redacted
    erased, _ = erase_subject(document, matcher)
    indent = _indent_of(original)
    text = json.dumps(erased, indent=indent, ensure_ascii=original.isascii())
    return text.encode("utf-8") + (b"\n" if original.endswith(b"\n") else b"")


def _indent_of(data: bytes) -> int | None:
    for line in data.split(b"\n")[1:]:
        stripped = line.lstrip(b" ")
        if stripped:
            return len(line) - len(stripped) or None
    return None


def drop_lines(data: bytes, lines: Collection[int]) -> Rewrite:
    """Remove the named 1-based lines (records) entirely, keeping every other line byte for byte."""
    drop = set(lines)
    parts = split_lines(data)
    kept = [part for number, part in enumerate(parts, start=1) if number not in drop]
    return Rewrite(b"\n".join(kept), len(parts) - len(kept), 0)


def lines_clean(data: bytes, lines: Collection[int], matcher: Matcher) -> bool:
    """Whether none of the named lines still holds an identifier of the subject (text level)."""
    parts = split_lines(data)
    for number in lines:
        if not 1 <= number <= len(parts):
            continue
        raw = parts[number - 1]
        if matcher.find(raw.decode("utf-8", "surrogateescape")):
            return False
        try:
            value = decode_json(raw)
        except ValueError:
            continue
        if next(matcher.iter_matches(value), None) is not None:
            return False
    return True


def null_references(data: bytes, lines: Collection[int], session_ids: Collection[str]) -> Rewrite:
    """Replace the JSON strings `"<session id>"` on the named lines by `null` (references to deleted sessions).

    Text-level, so the document keeps its layout and line numbers and stays valid JSON.
    """
    quoted = [b'"' + sid.encode("utf-8", "surrogateescape") + b'"' for sid in sorted(session_ids)]
    parts = split_lines(data)
    changed = 0
    count = 0
    for number in sorted(set(lines)):
        if not 1 <= number <= len(parts):
            continue
        raw = parts[number - 1]
        for needle in quoted:
            count += raw.count(needle)
            raw = raw.replace(needle, b"null")
        if raw != parts[number - 1]:
            changed += 1
            parts[number - 1] = raw
    return Rewrite(b"\n".join(parts), changed, count)


def has_references(data: bytes, lines: Collection[int], session_ids: Collection[str]) -> bool:
    """Whether any named line still holds one of the session ids as a JSON string."""
    parts = split_lines(data)
    quoted = [b'"' + sid.encode("utf-8", "surrogateescape") + b'"' for sid in session_ids]
    return any(needle in parts[n - 1] for n in lines if 1 <= n <= len(parts) for needle in quoted)
