"""Tests for detection.classify: Art. 15(1)(b) categories and third parties, offline."""

from __future__ import annotations

import pytest

from detection.classify import Classifier, DataCategory, ThirdPartyEntity
from detection.matcher import Matcher


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """An offline classifier with one known third-party name."""
    return Classifier(default_region="GB", third_party_names=("Bruno Keller",))


def _record(text: str) -> dict[str, object]:
    return {"type": "user", "message": {"content": [{"type": "text", "text": text}]}}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("my address is zoe.angstrom@x.invalid", DataCategory.CONTACT_DETAILS),
        ("call me on 07700 900123", DataCategory.CONTACT_DETAILS),
        ("ticket E-48213", DataCategory.IDENTIFIERS),
        ("E-48213 lives at 221 Baker Street", DataCategory.LOCATION),
        ("E-48213 postcode SW1A 1AA", DataCategory.LOCATION),
        ("E-48213 is on sick leave after surgery", DataCategory.HEALTH),
        ("please ask Zoë Ångström to review the plan today", DataCategory.FREE_TEXT_MENTIONS),
        ("E-48213 logged in from 192.168.10.20", DataCategory.IDENTIFIERS),
    ],
    ids=["email", "phone", "user-id", "street", "postcode", "health", "free-text", "ip"],
)
def test_category_is_detected(classifier: Classifier, matcher: Matcher, text: str, category: str) -> None:
    """Each Art. 15(1)(b) category is detected on a confirmed record."""
    assert category in classifier.classify(_record(text), matcher).categories


@pytest.mark.parametrize(
    "text",
    [
        "E-48213 paid with IBAN GB33BUKB20201555555555",
        "staff id: E-48213   payout IBAN (third party): GB82 WEST 1234 5698 7654 32",
        "E-48213 card 4111 1111 1111 1111",
        "zoe.angstrom@x.invalid cc priya.raman@corp.example +44 20 7946 0011",
    ],
    ids=["iban", "third-party-iban", "card", "others-contacts"],
)
def test_others_values_on_the_subjects_line_add_no_category(
    classifier: Classifier, matcher: Matcher, text: str
) -> None:
    """A bank account, card, e-mail or phone that is not one of the subject's identifiers is someone else's data:
    it is a third-party finding (redacted from the copy) and adds no category to the subject's data, even on
    the same line as the subject."""
    result = classifier.classify(_record(text), matcher)
    assert DataCategory.FINANCIAL not in result.categories
    assert result.third_parties
    if "@x.invalid" in text:
        assert result.categories.count(DataCategory.CONTACT_DETAILS) == 1
        assert {f.entity for f in result.third_parties} >= {ThirdPartyEntity.EMAIL.value, ThirdPartyEntity.PHONE.value}


def test_identifier_field_alone_is_not_a_free_text_mention(classifier: Classifier, matcher: Matcher) -> None:
    """A field that only holds the identifier is contact data, not a free-text mention."""
    result = classifier.classify({"emailAddress": "zoe.angstrom@x.invalid"}, matcher)
    assert result.categories == (DataCategory.CONTACT_DETAILS,)


@pytest.mark.parametrize(
    ("text", "entity", "found"),
    [
        ("cc anna.nowak@corp.example please", ThirdPartyEntity.EMAIL, "anna.nowak@corp.example"),
        ("cc bob@build.local please", ThirdPartyEntity.EMAIL, "bob@build.local"),
        ("cc ops@team.internal please", ThirdPartyEntity.EMAIL, "ops@team.internal"),
        ("link ?to=anna.nowak%40corp.example", ThirdPartyEntity.EMAIL, "anna.nowak%40corp.example"),
        ("ring +44 20 7946 0958 later", ThirdPartyEntity.PHONE, "+44 20 7946 0958"),
        ("ring (020) 7946 0958 later", ThirdPartyEntity.PHONE, "(020) 7946 0958"),
        ("pay GB33BUKB20201555555555 now", ThirdPartyEntity.IBAN, "GB33BUKB20201555555555"),
        ("card 4111 1111 1111 1111 ok", ThirdPartyEntity.CARD, "4111 1111 1111 1111"),
        ("host 10.1.2.3 down", ThirdPartyEntity.IP, "10.1.2.3"),
        ("Bruno Keller approved", ThirdPartyEntity.PERSON, "Bruno Keller"),
        ("Dear Anna Nowak, thanks", ThirdPartyEntity.PERSON, "Anna Nowak"),
        ("Anna Nowak <anna@corp.example> wrote", ThirdPartyEntity.PERSON, "Anna Nowak"),
    ],
    ids=["email", "email-local", "email-internal", "email-percent", "phone", "phone-national", "iban", "card", "ip",
         "known-name", "salutation", "display-name"],
)  # fmt: skip
def test_third_party_is_found(classifier: Classifier, matcher: Matcher, text: str, entity: str, found: str) -> None:
    """Third parties' e-mails (also internal domains), phones, IBANs, cards, IPs and names are found."""
    result = classifier.classify(_record(f"Zoë Ångström: {text}"), matcher)
    assert (entity, found) in {(f.entity, f.text) for f in result.third_parties}
    assert all(f.pointer == "/message/content/0/text" for f in result.third_parties)


@pytest.mark.parametrize(
    "text",
    ["python setup.py install", "see README.md and main.py", "Zoë Ångström: run pytest tests/unit -q", "v1.2.3"],
    ids=["setup-py", "file-names", "command", "version"],
)
def test_code_and_file_names_are_not_third_parties(classifier: Classifier, matcher: Matcher, text: str) -> None:
    """Recognizers that misfire on code and file names (URL on setup.py) are not used."""
    assert classifier.classify(_record(text), matcher).third_parties == ()


TASK_ID = "4539578763621486"  # a numeric id that happens to have a card number's prefix and checksum


@pytest.mark.parametrize(
    "text",
    [
        f"/home/u/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/{TASK_ID}/ui_messages.json",
        f"opened {TASK_ID}.json",
        f"task_{TASK_ID} done",
    ],
    ids=["path", "file-name", "identifier"],
)
def test_digit_runs_inside_names_are_not_cards_or_phones(classifier: Classifier, matcher: Matcher, text: str) -> None:
    """A task id glued into a path or a name is neither redacted as a card nor blocks the release check; the
    same digits standing alone in prose still are a card."""
    assert classifier.classify(_record(text), matcher).third_parties == ()
    assert [e for *_, e in classifier.detect_others(text, matcher) if e in ("CREDIT_CARD", "PHONE_NUMBER")] == []
    prose = f"my card is {TASK_ID}."
    assert "CREDIT_CARD" in {f.entity for f in classifier.classify(_record(prose), matcher).third_parties}
    assert "CREDIT_CARD" in {e for *_, e in classifier.detect_others(prose, matcher)}


def test_subject_data_is_not_a_third_party(classifier: Classifier, matcher: Matcher) -> None:
    """The subject's own e-mail and phone are never reported as third-party data."""
    result = classifier.classify(_record("reach zoe.angstrom@x.invalid or +44 7700 900123"), matcher)
    assert result.third_parties == ()


def test_findings_in_keys_and_nested_values_have_pointers(classifier: Classifier, matcher: Matcher) -> None:
    """Findings carry the pointer of their string and whether it is an object key."""
    value = {"Zoë Ångström": {"cc": ["x", "anna.nowak@corp.example"]}, "anna@corp.example": 1}
    result = classifier.classify(value, matcher)
    assert {(f.pointer, f.in_key, f.start, f.end) for f in result.third_parties} == {
        ("/Zo\u00eb \u00c5ngstr\u00f6m/cc/1", False, 0, 23),
        ("/anna@corp.example", True, 0, 17),
    }


def test_finding_text_is_not_in_repr(classifier: Classifier, matcher: Matcher) -> None:
    """A finding's repr does not show the third party's data (safe if it ever reaches a log)."""
    result = classifier.classify(_record("Zoë Ångström cc anna.nowak@corp.example"), matcher)
    assert "anna" not in repr(result)


def test_missing_spacy_model_is_a_config_error() -> None:
    """A configured spaCy model that is not installed is a configuration error, never a download."""
    from models.errors import ConfigError

    with pytest.raises(ConfigError):
        Classifier(spacy_model="xx_not_installed_model")


def test_classifier_is_offline(matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building and running the classifier opens no network connection (no suffix-list or model download)."""
    import socket

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    classifier = Classifier(default_region="GB")
    result = classifier.classify({"t": "Zoë Ångström cc someone@newdomain.example.org"}, matcher)
    assert [f.text for f in result.third_parties] == ["someone@newdomain.example.org"]


def test_classifiers_share_one_suffix_list_and_keep_their_own_suffixes(matcher: Matcher) -> None:
    """A scan builds a classifier per laptop: the public suffix list behind e-mail validation is built once
    per set of internal suffixes and shared, and each classifier still accepts exactly its own suffixes."""
    from detection import classify

    first, second = Classifier(default_region="GB"), Classifier(default_region="GB")
    lab = Classifier(default_region="GB", internal_suffixes=("lab",))

    def extractor(c: Classifier) -> object:
        recognizer = next(r for r in c._analyzer.registry.recognizers if r.name == "_OfflineEmailRecognizer")
        return recognizer._extractor  # type: ignore[attr-defined]

    assert extractor(first) is extractor(second) is classify._EXTRACTORS[classify.INTERNAL_SUFFIXES]
    assert extractor(lab) is not extractor(first)
    for c, inside, outside in ((first, "ops@build.corp", "ops@build.lab"), (lab, "ops@build.lab", "ops@build.corp")):
        found = {f.text for f in c.classify({"t": f"Zoë Ångström cc {inside} {outside}"}, matcher).third_parties}
        assert inside in found and outside not in found


RELEASE_TEXTS = (
    "write to anna.nowak@corp.example today",
    "anna.nowak%40corp.example in a URL",
    "Anna Nowak <anna@corp.example> wrote",
    "call +44 20 7946 0958 or 020 7946 0958 or (020) 7946-0958",
    "mobile 07700 900456, office 0161 496 0000",
    "pay to GB82WEST12345698765432 by Friday",
    "card 4111 1111 1111 1111 and 5500-0000-0000-0004",
    "Dear Anna Nowak, thanks for the notes",
    "dear anna nowak, thanks",
    "Hi Bruno Keller",
    "From: Mark Jones",
    "2026-01-02T03:04:05Z build 1.4.2 took 0.35 s on port 8080",
    "uuid 3f2a9c1e-77b0-4c1d-9e2f-0a1b2c3d4e5f, sha 9f86d081884c7d659a2f",
    "def main(argv: list[str]) -> int: return 0",
    "Meeting notes: the roadmap is agreed. Next review in March.",
    "invoice 1767312000000 total 1200",
)


@pytest.mark.parametrize("region", ["GB", "US"])
def test_release_detections_are_the_same_with_the_gate(matcher: Matcher, region: str) -> None:
    """The release check's gate only skips texts no recognizer could fire on: detections are unchanged, and
    plain text (code, notes, timestamps) never reaches presidio."""
    gated = Classifier(default_region=region)
    ungated = Classifier(default_region=region)
    ungated._release_gated = False
    for text in RELEASE_TEXTS:
        assert gated.detect_others(text, matcher) == ungated.detect_others(text, matcher), text
    assert any(gated.detect_others(text, matcher) for text in RELEASE_TEXTS)
    analysed: list[str] = []
    original = gated._analyzer.analyze

    def spy(text: str, **kwargs: object) -> object:
        analysed.append(text)
        return original(text=text, **kwargs)  # type: ignore[arg-type]

    gated._analyzer.analyze = spy  # type: ignore[method-assign]
    for text in RELEASE_TEXTS[-4:-1]:
        gated.detect_others(text, matcher)
    assert analysed == []
