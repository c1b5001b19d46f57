"""`dsr scan`: scan one directory tree as one laptop for one subject, without Prefect and without a database.

Owns only argument parsing and output (JSON document or Rich table on stdout, progress on stderr); the work
is `detection.scan.scan_endpoint`. Never prints identifiers or content outside the findings themselves.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from connectors.local import LocalConnector
from detection.identifiers import SubjectIdentifiers
from detection.matcher import ENGINE, Matcher
from detection.scan import scan_endpoint
from models.errors import InputError

_err = Console(stderr=True, soft_wrap=True)
_out = Console(soft_wrap=True)


def scan(
    root: Annotated[Path, typer.Argument(help="Directory that stands for the laptop's `/`.")],
    endpoint_name: Annotated[str, typer.Option("--endpoint-name", help="Endpoint name used in locations.")],
    email: Annotated[list[str] | None, typer.Option("--email", help="Subject e-mail (repeatable).")] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="Subject full name (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option("--phone", help="Subject phone (repeatable).")] = None,
    user_id: Annotated[list[str] | None, typer.Option("--user-id", help="Subject user id/UUID (repeatable).")] = None,
    region: Annotated[str, typer.Option("--region", help="Default region for national phone numbers.")] = "GB",
    owner: Annotated[
        list[str] | None, typer.Option("--owner", help="The endpoint's configured owner identifier (repeatable).")
    ] = None,
    no_classify: Annotated[bool, typer.Option("--no-classify", help="Skip presidio classification.")] = False,
    expand_owned: Annotated[
        bool,
        typer.Option(
            "--expand-owned/--whole-owned-files",
            help="List every record of the subject's own sessions, or each of their files once.",
        ),
    ] = True,
    os_name: Annotated[
        str | None,
        typer.Option("--os", help="The laptop's OS (macos, windows, linux); default: recognised from the tree."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print one JSON document {"items": [...]}.')] = False,
) -> None:
    """Scan ROOT as one laptop for the subject's identifiers and print the findings."""
    if not root.is_dir():
        raise InputError("ROOT is not a directory", path=str(root))
    if os_name is not None and os_name not in ("macos", "windows", "linux"):
        raise InputError("--os must be one of macos, windows, linux", value=os_name)
    ids = SubjectIdentifiers(tuple(email or ()), tuple(name or ()), tuple(phone or ()), tuple(user_id or ()))
    if ids.is_empty():
        raise InputError("give at least one of --email, --name, --phone, --user-id")
    matcher = Matcher.from_identifiers(ids, default_region=region)
    started = time.monotonic()
    last_report = [started]

    def progress(files: int, size: int) -> None:
        now = time.monotonic()
        if now - last_report[0] >= 1.0:
            last_report[0] = now
            _err.print(f"scanned {files} files, {size / 1e6:.1f} MB", highlight=False)

    with LocalConnector(endpoint_name, root, os_override=os_name) as connector:
        result = scan_endpoint(
            connector, endpoint_name, matcher, owner_ids=tuple(owner or ()), classify=not no_classify,
            expand_owned=expand_owned, progress=progress,
        )  # fmt: skip
    elapsed = time.monotonic() - started
    _err.print(
        f"engine {ENGINE}: {result.files_scanned} files, {result.bytes_scanned / 1e6:.1f} MB in {elapsed:.2f}s; "
        f"{len(result.items)} items, {len(result.skipped)} skipped, {len(result.gaps)} coverage gaps",
        highlight=False,
    )
    for gap in result.gaps:
        _err.print(f"coverage gap: {gap.path} ({gap.reason})", highlight=False, markup=False)
    if as_json:
        document = {
            "items": list(result.items),
            "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
            "gaps": [gap.to_dict() for gap in result.gaps],
            "residual_databases": list(result.residual_databases),
            "encrypted_stores": list(result.encrypted_stores),
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    table = Table(Column("path", overflow="fold"), "line", "kind", "session", "categories", "forms")
    for item in result.items:
        location = item["location"]
        table.add_row(
            str(location["path"]),
            "" if location["line"] is None else str(location["line"]),
            str(item["kind"]),
            str(item["session_id"] or ""),
            ", ".join(item["categories"]),
            ", ".join(item["forms"]) or str(item["reason"]),
        )
    _out.print(table)
