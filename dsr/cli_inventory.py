"""`dsr fleet inventory`: artifacts per configured endpoint, OS user and kind (no content, no identifiers)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from connectors.inventory import build_inventory
from connectors.registry import open_endpoint
from dsr.context import err, out, print_json, state
from models.errors import ConnectorError


def inventory(
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Only this endpoint.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """List, per endpoint and OS user, artifact counts and bytes by kind, oldest and newest, and content roots."""
    settings = state.settings
    endpoints = [settings.endpoint(endpoint)] if endpoint is not None else list(settings.endpoints)
    documents: list[dict[str, object]] = []
    for ep in endpoints:
        err.print(f"inventory of {ep.name} ...", highlight=False)
        try:
            with open_endpoint(ep, settings) as connector:
                found = build_inventory(connector)
                documents.append({"status": found.status, **found.to_dict()})
        except ConnectorError as exc:
            documents.append({"endpoint": ep.name, "status": exc.status.value, "reason": str(exc), "users": []})
    if as_json:
        print_json({"endpoints": documents})
        return
    for doc in documents:
        out.rule(f"{doc['endpoint']} ({doc['status']})")
        users = doc.get("users") or []
        assert isinstance(users, list)  # noqa: S101 - shape guaranteed by Inventory.to_dict
        for user in users:
            table = Table("kind", "files", "bytes", title=f"{user['os']} user {user['os_user']}")
            for kind, totals in sorted(user["kinds"].items()):
                table.add_row(kind, str(totals["count"]), f"{totals['bytes']:,}")
            out.print(table)
            out.print(f"oldest {user['oldest_at']}  newest {user['newest_at']}")
            agents = user.get("agents") or {}
            assert isinstance(agents, dict)  # noqa: S101 - shape guaranteed by Inventory.to_dict
            for agent, totals in agents.items():
                out.print(
                    f"  agent {agent}: {totals['artifacts']} files, {totals['sessions']} sessions, "
                    f"{totals['bytes']:,} bytes",
                    highlight=False,
                    markup=False,
                )
            for root in user["roots"]:
                out.print(f"  root: {root}", highlight=False, markup=False)
        gaps = doc.get("gaps") or []
        assert isinstance(gaps, list)  # noqa: S101 - shape guaranteed by Inventory.to_dict
        for gap in gaps:
            assert isinstance(gap, dict)  # noqa: S101 - shape guaranteed by Inventory.to_dict
            out.print(f"  coverage gap (not read): {gap['path']}", highlight=False, markup=False)
        if doc.get("reason"):
            out.print(f"  {doc['reason']}", markup=False)
