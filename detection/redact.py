"""Redaction of records: third parties' data for the access copy (Art. 15(4)), the subject's for erasure.

Owns placeholders, reason codes and the leak sweep. Works on decoded values only (no I/O); must not log the
text it replaces.

Third-party redaction replaces each finding with a placeholder stable within one document (`[email 1]`,
`[person 2]`, one `PlaceholderBook` per conversation or file, never one for the whole package: a marker
unmasked in one conversation unmasks nothing elsewhere) and keeps the subject's own data intact. Besides the
classifier's findings, every identifier known to belong to someone else (`detection.others`: directory,
laptop owners, other requests' subjects, what the data shows) is replaced wherever it appears. A leak sweep then
replaces every further occurrence of a redacted value in the record (any case, percent-encoded `@`, and for
people each name part of four or more letters as a whole word), so no half address or lone surname is left
where the detector saw only one copy.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from detection import led as led_patterns
from detection.findings import ThirdPartyEntity, ThirdPartyFinding
from detection.matcher import Matcher, map_strings

if TYPE_CHECKING:
    from detection.others import OtherHit

REDACTED = "[redacted]"
REASON_PREFIX = "art15_4_third_party_"

_LABEL = {
    ThirdPartyEntity.EMAIL.value: "email",
    ThirdPartyEntity.PHONE.value: "phone",
    ThirdPartyEntity.PERSON.value: "person",
    ThirdPartyEntity.IBAN.value: "iban",
    ThirdPartyEntity.CARD.value: "card",
    ThirdPartyEntity.IP.value: "ip",
    ThirdPartyEntity.ID.value: "id",
}


def reason_code(entity: str) -> str:
    """The reason code recorded for redacting one kind of third-party data (`art15_4_third_party_email`)."""
    return REASON_PREFIX + _LABEL.get(entity, "data")


@dataclass(frozen=True)
class RedactionResult:
    """A redacted copy of a record.

    Attributes:
        value: the redacted value (same structure and types as the input).
        counts: replacements per reason code.
        reason_codes: the reason codes used, sorted.
    """

    value: object
    counts: Mapping[str, int]
    reason_codes: tuple[str, ...]


def _normal(entity: str, text: str) -> str:
    text = text.strip().lower()
    if entity == ThirdPartyEntity.EMAIL.value:
        return text.replace("%40", "@")
    if entity in (ThirdPartyEntity.PHONE.value, ThirdPartyEntity.CARD.value, ThirdPartyEntity.IBAN.value):
        return re.sub(r"[^0-9a-z]", "", text)
    return " ".join(text.split())


@dataclass
class PlaceholderBook:
    """Stable placeholders for one document (a conversation or a file): the same value always gets the same
    `[kind n]` inside it; another document starts again at 1."""

    _numbers: dict[tuple[str, str], str] = field(default_factory=dict)
    _next: dict[str, int] = field(default_factory=dict)

    def placeholder(self, entity: str, text: str) -> str:
        """The placeholder of a value, assigning the next number of its kind on first sight."""
        key = (entity, _normal(entity, text))
        found = self._numbers.get(key)
        if found is None:
            label = _LABEL.get(entity, "data")
            number = self._next.get(label, 0) + 1
            self._next[label] = number
            found = f"[{label} {number}]"
            self._numbers[key] = found
        return found


def _sweep_patterns(entity: str, text: str) -> list[tuple[str, str, str | None, str | None]]:
    """Regex sources that find further copies of a redacted value (case-insensitive), each with its form for
    ASCII texts (led by its first character, see `_led`; "" when no ASCII text holds a copy), a text any match
    contains (case-folded: the patterns ignore case) and the digits any match holds in a row once every other
    character is dropped (phone numbers, whose copies differ in punctuation), each None when there is none."""
    text = text.strip()
    if entity == ThirdPartyEntity.EMAIL.value:
        address = text.replace("%40", "@")
        local, _, domain = address.partition("@")
        rest = r"(?:@|%40)" + re.escape(domain)
        source = re.escape(local) + rest
        return [(source, _led("", local, rest, "") if local else f"(?i:{source})", domain.casefold(), None)]
    if entity == ThirdPartyEntity.PERSON.value:
        parts = [p for p in re.split(r"[\s\-]+", text) if len(p) >= 4]
        return [
            (
                r"(?<!\w)" + re.escape(name) + r"(?!\w)",
                _led(r"\w", name, "", r"(?!\w)") if name else r"(?i:(?<!\w)(?!\w))",
                name.casefold(),
                None,
            )
            for name in [text, *parts]
        ]
    if entity == ThirdPartyEntity.PHONE.value:
        digits = _NOT_DIGIT.sub("", text)
        if len(digits) >= 7:
            spaced = [re.escape(d) for d in digits]
            # Led by its first digit, which no case changes (the form would hold for any text; it is used, like
            # the others, on ASCII texts).
            led = spaced[0] + rf"(?<!\d{spaced[0]})" + "".join(r"[\s().\-]{0,3}" + d for d in spaced[1:]) + r"(?!\d)"
            return [(r"(?<!\d)" + r"[\s().\-]{0,3}".join(spaced) + r"(?!\d)", f"(?i:{led})", None, digits)]
    source = re.escape(text)
    return [(source, _led("", text, "", "") if text else f"(?i:{source})", text.casefold(), None)]


def _led(before: str, literal: str, rest: str, after: str) -> str:
    """The case-insensitive pattern `(?<!before)` + `literal` (a text, not empty) + `rest` + `after` led by its
    first character for ASCII texts (`detection.led`); "" when no ASCII text holds a match."""
    return led_patterns.led([(literal, rest)], before, after, folded=True) or ""


#: Values whose compiled sweeps one `sweep_memory` keeps (then it starts again).
SWEEP_MEMORY = 4096


def _compiled_sweeps(
    entity: str, text: str, memory: dict[tuple[str, str], tuple[_SweepPatterns, ...]] | None
) -> tuple[_SweepPatterns, ...]:
    """`_sweep_patterns` compiled, remembered in `memory` when the caller keeps one: the same values recur across
    a request's records, and `re`'s own cache is too small for a package's. The memory holds other people's
    values: it is the caller's, for one request, never the module's."""
    found = memory.get((entity, text)) if memory is not None else None
    if found is None:
        found = tuple(
            (re.compile(source, re.IGNORECASE), re.compile(led) if led else None, anchor, run)
            for source, led, anchor, run in _sweep_patterns(entity, text)
        )
        if memory is not None:
            if len(memory) >= SWEEP_MEMORY:
                memory.clear()
            memory[(entity, text)] = found
    return found


_NOT_DIGIT = re.compile(r"\D")
# (pattern, its form for ASCII texts or None, anchor, digit run): see `_sweep_patterns`.
_SweepPatterns = tuple[re.Pattern[str], re.Pattern[str] | None, str | None, str | None]
# (pattern, its form for ASCII texts, entity, the redacted value, anchor, digit run).
_Sweep = tuple[re.Pattern[str], re.Pattern[str] | None, str, str, str | None, str | None]


def _sweep_cuts(text: str, sweeps: list[_Sweep]) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, entity, value) of every further copy the sweeps find in `text`."""
    folded: str | None = None
    digits: str | None = None
    ascii_text = text.isascii()
    for pattern, led, entity, found, anchor, digit_run in sweeps:
        # Most strings hold none of the record's values: one substring test each.
        if anchor is not None:
            folded = text.casefold() if folded is None else folded
            if anchor not in folded:
                continue
        if digit_run is not None:
            digits = _NOT_DIGIT.sub("", text) if digits is None else digits
            if digit_run not in digits:
                continue
        search = pattern if not ascii_text else led
        if search is None:
            continue  # no ASCII text holds a copy
        for m in search.finditer(text):
            yield m.start(), m.end(), entity, found


class _OwnSpans:
    """The subject's spans in one text, answering "does [start, end) overlap any?" in O(log n).

    Spans sorted by start with the running maximum of their ends: the spans starting before `end` are a
    prefix, and one of them overlaps exactly when the largest end in that prefix lies after `start`.
    """

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [start for start, _ in ordered]
        self._max_ends: list[int] = []
        highest = -1
        for _, end in ordered:
            highest = max(highest, end)
            self._max_ends.append(highest)

    def overlaps(self, start: int, end: int) -> bool:
        before = bisect.bisect_left(self._starts, end)
        return before > 0 and self._max_ends[before - 1] > start


def redact_record(
    value: object,
    subject_matcher: Matcher,
    third_party_findings: Iterable[ThirdPartyFinding],
    *,
    book: PlaceholderBook | None = None,
    others: Callable[[str], list[OtherHit]] | None = None,
    sweep_memory: dict[tuple[str, str], tuple[_SweepPatterns, ...]] | None = None,
) -> RedactionResult:
    """Replace third parties' data in a record by placeholders; keep the subject's own data intact.

    Args:
        value: the decoded record (JSON value or text).
        subject_matcher: the subject's matcher; spans it confirms are never replaced.
        third_party_findings: from `Classifier.classify` on the same value.
        book: the document's placeholder book (a new one if None: numbers then restart per record).
        others: finds identifiers known to belong to other people in a string (`OtherPeople.finder().find`).
        sweep_memory: the compiled sweeps of the values seen so far, kept by the caller for one request (an empty
            dict to start); compiled afresh for each record when None.

    Returns:
        The redacted copy, counts per reason code and the reason codes.
    """
    book = book if book is not None else PlaceholderBook()
    findings: dict[tuple[str, bool], list[ThirdPartyFinding]] = {}
    # The sweeps (see `_Sweep`): a marker number is given only when a cut is made (numbers have no gaps).
    sweeps: list[_Sweep] = []
    swept: set[tuple[str, str, str]] = set()  # a value found many times (a table's rows) is swept for once
    for finding in third_party_findings:
        findings.setdefault((finding.pointer, finding.in_key), []).append(finding)
        for pattern, led, anchor, digit_run in _compiled_sweeps(finding.entity, finding.text, sweep_memory):
            if (pattern.pattern, finding.entity, finding.text) not in swept:
                swept.add((pattern.pattern, finding.entity, finding.text))
                sweeps.append((pattern, led, finding.entity, finding.text, anchor, digit_run))
    sweeps.sort(key=lambda item: -len(item[0].pattern))
    counts: dict[str, int] = {}

    def replace(pointer: str, text: str, is_key: bool) -> str:
        cuts: list[tuple[int, int, str, str]] = []
        for finding in findings.get((pointer, is_key), []):
            if finding.end <= len(text) and text[finding.start : finding.end] == finding.text:
                cuts.append((finding.start, finding.end, finding.entity, finding.text))
        cuts.extend(_sweep_cuts(text, sweeps))
        if others is not None:
            cuts.extend((h.start, h.end, h.entity, h.canonical) for h in others(text))
        if not cuts:
            return text
        own = _OwnSpans((s.start, s.end) for s in subject_matcher.find(text))
        chosen: list[tuple[int, int, str, str]] = []
        for start, end, entity, found in sorted(cuts, key=lambda c: (c[0], -c[1])):
            if own.overlaps(start, end):
                continue  # the subject's own data stays
            if chosen and start < chosen[-1][1]:
                if end > chosen[-1][1]:
                    last = chosen[-1]
                    chosen[-1] = (last[0], end, last[2], last[3])
                continue
            chosen.append((start, end, entity, found))
        if not chosen:
            return text
        out = []
        position = 0
        for start, end, entity, found in chosen:
            out.append(text[position:start])
            out.append(book.placeholder(entity, found))
            position = end
            code = reason_code(entity)
            counts[code] = counts.get(code, 0) + 1
        out.append(text[position:])
        return "".join(out)

    # Only the classifier's findings are placed by pointer: without them no pointer is read.
    redacted = (
        map_strings(value, replace, pointers=bool(findings)) if findings or sweeps or others is not None else value
    )
    return RedactionResult(redacted, dict(counts), tuple(sorted(counts)))


def erase_subject(value: object, matcher: Matcher) -> tuple[object, int]:
    """Replace every occurrence of the subject's identifiers in every string and key by `[redacted]`.

    Types are kept: numbers, booleans and nulls are never changed (so `createdAt` stays numeric and
    `sessionId` stays a string); only the matched characters of a string are replaced.

    Returns:
        The erased copy and the number of replacements.
    """
    count = 0

    def replace(_pointer: str, text: str, _is_key: bool) -> str:
        nonlocal count
        text, found = erase_in_text(text, matcher)
        count += found
        return text

    return map_strings(value, replace, pointers=False), count


def erase_in_text(text: str, matcher: Matcher) -> tuple[str, int]:
    """`text` with every occurrence of the subject's identifiers replaced by `[redacted]` (a span that
    overlaps one already replaced is skipped), and the number of replacements."""
    spans = matcher.find(text)
    if not spans:
        return text, 0
    out: list[str] = []
    position = 0
    count = 0
    for span in spans:
        if span.start < position:
            continue
        out.append(text[position : span.start])
        out.append(REDACTED)
        position = span.end
        count += 1
    out.append(text[position:])
    return "".join(out), count
