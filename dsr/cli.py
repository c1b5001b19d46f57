"""The `dsr` command line (Typer): the front door. Maps domain errors to one-line messages and exit codes."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from dsr import cli_ledger, cli_request
from dsr.cli_fleet import app as fleet_app
from dsr.cli_hold import app as hold_app
from dsr.cli_inventory import inventory
from dsr.cli_scan import scan
from dsr.cli_server import app as server_app
from dsr.context import err, out, print_json, state
from models.deadline import compute_deadlines
from models.errors import DsrError, InputError, RequestNotFoundError

app = typer.Typer(
    name="dsr",
    help="Orchestrates GDPR data-subject requests and retention over laptops' AI-agent histories and S3 stores.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(cli_request.app, name="request")
fleet_app.command("inventory")(inventory)
app.add_typer(fleet_app, name="fleet")
app.command("scan")(scan)
app.add_typer(server_app, name="server")
app.add_typer(cli_ledger.app, name="ledger")
app.add_typer(hold_app, name="hold")


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="DSR_CONFIG", help="Configuration file (default ./dsr.toml)."),
    ] = None,
) -> None:
    """Global options."""
    state.config = config


@app.command()
def deadline(
    received: Annotated[str, typer.Argument(help="Date of receipt, YYYY-MM-DD.")],
    calendar: Annotated[
        str | None, typer.Option("--calendar", help="Holiday calendar, e.g. GB-ENG or DE (default: config).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Legal dates for a request received on DATE (Art. 12(3), Reg. 1182/71)."""
    try:
        received_on = date.fromisoformat(received)
    except ValueError:
        raise InputError(f"DATE {received!r} is not an ISO date; use YYYY-MM-DD, e.g. 2025-01-31") from None
    code = calendar or state.settings.controller.calendar
    dates = compute_deadlines(received_on, code)
    if as_json:
        print_json(dates.as_json())
        return
    out.print(f"received      {dates.received:%a %d %b %Y}")
    out.print(f"due           {dates.due:%a %d %b %Y}  (legal deadline, calendar {dates.calendar})")
    out.print(f"target        {dates.target:%a %d %b %Y}  (internal 28-day target)")
    out.print(f"extended due  {dates.extended_due:%a %d %b %Y}  (only if extended within the first month)")


def main() -> None:
    """Console-script entry point: runs the app and turns domain errors into one-line messages."""
    try:
        code = app(standalone_mode=False)
    except RequestNotFoundError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(2)
    except DsrError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:
        import click  # noqa: PLC0415 - only needed on this path

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int):
        sys.exit(code)
