"""`[access].pdf_max_items` reaches the package: an issued package over it prints report.pdf without the records
and passes the release check (which reads report.html and data/, where the records are)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models.settings import load_settings
from models.types import RequestKind
from reports import access_package
from services import access
from services.intake import record_request
from simulation.fleet import simulate_fleet


def test_the_setting_prints_a_summary_pdf_and_the_package_is_issued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `pdf_max_items = 0` the page printed for report.pdf counts the records without reproducing them,
    report.json says so, and the package is sealed."""
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    printed: list[str] = []

    def fake_print(html_path: Path, pdf_path: Path, engine: Path | None = None) -> str:
        printed.append(html_path.read_text(encoding="utf-8"))
        pdf_path.write_bytes(b"%PDF-1.4 stand-in\n")
        return "written"

    monkeypatch.setattr(access_package, "print_pdf", fake_print)
    simulate_fleet(tmp_path, endpoints=1, size_mb=0.02, seed=3)
    config = tmp_path / "dsr.toml"
    text = re.sub(
        r'^url = "sqlite:///.*"$', f'url = "sqlite:///{tmp_path}/dsr.db"', config.read_text("utf-8"), flags=re.M
    )
    config.write_text(text + f'\n[access]\npackage_dir = "{tmp_path}/packages"\npdf_max_items = 0\n', encoding="utf-8")
    settings = load_settings(config)
    person = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    request_id = record_request(
        settings,
        kind=RequestKind.ACCESS,
        emails=person["emails"],
        names=[person["name"]],
        channel="email",
        identity_waiver="request from the employee's authenticated account",
    )
    for location in access.begin_access(settings, request_id):
        access.scan_location(settings, request_id, location)
    result = access.assemble_package(settings, request_id, allow_incomplete_register=True)

    items = result.counts["items"]
    assert isinstance(items, int) and items > 0
    assert result.pdf == "written"
    assert result.pdf_form is not None and result.pdf_form.startswith("summary: ")
    assert "over the pdf_max_items limit of 0" in result.pdf_form
    assert len(printed) == 1
    assert f"This PDF counts the {items} record{'s' if items != 1 else ''} of your copy" in printed[0]
    assert (tmp_path / "packages" / f"{request_id}.zip.enc").is_file()
