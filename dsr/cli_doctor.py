"""`dsr doctor`: one line per check of the set-up, each failure with its fix; exit 0 only when all pass."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from dsr.context import out, print_json, state
from models.errors import DsrError
from services.doctor import FAIL, INFO, report, run_doctor

_MARK = {"ok": "[green]ok  [/green]", FAIL: "[red]FAIL[/red]", INFO: "[cyan]info[/cyan]"}


def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False) -> None:
    """Check configuration, case database, keys, endpoints (host keys, scanner), stores, register, Prefect
    server and schedules. Reads and changes nothing on laptops or in stores. Exit 1 if any check fails."""
    checks = run_doctor(state.config)
    if as_json:
        print_json(report(checks))
    else:
        for check in checks:
            label = "fix: " if check.status == FAIL else ""
            fix = f"  [dim]->[/dim] {label}{escape(check.fix)}" if check.fix and check.status != "ok" else ""
            out.print(
                f"{_MARK.get(check.status, check.status)}  {check.name:<22} {escape(check.detail)}{fix}",
                markup=True,
                highlight=False,
            )
    failed = [c.name for c in checks if not c.passed]
    if failed:
        raise DsrError(f"{len(failed)} check(s) failed: {', '.join(failed)}; each FAIL line above names its fix")
