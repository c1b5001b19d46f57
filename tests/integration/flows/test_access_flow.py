"""The access flow end to end on a simulated fleet, under Prefect's test harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.access import access_request
from models import cases
from models.db import session_scope
from models.settings import load_settings
from models.types import RequestKind
from tests.integration.flows.conftest import Fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


def _key(loc: dict[str, object]) -> tuple[object, object, object]:
    return (loc.get("endpoint"), loc.get("path"), loc.get("line"))


def test_access_package_covers_every_planted_location(fleet: Fleet, tmp_path: Path) -> None:
    """Every planted location of the subject is in report.json with endpoint, path and line; no trap matches."""
    rid = fleet.submit(RequestKind.ACCESS)
    result = access_request(rid)
    assert result["issued"] is True and result["status"] == "completed"
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, rid).package_sha256
    package = fleet.package(rid, tmp_path / "delivered")
    report = json.loads((package / "report.json").read_text(encoding="utf-8"))
    assert report["request_id"] == rid and report["confirmation"] is True
    assert report["identity"]["outcome"] == "waived" and report["identity"]["at"]
    assert "No identity check was needed" in (package / "report.html").read_text(encoding="utf-8")
    found = {_key(item["location"]) for item in report["items"]}
    matched = {_key(i["location"]) for i in report["items"] if i.get("reason") != "owned_session"}
    planted = {
        (loc["endpoint"], loc["path"], loc["line"])
        for loc in fleet.truth["locations"]
        if loc["subject"] == "s1" and loc.get("in_agent_store", True)
    }
    # A whole-file item (line null) of an owned session covers every planted line of that file.
    missing = {p for p in planted if p not in found and (p[0], p[1], None) not in found}
    assert not missing, f"{len(missing)} planted locations missing, e.g. {sorted(missing, key=str)[:3]}"
    traps = {(t["endpoint"], t["path"], t["line"]) for t in fleet.truth["traps"]}
    assert not (traps & matched - planted)
    searched = {s["location"] if "location" in s else s["name"]: s for s in report["searched"]}
    assert all(searched[name]["status"] == "scanned" for name in (f"laptop-{i:02d}" for i in range(1, 11)))


def test_third_parties_are_redacted_in_the_copy(fleet: Fleet, tmp_path: Path) -> None:
    """Other people's e-mails and phones in the subject's lines do not appear in data/, report.json or report.html."""
    rid = fleet.submit(RequestKind.ACCESS)
    access_request(rid)
    package = fleet.package(rid, tmp_path / "delivered")
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in package.rglob("*") if p.is_file()]
    blob = "\n".join(texts).lower()
    for person in fleet.truth["third_parties"]:
        assert person["email"].lower() not in blob
    assert "[email 1]" in blob or "[email" in blob
    assert "zoe.angstrom@example.invalid" in blob


def test_no_plaintext_copy_is_left_on_disk(fleet: Fleet) -> None:
    """After issue, the package exists only sealed: no plaintext report, zip or staging copy remains."""
    rid = fleet.submit(RequestKind.ACCESS)
    access_request(rid)
    packages = load_settings(fleet.config).access.package_dir
    names = sorted(p.name for p in packages.rglob("*") if p.is_file())
    assert names == [f"{rid}.zip.enc"]
    assert b"angstrom" not in (packages / f"{rid}.zip.enc").read_bytes().lower()


def test_portability_run_is_named_after_its_kind(fleet: Fleet) -> None:
    """A portability request runs the access flow as `<id>-portability` (an access request as `<id>-access`)."""
    from prefect.client.orchestration import get_client

    rid = fleet.submit(RequestKind.PORTABILITY)
    state = access_request(rid, return_state=True)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.name == f"{rid}-portability"
    assert state.result()["issued"] is True
