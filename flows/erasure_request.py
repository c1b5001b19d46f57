"""The erasure request flow: discover, plan, pause for a named reviewer's approval, execute, verify, certify.

Takes a request id only; run names carry the id. Destructive work happens only after an approval recorded
on the exact plan digest; a rejection touches nothing. Domain work is in `services.erasure` and
`services.certificates`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field, create_model

from erasure.executor import ExecutionReport
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
from models.errors import ApprovalRequiredError, InputError, PolicyError
from models.run_lock import hold_for_run
from models.server_auth import server_side_authentication
from models.settings import Settings
from models.types import LocationStatus
from services import erasure as steps
from services.certificates import certify, erasure_outcome

RETRIES = 2
APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600


DIGEST_HELP = (
    "The digest of the plan you reviewed, as the erasure-plan artifacts and `dsr request plan` show it. "
    "A decision on any other digest is refused."
)


class ErasureApproval(RunInput):
    """The approval form shown in the Prefect UI on the paused erasure run."""

    approved: bool = Field(default=False, description="Approve this erasure plan (leave unticked to reject).")
    reviewer: str = Field(
        min_length=1,
        max_length=200,
        description="Your name (required): recorded in the signed proof ledger with this decision.",
    )
    digest: str = Field(min_length=64, max_length=64, description=DIGEST_HELP)
    note: str = Field(default="", description="Note for the audit trail (no personal data).")


def approval_form(digest: str, description: str) -> type[ErasureApproval]:
    """The form for one plan: its digest filled in (field rules and help kept, which Prefect's
    `with_initial_data` drops) and the reviewer's name still required."""
    model = create_model(
        ErasureApproval.__name__,
        __base__=ErasureApproval,
        digest=(str, Field(default=digest, min_length=64, max_length=64, description=DIGEST_HELP)),
    )
    model._description = description  # what Prefect shows above the form (as `with_initial_data` sets it)
    return model


MAX_APPROVAL_ATTEMPTS = 5
"""Refused decisions (stale digest, self-approval under four eyes) re-open the form this many times."""


def _attempt() -> int:
    ctx = TaskRunContext.get()
    return ctx.task_run.run_count if ctx is not None else RETRIES + 1


@task(
    name="discover-location",
    task_run_name="{request_id}-discover-{location}",
    retries=RETRIES,
    retry_delay_seconds=retry_delays(),
    retry_condition_fn=retry_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def discover_location(request_id: str, location: str) -> str:
    """Find the subject at one location (copies stay encrypted in staging); returns the status."""
    with guarded(request_id, location), request_log_redaction(request_id):
        status = steps.discover_location(flow_settings(), request_id, location)
    if status in (LocationStatus.UNREACHABLE, LocationStatus.BUSY) and _attempt() <= RETRIES:
        raise TransientLocationError(f"{request_id}: location {location} is {status}; retrying")
    return status


@task(
    name="erase-location",
    task_run_name="{request_id}-erase-{location}",
    retries=RETRIES,
    retry_delay_seconds=retry_delays(),
    retry_condition_fn=retry_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def erase_location(request_id: str, location: str, run_id: str) -> ExecutionReport:
    """Carry out the approved plan at one location; busy laptops and changed files are retried."""
    with guarded(request_id, location), request_log_redaction(request_id):
        report = steps.execute_location(flow_settings(), request_id, location, run_id=run_id)
    if report.pending and _attempt() <= RETRIES:
        raise TransientLocationError(f"{request_id}: {len(report.pending)} action(s) at {location} must wait; retrying")
    return report


def publish_plan(state: steps.PlanState) -> None:
    """The plan as two table artifacts: counts per location and action, and every item with its action and
    reason (paths and counts; any form of the subject's identifiers in a path is redacted)."""
    create_table_artifact(
        key=artifact_key(state.request_id, "erasure-plan"),
        table=[dict(r) for r in state.summary],
        description=f"{state.request_id}: erasure plan {state.digest or ''} ({state.decision or 'no plan'})",
    )
    create_table_artifact(
        key=artifact_key(state.request_id, "erasure-plan-detail"),
        table=steps.plan_detail(flow_settings(), state.request_id, redact=True),
        description=f"{state.request_id}: every item of erasure plan {state.digest or ''}: action and reason",
    )


def publish_summary(request_id: str, lines: list[str]) -> None:
    """Markdown summary of the erasure run (statuses and counts only)."""
    create_markdown_artifact(
        key=artifact_key(request_id, "erasure-summary"),
        markdown="\n".join([f"# {request_id}: erasure", "", *lines]),
        description=f"{request_id}: erasure summary",
    )


@flow(
    name=names.ERASURE_REQUEST,
    flow_run_name=names.ERASURE_RUN,
    log_prints=False,
    persist_result=False,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS),  # type: ignore[arg-type]
)
def erasure_request(request_id: str, wait_for_approval: bool = True) -> dict[str, Any]:
    """Erase one person after a named reviewer approves the plan; verify and certify.

    With `wait_for_approval` the run pauses on an approval form in the Prefect UI (or `dsr request approve`);
    without it (local CLI runs) the run stops at `awaiting_approval` and a later run executes the plan.
    """
    with (
        request_log_redaction(request_id),
        guarded(request_id, names.ERASURE_REQUEST),
        hold_for_run(flow_settings().database.url, request_id),
    ):
        result = _erasure_request(request_id, wait_for_approval)
        publish_dashboard(flow_settings())
    return result


def _await_decision(settings: Settings, request_id: str, state: steps.PlanState) -> None:
    """Pause on the approval form until a decision bound to the plan's digest is recorded."""
    logger = get_run_logger()
    refusal = ""
    for attempt in range(1, MAX_APPROVAL_ATTEMPTS + 1):
        logger.info("%s: waiting for a reviewer to approve plan %s", request_id, state.digest or "")
        answer = pause_flow_run(
            wait_for_input=approval_form(
                state.digest or "",
                f"{refusal}Approve erasure plan {state.digest} for {request_id}? See the erasure-plan and "
                "erasure-plan-detail artifacts for every item it deletes, redacts and keeps, and why. Your name "
                "is required; the digest must be this plan's.",
            ),
            timeout=APPROVAL_TIMEOUT_SECONDS,
            key=artifact_key(request_id, "approval" if attempt == 1 else f"approval-{attempt}"),
        )
        if steps.plan_state(settings, request_id).decision != "pending":
            return  # decided outside the form (`dsr request approve` without a server)
        try:
            steps.decide(
                settings,
                request_id,
                approved=answer.approved,
                reviewer=answer.reviewer,
                digest=answer.digest,
                note=answer.note or None,
                channel="prefect_server",
                authentication=server_side_authentication(),
            )
            return
        except (InputError, PolicyError) as exc:
            refusal = f"Refused: {exc} "
            logger.warning("%s: decision refused: %s", request_id, exc)
    raise ApprovalRequiredError(
        f"{request_id}: no acceptable decision after {MAX_APPROVAL_ATTEMPTS} attempts; run the request again",
        request_id=request_id,
    )


def _erasure_request(request_id: str, wait_for_approval: bool) -> dict[str, Any]:
    settings = flow_settings()
    logger = get_run_logger()
    state = steps.plan_state(settings, request_id)
    if state.decision != "approved" or state.executed:
        if state.decision != "pending":
            locations = steps.begin_erasure(settings, request_id)
            submit_bounded(
                lambda loc: discover_location.submit(request_id, loc), locations, settings.access.max_workers
            )
            pending = steps.pending_locations(settings, request_id)
            if pending:
                logger.info("%s: %d location(s) not reached yet; planning with the rest", request_id, len(pending))
            state = steps.make_plan(settings, request_id)
        publish_plan(state)
        if not wait_for_approval:
            publish_summary(request_id, ["status: awaiting_approval", f"plan: {state.digest}"])
            return {"request_id": request_id, "status": "awaiting_approval", "plan": state.digest}
        _await_decision(settings, request_id, state)
        state = steps.plan_state(settings, request_id)
        publish_plan(state)
        if state.decision != "approved":
            publish_summary(request_id, ["status: rejected, nothing was touched"])
            return {"request_id": request_id, "status": "rejected", "plan": state.digest}
    run_id = str(flow_run.get_id() or "local")
    erasing = submit_bounded(
        lambda loc: erase_location.submit(request_id, loc, run_id),
        steps.plan_locations(settings, request_id),
        settings.access.max_workers,
    )
    reports = [f.result() for f in erasing]
    retained = tuple(r for report in reports for r in report.retained)
    verification = steps.verify(settings, request_id, retained, run_id=run_id)
    certificate = certify(settings, request_id, reports, verification)
    waiting = sum(len(r.pending) for r in reports)
    publish_summary(
        request_id,
        [
            f"- verification: {verification.verification}",
            f"- findings left outside exceptions: {len(verification.remaining)}",
            f"- actions waiting (busy or changed): {waiting}",
            "- certificate: issued",
        ],
    )
    return {
        "request_id": request_id,
        "status": erasure_outcome(settings, request_id),
        "plan": state.digest,
        "certificate": certificate.name,
    }
