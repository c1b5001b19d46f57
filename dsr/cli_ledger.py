"""`dsr ledger ...`: verify, export, sign the head of, anchor and publish the key of the proof ledger. Prints seqs
and hashes only.

Exit codes of `verify`: 0 intact, 1 broken (the first bad entry, checkpoint, head or certificate is named), 2
could not verify (file, key, database or bucket unusable).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dsr.context import err, out, print_json, state
from dsr.failures import one_line
from models.errors import DsrError
from models.files import atomic_write
from proofs.attestation import CertificateClaim, CertificateProblem
from proofs.lean_store import lean_ledger_store
from proofs.ledger import DEFAULT_KEY_FILENAME, Ledger, head_document, open_database_ledger, read_head_document
from proofs.signing import SIGNING_KEY_ENV, LedgerSigner, load_public_key, load_signing_key
from proofs.store import LedgerStore
from proofs.verify import HeadCheck, Problem, VerifyError, VerifyResult, read_certificate, verify_export
from services.evidence import anchors_for

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

app = typer.Typer(help="Check, export, sign the head of, anchor and publish the proof ledger.", no_args_is_help=True)

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
    """The database ledger (anchored in the evidence bucket when `[evidence]` is set); an explicit --signing-key
    wins over DSR_LEDGER_SIGNING_KEY. Read and written without SQLAlchemy where the database is current
    (`proofs.lean_store`), else through the ORM's store (which creates or migrates it first)."""
    url = database_url or state.settings.database.url
    return open_database_ledger(
        url,
        signing_key=_signing_key_path(signing_key),
        env_var=None if signing_key is not None else SIGNING_KEY_ENV,
        create_key=create_key,
        checkpoint_every=None,
        anchors=anchors_for(state.settings),
        store=lean_ledger_store(url),
    )


def _reading_store(url: str) -> LedgerStore:
    """The ledger of the case database at `url` to read: through the DB-API driver where it is current, else
    through the ORM (which creates or migrates it first)."""
    lean = lean_ledger_store(url)
    if lean is not None:
        return lean
    from models.db import session_scope  # noqa: PLC0415 - the ORM only where the lean read cannot answer
    from proofs.sql_store import SQLLedgerStore  # noqa: PLC0415

    return SQLLedgerStore(lambda: session_scope(url))


def _report(result: VerifyResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    if result.ok:
        out.print(
            f"ledger intact: {result.entries} entries, {result.checkpoints} checkpoints, sealed to seq "
            f"{result.sealed_to} (key {result.key_id}, {result.key_source})",
            markup=False,
            highlight=False,
        )
    elif result.first_error is not None:
        err.print(f"ledger BROKEN: {result.first_error.describe()}", markup=False, highlight=False)
    against = "; ".join(result.verified_against) or "nothing (no key)"
    (out if result.ok else err).print(f"verified against: {against}", markup=False, highlight=False)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)


def _broken(detail: str) -> VerifyResult:
    return VerifyResult(
        ok=False, entries=0, checkpoints=0, first_error=VerifyError(Problem.BAD_SIGNATURE, None, None, detail)
    )


@app.command()
def verify(
    export: Annotated[
        Path | None, typer.Option("--export", help="Verify this exported JSONL file alone (no database).")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="The published public key (PEM) to check signatures with.")
    ] = None,
    head: Annotated[
        list[Path] | None,
        typer.Option(
            "--head", help="A signed head filed earlier (`dsr ledger head`, beside a certificate); repeatable."
        ),
    ] = None,
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--certificate", help="A certificate JSON (its .sig beside it) whose ledger head must be in the chain."
        ),
    ] = None,
    anchors: Annotated[
        bool, typer.Option("--anchors", help="Compare the database with the checkpoints anchored in [evidence].")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    database_url: DatabaseOpt = None,
    signing_key: SigningKeyOpt = None,
) -> None:
    """Check the chain, sequence, chained checkpoints and signed heads; exit 0 only if intact, else name the first
    problem (modified, missing, reordered, truncated, rewritten, not_in_chain, bad_signature)."""
    try:
        pem = public_key.read_bytes() if public_key is not None else None
        checks: list[HeadCheck] = []
        key_label = "the given public key"
        for path in head or []:
            signed, embedded = read_head_document(path.read_bytes(), source=path.name)
            checks.append(HeadCheck(signed, f"the filed head {path.name}"))
            if pem is None and embedded is not None:
                pem = embedded  # the filed copy's key is the trusted one, not the key beside the database
                key_label = f"the public key in {path.name}"
        if export is not None:
            if anchors:
                err.print("error: --anchors compares the database, not an export", markup=False, highlight=False)
                raise typer.Exit(EXIT_UNUSABLE)
            result = verify_export(export, pem, certificate=certificate, heads=tuple(checks))
        else:
            key: Ed25519PublicKey | None
            if pem is not None:
                url = database_url or state.settings.database.url
                ledger = Ledger(
                    _reading_store(url),
                    checkpoint_every=None,
                    anchors=anchors_for(state.settings),
                )
                key = load_public_key(pem)
            else:
                ledger = _database_ledger(database_url, signing_key, create_key=False)
                key = ledger.signer.public_key if ledger.signer else None
            claim: CertificateClaim | None = None
            if certificate is not None and key is not None:
                claim = read_certificate(certificate, key)
            result = ledger.verify(pem, heads=tuple(checks), anchors=anchors, certificate=claim, key_label=key_label)
    except CertificateProblem as exc:
        result = _broken(str(exc))
    except OSError as exc:
        err.print(one_line(f"error: cannot read {exc.filename}: {exc.strerror}"), markup=False, highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None
    except DsrError as exc:
        err.print(one_line(f"error: {exc}"), markup=False, highlight=False)
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
    """Export the database ledger as JSONL with a signed head (sealing unsealed entries first); verify it with
    `verify --export`."""
    try:
        ledger = _database_ledger(database_url, signing_key, create_key=not no_seal)
        summary = ledger.export_jsonl(file, seal=not no_seal)
    except DsrError as exc:
        err.print(one_line(f"error: {exc}"), markup=False, highlight=False)
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
            f"(sealed to seq {summary.sealed_to}, head signed)",
            markup=False,
            highlight=False,
        )


@app.command("head")
def head_cmd(
    file: Annotated[Path, typer.Argument(help="Where to write the signed head (JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the signed head on stdout as JSON.")] = False,
    database_url: DatabaseOpt = None,
    signing_key: SigningKeyOpt = None,
) -> None:
    """Seal the ledger and write its signed head (entry count, last seq and hash, last checkpoint, public key) for
    the privacy team to file outside the database; `verify --head FILE` later names any cut or rewrite."""
    try:
        ledger = _database_ledger(database_url, signing_key, create_key=False)
        signed = ledger.signed_head()
        signer = ledger.signer
        if signer is None:  # _database_ledger always opens the ledger with its key
            raise typer.Exit(EXIT_UNUSABLE)
        document = head_document(signed, signer)
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(file, document, mode=0o644)
    except DsrError as exc:
        err.print(one_line(f"error: {exc}"), markup=False, highlight=False)
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(one_line(f"error: cannot write {file}: {exc.strerror}"), markup=False, highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        print_json(signed.to_dict())
        return
    out.print(
        f"ledger head: {signed.entries} entries, last seq {signed.last_seq} hash {signed.last_hash}, checkpoint up "
        f"to seq {signed.checkpoint_seq}, signed with key {signed.key_id}; written to {file}",
        markup=False,
        highlight=False,
    )


@app.command("anchor")
def anchor_cmd(
    database_url: DatabaseOpt = None,
    signing_key: SigningKeyOpt = None,
) -> None:
    """Write the public key and every checkpoint not anchored yet to the evidence bucket (Object Lock)."""
    try:
        ledger = _database_ledger(database_url, signing_key, create_key=False)
        if ledger.anchors is None:
            err.print(
                "error: no anchor store: set [evidence] bucket in the configuration (or file heads with "
                "`dsr ledger head FILE`)",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(1)
        written = ledger.publish_anchors()
    except DsrError as exc:
        err.print(one_line(f"error: {exc}"), markup=False, highlight=False)
        raise typer.Exit(1) from None
    out.print(f"anchored {written} checkpoints in {ledger.anchors.description}", markup=False, highlight=False)


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
        err.print(one_line(f"error: {message}"), markup=False, highlight=False)
        raise typer.Exit(1) from None
    out.print(f"public key {signer.key_id} written to {file}", markup=False, highlight=False)
