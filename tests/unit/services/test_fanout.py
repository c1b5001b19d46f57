"""What a fan-out shares and counts: batches of locations, the run's scan context, grouped progress counts."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from models import cases
from models.db import session_scope
from models.errors import RequestNotFoundError
from models.settings import EndpointSettings, Settings, StoreSettings, load_settings
from models.tables import LocationScan
from models.types import RequestKind
from services import access, fanout
from services.fanout import (
    batches,
    current_scan_context,
    local_scan_slot,
    location_counts,
    reads_here,
    shared_scan_context,
)
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


@pytest.fixture
def fresh_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's `file://` slots, empty for this test (a scan left by another test would hold one)."""
    monkeypatch.setattr(fanout, "_LOCAL_SLOTS", fanout._LocalSlots())


def _most_at_once(
    settings: Settings, locations: list[str], rid: str, scan: Any, monkeypatch: pytest.MonkeyPatch
) -> int:
    """How many of `locations` were inside their scan (`scan`, the real one) at once when all are scanned from
    threads started together (each scan lasts at least 0.2 s)."""
    inside, most, lock = 0, 0, threading.Lock()

    def slow(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.2)
        try:
            return scan(*args, **kwargs)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(access, "scan_endpoint", slow)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda loc=loc: outcomes.append(access.scan_location(settings, rid, loc).status))
        for loc in locations
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["scanned"] * len(locations)
    return most


@pytest.mark.usefixtures("fresh_slots")
def test_file_laptops_are_scanned_as_many_at_once_as_local_scans_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`file://` laptops scanned from several threads take turns (one at a time by default), and
    `[access].local_scans` raises how many may overlap."""
    fleet = make_fleet(tmp_path, 3)
    settings = load_settings(fleet.config)
    rid = fleet.submit(RequestKind.ACCESS)
    locations = access.begin_access(settings, rid)
    real = access.scan_endpoint
    assert settings.access.local_scans == 1
    assert _most_at_once(settings, locations, rid, real, monkeypatch) == 1
    two = settings.model_copy(update={"access": settings.access.model_copy(update={"local_scans": 2})})
    assert _most_at_once(two, locations, rid, real, monkeypatch) == 2


@pytest.mark.usefixtures("fresh_slots")
def test_only_file_laptops_wait_for_a_local_slot(tmp_path: Path) -> None:
    """While the one slot is held, another `file://` laptop waits for it; an SSH laptop (walked on the laptop
    itself), an S3 store and a name that is no `file://` laptop go in at once."""
    fleet = make_fleet(tmp_path, 2)
    settings = load_settings(fleet.config)
    remote = EndpointSettings(name="remote-01", url="ssh://dsr@127.0.0.1:2222")
    store = StoreSettings(name="backups", url="s3://agent-backups/laptops/")
    settings = settings.model_copy(
        update={"endpoints": [*settings.endpoints, remote], "stores": [*settings.stores, store]}
    )
    assert [reads_here(settings, name) for name in ("laptop-01", "remote-01", "backups", "other")] == [
        True, False, False, False
    ]  # fmt: skip
    names = ("laptop-02", "remote-01", "backups", "other")
    entered: dict[str, threading.Event] = {name: threading.Event() for name in names}

    def enter(location: str) -> None:
        with local_scan_slot(settings, location):
            entered[location].set()

    with local_scan_slot(settings, "laptop-01"):
        threads = [threading.Thread(target=enter, args=(name,)) for name in entered]
        for thread in threads:
            thread.start()
        assert all(entered[name].wait(5) for name in ("remote-01", "backups", "other"))
        assert not entered["laptop-02"].wait(0.3)
    assert entered["laptop-02"].wait(5)
    for thread in threads:
        thread.join()


@pytest.mark.usefixtures("fresh_slots")
def test_a_lowered_limit_holds_for_the_scans_that_start_after(tmp_path: Path) -> None:
    """The slots are counted once for the process, against the limit each scan is given: with two held under
    a limit of 2, a scan given a limit of 1 waits until both have left (not only one)."""
    fleet = make_fleet(tmp_path, 3)
    settings = load_settings(fleet.config)
    two = settings.model_copy(update={"access": settings.access.model_copy(update={"local_scans": 2})})
    entered, leave = threading.Event(), [threading.Event(), threading.Event()]

    def hold(location: str, until: threading.Event) -> None:
        with local_scan_slot(two, location):
            until.wait(10)

    holders = [threading.Thread(target=hold, args=(f"laptop-0{n + 1}", leave[n])) for n in range(2)]
    for thread in holders:
        thread.start()
    deadline = time.monotonic() + 5
    while fanout._LOCAL_SLOTS._busy < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    def third() -> None:
        with local_scan_slot(settings, "laptop-03"):
            entered.set()

    late = threading.Thread(target=third)
    late.start()
    leave[0].set()
    assert not entered.wait(0.3)
    leave[1].set()
    assert entered.wait(5)
    for thread in [*holders, late]:
        thread.join()
