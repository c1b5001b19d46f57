"""`dsr request plan|approve|notify`: the erasure plan, the human approval gate, Art. 19 notifications."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from dsr.context import err, out, print_json, state
from models.errors import InputError
from models.flow_names import ERASURE_RUN
from models.identifiers import CLOCK_SKEW, MAX_LONG_TEXT, check_text, parse_instant


def plan(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show the newest erasure plan: counts per location and action, its digest and the decision on it."""
    state.require_request(request_id)
    from services.erasure import plan_state  # noqa: PLC0415 - loads the erasure modules on demand

    current = plan_state(state.settings, request_id)
    if current.digest is None:
        raise InputError(f"request {request_id} has no erasure plan yet; run `dsr request run {request_id}`")
    if as_json:
        print_json(
            {
                "id": request_id,
                "digest": current.digest,
                "decision": current.decision,
                "executed": current.executed,
                "summary": list(current.summary),
            }
        )
        return
    out.print(f"plan {current.digest}  decision: {current.decision}  executed: {current.executed}")
    if current.summary:
        columns = list(current.summary[0])
        table = Table(*columns)
        for row in current.summary:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        out.print(table)


def _resume_paused_run(request_id: str, *, approved: bool, reviewer: str, note: str) -> bool:
    """Resume the paused erasure run on the Prefect server with the decision; False if none is paused."""
    if not os.environ.get("PREFECT_API_URL"):
        return False
    from prefect import get_client  # noqa: PLC0415
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName  # noqa: PLC0415
    from prefect.flow_runs import resume_flow_run  # noqa: PLC0415

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[ERASURE_RUN.format(request_id=request_id)]))
        )
    paused = [r for r in runs if r.state is not None and r.state.is_paused()]
    if not paused:
        return False
    resume_flow_run(paused[0].id, run_input={"approved": approved, "reviewer": reviewer, "note": note})
    return True


def approve(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--by", help="Name of the reviewer who decides (audit trail).")],
    note: Annotated[
        str | None, typer.Option("--note", help="Note for the audit trail (no personal data; at most 2000 characters).")
    ] = None,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the plan instead: nothing is touched.")] = False,
) -> None:
    """Approve (or --reject) the newest erasure plan: the approval gate outside the Prefect UI."""
    by = check_text("--by", by)
    note = None if note is None else check_text("--note", note, limit=MAX_LONG_TEXT, multiline=True)
    state.require_request(request_id)
    from services.erasure import decide, plan_state  # noqa: PLC0415 - loads the erasure modules on demand

    current = plan_state(state.settings, request_id)
    if current.digest is None:
        raise InputError(
            f"request {request_id} has no erasure plan yet; run `dsr request run {request_id}` to find the "
            f"person's data and plan the erasure, then `dsr request plan {request_id}` to review it"
        )
    if current.decision != "pending":
        raise InputError(
            f"request {request_id} has no erasure plan awaiting a decision (decision: {current.decision}); "
            f"run `dsr request run {request_id}` first"
        )
    if _resume_paused_run(request_id, approved=not reject, reviewer=by, note=note or ""):
        err.print(f"{request_id}: decision sent to the paused erasure run; it continues on the Prefect server")
        return
    decide(state.settings, request_id, approved=not reject, reviewer=by, note=note)
    if reject:
        err.print(f"{request_id}: plan {current.digest[:12] if current.digest else ''} rejected; nothing was touched")
    else:
        err.print(f"{request_id}: plan approved by {by}; run `dsr request run {request_id}` to execute it")


def notify(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    recipient: Annotated[str, typer.Option("--recipient", help="Recipient name as in the register.")],
    channel: Annotated[str, typer.Option("--channel", help="How they were told: email, portal, letter, API.")],
    at: Annotated[str | None, typer.Option("--at", help="When, ISO date-time with offset (default now).")] = None,
) -> None:
    """Record that a recipient was told of the erasure (Art. 19); listed on the deletion certificate."""
    recipient, channel = check_text("--recipient", recipient), check_text("--channel", channel)
    when = None if at is None else parse_instant("--at", at)
    if when is not None and when > datetime.now(UTC) + CLOCK_SKEW:
        raise InputError("--at is in the future; give the time the recipient was told")
    state.require_request(request_id)
    from services.erasure import notify_recipient  # noqa: PLC0415 - loads the erasure modules on demand

    notify_recipient(state.settings, request_id, recipient=recipient, channel=channel, at=when)
    err.print(f"{request_id}: notification to {recipient} recorded")
