"""The deadline-watch flow under Prefect's test harness: overdue marking and the access sweep as a subflow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from flows.dashboard import DASHBOARD_KEY
from flows.deadline_watch import deadline_watch
from models import cases
from models.db import session_scope
from models.tables import utcnow
from models.types import RequestKind, RequestStatus
from services import access as access_steps
from tests.fixtures.webhook import Receiver, receiver
from tests.integration.retention.conftest import Fleet

__all__ = ["receiver"]

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


def test_watch_marks_overdue_and_sweeps_pending_locations(fleet: Fleet) -> None:
    """An overdue request is reported once; an access request with pending locations is completed by the sweep."""
    overdue = fleet.submit(RequestKind.ERASURE, received_at=datetime(2026, 1, 5, 9, tzinfo=UTC))
    pending = fleet.submit(RequestKind.ACCESS, received_at=utcnow() - timedelta(days=2))
    settings = fleet.settings
    todo = access_steps.begin_access(settings, pending)
    assert todo, "every location starts pending"
    today = cases.local_date(utcnow(), settings)

    result = deadline_watch(today=today)
    assert result["overdue"] == [overdue] and result["newly_overdue"] == [overdue]
    assert pending not in result["overdue"] + result["due_soon"]
    assert result["sweep"] == {"requests": 1, "issued": 1}
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, pending).status == RequestStatus.COMPLETED.value

    again = deadline_watch(today=today, sweep=False)
    assert again["overdue"] == [overdue] and again["newly_overdue"] == [] and again["sweep"] is None


def _dashboard_rows() -> list[dict[str, object]]:
    """The newest data of the dashboard artifact (one key, always current)."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[DASHBOARD_KEY])))
    newest = max(artifacts, key=lambda a: a.created or utcnow())
    data = newest.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def test_watch_publishes_the_dashboard_and_alerts_once(fleet: Fleet, receiver: Receiver) -> None:
    """Three requests with different deadlines: the dashboard lists them most urgent first; the one due within
    7 days gives exactly one webhook POST without identifiers; a second watch sends nothing new."""
    with fleet.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[notifications]\nwebhook_url = "{receiver.url}"\n')
    now = utcnow()
    later = fleet.submit(RequestKind.ACCESS, received_at=now - timedelta(days=1))
    soon = fleet.submit(RequestKind.ERASURE, received_at=now - timedelta(days=27))
    middle = fleet.submit(RequestKind.PORTABILITY, received_at=now - timedelta(days=12))
    today = cases.local_date(now, fleet.settings)

    result = deadline_watch(today=today, sweep=False)
    assert result["alerts_sent"] == [soon]
    rows = _dashboard_rows()
    assert [r["request_id"] for r in rows] == [soon, middle, later]
    assert {"kind", "status", "received", "due", "days_left", "pending_locations", "next"} <= set(rows[0])
    assert len(receiver.bodies) == 1
    body = json.loads(receiver.bodies[0])
    assert set(body) == {"text", "request_id", "kind", "due", "days_left"} and body["request_id"] == soon
    person = next(s for s in fleet.truth["subjects"] if s["key"] == "s1")
    raw = receiver.bodies[0].decode().lower()
    assert person["name"].lower() not in raw and all(e.lower() not in raw for e in person["emails"])

    again = deadline_watch(today=today, sweep=False)
    assert again["alerts_sent"] == [] and len(receiver.bodies) == 1
