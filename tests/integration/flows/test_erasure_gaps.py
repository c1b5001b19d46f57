"""Erasure with items the product cannot read or change: gaps, never exceptions, never `completed`.

Runs the erasure's service steps (discover, plan, approve, execute, verify, certify) over simulated
`file://` laptops, one holding a link out of scope, a FIFO named like a transcript and a transcript whose name is
not UTF-8; no Prefect (the flow only wraps these steps).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlmodel import select

from models import cases
from models.db import session_scope
from models.settings import Settings, load_settings
from models.tables import Finding
from models.types import RequestKind, RequestStatus
from services import access
from services import erasure as steps
from services.certificates import certify, erasure_outcome
from services.evidence import ledger_for
from tests.integration.flows.conftest import Fleet, make_fleet
from tests.unit.dsr.conftest import invoke_main

pytestmark = pytest.mark.timeout(300)

BAD_NAME = b"\xff\xfe-notes.jsonl"


def _project(fleet: Fleet) -> Path:
    """A project folder on a laptop the subject does not own (their lines there are redacted, not deleted)."""
    owned = set(fleet.truth["subjects"][0]["owner_of"])
    laptop = next(p for p in sorted(fleet.root.glob("laptop-*")) if p.name not in owned)
    claude = next(p for p in sorted(laptop.rglob(".claude")) if p.is_dir())
    project = claude / "projects" / "-work-gaps"
    project.mkdir(parents=True, exist_ok=True)
    return project


def _plant(fleet: Fleet, outside: Path) -> bytes:
    """A link out of the laptop's root, a FIFO and a non-UTF-8 named transcript naming the subject."""
    project = _project(fleet)
    outside.mkdir()
    secret = outside / "elsewhere.jsonl"
    secret.write_text('{"type": "user", "message": {"content": "nothing"}}\n', encoding="utf-8")
    os.symlink(secret, project / "escape.jsonl")
    os.mkfifo(project / "pipe.jsonl")
    email = fleet.truth["subjects"][0]["emails"][0]
    raw = os.path.join(os.fsencode(project), BAD_NAME)
    record = {"type": "user", "timestamp": "2026-01-02T10:00:00Z", "message": {"content": f"write to {email}"}}
    other = {"type": "assistant", "timestamp": "2026-01-02T10:00:01Z", "message": {"content": "weather"}}
    with open(raw, "wb") as fh:
        fh.write((json.dumps(record) + "\n" + (json.dumps(other) + "\n") * 4).encode())  # not mainly about them
    return raw


def _erase(settings: Settings, rid: str) -> Path:
    for location in steps.begin_erasure(settings, rid):
        steps.discover_location(settings, rid, location)
    digest = steps.make_plan(settings, rid).digest or ""
    steps.decide(settings, rid, approved=True, reviewer="Dana Reviewer", digest=digest)
    locations = steps.plan_locations(settings, rid)
    reports = [steps.execute_location(settings, rid, loc, run_id="run-1") for loc in locations]
    verification = steps.verify(settings, rid, tuple(r for report in reports for r in report.retained))
    return certify(settings, rid, reports, verification)


def _status(settings: Settings, rid: str) -> str:
    with session_scope(settings.database.url) as session:
        return cases.get_request(session, rid).status


def test_gaps_are_not_reached_and_the_request_is_completed_with_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Link and FIFO are `not_reached` (plan, ledger, certificate), never kept under Art. 17(3); the non-UTF-8
    transcript is erased by its bytes; the request ends `completed_with_gaps`, not `completed`, and
    `dsr request list/show` say so."""
    fleet = make_fleet(tmp_path, 2, seed=11)
    raw = _plant(fleet, tmp_path / "outside")
    settings = load_settings(fleet.config)
    rid = fleet.submit(RequestKind.ERASURE)
    html = _erase(settings, rid)

    plan = steps.approved_plan(settings, rid)
    gaps = {(a.path or "").rsplit("/", 1)[-1]: a.reason for a in plan.not_reached}
    assert gaps == {"escape.jsonl": "symlink_out_of_scope", "pipe.jsonl": "special_file"}
    assert not [a for a in plan.exceptions if (a.path or "").endswith(("escape.jsonl", "pipe.jsonl"))]

    assert os.path.exists(raw), "the transcript's other lines stay"
    with open(raw, "rb") as fh:
        data = fh.read()
    assert fleet.truth["subjects"][0]["emails"][0].encode() not in data and b"weather" in data

    document = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
    assert document["outcome"] == "complete_with_gaps"
    gap_laptop = _project(fleet).relative_to(fleet.root).parts[0]
    checks = {v["location"]: v["status"] for v in document["verification"]}
    assert checks[gap_laptop] == "gaps", "never 'nothing about you remains' where items were not reached"
    not_reached = {n["path"].rsplit("/", 1)[-1]: n for n in document["not_reached"]}
    assert {k: n["reason"] for k, n in not_reached.items()} == gaps
    assert all(n["ledger_seq"] for n in not_reached.values())
    assert not [k for k in document["kept"] if k["path"].endswith(("escape.jsonl", "pipe.jsonl"))]
    assert "Kept under an Art. 17(3) exception" not in html.read_text(encoding="utf-8")
    assert any(e["path"].endswith("/\\xff\\xfe-notes.jsonl") for e in document["erased"])

    entries = {e.seq: e.record for e in ledger_for(settings).entries()}
    for item in not_reached.values():
        record = entries[item["ledger_seq"]]
        assert (record.action, record.outcome, record.exception_ground) == ("skip", "not_reached", None)
        assert record.details["reason"] == item["reason"]

    assert _status(settings, rid) == RequestStatus.COMPLETED_WITH_GAPS
    assert erasure_outcome(settings, rid) == "completed_with_gaps"

    monkeypatch.setenv("DSR_CONFIG", str(fleet.config))
    listed = invoke_main(monkeypatch, capsys, "request", "list", "--status", "completed_with_gaps", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)] == [rid]
    shown = invoke_main(monkeypatch, capsys, "request", "show", rid)
    assert shown.returncode == 0, shown.stderr
    assert "completed_with_gaps" in shown.stdout and "could not be read or changed" in shown.stdout


def test_stay_open_keeps_a_request_with_gaps_in_progress(tmp_path: Path) -> None:
    """With `[erasure] on_gaps = "stay_open"` a request with gaps is left in progress, never completed."""
    fleet = make_fleet(tmp_path, 2, seed=11, extra='\n[erasure]\non_gaps = "stay_open"\n')
    _plant(fleet, tmp_path / "outside")
    settings = load_settings(fleet.config)
    assert settings.erasure.on_gaps == "stay_open"
    rid = fleet.submit(RequestKind.ERASURE)
    html = _erase(settings, rid)
    assert _status(settings, rid) == RequestStatus.IN_PROGRESS
    document = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
    assert document["outcome"] == "complete_with_gaps" and document["completed_at"] is None


def test_access_finds_a_transcript_whose_name_is_not_utf8(tmp_path: Path) -> None:
    """An access request finds the non-UTF-8 named transcript (no failed laptop), records it in the case
    database with its escaped name, and the package is built."""
    fleet = make_fleet(tmp_path, 2, seed=11)
    raw = _plant(fleet, tmp_path / "outside")
    settings = load_settings(fleet.config)
    rid = fleet.submit(RequestKind.ACCESS)
    for location in access.begin_access(settings, rid):
        assert access.scan_location(settings, rid, location).status == "scanned", location
    with session_scope(settings.database.url) as session:
        paths = {f.path for f in session.exec(select(Finding).where(Finding.request_id == rid)).all()}
    shown = os.fsdecode(raw).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    assert any(shown.endswith(p) for p in paths), "the transcript is found under its escaped name"
    access.assemble_package(settings, rid)
    assert _status(settings, rid) == RequestStatus.COMPLETED
