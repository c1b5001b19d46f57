"""Intake validation: subject identifiers and their normal forms and keyed hashes (HMAC), free text, dates.

Owns what a valid e-mail, phone, name or user id is at intake, how long free text may be, which receipt
dates are possible, and the shape of an identifiers document (`--identifiers-file`, `--identifiers -`).
`validate_all` is the one intake validation used by the CLI, the UI form, the demo and the tests.
Variants for matching live in `detection`. Error messages never repeat the bad value (it may be personal
data); they name the option and the fix.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from models.errors import InputError
from models.types import IdentifierKind

_EMAIL_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
_DOMAIN_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$"
)
_USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}$")
_NAME_PARTS_RE = re.compile(r"[\s\-\u2010\u2011\u2013]+")
#: Zero-width non-joiner and joiner: part of the spelling of names in Persian, Kurdish, Indic scripts.
JOINERS = frozenset("\u200c\u200d")

#: Limits on free text (documented in the README): one-line fields and explanations.
MAX_SHORT_TEXT = 200
MAX_LONG_TEXT = 2000
#: The largest identifiers document read from a file or standard input.
MAX_IDENTIFIERS_DOCUMENT = 1 << 20
#: Keys of an identifiers document, each a string or a list of strings.
DOCUMENT_KEYS = ("email", "name", "phone", "user_id")
#: The GDPR applies from this day: no request can have been received before it.
GDPR_APPLIES_FROM = date(2018, 5, 25)
#: How far a receipt time may lie ahead of this machine's clock (clocks of two machines differ a little).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Identifier:
    """A validated identifier: the value as given and its normal form."""

    kind: IdentifierKind
    value: str
    normalized: str
    warning: str | None = None


def normalize_email(value: str) -> str:
    """Lower-cased, trimmed, NFC address (domain parts are case-insensitive; local parts are in practice)."""
    return unicodedata.normalize("NFC", value.strip()).lower()


def is_email(value: str) -> bool:
    """Whether `value` is an e-mail address, internationalised ones included (RFC 6531: `jürgen@exämple.de`).

    The local part is a dot-atom of ASCII atext and non-ASCII letters, marks and digits (at most 64 bytes);
    the domain is a host name whose IDNA form has letter (or `xn--`) top-level label; at most 254 characters.
    """
    value = unicodedata.normalize("NFC", value)
    if len(value) > 254 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not local or len(local.encode("utf-8")) > 64 or any(not atom for atom in local.split(".")):
        return False
    for char in local.replace(".", ""):
        if char.isascii():
            if char not in _EMAIL_ATEXT:
                return False
        elif unicodedata.category(char)[0] not in "LMN":
            return False
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(ascii_domain) <= 253 and _DOMAIN_RE.match(ascii_domain) is not None


def _name_problem(raw: str) -> str | None:
    """Why `raw` cannot be a name, or None."""
    if not raw or len(raw) > MAX_SHORT_TEXT:
        return f"give the person's name, 2 to {MAX_SHORT_TEXT} characters"
    if any(unicodedata.category(c).startswith("C") and c not in JOINERS for c in raw):
        return "contains control or invisible characters (only the joiners U+200C and U+200D are allowed)"
    letters = sum(1 for c in raw if c.isalpha())
    parts = [p for p in _NAME_PARTS_RE.split(raw) if p]
    if letters < 2 or not any(sum(1 for c in p if c.isalpha()) >= 2 for p in parts):
        return "needs at least two letters in one word (initials alone would match ordinary text)"
    return None


def normalize_name(value: str) -> str:
    """NFC, case-folded, single-spaced."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def validate_identifier(kind: IdentifierKind, value: str, *, region: str = "GB") -> Identifier:
    """Validate one identifier given at intake.

    Raises:
        InputError: the value is not a valid identifier of that kind (message names the option, not the value).
    """
    raw = unicodedata.normalize("NFC", value.strip())
    if kind is IdentifierKind.EMAIL:
        if not is_email(raw):
            raise InputError(
                "--email: not a valid e-mail address (expected local-part@domain.tld, e.g. name@example.org; "
                "internationalised addresses are accepted); nothing was recorded",
                option="--email",
            )
        return Identifier(kind, raw, normalize_email(raw))
    if kind is IdentifierKind.PHONE:
        import phonenumbers  # noqa: PLC0415 - its metadata loads only when a phone number is checked

        try:
            number = phonenumbers.parse(raw, region.upper())
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            raise InputError(
                "--phone: not a possible phone number (give it in international form such as +44 20 7946 0958, "
                f"or national form for region {region.upper()}); nothing was recorded",
                option="--phone",
            )
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        warning = None
        if not phonenumbers.is_valid_number(number):
            warning = "--phone: the number has a possible length but is not in an allocated range; accepted"
        return Identifier(kind, raw, e164, warning)
    if kind is IdentifierKind.NAME:
        problem = _name_problem(raw)
        if problem is not None:
            raise InputError(f"--name: {problem}; nothing was recorded", option="--name")
        warning = None
        if len([p for p in _NAME_PARTS_RE.split(raw) if p]) == 1:
            warning = (
                "--name: a single word also matches ordinary words and other people; give first and last name "
                "unless the person is known by one name; accepted"
            )
        return Identifier(kind, raw, normalize_name(raw), warning)
    if not _USER_ID_RE.match(raw):
        raise InputError(
            "--user-id: 1 to 200 characters of letters, digits and . _ : @ / + -; nothing was recorded",
            option="--user-id",
        )
    return Identifier(kind, raw, raw)


def keyed_hash(key: bytes, kind: IdentifierKind | str, normalized: str) -> str:
    """HMAC-SHA256 of an identifier's normal form, domain-separated by kind (pseudonymous link value)."""
    return hmac.new(key, f"{kind}\x00{normalized}".encode(), hashlib.sha256).hexdigest()


def check_text(option: str, value: str, *, limit: int = MAX_SHORT_TEXT, multiline: bool = False) -> str:
    """Free text given at intake (channel, reason, note, names of people acting), trimmed.

    Raises:
        InputError: empty, longer than `limit` characters, or holding control characters (newlines and tabs
            only where `multiline`) or bytes that are not UTF-8; the message gives the limit, not the value.
    """
    text = value.strip()
    if not text:
        raise InputError(f"{option} must not be empty", option=option)
    if len(text) > limit:
        raise InputError(f"{option} is longer than {limit} characters; shorten it", option=option)
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in text):
        raise InputError(
            f"{option} contains control characters or bytes that are not UTF-8; give plain text", option=option
        )
    return text


def check_received(at: datetime, *, now: datetime | None = None, option: str = "--received") -> datetime:
    """A receipt time: with a timezone, not before the GDPR applied, not in the future (beyond clock skew).

    Raises:
        InputError: naive, before 25 May 2018, or later than now (+5 minutes); names the option and the fix.
    """
    if at.tzinfo is None:
        raise InputError(f"{option} needs a timezone offset, for example 2026-03-01T09:30:00+00:00", option=option)
    now = now or datetime.now(UTC)
    if at > now + CLOCK_SKEW:
        raise InputError(f"{option} is in the future; give the time the request actually arrived", option=option)
    if at.astimezone(UTC).date() < GDPR_APPLIES_FROM:
        raise InputError(
            f"{option} is before {GDPR_APPLIES_FROM.isoformat()}, when the GDPR began to apply; check the date",
            option=option,
        )
    return at


def parse_instant(option: str, value: str) -> datetime:
    """An ISO date-time with offset given on the command line (years 1970 to 2999).

    Raises:
        InputError: not an ISO date-time, no offset, or outside the supported years.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"{option} is not an ISO date-time; use e.g. 2026-03-01T09:30:00+00:00", option=option
        ) from None
    if parsed.tzinfo is None:
        raise InputError(f"{option} has no timezone offset; add one, e.g. +00:00 or Z", option=option)
    _check_year(option, parsed.year)
    return parsed


def parse_day(option: str, value: str) -> date:
    """An ISO calendar date given on the command line (years 1970 to 2999).

    Raises:
        InputError: not YYYY-MM-DD, or outside the supported years.
    """
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option} is not an ISO date; use YYYY-MM-DD, e.g. 2026-03-31", option=option) from None
    _check_year(option, parsed.year)
    return parsed


#: Dates outside these years are typing mistakes (and overflow the calendar arithmetic at the top end).
MIN_YEAR, MAX_YEAR = 1970, 2999


def _check_year(option: str, year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InputError(f"{option} must be a date between {MIN_YEAR} and {MAX_YEAR}", option=option)


def parse_identifier_document(text: str, source: str) -> dict[str, list[str]]:
    """Identifiers from a JSON or TOML document: `{"email": [...], "name": [...], "phone": [...], "user_id": [...]}`.

    Each key is optional and holds a string or a list of strings; a document starting with `{` or `[` is JSON,
    anything else TOML (`email = ["..."]`). Messages name `source` and the key, never a value.

    Raises:
        InputError: too large, not JSON or TOML, not a table, an unknown key, or a value of the wrong type.
    """
    if len(text) > MAX_IDENTIFIERS_DOCUMENT:
        raise InputError(f"{source} is larger than {MAX_IDENTIFIERS_DOCUMENT} bytes")
    data: Any
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise InputError(f"{source} is not valid JSON; expected {_DOCUMENT_SHAPE}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            raise InputError(f"{source} is neither JSON nor TOML; expected {_DOCUMENT_SHAPE}") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{source} must be one object; expected {_DOCUMENT_SHAPE}")
    out: dict[str, list[str]] = {key: [] for key in DOCUMENT_KEYS}
    for key, value in data.items():
        if key not in DOCUMENT_KEYS:
            shown = key if isinstance(key, str) and re.fullmatch(r"[a-z_]{1,20}", key) else "?"
            raise InputError(f"{source}: unknown key {shown!r}; use {', '.join(DOCUMENT_KEYS)}")
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InputError(f"{source}: {key} must be a string or a list of strings")
        out[key] = list(values)
    return out


_DOCUMENT_SHAPE = '{"email": [...], "name": [...], "phone": [...], "user_id": [...]}'


def validate_all(
    *,
    emails: Iterable[str] = (),
    names: Iterable[str] = (),
    phones: Iterable[str] = (),
    user_ids: Iterable[str] = (),
    region: str = "GB",
    received_at: datetime | None = None,
    channel: str | None = None,
    now: datetime | None = None,
) -> list[Identifier]:
    """Validate everything given at intake (CLI, UI form, demo), identifiers in a stable kind order.

    `received_at` and `channel`, when given, are checked too (`check_received`, `check_text`), so one call
    refuses a bad request before anything is written.

    Raises:
        InputError: the first invalid value (its option is named, the value is not repeated).
    """
    groups = (
        (IdentifierKind.EMAIL, emails),
        (IdentifierKind.NAME, names),
        (IdentifierKind.PHONE, phones),
        (IdentifierKind.USER_ID, user_ids),
    )
    identifiers = [validate_identifier(kind, value, region=region) for kind, values in groups for value in values]
    if not identifiers:
        raise InputError(
            "give at least one identifier: --email, --name, --phone or --user-id, or a document with "
            "--identifiers-file FILE or --identifiers -"
        )
    if received_at is not None:
        check_received(received_at, now=now)
    if channel is not None:
        check_text("--channel", channel)
    return identifiers
