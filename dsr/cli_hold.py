"""`dsr hold add|list|release`: legal holds in the case database, listed with the configured ones.

Subjects are named by request id and stored as that request's keyed identifier hashes, never as identifiers.
Every change is an audit event (through `models.holds`). Unknown hold ids exit with code 2. `add` and `release`
write without SQLAlchemy where the case database is ready for it (`models.lean_write`), else through the ORM.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from dsr.context import err, out, print_json, state
from dsr.failures import say
from models.holds import (
    Hold,
    add_hold,
    add_hold_lean,
    find_hold,
    release_hold,
    release_hold_lean,
    subject_hashes_of_request,
)
from models.identifiers import MAX_LONG_TEXT, check_text, parse_day

app = typer.Typer(help="Legal holds: keep data out of purges and erasure within a scope.", no_args_is_help=True)

EXIT_UNKNOWN = 2
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _date(value: str | None, option: str) -> date | None:
    return None if value is None else parse_day(option, value)


@app.command()
def add(
    hold_id: Annotated[str, typer.Option("--id", help="Short id of the hold, e.g. LH-2026-01.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the data must be kept (no personal data).")],
    case_reference: Annotated[str, typer.Option("--case-reference", help="The legal case or matter.")],
    approver: Annotated[str, typer.Option("--approver", help="Who approved the hold.")],
    review_date: Annotated[str, typer.Option("--review-date", help="When to review it, YYYY-MM-DD.")],
    endpoint: Annotated[
        list[str] | None, typer.Option("--endpoint", help="Endpoint or store in scope (repeatable; default all).")
    ] = None,
    path: Annotated[
        list[str] | None, typer.Option("--path", help="Glob over laptop paths in scope (repeatable; default all).")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day of session activity in scope, YYYY-MM-DD.")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day of session activity in scope.")] = None,
    subject_request: Annotated[
        list[str] | None,
        typer.Option("--subject-request", help="A request whose subject is in scope (repeatable; default all)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a legal hold; it blocks purge and erasure within its scope until released."""
    review = _date(review_date, "--review-date")
    assert review is not None  # noqa: S101 -- a required option always gives a value
    start, end = _date(date_from, "--from"), _date(date_to, "--to")
    reason = check_text("--reason", reason, limit=MAX_LONG_TEXT, multiline=True)
    case_reference, approver = check_text("--case-reference", case_reference), check_text("--approver", approver)
    endpoint = [check_text("--endpoint", value) for value in endpoint or []]
    path = [check_text("--path", value, limit=MAX_LONG_TEXT) for value in path or []]
    scope = {
        "hold_id": hold_id, "reason": reason, "case_reference": case_reference, "approver": approver,
        "review_date": review, "endpoints": endpoint, "paths": path, "date_from": start, "date_to": end,
    }  # fmt: skip
    hold = _add_lean(subject_request or [], scope)
    if hold is None:
        hold = _add_orm(subject_request or [], scope)
    summary = hold.summary(state.today())
    if as_json:
        print_json(summary)
    else:
        out.print(hold_id)
        err.print(f"legal hold {hold_id} added; review by {review.isoformat()}")


def _add_lean(subject_requests: list[str], scope: dict[str, Any]) -> Hold | None:
    """The hold added without SQLAlchemy where the case database is ready for it (`models.lean_write`); None where
    the ORM path must add it (a database to create or migrate, an unknown request, an id in use), nothing written."""
    from models.lean_write import Writer, lean_write  # noqa: PLC0415 - the DB-API driver on demand

    settings = state.settings

    def write(db: Writer) -> Hold | None:
        db.sync_locations(settings)
        return add_hold_lean(db, settings, subject_requests=subject_requests, **scope)

    return lean_write(settings.database.url, write)


def _add_orm(subject_requests: list[str], scope: dict[str, Any]) -> Hold:
    with state.db() as session:
        subjects: list[str] = []
        for request_id in subject_requests:
            subjects.extend(subject_hashes_of_request(session, request_id))
        return add_hold(session, state.settings, subjects=subjects, **scope)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Configured and added holds with their status (active/released) and whether review is due."""
    today = state.today()
    rows = [h.summary(today) for h in _holds()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no legal holds")
        return
    table = Table("id", "source", "status", "case", "review", "scope")
    for row in rows:
        scope = []
        if row["endpoints"]:
            scope.append("endpoints " + ",".join(str(e) for e in row["endpoints"]))
        if row["paths"]:
            scope.append(f"{len(row['paths'])} path glob(s)")
        if row["subjects"]:
            scope.append(f"{row['subjects']} subject hash(es)")
        if row["date_from"] or row["date_to"]:
            scope.append(f"{row['date_from'] or '...'} to {row['date_to'] or '...'}")
        review = f"[red]{row['review_date']} (due)[/red]" if row["review_due"] else str(row["review_date"])
        table.add_row(
            str(row["id"]),
            str(row["source"]),
            str(row["status"]),
            str(row["case_reference"]),
            review,
            "; ".join(scope) or "everything",
        )
    out.print(table)


def _holds() -> list[Hold]:
    """Configured and added holds: read without SQLAlchemy where the case database is ready for it, else through
    the ORM (which creates or migrates it first, and names a configured hold's unknown request)."""
    from services.case_views import holds  # noqa: PLC0415 - the DB-API driver on demand

    found = holds(state.settings)
    if found is not None:
        return found
    from models.holds import list_holds  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        return list_holds(session, state.settings)


@app.command()
def release(
    hold_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--by", help="Who releases the hold.")],
    as_json: JsonOpt = False,
) -> None:
    """Release a hold: its items are processed by the next purge or erasure run."""
    by = check_text("--by", by)
    from models.lean_write import Writer, lean_write  # noqa: PLC0415 - the DB-API driver on demand

    settings = state.settings

    def write(db: Writer) -> Hold | None:
        db.sync_locations(settings)
        return release_hold_lean(db, settings, hold_id, by=by)

    # Without SQLAlchemy where the case database is ready for it; else (a database to create or migrate, an
    # unknown, configured or released hold) through the ORM, which names the problem.
    released = lean_write(settings.database.url, write)
    if released is None:
        with state.db() as session:
            if find_hold(session, settings, hold_id) is None:
                say(f"error: no legal hold with id {hold_id!r}; `dsr hold list` shows the ids")
                raise typer.Exit(EXIT_UNKNOWN)
            released = release_hold(session, settings, hold_id, by=by)
    summary = released.summary(state.today())
    if as_json:
        print_json(summary)
    else:
        err.print(f"legal hold {hold_id} released by {summary['released_by']}")
