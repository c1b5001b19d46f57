"""report.html in a real headless Chromium: the Art. 15 sections and the copy render; the PDF prints, whole or,
over `[access].pdf_max_items`, without the records (its text read with poppler's pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from reports.access_package import build_access_package
from reports.packaging import find_pdf_engine
from tests.conftest import skip_service
from tests.unit.reports.samples import package_input

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "reports"
HEADINGS = (
    "1. Summary",
    "2. Where we looked",
    "What we did not search",
    "3. What we do with your data (Article 15)",
    "(a) Why we use your data (purposes and legal basis)",
    "(b) The kinds of personal data we hold about you",
    "(c) Who receives your data (recipients)",
    "(d) How long we keep it",
    "(e) Your rights",
    "(f) Your right to complain",
    "(g) Where your data came from",
    "(h) Automated decision-making",
    "Transfers outside the UK and the EEA (Article 15(2))",
    "4. When your data was processed",
    "5. Copy of your data (Article 15(3))",
    "6. Systems we searched, in detail",
)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a throwaway profile and no background network."""
    engine = find_pdf_engine()
    assert engine is not None
    with tempfile.TemporaryDirectory(prefix="dsr-test-chromium-") as profile:
        return subprocess.run(
            [
                str(engine),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.mark.service
def test_report_opens_in_chromium_with_every_section(tmp_path: Path) -> None:
    """Chromium renders report.html offline: the DOM has the Art. 15 headings and the copy; a screenshot is kept."""
    if find_pdf_engine() is None:
        pytest.skip("chromium is not installed")
    result = build_access_package(package_input(), tmp_path / "out", pdf=True)
    url = (result.path / "report.html").resolve().as_uri()
    dom = chromium("--dump-dom", url).stdout
    for heading in HEADINGS:
        assert heading.replace("'", "&#x27;") in dom, heading
    assert "ran command: grep -r mira.okafor@customer.invalid crm/" in dom
    assert "<circle" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "access-report.png"
    shot.unlink(missing_ok=True)
    chromium(f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert shot.stat().st_size > 10_000
    assert result.pdf == "written"
    pdf = (result.path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    shutil.copy(result.path / "report.pdf", ARTIFACTS / "access-report.pdf")


def pdf_text(pdf: Path) -> str:
    """The text of a PDF, its lines joined by spaces (poppler's pdftotext)."""
    engine = shutil.which("pdftotext")
    if engine is None:
        skip_service("pdftotext is not installed (poppler-utils; `sudo make services` installs it)")
    assert engine is not None
    text = subprocess.run([engine, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60)
    return " ".join(text.stdout.split())


@pytest.mark.service
def test_pdf_of_a_long_copy_says_it_leaves_the_records_out(tmp_path: Path) -> None:
    """Over `pdf_max_items` the printed PDF has every section and each conversation with its count, says in plain
    words that it does not reproduce the records and where they are, and holds none of them; within the limit
    the PDF holds the records."""
    if find_pdf_engine() is None:
        skip_service("chromium is not installed (`sudo make services` installs it)")
    short = build_access_package(package_input(), tmp_path / "short", pdf_max_items=6)
    assert short.pdf == "written"
    text = pdf_text(short.path / "report.pdf")
    assert "ran command: grep -r mira.okafor@customer.invalid crm/" in text
    assert "does not reproduce" not in text

    long = build_access_package(package_input(), tmp_path / "long", pdf_max_items=5)
    assert long.pdf == "written"
    text = pdf_text(long.path / "report.pdf")
    for heading in HEADINGS:
        assert heading in text, heading
    assert "This PDF counts the 6 records of your copy but does not reproduce them." in text
    assert "the full copy is in report.html, which opens in any web browser, and in the data folder" in text
    assert "Session local_11111111-2222-4333-8444-555555555555" in text
    for record in ("ran command: grep", "Summarise the call with Mira Okafor", "called about invoice 4411"):
        assert record not in text, record
