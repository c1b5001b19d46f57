"""The request life-cycle rules that need no database: which status may follow which, when a request is
overdue, its summary as `dsr request list` shows it and its detail as `dsr request show` shows it.

Kept apart from `models.cases` (which applies them to SQLModel rows) so that commands which only read, such
as `dsr request list`, answer without importing SQLAlchemy or SQLModel. `models.cases` re-exports every
name, so callers keep importing them from there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Protocol

from models.types import RequestStatus

S = RequestStatus

#: The lifecycle: which status may follow which. Terminal states have no successors.
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    S.RECEIVED: frozenset({S.IDENTITY_PENDING, S.IN_PROGRESS, S.REFUSED, S.WITHDRAWN}),
    S.IDENTITY_PENDING: frozenset({S.IN_PROGRESS, S.REFUSED, S.WITHDRAWN}),
    S.IN_PROGRESS: frozenset({S.AWAITING_APPROVAL, S.COMPLETED, S.COMPLETED_WITH_GAPS, S.REFUSED, S.WITHDRAWN}),
    S.AWAITING_APPROVAL: frozenset({S.EXECUTING, S.IN_PROGRESS, S.REFUSED, S.WITHDRAWN}),
    S.EXECUTING: frozenset({S.COMPLETED, S.COMPLETED_WITH_GAPS, S.IN_PROGRESS}),
    S.COMPLETED: frozenset(),
    S.COMPLETED_WITH_GAPS: frozenset(),
    S.REFUSED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
OPEN_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if nxt)


def transition_columns(request_id: str, status: str, to: RequestStatus, now: datetime) -> dict[str, Any]:
    """The `requests` columns that move a request from `status` to `to` at `now` (`closed_at` too when `to` ends
    it), as `models.cases.transition` and the lean approval write them.

    Raises:
        InvalidTransitionError: the lifecycle does not allow it (the message names both statuses).
    """
    from models.errors import InvalidTransitionError  # noqa: PLC0415 - the error tree only where one is raised

    current = RequestStatus(status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (the request is closed)"
        raise InvalidTransitionError(
            f"request {request_id} cannot go from {current} to {to}; allowed next: {allowed}", request_id=request_id
        )
    columns: dict[str, Any] = {"status": to.value, "updated_at": now}
    if not TRANSITIONS[to]:
        columns["closed_at"] = now
    return columns


#: Art. 12(5) grounds for refusing to act.
REFUSAL_GROUNDS = ("manifestly_unfounded", "excessive", "identity_not_established", "art17_3_exception")

#: How an identity can be established: the method, never the evidence itself.
IDENTITY_METHODS: dict[str, str] = {
    "authenticated_account": "the request came from, or was confirmed through, the person's own signed-in account",
    "email_challenge": "a reply to a message sent to an address already on record",
    "phone_callback": "a call back to a number already on record",
    "in_person": "seen in person by a member of staff who knows them",
    "shared_knowledge": "details only the person and we know, compared with our records",
    "document_checked": "an identity document was looked at and handed back; nothing of it was kept",
    "representative_authority": "a representative's written authority and their own identity were checked",
}


class RequestDates(Protocol):
    """What the rules below read of a request: a `models.tables.Request` row or a `models.lean_read.RequestRow`."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def due_on(self) -> date: ...
    @property
    def target_on(self) -> date: ...
    @property
    def extended_due_on(self) -> date | None: ...
    @property
    def identity_requested_at(self) -> datetime | None: ...
    @property
    def identity_received_at(self) -> datetime | None: ...


def effective_due(request: RequestDates) -> date:
    """The extended due date when an extension was validly recorded, else the due date."""
    return request.extended_due_on or request.due_on


def is_overdue(request: RequestDates, today: date) -> bool:
    """Open and past the end of its (possibly extended) due date; never while the clock stands still waiting
    for identity information that was asked for (the dates are recomputed when it arrives)."""
    waiting_for_identity = request.identity_requested_at is not None and request.identity_received_at is None
    return (
        RequestStatus(request.status) in OPEN_STATUSES and not waiting_for_identity and today > effective_due(request)
    )


def request_summary(request: RequestDates, today: date) -> dict[str, Any]:
    """The JSON summary of a request used by `dsr request list --json` (no identifiers)."""
    due = effective_due(request)
    return {
        "id": request.id,
        "kind": request.kind,
        "status": request.status,
        "received_at": request.received_at.astimezone(UTC).isoformat(),
        "due": request.due_on.isoformat(),
        "target": request.target_on.isoformat(),
        "extended_due": request.extended_due_on.isoformat() if request.extended_due_on else None,
        "days_left": (due - today).days,
        "overdue": is_overdue(request, today),
    }


#: Audit actions of the access package's checks (their details list the items, never content).
RELEASE_CHECK = "access.release_check"
REGISTER_CHECK = "access.register_check"
ITEM_RELEASED = "access.item_released"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def release_check_document(event: Any | None, released: Mapping[str, str]) -> dict[str, Any] | None:
    """The `release_check` part of `dsr request show --json`: the last release-check audit event (None: never
    checked) with each item it blocked on marked released or not (`released`: item id -> reason)."""
    if event is None:
        return None
    details = json.loads(event.details)
    items = [{**i, "released": i.get("item") in released} for i in details.get("items", [])]
    return {"outcome": event.outcome, "at": _iso(event.at), "items": items, "released": len(released)}


def released_of(events: Iterable[Any]) -> dict[str, str]:
    """Item id -> the recorded reason, from a request's `access.item_released` audit events."""
    out: dict[str, str] = {}
    for event in events:
        details = json.loads(event.details)
        out[str(details.get("item"))] = str(details.get("reason", ""))
    return out


def request_detail_document(
    request: Any,
    today: date,
    *,
    identifier_kinds: Iterable[str],
    scans: Iterable[Any],
    release_check: dict[str, Any] | None,
) -> dict[str, Any]:
    """The JSON object of `dsr request show --json` (no identifiers, only their kinds), from a `requests` row,
    the kinds of its identifiers, its `location_scans` rows and `release_check_document`."""
    detail = request_summary(request, today)
    detail.update(
        {
            "channel": request.channel,
            "calendar": request.calendar,
            "algorithm_version": request.algorithm_version,
            "extension_notified_at": _iso(request.extension_notified_at),
            "extension_reasons": request.extension_reasons,
            "identity": {
                "method": request.identity_method,
                "outcome": request.identity_outcome,
                "asked_at": _iso(request.identity_requested_at),
                "arrived_at": _iso(request.identity_received_at),
            },
            "refusal": {"ground": request.refusal_ground, "reason": request.refusal_reason}
            if request.refusal_ground
            else None,
            "identifier_kinds": sorted(set(identifier_kinds)),
            "locations": [
                {
                    "name": s.location,
                    "phase": s.phase,
                    "status": s.status,
                    "reason": s.reason,
                    "attempts": s.attempts,
                    "findings": s.findings,
                    "last_attempt_at": _iso(s.last_attempt_at),
                }
                for s in scans
            ],
            "report": request.report_path,
            "package_sha256": request.package_sha256,
            "release_check": release_check,
            "certificate": request.certificate_path,
            "closed_at": _iso(request.closed_at),
        }
    )
    return detail
