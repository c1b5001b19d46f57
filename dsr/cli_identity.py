"""`dsr request ask-identity|verify-identity|waive-identity`: the identity check that opens a request."""

from __future__ import annotations

from typing import Annotated

import typer

from dsr.context import err, state
from models.identifiers import parse_instant
from models.lifecycle import IDENTITY_METHODS


def ask_identity(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    at: Annotated[
        str | None, typer.Option("--at", help="When it was asked, ISO date-time with offset (default now).")
    ] = None,
) -> None:
    """Record that identity information was asked for (reasonable doubt only): the legal clock stands still."""
    when = None if at is None else parse_instant("--at", at)
    state.require_request(request_id)
    from services.identity import ask  # noqa: PLC0415 - loads the ledger on demand

    ask(state.settings, request_id, at=when)
    err.print(
        f"{request_id}: identity information asked for; the deadline is recomputed when it arrives "
        f"(`dsr request verify-identity {request_id} --method M --by NAME --received-at ISO`)"
    )


def verify_identity(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    method: Annotated[
        str, typer.Option("--method", help="How identity was established: " + ", ".join(IDENTITY_METHODS))
    ],
    by: Annotated[str, typer.Option("--by", help="Name of the person who checked it (at most 200 characters).")],
    note: Annotated[
        str | None,
        typer.Option("--note", help="Note for the record: never a document number (at most 2000 characters)."),
    ] = None,
    received_at: Annotated[
        str | None,
        typer.Option(
            "--received-at", help="When the identity information arrived, ISO date-time with offset (default now)."
        ),
    ] = None,
) -> None:
    """Record how the requester's identity was established (method and outcome, never the evidence)."""
    when = None if received_at is None else parse_instant("--received-at", received_at)
    state.require_request(request_id)
    from services.identity import verify  # noqa: PLC0415 - loads the ledger on demand

    verify(state.settings, request_id, method=method, by=by, note=note, arrived_at=when)
    err.print(f"{request_id}: identity verified ({method}); run it with `dsr request run {request_id}`")


def waive_identity(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why no check is needed, e.g. 'request from the employee's authenticated account' "
            "(at most 2000 characters).",
        ),
    ],
) -> None:
    """Record that no identity check is needed, and why (never ask an authenticated person for documents)."""
    state.require_request(request_id)
    from services.identity import waive  # noqa: PLC0415 - loads the ledger on demand

    waive(state.settings, request_id, reason=reason)
    err.print(f"{request_id}: identity check waived; run it with `dsr request run {request_id}`")
