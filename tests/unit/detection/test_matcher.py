"""Tests for detection.matcher: every identifier form and trap on raw JSONL lines, pointers, streaming."""

from __future__ import annotations

import io
import json
import pickle
import unicodedata
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.records import RecordFormat
from detection import matcher as matcher_module
from detection.identifiers import SubjectIdentifiers
from detection.matcher import ENGINE, Candidate, Matcher
from tests.unit.detection.conftest import SUBJECT, jsonl

NFD_NAME = unicodedata.normalize("NFD", "Zoë Ångström")

FOUND = [
    ("email", "write to zoe.angstrom@x.invalid today", "email"),
    ("email-upper", "ZOE.ANGSTROM@X.INVALID", "email"),
    ("email-mixed", "Zoe.Angstrom@X.invalid", "email"),
    ("email-percent", "https://x.invalid/?to=zoe.angstrom%40x.invalid&a=1", "email/percent"),
    ("email-mailto", "<a href='mailto:zoe.angstrom@x.invalid'>", "email"),
    ("email-angle", "Zoe <zoe.angstrom@x.invalid>", "email"),
    ("email-sentence-end", "mail zoe.angstrom@x.invalid.", "email"),
    ("name", "met Zoë Ångström yesterday", "name"),
    ("name-lower", "zoë ångström", "name"),
    ("name-upper", "ZOË ÅNGSTRÖM", "name"),
    ("name-nfd", f"met {NFD_NAME}", "name/nfd"),
    ("name-stripped", "Zoe Angstrom", "name/ascii"),
    ("name-translit", "Zoe Aangstroem", "name/ascii"),
    ("name-translit-oe", "zoe angstroem", "name/ascii"),
    ("name-reversed-comma", "Ångström, Zoë", "name/reversed"),
    ("name-reversed-space", "Ångström Zoë", "name/reversed"),
    ("name-hyphen", "Zoë-Ångström", "name"),
    ("name-nbsp", "Zoë\u00a0Ångström", "name"),
    ("name-underscore-file", "/uploads/Zoe_Angstrom_CV.pdf", "name/ascii"),
    ("name-double-space", "Zoë  Ångström", "name"),
    ("name-escaped-inside-text", "printed: Zo\\u00eb \\u00c5ngstr\\u00f6m", "name/escaped"),
    ("phone-e164", "tel +447700900123", "phone/international"),
    ("phone-intl", "call +44 7700 900123 now", "phone/international"),
    ("phone-intl-dashes", "+44-7700-900123", "phone/international"),
    ("phone-intl-dots", "+44.7700.900.123", "phone/international"),
    ("phone-00", "0044 7700 900123", "phone/international"),
    ("phone-trunk", "+44 (0)7700 900123", "phone/international"),
    ("phone-national", "ring 07700 900123.", "phone/national"),
    ("phone-national-brackets", "(07700) 900123", "phone/national"),
    ("phone-national-dashes", "07700-900-123", "phone/national"),
    ("phone-national-compact", "07700900123", "phone/national"),
    ("phone-tel-uri", "tel:+44-7700-900123", "phone/international"),
    ("user-id", "ticket E-48213 closed", "user_id"),
    ("user-id-quoted", '"E-48213"', "user_id"),
    ("uuid", "account 3f2b8c1e-1111-4222-8333-444455556666", "user_id/uuid"),
    ("uuid-upper", "3F2B8C1E-1111-4222-8333-444455556666", "user_id/uuid"),
]

TRAPS = [
    ("email-longer-local", "zoe.angstrom2@x.invalid"),
    ("email-prefixed-local", "xzoe.angstrom@x.invalid"),
    ("email-longer-domain", "zoe.angstrom@x.invalid.example"),
    ("email-other-domain", "zoe.angstrom@y.invalid"),
    ("email-subdomain-prefix", "zoe.angstrom@sub-x.invalid"),
    ("name-first-only", "Zoë said hi"),
    ("name-last-only", "the Ångström unit"),
    ("name-longer-last", "Zoë Ångströmer"),
    ("name-longer-first", "Zoëy Ångström"),
    ("name-prefixed", "XZoë Ångström"),
    ("name-other-first", "Anna Ångström"),
    ("phone-last-digit", "+44 7700 900124"),
    ("phone-extra-digit", "+44 7700 9001234"),
    ("phone-national-last-digit", "07700 900124"),
    ("phone-foreign-cc", "+33 07700 900123"),
    ("phone-foreign-cc-compact", "+3307700900123"),
    ("phone-foreign-region-nsn", "+49 7700 900123"),
    ("phone-prefixed-digit", "107700900123"),
    ("user-id-longer", "E-482130"),
    ("user-id-prefixed", "XE-48213"),
    ("user-id-continued", "E-48213-7"),
    ("user-id-case", "e-48213"),
    ("uuid-longer", "3f2b8c1e-1111-4222-8333-4444555566667"),
]


def _confirm_line(matcher: Matcher, line: bytes, fmt: RecordFormat = RecordFormat.JSONL) -> list[tuple[str, ...]]:
    found = list(matcher.scan(io.BytesIO(line + b"\n"), fmt))
    return [c.forms for c in found]


@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "utf8"])
@pytest.mark.parametrize(("text", "form"), [(t, f) for _, t, f in FOUND], ids=[i for i, _, _ in FOUND])
def test_identifier_form_is_found_in_jsonl(matcher: Matcher, text: str, form: str, ascii_only: bool) -> None:
    """Every identifier form is a candidate and is confirmed with its form label, escaped or not."""
    line = jsonl({"type": "user", "message": {"content": [{"type": "text", "text": text}]}}, ascii_only=ascii_only)
    found = _confirm_line(matcher, line)
    assert len(found) == 1
    assert form in found[0]


@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "utf8"])
@pytest.mark.parametrize("text", [t for _, t in TRAPS], ids=[i for i, _ in TRAPS])
def test_trap_is_not_a_match(matcher: Matcher, text: str, ascii_only: bool) -> None:
    """Near misses (longer local part, other digit, longer id, foreign country code) are not confirmed."""
    line = jsonl({"message": {"content": text}}, ascii_only=ascii_only)
    assert _confirm_line(matcher, line) == []


@pytest.mark.parametrize(("text", "form"), [(t, f) for _, t, f in FOUND], ids=[i for i, _, _ in FOUND])
def test_identifier_form_is_found_in_text_files(matcher: Matcher, text: str, form: str) -> None:
    """The same forms are confirmed in plain text files (pointer is empty)."""
    found = list(matcher.scan(io.BytesIO(b"first line\n" + text.encode() + b"\n"), RecordFormat.TEXT))
    assert [(c.line, c.pointers) for c in found] == [(2, ("",))]
    assert form in found[0].forms


@pytest.mark.parametrize("text", [t for _, t in TRAPS], ids=[i for i, _ in TRAPS])
def test_trap_is_not_a_match_in_text(matcher: Matcher, text: str) -> None:
    """Traps are not confirmed in text files either."""
    assert list(matcher.scan(io.BytesIO(text.encode() + b"\n"), RecordFormat.TEXT)) == []


def test_doubly_escaped_json_is_found(matcher: Matcher) -> None:
    """A JSONL file printed inside a tool result (JSON inside a JSON string) is still found."""
    inner = json.dumps({"name": "Zoë Ångström"}, ensure_ascii=True)
    line = jsonl({"toolUseResult": {"stdout": inner}}, ascii_only=True)
    assert b"\\\\u00c5" in line
    found = list(matcher.scan(io.BytesIO(line), RecordFormat.JSONL))
    assert [c.pointers for c in found] == [("/toolUseResult/stdout",)]


def test_pointer_names_the_nested_field(matcher: Matcher) -> None:
    """The JSON pointer names the exact nested field (RFC 6901), including escaped key characters."""
    value = {
        "type": "assistant",
        "message": {
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "thinking", "thinking": "nothing"},
                {"type": "tool_use", "name": "Bash", "input": {"command": "echo zoe.angstrom@x.invalid"}},
            ]
        },
        "a/b~c": {"k": "E-48213"},
        "toolUseResult": {"stdout": "Zoë Ångström"},
    }
    found = list(matcher.scan(io.BytesIO(jsonl(value, ascii_only=True)), RecordFormat.JSONL))
    assert found[0].pointers == ("/message/content/2/input/command", "/a~1b~0c/k", "/toolUseResult/stdout")
    assert found[0].value == value


def test_key_and_number_are_checked() -> None:
    """Object keys and integers (an account id stored as a number) are confirmed too."""
    matcher = Matcher.from_identifiers(SubjectIdentifiers(user_ids=("E-48213", "1048213")))
    value = {"projects": {"/Users/x/E-48213": {"n": 1}}, "accountId": 1048213, "other": 10482130}
    found = list(matcher.scan(io.BytesIO(jsonl(value, ascii_only=True)), RecordFormat.JSONL))
    assert found[0].pointers == ("/projects/~1Users~1x~1E-48213", "/accountId")


def test_line_numbers_and_offsets_count_every_raw_line(matcher: Matcher) -> None:
    """Line numbers are 1-based raw line numbers; offsets are byte offsets of the line start."""
    lines = [b'{"a": 1}', b"", b'{"a": "E-48213"}', b'{"b": 2}', b'{"c": "zoe.angstrom@x.invalid"}']
    data = b"\n".join(lines) + b"\n"
    found = list(matcher.scan(io.BytesIO(data), RecordFormat.JSONL))
    assert [(c.line, c.offset) for c in found] == [(3, data.index(lines[2])), (5, data.index(lines[4]))]


def test_last_line_without_newline_and_bom(matcher: Matcher) -> None:
    """A final line without a newline is scanned; a UTF-8 BOM on line 1 does not break decoding."""
    data = b'\xef\xbb\xbf{"a": "E-48213"}\n{"b": "E-48213"}'
    found = list(matcher.scan(io.BytesIO(data), RecordFormat.JSONL))
    assert [(c.line, c.malformed) for c in found] == [(1, None), (2, None)]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": "E-48213", "b": ', "truncated"),
        (b'{"a": "E-48213"} trailing', "invalid_json"),
        (b'{"a": "E-48213 \xff"}', "invalid_utf8"),
    ],
    ids=["truncated", "invalid-json", "invalid-utf8"],
)
def test_malformed_line_is_confirmed_as_text_and_flagged(matcher: Matcher, raw: bytes, reason: str) -> None:
    """Malformed lines are confirmed as text with pointer "" and the reason code."""
    found = list(matcher.scan(io.BytesIO(raw + b"\n"), RecordFormat.JSONL))
    assert [(c.pointers, c.malformed) for c in found] == [(("",), reason)]


def test_lone_surrogate_escape_falls_back_to_json(matcher: Matcher) -> None:
    """A line with a lone surrogate escape (rejected by orjson) is decoded by json and confirmed."""
    raw = b'{"a": "\\ud800 E-48213"}\n'
    found = list(matcher.scan(io.BytesIO(raw), RecordFormat.JSONL))
    assert [(c.pointers, c.malformed) for c in found] == [(("/a",), None)]


def test_pretty_json_line_is_confirmed_as_text_without_flag(matcher: Matcher) -> None:
    """A line of a pretty-printed JSON document is confirmed as text, not flagged malformed."""
    data = b'{\n  "emailAddress": "zoe.angstrom@x.invalid",\n  "n": 1\n}\n'
    found = list(matcher.scan(io.BytesIO(data), RecordFormat.JSON))
    assert [(c.line, c.pointers, c.malformed) for c in found] == [(2, ("",), None)]


def test_confirm_depends_only_on_candidate_bytes(matcher: Matcher) -> None:
    """A candidate built elsewhere (the SSH remote scanner) is confirmed from its bytes and format alone."""
    line = jsonl({"x": {"y": "Ångström, Zoë"}}, ascii_only=True)
    assert any(lit in line.lower() for lit in matcher.literals)
    confirmation = matcher.confirm(Candidate(7, 1234, line), RecordFormat.JSONL)
    assert confirmation is not None
    assert (confirmation.line, confirmation.offset, confirmation.pointers) == (7, 1234, ("/x/y",))


def _reference_candidates(matcher: Matcher, data: bytes) -> list[tuple[int, int, bytes]]:
    out = []
    offset = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if any(lit in line.lower() for lit in matcher.literals):
            out.append((number, offset, line))
        offset += len(line) + 1
    return out


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096], ids=["1B", "7B", "64B", "4KiB"])
def test_candidates_across_chunk_borders_equal_the_stdlib_rule(matcher: Matcher, chunk: int) -> None:
    """Lines spanning chunk borders are found exactly as the stdlib rule finds them."""
    lines = []
    for i in range(200):
        if i % 7 == 0:
            lines.append(jsonl({"i": i, "t": "Zoë Ångström"}, ascii_only=bool(i % 2)))
        elif i % 11 == 0:
            lines.append(b"ZOE.ANGSTROM@X.INVALID and more " + b"x" * i)
        else:
            lines.append(jsonl({"i": i, "t": "nothing " * (i % 5)}, ascii_only=True))
    data = b"\n".join(lines) + b"\n"
    got = [(c.line, c.offset, c.data) for c in matcher.iter_candidates(io.BytesIO(data), chunk_bytes=chunk)]
    assert got == _reference_candidates(matcher, data)[: len(got)]
    assert len(got) == len(_reference_candidates(matcher, data))


@pytest.mark.parametrize("engine", ["hyperscan", "re2", "stdlib"])
@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            [b"zoe.angstrom@x.invalid", b"\xc3\x85ngstr\xc3\xb6m", b"\xc3\xa5NGSTR\xc3\x96M", b"E-48213", b"\n", b"abc"]
        )
        | st.binary(max_size=12),
        max_size=30,
    )
)
def test_engines_agree_with_the_stdlib_rule(engine: str, pieces: list[bytes]) -> None:
    """hyperscan, re2 and the stdlib fallback give exactly the candidates of the shared rule."""
    matcher = _ENGINES[engine]
    data = b"".join(pieces)
    got = [(c.line, c.offset, c.data) for c in matcher.iter_candidates(io.BytesIO(data), chunk_bytes=16)]
    assert got == _reference_candidates(matcher, data)


_ENGINES = {name: Matcher(SUBJECT, engine=name) for name in ("hyperscan", "re2", "stdlib")}


def test_engine_is_chosen_at_import() -> None:
    """The module reports which prefilter engine it chose."""
    assert ENGINE in {"hyperscan", "re2", "stdlib"}


def test_oversized_line_is_confirmed_on_windows(matcher: Matcher) -> None:
    """A line longer than the limit is scanned in windows around hits and flagged oversized."""
    filler = b"A" * 300_000
    line = b'{"image": "' + filler + b" zoe.angstrom@x.invalid " + filler + b'"}'
    data = b'{"a": 1}\n' + line + b'\n{"b": "E-48213"}\n'
    candidates = list(matcher.iter_candidates(io.BytesIO(data), chunk_bytes=65536, max_line_bytes=100_000))
    assert [(c.line, c.oversized) for c in candidates] == [(2, True), (3, False)]
    assert len(candidates[0].data) < 200_000
    confirmation = matcher.confirm(candidates[0], RecordFormat.JSONL)
    assert confirmation is not None
    assert (confirmation.pointers, confirmation.malformed) == (("",), "oversized")


def test_oversized_complete_line_inside_one_chunk_uses_windows(matcher: Matcher) -> None:
    """An oversized line that fits in one read is also windowed, not held as one candidate."""
    line = b"x" * 5000 + b" E-48213 " + b"y" * 5000
    candidates = list(matcher.iter_candidates(io.BytesIO(line + b"\n"), chunk_bytes=1 << 20, max_line_bytes=1000))
    assert [(c.line, c.oversized) for c in candidates] == [(1, True)]


def test_matcher_pickles() -> None:
    """A matcher pickles as its identifiers and rebuilds the same literals."""
    matcher = Matcher.from_identifiers(SUBJECT)
    clone = pickle.loads(pickle.dumps(matcher))  # noqa: S301 - our own object
    assert clone.literals == matcher.literals


def test_literals_are_ascii_lowered() -> None:
    """Literals are stored ASCII-lowered, so the rule `lit in line.lower()` can match them."""
    matcher = Matcher.from_identifiers(SubjectIdentifiers(names=("ÉLODIE MÜLLER-LÜDENSCHEID",)))
    assert all(lit == lit.lower() for lit in matcher.literals)


def test_short_names_use_whole_name_literals() -> None:
    """A name with short parts is prefiltered by whole-name literals, not by a two-letter part."""
    matcher = Matcher.from_identifiers(SubjectIdentifiers(names=("Li Na",)))
    assert b"li" not in matcher.literals
    assert b"li na" in matcher.literals
    assert list(matcher.scan(io.BytesIO(b'{"t": "Na, Li wrote"}\n'), RecordFormat.JSONL))
    assert not list(matcher.scan(io.BytesIO(b'{"t": "Linda"}\n'), RecordFormat.JSONL))


@settings(max_examples=40, deadline=None)
@given(
    positions=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=4),
    chunk=st.sampled_from([7, 64, 500, 4096]),
    trailing_newline=st.booleans(),
)
def test_oversized_windows_cover_every_hit(positions: list[int], chunk: int, trailing_newline: bool) -> None:
    """Every literal occurrence in an oversized line lies inside a window; later lines keep their numbers."""
    matcher = _ENGINES["stdlib"]
    literal = b"E-48213"
    body = bytearray(b"." * 5000)
    for position in sorted(positions):
        body[position : position + len(literal)] = literal
    big = bytes(body[:5000])
    tail = b"\n" + b'{"x": "E-48213"}' + (b"\n" if trailing_newline else b"")
    data = b'{"a": 1}\n' + big + tail
    with patch.object(matcher_module, "WINDOW_BYTES", 50):  # small windows: hits near window and read borders
        candidates = list(matcher.iter_candidates(io.BytesIO(data), chunk_bytes=chunk, max_line_bytes=300))
    windows = [c for c in candidates if c.oversized]
    assert all(len(w.data) <= 2 * 50 + matcher.max_literal for w in windows)
    assert all(c.line == 2 for c in windows)
    start = len(b'{"a": 1}\n')
    hit = big.find(literal)
    while hit >= 0:
        absolute = start + hit
        assert any(w.offset <= absolute and absolute + len(literal) <= w.offset + len(w.data) for w in windows)
        hit = big.find(literal, hit + 1)
    assert [(c.line, c.data) for c in candidates if not c.oversized] == [(3, b'{"x": "E-48213"}')]


def test_no_identifier_is_an_input_error() -> None:
    """A matcher needs at least one identifier."""
    from models.errors import InputError

    with pytest.raises(InputError):
        Matcher.from_identifiers(SubjectIdentifiers())


def test_crlf_lines_are_confirmed(matcher: Matcher) -> None:
    """Windows line endings do not break decoding or boundaries."""
    data = b'{"a": "E-48213"}\r\nE-48213\r\n'
    assert [(c.line, c.malformed) for c in matcher.scan(io.BytesIO(data), RecordFormat.JSONL)] == [
        (1, None),
        (2, "invalid_json"),
    ]
    assert [c.line for c in matcher.scan(io.BytesIO(data), RecordFormat.TEXT)] == [1, 2]


def test_strings_are_walked_in_document_order_with_their_json_pointers() -> None:
    """Keys of an object come before its members' values; `~` and `/` in keys are escaped; integers count as
    text, booleans and null do not; the lazy walk's paths give the same pointers, from the root it was given."""
    from detection.matcher import iter_strings, map_strings, pointer_of, walk_strings

    value = {"a/b": ["x", 7, True, None, {"c~d": "y"}], "e": {"f": [[["z"]]]}, "": "empty key", "n": 3.5}
    expected = [
        ("/a~1b", "a/b", True),
        ("/e", "e", True),
        ("/", "", True),
        ("/n", "n", True),
        ("/a~1b/0", "x", False),
        ("/a~1b/1", "7", False),
        ("/a~1b/4/c~0d", "c~d", True),
        ("/a~1b/4/c~0d", "y", False),
        ("/e/f", "f", True),
        ("/e/f/0/0/0", "z", False),
        ("/", "empty key", False),
    ]
    assert list(iter_strings(value)) == expected
    walked = list(walk_strings(value, "root"))
    assert [(pointer_of(path), text, is_key) for text, path, is_key in walked] == [
        (("root", pointer), text, is_key) for pointer, text, is_key in expected
    ]
    assert list(iter_strings("plain")) == [("", "plain", False)]
    seen: list[tuple[str, str, bool]] = []
    map_strings(value, lambda pointer, text, is_key: seen.append((pointer, text, is_key)) or text)
    assert sorted(seen) == sorted(e for e in expected if e[1] != "7")  # a copy keeps its numbers as they are
    blind: list[str] = []
    copy = map_strings(value, lambda pointer, text, _k: blind.append(pointer) or text.upper(), pointers=False)
    assert set(blind) == {""} and len(blind) == len(seen)
    assert copy == map_strings(value, lambda _p, text, _k: text.upper())
    assert copy["A/B"][1:4] == [7, True, None] and copy["N"] == 3.5
