"""Scanning a batch of an access request's locations, in the access run's process or on another worker.

`scan_batch` scans several locations in turn (`[access].locations_per_task`); the access run's `scan-locations`
task calls it in-process. With `[access].scan_deployment` set, the access run instead submits each batch as a
child run of the `access-scan` flow (`run_scan_children`), which any worker of the deployment's pool picks up,
and waits for them all. The child takes the request id, its location names and its batch number, never an
identifier; its run is named `<id>-scan-batch-<n>`. When a child may scan is decided in
`services.remote_scans`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from prefect.states import Cancelled, Cancelling

from flows.common import flow_settings, guarded, request_log_redaction, retry_delays
from models import flow_names as names
from models.errors import ConfigError, is_retryable
from models.settings import Settings
from services import access as steps
from services import remote_scans
from services.fanout import batches, current_scan_context, location_counts, shared_scan_context

SCAN_RETRIES = 2
#: How often the access run looks at its children's states (seconds).
POLL_S = 2.0
#: How long the access run waits for cancelled children to end before it goes on (seconds).
CANCEL_GRACE_S = 30.0
_now = time.monotonic


def scan_one(request_id: str, location: str, refused: Callable[[], str | None] | None = None) -> steps.ScanOutcome:
    """One location's scan, with the run's shared matcher and key when this process has them; `refused` is
    asked again before what was read is published (a child whose parent ended meanwhile records nothing)."""
    settings = flow_settings()
    return steps.scan_location(
        settings, request_id, location, context=current_scan_context(request_id), withdrawn=refused
    )


def logged_row(request_id: str, outcome: steps.ScanOutcome) -> dict[str, Any]:
    """Log a location's outcome (status and counts) and return its row."""
    get_run_logger().info(
        "%s: %s %s (%d artifacts, %d findings)",
        request_id,
        outcome.location,
        outcome.status,
        outcome.artifacts,
        outcome.findings,
    )
    return {"location": outcome.location, "status": outcome.status, "findings": outcome.findings}


def scan_batch(
    request_id: str, locations: list[str], refused: Callable[[], str | None] | None = None
) -> list[dict[str, Any]]:
    """Scan the locations in turn. A sleeping or busy location is tried again after the same delays as a task
    retry, then left pending; a location whose scan fails does not stop the others (the first failure is
    raised afterwards). `refused`, asked before each location, stops the batch with its reason: the locations
    not yet scanned stay pending."""
    rows: dict[str, dict[str, Any]] = {}
    failures: list[Exception] = []
    todo = list(locations)
    delays = retry_delays()
    for attempt in range(SCAN_RETRIES + 1):
        again: list[str] = []
        for location in todo:
            reason = refused() if refused is not None else None
            if reason is not None:
                raise remote_scans.ScanRefusedError(reason)
            try:
                with guarded(request_id, location):
                    outcome = scan_one(request_id, location, refused)
            except Exception as exc:  # noqa: BLE001 - guarded() has already withheld any message with data
                if is_retryable(exc) and attempt < SCAN_RETRIES:
                    again.append(location)
                else:
                    failures.append(exc)
                continue
            if outcome.transient and attempt < SCAN_RETRIES:
                again.append(location)
            else:
                rows[location] = logged_row(request_id, outcome)
        if not again:
            break
        time.sleep(delays[min(attempt, len(delays) - 1)] if delays else 0)
        todo = again
    if failures:
        raise failures[0]
    return [rows[name] for name in locations if name in rows]


def _batch_run_name() -> str:
    params = flow_run.parameters
    return names.scan_batch_run_name(str(params["request_id"]), int(params.get("batch", 1)))


@flow(name=names.ACCESS_SCAN, flow_run_name=_batch_run_name, log_prints=False, persist_result=False)
def access_scan(request_id: str, locations: list[str], batch: int = 1) -> dict[str, Any]:
    """Scan one batch of an access request's locations for the access run that started this run (never on
    its own: it refuses unless that run is the request's run in progress and this worker sees its staging
    directory). Writes findings and statuses exactly as the in-process batch does."""
    parent = flow_run.parent_flow_run_id
    with guarded(request_id, names.ACCESS_SCAN):
        settings = flow_settings()

        def refused() -> str | None:
            return remote_scans.refusal(settings, request_id, parent)

        reason = refused()
        if reason is not None:
            raise remote_scans.ScanRefusedError(reason)
        with shared_scan_context(settings, request_id), request_log_redaction(request_id):
            rows = scan_batch(request_id, list(locations), refused)
    return {"request_id": request_id, "batch": batch, "locations": len(rows)}


def run_scan_children(
    request_id: str, todo: list[str], settings: Settings, progress: Callable[[int], None]
) -> list[str]:
    """Submit the batches as child runs of `[access].scan_deployment` (at most `[access].max_workers` at
    once), wait for them all, and return the locations put back to pending because their copy is not in this
    run's staging directory. A child that fails, crashes or is not finished after
    `[access].scan_timeout_minutes` (then it is cancelled) leaves its unfinished locations pending for the
    sweep. `progress` gets the count of locations accounted for as it changes.

    Raises:
        ConfigError: the Prefect server has no such deployment.
    """
    target = settings.access.scan_deployment
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(target)
        except Exception:  # noqa: BLE001 - not found, or a name Prefect cannot parse: one line either way
            raise ConfigError(
                f"access.scan_deployment: the Prefect server has no deployment {target}; deploy the access-scan "
                "flow to a work pool (README, Scaling out) or leave the setting empty",
                key="access.scan_deployment",
            ) from None
        remote_scans.open_remote_scans(settings, request_id, str(flow_run.id))
        try:
            _wait_for_children(client, request_id, todo, settings, progress)
        finally:
            remote_scans.close_remote_scans(settings, request_id)
    return remote_scans.reopen_unstaged(settings, request_id)


def _wait_for_children(
    client: Any, request_id: str, todo: list[str], settings: Settings, progress: Callable[[int], None]
) -> None:
    logger = get_run_logger()
    queue = list(enumerate(batches(todo, settings.access.locations_per_task), start=1))
    queue.reverse()
    running: dict[UUID, tuple[int, float]] = {}
    timeout_s = settings.access.scan_timeout_minutes * 60
    done = -1
    cancelled: list[UUID] = []
    try:
        while queue or running:
            while queue and len(running) < settings.access.max_workers:
                number, locations = queue.pop()
                child = cast("FlowRun", run_deployment(
                    settings.access.scan_deployment,
                    parameters={"request_id": request_id, "locations": locations, "batch": number},
                    flow_run_name=names.scan_batch_run_name(request_id, number),
                    timeout=0,
                ))  # fmt: skip
                running[child.id] = (number, _now())
            time.sleep(POLL_S)
            for child in _read(client, list(running)):
                number, started = running[child.id]
                if child.state is not None and child.state.is_final():
                    del running[child.id]
                    if child.state.type.value != "COMPLETED":
                        logger.warning("%s: scan batch %d ended %s; its unfinished locations stay pending",
                                       request_id, number, child.state.type.value)  # fmt: skip
                elif _now() - started > timeout_s:
                    del running[child.id]
                    _cancel(client, child)
                    cancelled.append(child.id)
                    logger.warning("%s: scan batch %d not finished in time; cancelled, its unfinished locations "
                                   "stay pending", request_id, number)  # fmt: skip
            now_done = location_counts(settings, request_id).done
            if now_done != done:
                done = now_done
                progress(done)
    finally:
        for child in _read(client, list(running)):
            _cancel(client, child)
        _await_final(client, cancelled + list(running))


def _await_final(client: Any, ids: list[UUID]) -> None:
    """Give cancelled children up to `CANCEL_GRACE_S` to end before the run goes on (a child that reads on
    also re-checks before it publishes, and records nothing once this run has stopped waiting)."""
    deadline = _now() + CANCEL_GRACE_S
    while ids and _now() < deadline:
        ids = [c.id for c in _read(client, ids) if c.state is None or not c.state.is_final()]
        if ids:
            time.sleep(POLL_S)


def _read(client: Any, ids: list[UUID]) -> list[FlowRun]:
    if not ids:
        return []
    return list(client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))))


def _cancel(client: Any, child: FlowRun) -> None:
    """Cancel a child: one not started yet at once, a running one through its worker (which ends its process)."""
    if child.state is None or child.state.is_final():
        return
    started = child.state.type.value not in ("SCHEDULED", "PENDING")
    client.set_flow_run_state(child.id, Cancelling() if started else Cancelled(), force=True)
