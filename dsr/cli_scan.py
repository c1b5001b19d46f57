"""`dsr scan`: scan one directory tree as one laptop for one subject, without Prefect and without a database.

Owns only argument parsing and output (JSON document or Rich table on stdout, progress on stderr); the work
is `detection.scan.scan_endpoint`. Never prints identifiers or content outside the findings themselves.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import phonenumbers
import typer
from rich.table import Column, Table

from connectors.local import LocalConnector
from detection.identifiers import SubjectIdentifiers
from detection.matcher import ENGINE, Matcher
from detection.scan import ScanResult, scan_endpoint
from dsr.context import err, out
from dsr.intake import IdentifiersFileOpt, IdentifiersStdinOpt, gather, warn_about
from erasure.proof_path import proof_path
from models.errors import InputError
from models.identifiers import MAX_SHORT_TEXT, check_text, validate_all
from models.settings import NAME_RE as _NAME_RE
from models.types import IdentifierKind

_err, _out = err, out


def scan(
    root: Annotated[Path, typer.Argument(help="Directory that stands for the laptop's `/`.")],
    endpoint_name: Annotated[str, typer.Option("--endpoint-name", help="Endpoint name used in locations.")],
    identifiers_file: IdentifiersFileOpt = None,
    identifiers: IdentifiersStdinOpt = None,
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
    """Scan ROOT as one laptop for the subject's identifiers and print the findings.

    Give identifiers in a private file (--identifiers-file) or on standard input (--identifiers -): arguments
    such as --email can be read by other local users while the command runs.
    """
    owners = _checked_options(root, endpoint_name, region, owner, os_name)
    given = gather(
        identifiers_file=identifiers_file, identifiers=identifiers, emails=email, names=name, phones=phone,
        user_ids=user_id,
    )  # fmt: skip
    validated = validate_all(
        emails=given.emails, names=given.names, phones=given.phones, user_ids=given.user_ids, region=region
    )
    by_kind = {kind: tuple(i.value for i in validated if i.kind is kind) for kind in IdentifierKind}
    ids = SubjectIdentifiers(
        by_kind[IdentifierKind.EMAIL], by_kind[IdentifierKind.NAME], by_kind[IdentifierKind.PHONE],
        by_kind[IdentifierKind.USER_ID],
    )  # fmt: skip
    matcher = Matcher.from_identifiers(ids, default_region=region)
    started = time.monotonic()
    with LocalConnector(endpoint_name, root, os_override=os_name) as connector:
        result = scan_endpoint(
            connector, endpoint_name, matcher, owner_ids=tuple(owners), classify=not no_classify,
            expand_owned=expand_owned, progress=_progress_printer(started),
        )  # fmt: skip
    elapsed = time.monotonic() - started
    _err.print(
        f"engine {ENGINE}: {result.files_scanned} files, {result.bytes_scanned / 1e6:.1f} MB in {elapsed:.2f}s; "
        f"{len(result.items)} items, {len(result.skipped)} skipped, {len(result.gaps)} coverage gaps",
        highlight=False,
    )
    for gap in result.gaps:
        _err.print(f"coverage gap: {gap.path} ({gap.reason})", highlight=False, markup=False)
    warn_about(given, validated)
    _print_result(result, as_json=as_json)


def _checked_options(
    root: Path, endpoint_name: str, region: str, owner: list[str] | None, os_name: str | None
) -> list[str]:
    """Refuse bad options, naming the option and what it takes; returns the checked owner identifiers."""
    if not _NAME_RE.match(endpoint_name):
        raise InputError("--endpoint-name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if region.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InputError("--region: a two-letter region code known for phone numbers, such as GB, DE or FR")
    owners = [check_text("--owner", value, limit=MAX_SHORT_TEXT) for value in owner or []]
    if not root.is_dir():
        raise InputError("ROOT is not a directory", path=str(root))
    if os_name is not None and os_name not in ("macos", "windows", "linux"):
        raise InputError("--os must be one of macos, windows, linux", value=os_name)
    return owners


def _progress_printer(started: float) -> Callable[[int, int], None]:
    """A progress callback that prints files and megabytes scanned on stderr, at most once a second."""
    last_report = [started]

    def progress(files: int, size: int) -> None:
        now = time.monotonic()
        if now - last_report[0] >= 1.0:
            last_report[0] = now
            _err.print(f"scanned {files} files, {size / 1e6:.1f} MB", highlight=False)

    return progress


def _print_result(result: ScanResult, *, as_json: bool) -> None:
    """The findings on stdout: one JSON document, or a table."""
    # Names that are not UTF-8 are printed in their escaped form (`\xNN`), as the ledger records them.
    items = [
        {**item.to_dict(), "location": {**item.location.to_dict(), "path": proof_path(item.path)},
         "session_id": proof_path(item.session_id)}
        for item in result.items
    ]  # fmt: skip
    if as_json:
        document = {
            "items": items,
            "skipped": [{"path": proof_path(s.path), "reason": s.reason} for s in result.skipped],
            "gaps": [gap.to_dict() for gap in result.gaps],
            "residual_databases": list(result.residual_databases),
            "encrypted_stores": list(result.encrypted_stores),
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    table = Table(Column("path", overflow="fold"), "line", "kind", "session", "categories", "forms")
    for item in items:
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
