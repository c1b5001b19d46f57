"""Deadlines of open requests: mark the overdue (once each), list those due soon and holds due for review.

Plain Python: no Prefect. Returns request ids, kinds, statuses and dates only (never identifiers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, select

from models.cases import record_event
from models.db import session_scope
from models.holds import active_holds
from models.identity import clock_paused
from models.lifecycle import OPEN_STATUSES, effective_due, is_overdue
from models.new_request import local_date
from models.settings import Settings
from models.tables import AuditEvent, Request, utcnow

WARN_DAYS = 7
"""Warn this many days (or fewer) before a request's (possibly extended) deadline."""

OVERDUE_EVENT = "request.overdue"
WATCH_ACTOR = "deadline-watch"


@dataclass(frozen=True)
class DeadlineRow:
    """One open request that is overdue or close to its deadline (no identifiers).

    Attributes:
        request_id: the request.
        kind: access, erasure, ...
        status: its lifecycle status.
        due: the (possibly extended) due date.
        days_left: days from today to the due date (negative when overdue).
        state: `overdue` or `due_soon`.
        newly_marked: the overdue audit event was written by this check.
    """

    request_id: str
    kind: str
    status: str
    due: date
    days_left: int
    state: str
    newly_marked: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready row."""
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "status": self.status,
            "due": self.due.isoformat(),
            "days_left": self.days_left,
            "state": self.state,
            "newly_marked": self.newly_marked,
        }


def check_deadlines(settings: Settings, *, today: date, warn_days: int = WARN_DAYS) -> list[DeadlineRow]:
    """Mark overdue open requests (one `request.overdue` audit event per request, ever) and list those due soon.

    Args:
        settings: the configuration (case database).
        today: today in the controller's establishment.
        warn_days: list open requests due within this many days.

    Returns:
        Overdue and due-soon requests, most urgent first.
    """
    rows: list[DeadlineRow] = []
    with session_scope(settings.database.url) as session:
        requests = session.exec(select(Request).where(col(Request.status).in_([s.value for s in OPEN_STATUSES]))).all()
        marked = set(session.exec(select(AuditEvent.request_id).where(AuditEvent.action == OVERDUE_EVENT)).all())
        for request in requests:
            if clock_paused(request):
                continue  # identity information asked for and not arrived: the clock stands still
            due = effective_due(request)
            days_left = (due - today).days
            if is_overdue(request, today):
                new = request.id not in marked
                if new:
                    # Art. 12(3): the deadline has passed without an answer; recorded once for the register.
                    record_event(
                        session,
                        OVERDUE_EVENT,
                        request_id=request.id,
                        actor=WATCH_ACTOR,
                        outcome="overdue",
                        due=due.isoformat(),
                        status=request.status,
                    )
                rows.append(DeadlineRow(request.id, request.kind, request.status, due, days_left, "overdue", new))
            elif days_left <= warn_days:
                rows.append(DeadlineRow(request.id, request.kind, request.status, due, days_left, "due_soon"))
    rows.sort(key=lambda r: (r.days_left, r.request_id))
    return rows


def holds_due_for_review(settings: Settings, *, today: date) -> list[tuple[str, date]]:
    """(id, review date) of active legal holds whose review date has come (docs/legal-rules.md)."""
    with session_scope(settings.database.url) as session:
        holds = active_holds(session, settings)
    return sorted((h.id, h.review_date) for h in holds if h.is_review_due(today))


def today_of(settings: Settings) -> date:
    """Today in the controller's establishment."""
    return local_date(utcnow(), settings)
