"""The deadline check: overdue requests marked once, requests due within N days listed, closed ones ignored."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlmodel import col, select

from models import cases
from models.db import session_scope
from models.holds import add_hold, release_hold
from models.identifiers import validate_identifier
from models.settings import DatabaseSettings, Settings
from models.tables import AuditEvent
from models.types import IdentifierKind, RequestKind
from services.deadlines import OVERDUE_EVENT, WARN_DAYS, check_deadlines, holds_due_for_review

TODAY = date(2026, 11, 2)


def _submit(settings: Settings, received: datetime) -> str:
    with session_scope(settings.database.url) as session:
        return cases.submit_request(
            session,
            settings,
            kind=RequestKind.ACCESS,
            identifiers=[validate_identifier(IdentifierKind.EMAIL, "mia.berg@mail.invalid")],
            hmac_key=b"h" * 32,
            master_key=b"m" * 32,
            received_at=received,
        ).id


def test_a_paused_clock_is_neither_overdue_nor_due_soon(database_url: str) -> None:
    """Identity information asked for within the period and not yet arrived: the watch leaves the request alone;
    once it arrives the dates move by the days it took."""
    from models import identity

    settings = Settings(database=DatabaseSettings(url=database_url))
    paused = _submit(settings, datetime(2026, 9, 1, 10, tzinfo=UTC))
    with session_scope(database_url) as session:
        identity.ask_identity(session, settings, paused, at=datetime(2026, 9, 20, 10, tzinfo=UTC))
    assert check_deadlines(settings, today=TODAY) == []
    with session_scope(database_url) as session:
        request = identity.verify_identity(
            session, settings, paused, method="email_challenge", by="Ivy Checker",
            arrived_at=datetime(2026, 10, 20, 10, tzinfo=UTC),
        )  # fmt: skip
        assert request.due_on == date(2026, 11, 2)  # 1 Sep + 30 days paused = 1 Oct; 1 Nov is a Sunday
    [row] = check_deadlines(settings, today=TODAY)
    assert (row.request_id, row.state) == (paused, "due_soon")


def test_overdue_marked_once_and_due_soon_listed(database_url: str) -> None:
    """Overdue gets one audit event across runs; a request due within the window is listed; others are not."""
    settings = Settings(database=DatabaseSettings(url=database_url))
    overdue = _submit(settings, datetime(2026, 9, 1, 10, tzinfo=UTC))
    soon = _submit(settings, datetime(2026, 10, 6, 10, tzinfo=UTC))
    later = _submit(settings, datetime(2026, 10, 30, 10, tzinfo=UTC))
    withdrawn = _submit(settings, datetime(2026, 8, 1, 10, tzinfo=UTC))
    with session_scope(database_url) as session:
        cases.withdraw_request(session, withdrawn)

    first = check_deadlines(settings, today=TODAY)
    assert [(r.request_id, r.state, r.newly_marked) for r in first] == [
        (overdue, "overdue", True),
        (soon, "due_soon", False),
    ]
    assert 0 <= first[1].days_left <= WARN_DAYS and first[0].days_left < 0
    second = check_deadlines(settings, today=TODAY)
    assert [(r.request_id, r.newly_marked) for r in second] == [(overdue, False), (soon, False)]
    assert later not in {r.request_id for r in second}

    with session_scope(database_url) as session:
        events = session.exec(select(AuditEvent).where(col(AuditEvent.action) == OVERDUE_EVENT)).all()
    assert [e.request_id for e in events] == [overdue]
    assert "mia" not in events[0].details and json.loads(events[0].details)["due"] == first[0].due.isoformat()


def test_holds_due_for_review_are_listed(database_url: str) -> None:
    """Active holds whose review date has come are listed; future and released ones are not."""
    settings = Settings(database=DatabaseSettings(url=database_url))
    common = {"reason": "r", "case_reference": "c", "approver": "a"}
    with session_scope(database_url) as session:
        add_hold(session, settings, hold_id="DUE", review_date=date(2026, 11, 2), **common)  # type: ignore[arg-type]
        add_hold(session, settings, hold_id="LATER", review_date=date(2026, 12, 1), **common)  # type: ignore[arg-type]
        add_hold(session, settings, hold_id="GONE", review_date=date(2026, 1, 1), **common)  # type: ignore[arg-type]
        release_hold(session, settings, "GONE", by="counsel")
    assert holds_due_for_review(settings, today=TODAY) == [("DUE", date(2026, 11, 2))]
