"""When a scan child on another worker may scan (`services.remote_scans.refusal`), and the parent's check that
every location read has its staged copy (`reopen_unstaged`)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from models import cases
from models.db import session_scope
from models.run_lock import run_in_progress, run_lock
from models.settings import load_settings
from models.tables import Finding as FindingRow
from models.types import RequestKind, RequestStatus
from services import access, remote_scans
from services.staging import staged_file, staging_dir
from tests.integration.flows.conftest import make_fleet


def test_a_child_scans_only_for_its_parent_while_that_run_holds_the_request(tmp_path: Path) -> None:
    """Refused without a parent, with no run holding the request, without the parent's marker in the staging
    directory it sees (not shared storage), for another run's marker, and once the parent stops waiting."""
    fleet = make_fleet(tmp_path, 2)
    settings = load_settings(fleet.config)
    url = settings.database.url
    rid = fleet.submit(RequestKind.ACCESS)
    access.begin_access(settings, rid)
    marker = settings.access.package_dir / "staging" / rid / remote_scans.RUN_MARKER

    assert "started it" in (remote_scans.refusal(settings, rid, None) or "")
    assert "no access run" in (remote_scans.refusal(settings, rid, "run-a") or "")
    assert not run_in_progress(url, rid)  # the probe gave the lock back
    with run_lock(url, rid):
        assert run_in_progress(url, rid)
        assert "staging directory" in (remote_scans.refusal(settings, rid, "run-a") or "")
        assert not marker.parent.exists()  # a refused child creates nothing
        remote_scans.open_remote_scans(settings, rid, "run-a")
        assert remote_scans.refusal(settings, rid, "run-a") is None
        assert "no longer" in (remote_scans.refusal(settings, rid, "run-b") or "")
        remote_scans.close_remote_scans(settings, rid)
        assert remote_scans.refusal(settings, rid, "run-a") is not None
        remote_scans.open_remote_scans(settings, rid, "run-a")
    assert "no access run" in (remote_scans.refusal(settings, rid, "run-a") or "")
    with run_lock(url, rid):  # the probes never kept it
        with session_scope(url) as session:
            cases.transition(session, cases.get_request(session, rid), RequestStatus.WITHDRAWN, action="test.withdraw")
        assert "closed" in (remote_scans.refusal(settings, rid, "run-a") or "")


def test_a_location_read_without_a_copy_here_goes_back_to_pending(tmp_path: Path) -> None:
    """A location the case database says was read but whose staged copy is not in this run's staging directory
    (a worker without the shared storage) is put back to pending with a reason and its finding rows dropped;
    one with its copy stays scanned."""
    fleet = make_fleet(tmp_path, 3)
    settings = load_settings(fleet.config)
    rid = fleet.submit(RequestKind.ACCESS)
    access.begin_access(settings, rid)
    for location in ("laptop-01", "laptop-02"):
        assert access.scan_location(settings, rid, location).status == "scanned"
    assert access.access_progress(settings, rid).rows[1]["findings"] > 0
    staged_file(staging_dir(settings, rid), "laptop-02").unlink()

    assert remote_scans.reopen_unstaged(settings, rid) == ["laptop-02"]
    rows = {row["location"]: row for row in access.access_progress(settings, rid).rows}
    assert rows["laptop-01"]["status"] == "scanned"
    assert rows["laptop-02"]["status"] == "pending"
    assert rows["laptop-02"]["findings"] == 0
    assert "package_dir must be storage every worker reaches" in rows["laptop-02"]["reason"]
    assert rows["laptop-03"]["status"] == "pending"
    with session_scope(settings.database.url) as session:
        kept = set(session.exec(select(FindingRow.location).where(FindingRow.request_id == rid)).all())
    assert kept == {"laptop-01"}
    assert remote_scans.reopen_unstaged(settings, rid) == []


def test_a_scan_withdrawn_while_it_read_publishes_and_records_nothing(tmp_path: Path) -> None:
    """A child whose parent stopped waiting while it read a laptop (cancelled, its process not yet ended):
    asked again before publishing, it discards the copy and records nothing; the laptop's earlier copy,
    status and finding rows stay as they were."""
    import pytest

    fleet = make_fleet(tmp_path, 2)
    settings = load_settings(fleet.config)
    rid = fleet.submit(RequestKind.ACCESS)
    access.begin_access(settings, rid)
    assert access.scan_location(settings, rid, "laptop-01").status == "scanned"
    copy = staged_file(staging_dir(settings, rid), "laptop-01")
    before = copy.read_bytes()
    with session_scope(settings.database.url) as session:
        rows = len(session.exec(select(FindingRow).where(FindingRow.request_id == rid)).all())
        attempts = next(s.attempts for s in cases.location_scans(session, rid) if s.location == "laptop-01")
    with pytest.raises(access.ScanWithdrawnError, match="parent has ended"):
        access.scan_location(settings, rid, "laptop-01", withdrawn=lambda: f"{rid}: its parent has ended")
    assert copy.read_bytes() == before
    assert [p.name for p in copy.parent.iterdir() if p.name.startswith(".")] == []  # no temporary copy left
    with session_scope(settings.database.url) as session:
        assert len(session.exec(select(FindingRow).where(FindingRow.request_id == rid)).all()) == rows
        assert next(s.attempts for s in cases.location_scans(session, rid) if s.location == "laptop-01") == attempts
