"""The Art. 15 access package: contents, schema, tailoring, escaping, manifest, atomicity, hostile names."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import InputError
from reports import access_package
from reports.access_html import iter_access_html, mark_redactions, render_access_html
from reports.access_input import SearchedLocation
from reports.access_package import PackageResult, build_access_package
from reports.packaging import package_files, safe_name, verify_manifest, write_json, zip_directory
from tests.unit.reports.samples import SESSION_A, item, items, package_input, tiny_png

jsonschema = pytest.importorskip("jsonschema")


def build(tmp_path: Path, **overrides: object) -> PackageResult:
    """Build the sample package (no PDF) with some fields replaced."""
    return build_access_package(package_input(**overrides), tmp_path / "out", pdf=False)


def report(result: PackageResult) -> dict[str, object]:
    """The package's report.json."""
    data = json.loads((result.path / "report.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def html(result: PackageResult) -> str:
    """The package's report.html."""
    return (result.path / "report.html").read_text(encoding="utf-8")


def files_under(root: Path) -> set[str]:
    """Relative paths of every file below root."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_package_has_every_part_and_the_zip_mirrors_it(tmp_path: Path) -> None:
    """The directory holds report.html, report.json, manifest.json and data/; the zip holds the same files."""
    result = build(tmp_path)
    files = files_under(result.path)
    assert {"report.html", "report.json", "manifest.json"} <= files
    jsonl = sorted(f for f in files if f.endswith(".jsonl"))
    assert len(jsonl) == 3
    assert f"data/laptop-01/{SESSION_A}.jsonl" in jsonl
    assert "data/laptop-07/local_66666666-7777-4888-9999-aaaaaaaaaaaa.jsonl" in jsonl
    assert next(f for f in jsonl if f.startswith("data/history-backups/laptops_laptop-01_notes.txt"))
    assert any(f.endswith(".png") for f in files)
    with zipfile.ZipFile(result.zip_path) as zf:
        names = {n.removeprefix("REQ-2026-0042/") for n in zf.namelist()}
        assert names == files
        assert zf.read("REQ-2026-0042/report.json") == (result.path / "report.json").read_bytes()
    assert result.counts["items"] == len(items())
    assert result.pdf.startswith("skipped")


def test_report_json_validates_against_the_published_schema(tmp_path: Path) -> None:
    """report.json of a full and of an empty package validates against reports/report_schema.json."""
    schema = json.loads(access_package.SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.check_schema(schema)
    full = report(build(tmp_path / "a"))
    empty = report(build(tmp_path / "b", items=()))
    assert list(validator.iter_errors(full)) == []
    assert list(validator.iter_errors(empty)) == []
    broken = {**full, "confirmation": "yes"}
    assert list(validator.iter_errors(broken)) != []


def test_report_json_items_carry_the_interface_fields(tmp_path: Path) -> None:
    """Each item has location (endpoint or store, path, line, version_id for S3), kind, session, time, content."""
    data = report(build(tmp_path))
    assert data["request_id"] == "REQ-2026-0042"
    assert data["confirmation"] is True
    by_path = {(json.dumps(i["location"], sort_keys=True)): i for i in data["items"]}  # type: ignore[attr-defined]
    for source in items():
        got = by_path[json.dumps(source.location, sort_keys=True)]
        assert got["kind"] == source.kind
        assert got["session_id"] == source.session_id
        assert got["timestamp"] == (source.timestamp.isoformat() if source.timestamp else None)
        assert got["categories"] == list(source.categories)
        assert got["content"] == source.content
        assert got["app"] == source.app and got["reason"] == source.reason
        assert got["redactions"] == source.redactions
    store = next(i for i in data["items"] if "store" in i["location"])  # type: ignore[attr-defined]
    assert store["location"]["version_id"] == "v7"
    statuses = {s["name"]: (s["status"], s["reason"]) for s in data["searched"]}  # type: ignore[attr-defined]
    assert statuses["laptop-09"] == ("unreachable", "offline")
    assert statuses["laptop-01 VM disk"] == ("not_searched", "virtual machine disk image")
    assert data["redactions"] == {
        "count": 4,
        "reasons": {"art15_4_third_party_email": 1, "art15_4_third_party_person": 3},
        "explained": [
            {"what": "another person's e-mail address", "count": 1},
            {"what": "another person's name", "count": 3},
        ],
    }


def test_data_jsonl_holds_each_item_once_in_chronological_order(tmp_path: Path) -> None:
    """data/<laptop>/<session>.jsonl has one line per item of that session, oldest first, with the record."""
    shuffled = tuple(reversed(items()))
    result = build(tmp_path, items=shuffled)
    lines = (result.path / f"data/laptop-01/{SESSION_A}.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    expected = sorted(
        (i for i in items() if i.location.get("endpoint") == "laptop-01" and i.session_id == SESSION_A),
        key=lambda i: i.timestamp or datetime.min.replace(tzinfo=UTC),
    )
    assert [e["location"]["line"] for e in entries] == [i.location["line"] for i in expected]
    assert entries[0]["record"] == expected[0].record
    store_file = next((result.path / "data/history-backups").glob("*.jsonl"))
    assert json.loads(store_file.read_text(encoding="utf-8"))["text"].startswith("Customer ")


def test_article15_is_tailored_to_the_categories_found(tmp_path: Path) -> None:
    """A register category not found (financial) is not listed; found ones appear with the register's answers."""
    result = build(tmp_path)
    a15 = report(result)["article15"]
    assert isinstance(a15, dict)
    codes = [c["code"] for c in a15["b_categories"]]
    assert sorted(codes) == ["contact_details", "free_text_mentions", "identifiers"]
    assert all(c["in_register"] for c in a15["b_categories"])
    titles = {c["title"] for c in a15["b_categories"]}
    assert "Contact details" in titles and "Bank and payment details" not in titles
    recipients = [r for c in a15["c_recipients"] for r in c["recipients"]]
    assert "Barclays Bank UK PLC" not in recipients
    assert a15["art15_2_transfers"]["per_category"][0]["transfers"].startswith("Standard contractual")
    page = html(result)
    assert "Bank and payment details" not in page and "Barclays" not in page
    assert "Information Commissioner&#x27;s Office" in page
    for key in ("a_purposes", "c_recipients", "d_retention", "e_rights", "f_complaint", "g_source"):
        assert a15[key], key
    assert a15["h_automated_decisions"].startswith("No decisions")


def test_unknown_category_says_it_is_being_completed(tmp_path: Path) -> None:
    """A category code the register lacks is listed, and each of its answers says it is being completed, by
    when, and where to ask: never a default stated as fact."""
    result = build(tmp_path, items=(item(categories=("biometric_templates",)),))
    b = report(result)["article15"]["b_categories"]  # type: ignore[index]
    assert b == [{"code": "biometric_templates", "title": "Biometric templates", "items": 1, "in_register": False}]
    purposes = report(result)["article15"]["a_purposes"][0]["purposes"][0]  # type: ignore[index]
    assert purposes.startswith("We are completing this information") and "privacy@northwind.invalid" in purposes
    assert report(result)["article15"]["d_retention"][0]["retention"] == purposes  # type: ignore[index]


def test_negative_confirmation_is_still_an_answer(tmp_path: Path) -> None:
    """No items: confirmation false, the page says so, lists rights and systems, and data/ is empty."""
    result = build(tmp_path, items=(), gaps_note=None)
    data = report(result)
    assert data["confirmation"] is False
    assert data["items"] == []
    assert data["article15"]["b_categories"] == []  # type: ignore[index]
    assert len(data["article15"]["e_rights"]) >= 4  # type: ignore[index]
    page = html(result)
    assert "No, we found no personal data about you." in page
    assert "(e) Your rights" in page and "(f) Your right to complain" in page
    assert "laptop-09" in page
    assert not (result.path / "data").exists() or not any((result.path / "data").iterdir())


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</style><script>alert(2)</script>",
        "<svg onload=alert(3)>",
    ],
    ids=["script", "attribute", "style-break", "svg"],
)
def test_every_value_is_escaped(tmp_path: Path, hostile: str) -> None:
    """Markup in content, records, context, names and session ids stays inert text in report.html."""
    record = {"type": "user", "message": {"role": "user", "content": hostile}}
    bad = item(
        content=hostile,
        record=record,
        context=(hostile,),
        session_id=hostile,
        categories=(hostile,),
        location={"endpoint": hostile, "path": f"/home/{hostile}", "line": 1},
    )
    plain = item(record=None, content=hostile, location={"endpoint": "laptop-02", "path": "/x", "line": 2})
    searched = (SearchedLocation(hostile, "endpoint", "refused", hostile, None, 1, 0, 0),)
    page = html(build(tmp_path, items=(bad, plain), searched=searched, gaps_note=hostile))
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img src=x" not in lowered and "<svg onload" not in lowered
    assert "&lt;" in page
    assert page.count("</style>") == page.count("<style>") == 2  # the page CSS and the timeline SVG CSS


def test_redaction_markers_are_explained(tmp_path: Path) -> None:
    """Each placeholder in an item is explained next to it and the withheld data is counted by reason."""
    page = html(build(tmp_path))
    assert "[email 1] replaces another person&#x27;s e-mail address (Art. 15(4))" in page
    assert "[person 1] replaces another person&#x27;s name (Art. 15(4))" in page
    assert re.search(r"Another person&#x27;s name</td><td class=num>3<", page)
    assert "art15_4_" not in page, "no reason code in what the person reads"


def test_copy_renders_agent_messages_intelligibly(tmp_path: Path) -> None:
    """User text, assistant text, tool calls as 'ran command', abbreviated tool results, typed prompts."""
    page = html(build(tmp_path))
    assert "ran command: grep -r mira.okafor@customer.invalid crm/" in page
    assert "I&#x27;ll look up the customer." in page
    assert "more characters in the data files]" in page
    assert "x" * 900 not in page
    assert "Prompt typed" in page and "Summarise the call with Mira Okafor" in page
    assert "AI assistant: Sure, who should I write to?" in page
    copy = page[page.index('id="copy"') :]
    order = [copy.index(f"line {n}<") for n in (3, 4, 5, 6)]
    assert order == sorted(order)
    assert copy.index("Laptop: laptop-01") < copy.index("Laptop: laptop-07")


def test_images_are_embedded_and_copied(tmp_path: Path) -> None:
    """A raster image of the subject is embedded as a data: URI and stored as a file; SVG is not embedded."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    extra = item(image_blocks=(("image/svg+xml", svg),), location={"endpoint": "laptop-03", "path": "/y", "line": 1})
    result = build(tmp_path, items=(*items(), extra))
    page = html(result)
    assert page.count('src="data:image/png;base64,') == 1
    assert "data:image/svg" not in page
    pngs = list((result.path / "data").rglob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes() == tiny_png()
    assert len(list((result.path / "data").rglob("*.bin"))) == 1
    listed = [p for i in report(result)["items"] for p in i["images"]]  # type: ignore[attr-defined]
    assert sorted(listed) == sorted(p.relative_to(result.path).as_posix() for p in (result.path / "data").rglob("0*"))


def test_timeline_has_one_row_per_location_and_a_dot_per_dated_item(tmp_path: Path) -> None:
    """The inline SVG timeline labels each location with dated items and draws one circle per dated item."""
    undated = item(timestamp=None, location={"endpoint": "laptop-05", "path": "/z", "line": 1})
    page = html(build(tmp_path, items=(*items(), undated)))
    svg = page[page.index("<svg") : page.index("</svg>")]
    dots = len(re.findall(r"<circle [^>]*><title>", svg))
    assert dots == len(items())
    for name in ("laptop-01", "laptop-07", "history-backups"):
        assert f">{name}</text>" in svg
    assert ">laptop-05</text>" not in svg


def test_manifest_hashes_match_the_files(tmp_path: Path) -> None:
    """manifest.json lists every other file with its sha256 and size; the result's hash is the manifest's."""
    result = build(tmp_path)
    manifest_bytes = (result.path / "manifest.json").read_bytes()
    assert result.manifest_sha256 == hashlib.sha256(manifest_bytes).hexdigest()
    manifest = json.loads(manifest_bytes)
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == files_under(result.path) - {"manifest.json"}
    for rel, entry in listed.items():
        content = (result.path / rel).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["size"] == len(content)
    again = build(tmp_path)
    assert again.manifest_sha256 == result.manifest_sha256


def test_failure_mid_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after data files were written leaves no directory, zip or temp file; an old package survives."""

    def explode(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(access_package, "write_report_json", explode)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        build_access_package(package_input(), out, pdf=False)
    assert list(out.iterdir()) == []
    monkeypatch.undo()
    first = build_access_package(package_input(), out, pdf=False)
    monkeypatch.setattr(access_package, "write_report_json", explode)
    with pytest.raises(OSError):
        build_access_package(package_input(items=()), out, pdf=False)
    assert sorted(p.name for p in out.iterdir()) == ["REQ-2026-0042", "REQ-2026-0042.zip"]
    assert hashlib.sha256((first.path / "manifest.json").read_bytes()).hexdigest() == first.manifest_sha256


def test_while_zipping_sees_every_file_while_the_zip_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`while_zipping` runs once every file (manifest.json last) is in the package directory, before the directory
    takes its place, while the zip is being made (the zip waits here until the hook has run: one after the other,
    it would wait in vain); the zip holds every file of the finished package."""
    import threading

    from reports import packaging

    zip_started, hook_ran, overlapped = threading.Event(), threading.Event(), []
    zip_directory = packaging.zip_directory

    def zipping(*args: object) -> None:
        zip_started.set()
        overlapped.append(hook_ran.wait(10))
        zip_directory(*args)  # type: ignore[arg-type]

    seen: list[tuple[list[str], bool, bool]] = []

    def hook(root: Path) -> None:
        names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        seen.append((names, zip_started.wait(10), root.name == "REQ-2026-0042"))
        hook_ran.set()

    monkeypatch.setattr(packaging, "zip_directory", zipping)
    result = build_access_package(package_input(), tmp_path / "out", pdf=False, while_zipping=hook)
    [(names, zip_was_started, in_place)] = seen
    assert zip_was_started and overlapped == [True] and not in_place
    assert names == sorted(p.relative_to(result.path).as_posix() for p in result.path.rglob("*") if p.is_file())
    assert "manifest.json" in names
    with zipfile.ZipFile(result.zip_path) as zf:
        assert sorted(n.removeprefix("REQ-2026-0042/") for n in zf.namelist()) == names


def test_a_failure_while_zipping_leaves_nothing(tmp_path: Path) -> None:
    """An exception from `while_zipping` (a check that failed) aborts the package once the zip has stopped: no
    directory, zip or temp file is left, and an older package stays as it was."""

    def fail(_root: Path) -> None:
        raise OSError("check failed")

    out = tmp_path / "out"
    with pytest.raises(OSError, match="check failed"):
        build_access_package(package_input(), out, pdf=False, while_zipping=fail)
    assert list(out.iterdir()) == []
    first = build_access_package(package_input(), out, pdf=False)
    zipped = first.zip_path.read_bytes()
    with pytest.raises(OSError, match="check failed"):
        build_access_package(package_input(items=()), out, pdf=False, while_zipping=fail)
    assert sorted(p.name for p in out.iterdir()) == ["REQ-2026-0042", "REQ-2026-0042.zip"]
    assert first.zip_path.read_bytes() == zipped
    assert hashlib.sha256((first.path / "manifest.json").read_bytes()).hexdigest() == first.manifest_sha256


@pytest.mark.parametrize(
    ("endpoint", "session"),
    [
        ("../../escape", "../../../../etc/passwd"),
        ("/abs/olute", "/tmp/evil"),
        ("..", "."),
        ("con", "nul.txt"),
        ("lap\x00top", "sess\nion"),
        ("ok", "a" * 400),
        ("....", "\\..\\..\\win"),
    ],
    ids=["dotdot", "absolute", "dots", "windows-device", "control-chars", "long", "backslash"],
)
def test_hostile_location_and_session_names_stay_inside(tmp_path: Path, endpoint: str, session: str) -> None:
    """Names from laptops cannot write outside data/ and become single safe path components."""
    hostile = item(location={"endpoint": endpoint, "path": "/p", "line": 1}, session_id=session)
    result = build(tmp_path, items=(hostile,))
    out = (tmp_path / "out").resolve()
    for path in (tmp_path / "out").rglob("*"):
        assert path.resolve().is_relative_to(out)
    data_files = [p for p in (result.path / "data").rglob("*") if p.is_file()]
    assert len(data_files) == 1
    rel = data_files[0].relative_to(result.path / "data")
    assert len(rel.parts) == 2
    for part in rel.parts:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", part), part
        assert len(part) <= 90
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_names_differing_by_case_or_folding_get_distinct_files(tmp_path: Path) -> None:
    """Sessions whose names collide after sanitising or on case-insensitive disks get separate files."""
    sessions = ["ABC", "abc", "a/b", "a_b", "a\\b"]
    batch = tuple(
        item(session_id=s, location={"endpoint": "laptop-01", "path": f"/{n}", "line": 1})
        for n, s in enumerate(sessions)
    )
    result = build(tmp_path, items=batch)
    files = list((result.path / "data/laptop-01").glob("*.jsonl"))
    assert len(files) == len(sessions)
    assert len({f.name.lower() for f in files}) == len(sessions)


def test_request_id_must_be_a_plain_name(tmp_path: Path) -> None:
    """A request id that could escape the packages directory is refused before anything is written."""
    with pytest.raises(InputError):
        build_access_package(package_input(request_id="../x"), tmp_path / "out", pdf=False)
    assert not (tmp_path / "x").exists()
    assert not any((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else True


def test_pdf_is_skipped_silently_without_an_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a PDF engine the package is complete and the result records the skip."""
    monkeypatch.setattr("reports.packaging.find_pdf_engine", lambda: None)
    result = build_access_package(package_input(), tmp_path / "out")
    assert result.pdf == "skipped: no PDF engine installed"
    assert not (result.path / "report.pdf").exists()
    assert report(result)["pdf"] == "not included"
    package_text = "".join(
        p.read_text(encoding="utf-8") for p in result.path.rglob("*") if p.suffix in (".html", ".json")
    )
    assert "engine" not in package_text.lower(), "no internal message in what the person receives"


def test_gaps_note_is_shown_first(tmp_path: Path) -> None:
    """A package issued with gaps says so in the summary, before the Art. 15 section."""
    page = html(build(tmp_path))
    note = page.index("laptop-09 offline since 2026-05-01, tried 12 times")
    assert note < page.index('id="article15"')
    assert report(build(tmp_path))["gaps_note"] == package_input().gaps_note


def test_counts_in_result(tmp_path: Path) -> None:
    """The result counts items, sessions, searched and unsearched locations, redactions and categories."""
    result = build(tmp_path)
    assert result.counts["items"] == 6
    assert result.counts["sessions"] == 3
    assert result.counts["locations_searched"] == 3
    assert result.counts["locations_not_searched"] == 2
    assert result.counts["redactions"] == 4
    assert result.counts["by_category"] == {"contact_details": 3, "free_text_mentions": 2, "identifiers": 3}


def test_same_session_on_two_laptops_stays_apart(tmp_path: Path) -> None:
    """A session id seen on two laptops is copied under each laptop separately."""
    a = item()
    b = replace(item(), location={"endpoint": "laptop-02", "path": "/q", "line": 1})
    result = build(tmp_path, items=(a, b))
    assert (result.path / f"data/laptop-01/{SESSION_A}.jsonl").is_file()
    assert (result.path / f"data/laptop-02/{SESSION_A}.jsonl").is_file()


@given(st.text(max_size=300))
def test_safe_name_is_always_one_safe_component(raw: str) -> None:
    """Any string becomes a short single path component of safe characters that is never '.' or '..'."""
    name = safe_name(raw)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name)
    assert len(name) <= 80
    assert name not in {".", ".."}
    if name != raw:
        assert name.endswith(hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8])


@given(st.text(max_size=200))
def test_mark_redactions_never_lets_markup_through(text: str) -> None:
    """Escaped text only ever contains the <mark> tags the renderer adds itself."""
    rendered = mark_redactions(text)
    stripped = re.sub(r'<mark class="redaction" title="[^"<>]*">|</mark>', "", rendered)
    assert "<" not in stripped and ">" not in stripped


def test_verify_manifest_detects_edits_additions_and_removals(tmp_path: Path) -> None:
    """A fresh package verifies; resized, same-size edited, removed and added files are each named."""
    result = build(tmp_path)
    assert verify_manifest(result.path) == []
    (result.path / "report.html").write_text("changed", encoding="utf-8")
    jsonl = next((result.path / "data").rglob("*.jsonl"))
    jsonl.unlink()
    (result.path / "data" / "extra.txt").write_text("x", encoding="utf-8")
    report_json = result.path / "report.json"
    report_json.write_bytes(b" " + report_json.read_bytes()[1:])
    problems = verify_manifest(result.path)
    assert "report.html: size differs" in problems
    assert f"{jsonl.relative_to(result.path).as_posix()}: missing" in problems
    assert "data/extra.txt: not in manifest" in problems
    assert "report.json: modified" in problems
    assert len(problems) == 4


@pytest.mark.parametrize("many", [0, 1, 5])
def test_report_json_is_written_item_by_item_as_the_whole_document_would_be(tmp_path: Path, many: int) -> None:
    """report.json is streamed one item at a time, in the same bytes as the whole document written at once."""
    inp = package_input(items=tuple(access_package.ordered_items(items()))[:many])
    files = access_package.write_data_files(tmp_path, inp.items)
    streamed, whole = tmp_path / "streamed.json", tmp_path / "whole.json"
    access_package.write_report_json(streamed, inp, files, "written", "full: every record")
    write_json(whole, access_package.report_document(inp, files, "written", "full: every record"))
    assert streamed.read_bytes() == whole.read_bytes()


def test_data_files_are_appended_in_pieces_as_they_would_be_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data files written a few lines at a time (a tiny buffer here) hold the same bytes, in item order."""
    ordered = access_package.ordered_items(items() * 3)
    access_package.write_data_files(tmp_path / "whole", ordered)
    monkeypatch.setattr(access_package, "DATA_BUFFER_CHARS", 10)
    access_package.write_data_files(tmp_path / "pieces", ordered)
    whole = {p.relative_to(tmp_path / "whole"): p.read_bytes() for p in (tmp_path / "whole").rglob("*.jsonl")}
    pieces = {p.relative_to(tmp_path / "pieces"): p.read_bytes() for p in (tmp_path / "pieces").rglob("*.jsonl")}
    assert pieces == whole and len(whole) >= 3
    assert all(content.count(b"\n") % 3 == 0 for content in whole.values())


def test_the_page_is_written_in_pieces_that_make_the_whole_page() -> None:
    inp = package_input(items=access_package.ordered_items(items()))
    for copy in ("records", "conversations", "systems"):
        pieces = list(iter_access_html(inp, copy=copy))  # type: ignore[arg-type]
        assert len(pieces) > len(inp.items)
        assert "".join(pieces) == render_access_html(inp, copy=copy)  # type: ignore[arg-type]


def test_the_zip_copies_each_file_in_pieces_with_the_bytes_of_a_whole_file_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file is read whole into memory to be zipped, and the zip has the bytes `writestr` of each whole file
    gives (reproducible packages keep their hash)."""
    root = tmp_path / "pkg"
    (root / "data").mkdir(parents=True)
    (root / "report.json").write_bytes(json.dumps([str(n) * (n % 50) for n in range(60_000)]).encode())
    (root / "data" / "a.jsonl").write_text("é\n" * 10, encoding="utf-8")
    when = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    expected = tmp_path / "expected.zip"
    with zipfile.ZipFile(expected, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"REQ/{path.relative_to(root).as_posix()}", date_time=(2026, 6, 1, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())

    def whole(_self: Path) -> bytes:
        raise AssertionError("a file read whole")

    monkeypatch.setattr(Path, "read_bytes", whole)
    zip_directory(root, tmp_path / "package.zip", "REQ", when)
    monkeypatch.undo()
    assert (tmp_path / "package.zip").read_bytes() == expected.read_bytes()


def test_package_files_lists_what_sorted_paths_list_in_their_order(tmp_path: Path) -> None:
    """The package's files as strings, in the order (and with the choice of files) that sorting the `Path`s of
    `rglob` gives: names where `-`, `.` or a longer name sorts apart from the part order, hidden files, a link to a
    file (listed), a link to a directory (not followed), a broken link (not listed)."""
    root = tmp_path / "pkg"
    names = (
        "a/x.json",
        "a-b/x.json",
        "a.b",
        "a0/y",
        "ab/.hidden.csv",
        "é/ü.jsonl",
        "data/s 1/z.html",
        ".json",
        "..json",
    )
    for rel in names:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x", encoding="utf-8")
    (root / "link-to-file.json").symlink_to(root / "a.b")
    (root / "link-to-dir").symlink_to(root / "a", target_is_directory=True)
    (root / "broken.json").symlink_to(root / "missing")
    expected = [p.relative_to(root).as_posix() for p in sorted(p for p in root.rglob("*") if p.is_file())]
    assert expected.index("a/x.json") < expected.index("a-b/x.json")  # where plain string order differs
    assert sorted(expected) != expected
    assert package_files(root) == expected
    from services.release_check import _TEXT_SUFFIXES, text_files

    checked = [
        p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in _TEXT_SUFFIXES
    ]
    assert "..json" in checked and ".json" not in checked  # `Path.suffix`'s rule: a name of dots only has none
    assert text_files(root) == checked


def test_a_conversation_over_several_files_lists_every_file_and_marks_each_record() -> None:
    """A conversation whose records lie in two files keeps both paths (its summary names both, each record shows
    its path); one in a single file keeps its one path (no record shows it)."""
    from reports.access_input import count_items

    first, second = "/Users/ana/.claude/projects/p/cli-1.jsonl", "/Users/ana/.claude/projects/p/cli-2.jsonl"
    split = [
        item(location={"endpoint": "laptop-01", "path": path, "line": n})
        for n, path in enumerate([first, second, first])
    ]
    alone = item(session_id=SESSION_A.replace("1", "3"), location={"endpoint": "laptop-01", "path": first, "line": 9})
    counted = count_items([*split, alone])
    sessions = [s for apps in counted.groups.values() for by_key in apps.values() for s in by_key.values()]
    assert sorted(sorted(s.paths) for s in sessions) == [[first], [first, second]]
    page = render_access_html(package_input(items=access_package.ordered_items([*split, alone])), copy="records")
    assert f"{first}; {second}" in page


def test_package_files_raises_where_a_directory_cannot_be_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory of the package that cannot be listed stops the listing: its files are never left out unseen
    (by the manifest, the zip or the release check)."""
    import os

    root = tmp_path / "pkg"
    (root / "data" / "hidden").mkdir(parents=True)
    (root / "data" / "hidden" / "a.jsonl").write_text("x", encoding="utf-8")
    listing = os.scandir

    def refuse(path: object) -> object:
        if str(path).endswith("hidden"):
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", refuse)
    with pytest.raises(PermissionError):
        package_files(root)
