"""Synthetic data subjects, third parties and the literal forms the simulator plants for them.

Owns identifier variants as *written into files* (case, diacritics, escapes, phone layouts). It must not be
used to detect anything: detection derives its own variants independently, the simulator only plants them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class Subject:
    """A synthetic data subject whose identifiers the simulator plants and lists in truth.json.

    Attributes:
        key: Short stable key used in truth.json (``s1``).
        name: Full name as written natively (NFC, with diacritics).
        emails: E-mail addresses (the first one is the account address).
        phones: Phone numbers in E.164.
        user_ids: Employee / user ids (for example ``E-48213``).
        account_uuid: The subject's Claude account UUID (also listed among the user ids in truth.json).
    """

    key: str
    name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    user_ids: tuple[str, ...]
    account_uuid: str


@dataclass(frozen=True)
class ThirdParty:
    """A synthetic third party planted beside subjects (never a match for any subject)."""

    name: str
    email: str
    phone: str
    iban: str
    card: str
    ip: str


@dataclass(frozen=True)
class Form:
    """One literal form of one identifier.

    Attributes:
        form: Form code written to truth.json (``email_upper``, ``name_nfd``, ...).
        text: The string to embed in a structured value (a JSON string, a record field).
        literal: The exact text that appears in the raw file (what a plain text search looks for).
        ascii_json: True when the form only exists because the JSON line is written with
            ``ensure_ascii=True`` (``\\uXXXX`` escapes); such a line must carry no other non-ASCII plant.
    """

    form: str
    text: str
    literal: str
    ascii_json: bool = False


@dataclass(frozen=True)
class Trap:
    """A near-miss that must never match its subject."""

    subject: str
    form: str
    literal: str


DEFAULT_SUBJECTS: tuple[Subject, ...] = (
    Subject(
        key="s1",
        name="Zoë Ångström",
        emails=("zoe.angstrom@example.invalid",),
        phones=("+441632960123",),
        user_ids=("E-48213",),
        account_uuid="7c1e2a4b-5d3f-4e8a-9b6c-0d1e2f3a4b5c",
    ),
    Subject(
        key="s2",
        name="Jürgen Groß-Müller",
        emails=("j.gross-mueller@corp.example",),
        phones=("+4930901820",),
        user_ids=("E-51907",),
        account_uuid="2b9d4f61-8a3c-4d2e-b7f0-6e5a4c3b2a19",
    ),
    Subject(
        key="s3",
        name="Bjørn Øvergård",
        emails=("bjorn.overgard@example.invalid",),
        phones=("+4723960123",),
        user_ids=("E-60344",),
        account_uuid="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
    ),
)

THIRD_PARTIES: tuple[ThirdParty, ...] = (
    ThirdParty(
        "Priya Raman",
        "priya.raman@corp.example",
        "+44 20 7946 0011",
        "GB82 WEST 1234 5698 7654 32",
        "4111 1111 1111 1111",
        "192.0.2.41",
    ),
    ThirdParty(
        "Tomás Ortega",
        "t.ortega@supplier.invalid",
        "+44 20 7946 0452",
        "DE89 3704 0044 0532 0130 00",
        "5555 5555 5555 4444",
        "198.51.100.7",
    ),
    ThirdParty(
        "Amara Okafor",
        "amara.okafor@corp.example",
        "+44 161 496 0733",
        "FR14 2004 1010 0505 0001 3M02 606",
        "4000 0566 5566 5556",
        "203.0.113.19",
    ),
    ThirdParty(
        "Hiroshi Tanaka",
        "h.tanaka@partner.invalid",
        "+44 117 496 0288",
        "NL91 ABNA 0417 1643 00",
        "3782 822463 10005",
        "192.0.2.200",
    ),
    ThirdParty(
        "Léa Fontaine",
        "lea.fontaine@client.invalid",
        "+44 131 496 0905",
        "ES91 2100 0418 4502 0005 1332",
        "6011 1111 1111 1117",
        "198.51.100.88",
    ),
    ThirdParty(
        "Sean Murphy",
        "sean.murphy@corp.example",
        "+44 28 9649 6011",
        "IE29 AIBK 9311 5212 3456 78",
        "4242 4242 4242 4242",
        "203.0.113.250",
    ),
)

_TRANSLIT = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "ß": "ss",
    "å": "aa",
    "Å": "Aa",
    "ø": "o",
    "Ø": "O",
    "æ": "ae",
    "Æ": "Ae",
}
_PLAIN = {"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ł": "l", "Ł": "L"}


def strip_diacritics(text: str) -> str:
    """Drop combining marks and map letters that do not decompose (ø, ß, æ) to ASCII look-alikes."""
    mapped = "".join(_PLAIN.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFD", mapped)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def transliterate(text: str) -> str:
    """German/Scandinavian transliteration: ü->ue, ß->ss, å->aa, ø->o, then strip what is left."""
    return strip_diacritics("".join(_TRANSLIT.get(ch, ch) for ch in text))


def _json_escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=True)[1:-1]


def _mixed_case_email(email: str) -> str:
    local, _, domain = email.partition("@")

    def cap(part: str, sep: str) -> str:
        return sep.join(p[:1].upper() + p[1:] for p in part.split(sep))

    return cap(cap(local, "."), "-") + "@" + cap(domain, ".")


def name_forms(name: str) -> list[Form]:
    """Every written form of a personal name the simulator plants."""
    out: list[Form] = [Form("name", name, name)]
    given, _, family = name.partition(" ")
    variants: list[tuple[str, str]] = [
        ("name_no_diacritics", strip_diacritics(name)),
        ("name_transliterated", transliterate(name)),
        ("name_last_first", f"{family}, {given}"),
        ("name_upper", name.upper()),
    ]
    if "-" in name:
        variants.append(("name_space_for_hyphen", name.replace("-", " ")))
        variants.append(("name_transliterated_space_for_hyphen", transliterate(name).replace("-", " ")))
    nfd = unicodedata.normalize("NFD", name)
    if nfd != name:
        variants.append(("name_nfd", nfd))
    seen = {name}
    for code, value in variants:
        if value not in seen:
            seen.add(value)
            out.append(Form(code, value, value))
    if not name.isascii():
        out.append(Form("name_json_escape", name, _json_escaped(name), ascii_json=True))
    return out


def email_forms(email: str) -> list[Form]:
    """Every written form of an e-mail address the simulator plants."""
    local, _, domain = email.partition("@")
    pct = f"{local}%40{domain}"
    return [
        Form("email_lower", email.lower(), email.lower()),
        Form("email_upper", email.upper(), email.upper()),
        Form("email_mixed_case", _mixed_case_email(email), _mixed_case_email(email)),
        Form("email_mailto_percent", f"mailto:{pct}", f"mailto:{pct}"),
    ]


def phone_forms(e164: str) -> list[Form]:
    """Every written form of a phone number the simulator plants (E.164, national, dots, dashes, brackets)."""
    number = phonenumbers.parse(e164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    intl = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    groups = re.findall(r"\d+", national)
    values = [
        ("phone_e164", e164),
        ("phone_international", intl),
        ("phone_national", national),
        ("phone_dots", ".".join(groups)),
        ("phone_dashes", "-".join(groups)),
        ("phone_brackets", f"({groups[0]}) {' '.join(groups[1:])}"),
    ]
    if national.startswith("0"):
        cc = str(number.country_code)
        values.append(("phone_international_trunk", f"+{cc} (0){national[1:]}"))
    out: list[Form] = []
    seen: set[str] = set()
    for code, value in values:
        if value not in seen:
            seen.add(value)
            out.append(Form(code, value, value))
    return out


def subject_forms(subject: Subject) -> dict[str, list[Form]]:
    """Forms grouped by identifier type: ``name``, ``email``, ``phone``, ``user_id``."""
    emails: list[Form] = []
    for email in subject.emails:
        emails.extend(email_forms(email))
    phones: list[Form] = []
    for phone in subject.phones:
        phones.extend(phone_forms(phone))
    ids = [Form("user_id", uid, uid) for uid in subject.user_ids]
    ids.append(Form("account_uuid", subject.account_uuid, subject.account_uuid))
    return {"name": name_forms(subject.name), "email": emails, "phone": phones, "user_id": ids}


def subject_traps(subject: Subject) -> list[Trap]:
    """Near-misses for a subject: digit/letter around the e-mail, changed phone digit, longer id, foreign region."""
    traps: list[Trap] = []
    email = subject.emails[0]
    local, _, domain = email.partition("@")
    traps.append(Trap(subject.key, "email_extra_digit", f"{local}2@{domain}"))
    traps.append(Trap(subject.key, "email_extra_prefix", f"x{local}@{domain}"))
    e164 = subject.phones[0]
    last = str((int(e164[-1]) + 1) % 10)
    traps.append(Trap(subject.key, "phone_last_digit_changed", e164[:-1] + last))
    traps.append(Trap(subject.key, "user_id_extra_digit", subject.user_ids[0] + "0"))
    number = phonenumbers.parse(e164)
    nsn = phonenumbers.national_significant_number(number)
    foreign_cc = 49 if number.country_code != 49 else 33
    traps.append(Trap(subject.key, "phone_foreign_region", f"+{foreign_cc} {nsn[:4]} {nsn[4:]}"))
    return traps
