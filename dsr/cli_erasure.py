"""`dsr request plan|approve|notify|vendor-request`: the erasure plan, the human approval gate, Art. 19
notifications and requests to processors to erase their copies."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dsr.context import err, out, print_json, state
from dsr.failures import describe, one_line
from models.errors import InputError
from models.flow_names import ERASURE_RUN
from models.identifiers import MAX_LONG_TEXT, check_text, parse_instant


def plan(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    detail: Annotated[
        bool,
        typer.Option("--detail", help="List every file, session and S3 version with its action and reason."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show the newest erasure plan: its digest (what an approval names), the decision, counts per location and
    action, and with --detail every item (paths and counts, never content)."""
    current, approval = _plan_view(request_id, detail=detail)
    if current.digest is None:
        raise InputError(f"request {request_id} has no erasure plan yet; run `dsr request run {request_id}`")
    rows = _plan_detail(request_id) if detail else []
    if as_json:
        document: dict[str, Any] = {
            "id": request_id,
            "digest": current.digest,
            "decision": current.decision,
            "executed": current.executed,
            "summary": list(current.summary),
            "approval": None if approval is None else _approval_json(approval),
        }
        if detail:
            document["detail"] = rows
        print_json(document)
        return
    out.print(f"plan digest {current.digest}", markup=False, highlight=False)
    out.print(f"decision: {current.decision}  executed: {current.executed}", markup=False, highlight=False)
    if approval is not None:
        out.print(
            f"{approval.decision} by {approval.reviewer} (authenticated as {approval.authenticated_user}, "
            f"{approval.channel}, {approval.authentication or 'authentication not recorded'}) at "
            f"{approval.at.isoformat()}; ledger entry {approval.ledger_seq}",
            markup=False,
            highlight=False,
        )
    if current.summary:
        columns = list(current.summary[0])
        table = Table(*columns)
        for row in current.summary:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        out.print(table)
    if detail and rows:
        table = Table(*rows[0], title="every item of the plan")
        for row in rows:
            table.add_row(*(escape(str(v)) for v in row.values()))
        out.print(table)
    if current.decision == "pending":
        out.print(
            f"approve this exact plan: dsr request approve {request_id} --by NAME --digest {current.digest}",
            markup=False,
            highlight=False,
        )


def _plan_view(request_id: str, *, detail: bool) -> tuple[Any, Any]:
    """The newest plan's state and the decision on it: read without SQLAlchemy where the case database is ready
    for it (and no --detail, which needs the erasure modules anyway), else through the ORM."""
    if not detail:
        from services.case_views import plan_view  # noqa: PLC0415 - the DB-API driver on demand

        found = plan_view(state.settings, request_id)
        if found is not None:
            return found
    state.require_request(request_id)
    from services.approval import approval_of, plan_state  # noqa: PLC0415 - the ORM on demand

    return plan_state(state.settings, request_id), approval_of(state.settings, request_id)


def _plan_detail(request_id: str) -> list[dict[str, Any]]:
    from services.erasure import plan_detail  # noqa: PLC0415 - erasure modules on demand

    return plan_detail(state.settings, request_id)


def _approval_json(approval: Any) -> dict[str, Any]:
    return {
        "decision": approval.decision,
        "plan_digest": approval.plan_digest,
        "reviewer": approval.reviewer,
        "authenticated_user": approval.authenticated_user,
        "authentication": approval.authentication or None,
        "channel": approval.channel,
        "at": approval.at.isoformat(),
        "note": approval.note,
        "submitted_by": approval.submitted_by,
        "ledger_seq": approval.ledger_seq,
    }


def _resume_paused_run(request_id: str, *, approved: bool, reviewer: str, digest: str, note: str) -> bool:
    """Resume the request's paused erasure run, if one waits on a Prefect server we can reach: the server of
    `PREFECT_API_URL`, else the configured local one when it answers. The decision is already recorded (by
    this command, as a CLI decision): the resumed run finds it and goes on. False if no run is paused there."""
    from dsr.cli_run import against_api  # noqa: PLC0415
    from dsr.cli_server import is_healthy  # noqa: PLC0415
    from dsr.prefect_api import PrefectApi, authorised_credential, explicit_api_auth, explicit_api_url  # noqa: PLC0415

    settings = state.settings
    if explicit_api_url():
        with explicit_api_auth(settings):  # before Prefect is imported: it reads its settings then
            return _resume_on_server(request_id, approved=approved, reviewer=reviewer, digest=digest, note=note)
    local = settings.prefect.api_url
    if not is_healthy(local):
        return False
    with against_api(PrefectApi(local, authorised_credential(settings, local))):
        return _resume_on_server(request_id, approved=approved, reviewer=reviewer, digest=digest, note=note)


def _resume_on_server(request_id: str, *, approved: bool, reviewer: str, digest: str, note: str) -> bool:
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
    resume_flow_run(
        paused[0].id, run_input={"approved": approved, "reviewer": reviewer, "digest": digest, "note": note}
    )
    return True


def approve(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--by", help="Name of the reviewer who decides (audit trail).")],
    digest: Annotated[
        str,
        typer.Option("--digest", help="Digest of the plan you reviewed, as `dsr request plan ID` prints it."),
    ],
    note: Annotated[
        str | None, typer.Option("--note", help="Note for the audit trail (no personal data; at most 2000 characters).")
    ] = None,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the plan instead: nothing is touched.")] = False,
) -> None:
    """Approve (or --reject) the erasure plan with this digest: the approval gate outside the Prefect UI.

    Refused when the digest is not the current plan's, and (with `[erasure].four_eyes`) when you submitted the
    request. The decision is a signed proof-ledger entry.
    """
    by = check_text("--by", by)
    digest = check_text("--digest", digest)
    note = None if note is None else check_text("--note", note, limit=MAX_LONG_TEXT, multiline=True)
    from models.identity_record import os_user  # noqa: PLC0415

    user = os_user()
    decided = _approve_lean(request_id, approved=not reject, by=by, digest=digest, note=note, user=user)
    if decided is None:
        decided = _approve_orm(request_id, approved=not reject, by=by, digest=digest, note=note, user=user)
    outcome = "rejected; nothing was touched" if reject else f"approved by {by} (as {user})"
    # The run finds the decision recorded above: the note (free text) is not handed to Prefect with it.
    try:
        resumed = _resume_paused_run(request_id, approved=not reject, reviewer=by, digest=decided, note="")
    except Exception as exc:  # noqa: BLE001 - the decision stands; say so instead of failing after recording it
        err.print(
            f"{request_id}: plan {decided[:12]} {outcome}; the decision is recorded, but the paused erasure "
            f"run could not be resumed ({one_line(describe(exc)[0])}): resume it in the Prefect UI once the server "
            "answers (it finds this decision; do not approve again)"
        )
        return
    if resumed:
        err.print(
            f"{request_id}: plan {decided[:12]} {outcome}; the paused erasure run was resumed and continues "
            "on the Prefect server"
        )
    elif reject:
        err.print(f"{request_id}: plan {decided[:12]} {outcome}")
    else:
        err.print(f"{request_id}: plan {decided[:12]} {outcome}; run `dsr request run {request_id}` to execute it")


def _approve_lean(request_id: str, *, approved: bool, by: str, digest: str, note: str | None, user: str) -> str | None:
    """The decision recorded without SQLAlchemy where the case database is ready for it (`services.approval.
    decide_lean`): the plan's digest, or None, nothing written, where the ORM path must record it or name why not."""
    from models.lean_write import Writer, lean_write  # noqa: PLC0415 - the DB-API driver on demand
    from services.approval import decide_lean  # noqa: PLC0415

    settings = state.settings

    def known(db: Writer) -> bool | None:  # what `state.require_request` does: sync the locations, find the request
        db.sync_locations(settings)
        return True if db.rows("requests", "id = ?", (request_id,)) else None

    if lean_write(settings.database.url, known) is None:
        return None
    return decide_lean(
        settings, request_id, approved=approved, reviewer=by, digest=digest, note=note, authenticated_user=user
    )


def _approve_orm(request_id: str, *, approved: bool, by: str, digest: str, note: str | None, user: str) -> str:
    state.require_request(request_id)
    from services.approval import check_decision, decide, plan_state  # noqa: PLC0415 - the ORM on demand

    current = plan_state(state.settings, request_id)
    if current.digest is None:
        raise InputError(
            f"request {request_id} has no erasure plan yet; run `dsr request run {request_id}` to find the "
            f"person's data and plan the erasure, then `dsr request plan {request_id}` to review it"
        )
    record = check_decision(state.settings, request_id, approved=approved, digest=digest, authenticated_user=user)
    # Recorded here, as this command's decision (channel `cli`, the OS login); a paused run then finds it.
    decide(
        state.settings, request_id, approved=approved, reviewer=by, digest=digest, note=note, authenticated_user=user
    )
    return record.digest


_NOTE = "Note for the proof log (no personal data: the person's identifiers are refused; at most 2000 characters)."


def notify(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    recipient: Annotated[str, typer.Option("--recipient", help="Recipient name exactly as in the register.")],
    channel: Annotated[str, typer.Option("--channel", help="How they were told: email, portal, letter, API.")],
    at: Annotated[str | None, typer.Option("--at", help="When, ISO date-time with offset (default now).")] = None,
    note: Annotated[str | None, typer.Option("--note", help=_NOTE)] = None,
) -> None:
    """Record that a recipient was told of the erasure (Art. 19): a signed proof-ledger entry, listed with its
    date on the deletion certificate."""
    recipient, channel = check_text("--recipient", recipient), check_text("--channel", channel)
    note = None if note is None else check_text("--note", note, limit=MAX_LONG_TEXT, multiline=True)
    when = None if at is None else parse_instant("--at", at)
    state.require_request(request_id)
    from services.request_ledger import record_notice  # noqa: PLC0415 - loads the ledger on demand

    entry = record_notice(state.settings, request_id, recipient=recipient, channel=channel, at=when, note=note)
    err.print(f"{request_id}: notification to {recipient} recorded (proof entry {entry.seq})", markup=False)


def vendor_request(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    processor: Annotated[
        str, typer.Option("--processor", help="The processor asked, exactly as named in [[register.processors]].")
    ],
    channel: Annotated[str, typer.Option("--channel", help="How it was asked: email, portal, API, letter.")],
    at: Annotated[str | None, typer.Option("--at", help="When, ISO date-time with offset (default now).")] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="The processor's ticket or case number (no personal data).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help=_NOTE)] = None,
) -> None:
    """Record that a processor (the AI vendor) was asked to erase its copy of the person's data: a signed
    proof-ledger entry, listed with its date on the deletion certificate (else "not yet sent")."""
    processor, channel = check_text("--processor", processor), check_text("--channel", channel)
    reference = None if reference is None else check_text("--reference", reference)
    note = None if note is None else check_text("--note", note, limit=MAX_LONG_TEXT, multiline=True)
    when = None if at is None else parse_instant("--at", at)
    state.require_request(request_id)
    from services.request_ledger import record_vendor_request  # noqa: PLC0415 - loads the ledger on demand

    entry = record_vendor_request(
        state.settings, request_id, processor=processor, channel=channel, at=when, reference=reference, note=note
    )
    err.print(f"{request_id}: erasure request to {processor} recorded (proof entry {entry.seq})", markup=False)
