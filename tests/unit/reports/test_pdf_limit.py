"""report.pdf of a long copy (`[access].pdf_max_items`): printed without the records, and saying so.

The page Chromium prints is read while it prints (`while_printing`), so these tests need no browser; the PDF's
own text is checked in test_report_browser.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from models.settings import PDF_MAX_ITEMS
from reports import access_package
from reports.access_html import render_access_html
from reports.access_package import PackageResult, build_access_package, ordered_items
from tests.unit.reports.samples import SESSION_A, SESSION_B, package_input
from tests.unit.reports.test_report_browser import HEADINGS

jsonschema = pytest.importorskip("jsonschema")

#: Text only the records themselves show (a tool call, a typed prompt, a stored file's line).
RECORD_TEXTS = (
    "ran command: grep -r mira.okafor@customer.invalid crm/",
    "Summarise the call with Mira Okafor",
    "Customer mira.okafor@customer.invalid called about invoice 4411",
    "data:image/png;base64",
)
STATEMENT = "This PDF counts the 6 records of your copy but does not reproduce them."


def _fake_print(html_path: Path, pdf_path: Path, engine: Path | None = None) -> str:
    """Stands in for Chromium."""
    pdf_path.write_bytes(b"%PDF-1.4 stand-in\n")
    return "written"


def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> tuple[PackageResult, str]:
    """The sample package (6 records in 3 conversations or files), printed by the stand-in; the printed page."""
    monkeypatch.setattr(access_package, "print_pdf", _fake_print)
    pages: list[str] = []

    def keep(root: Path) -> None:
        pages.append((root / ".print.html").read_text(encoding="utf-8"))

    result = build_access_package(package_input(), tmp_path / "out", while_printing=keep, **kwargs)  # type: ignore[arg-type]
    return result, pages[0]


def report(result: PackageResult) -> dict[str, object]:
    data = json.loads((result.path / "report.json").read_text(encoding="utf-8"))
    schema = json.loads(access_package.SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    assert isinstance(data, dict)
    return data


def test_a_copy_within_the_limit_prints_the_whole_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the limit (and with the default, 1000) the printed page is the report with every record open, as before."""
    inp = replace(package_input(), items=ordered_items(package_input().items))
    for limit in (6, PDF_MAX_ITEMS):
        result, page = build(tmp_path / str(limit), monkeypatch, pdf_max_items=limit)
        assert page == render_access_html(inp, expanded=True)
        assert all(text.replace("'", "&#x27;") in page for text in RECORD_TEXTS[:3])
        assert "does not reproduce" not in page
        assert result.pdf_form == report(result)["pdf_form"] == "full: every section and every record of the copy"


def test_a_copy_over_the_limit_prints_every_section_and_the_conversations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the limit the printed page keeps every section and lists each conversation with its count, states
    where the records are, and reproduces none of them; report.html, report.json and data/ keep them all."""
    result, page = build(tmp_path, monkeypatch, pdf_max_items=5)
    for heading in HEADINGS:
        assert heading.replace("'", "&#x27;") in page, heading
    assert STATEMENT in page
    assert "the full copy is in report.html" in page
    for text in RECORD_TEXTS:
        assert text not in page, text
    for conversation in (f"Session {SESSION_A}", f"Session {SESSION_B}", "File laptops/laptop-01/notes.txt"):
        assert conversation in page
    assert "<td class=num>4</td>" in page  # session A's records
    full = (result.path / "report.html").read_text(encoding="utf-8")
    assert all(text.replace("'", "&#x27;") in full for text in RECORD_TEXTS)
    document = report(result)
    assert len(document["items"]) == 6  # type: ignore[arg-type]
    assert document["pdf"] == "included"
    assert (
        document["pdf_form"]
        == result.pdf_form
        == (
            "summary: every section and each of the 3 conversations and files with its count, but not the 6 records "
            "themselves (over the pdf_max_items limit of 5); report.html and data/ hold them all"
        )
    )


def test_too_many_conversations_too_prints_the_counts_per_laptop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the conversations are over the limit as well, section 5 of the PDF gives the counts per laptop."""
    result, page = build(tmp_path, monkeypatch, pdf_max_items=2)
    assert STATEMENT in page
    assert f"Session {SESSION_A}" not in page
    assert "<td>Laptop: laptop-01</td><td>Claude Code</td><td class=num>1</td><td class=num>4</td>" in page
    for text in RECORD_TEXTS:
        assert text not in page, text
    assert str(report(result)["pdf_form"]).startswith(
        "summary: every section and the counts per laptop or store, but neither the 6 records nor the list of the "
        "3 conversations and files (each over the pdf_max_items limit of 2)"
    )


def test_the_summary_page_shows_nothing_report_html_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The release check reads report.html, not the print copy: every text of a summary page's copy section
    (conversation names, times, paths) is on report.html too, so the PDF holds nothing the check did not read."""
    result, page = build(tmp_path, monkeypatch, pdf_max_items=5)
    full = (result.path / "report.html").read_text(encoding="utf-8")
    copy = page[page.index('<section class="major" id="copy">') : page.index('<section class="major" id="systems">')]
    rows = "".join(re.findall(r"<tbody>.*?</tbody>", copy))
    pieces = {p for p in re.split(r"<[^>]*>", rows) if p.strip()}
    assert len(pieces) == 11  # three conversations or files: name, place, times; the counts 4 and 1
    for piece in pieces:
        assert piece in full or piece.isdigit(), piece


def test_no_pdf_records_no_form(tmp_path: Path) -> None:
    """Without a PDF report.json's `pdf_form` is null."""
    result = build_access_package(package_input(), tmp_path / "out", pdf=False)
    assert result.pdf_form is None
    assert report(result)["pdf_form"] is None
