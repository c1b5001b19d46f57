"""Prefect housekeeping: delete the flow runs of requests closed longer than `[prefect].flow_run_retention_days`.

Run names start with the request id (`<id>-access`, `<id>-erasure`), so a closed request's runs are found by
name. Called by the daily deadline watch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from sqlmodel import col, select

from models.db import session_scope
from models.settings import Settings
from models.tables import Request, utcnow

RUN_SUFFIXES = ("access", "erasure")


def closed_request_ids(settings: Settings, *, now: datetime) -> list[str]:
    """Requests closed before `now - flow_run_retention_days`."""
    cutoff = now - timedelta(days=settings.prefect.flow_run_retention_days)
    with session_scope(settings.database.url) as session:
        rows = session.exec(
            select(Request.id).where(col(Request.closed_at).is_not(None), col(Request.closed_at) <= cutoff)
        ).all()
        return list(rows)


def delete_closed_request_runs(settings: Settings, *, now: datetime | None = None) -> int:
    """Delete the Prefect flow runs of long-closed requests; returns how many were deleted."""
    names = [f"{rid}-{suffix}" for rid in closed_request_ids(settings, now=now or utcnow()) for suffix in RUN_SUFFIXES]
    if not names:
        return 0
    deleted = 0
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=names)))
        for run in runs:
            client.delete_flow_run(run.id)
            deleted += 1
    return deleted
