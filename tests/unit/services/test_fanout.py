"""What a fan-out shares and counts: batches of locations, the run's scan context, grouped progress counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import cases
from models.db import session_scope
from models.errors import RequestNotFoundError
from models.settings import load_settings
from models.tables import LocationScan
from models.types import RequestKind
from services import access
from services.fanout import batches, current_scan_context, location_counts, shared_scan_context
from tests.integration.flows.conftest import make_fleet


def test_batches_keep_order_and_size() -> None:
    """Every location once, in order, `per_task` to a batch; 0 or less means one location per batch."""
    names = [f"laptop-{i:02d}" for i in range(1, 8)]
    assert batches(names, 3) == [names[0:3], names[3:6], names[6:7]]
    assert batches(names, 1) == [[n] for n in names]
    assert batches(names, 0) == [[n] for n in names]
    assert batches(names, 50) == [names]
    assert batches([], 4) == []


def test_location_counts_match_the_full_progress(tmp_path: Path) -> None:
    """The grouped count says what `access_progress` says: final statuses are done, the rest are not."""
    fleet = make_fleet(tmp_path, 4)
    settings = load_settings(fleet.config)
    rid = fleet.submit(RequestKind.ACCESS)
    access.begin_access(settings, rid)
    with session_scope(settings.database.url) as session:
        scans = {s.location: s for s in cases.location_scans(session, rid)}
        for location, status in (("laptop-01", "scanned"), ("laptop-02", "unreachable"), ("laptop-03", "refused")):
            scans[location].status = status
            session.add(scans[location])
    counts = location_counts(settings, rid)
    progress = access.access_progress(settings, rid)
    assert (counts.done, counts.total, counts.status) == (progress.done, progress.total, progress.status)
    assert (counts.done, counts.total) == (2, 4)
    with session_scope(settings.database.url) as session:
        session.add(LocationScan(request_id=rid, location="laptop-01", phase="erasure", status="pending"))
    assert location_counts(settings, rid).total == 4  # only the access (discovery) phase counts
    with pytest.raises(RequestNotFoundError):
        location_counts(settings, "DSR-1999-0001")


def test_the_shared_scan_context_lives_as_long_as_the_outermost_block(tmp_path: Path) -> None:
    """Inside the block every caller gets the same context (one matcher for the run); after it, none."""
    fleet = make_fleet(tmp_path, 1)
    settings = load_settings(fleet.config)
    rid = fleet.submit(RequestKind.ACCESS)
    assert current_scan_context(rid) is None
    with shared_scan_context(settings, rid) as outer:
        assert outer is not None and current_scan_context(rid) is outer
        with shared_scan_context(settings, rid) as inner:
            assert inner is outer
        assert current_scan_context(rid) is outer
        assert outer.matcher.find("zoe.angstrom@example.invalid")
    assert current_scan_context(rid) is None


def test_a_request_without_a_context_shares_nothing(tmp_path: Path) -> None:
    """A request whose matcher cannot be built (unknown here) gives None: each scan records its own failure."""
    fleet = make_fleet(tmp_path, 1)
    settings = load_settings(fleet.config)
    with shared_scan_context(settings, "DSR-1999-0001") as context:
        assert context is None
        assert current_scan_context("DSR-1999-0001") is None
