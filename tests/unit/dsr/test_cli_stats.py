"""`dsr stats` on a case database with completed, refused, extended and overdue requests: exact counts."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from models import cases
from models.db import session_scope
from models.identifiers import validate_identifier
from models.settings import DatabaseSettings, Settings
from models.tables import LedgerEntry
from models.types import IdentifierKind, RequestKind, RequestStatus
from tests.unit.dsr.conftest import Invoke, assert_clean_failure


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def _request(settings: Settings, kind: RequestKind, received: str) -> str:
    with session_scope(settings.database.url) as session:
        return cases.submit_request(
            session,
            settings,
            kind=kind,
            identifiers=[validate_identifier(IdentifierKind.EMAIL, "ola.nordmann@mail.invalid")],
            hmac_key=b"h" * 32,
            master_key=b"m" * 32,
            received_at=_at(received),
        ).id


def _complete(settings: Settings, request_id: str, closed: str) -> None:
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, request_id)
        cases.transition(session, request, RequestStatus.IN_PROGRESS, action="test.started")
        cases.transition(session, request, RequestStatus.COMPLETED, action="test.completed")
        request.closed_at = _at(closed)
        session.add(request)


def _kept(settings: Settings, request_id: str, grounds: list[str]) -> None:
    with session_scope(settings.database.url) as session:
        for n, ground in enumerate(grounds, start=1):
            session.add(
                LedgerEntry(
                    seq=n, request_id=request_id, action="exception", exception_ground=ground, outcome="kept",
                    at=_at("2026-04-15"), prev_hash=f"{n - 1:064d}", entry_hash=f"{n:064d}",
                )
            )  # fmt: skip


@pytest.fixture
def populated(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven requests; six received in 2026. Today (the real clock) is after every due date."""
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    monkeypatch.setenv("DSR_HMAC_KEY", "00" * 32)
    monkeypatch.setenv("DSR_MASTER_KEY", "11" * 32)
    monkeypatch.delenv("DSR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings(database=DatabaseSettings(url=database_url))
    fast = _request(settings, RequestKind.ACCESS, "2026-01-05")
    _complete(settings, fast, "2026-01-15")  # 10 days
    slower = _request(settings, RequestKind.ACCESS, "2026-02-02")
    _complete(settings, slower, "2026-02-22")  # 20 days
    late_erasure = _request(settings, RequestKind.ERASURE, "2026-03-02")
    _complete(settings, late_erasure, "2026-04-16")  # 45 days, after its due date 2026-04-02
    _kept(settings, late_erasure, ["legal_claims", "legal_claims", "object_lock"])
    refused = _request(settings, RequestKind.ERASURE, "2026-03-10")
    with session_scope(settings.database.url) as session:
        cases.refuse_request(session, refused, ground="manifestly_unfounded", reason="the same request weekly")
        cases.get_request(session, refused).closed_at = _at("2026-03-12")  # answered in time
    _request(settings, RequestKind.PORTABILITY, "2026-01-20")  # open and overdue
    extended = _request(settings, RequestKind.ACCESS, "2026-04-01")
    with session_scope(settings.database.url) as session:
        cases.extend_request(session, settings, extended, reason="many systems", now=_at("2026-04-10"))
    _request(settings, RequestKind.ACCESS, "2025-12-01")  # before the period


@pytest.mark.usefixtures("populated")
def test_stats_json_gives_exact_counts(invoke: Invoke) -> None:
    """Kinds and outcomes, days to complete, overdue (open and answered late), extensions, grounds.

    Today (the real clock) is after every due date of the fixture."""
    result = invoke("stats", "--from", "2026-01-01", "--to", "2026-12-31", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["requests"] == 6
    assert doc["by_kind"] == {
        "access": {"completed": 2, "open": 1},
        "erasure": {"completed": 1, "refused": 1},
        "portability": {"open": 1},
    }
    assert (doc["completed"], doc["median_days_to_complete"], doc["p95_days_to_complete"]) == (3, 20.0, 45.0)
    assert (doc["overdue"], doc["overdue_open"], doc["answered_late"]) == (3, 2, 1)
    assert doc["extensions"] == 1
    assert doc["refusals_by_ground"] == {"manifestly_unfounded": 1}
    assert (doc["erasures_completed"], doc["erasures_with_items_kept"]) == (1, 1)
    assert doc["items_kept_by_ground"] == {"legal_claims": 2, "object_lock": 1}
    assert "ola" not in result.stdout

    everything = json.loads(invoke("stats", "--json").stdout)
    assert everything["requests"] == 7 and everything["by_kind"]["access"] == {"completed": 2, "open": 2}
    assert everything["overdue_open"] == 3


@pytest.mark.usefixtures("populated")
def test_stats_csv_and_table(invoke: Invoke) -> None:
    """--csv gives measure,value rows; the default is a table; a reversed period is refused."""
    result = invoke("stats", "--from", "2026-01-01", "--csv")
    rows = {r["measure"]: r["value"] for r in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["requests"] == "6" and rows["erasure.refused"] == "1" and rows["kept.legal_claims"] == "2"
    assert rows["median_days_to_complete"] == "20"
    assert "p95_days_to_complete" in invoke("stats").stdout
    assert_clean_failure(invoke("stats", "--from", "2026-02-01", "--to", "2026-01-01"))
