"""`dsr stats`: statistics for accountability (Art. 5(2)): requests by kind and outcome, time to complete,
overdue requests, extensions, refusals by ground, items kept from erasure by ground. Counts only."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer
from rich.table import Table

from dsr.context import out, print_json, state
from models.errors import InputError
from models.identifiers import parse_day
from services.stats import request_stats


def stats(
    date_from: Annotated[
        str | None, typer.Option("--from", metavar="DATE", help="First day of receipt counted, YYYY-MM-DD.")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", metavar="DATE", help="Last day of receipt counted, YYYY-MM-DD.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print measure,value rows as CSV.")] = False,
) -> None:
    """Statistics of the requests received in a period (default: all): counts, days to complete, grounds."""
    if as_json and as_csv:
        raise InputError("give --json or --csv, not both")
    start = None if date_from is None else parse_day("--from", date_from)
    end = None if date_to is None else parse_day("--to", date_to)
    if start is not None and end is not None and end < start:
        raise InputError("--to is before --from; give the period's first day with --from and its last with --to")
    result = request_stats(state.settings, today=state.today(), date_from=start, date_to=end)
    if as_json:
        print_json(result.as_dict())
        return
    rows = result.rows()
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=["measure", "value"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    period = f"{start or 'the first request'} to {end or 'today'}"
    table = Table("measure", "value", title=f"requests received from {period}")
    for row in rows:
        table.add_row(row["measure"], row["value"])
    out.print(table)
