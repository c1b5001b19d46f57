"""The deadline dashboard as one Prefect table artifact (always the same key), and the deadline alerts.

Called by `deadline-watch` and at the end of every request flow. Rows and alerts come from
`services.dashboard` and `services.notifications` (ids, kinds, statuses, dates and location names only).
"""

from __future__ import annotations

from datetime import date

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from models.settings import Settings
from services.dashboard import DashboardRow, dashboard_rows
from services.deadlines import today_of
from services.notifications import AlertReport, send_alerts
from services.stats import request_stats

DASHBOARD_KEY = "deadline-dashboard"
STATS_KEY = "request-statistics"


def publish_dashboard(settings: Settings, *, today: date | None = None) -> tuple[list[DashboardRow], AlertReport]:
    """Refresh the dashboard artifact and send the deadline alerts not sent before."""
    day = today or today_of(settings)
    rows = dashboard_rows(settings, today=day)
    create_table_artifact(
        key=DASHBOARD_KEY,
        table=[r.as_dict() for r in rows] or [{"request_id": "-", "status": "no open requests"}],
        description=f"open requests, most urgent first (overdue first), as of {day.isoformat()}",
    )
    report = send_alerts(settings, rows)
    if report.sent or report.failed:
        get_run_logger().info(
            "deadline alerts: %d sent (%s), %d not delivered", len(report.sent), ", ".join(report.sent), report.failed
        )
    return rows, report


def publish_statistics(settings: Settings, *, today: date | None = None) -> None:
    """The all-time request statistics as a table artifact (`dsr stats` gives any period)."""
    day = today or today_of(settings)
    stats = request_stats(settings, today=day)
    create_table_artifact(
        key=STATS_KEY, table=stats.rows(), description=f"request statistics (all requests) as of {day.isoformat()}"
    )
