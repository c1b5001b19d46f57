"""Intake validation (`models.identifiers`): input that means nothing is refused, valid input is accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.errors import ConfigError, InputError
from models.identifiers import (
    MAX_LONG_TEXT,
    MAX_SHORT_TEXT,
    check_received,
    check_text,
    is_email,
    parse_identifier_document,
    validate_all,
    validate_identifier,
)
from models.keys import hmac_key, master_key
from models.types import IdentifierKind

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["A", "a", "Ö", "A B", "J. K.", "x-y", "7", "  ", "", "A\u200c"])
def test_names_without_two_letters_in_a_word_are_refused(name: str) -> None:
    """`--name A` matched 118 records of ordinary words: single letters and initials alone are refused."""
    with pytest.raises(InputError) as info:
        validate_identifier(IdentifierKind.NAME, name)
    assert "--name" in str(info.value)
    assert name.strip() == "" or repr(name) not in str(info.value)


@pytest.mark.parametrize("name", ["Madonna", "Al", "Zoë"])
def test_single_word_names_are_accepted_with_a_warning(name: str) -> None:
    """A single word is accepted (some people have one name) with a warning that does not repeat it."""
    ident = validate_identifier(IdentifierKind.NAME, name)
    assert ident.warning is not None and "single word" in ident.warning and name not in ident.warning


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Ångström",
        "مهسا\u200cسادات امینی",  # ZWNJ inside a Persian given name
        "किरण\u200d कुमार",  # ZWJ in Devanagari
        "J. R. R. Tolkien",
        "李雷 韩梅梅",
        "Jean-Luc Picard",
    ],
)
def test_real_names_are_accepted_without_warning(name: str) -> None:
    """Full names, joiners (U+200C/U+200D) included, are accepted as given."""
    ident = validate_identifier(IdentifierKind.NAME, name)
    assert ident.warning is None
    assert "\u200c" in ident.normalized or "\u200c" not in name


@pytest.mark.parametrize("name", ["Zoë\u202eÅngström", "Zoë\u0000A", "Zoë\u200bA", "Zoë \udcff"])
def test_invisible_and_control_characters_other_than_joiners_are_refused(name: str) -> None:
    """Bidi overrides, NUL, zero-width spaces and non-UTF-8 bytes are not part of a name."""
    with pytest.raises(InputError, match="--name"):
        validate_identifier(IdentifierKind.NAME, name)


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("jürgen@exämple.de", True),
        ("JÜRGEN@EXÄMPLE.DE", True),
        ("用户@例子.广告", True),
        ("zoe.angstrom@example.org", True),
        ("a+tag@sub.example.co.uk", True),
        ("jürgen@xn--exmple-cua.de", True),
        ("no-at-sign", False),
        ("two@@example.org", False),
        ("a@example", False),
        ("a b@example.org", False),
        (".a@example.org", False),
        ("a@-bad.example", False),
        ("a\u202e@example.org", False),
        ("a@exa\udcffmple.org", False),
        ("x" * 65 + "@example.org", False),
    ],
)
def test_internationalised_addresses_are_accepted(email: str, ok: bool) -> None:
    """E-mail addresses with non-ASCII local parts and IDN domains are valid; malformed ones are not."""
    assert is_email(email) is ok
    if ok:
        ident = validate_identifier(IdentifierKind.EMAIL, email)
        assert ident.normalized == ident.normalized.lower()
    else:
        with pytest.raises(InputError, match="--email"):
            validate_identifier(IdentifierKind.EMAIL, email)


def test_ascii_normal_form_is_unchanged() -> None:
    """Keyed hashes of existing requests stay valid: the normal form of an ASCII address is as before."""
    assert validate_identifier(IdentifierKind.EMAIL, " Zoe.Angstrom@Example.invalid ").normalized == (
        "zoe.angstrom@example.invalid"
    )


@pytest.mark.parametrize(
    ("limit", "multiline"),
    [(MAX_SHORT_TEXT, False), (MAX_LONG_TEXT, True)],
)
def test_free_text_limits(limit: int, multiline: bool) -> None:
    """Free text up to the limit is accepted; one character more, empty text or control characters are not."""
    assert check_text("--x", "a" * limit, limit=limit, multiline=multiline) == "a" * limit
    for bad, words in (("a" * (limit + 1), f"longer than {limit}"), ("  ", "must not be empty"),
                       ("a\x1b[2Jb", "control characters"), ("a\udcffb", "not UTF-8")):  # fmt: skip
        with pytest.raises(InputError, match="--x") as info:
            check_text("--x", bad, limit=limit, multiline=multiline)
        assert words in str(info.value)
        assert "aaaa" not in str(info.value)
    assert ("\n" in check_text("--x", "line one\nline two", limit=limit, multiline=True)) is True
    if not multiline:
        with pytest.raises(InputError):
            check_text("--x", "line one\nline two", limit=limit)


def test_receipt_dates() -> None:
    """A receipt in the future or before the GDPR applied is refused; five minutes of clock skew are tolerated."""
    assert check_received(NOW - timedelta(days=3), now=NOW)
    assert check_received(NOW + timedelta(minutes=4), now=NOW)
    for bad, words in (
        (NOW + timedelta(minutes=6), "future"),
        (NOW + timedelta(days=365), "future"),
        (datetime(2018, 5, 24, 23, 0, tzinfo=UTC), "2018-05-25"),
        (datetime(2026, 1, 1, 9, 0), "timezone"),  # noqa: DTZ001 - the naive time under test
    ):
        with pytest.raises(InputError, match="--received") as info:
            check_received(bad, now=NOW)
        assert words in str(info.value)


def test_validate_all_checks_receipt_and_channel() -> None:
    """The one intake validation refuses a future receipt and an oversize channel before anything is written."""
    emails = ["zoe@example.org"]
    assert validate_all(emails=emails, received_at=NOW, channel="email", now=NOW)[0].kind is IdentifierKind.EMAIL
    with pytest.raises(InputError, match="--received"):
        validate_all(emails=emails, received_at=NOW + timedelta(days=1), now=NOW)
    with pytest.raises(InputError, match=f"--channel is longer than {MAX_SHORT_TEXT}"):
        validate_all(emails=emails, channel="x" * 1_000_000)
    with pytest.raises(InputError, match="at least one identifier"):
        validate_all()


@pytest.mark.parametrize(
    "text",
    [
        '{"email": ["zoe@example.org"], "name": "Zoë Ångström", "phone": [], "user_id": ["E-48213"]}',
        'email = ["zoe@example.org"]\nname = "Zoë Ångström"\nuser_id = ["E-48213"]\n',
    ],
    ids=["json", "toml"],
)
def test_identifier_documents(text: str) -> None:
    """JSON and TOML documents of the documented shape; a string stands for a list of one."""
    document = parse_identifier_document(text, "doc")
    assert document == {"email": ["zoe@example.org"], "name": ["Zoë Ångström"], "phone": [], "user_id": ["E-48213"]}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"emails": ["zoe.secret@example.org"]}', "unknown key 'emails'"),
        ('{"email": [7]}', "email must be a string or a list"),
        ('["zoe.secret@example.org"]', "must be one object"),
        ('{"email": "zoe.secret@example.org"', "not valid JSON"),
        ("email = zoe.secret@example.org", "neither JSON nor TOML"),
        ('{"zoe.secret@example.org": 1}', "unknown key '?'"),
    ],
)
def test_bad_identifier_documents_are_named_without_values(text: str, words: str) -> None:
    """A bad document is refused naming the source and key, never a value."""
    with pytest.raises(InputError) as info:
        parse_identifier_document(text, "doc")
    assert words in str(info.value) and "zoe.secret" not in str(info.value)


@pytest.mark.parametrize(
    ("loader", "variable"),
    [(hmac_key, "DSR_HMAC_KEY"), (master_key, "DSR_MASTER_KEY")],
)
@pytest.mark.parametrize("value", ["00", "00" * 31, "00" * 33, "zz" * 32])
def test_keys_must_be_32_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: object, variable: str, value: str
) -> None:
    """`DSR_HMAC_KEY=00` (one byte) was accepted: both keys must be 32 bytes; the variable and length are named."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        loader(tmp_path)  # type: ignore[operator]
    assert variable in str(info.value) and "32 bytes" in str(info.value)
    assert value not in str(info.value)
    monkeypatch.setenv(variable, "ab" * 32)
    assert loader(tmp_path) == bytes.fromhex("ab" * 32)  # type: ignore[operator]


def test_key_file_of_the_wrong_length_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key file holding a short key is refused naming the file, not the key."""
    monkeypatch.delenv("DSR_HMAC_KEY", raising=False)
    path = tmp_path / "hmac.key"
    path.write_text("0011", encoding="ascii")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        hmac_key(tmp_path)
    assert str(path) in str(info.value) and "32 bytes" in str(info.value) and "0011" not in str(info.value)
