"""The `dsr` command line (Typer): the front door. Maps domain errors to one-line messages and exit codes."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer

from dsr.context import out, print_json, state
from dsr.failures import report_failure
from models.malloc_arenas import one_arena
from models.prefect_env import quiet_prefect

app = typer.Typer(
    name="dsr",
    help="Orchestrates GDPR data-subject requests and retention over laptops' AI-agent histories and S3 stores.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _request(app: typer.Typer) -> None:
    from dsr import cli_request  # noqa: PLC0415 - each command group is imported only when it runs

    app.add_typer(cli_request.app, name="request")


def _fleet(app: typer.Typer) -> None:
    from dsr.cli_fleet import app as fleet_app  # noqa: PLC0415
    from dsr.cli_inventory import inventory  # noqa: PLC0415

    fleet_app.command("inventory")(inventory)
    app.add_typer(fleet_app, name="fleet")


def _scan(app: typer.Typer) -> None:
    from dsr.cli_scan import scan  # noqa: PLC0415

    app.command("scan")(scan)


def _server(app: typer.Typer) -> None:
    from dsr.cli_server import app as server_app  # noqa: PLC0415

    app.add_typer(server_app, name="server")


def _ledger(app: typer.Typer) -> None:
    from dsr import cli_ledger  # noqa: PLC0415

    app.add_typer(cli_ledger.app, name="ledger")


def _hold(app: typer.Typer) -> None:
    from dsr.cli_hold import app as hold_app  # noqa: PLC0415

    app.add_typer(hold_app, name="hold")


def _retention(app: typer.Typer) -> None:
    from dsr import cli_retention  # noqa: PLC0415

    app.add_typer(cli_retention.app, name="retention")


def _stats(app: typer.Typer) -> None:
    from dsr.cli_stats import stats  # noqa: PLC0415

    app.command("stats")(stats)


def _doctor(app: typer.Typer) -> None:
    from dsr.cli_doctor import doctor  # noqa: PLC0415

    app.command("doctor")(doctor)


#: Every command group or command beside `deadline`, in help order, with the function that registers it.
#: A run registers only the one its arguments name (a command that starts no flow must answer at once:
#: importing every group would load Prefect's neighbours, SQLAlchemy and presidio for `dsr deadline`);
#: `dsr --help` and anything unrecognised register them all.
COMMANDS: dict[str, Callable[[typer.Typer], None]] = {
    "request": _request,
    "fleet": _fleet,
    "scan": _scan,
    "server": _server,
    "ledger": _ledger,
    "hold": _hold,
    "retention": _retention,
    "stats": _stats,
    "doctor": _doctor,
}
_registered: set[str] = set()


def _first_command(argv: Sequence[str]) -> str | None:
    """The command name in `argv` (after the global options), or None."""
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        if word in ("--config",):
            rest = rest[1:]
        elif word.startswith("-"):
            continue
        else:
            return word
    return None


def register(argv: Sequence[str] | None = None) -> typer.Typer:
    """Register the command groups `argv` needs (all of them when `argv` is None or names none)."""
    wanted = _first_command(argv) if argv is not None else None
    names = [wanted] if wanted in COMMANDS else list(COMMANDS) if wanted != "deadline" else []
    for name in names:
        if name not in _registered:
            COMMANDS[name](app)
            _registered.add(name)
    return app


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="DSR_CONFIG", help="Configuration file (default ./dsr.toml)."),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an unexpected error, append the traceback to .dsr/logs/debug.log (beside the configuration).",
        ),
    ] = False,
) -> None:
    """Global options."""
    state.config = config
    state.debug = debug


@app.command()
def deadline(
    received: Annotated[str, typer.Argument(metavar="DATE", help="Date of receipt, YYYY-MM-DD (1970 to 2999).")],
    calendar: Annotated[
        str | None, typer.Option("--calendar", help="Holiday calendar, e.g. GB-ENG or DE (default: config).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Legal dates for a request received on DATE (Art. 12(3), Reg. 1182/71)."""
    from models.deadline import compute_deadlines  # noqa: PLC0415 - holiday calendars load only for this command
    from models.identifiers import parse_day  # noqa: PLC0415

    received_on = parse_day("DATE", received)
    code = state.settings.controller.calendar if calendar is None else calendar
    dates = compute_deadlines(received_on, code)
    if as_json:
        print_json(dates.as_json())
        return
    out.print(f"received      {dates.received:%a %d %b %Y}")
    out.print(f"due           {dates.due:%a %d %b %Y}  (legal deadline, calendar {dates.calendar})")
    out.print(f"target        {dates.target:%a %d %b %Y}  (internal 28-day target)")
    out.print(f"extended due  {dates.extended_due:%a %d %b %Y}  (only if extended within the first month)")


def main() -> None:
    """Console-script entry point: runs the app; every failure becomes one line on stderr and an exit code.

    Exit codes: 0 success, 1 invalid input or a failure, 2 an unknown id or a usage error. Files the command
    creates are private to the user (umask 077 while it runs). An unexpected exception is shown as one line;
    its traceback goes to the debug log only with `--debug` (see `dsr.failures`).
    """
    one_arena()  # before any thread starts: freed memory is reused across threads (models.malloc_arenas)
    state.reset()
    quiet_prefect()  # before any command imports Prefect: no telemetry, nothing sent to the internet
    logging.raiseExceptions = False  # a failing log handler must not print a traceback either
    old_umask = os.umask(0o077)
    try:
        code = register(sys.argv[1:])(standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the one place every failure becomes a message and a code
        code = report_failure(exc, debug=state.debug, state_dir=state.loaded_state_dir())
    finally:
        os.umask(old_umask)
    if isinstance(code, int) and code != 0:
        sys.exit(code)
