"""The release check over a built package, and the staff directory it learns names from."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection.classify import Classifier
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.others import OtherPeople
from detection.text_key import TEXT_KEY_CHARS, text_key
from models.errors import ConfigError
from models.settings import DirectorySettings
from reports.access_package import PageJob, build_access_package
from services import access, forked
from services.directory import load_directory
from services.release_check import ReleaseItem, check_package, text_files
from tests.unit.reports.samples import package_input


@pytest.fixture(scope="module")
def subject() -> Matcher:
    ids = SubjectIdentifiers(emails=("mira.okafor@customer.invalid",), names=("Mira Okafor",))
    return Matcher.from_identifiers(ids, default_region="GB")


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(default_region="GB")


CONTROLLER = package_input().controller
ALLOW = [CONTROLLER.contact, CONTROLLER.authority.contact, CONTROLLER.dpo_contact or ""]


def _package(tmp_path: Path) -> Path:
    return build_access_package(package_input(), tmp_path / "out", pdf=False).path


def test_a_clean_package_passes(tmp_path: Path, subject: Matcher, classifier: Classifier) -> None:
    """The sample package (others already replaced by markers) has no hit: the controller's own contacts and the
    register's recipients are published, not people's data."""
    root = _package(tmp_path)
    others = OtherPeople(subject)
    assert check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW) == []


def test_known_and_detected_leftovers_block_with_places_not_content(
    tmp_path: Path, subject: Matcher, classifier: Classifier
) -> None:
    """A directory name and an unknown e-mail left in data/ and report.json are items with file, place, reason and
    source; released items no longer block; the item ids are stable across runs."""
    root = _package(tmp_path)
    data = next(root.glob("data/laptop-01/*.jsonl"))
    leftover = json.dumps({"text": "Greta Lindqvist wrote to g.x@elsewhere.invalid"})
    data.write_text(data.read_text(encoding="utf-8") + leftover + "\n", encoding="utf-8")
    others = OtherPeople(subject)
    others.add_person("directory", names=["Greta Lindqvist"])
    items = check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW)
    assert {(i.reason, i.source) for i in items} == {("other_name", "directory"), ("detected_email", "presidio")}
    assert all(i.file == data.relative_to(root).as_posix() and i.place.startswith("line ") for i in items)
    assert not any("Greta" in json.dumps(i.as_dict()) or "elsewhere" in json.dumps(i.as_dict()) for i in items)
    again = check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW)
    assert [i.item for i in again] == [i.item for i in items]
    released = check_package(
        root, others=others, matcher=subject, classifier=classifier, allow=ALLOW, released=[items[0].item]
    )
    assert [i.item for i in released] == [i.item for i in items[1:]]


def test_directory_csv_and_json(tmp_path: Path) -> None:
    """CSV with a header row (several values separated by ';') and a JSON list of objects are read."""
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text("Name,Email,Phone,Staff_Id\nGreta Lindqvist,g.l@corp.example;greta@corp.example,,E-1\n")
    entries = load_directory(DirectorySettings(path=csv_file))
    assert entries[0].names == ("Greta Lindqvist",) and len(entries[0].emails) == 2 and entries[0].ids == ("E-1",)
    json_file = tmp_path / "staff.json"
    json_file.write_text(json.dumps([{"name": "Bruno Keller", "phone": "+49 30 1234567"}]))
    assert load_directory(DirectorySettings(path=json_file))[0].phones == ("+49 30 1234567",)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("bad.csv", "a,b\n1,2\n", "header row"),
        ("bad.json", "{not json", "not valid JSON"),
        ("list.json", '["x"]', "list of objects"),
    ],
)
def test_directory_errors_name_the_file_not_values(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    """A missing file, a CSV without the columns, broken JSON or a JSON list of non-objects: one message naming
    the file."""
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_directory(DirectorySettings(path=path))


def test_files_checked_in_parts_give_the_hits_of_one_pass(
    tmp_path: Path, subject: Matcher, classifier: Classifier
) -> None:
    """The check run on some files (while the PDF prints) and then on the rest finds what one pass finds."""
    root = _package(tmp_path)
    leftover = json.dumps({"text": "Greta Lindqvist wrote to g.x@elsewhere.invalid"})
    for data in root.glob("data/*/*.jsonl"):
        data.write_text(data.read_text(encoding="utf-8") + leftover + "\n", encoding="utf-8")
    others = OtherPeople(subject)
    others.add_person("directory", names=["Greta Lindqvist"])
    whole = check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW)
    assert len({i.file for i in whole}) > 1
    files = text_files(root)
    first, rest = files[::2], files[1::2]
    cache: dict[bytes, list[tuple[str, str]]] = {}
    parts = [
        *check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW, files=first,
                       cache=cache),
        *check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW, files=rest,
                       cache=cache),
    ]  # fmt: skip
    assert sorted(parts, key=lambda i: files.index(i.file)) == whole


def test_while_printing_sees_the_data_and_page_before_report_json(tmp_path: Path) -> None:
    """The package hands its directory over once the data files and report.html are written, before report.json
    and manifest.json (which the check then reads on its own)."""
    seen: list[list[str]] = []
    build_access_package(package_input(), tmp_path / "out", pdf=False, while_printing=lambda root: seen.append(
        text_files(root)))  # fmt: skip
    assert len(seen) == 1
    assert "report.html" in seen[0] and any(name.startswith("data/") for name in seen[0])
    assert "report.json" not in seen[0] and "manifest.json" not in seen[0]


def _whole(path: Path, rel: str) -> list[tuple[str, str]]:
    """The strings of a file read whole, as the check read them before it read them piece by piece."""
    from html import unescape

    from detection.matcher import iter_strings
    from services.release_check import _TAG

    text = path.read_text(encoding="utf-8", errors="replace")
    out: list[tuple[str, str]] = []
    if rel.endswith(".json"):
        for pointer, string, _key in iter_strings(json.loads(text)):
            record = None
            if pointer.endswith("/content") and string[:1] in "{[":
                try:
                    record = json.loads(string)
                except ValueError:
                    record = None
            if record is None:
                out.append((pointer or "/", string))
            else:
                out += [(f"{pointer}{inner}", part) for inner, part, _k in iter_strings(record)]
        return out
    for number, line in enumerate(text.splitlines(), 1):
        if rel.endswith(".jsonl"):
            try:
                value = json.loads(line)
            except ValueError:
                out.append((f"line {number}", line))
                continue
            out += [(f"line {number} {pointer or '/'}", s) for pointer, s, _k in iter_strings(value)]
        elif rel.endswith(".html"):
            out.append((f"line {number}", unescape(_TAG.sub(" ", line))))
            out += [(f"line {number}", unescape(a)) for a in re.findall(r'(?:title|alt|aria-label)="([^"]*)"', line)]
    return out


@pytest.mark.parametrize("tricky", ["plain", "separators"])
def test_files_read_piece_by_piece_give_the_strings_of_a_whole_read(tmp_path: Path, tricky: str) -> None:
    """report.json one item and manifest.json one file at a time, the page and the data files a line at a time:
    the same places and strings as reading each file whole (line separators inside text included), and
    report.json and manifest.json in any other layout are still read (whole)."""
    from dataclasses import replace

    from services.release_check import _array_apart, _place, _strings

    def read(path: Path, rel: str) -> list[tuple[str, str]]:
        return [(_place(where), text) for where, text in _strings(path, rel)]

    inp = package_input()
    if tricky == "separators":
        odd = 'a\u2028b\x0cc\x85d "    {" \\n    }, items'
        items = tuple(replace(i, content_source=f"{i.content} {odd}") for i in inp.items)
        inp = replace(inp, items=items)
    root = build_access_package(inp, tmp_path / "out", pdf=False).path
    files = text_files(root)
    assert {"report.json", "report.html"} <= set(files) and any(f.endswith(".jsonl") for f in files)
    for rel in files:
        assert read(root / rel, rel) == _whole(root / rel, rel), rel
    assert [apart[1] for apart in map(_array_apart, (root / "report.json", root / "manifest.json")) if apart] == [
        "items",
        "files",
    ]
    assert len([p for p, _ in _whole(root / "manifest.json", "manifest.json") if p.startswith("/files/")]) > 5
    report = root / "report.json"
    expected = _whole(report, "report.json")
    assert len([p for p, _ in expected if p.startswith("/items/")]) > 10
    report.write_text(json.dumps(json.loads(report.read_text(encoding="utf-8")), ensure_ascii=False), encoding="utf-8")
    assert read(report, "report.json") == expected
    manifest = root / "manifest.json"
    expected = _whole(manifest, "manifest.json")
    manifest.write_text(json.dumps(json.loads(manifest.read_text(encoding="utf-8")), indent=3), encoding="utf-8")
    assert _array_apart(manifest) is None and read(manifest, "manifest.json") == expected


@given(start=st.text(max_size=70), first=st.text(max_size=10), second=st.text(max_size=10))
def test_cache_keys_of_different_strings_differ(start: str, first: str, second: str) -> None:
    """Two strings (often sharing their start, on either side of the length where keys become digests) share a
    key in the detections cache only when they are the same string; a long string's key holds no text."""
    one, other = start + first, start + second
    assert (text_key(one) == text_key(other)) == (one == other)
    key = text_key(one)
    assert key == one if len(one) <= TEXT_KEY_CHARS else isinstance(key, bytes) and len(key) == 16


def test_a_tiny_cache_bound_gives_the_same_hits_and_keeps_the_cache_small(
    tmp_path: Path, subject: Matcher, classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-string cache is only a speed-up: bounded to two strings (it starts again when full) the check
    finds the same hits, in the same order, and the cache never holds more than the bound."""
    from services import release_check

    root = _package(tmp_path)
    leftover = json.dumps({"text": "Greta Lindqvist wrote to g.x@elsewhere.invalid, and g.x@elsewhere.invalid again"})
    for data in root.glob("data/*/*.jsonl"):
        data.write_text(data.read_text(encoding="utf-8") + leftover + "\n", encoding="utf-8")
    others = OtherPeople(subject)
    others.add_person("directory", names=["Greta Lindqvist"])
    unbounded: dict[str | bytes, tuple[tuple[str, str], ...]] = {}
    whole = check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW, cache=unbounded)
    assert len(whole) > 2 and len(unbounded) > 2
    monkeypatch.setattr(release_check, "CHECK_CACHE", 2)
    bounded: dict[str | bytes, tuple[tuple[str, str], ...]] = {}
    again = check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW, cache=bounded)
    assert again == whole
    assert 0 < len(bounded) <= 2


@pytest.mark.parametrize("rest", ["while zipping", "after the move"])
@pytest.mark.parametrize("child", ["forked", "no fork", "fails"])
def test_the_page_written_and_checked_by_a_forked_child_gives_the_hits_of_one_pass(
    tmp_path: Path, subject: Matcher, classifier: Classifier, monkeypatch: pytest.MonkeyPatch, child: str, rest: str
) -> None:
    """The assembly's check (the page written and checked in a forked child started before anything else is
    written, the data files here, then the rest: while the package is zipped, or after it has moved to its final
    place) lists every hit of one pass, in its order. Without a child the page is written and checked at once; a
    child that fails half-way through the page is replaced by writing the whole page and checking it here."""
    parent = os.getpid()
    if child == "no fork":
        monkeypatch.setattr(forked.sys, "platform", "win32")
    check, pages_here = access.check_package, []

    def checking(*args: Any, **kwargs: Any) -> list[ReleaseItem]:
        if os.getpid() == parent and "report.html" in kwargs["files"]:
            pages_here.append(args[0])
        return check(*args, **kwargs)

    monkeypatch.setattr(access, "check_package", checking)
    root = _package(tmp_path)
    leftover = "Greta Lindqvist wrote to g.x@elsewhere.invalid"
    for data in root.glob("data/*/*.jsonl"):
        data.write_text(data.read_text(encoding="utf-8") + json.dumps({"text": leftover}) + "\n", encoding="utf-8")
    page = root / "report.html"
    page.write_text(page.read_text(encoding="utf-8") + f"\n<p>{leftover}</p>\n", encoding="utf-8")
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    (root / "report.json").write_text(json.dumps({**report, "note": leftover}, indent=2), encoding="utf-8")
    others = OtherPeople(subject)
    others.add_person("directory", names=["Greta Lindqvist"])
    whole = check_package(root, others=others, matcher=subject, classifier=classifier, allow=ALLOW)
    assert {"report.html", "report.json"} <= {i.file for i in whole} and any(i.file.startswith("data/") for i in whole)
    held_page, held_report = page.read_text(encoding="utf-8"), (root / "report.json").read_bytes()
    page.unlink()  # written by the page writer, report.json after the data files' check
    (root / "report.json").unlink()

    def write() -> None:
        if os.getpid() != parent and child == "fails":
            page.write_text(held_page[: len(held_page) // 2], encoding="utf-8")
            raise OSError("the child cannot write")
        page.write_text(held_page, encoding="utf-8")

    release = access._ReleaseCheck(others, subject, classifier, ALLOW, {})
    try:
        job = release.pages(root, write)
        assert (release._pages is not None) is (child != "no fork")
        release.files_so_far(root)
        job.wait()
        assert page.read_text(encoding="utf-8") == held_page
        (root / "report.json").write_bytes(held_report)
        if rest == "while zipping":
            release.finish(root)
        final = root.with_name("final")
        root.rename(final)  # as the package is moved to its place
        assert release.the_rest(final) == whole
    finally:
        release.close()
    # the page was checked here only without a child, or after one failed (both before the package moved)
    assert pages_here == {"forked": [], "no fork": [root], "fails": [root]}[child]


def test_a_package_that_fails_ends_the_page_writer_before_it_is_removed(
    tmp_path: Path, subject: Matcher, classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the package fails while a forked child is still writing its page, the child is ended before the
    package's directory is removed: nothing is written into the packages directory afterwards (a late page would
    leave a hidden directory with the subject's data)."""
    from reports import access_package

    def fail(*_args: Any) -> None:
        raise OSError("the disk refused")

    def slow(write: Callable[[], None]) -> Callable[[], None]:
        return lambda: (time.sleep(1.0), write())[1]

    monkeypatch.setattr(access_package, "write_data_files", fail)
    release = access._ReleaseCheck(OtherPeople(subject), subject, classifier, ALLOW, {})
    out = tmp_path / "out"
    try:
        with pytest.raises(OSError, match="the disk refused"):
            build_access_package(
                package_input(), out, pdf=False, page_writer=lambda root, write: release.pages(root, slow(write))
            )
        time.sleep(1.5)  # a child still running would have written the page by now
        assert list(out.iterdir()) == []
    finally:
        release.close()


def test_the_page_is_written_first_and_complete_before_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page writer is called before any file is written and before the browser is started (a copy forked while
    the browser starts would hold its pipes open); the data files are checked while the PDF prints; the job it
    returns is waited for after the printing and report.json, before manifest.json is written."""
    import threading

    from reports import access_package

    seen: list[tuple[str, bool, list[str]]] = []

    def note(name: str, root: Path) -> None:
        printing = any(t.name.startswith("pdf") for t in threading.enumerate())
        seen.append((name, printing, text_files(root)))

    def page_writer(root: Path, write: Callable[[], None]) -> PageJob:
        note("page writer", root)
        return PageJob(wait=lambda: (write(), note("page written", root))[0], cancel=lambda: None)

    monkeypatch.setattr(access_package, "print_pdf", lambda *_a, **_k: time.sleep(0.2) or "written")
    build_access_package(
        package_input(), tmp_path / "out", page_writer=page_writer, while_printing=lambda root: note("while", root)
    )
    assert [(name, printing) for name, printing, _ in seen] == [
        ("page writer", False), ("while", True), ("page written", False)
    ]  # fmt: skip
    (_, _, at_first), (_, _, while_printing), (_, _, after) = seen
    assert at_first == []
    assert any(name.startswith("data/") for name in while_printing) and "report.html" not in while_printing
    assert "report.html" in after and "report.json" in after and "manifest.json" not in after


@pytest.mark.parametrize("first", ["page", "data"])
def test_a_page_string_and_the_same_data_string_are_remembered_apart(
    tmp_path: Path, subject: Matcher, classifier: Classifier, first: str
) -> None:
    """A page's string is analysed in pieces (split where tags and markers were), a data string whole, so the
    same text can hold a hit as data and none on a page: with one memory shared by two calls, in either order,
    each file gets the hits it gets alone."""
    text = "+44 20 7946  0958"  # a phone number whole; split at the double space on a page
    root = _package(tmp_path)
    data = next(root.glob("data/laptop-01/*.jsonl"))
    data.write_text(data.read_text(encoding="utf-8") + json.dumps({"text": text}) + "\n", encoding="utf-8")
    page = root / "report.html"
    page.write_text(page.read_text(encoding="utf-8") + text + "\n", encoding="utf-8")
    files = {"page": ["report.html"], "data": [data.relative_to(root).as_posix()]}
    others = OtherPeople(subject)

    def check(name: str, cache: dict[object, Any] | None = None) -> list[ReleaseItem]:
        return check_package(
            root, others=others, matcher=subject, classifier=classifier, allow=ALLOW, files=files[name], cache=cache
        )

    alone = {name: check(name) for name in files}
    assert [i.reason for i in alone["data"]] == ["detected_phone"] and alone["page"] == []
    shared: dict[object, Any] = {}
    second = "data" if first == "page" else "page"
    assert [check(first, shared), check(second, shared)] == [alone[first], alone[second]]
