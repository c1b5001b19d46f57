"""Package items from staged findings: each distinct text is classified once, and a repeated record gets the
same redacted copy as its first occurrence (markers numbered per document)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from detection.classify import Classifier
from detection.findings import Classification, Finding, FindingLocation
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.others import OtherPeople, _Finder
from reports.access_input import PackageItem
from reports.access_package import build_access_package
from services import access, forked
from services.access import REDACTION_SOURCES, _redacted_items
from services.staging import ITEM_SPOOL, TEXT_SPOOL, SpooledItems, SpooledText, TextSpool
from tests.unit.reports.samples import package_input

RECORD = json.dumps({"text": "Mira Okafor asked Greta at g.lindqvist@elsewhere.invalid for the plan"})
OTHER = json.dumps({"text": "Mira Okafor wrote to b.keller@elsewhere.invalid"})


class _Counting(Classifier):
    """Notes each record it classifies, and which process classified it, in a file (a forked child classifies
    a share of the records)."""

    def __init__(self, log: Path) -> None:
        super().__init__(default_region="GB")
        self.log = log

    def classify(self, value: object, matcher: Matcher) -> Classification:
        with self.log.open("a", encoding="utf-8") as out:
            out.write(json.dumps([os.getpid(), value]) + "\n")
        return super().classify(value, matcher)

    @property
    def calls(self) -> list[tuple[int, object]]:
        return [tuple(json.loads(line)) for line in self.log.read_text(encoding="utf-8").splitlines()]


def _subject() -> Matcher:
    return Matcher.from_identifiers(
        SubjectIdentifiers(emails=("mira.okafor@customer.invalid",), names=("Mira Okafor",)), default_region="GB"
    )


_SETTINGS: Any = SimpleNamespace(controller=SimpleNamespace(phone_region="GB"))  # what the items read of settings


def _finding(session: str, line: int, content: str) -> Finding:
    return Finding(FindingLocation(f"/h/{session}.jsonl", line, endpoint="lap"), "transcript", "owned_session",
                   app="claude-code", session_id=session, content=content)  # fmt: skip


def test_each_distinct_text_is_classified_once_and_copies_match(tmp_path: Path) -> None:
    """Three copies of one record in two conversations and one other record: two classifications (one by the
    forked child where there is one); the copies read the same in each conversation, with markers numbered per
    conversation."""
    matcher = _subject()
    staged = [_finding("a", 1, OTHER), _finding("a", 2, RECORD), _finding("a", 3, RECORD), _finding("b", 1, RECORD)]
    classifier = _Counting(tmp_path / "calls")
    settings = _SETTINGS
    items = _redacted_items(settings, lambda: iter(staged), matcher, classifier, OtherPeople(matcher))
    calls = classifier.calls
    assert sorted(json.dumps(value) for _, value in calls) == sorted([json.dumps(json.loads(OTHER)), RECORD])
    assert len({pid for pid, _ in calls}) == (2 if forked.can_fork() else 1)
    assert [i.content for i in items[1:3]] == [items[1].content] * 2
    assert "g.lindqvist" not in items[1].content and "[email 2]" in items[1].content
    assert "[email 1]" in items[3].content and items[1].redactions == items[3].redactions
    assert "Mira Okafor" in items[3].content


def test_the_redaction_finder_remembers_no_string_once_the_items_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The finder that redacted the records is kept (by `OtherPeople`) while the package is built, which
    searches strings of its own: its memory of the records' strings is dropped when the items are done, and it
    finds the same afterwards."""
    matcher = _subject()
    staged = [_finding("a", 1, OTHER), _finding("a", 2, RECORD), _finding("b", 1, RECORD)]
    settings = _SETTINGS
    searched: list[str] = []
    find = _Finder.find
    monkeypatch.setattr(_Finder, "find", lambda self, text: searched.append(text) or find(self, text))
    people = OtherPeople(matcher)
    items = _redacted_items(settings, lambda: iter(staged), matcher, Classifier(default_region="GB"), people)
    assert "[email 1]" in items[0].content
    assert searched  # the records' strings went through the finder
    finder = people.finder(REDACTION_SOURCES)
    assert finder._cache == {}
    text = "ask b.keller@elsewhere.invalid"
    assert [text[h.start : h.end] for h in finder.find(text)] == ["b.keller@elsewhere.invalid"]


def test_with_a_spool_items_hold_no_text_and_read_the_same(tmp_path: Path) -> None:
    """With the package's spool each distinct redacted text is sealed once into it (once per document, as it
    is redacted once there); the items keep only where it is and read the same texts as without a spool."""
    matcher = _subject()
    staged = [_finding("a", 1, OTHER), _finding("a", 2, RECORD), _finding("a", 3, RECORD), _finding("b", 1, RECORD)]
    settings = _SETTINGS
    plain = _redacted_items(settings, lambda: iter(staged), matcher, Classifier(default_region="GB"),
                            OtherPeople(matcher))  # fmt: skip
    with TextSpool(tmp_path, bytes(32)) as spool:
        items = _redacted_items(settings, lambda: iter(staged), matcher, Classifier(default_region="GB"),
                                OtherPeople(matcher), spool)  # fmt: skip
        assert all(isinstance(i.content_source, SpooledText) for i in items)
        assert len({i.content_source for i in items}) == 3  # "a" 1, "a" 2 = "a" 3, "b" 1
        assert [i.content for i in items] == [i.content for i in plain]
        assert [i.decoded() for i in items] == [i.decoded() for i in plain]


def test_third_parties_parked_in_the_spool_come_back_equal(tmp_path: Path) -> None:
    """Between the two passes a record's third-party findings wait sealed in the spool (not in memory): they
    come back equal, names that are not valid UTF-8 included; without findings or a spool nothing is sealed."""
    from detection.findings import ThirdPartyFinding
    from services.access import _park, _unpark

    third = (
        ThirdPartyFinding("/text", False, 0, 5, "PERSON", "Greta"),
        ThirdPartyFinding("/mail/ä", True, 2, 30, "EMAIL_ADDRESS", "g.x@elsewhere.invalid\udcff"),
    )
    with TextSpool(tmp_path, bytes(32)) as spool:
        parked = _park(third, spool)
        assert isinstance(parked, SpooledText)
        assert b"Greta" not in (tmp_path / TEXT_SPOOL).read_bytes()  # sealed, not plain JSON
        assert _unpark(parked) == third
        assert _park((), spool) == ()
    assert _park(third, None) is third and _unpark(third) is third


def _live_items() -> int:
    gc.collect()
    return sum(isinstance(o, PackageItem) for o in gc.get_objects())


def test_with_a_spool_the_items_are_sealed_in_staging_not_kept_in_memory(tmp_path: Path) -> None:
    """The items go to the spool's item file, sealed, and the sequence returned holds none of them: no item
    object is alive once it is built; its length is known without reading, and each pass reads them back."""
    matcher = _subject()
    staged = [_finding("a", 1, OTHER), _finding("a", 2, RECORD), _finding("a", 3, RECORD), _finding("b", 1, RECORD)]
    settings = _SETTINGS
    plain = _redacted_items(settings, lambda: iter(staged), matcher, Classifier(default_region="GB"),
                            OtherPeople(matcher))  # fmt: skip
    expected = [(i.location, i.timestamp, i.categories, i.content, i.redactions) for i in plain]
    del plain
    with TextSpool(tmp_path, bytes(32)) as spool:
        before = _live_items()
        items = _redacted_items(settings, lambda: iter(staged), matcher, Classifier(default_region="GB"),
                                OtherPeople(matcher), spool)  # fmt: skip
        assert isinstance(items, SpooledItems) and not isinstance(items, tuple | list)
        assert _live_items() == before
        assert len(items) == 4 and (tmp_path / ITEM_SPOOL).exists()
        assert b"lap" not in (tmp_path / ITEM_SPOOL).read_bytes()  # sealed, not plain JSON
        for _ in range(2):
            assert [(i.location, i.timestamp, i.categories, i.content, i.redactions) for i in items] == expected
        assert items[-1].content == expected[-1][3] and [i.content for i in items[1:3]] == [expected[1][3]] * 2
    assert not (tmp_path / ITEM_SPOOL).exists()


def test_a_package_of_spooled_items_is_the_package_of_the_same_items_in_memory(tmp_path: Path) -> None:
    """Built from sealed items (given out of order, so read through the package order), the package's files are
    byte for byte those built from the tuple; while it is written no item is held in memory."""
    whole = build_access_package(package_input(), tmp_path / "tuple", pdf=False).path
    held: list[int] = []
    with TextSpool(tmp_path, bytes(32)) as spool:
        for item in reversed(package_input().items):
            spool.items.append(item)
        del item
        spooled = package_input(items=spool.items)
        assert _live_items() == 0
        root = build_access_package(
            spooled, tmp_path / "spool", pdf=False, while_printing=lambda _root: held.append(_live_items())
        ).path
    assert held == [0]  # the data files and report.html are written: their items were read one at a time
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert all((whole / f).read_bytes() == (root / f).read_bytes() for f in files)


_SHOWN = [
    "Mira Okafor forwarded this from Anna Keller <anna.keller@elsewhere.invalid>, call +44 20 7946 0999",
    "Dear Bruno,\nthe plan is attached.\nBest regards,\nGreta Lindqvist",
    "ANNA KELLER <anna.keller@elsewhere.invalid> asked again; Mira Okafor answered",
    "Hi Priya, ask g.lindqvist@elsewhere.invalid or 07700 900123 about it",
    "nothing about anyone here",
    "Kind regards,\nBruno Marsh\n+44 20 7946 0111",
    "Write again to anna.keller@elsewhere.invalid, Mira Okafor",
]


def _people_known(people: OtherPeople) -> dict[str, list[tuple[str, str, str]]]:
    tables = {"names": people._names, "parts": people._parts, "emails": people._emails, "phones": people._phones}
    return {name: sorted((k, v.canonical, v.source) for k, v in table.items()) for name, table in tables.items()}


def _learned_in_one_pass(staged: list[Finding], matcher: Matcher) -> dict[str, Any]:
    """The people the records show, learned as one pass over the distinct records learns them, record by record."""
    people, classifier, seen = OtherPeople(matcher), Classifier(default_region="GB"), set()
    for item in staged:
        if item.content in seen:
            continue
        seen.add(item.content)
        value = json.loads(item.content or "null")
        people.learn(value)
        for found in classifier.classify(value, matcher).third_parties:
            if found.entity == "EMAIL_ADDRESS":
                people.add_email(found.text, "data")
            elif found.entity == "PHONE_NUMBER":
                people.add_phone(found.text, "data", "GB")
            elif found.entity == "PERSON":
                people.add_name(found.text, "data")
    return _people_known(people)


@pytest.mark.parametrize("child", ["forked", "classifying fails", "redacting fails"])
def test_records_classified_and_redacted_in_two_shares_give_the_items_and_people_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: str
) -> None:
    """About half the distinct records (dealt by their text) classified by a forked child (its third parties sealed
    in a spool part of its own), what they show learned here in order, then every other document redacted by another
    child: the same items (texts, markers, counts) as one pass without a child, and the same people, with the
    spelling first seen, as learning record by record; a child that fails is replaced by its share done here. No
    part file is left."""
    matcher = _subject()
    texts = [json.dumps({"text": text}) for text in _SHOWN]
    # The distinct records, in order: 4, 0, 2, 6, 1, 3, 5, dealt by their text. "Anna Keller" (0) is the child's
    # first; "ANNA KELLER" (2) comes next, here: the spelling kept is the first one's. 0 and 6 show the same address
    # in one share.
    order = {"a": [4, 0, 2, 6, 1, 3, 5, 0], "bb": [3, 1, 5, 0, 2, 6], "a2": [2, 4, 1]}
    staged = [_finding(session, n, texts[t]) for session, ts in order.items() for n, t in enumerate(ts)]
    dealer = access._Dealer(2)
    dealt = {t: dealer.deal(len(texts[t])) for t in [4, 0, 2, 6, 1, 3, 5]}
    assert (dealt[0], dealt[2], dealt[6]) == (1, 0, 1)

    def run(spool: TextSpool | None) -> tuple[list[tuple[str, object]], dict[str, Any]]:
        people = OtherPeople(matcher)
        classifier = Classifier(default_region="GB")
        items = _redacted_items(_SETTINGS, lambda: iter(staged), matcher, classifier, people, spool)
        return [(i.content, i.redactions) for i in items], _people_known(people)

    with monkeypatch.context() as one_pass:
        one_pass.setattr(forked.sys, "platform", "win32")
        expected = run(None)
    assert expected[1] == _learned_in_one_pass(staged, matcher)
    assert ("anna keller", "Anna Keller", "data") in expected[1]["names"]
    assert expected[1]["emails"] and expected[1]["phones"]
    if child != "forked":
        parent, name = os.getpid(), "_classify_share" if child == "classifying fails" else "_redact_share"
        share = getattr(access, name)

        def failing(*args: Any, **kwargs: Any) -> Any:
            if os.getpid() != parent:
                os._exit(3)
            return share(*args, **kwargs)

        monkeypatch.setattr(access, name, failing)
    assert run(None) == expected
    with TextSpool(tmp_path, bytes(32)) as spool:
        assert run(spool) == expected
        assert not list(tmp_path.glob(f"{TEXT_SPOOL}.part*"))  # the children's parts, once moved or read
    assert not list(tmp_path.glob(f"{TEXT_SPOOL}*"))


@pytest.mark.parametrize("changed", ["in the child's first pass", "after the first pass"])
def test_staging_that_changes_between_the_passes_builds_nothing(changed: str) -> None:
    """A pass that reads records another did not (staging written to meanwhile) stops the assembly with a clear,
    retryable error: a record left unclassified, or a package of mixed reads numbering one person's markers twice,
    is never built. The error pickles (it crosses Prefect's task boundary)."""
    import pickle

    from services.access import StagingChangedError

    matcher = _subject()
    first = [_finding("a", 1, OTHER), _finding("a", 2, RECORD), _finding("b", 1, RECORD)]
    later = [*first, _finding("c", 1, json.dumps({"text": "new since: ana@elsewhere.invalid"}))]
    parent, reads = os.getpid(), {"n": 0}

    def staged() -> Any:
        reads["n"] += 1
        child_sees_later = changed == "in the child's first pass" and os.getpid() != parent
        return iter(first if reads["n"] == 1 and not child_sees_later else later)

    with pytest.raises(StagingChangedError, match="run the request again") as raised:
        _redacted_items(_SETTINGS, staged, matcher, Classifier(default_region="GB"), OtherPeople(matcher))
    assert raised.value.retryable
    assert str(pickle.loads(pickle.dumps(raised.value))) == str(raised.value)  # noqa: S301 - our own error


def test_a_read_that_differs_but_deals_alike_builds_nothing() -> None:
    """The child's first read holds one more record, empty, than every other read: it is dealt without moving
    any other record to another share, so both processes still classify every record the other expects. The
    reads differ all the same, and the assembly stops with the retryable error (comparing the records read, not
    only the records classified)."""
    from services.access import StagingChangedError

    matcher = _subject()
    first = [_finding("a", 1, OTHER), _finding("a", 2, RECORD), _finding("b", 1, RECORD)]
    parent, reads = os.getpid(), {"n": 0}

    def staged() -> Any:
        reads["n"] += 1
        if os.getpid() != parent and reads["n"] == 1:  # the classifying child's read
            return iter([_finding("c", 1, ""), *first])
        return iter(first)

    with pytest.raises(StagingChangedError, match="run the request again"):
        _redacted_items(_SETTINGS, staged, matcher, Classifier(default_region="GB"), OtherPeople(matcher))


def test_records_are_dealt_to_the_shares_by_their_text() -> None:
    """Long and short records that alternate (as records of different kinds do in staging) are dealt to two shares
    of about equal text, where taking every other record would give one share all the long ones; dealt again in
    the same order (another process reading the same staging), each goes to the same share."""
    sizes = [1000, 10] * 50 + [5, 700, 3]
    dealer = access._Dealer(2)
    shares = [dealer.deal(size) for size in sizes]
    load = [sum(size for size, share in zip(sizes, shares, strict=True) if share == k) for k in (0, 1)]
    assert abs(load[0] - load[1]) <= max(sizes)
    again = access._Dealer(2)
    assert [again.deal(size) for size in sizes] == shares


def test_the_classifying_shares_are_dealt_by_text_apart_and_whole() -> None:
    """The two classifying shares, over long and short records in turn: no record in both, none in neither, and
    about as much text in each (taking every other record would give one share all the long ones)."""
    matcher = _subject()
    texts = [json.dumps({"text": ("long " * 200 if n % 2 == 0 else "short") + f" {n}"}) for n in range(40)]
    staged = [_finding("a", n, text) for n, text in enumerate(texts)]
    classifier = Classifier(default_region="GB")
    people = OtherPeople(matcher)

    def share(n: int) -> set[str | bytes]:
        found = access._classify_share(lambda: iter(staged), matcher, classifier, people, "GB", (n, 2), lambda t: t)
        return {key for key, _parked, _learned in found}

    shares = [share(0), share(1)]
    assert not shares[0] & shares[1]
    assert shares[0] | shares[1] == {access._content_key(text) for text in texts}
    size = [sum(len(text) for text in texts if access._content_key(text) in share) for share in shares]
    assert abs(size[0] - size[1]) <= max(len(text) for text in texts)
