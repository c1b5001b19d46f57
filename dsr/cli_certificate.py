"""`dsr request certificate ID [--open]`: where the deletion certificate of an erasure is, or open it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dsr.context import err, out, print_json, state
from models.errors import InputError


def certificate(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    open_it: Annotated[bool, typer.Option("--open", help="Open the certificate in the default browser.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Print the path of the erasure's deletion certificate (HTML, with its JSON beside it), or --open it."""
    from models import cases  # noqa: PLC0415 - the database layer on demand

    with state.db() as session:
        request = cases.get_request(session, request_id)
        path, kind, status = request.certificate_path, request.kind, request.status
    if path is None:
        if kind != "erasure":
            raise InputError(f"request {request_id} is a {kind} request; only erasure requests have a certificate")
        raise InputError(
            f"request {request_id} has no certificate yet (status {status}): it is written when the approved "
            f"plan has been carried out; `dsr request show {request_id}` says what is next"
        )
    html = Path(path)
    if not html.exists():
        raise InputError(f"the certificate of {request_id} is missing at {html}; restore it from the evidence store")
    if as_json:
        print_json({"id": request_id, "certificate": str(html), "json": str(html.with_suffix(".json"))})
        return
    out.print(str(html), markup=False, highlight=False)
    if open_it:
        import webbrowser  # noqa: PLC0415 - only for --open

        if not webbrowser.open(html.resolve().as_uri()):
            raise InputError(f"no browser could be started here; open {html} yourself")
        err.print(f"{request_id}: certificate opened in the browser", markup=False, highlight=False)
    else:
        err.print(
            f"{request_id}: deletion certificate (built from the signed ledger); --open shows it in a browser",
            markup=False,
            highlight=False,
        )
