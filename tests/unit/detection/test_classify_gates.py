"""The classifier's gates and its phone-number cache find exactly what presidio's recognizers find.

Each gated recognizer is compared with presidio's own recognizer (same patterns, no gate) on generated texts
made of the characters the patterns care about; the phone recognizer with presidio's `PhoneRecognizer`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from presidio_analyzer import EntityRecognizer, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
)

from detection import classify
from detection.classify import _FAST_GATE_COORDINATES, _FAST_GATE_IPV6, HEALTH_TERMS, Classifier
from detection.matcher import Matcher
from detection.text_key import text_key

# Pieces the patterns react to: numbers in many groupings, IP forms, e-mail parts, names, street words,
# salutations, health terms in odd cases (Kelvin sign, long s), separators.
_PIECES = [
    "+44 20 7946 0958", "020 7946 0958", "(020) 7946-0958", "07700 900123", "+4930901820", "23 96 01 23",
    "4111 1111 1111 1111", "5500-0000-0000-0004", "1234 567", "4111111111111111", "378282246310005",
    "4222 222 222 222", "6011 000", "2026-01-06T13:37:34.506Z", "v2.0.31",
    "192.168.10.20", "10.0.0.1/24", "::1", "fe80::1%eth0", "2001:db8::ff00:42:8329", "::ffff:10.1.2.3",
    "1:2:3:4:5:6:7:8", "13:37:34", "a@b.example", "bob%40corp.example", "<sean.murphy@corp.example>",
    "Sean Murphy", "please write to", "Dear", "dear", "Hi", "From:", "cc:", "221 Baker Street", "3 minutes the way",
    "Hauptstraße 12", "51.5072, -0.1276", "51.50722,-0.12759", "SW1A 1AA", "EC1A1BB", "SICK LEAVE", "ſick leave",
    "Diabetes", "arbeitsUNFÄHIG", "doctor's note", "\u212aRANKHEIT", "x", "-", ".", ":", "@", " ", "\n", ",", "0",
    "07700900123", "02079460958",
    "GB33BUKB20201555555555", "GB82 WEST 1234 5698 7654 32", "gb33bukb20201555555555", "DE89-3704-0044-0532-0130-00",
    "XX00", "ab:cd:ef:01:23:45:", "fe80:0:0:0:0:0:0:1", "G:", "12.34567,", ".1234,", "0.12345",
]  # fmt: skip
_TEXTS = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join)
_SPACED = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map(" ".join)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(default_region="GB")


def _recognizer(classifier: Classifier, name: str) -> list[EntityRecognizer]:
    return [r for r in classifier._analyzer.registry.recognizers if getattr(r, "name", None) == name]


def _spans(results: list[Any]) -> list[tuple[str, int, int, float]]:
    return sorted((r.entity_type, r.start, r.end, r.score) for r in results)


def _ungated(gated: PatternRecognizer) -> PatternRecognizer:
    """presidio's plain recognizer with the gated one's patterns, flags and entity."""
    return PatternRecognizer(
        supported_entity=gated.supported_entities[0],
        patterns=list(getattr(gated, "patterns", [])),
        global_regex_flags=gated.global_regex_flags,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(_TEXTS, _SPACED))
def test_gated_pattern_recognizers_find_what_their_patterns_find(classifier: Classifier, text: str) -> None:
    for name in ("PercentEmail", "UkPostcode", "Street", "Coordinates", "PersonHeuristics", "HealthTerms"):
        for gated in _recognizer(classifier, name):
            assert isinstance(gated, PatternRecognizer)
            plain = _ungated(gated)
            expected = _spans(plain.analyze(text, plain.supported_entities))
            assert _spans(gated.analyze(text, gated.supported_entities)) == expected, (name, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(_TEXTS, _SPACED))
def test_gated_presidio_recognizers_find_what_presidio_finds(classifier: Classifier, text: str) -> None:
    ip = [r for r in classifier._analyzer.registry.recognizers if isinstance(r, IpRecognizer)]
    assert len(ip) == 2  # IPv4 and the IPv6 forms, gated apart
    found_ip = EntityRecognizer.remove_duplicates([x for r in ip for x in r.analyze(text, ["IP_ADDRESS"], None)])
    assert _spans(found_ip) == _spans(IpRecognizer().analyze(text, ["IP_ADDRESS"])), text
    card = next(r for r in classifier._analyzer.registry.recognizers if isinstance(r, CreditCardRecognizer))
    assert _spans(card.analyze(text, ["CREDIT_CARD"], None)) == _spans(
        CreditCardRecognizer().analyze(text, ["CREDIT_CARD"], None)
    )
    iban = next(r for r in classifier._analyzer.registry.recognizers if isinstance(r, IbanRecognizer))
    assert type(iban) is not IbanRecognizer  # the gated one
    assert _spans(iban.analyze(text, ["IBAN_CODE"])) == _spans(IbanRecognizer().analyze(text, ["IBAN_CODE"]))
    email = next(
        r for r in classifier._analyzer.registry.recognizers if getattr(r, "name", None) == "_OfflineEmailRecognizer"
    )
    assert isinstance(email, PatternRecognizer)
    plain = _ungated(email)
    plain.validate_result = email.validate_result  # type: ignore[method-assign]  # the same offline suffix check
    assert _spans(email.analyze(text, ["EMAIL_ADDRESS"])) == _spans(plain.analyze(text, ["EMAIL_ADDRESS"]))


def test_a_card_like_number_with_a_digit_int_cannot_read_is_no_card(classifier: Classifier, matcher: Matcher) -> None:
    """presidio's card pattern knows newer Unicode digits than `int` does (U+11F51, a Kawi digit, from Unicode 15):
    its checksum would raise on such a match and stop the classification of the whole record."""
    text = "card 4111 1111 1111 111\U00011f51"
    card = next(r for r in classifier._analyzer.registry.recognizers if isinstance(r, CreditCardRecognizer))
    assert card.analyze(text, ["CREDIT_CARD"], None) == []
    assert classifier.detect_others(text, matcher) == []
    assert "CREDIT_CARD" not in {f.entity for f in classifier.classify({"m": text}, matcher).third_parties}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(_TEXTS, _SPACED))
def test_phone_recognizer_with_its_cache_finds_what_presidio_finds(classifier: Classifier, text: str) -> None:
    """The cache (kept across texts, as across a request's records) changes no result."""
    phone: Any = _recognizer(classifier, "_GatedPhoneRecognizer")[0]
    expected = _spans(PhoneRecognizer(supported_regions=("GB",)).analyze(text, ["PHONE_NUMBER"]))
    found = _spans(phone.analyze(text, ["PHONE_NUMBER"], None))
    if phone.gate.search(text):
        assert found == expected, text
    else:
        assert found == []


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_TEXTS, _SPACED))
def test_prefiltered_gates_answer_as_their_patterns(text: str) -> None:
    """A gate searched after a faster necessary pattern passes exactly the texts its own pattern matches."""
    for gate in (_FAST_GATE_IPV6, _FAST_GATE_COORDINATES):
        assert gate.search(text) == bool(gate.pattern.search(text)), text


def test_health_terms_in_any_case_are_found(classifier: Classifier) -> None:
    health: Any = _recognizer(classifier, "HealthTerms")[0]
    for text in ("on SICK LEAVE today", "ſick leave", "Arbeitsunfähig seit Montag", "after Surgery"):
        assert health.analyze(text, ["HEALTH_TERM"], None), text
    assert len(HEALTH_TERMS) > 10


@pytest.mark.parametrize(
    ("text", "entity", "found"),
    [
        ("please write to <bob@corp.example> today", "PERSON", []),
        ("and cc Sean Murphy <sean.murphy@corp.example>", "PERSON", ["Sean Murphy"]),
        ("dear Sean Murphy, thanks", "PERSON", ["Sean Murphy"]),
        ("Dear reviewer team, thanks", "PERSON", []),
        ("retry in 3 minutes the way we did", "STREET_ADDRESS", []),
        ("she lives at 221 Baker Street", "STREET_ADDRESS", ["221 Baker Street"]),
    ],
)
def test_name_and_street_patterns_need_capitals(
    classifier: Classifier, text: str, entity: str, found: list[str]
) -> None:
    """A capitalised word makes a name or a street: lower-case prose is neither (presidio's default flags
    would ignore case)."""
    results = classifier._analyzer.analyze(text=text, language="en", entities=[entity])
    assert [text[r.start : r.end] for r in results if r.entity_type == entity] == found


def test_classify_uses_every_recognizer(classifier: Classifier, matcher: Matcher) -> None:
    """A record with each kind of third party still yields each (the gates do not hide them)."""
    text = (
        "Dear Bruno Keller, call +44 20 7946 0958 or write to Ann Lee <ann.lee@corp.example>; "
        "card 4111 1111 1111 1111, server 192.168.10.20 and 2001:db8::ff00:42:8329"
    )
    entities = {f.entity for f in classifier.classify(text, matcher).third_parties}
    assert {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD", "IP_ADDRESS"} <= entities


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("From: Anna McDonald <anna@corp.example>", "From: ", "Donald"),
        ("Anna McDonald <anna@corp.example>", "<", "Anna"),
        ("Dear Sean O'Neil, thanks", "Dear ", "Neil"),
        ("Hi Anna DeVries", "Hi ", "Vries"),
        ("Hi Anna NOWAK, see you", "Hi ", "NOWAK"),
        ("H\u0130 Anna Nowak, see you", "see you", "Nowak"),  # dotted capital I: presidio folds it to i
        ("Anna Nowak <\x1canna@corp.example>", "<", "Nowak"),
    ],
)
def test_names_are_redacted_whole(classifier: Classifier, matcher: Matcher, text: str, kept: str, gone: str) -> None:
    """A name with capitals inside, in capitals, after an odd salutation or before an odd address is found
    whole: no part of it is left beside its marker."""
    from detection.redact import redact_record

    record = "E-48213: " + text
    redacted = redact_record(record, matcher, classifier.classify(record, matcher).third_parties).value
    assert isinstance(redacted, str)
    assert kept in redacted and gone not in redacted and "[person 1]" in redacted, redacted
    assert classifier.detect_others(text, matcher), text


def test_health_terms_with_a_dotted_capital_i_are_found(classifier: Classifier, matcher: Matcher) -> None:
    assert "health" in classifier.classify("E-48213 D\u0130AGNOS\u0130S confirmed", matcher).categories


# Records of several strings: pieces that recur across records (a long one sharing its first 70 characters with
# another), a name on one string and its address on the next, numbers and addresses at the strings' edges.
_LONG = "x" * 70
_RECORD_PIECES = [
    *_PIECES, "Anna Nowak", "  <anna.nowak@corp.example>", "Dear", "Sean Murphy", f"{_LONG} 020 7946 0958",
    f"{_LONG} 020 7946 0959", f"{_LONG} a@b.example", f"{_LONG}", "+44", "20 7946 0958", "4111 1111", "1111 1111",
]  # fmt: skip
_STRINGS = st.lists(st.sampled_from(_RECORD_PIECES), min_size=1, max_size=4).map("".join)
_RECORDS = st.lists(_STRINGS, min_size=1, max_size=6).map(lambda texts: {f"k{n}": t for n, t in enumerate(texts)})


@pytest.fixture(scope="module")
def remembering() -> Classifier:
    """One classifier across examples: what it remembers of one record's pieces serves the next."""
    return Classifier(default_region="GB")


@pytest.fixture(scope="module")
def whole() -> Classifier:
    """A classifier that analyses each record whole (presidio once on its strings joined)."""
    found = Classifier(default_region="GB")
    found._pieces = None
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_RECORDS, min_size=1, max_size=4))
@example(records=[{"k0": "+44 20 7946 0958", "k1": "ab:cd:ef:01:23:45:020 7946 0958"}])  # the phone gate: record-wide
@example(records=[{"k0": "Anna Nowak", "k1": "  <anna.nowak@corp.example>"}])  # a name before the next string's address
@example(  # numbers not looked for in the first record (the gate stays shut), needed in the second (open across k0/k1)
    records=[
        {"k0": "ab:cd:ef:01:23:45:07700 900123"},
        {"k0": "+44", "k1": "20 7946 0958", "k2": "ab:cd:ef:01:23:45:07700 900123"},
    ]
)
def test_pieces_remembered_across_records_classify_as_the_whole_record(
    remembering: Classifier, whole: Classifier, matcher: Matcher, records: list[dict[str, str]]
) -> None:
    """A record's strings analysed one by one (each distinct string once, remembered across records) give the
    categories and third parties that analysing the whole record gives; the release check's detections in a
    string remembered so are those of analysing it again."""
    assert remembering._pieces is not None
    for record in records:
        assert remembering.classify(record, matcher) == whole.classify(record, matcher), record
    assert remembering._pieces
    for text in (text for record in records for text in record.values()):  # the release check's strings
        assert remembering.detect_others(text, matcher) == whole.detect_others(text, matcher), text


@pytest.fixture(scope="module")
def restarting() -> Classifier:
    """One classifier across examples whose memories are bounded to one entry (set by the test)."""
    return Classifier(default_region="GB")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_RECORDS, min_size=1, max_size=4))
@example(records=[{"k0": "+44 20 7946 0958", "k1": "020 7946 0958 and 020 7946 0959"}])
def test_memories_that_start_again_when_full_classify_the_same(
    restarting: Classifier,
    whole: Classifier,
    matcher: Matcher,
    records: list[dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memories of pieces and of phone candidates are bounded and start again when full: at a bound of one
    they start again on nearly every record and candidate, and the results are those of no memory at all."""
    monkeypatch.setattr(classify, "_PIECES_MAX", 1)
    monkeypatch.setattr(classify, "_PHONE_CACHE_MAX", 1)
    for record in records:
        assert restarting.classify(record, matcher) == whole.classify(record, matcher), record
    for text in (text for record in records for text in record.values()):
        assert restarting.detect_others(text, matcher) == whole.detect_others(text, matcher), text


def test_a_pieces_numbers_are_found_once_a_record_the_phone_gate_opens_on_needs_them(
    whole: Classifier, matcher: Matcher
) -> None:
    """A string's phone numbers are not looked for while every record it is in keeps the phone gate shut (they
    would be dropped); the first record that opens the gate finds them, as analysing it whole does, and they are
    remembered from then on."""
    remembering = Classifier(default_region="GB")
    assert remembering._pieces is not None
    piece = "ring 44 20 7946 0958 today"  # a number phonenumbers finds, without a `+` or a leading 0
    shut, opened = {"k0": piece}, {"k0": piece, "k1": "or +44 20 7946 0959"}
    assert remembering.classify(shut, matcher) == whole.classify(shut, matcher)
    assert remembering._pieces[text_key(piece)][1] is None
    found = remembering.classify(opened, matcher)
    assert found == whole.classify(opened, matcher)
    assert [(f.pointer, f.text) for f in found.third_parties if f.entity == "PHONE_NUMBER"] == [
        ("/k0", "44 20 7946 0958"), ("/k1", "+44 20 7946 0959")
    ]  # fmt: skip
    assert remembering._pieces[text_key(piece)][1]


def test_a_remembered_string_whose_numbers_were_not_needed_is_checked_for_them(
    whole: Classifier, matcher: Matcher
) -> None:
    """A safeguard, checked by putting the state in by hand (classification never leaves it: a string's numbers
    stay unknown only while the gate stays shut on it): the release check's detections in a remembered string
    whose numbers were never looked for, when the phone gate opens on it, are those of analysing it afresh."""
    remembering = Classifier(default_region="GB")
    assert remembering._pieces is not None
    text = "call +44 20 7946 0958"
    remembering._pieces[text_key(text)] = ((), None)
    assert remembering.detect_others(text, matcher) == whole.detect_others(text, matcher) != []
