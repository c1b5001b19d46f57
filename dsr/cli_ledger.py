"""`dsr ledger ...`: verify, export and publish the key of the proof ledger. Prints seqs and hashes only.

Exit codes of `verify`: 0 intact, 1 broken (the first bad entry is named), 2 could not verify (file, key or
database unusable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dsr.context import err, out, print_json, state
from models.db import session_scope
from models.errors import DsrError
from proofs.ledger import DEFAULT_KEY_FILENAME, Ledger, open_database_ledger
from proofs.signing import SIGNING_KEY_ENV, LedgerSigner, load_signing_key
from proofs.sql_store import SQLLedgerStore
from proofs.verify import VerifyResult, verify_export

app = typer.Typer(help="Check, export and publish the proof ledger.", no_args_is_help=True)

EXIT_BROKEN = 1
EXIT_UNUSABLE = 2

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="Case database URL (default: [database].url / DSR_DATABASE_URL)."),
]
SigningKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--signing-key",
        help=(
            "Ed25519 signing key PEM (default: DSR_LEDGER_SIGNING_KEY, [erasure].signing_key, "
            f".dsr/{DEFAULT_KEY_FILENAME})."
        ),
    ),
]


def _signing_key_path(explicit: Path | None) -> Path:
    """--signing-key, else `[erasure].signing_key` (relative to the config file), else `.dsr/ledger-signing.pem`."""
    if explicit is not None:
        return explicit
    return state.settings.erasure.signing_key or state.state_dir() / DEFAULT_KEY_FILENAME


def _database_ledger(database_url: str | None, signing_key: Path | None, *, create_key: bool) -> Ledger:
    """The database ledger; an explicit --signing-key wins over DSR_LEDGER_SIGNING_KEY."""
    return open_database_ledger(
        database_url or state.settings.database.url,
        signing_key=_signing_key_path(signing_key),
        env_var=None if signing_key is not None else SIGNING_KEY_ENV,
        create_key=create_key,
        checkpoint_every=None,
    )


def _report(result: VerifyResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_json())
    elif result.ok:
        out.print(
            f"ledger intact: {result.entries} entries, {result.checkpoints} checkpoints, sealed to seq "
            f"{result.sealed_to} (key {result.key_id}, {result.key_source})",
            markup=False,
            highlight=False,
        )
    elif result.first_error is not None:
        err.print(f"ledger BROKEN: {result.first_error.describe()}", markup=False, highlight=False)
    if not as_json:
        for warning in result.warnings:
            err.print(f"warning: {warning}", markup=False, highlight=False)


@app.command()
def verify(
    export: Annotated[
        Path | None, typer.Option("--export", help="Verify this exported JSONL file alone (no database).")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="The published public key (PEM) to check signatures with.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    database_url: DatabaseOpt = None,
    signing_key: SigningKeyOpt = None,
) -> None:
    """Check the chain, sequence and signed checkpoints; exit 0 only if intact, else name the first bad entry."""
    try:
        pem = public_key.read_bytes() if public_key is not None else None
        if export is not None:
            result = verify_export(export, pem)
        elif pem is not None:
            url = database_url or state.settings.database.url
            result = Ledger(SQLLedgerStore(lambda: session_scope(url)), checkpoint_every=None).verify(pem)
        else:
            result = _database_ledger(database_url, signing_key, create_key=False).verify()
    except OSError as exc:
        err.print(f"error: cannot read {exc.filename}: {exc.strerror}", markup=False, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None
    except DsrError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None
    _report(result, as_json)
    if not result.ok:
        raise typer.Exit(EXIT_BROKEN)


@app.command()
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the JSONL export.")],
    no_seal: Annotated[bool, typer.Option("--no-seal", help="Do not sign a checkpoint over unsealed entries.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    database_url: DatabaseOpt = None,
    signing_key: SigningKeyOpt = None,
) -> None:
    """Export the database ledger as JSONL (sealing unsealed entries first); verify it with `verify --export`."""
    try:
        ledger = _database_ledger(database_url, signing_key, create_key=not no_seal)
        summary = ledger.export_jsonl(file, seal=not no_seal)
    except DsrError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        print_json(
            {
                "path": str(summary.path),
                "entries": summary.entries,
                "checkpoints": summary.checkpoints,
                "head_hash": summary.head_hash,
                "sealed_to": summary.sealed_to,
            }
        )
    else:
        out.print(
            f"exported {summary.entries} entries and {summary.checkpoints} checkpoints to {summary.path} "
            f"(sealed to seq {summary.sealed_to})",
            markup=False,
            highlight=False,
        )


@app.command("public-key")
def public_key_cmd(
    file: Annotated[Path, typer.Argument(help="Where to write the public key (PEM).")],
    signing_key: SigningKeyOpt = None,
) -> None:
    """Write the ledger's public key (PEM) for third parties; creates the signing key on first use."""
    try:
        env_var = None if signing_key is not None else SIGNING_KEY_ENV
        signer = LedgerSigner(load_signing_key(_signing_key_path(signing_key), env_var=env_var, create=True))
        signer.export_public_key(file)
    except (DsrError, OSError) as exc:
        message = str(exc) if isinstance(exc, DsrError) else f"cannot write {file}: {exc.strerror}"
        err.print(f"error: {message}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    out.print(f"public key {signer.key_id} written to {file}", markup=False, highlight=False)
