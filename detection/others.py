"""Other people's identifiers: every source that says who is not the subject, and fast finders for them.

Owns the set of identifiers known to belong to someone other than the subject of a request (Art. 15(4)):
names, e-mail addresses, phone numbers and staff or account ids, each tagged with where it came from:

- `directory`: the organisation's staff directory export (`[directory]`),
- `owner`: the configured owners of laptops,
- `other_request`: the subjects of other requests in the case database,
- `data`: what the records themselves show (a name written next to an e-mail address or phone number, the
  `first.last@` local part of another person's address, the name after a salutation or above a signature).

The subject's own identifiers are never in the set: an entry whose value the subject's matcher confirms is
dropped, and a hit overlapping a subject span is never reported. One compiled pattern per kind finds every
known value in a text in one pass (linear in the text, whatever the number of people). Plain Python, no
I/O; never logs or repr()s a value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import phonenumbers

from detection import led as led_patterns
from detection.findings import ThirdPartyEntity
from detection.matcher import Matcher, walk_strings
from detection.text_key import text_key

SOURCES = ("directory", "owner", "other_request", "data")

_W = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+)?"
_NAME = rf"{_W}(?:[ \t]+{_W}){{1,2}}"
_CAPITAL = re.compile(r"[A-ZÀ-ÖØ-Þ]")  # the first character of `_W`: a text without one holds no `_NAME`
_EMAIL = r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
_PHONE = r"\+?\d[\d ().\-]{6,}\d"
_NEXT_TO_CONTACT = re.compile(rf"(?P<name>{_NAME})[ \t]*[<(\[,:;|]?[ \t]*(?P<contact>{_EMAIL}|{_PHONE})")
_SALUTATION = re.compile(
    rf"(?:\b(?:(?:Dear|Hi|Hello|Hey|cc|Cc|CC)\b[ \t]*,?|(?:From|To|Cc|CC|Bcc|Attendees|Contact|Owner|Reviewer):)"
    rf"[ \t]*(?:\r?\n[ \t]*)?)(?P<name>{_NAME})(?![\w'’])"
)
_SIGNATURE = re.compile(
    rf"(?:(?:Best|Kind|Warm)? ?[Rr]egards|Thanks|Thank you|Cheers|Sincerely|Best)[ \t]*,?[ \t]*\r?\n"
    rf"[ \t]*(?P<name>{_NAME})"
)
# Words each pattern above needs (case as written: the patterns are case-sensitive); a string holding none of
# a pattern's words is not searched with it ("Hello" and "Hey" hold "He", "Bcc" holds "cc").
_SALUTATION_WORDS = (
    "Dear",
    "Hi",
    "He",
    "cc",
    "Cc",
    "CC",
    "From:",
    "To:",
    "Attendees:",
    "Contact:",
    "Owner:",
    "Reviewer:",
)
_SIGNATURE_WORDS = ("egards", "Thank", "Cheers", "Sincerely", "Best")
_LOCAL_PART = re.compile(r"^(?P<first>[A-Za-z]{1,20})[._](?P<last>[A-Za-z]{2,30})$")
_MIN_PART = 3
# Capitalised words that start product, place and document names, never people's names.
STOP_WORDS = frozenset(
    [
        "Claude",
        "Code",
        "Cowork",
        "Anthropic",
        "Desktop",
        "Assistant",
        "User",
        "Tool",
        "Result",
        "Session",
        "Project",
        "Team",
        "Teams",
        "Slack",
        "Google",
        "Gmail",
        "Microsoft",
        "Outlook",
        "Office",
        "Excel",
        "Word",
        "Github",
        "Gitlab",
        "Copilot",
        "Cursor",
        "Codex",
        "Gemini",
        "Windows",
        "Linux",
        "Apple",
        "Mac",
        "Macos",
        "Amazon",
        "Aws",
        "Azure",
        "Openai",
        "Chatgpt",
        "Zed",
        "Aider",
        "Cline",
        "Continue",
        "Opencode",
        "Windsurf",
        "The",
        "This",
        "That",
        "These",
        "Those",
        "Please",
        "Thanks",
        "Thank",
        "Hello",
        "Dear",
        "Regards",
        "Best",
        "Kind",
        "Warm",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Ltd",
        "Limited",
        "Inc",
        "Plc",
        "Gmbh",
        "Corp",
        "Corporation",
        "Company",
        "Example",
        "Street",
        "Road",
        "Avenue",
        "Lane",
        "London",
        "Berlin",
        "Paris",
        "Meeting",
        "Notes",
        "Summary",
        "Invoice",
        "Invoices",
        "Finance",
        "Legal",
        "Support",
        "Sales",
        "Customer",
        "Customers",
        "Client",
        "Clients",
        "Supplier",
        "Partner",
        "Partners",
        "Admin",
        "Security",
        "Privacy",
        "Policy",
        "Data",
        "Personal",
        "Report",
        "Draft",
        "Review",
        "Reply",
        "Answer",
        "Question",
        "Update",
        "Status",
        "New",
        "Old",
        "Sign",
        "Ask",
        "Attendees",
        "From",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Re",
        "Fwd",
        "Hi",
        "Hey",
        "Cheers",
        "Sincerely",
        "Agenda",
        "Action",
        "Items",
        "Next",
        "Steps",
        "Note",
        "Information",
        "Commissioner",
        "Commissioners",
        "Authority",
        "Protection",
        "Officer",
        "Request",
        "Access",
        "Copy",
        "Yes",
        "No",
        "Not",
    ]
)


def fold(text: str) -> str:
    """Lower case without diacritics (ø, ß and æ mapped): the key two spellings of one name share."""
    mapped = text.replace("ø", "o").replace("Ø", "O").replace("ß", "ss").replace("æ", "ae").replace("Æ", "Ae")
    return "".join(c for c in unicodedata.normalize("NFKD", mapped) if not unicodedata.combining(c)).casefold()


def _ascii(text: str) -> str:
    mapped = text.replace("ø", "o").replace("Ø", "O").replace("ß", "ss").replace("æ", "ae").replace("Æ", "Ae")
    return "".join(c for c in unicodedata.normalize("NFKD", mapped) if not unicodedata.combining(c))


def _name_key(name: str) -> str:
    return fold(" ".join(w for w in re.split(r"[\s\-]+", name) if w))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass(frozen=True)
class OtherHit:
    """One occurrence of another person's identifier in a text.

    Attributes:
        start: start offset.
        end: end offset.
        entity: a `ThirdPartyEntity` value (`PERSON`, `EMAIL_ADDRESS`, `PHONE_NUMBER`, `STAFF_ID`).
        canonical: the person's identifier this occurrence stands for (the full name for a lone surname);
            never logged, not in repr.
        source: where the identifier is known from (one of `SOURCES`).
    """

    start: int
    end: int
    entity: str
    canonical: str = field(repr=False)
    source: str


@dataclass
class _Known:
    canonical: str
    source: str


#: One thing the data shows about another person: ("name" | "email" | "phone", its text, the region a phone
#: number is read in, None for `add_phone`'s own default and for names and addresses).
Learned = tuple[str, str, str | None]


class OtherPeople:
    """Identifiers of people other than one request's subject, with one-pass finders.

    Build once per package: `add` the configured sources, `learn` from every record, then `find` (or `finder`
    for a view restricted to some sources) on any text.
    """

    def __init__(self, subject: Matcher, *, subject_names: Sequence[str] = (), allow: Iterable[str] = ()) -> None:
        """Args:
        subject: the subject's matcher (their identifiers are never another person's).
        subject_names: the subject's names (their parts are never taken for another person's).
        allow: texts that are never people's data (the controller's name and contacts, the register's
            recipients): no name is learned from their words.
        """
        self._subject = subject
        self._subject_parts = {fold(p) for n in subject_names for p in re.split(r"[\s,\-]+", n) if p}
        self._allowed_words = {fold(w) for text in allow for w in re.findall(r"\w+", text)}
        self._names: dict[str, _Known] = {}
        self._parts: dict[str, _Known] = {}
        self._emails: dict[str, _Known] = {}
        self._phones: dict[str, _Known] = {}
        self._ids: dict[str, _Known] = {}
        self._compiled: dict[frozenset[str] | None, _Finder] = {}
        # Every add so far (kind, value, source, region): adding the same again changes nothing (an add depends
        # on its arguments, the subject and what is known, which only grows), and the data repeats its people.
        self._added: set[tuple[str, str, str, str]] = set()

    def __len__(self) -> int:
        return len(self._names) + len(self._emails) + len(self._phones) + len(self._ids)

    def _is_subject(self, value: str) -> bool:
        return any(span.end - span.start >= len(value.strip()) - 1 for span in self._subject.find(value))

    def _first_time(self, kind: str, value: str, source: str, region: str = "") -> bool:
        call = (kind, value, source, region)
        if call in self._added:
            return False
        self._added.add(call)
        return True

    def _changed(self) -> None:
        self._compiled.clear()

    def add_name(self, name: str, source: str) -> None:
        """Another person's name (full, or a lone surname); its parts of three or more letters too."""
        if not self._first_time("name", name, source):
            return
        name = " ".join(name.split())
        if source == "data":  # a name the data shows is written capitalised: drop words around it that are not
            words = name.split()
            while words and not words[0][:1].isupper():
                words.pop(0)
            while words and not words[-1][:1].isupper():
                words.pop()
            name = " ".join(words)
        if len(name) < _MIN_PART or self._is_subject(name) or self._subject.find(name):
            return
        key = _name_key(name)
        if key in self._names:
            return
        words = [w for w in re.split(r"[\s\-]+", name) if w]
        if all(fold(w) in self._allowed_words or w in STOP_WORDS for w in words):
            return
        known = _Known(name, source)
        self._names[key] = known
        for word in words:
            if len(word) >= _MIN_PART and fold(word) not in self._subject_parts and word not in STOP_WORDS:
                self._parts.setdefault(word, known)
        self._changed()

    def add_email(self, email: str, source: str) -> None:
        """Another person's e-mail address; a `first.last@` local part adds the name it spells."""
        if not self._first_time("email", email, source):
            return
        email = email.strip().replace("%40", "@")
        if "@" not in email or self._is_subject(email):
            return
        if fold(email) not in self._emails:
            self._emails[fold(email)] = _Known(email, source)
            self._changed()
        match = _LOCAL_PART.match(email.partition("@")[0])
        if match:
            first, last = match["first"].capitalize(), match["last"].capitalize()
            self.add_name(f"{first} {last}" if len(first) > 1 else last, source)

    def add_phone(self, phone: str, source: str, region: str = "GB") -> None:
        """Another person's phone number (matched with any spacing, international or national)."""
        if not self._first_time("phone", phone, source, region):
            return
        digits = _digits(phone)
        if len(digits) < 7 or self._is_subject(phone):
            return
        forms = {digits}
        try:
            parsed = phonenumbers.parse(phone, region)
            forms.add(f"{parsed.country_code}{parsed.national_number}")
            forms.add("0" + str(parsed.national_number))
            forms.add(str(parsed.national_number))
        except phonenumbers.NumberParseException:
            pass
        for form in forms:
            if len(form) >= 7 and form not in self._phones:
                self._phones[form] = _Known(phone.strip(), source)
                self._changed()

    def add_id(self, value: str, source: str) -> None:
        """Another person's staff or account id (exact, whole word, any case)."""
        if not self._first_time("id", value, source):
            return
        value = value.strip()
        if len(value) < 4 or self._is_subject(value):
            return
        if fold(value) not in self._ids:
            self._ids[fold(value)] = _Known(value, source)
            self._changed()

    def add_person(
        self,
        source: str,
        *,
        names: Iterable[str] = (),
        emails: Iterable[str] = (),
        phones: Iterable[str] = (),
        ids: Iterable[str] = (),
        region: str = "GB",
    ) -> None:
        """One person's identifiers; the whole person is skipped when any of them is the subject's."""
        names, emails, phones, ids = list(names), list(emails), list(phones), list(ids)
        if any(self._subject.find(v) for v in (*names, *emails, *phones, *ids) if v):
            return
        for name in names:
            self.add_name(name, source)
        for email in emails:
            self.add_email(email, source)
        for phone in phones:
            self.add_phone(phone, source, region)
        for ident in ids:
            self.add_id(ident, source)

    def learn_text(self, text: str, emails: Iterable[str] = ()) -> None:
        """Learn from what a text shows: a name next to an e-mail address or phone number, after a salutation
        or above a signature, and names spelled by other people's addresses (`emails`, already detected)."""
        for email in emails:
            self.add_email(email, "data")
        self.add_learned(self.learned_text(text))

    def learned_text(self, text: str) -> list[Learned]:
        """What `learn_text` adds for `text` (`emails` aside), in its order. It depends on the text and the
        subject only, never on what is known already: it can be worked out anywhere and added later."""
        if not _CAPITAL.search(text):  # every pattern below starts its name with one of these capitals
            return []
        out: list[Learned] = []
        for match in _NEXT_TO_CONTACT.finditer(text):
            contact = match["contact"]
            if not self._subject.find(contact) and not self._subject.find(match["name"]):
                out.append(("name", match["name"], None))
                out.append(("email", contact, None) if "@" in contact or "%40" in contact else ("phone", contact, None))
        for pattern, words in ((_SALUTATION, _SALUTATION_WORDS), (_SIGNATURE, _SIGNATURE_WORDS)):
            if not any(word in text for word in words):
                continue
            for match in pattern.finditer(text):
                if not self._subject.find(match["name"]):
                    out.append(("name", match["name"], None))
        return out

    def learn(self, value: object, emails: Iterable[str] = ()) -> None:
        """`learn_text` over every string of a decoded record."""
        self.add_learned(self.learned(value))
        for email in emails:
            self.add_email(email, "data")

    def learned(self, value: object) -> list[Learned]:
        """What `learn` adds for a decoded record (`emails` aside), in its order (see `learned_text`)."""
        return [entry for text, _path, _is_key in walk_strings(value) if text for entry in self.learned_text(text)]

    def add_learned(self, learned: Iterable[Learned]) -> None:
        """Add, in order, what `learned` or `learned_text` gave, as shown by the data."""
        for kind, text, region in learned:
            if kind == "name":
                self.add_name(text, "data")
            elif kind == "email":
                self.add_email(text, "data")
            elif region is None:
                self.add_phone(text, "data")
            else:
                self.add_phone(text, "data", region)

    def finder(self, sources: Iterable[str] | None = None) -> _Finder:
        """A finder over the identifiers from `sources` (every source when None); cached until an add."""
        key = frozenset(sources) if sources is not None else None
        if key is not None and self._sources() <= key:
            key = None  # the same view as every source's: one finder, and one memory of the strings it searched
        found = self._compiled.get(key)
        if found is None:
            keep: Callable[[_Known], bool] = (lambda k: k.source in key) if key is not None else (lambda _k: True)
            found = _Finder(
                self._subject,
                {k: v for k, v in self._names.items() if keep(v)},
                {k: v for k, v in self._parts.items() if keep(v)},
                {k: v for k, v in self._emails.items() if keep(v)},
                {k: v for k, v in self._phones.items() if keep(v)},
                {k: v for k, v in self._ids.items() if keep(v)},
            )
            self._compiled[key] = found
        return found

    def _sources(self) -> set[str]:
        tables = (self._names, self._parts, self._emails, self._phones, self._ids)
        return {known.source for table in tables for known in table.values()}

    def find(self, text: str) -> list[OtherHit]:
        """Every known other person's identifier in `text` (every source)."""
        return self.finder().find(text)


#: Distinct strings a finder remembers (then it starts again): bounds memory on very large packages.
_FIND_CACHE = 200_000


def _ordered(values: Iterable[str]) -> list[str]:
    """Alternatives longest first, then in code-point order (the order the patterns try them in)."""
    return sorted(values, key=lambda v: (-len(v), v))


def _alternation(values: Iterable[str]) -> str:
    return "|".join(_ordered(values))


def _led(
    alternatives: Mapping[str, tuple[str, str] | None], before: str, after: str, *, folded: bool
) -> re.Pattern[str] | None:
    """`(?<!before)(?:{_alternation(alternatives)})after` led by first characters (`detection.led`), from each
    source's (literal it starts with, rest); None when a source has none or none is left."""
    leads = [alternatives[s] for s in _ordered(alternatives)]
    if not leads or None in leads:
        return None
    source = led_patterns.led([lead for lead in leads if lead is not None], before, after, folded=folded)
    return _compile(source, 0) if source is not None else None


#: What may stand between two digits of a known phone number (spaces, brackets, dots, dashes, slashes).
_PHONE_SEPARATOR = r"[\s().\-/]{0,3}"


def _phone_source(digits: str) -> str:
    """The pattern of one known number: its digits with up to three separators between them."""
    return _PHONE_SEPARATOR.join(re.escape(d) for d in digits)


#: The known numbers' digits as a tree: a digit's node holds the digits that follow it, and "" where a number ends.
_DigitTree = dict[str, "_DigitTree"]


def _led_phones(phones: Iterable[str]) -> re.Pattern[str] | None:
    """`(?<!\\d)\\+?(?:numbers)(?!\\d)` (each number's `_phone_source`) led by first characters, the numbers as a
    tree of their digits: numbers that begin with the same digits share one branch for them, so at a digit of
    the text one branch is tried, not one per known number that starts with it.

    The matches are the plain pattern's. A match there is the first number, in its order (longest first), whose
    digits the text reads from that place with its separators and no digit after; the numbers that do are
    prefixes of one another's digits, so the first is the longest. Here each digit's branch tries the longer
    numbers (the next digit) before ending, and the end backtracks to a shorter number: the longest again."""
    tree: _DigitTree = {}
    for digits in phones:
        if not digits:
            return None
        node = tree
        for digit in digits:
            node = node.setdefault(digit, {})
        node[""] = {}  # a number ends here
    if not tree:
        return None
    firsts = sorted(tree)
    after_plus = "|".join(re.escape(d) + _phone_rest(tree[d]) for d in firsts)
    leds = "|".join(f"{re.escape(d)}(?<!\\d{re.escape(d)})" + _phone_rest(tree[d]) for d in firsts)
    return _compile(rf"(?:\+(?<!\d\+)(?:{after_plus})|{leds})(?!\d)", 0)


def _phone_rest(node: _DigitTree) -> str:
    """The pattern after a digit whose tree node is `node`: a separator and the next digits, longest first
    (the greedy `?` of a number that may end here tries the longer ones first)."""
    digits = sorted(d for d in node if d)
    if not digits:
        return ""
    branches = "|".join(re.escape(d) + _phone_rest(node[d]) for d in digits)
    rest = f"{_PHONE_SEPARATOR}(?:{branches})" if len(digits) > 1 else f"{_PHONE_SEPARATOR}{branches}"
    return f"(?:{rest})?" if "" in node else rest


class _Finder:
    """Compiled patterns over one view of `OtherPeople`."""

    def __init__(
        self,
        subject: Matcher,
        names: dict[str, _Known],
        parts: dict[str, _Known],
        emails: dict[str, _Known],
        phones: dict[str, _Known],
        ids: dict[str, _Known],
    ) -> None:
        self._subject = subject
        self._names = names
        self._parts = parts
        self._emails = emails
        self._phones = phones
        self._ids = ids
        name_sources = set()
        last_words: dict[str, tuple[str, str] | None] = {}
        for known in names.values():
            for variant in {known.canonical, _ascii(known.canonical)}:
                words = [w for w in re.split(r"[\s\-]+", variant) if w]
                if not words:  # a spelling of combining marks only: an empty one would match between any characters
                    continue
                source = r"[\s\-]+".join(re.escape(w) for w in words)
                if len(words) == 1:  # a surname known without the first name: take the capitalised word before it
                    source = rf"(?:(?-i:{_W})[ \t]+)?{source}"
                name_sources.add(source)
                last_words[re.escape(words[-1])] = (words[-1], "")
        self._name_re = (
            _compile(rf"(?<![\w@.])(?:{_alternation(name_sources)})(?![\w@])", re.I) if name_sources else None
        )
        # Every name the pattern finds ends with a name's last word: an ASCII text holding none of them (as the
        # case-insensitive pattern compares) is not searched with it.
        self._name_words = _led(last_words, "", "", folded=True) if last_words else None
        # A part's spellings; one made of combining marks only has no ASCII spelling (an empty one would match
        # between any two characters).
        self._part_key = {v: p for p in parts for v in (p, _ascii(p), p.upper(), _ascii(p).upper()) if v}
        # Parts are matched as written: their pattern led by first characters holds for every text.
        part_sources = {re.escape(v): (v, "") for v in self._part_key}
        self._part_re = _led(part_sources, r"[\w@.]", r"(?![\w@])", folded=False)
        email_sources: dict[str, tuple[str, str] | None] = {}
        for known in emails.values():
            local, _, domain = known.canonical.partition("@")
            rest = r"(?:@|%40)" + re.escape(domain)
            email_sources[re.escape(local) + rest] = (local, rest) if local else None
        self._email_re = (
            _compile(rf"(?<![\w.+\-])(?:{_alternation(email_sources)})(?![\w\-])", re.I) if emails else None
        )
        self._email_led = _led(email_sources, r"[\w.+\-]", r"(?![\w\-])", folded=True)  # for ASCII texts
        phone_sources = {_phone_source(digits) for digits in phones}
        self._phone_re = _compile(rf"(?<!\d)\+?(?:{_alternation(phone_sources)})(?!\d)", 0) if phones else None
        # The same pattern led by its first characters (a number's first digit, or `+` and that digit): it
        # holds for every text, as nothing in it ignores case.
        self._phone_led = _led_phones(phones) if phones else None
        self._cache: dict[str | bytes, tuple[OtherHit, ...]] = {}
        id_sources = {re.escape(k.canonical): (k.canonical, "") if k.canonical else None for k in ids.values()}
        self._id_re = _compile(rf"(?<![\w\-])(?:{_alternation(id_sources)})(?![\w\-])", re.I) if ids else None
        self._id_led = _led(id_sources, r"[\w\-]", r"(?![\w\-])", folded=True)  # for ASCII texts

    def __bool__(self) -> bool:
        return bool(self._names or self._emails or self._phones or self._ids)

    def _hits(self, text: str) -> Iterator[OtherHit]:
        ascii_text = text.isascii()  # the led forms of the case-insensitive patterns hold for ASCII texts
        email_re = self._email_led if ascii_text and self._email_led is not None else self._email_re
        if email_re is not None:
            for m in email_re.finditer(text):
                known = self._emails.get(fold(m.group(0).replace("%40", "@")))
                yield OtherHit(m.start(), m.end(), ThirdPartyEntity.EMAIL.value, _canon(known, m), _src(known))
        phone_re = self._phone_led if self._phone_led is not None else self._phone_re
        if phone_re is not None:
            for m in phone_re.finditer(text):
                known = self._phones.get(_digits(m.group(0)))
                yield OtherHit(m.start(), m.end(), ThirdPartyEntity.PHONE.value, _canon(known, m), _src(known))
        id_re = self._id_led if ascii_text and self._id_led is not None else self._id_re
        if id_re is not None:
            for m in id_re.finditer(text):
                known = self._ids.get(fold(m.group(0)))
                yield OtherHit(m.start(), m.end(), ThirdPartyEntity.ID.value, _canon(known, m), _src(known))
        skip_names = ascii_text and self._name_words is not None and self._name_words.search(text) is None
        if self._name_re is not None and not skip_names:
            for m in self._name_re.finditer(text):
                known = self._names.get(_name_key(m.group(0))) or self._names.get(_name_key(m.group(0).split()[-1]))
                yield OtherHit(m.start(), m.end(), ThirdPartyEntity.PERSON.value, _canon(known, m), _src(known))
        if self._part_re is not None:
            for m in self._part_re.finditer(text):
                known = self._parts.get(self._part_key.get(m.group(0), m.group(0)))
                yield OtherHit(m.start(), m.end(), ThirdPartyEntity.PERSON.value, _canon(known, m), _src(known))

    def find(self, text: str) -> list[OtherHit]:
        """Hits in `text`, longest first where they overlap, none overlapping the subject's own spans.

        The same strings recur across a package's records (keys, roles, repeated messages): each distinct
        string is searched once (a bounded cache under `text_key`, which keeps no long text; the finder never
        changes once built).
        """
        if not text:
            return []
        key = text_key(text)
        found = self._cache.get(key)
        if found is None:
            found = self._find(text)
            if len(self._cache) >= _FIND_CACHE:
                self._cache.clear()
            self._cache[key] = found
        return list(found)

    def forget(self) -> None:
        """Drop the memory of strings searched (for a caller done with `find` while the finder is kept)."""
        self._cache = {}

    def find_fresh(self, text: str) -> tuple[OtherHit, ...]:
        """`find` without the finder's memory of strings (for a caller that remembers the results itself)."""
        return self._find(text) if text else ()

    def _find(self, text: str) -> tuple[OtherHit, ...]:
        hits = sorted(self._hits(text), key=lambda h: (h.start, -h.end))
        if not hits:
            return ()
        own = [(s.start, s.end) for s in self._subject.find(text)]
        out: list[OtherHit] = []
        for hit in hits:
            if any(s < hit.end and hit.start < e for s, e in own):
                continue
            if out and hit.start < out[-1].end:
                continue
            out.append(hit)
        return tuple(out)


def _canon(known: _Known | None, match: re.Match[str]) -> str:
    return known.canonical if known is not None else match.group(0)


def _src(known: _Known | None) -> str:
    return known.source if known is not None else "data"


def _compile(source: str, flags: int) -> re.Pattern[str]:
    return re.compile(source, flags)
