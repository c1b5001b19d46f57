"""The orchestrator must not become the leak: after an access and an erasure request (with a dead laptop and a
failing task), no form of the subject's identifiers is anywhere but inside the sealed package."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from prefect import get_run_logger
from prefect.settings import get_current_settings
from sqlalchemy.engine import make_url

from flows import access as access_flow
from flows import erasure_request as erasure_flow
from flows.access import access_request
from flows.erasure_request import erasure_request
from models.settings import load_settings
from models.types import RequestKind
from services import access as access_steps
from services import erasure as steps
from services.staging import open_package
from services.subject import request_key
from tests.integration.flows.conftest import Fleet, make_fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]

EXTRA = """
[[endpoints]]
name = "laptop-dead"
url = "file:///nonexistent/dsr-dead-laptop"
os = "linux"
"""


def _forms(fleet: Fleet) -> set[bytes]:
    subject = fleet.truth["subjects"][0]
    forms = {f["literal"] for f in subject["forms"]} | set(subject["emails"]) | {subject["name"]}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}
    return {f.lower().encode("utf-8") for f in forms if len(f) >= 6}


def _hits(path: Path, forms: set[bytes]) -> list[str]:
    found = []
    for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
        data = file.read_bytes().lower()
        found += [f"{file}: {form!r}" for form in forms if form in data]
    return found


def test_identifiers_live_only_in_the_sealed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Prefect's database and home, the case database, staging, logs and artifacts hold no identifier form."""
    fleet = make_fleet(tmp_path, 4, seed=21, extra=EXTRA)
    text = fleet.config.read_text(encoding="utf-8").replace(
        "[access]\n", "[access]\nissue_with_gaps_days_before_deadline = 40\n", 1
    )
    fleet.config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("DSR_CONFIG", str(fleet.config))
    monkeypatch.setenv("DSR_RETRY_DELAYS", "0,0")
    caplog.set_level(logging.DEBUG)
    real_scan = access_steps.scan_location
    subject_email = fleet.truth["subjects"][0]["emails"][0]

    def failing_scan(settings: Any, request_id: str, location: str, **kwargs: Any) -> Any:
        if location == "laptop-03":
            get_run_logger().warning("about to fail for %s", subject_email)  # the log filter must catch this
            raise RuntimeError(f"boom while reading {subject_email}")  # the task guard must sanitise this
        return real_scan(settings, request_id, location, **kwargs)

    monkeypatch.setattr(access_flow.steps, "scan_location", failing_scan)
    for task in (access_flow.scan_location, erasure_flow.discover_location, erasure_flow.erase_location):
        monkeypatch.setattr(task, "retry_delay_seconds", [0.0, 0.0])
    access_id = fleet.submit(RequestKind.ACCESS)
    result = access_request(access_id)
    assert result["issued"] is True
    monkeypatch.setattr(access_flow.steps, "scan_location", real_scan)

    erasure_id = fleet.submit(RequestKind.ERASURE)
    assert erasure_request(erasure_id, wait_for_approval=False)["status"] == "awaiting_approval"
    settings = load_settings(fleet.config)
    digest = steps.plan_state(settings, erasure_id).digest or ""
    steps.decide(settings, erasure_id, approved=True, reviewer="Dana Reviewer", digest=digest)
    erasure_request(erasure_id, wait_for_approval=False)

    forms = _forms(fleet)
    places: list[Path] = []
    url = get_current_settings().server.database.connection_url
    prefect_db = make_url(url.get_secret_value() if url is not None else "").database
    assert prefect_db and Path(prefect_db).exists()
    places += [p for p in Path(prefect_db).parent.glob(Path(prefect_db).name + "*")]
    places.append(Path(get_current_settings().home).expanduser())
    case_db = make_url(settings.database.url).database
    assert case_db
    places += [p for p in Path(case_db).parent.glob(Path(case_db).name + "*")]
    places.append(settings.state_dir)
    places.append(settings.access.package_dir)
    leaks = [hit for place in places if place.exists() for hit in _hits(place, forms)]
    captured = capfd.readouterr()
    logs = (captured.out + captured.err + caplog.text).lower()
    leaks += [f"logs: {form!r}" for form in forms if form.decode() in logs]
    assert not leaks, leaks[:10]

    sealed = sorted(settings.access.package_dir.glob("*.zip.enc"))
    assert [p.name for p in sealed] == [f"{access_id}.zip.enc"]
    package = open_package(sealed[0], request_key(settings, access_id), access_id, tmp_path / "out")
    report = json.loads((package / "report.json").read_text(encoding="utf-8"))
    assert subject_email in json.dumps(report)
    statuses = {s.get("name", s.get("location")): s["status"] for s in report["searched"]}
    assert statuses["laptop-dead"] != "scanned" and statuses["laptop-03"] != "scanned"
    assert all(statuses[name] == "scanned" for name in ("laptop-01", "laptop-02", "laptop-04")), statuses
