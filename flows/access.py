"""The access (and portability) request flow: fan out over every location, then issue the Art. 15 package.

Takes a request id only; run names carry the id, never identifiers. Domain work is in `services.access`.
"""

from __future__ import annotations

import functools
import time
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from flows.access_scan import SCAN_RETRIES, logged_row, run_scan_children, scan_batch, scan_one
from flows.common import (
    MAX_THREADS,
    TransientLocationError,
    artifact_key,
    flow_settings,
    guarded,
    request_log_redaction,
    retry_delays,
    retry_transient,
    submit_bounded,
)
from flows.dashboard import publish_dashboard
from models import flow_names as names
from models.errors import DsrError, RequestBusyError, RequestClosedError
from models.run_lock import hold_for_run
from models.settings import Settings
from models.types import LocationStatus
from services import access as steps
from services.fanout import batches, location_counts, reads_here, shared_scan_context
from services.release_check import ReleaseBlockedError

#: The progress artifact is sent at most this often (seconds), by this clock.
PROGRESS_INTERVAL_S = 1.0
_now = time.monotonic


@task(
    name="scan-location",
    task_run_name="{request_id}-scan-{location}",
    retries=SCAN_RETRIES,
    retry_delay_seconds=retry_delays(),
    retry_condition_fn=retry_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
    log_prints=False,
)
def scan_location(request_id: str, location: str) -> dict[str, Any]:
    """Scan one endpoint or store; a sleeping or busy laptop is retried, then left pending."""
    with guarded(request_id, location), request_log_redaction(request_id):
        outcome = scan_one(request_id, location)
    ctx = TaskRunContext.get()
    attempt = ctx.task_run.run_count if ctx is not None else SCAN_RETRIES + 1
    if outcome.transient and attempt <= SCAN_RETRIES:
        raise TransientLocationError(f"{request_id}: location {location} is {outcome.status}; retrying")
    return logged_row(request_id, outcome)


@task(
    name="scan-locations",
    task_run_name=names.SCAN_BATCH_RUN,
    persist_result=False,
    cache_policy=NO_CACHE,
    log_prints=False,
)
def scan_locations(request_id: str, locations: list[str], batch: int) -> list[dict[str, Any]]:
    """Scan several endpoints or stores in turn (`[access].locations_per_task`), for fleets of many small
    laptops: one task run instead of one per laptop (`flows.access_scan.scan_batch`: a sleeping or busy
    location is tried again, then left pending; a failing one does not stop the others)."""
    with request_log_redaction(request_id):
        return scan_batch(request_id, locations)


class _Progress:
    """The run's progress artifact, counted in the flow as tasks finish and sent at most once a second
    (a fleet of hundreds of laptops would otherwise send, and count in the database, once per laptop)."""

    def __init__(self, request_id: str, done: int, total: int) -> None:
        self.done, self.total = done, total
        self.artifact = cast(
            "UUID",
            create_progress_artifact(
                progress=self.percent,
                key=artifact_key(request_id, "progress"),
                description=f"{request_id}: locations accounted for",
            ),
        )
        self.sent_at = _now()

    @property
    def percent(self) -> float:
        return 100.0 * self.done / max(self.total, 1)

    def finished(self, rows: object) -> None:
        """Count the locations a finished task accounted for; send the artifact if a second has passed."""
        for row in rows if isinstance(rows, list) else [rows]:
            if isinstance(row, dict) and LocationStatus(row["status"]).is_final:
                self.done = min(self.done + 1, self.total)
        if _now() - self.sent_at >= PROGRESS_INTERVAL_S:
            self.send()

    def send(self, done: int | None = None) -> None:
        self.done = self.done if done is None else done
        update_progress_artifact(self.artifact, progress=self.percent)
        self.sent_at = _now()


def publish_status(progress: steps.AccessProgress, blocked: str | None = None) -> None:
    """Table and markdown artifacts for the request (statuses and counts only)."""
    rid = progress.request_id
    create_table_artifact(
        key=artifact_key(rid, "locations"),
        table=[dict(r) for r in progress.rows],
        description=f"{rid}: status and counts per location",
    )
    pending = ", ".join(progress.pending) or "none"
    lines = [
        f"# {rid}",
        "",
        "| | |",
        "|---|---|",
        f"| status | {progress.status} |",
        f"| due | {progress.due.isoformat()} |",
        f"| days left | {progress.days_left} |",
        f"| locations done | {progress.done} / {progress.total} |",
        f"| pending | {pending} |",
    ]
    if progress.report:
        lines.append("| package | issued |")
    elif blocked:
        lines.append(f"| package | not issued: {blocked.replace('_', ' ')} (see `dsr request show {rid}`) |")
    create_markdown_artifact(key=artifact_key(rid, "summary"), markdown="\n".join(lines), description=f"{rid}: summary")


def _access_run_name() -> str:
    """`<id>-access`, or `<id>-portability` for a portability request (the request id is the only parameter
    the name uses; the kind comes from the case database)."""
    from prefect.runtime import flow_run  # noqa: PLC0415

    request_id = str(flow_run.parameters["request_id"])
    try:
        kind = steps.request_kind(flow_settings(), request_id)
    except DsrError:
        kind = "access"
    return names.access_run_name(request_id, kind)


@flow(
    name=names.ACCESS_REQUEST,
    flow_run_name=_access_run_name,
    log_prints=False,
    persist_result=False,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS),  # type: ignore[arg-type]
)
def access_request(request_id: str, allow_incomplete_register: bool = False) -> dict[str, Any]:
    """Scan every location for the request's subject and issue the package once all are accounted for.

    `allow_incomplete_register` issues the package even when the register does not answer every point (the
    report then says those answers are being completed); `[access].allow_incomplete_register` sets it for the
    deployment. A package the register check or the release check blocks is not issued: the run completes with
    `blocked` set, and the reasons are in the case database (`dsr request show ID`), never in Prefect.
    """
    with (
        request_log_redaction(request_id),
        guarded(request_id, names.ACCESS_REQUEST),
        hold_for_run(flow_settings().database.url, request_id),
    ):
        result = _access_request(request_id, allow_incomplete_register)
        publish_dashboard(flow_settings())
    return result


def _fan_out(request_id: str, todo: list[str], settings: Settings, tracker: _Progress) -> None:
    """One scan task per location, or per batch of `[access].locations_per_task` locations, at most
    `[access].max_workers` at once; or, with `[access].scan_deployment`, one child run per batch on any
    worker of that deployment's pool. Wait for all of them."""
    per_task = settings.access.locations_per_task

    def finished(future: PrefectFuture[Any]) -> None:
        tracker.finished(future.result(raise_on_failure=False))

    if settings.access.scan_deployment and todo:
        reopened = run_scan_children(request_id, todo, settings, tracker.send)
        if reopened:
            get_run_logger().warning(
                "%s: %d location(s) scanned on a worker whose copy is not in this run's staging directory: "
                "left pending ([access].package_dir must be storage every worker reaches)",
                request_id,
                len(reopened),
            )
    elif per_task <= 1:  # file:// laptops no more at once than their slots (`local_scan_slot`), the rest beside
        submit_bounded(lambda location: scan_location.submit(request_id, location), todo,
                       settings.access.max_workers, finished, narrow=functools.partial(reads_here, settings),
                       narrow_limit=settings.access.local_scans, keep=False)  # fmt: skip
    else:
        numbered = list(enumerate(batches(todo, per_task), start=1))
        submit_bounded(lambda pair: scan_locations.submit(request_id, pair[1], pair[0]), numbered,
                       settings.access.max_workers, finished,
                       narrow=lambda pair: any(reads_here(settings, location) for location in pair[1]),
                       narrow_limit=settings.access.local_scans, keep=False)  # fmt: skip


def _access_request(request_id: str, allow_incomplete_register: bool = False) -> dict[str, Any]:
    settings = flow_settings()
    logger = get_run_logger()
    todo = steps.begin_access(settings, request_id)
    counts = location_counts(settings, request_id)
    tracker = _Progress(request_id, counts.done, counts.total)
    with shared_scan_context(settings, request_id):
        _fan_out(request_id, todo, settings, tracker)
    progress = steps.access_progress(settings, request_id)
    issued = False
    blocked: str | None = None
    if progress.complete or steps.must_issue_with_gaps(settings, progress):
        try:
            steps.assemble_package(settings, request_id, allow_incomplete_register=allow_incomplete_register or None)
            issued = True
        except steps.RegisterIncompleteError as exc:
            blocked = "register_incomplete"
            logger.warning("%s: not issued: %d register key(s) not set", request_id, len(exc.missing))
        except ReleaseBlockedError as exc:
            blocked = "release_check"
            logger.warning("%s: not issued: the release check blocked on %d item(s)", request_id, len(exc.items))
        progress = steps.access_progress(settings, request_id)
    else:
        logger.info("%s: %d location(s) pending; the sweep retries them", request_id, len(progress.pending))
    tracker.send(progress.done)
    publish_status(progress, blocked)
    return {
        "request_id": request_id,
        "status": progress.status,
        "issued": issued,
        "blocked": blocked,
        "pending": list(progress.pending),
    }


@flow(name=names.ACCESS_SWEEP, flow_run_name=names.ACCESS_SWEEP, log_prints=False, persist_result=False)
def access_sweep() -> dict[str, Any]:
    """Retry pending locations of every open access request; issue packages that became complete or due."""
    settings = flow_settings()
    results: dict[str, dict[str, Any]] = {}
    for rid in steps.open_access_requests(settings):
        try:
            results[rid] = access_request(rid)
        except (RequestBusyError, RequestClosedError):
            # Another run has it right now (or has just closed it): the next sweep looks again.
            get_run_logger().info("%s: being run elsewhere or closed; skipped by this sweep", rid)
    return {"requests": len(results), "issued": sum(1 for r in results.values() if r["issued"])}
