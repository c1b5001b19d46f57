"""Statistics for accountability (Art. 5(2)): what was asked, how it ended, how fast, and what was kept.

Plain Python over the case database and the proof ledger: counts, dates and grounds only, never identifiers.
A request belongs to a period by its day of receipt in the controller's establishment.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import col, select

from models.db import session_scope
from models.lifecycle import OPEN_STATUSES, effective_due, is_overdue
from models.new_request import local_date
from models.settings import Settings
from models.tables import LedgerEntry, Request
from models.types import RequestKind, RequestStatus

#: The ledger action of an item kept back from erasure, with its ground (`exception_ground`).
KEPT_ACTION = "exception"
OPEN = "open"


def percentile(values: list[int], share: float) -> float | None:
    """The nearest-rank percentile (`share` in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return float(ordered[rank - 1])


@dataclass
class RequestStats:
    """The figures of one period (JSON-ready through `as_dict`)."""

    date_from: date | None
    date_to: date | None
    today: date
    total: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    completed: int = 0
    median_days_to_complete: float | None = None
    p95_days_to_complete: float | None = None
    overdue_open: int = 0
    answered_late: int = 0
    extensions: int = 0
    refusals_by_ground: dict[str, int] = field(default_factory=dict)
    erasures_completed: int = 0
    erasures_with_items_kept: int = 0
    items_kept_by_ground: dict[str, int] = field(default_factory=dict)

    @property
    def overdue(self) -> int:
        """Requests past their deadline: still open, or answered after it."""
        return self.overdue_open + self.answered_late

    def as_dict(self) -> dict[str, Any]:
        """The `dsr stats --json` document."""
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "as_of": self.today.isoformat(),
            "requests": self.total,
            "by_kind": self.by_kind,
            "completed": self.completed,
            "median_days_to_complete": self.median_days_to_complete,
            "p95_days_to_complete": self.p95_days_to_complete,
            "overdue": self.overdue,
            "overdue_open": self.overdue_open,
            "answered_late": self.answered_late,
            "extensions": self.extensions,
            "refusals_by_ground": self.refusals_by_ground,
            "erasures_completed": self.erasures_completed,
            "erasures_with_items_kept": self.erasures_with_items_kept,
            "items_kept_by_ground": self.items_kept_by_ground,
        }

    def rows(self) -> list[dict[str, str]]:
        """The figures as (measure, value) rows: the CSV and the table artifact."""
        rows = [{"measure": "requests", "value": str(self.total)}]
        for kind, outcomes in self.by_kind.items():
            rows += [{"measure": f"{kind}.{outcome}", "value": str(n)} for outcome, n in outcomes.items()]
        for name in ("completed", "median_days_to_complete", "p95_days_to_complete", "overdue", "overdue_open",
                     "answered_late", "extensions", "erasures_completed", "erasures_with_items_kept"):  # fmt: skip
            value = getattr(self, name)
            rows.append({"measure": name, "value": "-" if value is None else f"{value:g}"})
        rows += [{"measure": f"refused.{g}", "value": str(n)} for g, n in self.refusals_by_ground.items()]
        rows += [{"measure": f"kept.{g}", "value": str(n)} for g, n in self.items_kept_by_ground.items()]
        return rows


def outcome_of(request: Request) -> str:
    """`completed`, `refused`, `withdrawn`, or `open` for a request still being handled."""
    status = RequestStatus(request.status)
    return OPEN if status in OPEN_STATUSES else status.value


def request_stats(
    settings: Settings, *, today: date, date_from: date | None = None, date_to: date | None = None
) -> RequestStats:
    """The statistics of the requests received from `date_from` to `date_to` (both included; None: open-ended).

    Days to complete run from the day of receipt to the day the request was closed as completed. Overdue counts
    open requests past their (possibly extended) due date today and closed ones closed after it. Items kept are
    the ledger's `exception` entries of erasure requests, by ground.
    """
    stats = RequestStats(date_from=date_from, date_to=date_to, today=today)
    with session_scope(settings.database.url) as session:
        requests = [
            r
            for r in session.exec(select(Request).order_by(col(Request.received_at))).all()
            if (date_from is None or local_date(r.received_at, settings) >= date_from)
            and (date_to is None or local_date(r.received_at, settings) <= date_to)
        ]
        erasure_ids = [r.id for r in requests if r.kind == RequestKind.ERASURE.value]
        kept = (
            session.exec(
                select(LedgerEntry.request_id, LedgerEntry.exception_ground).where(
                    col(LedgerEntry.request_id).in_(erasure_ids), LedgerEntry.action == KEPT_ACTION
                )
            ).all()
            if erasure_ids
            else []
        )
    stats.total = len(requests)
    by_kind: dict[str, Counter[str]] = {}
    days: list[int] = []
    refusals: Counter[str] = Counter()
    for request in requests:
        outcome = outcome_of(request)
        by_kind.setdefault(request.kind, Counter())[outcome] += 1
        if request.extended_due_on is not None:
            stats.extensions += 1
        if outcome == RequestStatus.REFUSED.value:
            refusals[request.refusal_ground or "unknown"] += 1
        if is_overdue(request, today):
            stats.overdue_open += 1
        if request.closed_at is not None and local_date(request.closed_at, settings) > effective_due(request):
            stats.answered_late += 1
        if outcome == RequestStatus.COMPLETED.value and request.closed_at is not None:
            days.append((local_date(request.closed_at, settings) - local_date(request.received_at, settings)).days)
            if request.kind == RequestKind.ERASURE.value:
                stats.erasures_completed += 1
    stats.by_kind = {kind: dict(sorted(counts.items())) for kind, counts in sorted(by_kind.items())}
    stats.completed = len(days)
    stats.median_days_to_complete = float(statistics.median(days)) if days else None
    stats.p95_days_to_complete = percentile(days, 95)
    stats.refusals_by_ground = dict(sorted(refusals.items()))
    stats.items_kept_by_ground = dict(sorted(Counter(ground or "unknown" for _, ground in kept).items()))
    stats.erasures_with_items_kept = len({rid for rid, _ in kept})
    return stats
