"""The deadline-watch flow under Prefect's test harness: overdue marking and the access sweep as a subflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows.deadline_watch import deadline_watch
from models import cases
from models.db import session_scope
from models.tables import utcnow
from models.types import RequestKind, RequestStatus
from services import access as access_steps
from tests.integration.retention.conftest import Fleet

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
