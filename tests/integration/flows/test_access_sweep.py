"""Offline laptops: a laptop down during the first run stays pending; the sweep scans it once it is back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flows import access as access_flow
from flows.access import access_request, access_sweep
from models import cases
from models.db import session_scope
from models.settings import load_settings
from models.types import RequestKind
from tests.integration.flows.conftest import make_fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


def test_sweep_scans_a_laptop_that_came_back_and_issues_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First run: the late laptop is unreachable and the request waits; after it returns the sweep issues it."""
    late = tmp_path / "late-laptop"
    extra = f'\n[[endpoints]]\nname = "laptop-late"\nurl = "file://{late}"\nos = "macos"\n'
    fleet = make_fleet(tmp_path, 3, seed=9, extra=extra)
    monkeypatch.setenv("DSR_CONFIG", str(fleet.config))
    monkeypatch.setattr(access_flow.scan_location, "retry_delay_seconds", [0.0, 0.0])
    rid = fleet.submit(RequestKind.ACCESS)

    first = access_request(rid)
    assert first["issued"] is False and first["pending"] == ["laptop-late"]
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        scans = {s.location: s for s in cases.location_scans(session, rid)}
        assert cases.get_request(session, rid).status == "in_progress"
    assert scans["laptop-late"].status == "unreachable" and scans["laptop-late"].attempts == 3

    shutil.copytree(fleet.root / "laptop-01", late, symlinks=True)
    swept = access_sweep()
    assert swept == {"requests": 1, "issued": 1}
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, rid).status == "completed"
    package = fleet.package(rid, tmp_path / "out")
    report = json.loads((package / "report.json").read_text(encoding="utf-8"))
    searched = {s.get("name", s.get("location")): s["status"] for s in report["searched"]}
    assert searched["laptop-late"] == "scanned"
    assert any(i["location"].get("endpoint") == "laptop-late" for i in report["items"])


def test_package_is_issued_with_the_gap_when_the_laptop_never_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Close to the deadline the package goes out anyway, listing the unreachable laptop and what was tried."""
    extra = '\n[[endpoints]]\nname = "laptop-gone"\nurl = "file:///nonexistent/laptop-gone"\nos = "linux"\n'
    fleet = make_fleet(tmp_path, 2, seed=10, extra=extra)
    text = fleet.config.read_text(encoding="utf-8").replace(
        "[access]\n", "[access]\nissue_with_gaps_days_before_deadline = 31\n", 1
    )
    fleet.config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("DSR_CONFIG", str(fleet.config))
    monkeypatch.setattr(access_flow.scan_location, "retry_delay_seconds", [0.0, 0.0])
    rid = fleet.submit(RequestKind.ACCESS)
    assert access_request(rid)["issued"] is True
    report = json.loads((fleet.package(rid, tmp_path / "out") / "report.json").read_text(encoding="utf-8"))
    gone = next(s for s in report["searched"] if s.get("name", s.get("location")) == "laptop-gone")
    assert gone["status"] == "unreachable" and gone["reason"]
    html = (fleet.package(rid, tmp_path / "out2") / "report.html").read_text(encoding="utf-8")
    assert "laptop-gone" in html
