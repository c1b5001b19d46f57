"""Tests for detection.redact: third-party placeholders without partial leaks; subject erasure."""

from __future__ import annotations

import json
import re

import pytest

from detection.classify import Classifier
from detection.matcher import Matcher
from detection.redact import PlaceholderBook, erase_subject, redact_record


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """An offline classifier."""
    return Classifier(default_region="GB", third_party_names=("Bruno Keller",))


def _redact(value: object, matcher: Matcher, classifier: Classifier, book: PlaceholderBook | None = None) -> object:
    findings = classifier.classify(value, matcher).third_parties
    return redact_record(value, matcher, findings, book=book)


RECORD = {
    "type": "user",
    "sessionId": "local_0b4c1e2a-0000-4000-8000-000000000001",
    "createdAt": 1767225600000,
    "message": {
        "content": [
            {
                "type": "text",
                "text": "Dear Anna Nowak, Zoë Ångström (zoe.angstrom@x.invalid) asked anna.nowak@corp.example",
            },
            {"type": "tool_use", "input": {"command": "mail -c anna.nowak%40corp.example +44 20 7946 0958"}},
        ]
    },
    "toolUseResult": {"stdout": "Nowak said ANNA.NOWAK@CORP.EXAMPLE and 020 7946 0958; Bruno Keller agreed"},
}


def test_third_parties_are_replaced_and_subject_kept(matcher: Matcher, classifier: Classifier) -> None:
    """Third parties' data become placeholders; the subject's own name and e-mail stay."""
    result = _redact(RECORD, matcher, classifier)
    text = json.dumps(result.value, ensure_ascii=False)
    assert "Zoë Ångström" in text and "zoe.angstrom@x.invalid" in text
    assert "[person 1]" in text and "[email 1]" in text and "[phone 1]" in text
    assert result.counts["art15_4_third_party_email"] >= 3
    assert result.reason_codes == tuple(sorted(result.counts))


@pytest.mark.parametrize(
    "fragment",
    ["anna", "nowak", "corp.example", "7946", "0958", "bruno", "keller"],
    ids=["first-name", "surname", "domain", "phone-middle", "phone-end", "known-first", "known-last"],
)
def test_no_partial_leak(matcher: Matcher, classifier: Classifier, fragment: str) -> None:
    """No fragment of a redacted third party's e-mail, phone or name is left anywhere in the record."""
    result = _redact(RECORD, matcher, classifier)
    assert fragment not in json.dumps(result.value, ensure_ascii=False).lower()


def test_types_are_kept(matcher: Matcher, classifier: Classifier) -> None:
    """Typed fields keep their types (sessionId string, createdAt number)."""
    value = _redact(RECORD, matcher, classifier).value
    assert isinstance(value, dict)
    assert value["createdAt"] == RECORD["createdAt"]
    assert value["sessionId"] == RECORD["sessionId"]


def test_placeholders_are_stable_per_request(matcher: Matcher, classifier: Classifier) -> None:
    """The same third party gets the same placeholder across records of one request."""
    book = PlaceholderBook()
    first = _redact({"t": "Zoë Ångström cc bob@team.local and anna@corp.example"}, matcher, classifier, book)
    second = _redact({"t": "Zoë Ångström cc anna@corp.example"}, matcher, classifier, book)
    assert first.value == {"t": "Zoë Ångström cc [email 1] and [email 2]"}
    assert second.value == {"t": "Zoë Ångström cc [email 2]"}


def test_record_without_third_parties_is_unchanged(matcher: Matcher, classifier: Classifier) -> None:
    """A record with only the subject's data comes back unchanged with no reason codes."""
    value = {"t": "Zoë Ångström wrote from zoe.angstrom@x.invalid"}
    result = _redact(value, matcher, classifier)
    assert (result.value, result.reason_codes) == (value, ())


def test_erase_subject_replaces_every_form_and_keeps_types(matcher: Matcher) -> None:
    """Erasure replaces each subject form in strings and keys with [redacted]; numbers stay numbers."""
    value = {
        "emailAddress": "ZOE.ANGSTROM@X.INVALID",
        "createdAt": 1767225600000,
        "title": "Call Zoe Angstrom on 07700 900123 about E-48213",
        "zoe.angstrom@x.invalid": True,
        "other": "anna@corp.example",
    }
    erased, count = erase_subject(value, matcher)
    assert erased == {
        "emailAddress": "[redacted]",
        "createdAt": 1767225600000,
        "title": "Call [redacted] on [redacted] about [redacted]",
        "[redacted]": True,
        "other": "anna@corp.example",
    }
    assert count == 5


def test_erase_subject_on_text(matcher: Matcher) -> None:
    """Erasure works on a plain text record too."""
    assert erase_subject("hi Ångström, Zoë!", matcher) == ("hi [redacted]!", 1)


def test_own_span_overlap_index_agrees_with_a_linear_scan() -> None:
    """The subject's spans are looked up through a sorted index (redaction of a record with thousands of the
    subject's matches stays fast); it must answer exactly as checking every span would."""
    import random

    from detection.redact import _OwnSpans

    rng = random.Random(7)  # noqa: S311 - reproducible test data, not a secret
    for _ in range(2000):
        spans = [(a, a + rng.randint(1, 10)) for a in (rng.randint(0, 100) for _ in range(rng.randint(0, 8)))]
        index = _OwnSpans(spans)
        for _ in range(20):
            start = rng.randint(0, 110)
            end = start + rng.randint(1, 10)
            assert index.overlaps(start, end) == any(s < end and start < e for s, e in spans)


def test_erase_in_text_counts_and_log_filter_use_the_same_rule(matcher: Matcher) -> None:
    """One rule replaces the subject's identifiers in free text: erasure of raw lines, `erase_subject` and the
    log safety net give the same text."""
    from detection.logfilter import redact_text
    from detection.redact import erase_in_text

    text = "mail zoe.angstrom@x.invalid or ZOE.ANGSTROM@X.INVALID; Bruno Keller stays"
    erased, count = erase_in_text(text, matcher)
    assert count == 2 and "angstrom" not in erased.lower() and erased.count("[redacted]") == 2
    assert erased.endswith("Bruno Keller stays")
    assert redact_text(text, matcher) == erased
    assert erase_subject({"t": text}, matcher) == ({"t": erased}, 2)
    assert erase_in_text("nothing here", matcher) == ("nothing here", 0)


def test_sweeps_skip_strings_without_the_value_and_redact_the_same(
    classifier: Classifier, matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep runs only on strings whose case-folded text holds its value (a phone number: whose digits hold
    its digits): the copies found, in any case or spelling the patterns accept, are exactly those found by
    running every sweep on every string."""
    record = {
        "text": "Anna Nowak <anna.nowak@corp.example> asked; call +44 20 7946 0958",
        "copies": ["ANNA NOWAK agreed", "write to Anna.Nowak%40CORP.example", "nowak said", "(020) 7946-0958"],
        "other": ["nothing here", "build 1.4.2 on port 8080", "Straße 5"],
        "nested": {"note": "NOWAK, Anna: 020 7946 0958"},
    }
    third = classifier.classify(record, matcher).third_parties
    assert third, "the record names other people"
    anchored = redact_record(record, matcher, third)
    from detection import redact

    every = redact._sweep_patterns
    monkeypatch.setattr(redact, "_sweep_patterns", lambda e, t: [(s, led, None, None) for s, led, *_ in every(e, t)])
    assert redact_record(record, matcher, third) == anchored
    memory: dict = {}  # a request's memory of compiled sweeps gives the same copy, and holds only what it was given
    assert redact_record(record, matcher, third, sweep_memory=memory) == anchored
    assert memory and {value for _entity, value in memory} == {f.text for f in third}
    assert "Nowak" not in json.dumps(anchored.value) and "NOWAK" not in json.dumps(anchored.value)


@pytest.mark.parametrize(
    ("entity", "value"),
    [
        ("PERSON", "Anna Nowak"),
        ("PERSON", "Kåre Øvergård-Smith"),
        ("PERSON", "Ōta Kenji"),
        ("PERSON", "Iris Skinner"),
        ("EMAIL_ADDRESS", "anna.nowak@corp.example"),
        ("EMAIL_ADDRESS", "Kelvin+test%40Corp.Example"),
        ("EMAIL_ADDRESS", "ǅemal@x.invalid"),
        ("PHONE_NUMBER", "+44 20 7946 0958"),
        ("PHONE_NUMBER", "12-34"),
        ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
        ("IP_ADDRESS", "10.0.0.1"),
    ],
)
def test_sweeps_led_for_ascii_texts_find_what_the_case_insensitive_patterns_find(entity: str, value: str) -> None:
    """On ASCII texts the sweeps run in the form led by their first character (`re` looks for it first); that form
    finds exactly the matches of the case-insensitive pattern, at the start of a text, after a word character,
    in any case, and nothing when no ASCII character matches the first one."""
    from detection import redact

    copies = {value, value.upper(), value.lower(), value.swapcase(), value.title()}
    texts = ["", "nothing here", "x" * 50]
    for copy in copies:
        ascii_copy = copy.encode("ascii", "ignore").decode()
        texts += [ascii_copy, f" {ascii_copy} ", f"a{ascii_copy}", f"{ascii_copy}b", f"({ascii_copy}).{ascii_copy}_"]
        texts += [f"1{ascii_copy}2", ascii_copy.replace(" ", "\n"), f"@{ascii_copy}", ascii_copy[1:]]
    ascii_texts = [t for t in texts if t.isascii()]
    assert len(ascii_texts) > 10
    found_any = False
    for source, led, _anchor, _run in redact._sweep_patterns(entity, value):
        pattern = re.compile(source, re.IGNORECASE)
        fast = re.compile(led) if led else None
        for text in ascii_texts:
            expected = [m.span() for m in pattern.finditer(text)]
            found_any = found_any or bool(expected)
            assert ([m.span() for m in fast.finditer(text)] if fast else []) == expected, (source, led, text)
    assert found_any or not value.isascii()
