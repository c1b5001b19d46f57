"""`dsr request ...`: intake and lifecycle commands over the case database."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from dsr import cli_erasure, cli_identity, cli_run
from dsr.cli_certificate import certificate
from dsr.context import err, out, print_json, state
from dsr.intake import IdentifiersFileOpt, IdentifiersStdinOpt, gather, warn_about
from models.errors import InputError, RequestBusyError
from models.identifiers import parse_instant, validate_all
from models.lifecycle import REFUSAL_GROUNDS, request_summary
from models.types import RequestKind, RequestStatus

app = typer.Typer(help="Record and follow data-subject requests.", no_args_is_help=True)
app.command("run")(cli_run.run)
app.command("report")(cli_run.report)
app.command("export")(cli_run.export)
app.command("plan")(cli_erasure.plan)
app.command("approve")(cli_erasure.approve)
app.command("notify")(cli_erasure.notify)
app.command("vendor-request")(cli_erasure.vendor_request)
app.command("certificate")(certificate)
app.command("ask-identity")(cli_identity.ask_identity)
app.command("verify-identity")(cli_identity.verify_identity)
app.command("waive-identity")(cli_identity.waive_identity)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _parse_instant(value: str | None, option: str) -> datetime | None:
    return None if value is None else parse_instant(option, value)


def _parse_kind(kind: str) -> RequestKind:
    try:
        return RequestKind(kind.strip().lower())
    except ValueError:
        allowed = ", ".join(k.value for k in RequestKind)
        raise InputError(f"--kind {kind!r} is not a request kind; use one of: {allowed}") from None


@app.command()
def submit(
    kind: Annotated[str, typer.Option("--kind", help="access, erasure, portability, rectification, ...")],
    identifiers_file: IdentifiersFileOpt = None,
    identifiers: IdentifiersStdinOpt = None,
    email: Annotated[list[str] | None, typer.Option("--email", help="E-mail address (repeatable).")] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="Full name (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option("--phone", help="Phone number (repeatable).")] = None,
    user_id: Annotated[list[str] | None, typer.Option("--user-id", help="User or account id (repeatable).")] = None,
    received: Annotated[
        str | None,
        typer.Option("--received", help="When it arrived, ISO date-time with offset (default now; not in the future)."),
    ] = None,
    channel: Annotated[
        str, typer.Option("--channel", help="How it arrived: email, web-form, post, ... (at most 200 characters).")
    ] = "email",
    as_json: JsonOpt = False,
) -> None:
    """Record a new request with the person's identifiers; prints the new id. Validates everything first.

    Give identifiers in a private file (--identifiers-file) or on standard input (--identifiers -): arguments
    such as --email can be read by other local users while the command runs.
    """
    request_kind = _parse_kind(kind)
    received_at = _parse_instant(received, "--received")
    given = gather(
        identifiers_file=identifiers_file, identifiers=identifiers, emails=email, names=name, phones=phone,
        user_ids=user_id,
    )  # fmt: skip
    region = state.settings.controller.phone_region
    validated = validate_all(
        emails=given.emails, names=given.names, phones=given.phones, user_ids=given.user_ids, region=region,
        received_at=received_at, channel=channel,
    )  # fmt: skip
    hkey, mkey = state.hmac_key(), state.master_key()
    from models.lean_write import Writer, lean_write  # noqa: PLC0415 - the DB-API driver on demand
    from models.new_request import new_request, submit_request_lean  # noqa: PLC0415

    settings = state.settings
    new = new_request(
        settings, kind=request_kind, identifiers=validated, received_at=received_at, channel=channel
    )  # fmt: skip

    def write(db: Writer) -> tuple[str, date]:
        db.sync_locations(settings)
        return submit_request_lean(db, new, hmac_key=hkey, master_key=mkey)

    # Without SQLAlchemy where the case database is ready for it; else (a database to create or migrate, an id
    # taken meanwhile on PostgreSQL) through the ORM.
    recorded = lean_write(settings.database.url, write)
    if recorded is None:
        from models import cases  # noqa: PLC0415 - the database layer on demand

        with state.db() as session:
            request = cases.submit_request(
                session, settings, kind=request_kind, identifiers=validated, hmac_key=hkey, master_key=mkey,
                received_at=received_at, channel=channel,
            )  # fmt: skip
            recorded = request.id, request.due_on
    request_id, due = recorded
    if as_json:
        print_json({"id": request_id})
    else:
        out.print(request_id)
        err.print(f"recorded {request_kind.value} request {request_id}; due {due:%a %d %b %Y}")
    warn_about(given, validated)


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="Only requests in this status.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open requests past their deadline.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List requests, newest first."""
    wanted: RequestStatus | None = None
    if status is not None:
        try:
            wanted = RequestStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in RequestStatus)
            raise InputError(f"--status {status!r} is not a status; use one of: {allowed}") from None
    rows = _summaries(wanted, state.today())
    if overdue:
        rows = [r for r in rows if r["overdue"]]
    if as_json:
        print_json(rows)
        return
    # Ids and statuses are never cut or split: the other columns wrap or shorten in a narrow terminal.
    table = Table()
    table.add_column("id", no_wrap=True, min_width=max((len(r["id"]) for r in rows), default=2))
    table.add_column("kind", overflow="fold")
    table.add_column("status", no_wrap=True, min_width=max((len(r["status"]) for r in rows), default=6))
    for column in ("received", "due", "days left"):
        table.add_column(column, overflow="fold")
    for r in rows:
        days = f"[red]{r['days_left']} (overdue)[/red]" if r["overdue"] else str(r["days_left"])
        table.add_row(r["id"], r["kind"], r["status"], r["received_at"][:10], r["extended_due"] or r["due"], days)
    out.print(table if rows else "no requests")


def _summaries(status: RequestStatus | None, today: date) -> list[dict[str, Any]]:
    """The summaries of the requests (in `status`), newest first: read with one SELECT where the case database
    is ready for it (no SQLAlchemy import), else through the ORM, which creates or migrates it first."""
    from models.lean_read import read_requests  # noqa: PLC0415 - the DB-API driver on demand

    found = read_requests(state.settings.database.url, status=None if status is None else status.value)
    if found is not None:
        return [request_summary(r, today) for r in found]
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        return [request_summary(r, today) for r in cases.list_requests(session, status=status)]


@app.command()
def show(request_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOpt = False) -> None:
    """One request: status, kind, dates, days left, locations and their statuses."""
    detail = _detail(request_id, state.today())
    if as_json:
        print_json(detail)
        return
    out.print(f"[bold]{detail['id']}[/bold]  {detail['kind']}  {detail['status']}")
    out.print(f"received {detail['received_at']}  via {detail['channel']}")
    out.print(f"due {detail['due']} (target {detail['target']})  extended due {detail['extended_due'] or '-'}")
    out.print(f"days left {detail['days_left']}{'  OVERDUE' if detail['overdue'] else ''}")
    if detail["status"] == RequestStatus.COMPLETED_WITH_GAPS:
        out.print("gaps: some items could not be read or changed; the certificate lists each with its reason")
    out.print(_identity_line(request_id, detail["identity"]), markup=False, highlight=False)
    if detail["locations"]:
        table = Table("location", "phase", "status", "reason", "attempts", "findings")
        for loc in detail["locations"]:
            table.add_row(
                loc["name"],
                loc["phase"],
                loc["status"],
                loc["reason"] or "",
                str(loc["attempts"]),
                str(loc["findings"]),
            )
        out.print(table)
    for label in ("report", "certificate"):
        if detail[label]:
            out.print(f"{label}: {detail[label]}")
    check = detail.get("release_check")
    if check and check["outcome"] == "blocked":
        out.print(f"release check: blocked on {len(check['items'])} item(s) (release with `dsr request release-item`)")
        table = Table("item", "file", "place", "reason", "source", "released")
        for item in check["items"]:
            table.add_row(
                item["item"],
                item["file"],
                item["place"],
                item["reason"],
                item["source"],
                "yes" if item["released"] else "",
            )
        out.print(table)


def _detail(request_id: str, today: date) -> dict[str, Any]:
    """`dsr request show --json`'s document: read without SQLAlchemy where the case database is ready for it,
    else through the ORM (which creates or migrates it first, and names an unknown id)."""
    from services.case_views import request_detail  # noqa: PLC0415 - the DB-API driver on demand

    found = request_detail(state.settings, request_id, today)
    if found is not None:
        return found
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        detail = cases.request_detail(session, cases.get_request(session, request_id), today)
    from services.identity import identity_document, identity_record  # noqa: PLC0415 - reads the ledger

    detail["identity"] = identity_document(identity_record(state.settings, request_id))
    return detail


@app.command("release-item")
def release_item(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    item: Annotated[str, typer.Argument(metavar="ITEM", help="An item the release check blocked on (R-...).")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it may be sent as it is (recorded in the audit trail; at most 2000).")
    ],
) -> None:
    """Release one item the release check blocked on, with a recorded reason; run the request again to issue."""
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        cases.release_item(session, request_id, item, reason=reason)
    err.print(f"{request_id}: {item} released; run `dsr request run {request_id}` to issue the package")


def _identity_line(request_id: str, ident: dict[str, Any]) -> str:
    if ident["outcome"] is None:
        paused = f"; asked {ident['asked_at']}, the clock stands still until it arrives" if ident["asked_at"] else ""
        return (
            f"identity: not recorded{paused} (`dsr request verify-identity {request_id} --method M --by NAME` "
            f"or `dsr request waive-identity {request_id} --reason T`)"
        )
    how = f"method {ident['method']}" if ident["method"] else "no check needed"
    who = f" by {ident['by']}" if ident["by"] else ""
    user = f" (OS user {ident['recorded_by']})" if ident["recorded_by"] else ""
    when = f" at {ident['at']}" if ident["at"] else ""
    note = f"; {ident['note']}" if ident["note"] else ""
    return f"identity: {ident['outcome']}, {how}{who}{user}{when}{note}".replace("\n", " / ")


@app.command()
def extend(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why more time is needed (told to the person; at most 2000 characters).")
    ],
    notified_at: Annotated[
        str | None, typer.Option("--notified-at", help="When the person was told, ISO date-time (default now).")
    ] = None,
) -> None:
    """Extend by two further months (Art. 12(3)); refused once the first deadline has passed."""
    from models import cases  # noqa: PLC0415 - the database layer on demand

    when = _parse_instant(notified_at, "--notified-at")
    with state.db() as session:
        request = cases.extend_request(session, state.settings, request_id, reason=reason, notified_at=when)
        new_due = request.extended_due_on
    from services.request_ledger import record_dates  # noqa: PLC0415 - loads the ledger on demand

    record_dates(state.settings, request_id, reason="extended")
    err.print(f"{request_id} extended; new due date {new_due}")


@app.command()
def refuse(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    ground: Annotated[str, typer.Option("--ground", help=", ".join(REFUSAL_GROUNDS))],
    reason: Annotated[str, typer.Option("--reason", help="The facts behind the refusal (at most 2000 characters).")],
) -> None:
    """Refuse to act (Art. 12(4)/(5)); the notice must tell the person of their remedies."""
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        cases.refuse_request(session, request_id, ground=ground, reason=reason)
    _discard_copies(request_id)
    err.print(f"{request_id} refused ({ground})")


@app.command()
def withdraw(request_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Record that the person withdrew the request."""
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        cases.withdraw_request(session, request_id)
    _discard_copies(request_id)
    err.print(f"{request_id} withdrawn")


def _discard_copies(request_id: str) -> None:
    """A closed request keeps no working copies of the person's data (staging, a blocked draft)."""
    from services.housekeeping import discard_working_copies  # noqa: PLC0415 - only when a request closes

    try:
        removed = discard_working_copies(state.settings, request_id)
    except RequestBusyError:
        err.print(
            f"a run of {request_id} is still going: its working copies are left for now and deleted by the "
            "daily `deadline-watch` sweep once the run has ended"
        )
        return
    if removed:
        err.print(f"deleted {removed} working cop{'y' if removed == 1 else 'ies'} gathered for {request_id}")
