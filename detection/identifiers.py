"""Subject identifiers and every spelling in which they appear in raw agent-history files.

Owns variant generation for e-mails, names, phones and user ids (pure functions, no I/O). Must not log,
print or put identifier values into exception messages.

Spelling model. Every accepted spelling is an explicit string from a finite list, so the prefilter literals
(`ascii_lower` of each spelling and of its JSON-escaped form) cover exactly what confirmation accepts:

- e-mails: as given, `%40` for `@` (and fully percent-encoded), case-insensitively (ASCII); internationalised
  ones also in lower and upper case and with the domain in IDNA form (`xn--`);
- names: per token the given spelling with every upper/lower combination of its non-ASCII letters
  (at most 2**4 combinations, beyond that lower, upper and title case only), NFD, diacritics stripped and the
  common transliterations (ü->ue, ö->oe, ø->o/oe, å->aa/a, ß->ss, æ->ae ...), a part with a zero-width
  (non-)joiner also without it or with a space for it, and each non-ASCII spelling
  JSON-escaped as `json.dumps(ensure_ascii=True)` writes it (lowercase hex, surrogate pairs). Tokens are
  joined by whitespace, NBSP, hyphens or underscores (nothing for originally hyphenated parts), in given
  order, last-first (`Ångström, Zoë`) and, for three or more parts, first and last only;
- phones: parsed with `phonenumbers` (the controller's region only for numbers written without `+`), then
  E.164, international and national groupings with spaces, dots, dashes, none, brackets, `00` and
  `+CC (0)` prefixes; national forms are those of the number's own country, never of the default region;
- user ids and UUIDs: exactly (UUIDs case-insensitively).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import product
from urllib.parse import quote

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from models.errors import InputError
from models.types import IdentifierKind

# Per-character ASCII renderings besides "strip the diacritics" (lower case keys; upper case is folded first).
TRANSLITERATIONS: dict[str, tuple[str, ...]] = {
    "ä": ("ae", "a"),
    "ö": ("oe", "o"),
    "ü": ("ue", "u"),
    "ß": ("ss",),
    "ẞ": ("ss",),
    "ø": ("o", "oe"),
    "å": ("aa", "a"),
    "æ": ("ae",),
    "œ": ("oe",),
    "ð": ("d", "dh"),
    "þ": ("th",),
    "ł": ("l",),
    "đ": ("d",),
    "ı": ("i",),
}

ZWNJ, ZWJ = "\u200c", "\u200d"
JOINERS = frozenset((ZWNJ, ZWJ))

MAX_CASE_COMBINATIONS_LETTERS = 4
MAX_ASCII_COMBINATIONS = 16
# An anchor token shorter than this would flood the prefilter: use full-name literals instead.
MIN_ANCHOR_LENGTH = 4

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAME_SPLIT_RE = re.compile(r"(\s+|[-\u2010\u2011\u2013])")
_ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})


@dataclass(frozen=True)
class SubjectIdentifiers:
    """The identifiers a request names; each tuple may be empty.

    Attributes:
        emails: e-mail addresses.
        names: full names as the person writes them (`Zoë Ångström`, or `Ångström, Zoë`).
        phones: phone numbers (with `+` and country code, or national in the controller's region).
        user_ids: account ids, UUIDs and other exact identifiers.
    """

    emails: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """Whether no identifier is given at all."""
        return not (self.emails or self.names or self.phones or self.user_ids)


@dataclass(frozen=True)
class Form:
    """One accepted spelling of an identifier as it appears in decoded text.

    Attributes:
        kind: which kind of identifier it spells.
        text: the spelling.
        label: the variant, e.g. `email`, `email/percent`, `phone/national`, `user_id`.
        case_sensitive: whether confirmation compares it exactly (user ids) or ASCII-case-insensitively.
    """

    kind: IdentifierKind
    text: str
    label: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class NameVariants:
    """The accepted spellings of one full name, token by token.

    Attributes:
        tokens: per name part, its accepted spellings (label, spelling), longest first.
        hyphenated: per gap between consecutive parts, whether the given name joined them with a hyphen
            (then the parts may also be written together).
        orders: the part orders accepted, each with its label and whether a comma may follow the first part.
        literals: the prefilter spellings (decoded text; callers derive the raw byte literals).
    """

    tokens: tuple[tuple[tuple[str, str], ...], ...]
    hyphenated: tuple[bool, ...]
    orders: tuple[tuple[str, tuple[int, ...], bool], ...]
    literals: tuple[str, ...] = field(default_factory=tuple)


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, like `bytes.lower()` does on the UTF-8 encoding."""
    return text.translate(_ASCII_LOWER)


def json_escape(text: str) -> str:
    """The body of `json.dumps(text, ensure_ascii=True)` without the quotes (lowercase hex, surrogate pairs)."""
    return json.dumps(text, ensure_ascii=True)[1:-1]


def raw_literals(spelling: str) -> set[bytes]:
    """Prefilter literals of one decoded spelling: its UTF-8 bytes and its JSON-escaped bytes, ASCII-lowered.

    The escaped form of an already escaped spelling is the doubly escaped one (JSON inside a JSON string,
    as when an agent prints a JSONL file): covered by the same rule.
    """
    out = {ascii_lower(spelling).encode("utf-8", "surrogatepass")}
    escaped = json_escape(spelling)
    out.add(ascii_lower(escaped).encode("ascii"))
    return {lit for lit in out if lit}


def is_uuid(value: str) -> bool:
    """Whether the value is a canonical textual UUID."""
    return _UUID_RE.fullmatch(value) is not None


def _dedupe(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Drop spellings equal under ASCII lowering (keep the first label), longest first."""
    seen: dict[str, tuple[str, str]] = {}
    for label, spelling in pairs:
        key = ascii_lower(spelling)
        if spelling and key not in seen:
            seen[key] = (label, spelling)
    return tuple(sorted(seen.values(), key=lambda pair: -len(pair[1])))


# -- e-mails and user ids ---------------------------------------------------------------------------------


def email_forms(email: str) -> tuple[Form, ...]:
    """Accepted spellings of one e-mail address.

    Raises:
        InputError: the value is not an e-mail address.
    """
    email = unicodedata.normalize("NFC", email.strip())
    if email.startswith("mailto:"):
        email = email[len("mailto:") :]
    local, sep, domain = email.rpartition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in email):
        raise InputError("e-mail identifier is not an address", field="email")
    spellings = [email]
    if not email.isascii():
        # Internationalised address: its case variants (ASCII-insensitive matching does not fold `Ü`) and
        # the domain in its IDNA form (`jürgen@xn--exmple-cua.de`), as mail headers and logs often write it.
        spellings += [email.lower(), email.upper()]
        try:
            spellings.append(f"{local}@{domain.encode('idna').decode('ascii')}")
            spellings.append(f"{local.lower()}@{domain.encode('idna').decode('ascii')}")
        except UnicodeError:
            pass
    pairs: list[tuple[str, str]] = []
    for spelled in dict.fromkeys(spellings):
        pairs += [("email", spelled), ("email/percent", spelled.replace("@", "%40")),
                  ("email/percent", quote(spelled, safe=""))]  # fmt: skip
        if not spelled.isascii():
            pairs += [("email/escaped", json_escape(spelled)),
                      ("email/escaped", json_escape(spelled).replace("@", "%40"))]  # fmt: skip
    return tuple(Form(IdentifierKind.EMAIL, text, label) for label, text in _dedupe(pairs))


def user_id_forms(user_id: str) -> tuple[Form, ...]:
    """Accepted spellings of one user id or UUID: exactly (UUIDs in either case).

    Raises:
        InputError: the value is empty or contains whitespace.
    """
    user_id = user_id.strip()
    if not user_id or any(c.isspace() for c in user_id):
        raise InputError("user id identifier is empty or contains whitespace", field="user_id")
    if is_uuid(user_id):
        return (Form(IdentifierKind.USER_ID, user_id.lower(), "user_id/uuid"),)
    forms = [Form(IdentifierKind.USER_ID, user_id, "user_id", case_sensitive=True)]
    if not user_id.isascii():
        forms.append(Form(IdentifierKind.USER_ID, json_escape(user_id), "user_id/escaped", case_sensitive=True))
    return tuple(forms)


# -- phones -----------------------------------------------------------------------------------------------


def parse_phone(phone: str, default_region: str) -> phonenumbers.PhoneNumber:
    """Parse a phone identifier; `default_region` applies only to numbers written without `+`/`00`.

    Raises:
        InputError: the value is not a possible phone number.
    """
    try:
        number = phonenumbers.parse(phone, default_region.upper())
    except NumberParseException as exc:
        raise InputError("phone identifier does not parse", field="phone") from exc
    if not phonenumbers.is_possible_number(number):
        raise InputError("phone identifier is not a possible number", field="phone")
    return number


def _groups(formatted: str) -> list[str]:
    return [g for g in re.split(r"[^0-9]+", formatted) if g]


def _split_last(groups: list[str]) -> list[list[str]]:
    """The grouping as formatted, plus the last group split in two (`900123` -> `900 123`)."""
    out = [groups]
    last = groups[-1]
    if len(last) >= 6:
        half = len(last) // 2
        out.append([*groups[:-1], last[:half], last[half:]])
    return out


def phone_forms(phone: str, default_region: str = "GB") -> tuple[Form, ...]:
    """Accepted spellings of one phone number (see the module docstring).

    Raises:
        InputError: the value is not a possible phone number.
    """
    number = parse_phone(phone, default_region)
    cc = str(number.country_code)
    nsn = phonenumbers.national_significant_number(number)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    intl_groups = _groups(international)[1:] or [nsn]
    nat_groups = _groups(national) or [nsn]
    pairs: list[tuple[str, str]] = [
        ("phone/international", "+" + cc + nsn),
        ("phone/international", "00" + cc + nsn),
        ("phone/international", international),
        ("phone/national", national),
    ]
    for groups in _split_last(intl_groups):
        for sep in (" ", "-", ".", ""):
            body = sep.join(groups)
            pairs += [
                ("phone/international", f"+{cc}{sep}{body}"),
                ("phone/international", f"+{cc} {body}"),
                ("phone/international", f"00{cc}{sep}{body}"),
                ("phone/international", f"00{cc} {body}"),
            ]
            if nat_groups[0].startswith("0"):
                pairs += [("phone/international", f"+{cc} (0){body}"), ("phone/international", f"+{cc} (0) {body}")]
    for groups in _split_last(nat_groups):
        for sep in (" ", "-", ".", ""):
            pairs.append(("phone/national", sep.join(groups)))
            if len(groups) > 1:
                pairs.append(("phone/national", f"({groups[0]}) {sep.join(groups[1:])}"))
                pairs.append(("phone/national", f"({groups[0]}){sep.join(groups[1:])}"))
    return tuple(Form(IdentifierKind.PHONE, text, label) for label, text in _dedupe(pairs))


# -- names ------------------------------------------------------------------------------------------------


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _ascii_options(char: str) -> tuple[str, ...]:
    low = char.lower()
    options = list(TRANSLITERATIONS.get(low, ()))
    stripped = _strip_marks(low)
    if stripped.isascii() and stripped:
        options.append(stripped)
    return tuple(dict.fromkeys(options))


def _case_spellings(token: str) -> list[str]:
    """The token with every upper/lower combination of its non-ASCII letters (capped, see module doc)."""
    chars = list(token)
    cased = [i for i, c in enumerate(chars) if not c.isascii() and len(c.upper()) == 1 and c.upper() != c.lower()]
    if len(cased) > MAX_CASE_COMBINATIONS_LETTERS:
        return list(dict.fromkeys([token, token.lower(), token.upper(), token.title()]))
    out = []
    for combo in product((False, True), repeat=len(cased)):
        spelled = chars[:]
        for index, upper in zip(cased, combo, strict=True):
            spelled[index] = chars[index].upper() if upper else chars[index].lower()
        out.append("".join(spelled))
    return out


def token_spellings(token: str) -> tuple[tuple[str, str], ...]:
    """Accepted spellings (label, spelling) of one name part; labels `exact`, `nfd`, `escaped`, `ascii`.

    A part written with a zero-width joiner or non-joiner (Persian `مهسا‌سادات`) is also accepted as
    people type it without one: joined up, or with a space for the non-joiner.
    """
    token = unicodedata.normalize("NFC", token)
    variants = [token]
    if any(c in JOINERS for c in token):
        variants.append(token.replace(ZWNJ, "").replace(ZWJ, ""))
        variants.append(token.replace(ZWNJ, " ").replace(ZWJ, ""))
    pairs: list[tuple[str, str]] = []
    for variant in dict.fromkeys(variants):
        pairs += _token_pairs(variant)
    return _dedupe(pairs)


def _token_pairs(token: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    cases = _case_spellings(token)
    for spelled in cases:
        pairs.append(("exact", spelled))
        nfd = unicodedata.normalize("NFD", spelled)
        pairs.append(("nfd", nfd))
    if not token.isascii():
        pairs += [("escaped", json_escape(spelled)) for _, spelled in list(pairs)]
        option_lists = [_ascii_options(c) if not c.isascii() else (c,) for c in token.lower()]
        if all(option_lists):
            count = 1
            for options in option_lists:
                count *= len(options)
            if count <= MAX_ASCII_COMBINATIONS:
                pairs += [("ascii", "".join(combo)) for combo in product(*option_lists)]
            else:
                pairs += [("ascii", "".join(options[0] for options in option_lists))]
                pairs += [("ascii", "".join(options[-1] for options in option_lists))]
    return pairs


def split_name(name: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """Split a full name into parts and the hyphen flags of the gaps; `Last, First` is turned around.

    Raises:
        InputError: the name has no letters.
    """
    name = unicodedata.normalize("NFC", " ".join(name.split()))
    if name.count(",") == 1:
        last, first = (part.strip() for part in name.split(","))
        name = f"{first} {last}".strip()
    pieces = _NAME_SPLIT_RE.split(name)
    tokens: list[str] = []
    hyphens: list[bool] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            word = piece.strip(".,;:'\"()")
            if word:
                tokens.append(word)
        elif tokens and len(hyphens) < len(tokens):
            hyphens.append(not piece.isspace())
    hyphens = hyphens[: max(len(tokens) - 1, 0)]
    hyphens += [False] * (max(len(tokens) - 1, 0) - len(hyphens))
    if not tokens or not any(c.isalpha() for c in "".join(tokens)):
        raise InputError("name identifier has no letters", field="name")
    return tuple(tokens), tuple(hyphens)


def name_variants(name: str) -> NameVariants:
    """Accepted spellings and orders of one full name, plus its prefilter spellings.

    The prefilter uses the spellings of one anchor part (the longer of first and last part, which every
    accepted order contains); when that part is shorter than `MIN_ANCHOR_LENGTH` it uses whole-name
    spellings joined by a space, hyphen or comma instead (fewer accepted separators are then found).

    Raises:
        InputError: the name has no letters.
    """
    tokens, hyphens = split_name(name)
    spellings = tuple(token_spellings(t) for t in tokens)
    n = len(tokens)
    orders: list[tuple[str, tuple[int, ...], bool]] = [("name", tuple(range(n)), False)]
    if n >= 2:
        orders.append(("name/reversed", (n - 1, *range(n - 1)), True))
    if n >= 3:
        orders.append(("name/first-last", (0, n - 1), False))
        orders.append(("name/reversed", (n - 1, 0), True))
    anchor_candidates = [0] if n == 1 else [0, n - 1]
    anchor = max(anchor_candidates, key=lambda i: (min(len(s) for _, s in spellings[i]), i))
    if min(len(s) for _, s in spellings[anchor]) >= MIN_ANCHOR_LENGTH or n == 1:
        literals = tuple(s for _, s in spellings[anchor])
    else:
        whole: list[str] = []
        for _, order, comma in orders:
            seps = (" ", "-", ", ") if comma else (" ", "-")
            parts = [[s for _, s in spellings[i]][:8] for i in order]
            for sep in seps:
                whole += [sep.join(combo) for combo in product(*parts)]
        literals = tuple(dict.fromkeys(whole))
    return NameVariants(spellings, hyphens, tuple(orders), literals)
