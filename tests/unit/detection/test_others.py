"""Tests for detection.others: other people's identifiers from every source, never the subject's."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detection import others
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.others import OtherPeople
from detection.redact import PlaceholderBook, redact_record


@pytest.fixture
def subject() -> Matcher:
    ids = SubjectIdentifiers(
        emails=("zoe.angstrom@example.invalid",),
        names=("Zoë Ångström",),
        phones=("+441632960123",),
        user_ids=("E-48213",),
    )
    return Matcher.from_identifiers(ids, default_region="GB")


def people(subject: Matcher) -> OtherPeople:
    return OtherPeople(subject, subject_names=["Zoë Ångström"], allow=["Example Corp Ltd", "privacy@corp.example"])


def spans(found: OtherPeople, text: str) -> list[str]:
    return [text[h.start : h.end] for h in found.find(text)]


def test_the_data_shows_names_next_to_contacts_in_salutations_and_signatures(subject: Matcher) -> None:
    """A name beside another person's e-mail or phone, after a salutation or above a signature is learned, with
    the contact; elsewhere the full name, its parts and an accent-less spelling are then found."""
    found = people(subject)
    found.learn_text("email: zoe.angstrom@example.invalid   cc: Priya Raman <priya.raman@corp.example>")
    found.learn_text("Dear Léa Fontaine,\nthe plan is ready.\n\nBest regards,\nHiroshi Tanaka")
    found.learn_text("Amara Okafor: +44 161 496 0733")
    text = "Priya asked; Lea Fontaine and HIROSHI TANAKA agreed; call 0161 496 0733 or write priya.raman@corp.example"
    expected = ["Priya", "Lea Fontaine", "HIROSHI TANAKA", "0161 496 0733", "priya.raman@corp.example"]
    assert spans(found, text) == expected


def test_first_last_local_part_spells_a_name(subject: Matcher) -> None:
    """`first.last@` gives the full name; `f.last@` the surname, taken with the capitalised word before it."""
    found = people(subject)
    found.add_email("sean.murphy@corp.example", "data")
    found.add_email("t.ortega@supplier.invalid", "data")
    assert spans(found, "Sean Murphy and Tomás Ortega signed") == ["Sean Murphy", "Tomás Ortega"]


def test_the_subject_is_never_another_person(subject: Matcher) -> None:
    """A directory entry that is the subject is skipped whole; the subject's name parts are never taken; text the
    subject's matcher confirms is never a hit."""
    found = people(subject)
    found.add_person("directory", names=["Zoë Ångström"], emails=["zoe.angstrom@example.invalid"], ids=["E-48213"])
    found.add_person("directory", names=["Zoë Smith"], emails=["zoe.smith@corp.example"])
    found.learn_text("cc: Zoë Ångström <zoe.angstrom@example.invalid>")
    text = "Zoë Ångström (E-48213, zoe.angstrom@example.invalid) met Zoë Smith"
    assert spans(found, text) == ["Zoë Smith"]


def test_configured_sources_ids_and_phones_any_spacing(subject: Matcher) -> None:
    """Directory, owners and other requests: staff ids whole-word, phones in any spacing, national or not."""
    found = people(subject)
    found.add_person("directory", names=["Greta Lindqvist"], phones=["+44 20 7946 0999"], ids=["E-77001"])
    found.add_person("owner", emails=["ana.perez@corp.example"])
    found.add_person("other_request", names=["Bruno Keller"], emails=["b.keller@x.invalid"])
    text = "E-77001 / E-770010 / 020-7946-0999 / (020) 7946 0999 / Ana Perez / Keller"
    hits = found.find(text)
    assert [text[h.start : h.end] for h in hits] == [
        "E-77001",
        "020-7946-0999",
        "020) 7946 0999",
        "Ana Perez",
        "Keller",
    ]
    assert {h.source for h in hits} == {"directory", "owner", "other_request"}
    assert found.finder(["owner"]).find(text)[0].source == "owner"


def test_a_view_of_every_known_source_is_the_full_finder(subject: Matcher) -> None:
    """A view of sources that holds every known person (redaction's) is the finder of every source (the release
    check's): one finder, so one memory of the strings it searched. A view that leaves someone out is its own."""
    found = people(subject)
    found.add_person("directory", names=["Greta Lindqvist"])
    found.add_name("Anna Nowak", "data")
    assert found.finder(others.SOURCES) is found.finder()
    assert found.finder(("directory", "data")) is found.finder()
    text = "Greta Lindqvist met Anna Nowak"
    narrow = found.finder(("directory",))
    assert [text[h.start : h.end] for h in narrow.find(text)] == ["Greta Lindqvist"]
    assert spans(found, text) == ["Greta Lindqvist", "Anna Nowak"]
    found.add_name("Bruno Keller", "owner")
    assert found.finder(("directory", "data")) is not found.finder()
    assert spans(found, "Bruno Keller") == ["Bruno Keller"]
    assert found.finder(("directory", "data")).find("Bruno Keller") == []


def test_product_and_controller_words_are_not_names(subject: Matcher) -> None:
    """`Claude Code <noreply@...>` or the controller's own name beside its address are not people."""
    found = people(subject)
    found.learn_text("Co-Authored-By: Claude Code <noreply@anthropic.com>; Example Corp Ltd <privacy@corp.example>")
    assert spans(found, "Claude Code by Example Corp Ltd") == []


def test_redaction_uses_known_others_with_one_marker_per_person(subject: Matcher) -> None:
    """Redaction replaces every known identifier; the full name and a lone first name share a marker; the
    subject's own name stays."""
    found = people(subject)
    found.learn_text("cc: Priya Raman <priya.raman@corp.example>")
    record = {"text": "Zoë Ångström asked Priya Raman; Priya agreed (priya.raman@corp.example)."}
    result = redact_record(record, subject, (), book=PlaceholderBook(), others=found.finder().find)
    assert result.value == {"text": "Zoë Ångström asked [person 1]; [person 1] agreed ([email 1])."}
    assert result.counts == {"art15_4_third_party_person": 2, "art15_4_third_party_email": 1}


_WORDS = [
    "Dear", "Hi", "Hello", "Hey", "cc", "Cc:", "CC", "Bcc:", "From:", "To:", "Attendees:", "Contact:", "Owner:",
    "Reviewer:", "Best regards", "Kind Regards", "Thanks", "Thank you", "Cheers", "Sincerely", "Best", "dear",
    "thanks", "Dearest", "Hiya", "",
]  # fmt: skip
_SEPARATORS = [" ", ",", ", ", "\n", ",\n", "\r\n", "\t", ""]
_NAMES = [
    "Léa Fontaine",
    "Hiroshi Tanaka",
    "Amara Okafor",
    "Élodie Ørsted",
    "ÉLODIE ØRSTED",
    "priya.raman@corp.example",
    "+44 161 496 0733",
    "x",
]
_PHRASES = st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS), st.sampled_from(_NAMES)).map("".join)


@settings(max_examples=300, deadline=None)
@given(phrases=st.lists(_PHRASES, min_size=1, max_size=4), glue=st.sampled_from([" ", "\n", ". "]))
def test_word_gates_learn_what_the_patterns_learn(phrases: list[str], glue: str) -> None:
    """A pattern is skipped on strings without its words, and every pattern on strings without a capital that can
    start a name; what is learned is the same as without the gates."""
    ids = SubjectIdentifiers(emails=("zoe.angstrom@example.invalid",), names=("Zoë Ångström",))
    subject = Matcher.from_identifiers(ids, default_region="GB")
    text = glue.join(phrases)
    gated, ungated = people(subject), people(subject)
    gated.learn_text(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(others, "_SALUTATION_WORDS", ("",))
        patch.setattr(others, "_SIGNATURE_WORDS", ("",))
        patch.setattr(others, "_CAPITAL", re.compile(""))
        ungated.learn_text(text)
    probe = " ".join(_NAMES)
    assert spans(gated, probe) == spans(ungated, probe)


_VALUES = st.sampled_from(
    [
        "Greta Lindqvist", "greta lindqvist", "Lindqvist", "g.lindqvist@corp.example", "greta.lindqvist@corp.example",
        "Greta Lindqvist <g.l@corp.example>", "030 1234567", "+49 30 1234567", "020 7946 0958", "E-1234", "E-48213",
        "Zoë Ångström", "zoe.angstrom@example.invalid", "Anna Nowak", "anna.nowak", "Nowak",
    ]
)  # fmt: skip
_CALLS = st.lists(
    st.tuples(
        st.sampled_from(["name", "email", "phone", "id"]),
        _VALUES,
        st.sampled_from(["directory", "data"]),
        st.sampled_from(["GB", "DE"]),
    ),
    max_size=25,
)


def _apply(found: OtherPeople, calls: list[tuple[str, str, str, str]]) -> list[object]:
    for kind, value, source, region in calls:
        if kind == "phone":
            found.add_phone(value, source, region)
        else:
            getattr(found, f"add_{kind}")(value, source)
    known = (found._names, found._parts, found._emails, found._phones, found._ids)
    return [sorted((k, v.canonical, v.source) for k, v in table.items()) for table in known]


@settings(max_examples=200, deadline=None)
@given(calls=_CALLS)
@example(calls=[("name", "greta lindqvist", "data", "GB"), ("name", "greta lindqvist", "directory", "GB")])
def test_repeated_adds_are_skipped_without_changing_what_is_known(calls: list[tuple[str, str, str, str]]) -> None:
    """Adding what was added before is skipped; every sequence of adds, repeats included, leaves what the same
    adds leave when none is skipped."""
    ids = SubjectIdentifiers(emails=("zoe.angstrom@example.invalid",), names=("Zoë Ångström",), user_ids=("E-48213",))
    subject = Matcher.from_identifiers(ids, default_region="GB")
    remembered = people(subject)
    every = people(subject)
    every._first_time = lambda *call: True  # type: ignore[method-assign]
    assert _apply(remembered, calls) == _apply(every, calls)
    asked: list[str] = []
    remembered._subject = _Asking(subject, asked)  # type: ignore[assignment]
    assert _apply(remembered, calls[::-1]) == _apply(every, calls[::-1])
    assert asked == []  # the repeats did no work


class _Asking:
    """A matcher that notes the texts it is asked about."""

    def __init__(self, matcher: Matcher, asked: list[str]) -> None:
        self._matcher, self._asked = matcher, asked

    def find(self, text: str) -> list[object]:
        self._asked.append(text)
        return list(self._matcher.find(text))


def test_the_finder_remembers_long_strings_by_digest_not_by_their_text(subject: Matcher) -> None:
    """A package's strings are searched once each, but the finder's memory must not become a second copy of the
    package's text: a long string is remembered under its digest, and asked again it gives the same hits."""
    found = people(subject)
    found.add_email("priya.raman@corp.example", "directory")
    finder = found.finder()
    long_text = "Notes from the review. " * 10 + "Write to priya.raman@corp.example about it."
    first = spans(found, long_text)
    assert first == ["priya.raman@corp.example"]
    assert spans(found, long_text) == first
    assert spans(found, "short: priya.raman@corp.example") == ["priya.raman@corp.example"]
    kept = list(finder._cache)
    assert len(kept) == 2
    assert all(isinstance(key, bytes) or len(key) <= 64 for key in kept)
    assert long_text not in kept
    finder.forget()
    assert finder._cache == {}
    assert spans(found, long_text) == first  # searched afresh, the same hits


_LED_VALUES = [
    "E-77001", "e-77001", "ana.perez@corp.example", "ANA.PEREZ%40CORP.EXAMPLE", "b.keller@x.invalid", "Keller",
    "KELLER", "keller", "Lindqvist", "LINDQVIST", "Øvergård", "OVERGARD", "Overgård", "Kåre", "KARE", "ķare",
    "Ǆemal", "x.ǆemal@x.invalid", "K\u212aller", "Greta Lindqvist", "Anna Keller", "Dr Keller", "greta\tlindqvist",
    "Bruno-Keller", "GRETA  LINDQVIST", "Lindqvist Keller", "+44 7700 900123", "07700900123", "07700 900 123",
    "(0)7700-900123", "7700900123", "447700900123", "0207 946 0999", "020-7946-0999", "+4420 7946 0999", "٠٧٧",
    "KARE OVERGARD", "Kare Overgard", "kare-overgard", "DZemal", "dzemal", "07700 9001234", "077009001234",
    "07700900123 4", "07700 955000", "0770095500", "07700-955-000-1", "+0770095",
]  # fmt: skip
_LED_GLUE = ["", " ", "a", "_", ".", "@", "-", "+", "9", "\n", "é", "/", "(", "0", "  ", "\t"]


@settings(max_examples=600, deadline=None)
@given(parts=st.lists(st.tuples(st.sampled_from(_LED_GLUE), st.sampled_from(_LED_VALUES)), min_size=1, max_size=6))
def test_led_patterns_find_what_the_plain_patterns_find(parts: list[tuple[str, str]]) -> None:
    """The finder's patterns led by first characters (parts and phone numbers on every text; e-mail addresses and
    ids on ASCII texts) and the name words an ASCII text must hold before it is searched for names find the
    same hits as the plain look-behind, case-insensitive patterns, next to any character."""
    subject = Matcher.from_identifiers(SubjectIdentifiers(emails=("zoe@example.invalid",)), default_region="GB")
    found = OtherPeople(subject)
    found.add_person("directory", names=["Greta Lindqvist", "Kåre Øvergård"], ids=["E-77001"], phones=["07700 900123"])
    # a number whose digits begin another's, and one that parts from them after six digits
    found.add_person("data", names=["Olsen"], phones=["07700 9001234", "07700 955 000"])
    found.add_person("owner", emails=["ana.perez@corp.example", "x.ǆemal@x.invalid"], phones=["+44 20 7946 0999"])
    found.add_person("other_request", names=["Bruno Keller", "Ǆemal", "Keller"], emails=["b.keller@x.invalid"])
    led = found.finder()
    plain = others._Finder(subject, led._names, led._parts, led._emails, led._phones, led._ids)
    plain._email_led = plain._id_led = plain._phone_led = plain._name_words = None
    plain._part_re = re.compile(
        rf"(?<![\w@.])(?:{others._alternation(re.escape(v) for v in plain._part_key)})(?![\w@])"
    )
    assert None not in (led._email_led, led._id_led, led._part_re, led._phone_led, led._name_words)
    assert led._part_re is not None and led._part_re.pattern != plain._part_re.pattern
    text = "".join(glue + value for glue, value in parts)
    assert led._find(text) == plain._find(text), text


def test_a_name_part_of_combining_marks_only_matches_nothing_empty(subject: Matcher) -> None:
    """A name word made of combining marks only has no ASCII spelling: it must not become an empty alternative
    (which would match between any two characters and put a marker into every string)."""
    found = people(subject)
    found.add_person("directory", names=["Greta \u0301\u0301\u0301"])
    found.add_person("owner", names=["\u0301\u0301\u0301"])  # a whole name of combining marks: no ASCII spelling
    assert spans(found, "hello Greta, see you") == ["Greta"]
    assert all(h.end > h.start for h in found.find("ok, thanks \u0301\u0301\u0301 x"))
    assert found.find(" ") == [] and found.find("ok, thanks") == []
    copy = redact_record({"m": "ok, thanks"}, subject, [], others=found.finder().find)
    assert copy.value == {"m": "ok, thanks"} and not copy.counts
