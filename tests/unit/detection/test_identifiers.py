"""Tests for detection.identifiers: variant generation and its consistency with the prefilter."""

from __future__ import annotations

import io
import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.records import RecordFormat
from detection.identifiers import (
    SubjectIdentifiers,
    email_forms,
    json_escape,
    name_variants,
    phone_forms,
    raw_literals,
    split_name,
    token_spellings,
    user_id_forms,
)
from detection.matcher import Matcher
from models.errors import InputError


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("Müller", {"müller", "mueller", "muller", "mu\u0308ller", "m\\u00fcller", "M\\u00dcller"}),
        ("Søren", {"soren", "soeren", "s\\u00f8ren"}),
        ("Strauß", {"strauss"}),
        ("Åsa", {"aasa", "asa", "Åsa", "ÅSa".replace("S", "s"), "\\u00c5sa", "\\u00e5sa"}),
    ],
    ids=["umlaut", "o-slash", "sharp-s", "ring"],
)
def test_token_spellings_include_transliterations(token: str, expected: set[str]) -> None:
    """Transliterations, NFD and JSON escapes (lowercase hex) are among the spellings."""
    spellings = {s.lower() if s.isascii() and "\\" not in s else s for _, s in token_spellings(token)}
    lowered = {s.lower() for s in spellings}
    for item in expected:
        assert item.lower() in lowered or unicodedata.normalize("NFD", item) in spellings


def test_json_escape_matches_json_dumps_including_surrogate_pairs() -> None:
    """Escapes are exactly what json.dumps(ensure_ascii=True) writes: lowercase hex, surrogate pairs."""
    assert json_escape("Zoë 𝒵") == json.dumps("Zoë 𝒵")[1:-1]
    assert json_escape("Zoë 𝒵") == "Zo\\u00eb \\ud835\\udcb5"


def test_last_first_input_is_turned_around() -> None:
    """A name given as `Last, First` is split into parts in first-last order."""
    assert split_name("Ångström, Zoë") == (("Zoë", "Ångström"), (False,))
    assert split_name("Jean-Luc  Picard") == (("Jean", "Luc", "Picard"), (True, False))


def test_hyphenated_name_may_be_written_together() -> None:
    """Originally hyphenated parts may also be written without a separator."""
    matcher = Matcher.from_identifiers(SubjectIdentifiers(names=("Anne-Marie Quennell",)))
    for text in ("Anne-Marie Quennell", "Anne Marie Quennell", "Annemarie Quennell", "Quennell, Anne-Marie"):
        assert matcher.find(text), text


def test_email_forms_include_percent_encoding() -> None:
    """E-mail forms include `%40` for the `@`."""
    texts = {f.text for f in email_forms("a.b+c@x.invalid")}
    assert {"a.b+c@x.invalid", "a.b+c%40x.invalid", "a.b%2Bc%40x.invalid"} <= texts


@pytest.mark.parametrize("bad", ["not-an-email", "a@b", "a b@x.invalid"], ids=["no-at", "no-dot", "space"])
def test_bad_email_is_an_input_error_without_the_value(bad: str) -> None:
    """A malformed e-mail raises InputError whose message does not echo the value."""
    with pytest.raises(InputError) as info:
        email_forms(bad)
    assert bad not in str(info.value)


def test_phone_forms_use_the_numbers_own_country() -> None:
    """National forms come from the number's country, not from the default region."""
    texts = {f.text for f in phone_forms("+1 202 555 0100", "GB")}
    assert "(202) 555-0100" in texts
    assert "+1 202-555-0100" in texts
    assert not any(t.startswith("0202") for t in texts)


def test_national_phone_uses_default_region() -> None:
    """A number written without `+` is read in the controller's region."""
    assert "+447700900123" in {f.text for f in phone_forms("07700 900123", "GB")}
    assert "+4930901820" in {f.text for f in phone_forms("030 901820", "DE")}


def test_wrong_default_region_does_not_match_a_foreign_number() -> None:
    """With default region GB, a German subject number does not match a UK number with the same digits."""
    matcher = Matcher.from_identifiers(SubjectIdentifiers(phones=("+49 30 901820",)), default_region="GB")
    assert matcher.find("030 901820")  # the German national form is the subject's
    assert not matcher.find("+44 30 901820")
    assert not matcher.find("+4430901820")


def test_bad_phone_is_an_input_error() -> None:
    """An impossible phone number raises InputError."""
    with pytest.raises(InputError):
        phone_forms("12", "GB")


def test_uuid_forms_are_case_insensitive_and_ids_exact() -> None:
    """UUIDs are matched in either case; other user ids exactly."""
    assert user_id_forms("3F2B8C1E-1111-4222-8333-444455556666")[0].text == "3f2b8c1e-1111-4222-8333-444455556666"
    assert user_id_forms("E-48213")[0].case_sensitive


_LETTERS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzäöüßøåéèçñłæœ"))
_TOKEN = st.lists(_LETTERS, min_size=4, max_size=9).map(lambda cs: "".join(cs).capitalize())


@settings(max_examples=60, deadline=None)
@given(first=_TOKEN, last=_TOKEN, ascii_only=st.booleans(), reverse=st.booleans())
def test_any_generated_name_is_found_in_jsonl(first: str, last: str, ascii_only: bool, reverse: bool) -> None:
    """For generated names, the name written in a JSONL line (escaped or not, any order) is found."""
    matcher = Matcher.from_identifiers(SubjectIdentifiers(names=(f"{first} {last}",)))
    text = f"{last}, {first}" if reverse else f"{first} {last}"
    line = json.dumps({"t": f"hello {text}!"}, ensure_ascii=ascii_only).encode()
    assert [c.pointers for c in matcher.scan(io.BytesIO(line), RecordFormat.JSONL)] == [("/t",)]


@settings(max_examples=60, deadline=None)
@given(token=_TOKEN)
def test_every_spelling_contains_a_prefilter_literal(token: str) -> None:
    """Each accepted spelling (and its escaped form) contains one of the prefilter literals."""
    variants = name_variants(token)
    literals = set()
    for spelling in variants.literals:
        literals |= raw_literals(spelling)
    for _, spelling in token_spellings(token):
        for raw in (spelling.encode(), json_escape(spelling).encode()):
            assert any(lit in raw.lower() for lit in literals)


_NUMBERS = st.sampled_from(["+441632960123", "+442079460958", "+4930901820", "+12025550100", "+33612345678"])


@settings(max_examples=25, deadline=None)
@given(number=_NUMBERS, ascii_only=st.booleans())
def test_every_phone_form_is_found_and_a_changed_digit_is_not(number: str, ascii_only: bool) -> None:
    """Each generated phone form is confirmed in a JSONL line; the same form with the last digit changed is not."""
    matcher = Matcher.from_identifiers(SubjectIdentifiers(phones=(number,)), default_region="GB")
    for form in phone_forms(number, "GB"):
        line = json.dumps({"t": f"call {form} today"}, ensure_ascii=ascii_only).encode()
        assert [c.pointers for c in matcher.scan(io.BytesIO(line), RecordFormat.JSONL)] == [("/t",)], form.label
        changed = form.text[:-1] + str((int(form.text[-1]) + 1) % 10)
        line = json.dumps({"t": f"call {changed} today"}, ensure_ascii=ascii_only).encode()
        assert list(matcher.scan(io.BytesIO(line), RecordFormat.JSONL)) == [], form.label
