"""The deadline dashboard: every open request with its dates, pending locations and who holds it next.

Plain Python: no Prefect. Rows carry request ids, kinds, statuses, dates and location names only (never
identifiers); the flows publish them as one table artifact, always under the same key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from models.db import session_scope
from models.lifecycle import OPEN_STATUSES, effective_due, is_overdue
from models.new_request import local_date
from models.settings import Settings
from models.tables import LocationScan, Request
from models.types import LocationStatus, RequestStatus

#: Location statuses that still need another try (the sweep retries them).
PENDING_STATUSES = frozenset(s.value for s in LocationStatus if not s.is_final)


@dataclass(frozen=True)
class DashboardRow:
    """One open request on the dashboard (no identifiers).

    Attributes:
        request_id: the request.
        kind: access, erasure, ...
        status: its lifecycle status.
        received: the day of receipt in the controller's establishment.
        due: the (possibly extended) due date.
        days_left: days from today to the due date (negative when overdue).
        overdue: past the due date and still open.
        pending: names of the locations not accounted for yet.
        next_step: who holds the request next (identity, locations, review, approval, execution).
    """

    request_id: str
    kind: str
    status: str
    received: date
    due: date
    days_left: int
    overdue: bool
    pending: tuple[str, ...]
    next_step: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready row (the artifact's columns)."""
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "status": self.status,
            "received": self.received.isoformat(),
            "due": self.due.isoformat(),
            "days_left": self.days_left,
            "overdue": self.overdue,
            "pending_locations": ", ".join(self.pending) or "-",
            "next": self.next_step,
        }


def next_step(status: str, pending: tuple[str, ...], *, identity_asked: bool = False) -> str:
    """Who holds a request in `status` next, in a few words (`identity_asked`: identity information was asked
    for and has not arrived)."""
    match RequestStatus(status):
        case RequestStatus.IDENTITY_PENDING if identity_asked:
            return "identity: waiting for the requester's answer"
        case RequestStatus.RECEIVED | RequestStatus.IDENTITY_PENDING:
            return "identity: privacy team verifies the requester (or waives the check), then runs it"
        case RequestStatus.IN_PROGRESS if pending:
            return f"locations: {len(pending)} not reached yet (the sweep retries)"
        case RequestStatus.IN_PROGRESS:
            return "review: privacy team checks and answers"
        case RequestStatus.AWAITING_APPROVAL:
            return "approval: a named reviewer decides on the erasure plan"
        case RequestStatus.EXECUTING:
            return "execution: the erasure run"
        case _:
            return "-"


def _pending_by_request(session: Session, request_ids: list[str]) -> dict[str, tuple[str, ...]]:
    if not request_ids:
        return {}
    scans = session.exec(
        select(LocationScan.request_id, LocationScan.location).where(
            col(LocationScan.request_id).in_(request_ids), col(LocationScan.status).in_(sorted(PENDING_STATUSES))
        )
    ).all()
    pending: dict[str, set[str]] = defaultdict(set)
    for request_id, location in scans:
        pending[request_id].add(location)
    return {rid: tuple(sorted(names)) for rid, names in pending.items()}


def dashboard_rows(settings: Settings, *, today: date) -> list[DashboardRow]:
    """Every open request, most urgent first: overdue ones (longest overdue first), then by days left.

    Args:
        settings: the configuration (case database, controller's timezone).
        today: today in the controller's establishment.
    """
    with session_scope(settings.database.url) as session:
        requests = session.exec(select(Request).where(col(Request.status).in_([s.value for s in OPEN_STATUSES]))).all()
        pending = _pending_by_request(session, [r.id for r in requests])
        rows = []
        for request in requests:
            due = effective_due(request)
            waiting = pending.get(request.id, ())
            rows.append(
                DashboardRow(
                    request_id=request.id,
                    kind=request.kind,
                    status=request.status,
                    received=local_date(request.received_at, settings),
                    due=due,
                    days_left=(due - today).days,
                    overdue=is_overdue(request, today),
                    pending=waiting,
                    next_step=next_step(
                        request.status, waiting, identity_asked=request.identity_requested_at is not None
                    ),
                )
            )
    rows.sort(key=lambda r: (not r.overdue, r.days_left, r.request_id))
    return rows
