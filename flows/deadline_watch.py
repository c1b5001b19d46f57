"""The daily deadline watch: marks overdue requests, warns before deadlines, retries pending locations.

Hands Prefect request ids, kinds, statuses and dates only (never identifiers). The retry is the access
sweep, run as a subflow. Domain work is in `services.deadlines` and `services.housekeeping`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import flow, get_client, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.runtime import flow_run

from flows.access import access_sweep
from flows.common import flow_settings
from flows.dashboard import publish_dashboard, publish_statistics
from models.flow_names import DEADLINE_WATCH
from models.settings import Settings
from models.tables import utcnow
from services.deadlines import check_deadlines, holds_due_for_review, today_of
from services.housekeeping import (
    closed_request_batch_prefixes,
    closed_request_run_names,
    delete_expired_packages,
    discard_closed_working_copies,
    pseudonymise,
)


def delete_closed_request_runs(settings: Settings, *, now: datetime | None = None) -> int:
    """Delete the Prefect flow runs of long-closed requests (their batch runs too); returns how many were
    deleted."""
    names = closed_request_run_names(settings, now=now)
    if not names:
        return 0
    deleted = 0
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=names)))
        for prefix in closed_request_batch_prefixes(settings, now=now):  # child scan runs (scan_deployment)
            batch_runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=prefix)))
            runs += [run for run in batch_runs if run.name.startswith(prefix)]
        for run in runs:
            client.delete_flow_run(run.id)
            deleted += 1
    return deleted


def _run_name() -> str:
    today = flow_run.parameters.get("today")
    return f"{DEADLINE_WATCH}-{today or utcnow().date()}"


@flow(name=DEADLINE_WATCH, flow_run_name=_run_name, log_prints=False, persist_result=False)
def deadline_watch(today: date | None = None, sweep: bool = True) -> dict[str, Any]:
    """Mark overdue requests, warn before deadlines and hold reviews, and retry pending locations (the sweep).

    Args:
        today: the day to check as (default: today in the controller's timezone).
        sweep: run the access sweep as a subflow afterwards.
    """
    settings = flow_settings()
    logger = get_run_logger()
    day = today or today_of(settings)
    warn_days = settings.schedules.warn_days_before_deadline
    rows = check_deadlines(settings, today=day, warn_days=warn_days)
    for row in rows:
        if row.state == "overdue":
            logger.warning(
                "%s (%s) is overdue: due %s, %d day(s) ago", row.request_id, row.kind, row.due, -row.days_left
            )
        else:
            logger.warning("%s (%s) is due %s: %d day(s) left", row.request_id, row.kind, row.due, row.days_left)
    reviews = holds_due_for_review(settings, today=day)
    for hold_id, review in reviews:
        logger.warning("legal hold %s: review was due on %s", hold_id, review)
    create_table_artifact(
        key="deadline-watch",
        table=[r.as_dict() for r in rows] or [{"request_id": "-", "state": "nothing due", "due": day.isoformat()}],
        description=f"open requests overdue or due within {warn_days} days, as of {day.isoformat()}",
    )
    _dashboard, alerts = publish_dashboard(settings, today=day)
    publish_statistics(settings, today=day)
    expired = delete_expired_packages(settings)
    discarded = discard_closed_working_copies(settings)
    if discarded:
        logger.info("deleted the working copies of %d closed request(s)", len(discarded))
    pseudonymised = pseudonymise(settings)
    if expired or pseudonymised:
        logger.info(
            "deleted %d expired package(s); pseudonymised %d closed request(s)", len(expired), len(pseudonymised)
        )
    removed = delete_closed_request_runs(settings)
    if removed:
        logger.info(
            "deleted %d flow run(s) of requests closed over %d days ago",
            removed,
            settings.prefect.flow_run_retention_days,
        )
    swept: dict[str, Any] | None = access_sweep() if sweep else None
    return {
        "today": day.isoformat(),
        "overdue": [r.request_id for r in rows if r.state == "overdue"],
        "newly_overdue": [r.request_id for r in rows if r.newly_marked],
        "due_soon": [r.request_id for r in rows if r.state == "due_soon"],
        "holds_review_due": [hold_id for hold_id, _ in reviews],
        "alerts_sent": list(alerts.sent),
        "sweep": swept,
    }
