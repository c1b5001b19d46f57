"""Classification of confirmed records with presidio-analyzer: Art. 15(1)(b) categories and third parties.

Owns the offline analyzer (pattern recognizers only unless a configured spaCy model is installed), the
subject recognizer and the third-party findings that redaction uses. Runs on confirmed records only; never
downloads anything, never logs text or findings.

Offline by construction: the analyzer gets presidio's `NoOpNlpEngine` (no spaCy model is loaded) and an
explicit registry; e-mail validation uses a `tldextract.TLDExtract` with `suffix_list_urls=()` (the bundled
snapshot, no fetch) plus internal suffixes (`.local`, `.internal`, `.example`, `.invalid`, `.test`, ...).
Left out on purpose because they misfire on code and file names: URL (`setup.py`), date, crypto, UUID, and
the country-specific number recognizers (German PLZ on any five digits, etc.).

Third-party names without NER are found conservatively: the known third-party names passed in (deny list),
a display name right before an address in angle brackets (`Anna Nowak <anna@corp.example>`), and two or
three capitalised words right after a salutation or header (`Dear`, `Hi`, `Hello`, `From:`, `To:`, `Cc:`).
A free-standing "Firstname Lastname" elsewhere is not flagged: in code and paths that heuristic is wrong too
often. When `spacy_model` names an installed model, spaCy NER adds PERSON findings.

A request's records repeat the same strings (a message in the transcript, the audit log and superseded
copies): without known names or NER, each distinct string is analysed once and its results remembered for
later records and for the release check; what reads across a record's strings (the person heuristics, the
subject's spans, the phone gate) still reads the whole record, so the results are those of one analysis of it.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import phonenumbers
import tldextract
from presidio_analyzer import (
    AnalysisExplanation,
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
)

from detection.findings import Classification, DataCategory, ThirdPartyEntity, ThirdPartyFinding
from detection.matcher import Matcher, Span, pointer_of, walk_strings
from detection.text_key import text_key
from models.errors import ConfigError
from models.types import IdentifierKind

__all__ = [
    "INTERNAL_SUFFIXES",
    "Classification",
    "Classifier",
    "DataCategory",
    "ThirdPartyEntity",
    "ThirdPartyFinding",
    "subject_spans",
]

INTERNAL_SUFFIXES = ("local", "internal", "corp", "lan", "home", "localhost", "example", "invalid", "test")
# Strings longer than this without whitespace are blobs (base64 images, hashes): not analyzed.
_BLOB_MIN = 512
_JOIN = "\n\n"
_SCORE_THRESHOLD = 0.3
# Records whose joined text is shorter than this have their pieces analysed one by one (`_piece_results`): below
# phonenumbers' limit of candidates per text (65535; candidates do not overlap) the limit is never reached.
_PIECEWISE_MAX = 65_535
# Distinct pieces whose results are remembered (then the memory starts again): bounds memory on large requests.
# Each is remembered under `text_key` (a long piece under its digest, not its text). 50 000 costs no measurable time
# against 100 000 on 10 laptops of 30 MiB (17 549 findings) and keeps about 6 MB less at the assembly's peak.
_PIECES_MAX = 50_000
_Result = tuple[str, int, int, float]  # (entity, start, end, score) in a piece
# A piece's results: those of every recognizer but the phone one, and the phone numbers (None until a record the
# phone gate opens on holds the piece: they are most of the analysis, and the gate stays shut on most records).
_Remembered = tuple[tuple[_Result, ...], tuple[_Result, ...] | None]
_PieceMemory = dict[str | bytes, _Remembered]
# The results of a piece without any, shared (most pieces): numbers not looked for yet, and none found.
_UNKNOWN: _Remembered = ((), None)
_NOTHING: _Remembered = ((), ())
_PHONE = "PHONE_NUMBER"


HEALTH_TERMS = (
    "diagnosis", "diagnosed", "sick leave", "sick note", "illness", "medication", "prescription",
    "therapy", "therapist", "surgery", "hospital", "pregnant", "pregnancy", "disability", "disabled",
    "allergy", "allergic", "diabetes", "depression", "anxiety", "cancer", "chemotherapy", "migraine",
    "burnout", "medical leave", "doctor's note", "gp appointment", "mental health", "blood pressure",
    "krankmeldung", "arbeitsunfähig", "krankheit",
)  # fmt: skip


_EXTRACTORS: dict[tuple[str, ...], tldextract.TLDExtract] = {}
_EXTRACTORS_LOCK = threading.Lock()


def _suffix_extractor(internal_suffixes: tuple[str, ...]) -> tldextract.TLDExtract:
    """The offline public-suffix extractor for these internal suffixes, built once per process.

    Building its suffix trie takes about 0.3 s and 6 MB; a scan builds a classifier per laptop, so a fleet
    would pay that per laptop. Built eagerly under the lock, it is only read afterwards (safe across threads).
    """
    with _EXTRACTORS_LOCK:
        extractor = _EXTRACTORS.get(internal_suffixes)
        if extractor is None:
            extractor = tldextract.TLDExtract(
                cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True, extra_suffixes=internal_suffixes
            )
            extractor("example.com")  # build the trie now, not on the first e-mail of some thread
            _EXTRACTORS[internal_suffixes] = extractor
        return extractor


class _OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer with an offline suffix list and internal domains accepted."""

    def __init__(self, extractor: tldextract.TLDExtract) -> None:
        super().__init__()
        self._extractor = extractor

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self._extractor(pattern_text.rpartition("@")[2]).suffix)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> Any:
        if not _GATE_EMAIL.search(text):  # presidio's pattern holds an `@`
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


class _RepeatingPhoneMatcher(phonenumbers.PhoneNumberMatcher):
    """phonenumbers' matcher that parses and validates each distinct candidate once.

    The same numbers recur across a request's records (a contact table printed by several tool calls, a
    signature in every e-mail), and parsing and validating a candidate is most of the phone recognizer's
    time. Whether a candidate is a number depends only on the candidate, the region, the leniency and the
    characters just before and after it (phonenumbers' checks for surrounding letters and punctuation), so
    that is the cache key; the match is then rebuilt at its own offset.
    """

    def __init__(self, text: str, region: str, leniency: int, cache: dict[tuple[str, str, str], Any]) -> None:
        super().__init__(text, region, leniency=leniency)
        self._known = cache

    def _extract_match(self, candidate: str, offset: int) -> Any:
        # Most candidates are plain digit runs (counts, ids, times). phonenumbers would test one for a date and a
        # time stamp, then cut inner numbers from it: each of those needs a slash, space, bracket, hyphen or full
        # stop, so for a run of ASCII digits only the whole candidate is tried, as here.
        if candidate.isdigit() and candidate.isascii():
            return self._parse_and_verify(candidate, offset)
        return super()._extract_match(candidate, offset)

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        end = offset + len(candidate)
        key = (candidate, self.text[offset - 1] if offset > 0 else "", self.text[end] if end < len(self.text) else "")
        number = self._known.get(key, _UNSEEN)
        if number is not _UNSEEN:
            return None if number is None else phonenumbers.PhoneNumberMatch(offset, candidate, number)
        match = super()._parse_and_verify(candidate, offset)
        if len(self._known) >= _PHONE_CACHE_MAX:
            self._known.clear()
        self._known[key] = None if match is None else match.number
        return match


_PHONE_CACHE_MAX = 20_000  # candidates remembered (then it starts again); 50 000 kept about 4 MB more, no faster
_UNSEEN = object()


class _GatedPhoneRecognizer(PhoneRecognizer):
    """presidio's phone recognizer, skipped on texts without anything phone-like (it is the slow one), and
    validating each distinct candidate once (`_RepeatingPhoneMatcher`).

    In regions whose national numbers start with the trunk prefix 0 (most of Europe), a number is either
    international (`+`) or starts with 0; dates, times, versions and UUIDs then do not wake the recognizer.
    The results are presidio's (same spans, score and recognizer), without presidio's second parse of each
    match, which only names the number's own region in a debugging explanation.
    """

    _ANY = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6}")
    _TRUNK_ZERO = re.compile(r"(?:\+|(?<![\d.:\-])0)\(?\d(?:[\s().\-/]{0,3}\d){5}")

    def __init__(self, region: str) -> None:
        super().__init__(supported_regions=(region,))
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        trunk_zero = metadata is not None and metadata.national_prefix == "0"
        self.gate = self._TRUNK_ZERO if trunk_zero else self._ANY
        self._region = region
        self._known: dict[tuple[str, str, str], Any] = {}
        self._leniency = int(self.leniency if self.leniency is not None else phonenumbers.Leniency.VALID)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if not self.gate.search(text):
            return []
        return self.find(text)

    def find(self, text: str) -> list[RecognizerResult]:
        """The numbers in `text`, whether or not the gate opens on it."""
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        results = [
            RecognizerResult(
                entity_type=self.supported_entities[0],
                start=match.start,
                end=match.end,
                score=self.SCORE,
                analysis_explanation=AnalysisExplanation(  # one each: context enhancers update it in place
                    recognizer=PhoneRecognizer.__name__,
                    original_score=self.SCORE,
                    textual_explanation=f"Recognized as a phone number of the {self._region} numbering plan or "
                    "international, using PhoneRecognizer",
                ),
                recognition_metadata=dict(metadata),
            )
            for match in _RepeatingPhoneMatcher(text, self._region, self._leniency, self._known)
        ]
        return list(EntityRecognizer.remove_duplicates(results))


class _GatedPatterns(PatternRecognizer):
    """A pattern recognizer whose patterns run only on texts its gate finds something in (the gate being a
    necessary condition of every pattern: the results are the same, found sooner)."""

    def __init__(self, gate: re.Pattern[str] | _Prefiltered, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> Any:
        if not self.gate.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


def _fold(text: str) -> str:
    """`text` case-folded for the substring gates, with the dotted capital I folded to a plain `i` (presidio's
    regex takes `İ` for `i` when ignoring case; `str.casefold` gives `i` and a combining dot)."""
    return text.casefold().replace("i\u0307", "i")


class _HealthTerms(PatternRecognizer):
    """The health-term deny list, its regex run only on texts that hold one of the terms in any case.

    presidio matches a deny list ignoring case by simple case folding; a text it matches then holds the term
    after full case folding too (`str.casefold`), so the substring test is a necessary condition."""

    def __init__(self) -> None:
        super().__init__(supported_entity="HEALTH_TERM", name="HealthTerms", deny_list=list(HEALTH_TERMS))
        self._folded = tuple(term.casefold() for term in HEALTH_TERMS)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> Any:
        folded = _fold(text)
        if not any(term in folded for term in self._folded):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


class _GatedCardRecognizer(CreditCardRecognizer):
    """presidio's card recognizer, run only on texts with its digit groups (`_GATE_CARD`)."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> Any:
        if not _GATE_CARD.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)

    def validate_result(self, pattern_text: str) -> bool:
        """presidio's checksum, or False for a match holding a digit Python cannot read as a number (presidio's
        pattern knows newer Unicode digits than `int` does): no card number holds one, and presidio's checksum
        would raise on it and stop the whole classification."""
        try:
            return bool(super().validate_result(pattern_text))
        except ValueError:
            return False


class _GatedIbanRecognizer(IbanRecognizer):
    """presidio's IBAN recognizer, run only on texts with a country code and check digits (its pattern is
    case-sensitive and starts with them; it ignores the flags passed in)."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> Any:
        if not _GATE_IBAN.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


class _PersonHeuristics(PatternRecognizer):
    """Names shown before an e-mail address or after a salutation, run only on texts with either."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PERSON",
            name="PersonHeuristics",
            patterns=_PERSON_PATTERNS,
            global_regex_flags=_CASE_SENSITIVE,
        )

    @staticmethod
    def may_fire(text: str) -> bool:
        """A display name stands before `<address@...>`; a salutation before a name."""
        return ("<" in text and "@" in text) or any(word in _fold(text) for word in _SALUTATIONS)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> Any:
        if self.may_fire(text):
            return super().analyze(text, entities, nlp_artifacts, regex_flags)
        return []


class _GatedIpRecognizer(IpRecognizer):
    """presidio's IP recognizer with one part of its patterns (IPv4, or the IPv6 forms) and that part's gate.

    The two parts are two recognizers under presidio's name; presidio drops duplicates across recognizers as
    within one, and a result is the same whichever part found it."""

    def __init__(self, *, ipv6: bool) -> None:
        patterns = [p for p in IpRecognizer.PATTERNS if (p.name != "IPv4") is ipv6]
        super().__init__(patterns=patterns)
        self.gate: re.Pattern[str] | _Prefiltered = _FAST_GATE_IPV6 if ipv6 else _GATE_IPV4

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> Any:
        if not self.gate.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


class _NoContextEnhancer(ContextAwareEnhancer):
    """Without NLP artifacts there is no context to use; presidio's default deep-copies every result."""

    def __init__(self) -> None:
        super().__init__(context_similarity_factor=0.0, min_score_with_context_similarity=0.0, context_prefix_count=0,
                         context_suffix_count=0)  # fmt: skip

    def enhance_using_context(
        self, text: str, raw_results: list[RecognizerResult], nlp_artifacts: Any, recognizers: Any, context: Any = None
    ) -> list[RecognizerResult]:
        return raw_results


class _SubjectRecognizer(EntityRecognizer):
    """Ad-hoc recognizer of the subject's own identifiers, with the matcher's boundary rules.

    A presidio deny list (`PatternRecognizer(deny_list=...)`) would ignore the boundary rules (`%40`, phone
    groupings, `E-482130` for `E-48213`), so the subject's spans come from the matcher itself.
    """

    ENTITIES = ("SUBJECT_EMAIL", "SUBJECT_PHONE", "SUBJECT_NAME", "SUBJECT_ID")

    def __init__(self, matcher: Matcher) -> None:
        super().__init__(supported_entities=list(self.ENTITIES), name="subject", supported_language="en")
        self._matcher = matcher

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        return [
            RecognizerResult(_SUBJECT_ENTITY[span.kind], span.start, span.end, 1.0) for span in self._matcher.find(text)
        ]


_SUBJECT_ENTITY = {
    IdentifierKind.EMAIL: "SUBJECT_EMAIL",
    IdentifierKind.PHONE: "SUBJECT_PHONE",
    IdentifierKind.NAME: "SUBJECT_NAME",
    IdentifierKind.USER_ID: "SUBJECT_ID",
}

_CATEGORY_OF = {
    "SUBJECT_EMAIL": DataCategory.CONTACT_DETAILS,
    "SUBJECT_PHONE": DataCategory.CONTACT_DETAILS,
    "SUBJECT_NAME": DataCategory.IDENTIFIERS,
    "SUBJECT_ID": DataCategory.IDENTIFIERS,
    "IP_ADDRESS": DataCategory.IDENTIFIERS,
    "IBAN_CODE": DataCategory.FINANCIAL,
    "CREDIT_CARD": DataCategory.FINANCIAL,
    "UK_POSTCODE": DataCategory.LOCATION,
    "STREET_ADDRESS": DataCategory.LOCATION,
    "COORDINATES": DataCategory.LOCATION,
    "HEALTH_TERM": DataCategory.HEALTH,
}

_RELEASE_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON", "IBAN_CODE", "CREDIT_CARD")
# What a text must hold for any recognizer of `_RELEASE_ENTITIES` to fire (without NER or known names): an
# `@` (e-mail, percent-encoded `%40`, display name before an address), an IBAN's country and check digits
# (case-sensitive, as presidio's pattern), a card's digit groups, a salutation or header in any case (tested
# after case folding), or what the phone recognizer's own gate (per region) finds. This regex holds the IBAN
# and card parts; `Classifier._may_hold_release_entity` tests the rest.
# presidio's card pattern without its word boundaries and first digits: four digit groups (4, 3-4, 3-4, 3-5)
# with a separator or none between them.
_CARD_GROUPS = r"\d{4}[- ]?\d{3,4}[- ]?\d{3,4}[- ]?\d{3,5}"
_RELEASE_GATE = re.compile(rf"[A-Z]{{2}}[0-9]{{2}}|{_CARD_GROUPS}")

# A capitalised word, capitals inside allowed before a lower-case letter (McDonald, O'Neil, DeVries), or a word
# in capitals (NOWAK); a name never ends inside a word (`_NAME_END`), so it is never cut short.
_WORD = r"(?:[A-ZÀ-ÖØ-Þ](?:[a-zà-öø-ÿ'’]|[A-ZÀ-ÖØ-Þ](?=[a-zà-öø-ÿ]))+|[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ'’]+)"
_NAME_WORD = rf"{_WORD}(?:-{_WORD})?"
_NAME_END = r"(?![\w'’-])"
_PERSON_PATTERNS = [
    Pattern(
        "display name", rf"(?<![\w'’-]){_NAME_WORD}(?: {_NAME_WORD}){{1,2}}{_NAME_END}(?=\s*<[^<>\s@]+@[^<>\s]+>)", 0.7
    ),
    Pattern(
        "salutation",
        rf"(?<=\b(?i:Dear|Hi|Hello|From:|To:|Cc:|Bcc:) ){_NAME_WORD}(?: {_NAME_WORD}){{1,2}}{_NAME_END}",
        0.6,
    ),
]
_LOCATION_PATTERNS = [
    Pattern(
        "street",
        r"\b\d{1,4}[A-Za-z]? (?:[A-Z][a-z]+ ){1,3}(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Drive|Way|Close"
        r"|Court|Place|Square|Gardens|Crescent|Terrace)\b",
        0.6,
    ),
    Pattern("strasse", r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|weg|gasse|platz|allee) \d{1,4}[a-z]?\b", 0.6),
]
_COORDINATE_PATTERNS = [Pattern("lat,lon", r"(?<![\d.])-?\d{1,2}\.\d{4,},\s?-?\d{1,3}\.\d{4,}(?![\d.])", 0.6)]
# presidio's UK postcode recognizer scores 0.1 without NLP context words; this one is case-sensitive instead.
_UK_POSTCODE = [Pattern("uk postcode", r"\b(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?[0-9][A-Z]{2}\b", 0.5)]
_PCT_EMAIL = [Pattern("percent-encoded e-mail", r"\b[\w.+\-]+%40[\w\-]+(?:\.[\w\-]+)+\b", 0.6)]
# Our own patterns are matched case-sensitively (presidio's default flags ignore case): a capitalised word
# is what makes a name or a street, and ignoring case made "please write to <a@b.example>" a person and "in
# 3 minutes the way" a street. Salutation words match in any case.
_CASE_SENSITIVE = re.MULTILINE | re.DOTALL

# What a text must hold before a recognizer's patterns can match, each a necessary condition read off the
# patterns (tests check them against the full patterns): a gate that fails skips the recognizer's regexes.
_GATE_EMAIL = re.compile("@")
_GATE_PCT_EMAIL = re.compile("%40")
_GATE_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}[0-9]{2}")  # presidio's IBAN pattern, case-sensitive
# A string whose digits run shorter than a card's (a phone number, an epoch time, a date written without
# separators) is not searched with presidio's slower pattern.
_GATE_CARD = re.compile(_CARD_GROUPS)
_GATE_IPV4 = re.compile(r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")  # a dotted quad
# Every IPv6 form (and IPv4 mapped or embedded in one) holds `::` or six groups each followed by a colon.
_GATE_IPV6 = re.compile(r"::|(?:[0-9A-Fa-f]{1,4}:){6}")
# The salutation words, case-folded: any case of them (presidio's regex folds case simply; none of these
# letters has a simple fold other than its ASCII pair) holds them after `str.casefold`.
_SALUTATIONS = ("dear ", "hi ", "hello ", "from: ", "to: ", "cc: ", "bcc: ")
_GATE_STREET = re.compile(
    r"\d[A-Za-z]? [A-Z]|(?:straße|strasse|weg|gasse|platz|allee) \d"
)  # fmt: skip
_GATE_COORDINATES = re.compile(r"\d\.\d{4,},")


class _Prefiltered:
    """A gate regex searched only in texts that hold `literal` (then it passes at once: the gate's pattern is
    `literal|...`) or match `necessary`, a pattern every match of the gate's matches and that starts with a
    fixed character, which the regex engine finds by fast search (a pattern starting with a character class
    is tried at every position). The same answer as the gate's, sooner."""

    def __init__(self, gate: re.Pattern[str], necessary: str, literal: str | None = None) -> None:
        self.pattern = gate
        self._necessary = re.compile(necessary)
        self._literal = literal

    def search(self, text: str) -> bool:
        if self._literal is not None and self._literal in text:
            return True
        return bool(self._necessary.search(text)) and bool(self.pattern.search(text))


# Six groups each followed by a colon hold a colon followed by five more; a coordinate holds `.dddd,`.
_FAST_GATE_IPV6 = _Prefiltered(_GATE_IPV6, r":(?:[0-9A-Fa-f]{1,4}:){5}", literal="::")
_FAST_GATE_COORDINATES = _Prefiltered(_GATE_COORDINATES, r"\.\d{4,},")
_GATE_POSTCODE = re.compile(r"[0-9][A-Z]{2}")


def _is_blob(text: str) -> bool:
    return len(text) >= _BLOB_MIN and not any(c.isspace() for c in text[:_BLOB_MIN])


def _pattern_recognizers(extractor: tldextract.TLDExtract, phone: _GatedPhoneRecognizer) -> list[EntityRecognizer]:
    """The offline recognizers every classifier has (known names and NER come on top)."""
    return [
        _OfflineEmailRecognizer(extractor),
        _GatedPatterns(_GATE_PCT_EMAIL, supported_entity="EMAIL_ADDRESS", name="PercentEmail", patterns=_PCT_EMAIL),
        phone,
        _GatedIbanRecognizer(),
        _GatedCardRecognizer(),
        _GatedIpRecognizer(ipv6=False),
        _GatedIpRecognizer(ipv6=True),
        _GatedPatterns(
            _GATE_POSTCODE,
            supported_entity="UK_POSTCODE",
            name="UkPostcode",
            patterns=_UK_POSTCODE,
            global_regex_flags=_CASE_SENSITIVE,
        ),
        _HealthTerms(),
        _GatedPatterns(
            _GATE_STREET,
            supported_entity="STREET_ADDRESS",
            name="Street",
            patterns=_LOCATION_PATTERNS,
            global_regex_flags=_CASE_SENSITIVE,
        ),
        _GatedPatterns(
            _FAST_GATE_COORDINATES,
            supported_entity="COORDINATES",
            name="Coordinates",
            patterns=_COORDINATE_PATTERNS,
            global_regex_flags=_CASE_SENSITIVE,
        ),
        _PersonHeuristics(),
    ]


class Classifier:
    """Presidio-based classifier of confirmed records; build once per request and reuse."""

    def __init__(
        self,
        *,
        default_region: str = "GB",
        spacy_model: str | None = None,
        third_party_names: Sequence[str] = (),
        internal_suffixes: Sequence[str] = INTERNAL_SUFFIXES,
    ) -> None:
        """Build the offline analyzer.

        Args:
            default_region: the controller's region, for national phone formats of third parties.
            spacy_model: an installed spaCy model to use for PERSON (never downloaded), else None.
            third_party_names: known names of other people (deny list).
            internal_suffixes: domain suffixes accepted for e-mail addresses besides the public suffix list.

        Raises:
            ConfigError: `spacy_model` is not installed.
        """
        extractor = _suffix_extractor(tuple(internal_suffixes))
        phone = _GatedPhoneRecognizer(default_region.upper())
        recognizers = _pattern_recognizers(extractor, phone)
        names = [n.strip() for n in third_party_names if n.strip()]
        if names:
            recognizers.append(PatternRecognizer(supported_entity="PERSON", name="KnownPeople", deny_list=names))
        nlp_engine: Any
        if spacy_model:
            nlp_engine = _spacy_engine(spacy_model)
        else:
            nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        if spacy_model:
            registry.add_nlp_recognizer(nlp_engine=nlp_engine)
        self.spacy_model = spacy_model
        self._analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=["en"],
            context_aware_enhancer=None if spacy_model else _NoContextEnhancer(),
        )
        self._subject: tuple[Matcher, _SubjectRecognizer] | None = None
        # Whether the person heuristics are the only recognizer of names (no known names, no NER model).
        self._person_by_heuristics_only = all(
            isinstance(r, _PersonHeuristics) for r in registry.get_recognizers(language="en", entities=["PERSON"])
        )
        # Known names and NER can fire on any text: no gate then.
        self._release_gated = not (names or spacy_model)
        self._phone_gate = phone.gate
        self._phone = phone
        # What the recognizers other than the person heuristics find in each distinct piece of a record. Their
        # matches never span the blank line between pieces and read no text beyond it, so a piece's results do
        # not depend on its neighbours; the person heuristics (a name before an address on the next piece) and
        # the subject's spans read the whole record. Known names and NER read across pieces too: no memory then.
        self._pieces: _PieceMemory | None = {} if self._release_gated else None

    def remembered(self) -> _PieceMemory:
        """What classification remembers of each distinct piece (a copy; empty where nothing is remembered)."""
        return dict(self._pieces) if self._pieces is not None else {}

    def remember(self, pieces: _PieceMemory) -> None:
        """Take over what another classifier of the same settings remembered (`remembered`), within the bound:
        the results of a piece are the same whichever classifier analysed it."""
        memory = self._pieces
        if memory is None:
            return
        if len(memory) + len(pieces) > _PIECES_MAX:
            memory.clear()
        memory.update(pieces if len(pieces) <= _PIECES_MAX else dict(list(pieces.items())[:_PIECES_MAX]))

    def _subject_recognizer(self, matcher: Matcher) -> _SubjectRecognizer:
        if self._subject is None or self._subject[0] is not matcher:
            self._subject = (matcher, _SubjectRecognizer(matcher))
        return self._subject[1]

    def analyze_text(self, text: str, matcher: Matcher) -> list[RecognizerResult]:
        """Raw presidio results (subject entities included) on one text; for benchmarks and tests."""
        results: list[RecognizerResult] = self._analyzer.analyze(
            text=text,
            language="en",
            ad_hoc_recognizers=[self._subject_recognizer(matcher)],
            score_threshold=_SCORE_THRESHOLD,
        )
        return results

    def _may_hold_release_entity(self, text: str) -> bool:
        """Whether any recognizer of `_RELEASE_ENTITIES` could fire on `text` (see `_RELEASE_GATE`)."""
        if "@" in text or "%40" in text or _RELEASE_GATE.search(text) or self._phone_gate.search(text):
            return True
        folded = _fold(text)
        return any(word in folded for word in _SALUTATIONS)

    def detect_others(self, text: str, matcher: Matcher) -> list[tuple[int, int, str]]:
        """(start, end, entity) of presidio's detections of people's data (e-mail, phone, name, IBAN, card)
        in `text` that do not overlap the subject's own spans: what a release check must not let through."""
        if not text or _is_blob(text) or text.isdigit():
            return []
        remembered = self._remembered_release_results(text)
        if remembered is not None:
            results = remembered
        elif self._release_gated and not self._may_hold_release_entity(text):
            return []  # nothing any recognizer of these entities could fire on (most of a package's text)
        else:
            results = self._analyzer.analyze(
                text=text, language="en", entities=list(_RELEASE_ENTITIES), score_threshold=_SCORE_THRESHOLD
            )
        if not results:
            return []
        own = [(s.start, s.end) for s in matcher.find(text)]
        return [
            (r.start, r.end, r.entity_type)
            for r in results
            if not any(s < r.end and r.start < e for s, e in own)
            and not embedded_number(text, r.start, r.end, r.entity_type)
        ]

    def _remembered_release_results(self, text: str) -> list[RecognizerResult] | None:
        """What presidio finds of `_RELEASE_ENTITIES` in `text` when classification analysed the same string (most
        of a package is unchanged by redaction): its e-mail, IBAN and card results, its numbers when the phone
        gate opens on `text`, and the person heuristics run now (they read only `text`). None when not known."""
        memory = self._pieces
        key = text_key(text)
        found = memory.get(key) if memory is not None else None
        if found is None:
            return None
        others, numbers = found
        if self._phone_gate.search(text):
            if numbers is None:
                # A safeguard: a piece's numbers are unknown only while the gate stayed shut on every record holding
                # it, so it is shut on the piece itself (a match in the piece is one in the record). Found now.
                numbers = tuple(_in_pieces(self._phone.find, [text])[0])
                if memory is not None:
                    memory[key] = (others, numbers)
            others = others + numbers
        results = [
            RecognizerResult(entity, start, end, score)
            for entity, start, end, score in others
            if entity in _RELEASE_ENTITIES
        ]
        if _PersonHeuristics.may_fire(text):
            results += self._analyzer.analyze(
                text=text, language="en", entities=["PERSON"], score_threshold=_SCORE_THRESHOLD
            )
        return list(EntityRecognizer.remove_duplicates(results))

    def _record_results(
        self, joined: str, texts: list[str], starts: list[int], matcher: Matcher
    ) -> list[RecognizerResult]:
        """What `analyze_text(joined)` gives: person heuristics and the subject on the whole record, every
        other recognizer once per distinct piece (remembered across records: the same strings recur)."""
        memory = self._pieces
        if memory is None or len(joined) >= _PIECEWISE_MAX:
            return self.analyze_text(joined, matcher)
        results: list[RecognizerResult]
        if self._person_by_heuristics_only and not _PersonHeuristics.may_fire(joined):
            # No name can be found here, so presidio would give the subject's spans, above the threshold and
            # without duplicates: that, without its work per call (most records).
            subject = self._subject_recognizer(matcher).analyze(joined, list(_SubjectRecognizer.ENTITIES))
            results = EntityRecognizer.remove_duplicates([r for r in subject if r.score >= _SCORE_THRESHOLD])
        else:
            results = self._analyzer.analyze(
                text=joined,
                language="en",
                entities=["PERSON", *_SubjectRecognizer.ENTITIES],
                ad_hoc_recognizers=[self._subject_recognizer(matcher)],
                score_threshold=_SCORE_THRESHOLD,
            )
        # The phone gate is a heuristic on the whole text (a `+` anywhere opens it for every number): a piece's
        # numbers are found, and remembered, only when it opens on a record that holds the piece.
        phones = bool(self._phone_gate.search(joined))
        for offset, (entity, start, end, score) in _piece_results(
            self._analyzer, self._phone, memory, texts, starts, phones=phones
        ):
            results.append(RecognizerResult(entity, offset + start, offset + end, score))
        # Duplicates are dropped per entity and within one piece: dropping them again over the union changes
        # nothing else (presidio does the same once over all results).
        return list(EntityRecognizer.remove_duplicates(results))

    def classify(self, value: object, matcher: Matcher) -> Classification:
        """Categories and third parties of one confirmed record (a decoded JSON value or a text).

        Every string and object key is analyzed (blobs such as base64 images excepted); subject spans
        come from the matcher, and a finding overlapping a subject span is the subject's, not a third
        party's. A category counts only from the subject's data: another person's e-mail, phone, IBAN,
        card or IP address (the third-party findings, redacted from the copy) adds no category, even on
        the same line as the subject.
        """
        pieces: list[tuple[object, bool, str]] = [  # (path: `pointer_of` gives the pointer, is key, text)
            (path, is_key, text)
            for text, path, is_key in walk_strings(value)
            if text and not _is_blob(text) and not text.isdigit()
        ]
        if not pieces:
            return Classification((), ())
        starts: list[int] = []
        position = 0
        for _, _, text in pieces:
            starts.append(position)
            position += len(text) + len(_JOIN)
        joined = _JOIN.join(text for _, _, text in pieces)
        results = self._record_results(joined, [text for _, _, text in pieces], starts, matcher)
        subject = [r for r in results if r.entity_type.startswith("SUBJECT_")]
        categories: set[str] = set()
        third: list[ThirdPartyFinding] = []
        entities = {e.value for e in ThirdPartyEntity}
        for result in results:
            category = _CATEGORY_OF.get(result.entity_type)
            if category is None:
                continue
            if result.entity_type in entities and not any(
                s.start < result.end and result.start < s.end for s in subject
            ):
                continue  # another person's e-mail, phone, IBAN, card or IP: not a category of the subject's data
            categories.add(category)
        for result in subject:
            index = bisect.bisect_right(starts, result.start) - 1
            text = pieces[index][2]
            if _is_free_text(text, result.end - result.start):
                categories.add(DataCategory.FREE_TEXT_MENTIONS)
        for result in sorted(results, key=lambda r: (r.start, -r.end)):
            if result.entity_type not in entities:
                continue
            if any(s.start < result.end and result.start < s.end for s in subject):
                continue
            index = bisect.bisect_right(starts, result.start) - 1
            path, is_key, text = pieces[index]
            start = result.start - starts[index]
            end = min(result.end - starts[index], len(text))
            if start < 0 or start >= end or embedded_number(text, start, end, result.entity_type):
                continue
            pointer = pointer_of(path)[1]
            third.append(ThirdPartyFinding(pointer, is_key, start, end, result.entity_type, text[start:end]))
        return Classification(tuple(sorted(str(c) for c in categories)), tuple(_drop_nested(third)))


def _piece_results(
    analyzer: AnalyzerEngine,
    phone: _GatedPhoneRecognizer,
    memory: _PieceMemory,
    texts: list[str],
    starts: list[int],
    *,
    phones: bool,
) -> list[tuple[int, _Result]]:
    """(piece start, result in the piece) for every piece, its phone numbers only with `phones`; the pieces not in
    `memory` are analysed together (joined by blank lines, as a record is: no result spans two of them) and
    remembered, and so are the numbers of those whose numbers were not found before."""
    keys = [text_key(text) for text in texts]
    new = {key: text for key, text in zip(keys, texts, strict=True) if key not in memory}
    if new:
        if len(memory) + len(new) > _PIECES_MAX:
            memory.clear()
            new = dict(zip(keys, texts, strict=True))
        entities = [e for e in analyzer.get_supported_entities("en") if e not in ("PERSON", _PHONE)]
        found = _in_pieces(
            lambda batch: analyzer.analyze(
                text=batch, language="en", entities=entities, score_threshold=_SCORE_THRESHOLD
            ),
            list(new.values()),
        )
        for key, results in zip(new, found, strict=True):
            memory[key] = (tuple(results), None) if results else _UNKNOWN
    if phones:
        unknown = {key: text for key, text in zip(keys, texts, strict=True) if memory[key][1] is None}
        if unknown:
            numbers = _in_pieces(phone.find, list(unknown.values()))
            for key, results in zip(unknown, numbers, strict=True):
                others = memory[key][0]
                memory[key] = (others, tuple(results)) if others or results else _NOTHING
    return [
        (start, result)
        for key, start in zip(keys, starts, strict=True)
        for result in (memory[key][0] + (memory[key][1] or ()) if phones else memory[key][0])
    ]


def _in_pieces(analyse: Callable[[str], list[RecognizerResult]], texts: list[str]) -> list[list[_Result]]:
    """`analyse`'s results above the threshold on `texts` joined by blank lines (one call), each given back to its
    own text at its own offsets: no result spans two texts."""
    offsets: list[int] = []
    position = 0
    for text in texts:
        offsets.append(position)
        position += len(text) + len(_JOIN)
    found: list[list[_Result]] = [[] for _ in offsets]
    for r in analyse(_JOIN.join(texts)):
        if r.score < _SCORE_THRESHOLD:
            continue
        index = bisect.bisect_right(offsets, r.start) - 1
        found[index].append((r.entity_type, r.start - offsets[index], r.end - offsets[index], r.score))
    return found


_NUMBER_ENTITIES = frozenset({"CREDIT_CARD", "PHONE_NUMBER"})
_GLUE = "/\\_"


def embedded_number(text: str, start: int, end: int, entity: str) -> bool:
    """A card or phone detection that is a digit run glued into a path or an identifier (an agent's task id
    such as `tasks/1772442000000/`, a file name `1772442000000.json`): part of a name, not a person's number.
    A number in prose is delimited by spaces or punctuation; a sentence's final full stop does not glue."""
    if entity not in _NUMBER_ENTITIES:
        return False
    before = text[start - 1 : start] if start > 0 else ""
    after = text[end : end + 1]
    glued_before = before != "" and (before.isalnum() or before in _GLUE)
    glued_after = after != "" and (
        after.isalnum() or after in _GLUE or (after == "." and text[end + 1 : end + 2].isalnum())
    )
    return glued_before or glued_after


def _is_free_text(text: str, span_length: int) -> bool:
    """A mention inside prose (several words around it), not a field that is just the identifier."""
    return len(text) > span_length + 10 and len(text.split()) >= 4


def _drop_nested(findings: Iterable[ThirdPartyFinding]) -> list[ThirdPartyFinding]:
    """Keep the longest finding where findings in the same string overlap."""
    kept: list[ThirdPartyFinding] = []
    for finding in sorted(findings, key=lambda f: (f.pointer, f.in_key, f.start, -f.end)):
        last = kept[-1] if kept else None
        if last and (last.pointer, last.in_key) == (finding.pointer, finding.in_key) and finding.start < last.end:
            if finding.end > last.end:
                kept[-1] = ThirdPartyFinding(
                    last.pointer,
                    last.in_key,
                    last.start,
                    finding.end,
                    last.entity,
                    last.text + finding.text[last.end - finding.start :],
                )
            continue
        kept.append(finding)
    return kept


def _spacy_engine(model: str) -> Any:
    import spacy  # noqa: PLC0415 - only when a model is configured

    if not spacy.util.is_package(model):
        raise ConfigError("configured spaCy model is not installed (it is never downloaded)", model=model)
    from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: PLC0415

    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
    )
    return provider.create_engine()


def subject_spans(value: object, matcher: Matcher) -> list[tuple[str, Span]]:
    """(pointer, span) of every subject occurrence in a decoded record (convenience for callers)."""
    return list(matcher.iter_matches(value))
