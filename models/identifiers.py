"""Intake validation and normal forms of subject identifiers, and their keyed hashes (HMAC).

Owns what a valid e-mail, phone, name or user id is at intake. Variants for matching live in `detection`.
Error messages never repeat the bad value (it may be personal data); they name the option and the fix.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from models.errors import InputError
from models.types import IdentifierKind

_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}$")


@dataclass(frozen=True, slots=True)
class Identifier:
    """A validated identifier: the value as given and its normal form."""

    kind: IdentifierKind
    value: str
    normalized: str
    warning: str | None = None


def normalize_email(value: str) -> str:
    """Lower-cased, trimmed address (domain parts are case-insensitive; local parts are in practice)."""
    return value.strip().lower()


def normalize_name(value: str) -> str:
    """NFC, case-folded, single-spaced."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def validate_identifier(kind: IdentifierKind, value: str, *, region: str = "GB") -> Identifier:
    """Validate one identifier given at intake.

    Raises:
        InputError: the value is not a valid identifier of that kind (message names the option, not the value).
    """
    raw = value.strip()
    if kind is IdentifierKind.EMAIL:
        if not _EMAIL_RE.match(raw) or len(raw) > 254:
            raise InputError(
                "--email: not a valid e-mail address (expected local-part@domain.tld, e.g. name@example.org); "
                "nothing was recorded",
                option="--email",
            )
        return Identifier(kind, raw, normalize_email(raw))
    if kind is IdentifierKind.PHONE:
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
        if not raw or len(raw) > 200 or any(unicodedata.category(c).startswith("C") for c in raw):
            raise InputError("--name: empty, too long or containing control characters; nothing was recorded")
        return Identifier(kind, raw, normalize_name(raw))
    if not _USER_ID_RE.match(raw):
        raise InputError(
            "--user-id: 1 to 200 characters of letters, digits and . _ : @ / + -; nothing was recorded",
            option="--user-id",
        )
    return Identifier(kind, raw, raw)


def keyed_hash(key: bytes, kind: IdentifierKind | str, normalized: str) -> str:
    """HMAC-SHA256 of an identifier's normal form, domain-separated by kind (pseudonymous link value)."""
    return hmac.new(key, f"{kind}\x00{normalized}".encode(), hashlib.sha256).hexdigest()


def validate_all(
    *,
    emails: Iterable[str] = (),
    names: Iterable[str] = (),
    phones: Iterable[str] = (),
    user_ids: Iterable[str] = (),
    region: str = "GB",
) -> list[Identifier]:
    """Validate every identifier given at intake (CLI, UI form, demo), in a stable kind order.

    Raises:
        InputError: the first invalid value (its option is named, the value is not repeated).
    """
    groups = (
        (IdentifierKind.EMAIL, emails),
        (IdentifierKind.NAME, names),
        (IdentifierKind.PHONE, phones),
        (IdentifierKind.USER_ID, user_ids),
    )
    return [validate_identifier(kind, value, region=region) for kind, values in groups for value in values]
