"""Tests for erasure.rewrite: deterministic line redaction and record removal."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from erasure.rewrite import drop_lines, lines_clean, redact_json_line, redact_lines

SUBJECT = SubjectIdentifiers(
    emails=("zoe.angstrom@x.invalid",), names=("Zoë Ångström",), phones=("+44 7700 900123",), user_ids=("E-48213",)
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    """The synthetic subject's matcher."""
    return Matcher.from_identifiers(SUBJECT)


def test_json_line_keeps_types_and_compact_style(matcher: Matcher) -> None:
    """sessionId and numeric times stay typed; only the subject's characters change; style stays compact."""
    record = {"sessionId": "local_1", "createdAt": 1767225600000, "text": "ask Zoë Ångström now", "n": None}
    raw = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    new, count = redact_json_line(raw, matcher)
    assert count == 1
    assert new == raw.replace("Zoë Ångström".encode(), b"[redacted]")
    assert json.loads(new)["createdAt"] == 1767225600000


def test_escaped_json_line_stays_ascii_and_loses_the_name(matcher: Matcher) -> None:
    """A line written with \\u escapes is re-encoded with escapes and no longer names the subject."""
    raw = json.dumps({"a": "Zoë Ångström, E-48213", "b": "Léa"}, ensure_ascii=True).encode("ascii")
    new, count = redact_json_line(raw, matcher)
    assert count == 2 and new.isascii()
    assert json.loads(new) == {"a": "[redacted], [redacted]", "b": "Léa"}


def test_malformed_line_is_redacted_at_text_level(matcher: Matcher) -> None:
    """A truncated JSON line still loses the identifier and keeps its other bytes."""
    raw = b'{"text": "mail zoe.angstrom@x.invalid about \xff'
    new, count = redact_json_line(raw, matcher)
    assert count == 1
    assert new == b'{"text": "mail [redacted] about \xff'


def test_redact_lines_only_touches_named_lines(matcher: Matcher) -> None:
    """Lines not named by the plan stay byte for byte, even if they hold the subject."""
    data = b"E-48213 first\nother\nE-48213 third\n"
    rewrite = redact_lines(data, [3], "text", matcher)
    assert rewrite.data == b"E-48213 first\nother\n[redacted] third\n"
    assert (rewrite.lines_changed, rewrite.replacements) == (1, 1)


def test_pretty_json_document_stays_valid(matcher: Matcher) -> None:
    """Text-level redaction of a pretty JSON record keeps a parseable document with typed fields."""
    document = {"sessionId": "local_1", "emailAddress": "zoe.angstrom@x.invalid", "createdAt": 5}
    data = json.dumps(document, indent=2).encode()
    lines = [n for n, line in enumerate(data.split(b"\n"), 1) if b"zoe" in line]
    parsed = json.loads(redact_lines(data, lines, "json", matcher).data)
    assert parsed == {"sessionId": "local_1", "emailAddress": "[redacted]", "createdAt": 5}


def test_drop_lines_removes_records(matcher: Matcher) -> None:
    """Dropping records removes exactly the named lines."""
    data = b'{"a":1}\n{"b":"E-48213"}\n{"c":3}\n'
    rewrite = drop_lines(data, [2])
    assert rewrite.data == b'{"a":1}\n{"c":3}\n' and rewrite.lines_changed == 1
    assert lines_clean(rewrite.data, range(1, 4), matcher)


@pytest.mark.parametrize(
    ("line", "clean"),
    [(b'{"a":"[redacted]"}', True), (b'{"a":"Zo\\u00eb \\u00c5ngstr\\u00f6m"}', False), (b"call E-48213", False)],
    ids=["redacted", "escaped-name", "text"],
)
def test_lines_clean_sees_escaped_forms(matcher: Matcher, line: bytes, clean: bool) -> None:
    """lines_clean decodes JSON too, so an escaped name is not mistaken for a finished redaction."""
    assert lines_clean(line, [1], matcher) is clean


FORMS = ["zoe.angstrom@x.invalid", "Zoë Ångström", "E-48213", "+44 7700 900123", "ZOE.ANGSTROM@X.INVALID"]
_words = st.sampled_from(["plan", "the", "offsite", "Léa", "call", "42", "ok", "E-4821", "x.invalid", *FORMS])
_text = st.lists(_words, max_size=8).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(_text, min_size=1, max_size=6), as_json=st.booleans(), ascii_only=st.booleans())
def test_redaction_touches_only_named_lines_and_cleans_them(
    matcher: Matcher, texts: list[str], as_json: bool, ascii_only: bool
) -> None:
    """Named lines end clean, other lines stay byte for byte, the line count never changes, reruns are no-ops."""
    if as_json:
        lines = [json.dumps({"n": i, "text": t}, ensure_ascii=ascii_only).encode() for i, t in enumerate(texts)]
    else:
        lines = [t.encode() for t in texts]
    data = b"\n".join(lines) + b"\n"
    named = [n for n, line in enumerate(lines, 1) if not lines_clean(line, [1], matcher)]
    rewrite = redact_lines(data, named, "jsonl" if as_json else "text", matcher)
    out = rewrite.data.split(b"\n")
    assert len(out) == len(lines) + 1
    assert all(out[n - 1] == lines[n - 1] for n in range(1, len(lines) + 1) if n not in named)
    assert lines_clean(rewrite.data, named, matcher)
    assert redact_lines(rewrite.data, named, "jsonl" if as_json else "text", matcher).data == rewrite.data
    if as_json:
        assert [json.loads(line)["n"] for line in out[:-1]] == list(range(len(lines)))


def test_unreproducible_style_with_hidden_form_is_reencoded(matcher: Matcher) -> None:
    """A line with `\\/` and an escaped `@` (style not reproducible, text level blind) still loses the address."""
    raw = b'{"url":"a\\/b","who":"zoe.angstrom\\u0040x.invalid"}'
    new, count = redact_json_line(raw, matcher)
    assert count == 1
    assert json.loads(new) == {"url": "a/b", "who": "[redacted]"}
    assert lines_clean(new, [1], matcher)


def test_pretty_json_with_hidden_form_is_reencoded(matcher: Matcher) -> None:
    """A pretty JSON record whose address hides an escaped `@` is erased from the decoded document."""
    data = b'{\n  "sessionId": "local_1",\n  "emailAddress": "zoe.angstrom\\u0040x.invalid",\n  "createdAt": 5\n}\n'
    rewrite = redact_lines(data, [3], "json", matcher)
    assert json.loads(rewrite.data) == {"sessionId": "local_1", "emailAddress": "[redacted]", "createdAt": 5}
    assert rewrite.data.count(b"\n") == data.count(b"\n") and rewrite.data.startswith(b'{\n  "sessionId"')
