"""Package items from staged findings: each distinct text is classified once, and a repeated record gets the
same redacted copy as its first occurrence (markers numbered per document)."""

from __future__ import annotations

import gc
import json
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
from services.access import REDACTION_SOURCES, _redacted_items
from services.staging import ITEM_SPOOL, TEXT_SPOOL, SpooledItems, SpooledText, TextSpool
from tests.unit.reports.samples import package_input

RECORD = json.dumps({"text": "Mira Okafor asked Greta at g.lindqvist@elsewhere.invalid for the plan"})
OTHER = json.dumps({"text": "Mira Okafor wrote to b.keller@elsewhere.invalid"})


class _Counting(Classifier):
    def __init__(self) -> None:
        super().__init__(default_region="GB")
        self.calls = 0

    def classify(self, value: object, matcher: Matcher) -> Classification:
        self.calls += 1
        return super().classify(value, matcher)


def _subject() -> Matcher:
    return Matcher.from_identifiers(
        SubjectIdentifiers(emails=("mira.okafor@customer.invalid",), names=("Mira Okafor",)), default_region="GB"
    )


_SETTINGS: Any = SimpleNamespace(controller=SimpleNamespace(phone_region="GB"))  # what the items read of settings


def _finding(session: str, line: int, content: str) -> Finding:
    return Finding(FindingLocation(f"/h/{session}.jsonl", line, endpoint="lap"), "transcript", "owned_session",
                   app="claude-code", session_id=session, content=content)  # fmt: skip


def test_each_distinct_text_is_classified_once_and_copies_match() -> None:
    """Three copies of one record in two conversations and one other record: two classifications; the copies
    read the same in each conversation, with markers numbered per conversation."""
    matcher = _subject()
    staged = [_finding("a", 1, OTHER), _finding("a", 2, RECORD), _finding("a", 3, RECORD), _finding("b", 1, RECORD)]
    classifier = _Counting()
    settings = _SETTINGS
    items = _redacted_items(settings, lambda: iter(staged), matcher, classifier, OtherPeople(matcher))
    assert classifier.calls == 2
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
