"""The proof ledger: append proof entries, seal them with signed checkpoints, export and verify them.

Records what was done (ids, locations, hashes, counts, grounds, verification), never the erased content
(Art. 5(2); docs/legal-rules.md). Storage is a `LedgerStore`; signing is a `LedgerSigner`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.errors import ConfigError, DsrError, InputError, LedgerError
from models.files import atomic_writer
from proofs.anchors import AnchorStore, compare, publish
from proofs.attestation import CertificateClaim
from proofs.entry import (
    CHAINED_FORMAT,
    GENESIS_HASH,
    Checkpoint,
    LedgerAction,
    LedgerEntry,
    ProofRecord,
    SignedHead,
    format_at,
)
from proofs.signing import (
    SIGNING_KEY_ENV,
    LedgerSigner,
    key_id_of,
    load_public_key,
    load_signing_key,
    signing_key_from_text,
)
from proofs.store import LedgerStore
from proofs.verify import HeadCheck, VerifyResult, verify_documents

if TYPE_CHECKING:
    from sqlmodel import Session

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "DEFAULT_KEY_FILENAME",
    "ExportSummary",
    "Ledger",
    "LedgerAction",
    "ProofRecord",
    "open_database_ledger",
]

_log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_EVERY = 100
"""Entries between automatic checkpoints."""

DEFAULT_KEY_FILENAME = "ledger-signing.pem"
"""The signing key's file name under the state directory (`.dsr/`)."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    entries: int
    checkpoints: int
    head_hash: str | None
    sealed_to: int


@dataclass(frozen=True)
class Coverage:
    """The ledger range of one request's entries and the checkpoint that seals the last of them."""

    seq_first: int
    seq_last: int
    checkpoint: Checkpoint | None


def _line(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


class Ledger:
    """Append-only, hash-chained proof entries with periodic Ed25519-signed checkpoints.

    Every `checkpoint_every` entries (and on `seal()`), the entries since the last checkpoint are sealed.
    Appends with an `idempotency_key` are exactly-once: a rerun after a crash gets the stored entry back.
    """

    def __init__(
        self,
        store: LedgerStore,
        *,
        signer: LedgerSigner | None = None,
        checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        anchors: AnchorStore | None = None,
    ) -> None:
        """A ledger over `store`.

        Args:
            store: where entries and checkpoints live.
            signer: signs checkpoints; without it the ledger can append and verify but not seal.
            checkpoint_every: seal automatically after this many unsealed entries (None: only on `seal()`).
            clock: the aware UTC clock (tests pass a fixed one).
            anchors: where the public key and every new checkpoint are also written (append-only, outside
                the database), or None.
        """
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ConfigError("checkpoint_every must be a positive number of entries", key="ledger.checkpoint_every")
        self.store = store
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self._clock = clock
        self.anchors = anchors

    def append(self, record: ProofRecord, *, idempotency_key: str | None = None) -> LedgerEntry:
        """Append `record` as the next entry (or return the entry already stored under `idempotency_key`).

        Seals automatically when `checkpoint_every` entries are unsealed and a signer is set.

        Args:
            record: what was done; validated on construction, never content.
            idempotency_key: a stable key of the action (e.g. `"<request>:<action>:<location>:<path>:<sha256>"`).

        Raises:
            LedgerError: the store cannot be written.
        """
        result = self.store.append(record, at=self._clock(), idempotency_key=idempotency_key)
        if result.created and self.signer is not None and self.checkpoint_every is not None:
            last = self.store.last_checkpoint()
            if result.entry.seq - (last.seq_to if last else 0) >= self.checkpoint_every:
                self.seal()
        return result.entry

    def seal(self) -> Checkpoint | None:
        """Sign a checkpoint over the entries since the last one; None when there are none.

        Raises:
            LedgerError: no signer is configured, or the store cannot be written.
        """
        signer = self.signer
        if signer is None:
            raise LedgerError("cannot seal the ledger: no signing key configured", key="ledger.signing_key")
        at = self._clock()
        checkpoint = self.store.add_checkpoint(
            lambda seq_from, seq_to, head_hash, prev: signer.sign_checkpoint(
                seq_from=seq_from, seq_to=seq_to, head_hash=head_hash, at=at, prev_checkpoint=prev
            )
        )
        if checkpoint is not None and self.anchors is not None:
            try:
                self.publish_anchors()
            except DsrError as exc:  # the checkpoint is stored; `dsr ledger anchor` or the next seal retries
                _log.warning(
                    "could not anchor ledger checkpoint up to seq %d (%s)", checkpoint.seq_to, type(exc).__name__
                )
        return checkpoint

    def publish_anchors(self) -> int:
        """Write the public key and every checkpoint not anchored yet to the anchors; returns how many.

        Raises:
            LedgerError: no anchors or no signer are configured.
            DsrError: the anchor store refused (e.g. a `ConnectorError`).
        """
        if self.anchors is None:
            raise LedgerError("no anchor store: configure [evidence] to anchor the ledger", key="evidence.bucket")
        if self.signer is None:
            raise LedgerError("cannot anchor the ledger: no signing key configured", key="ledger.signing_key")
        return publish(self.anchors, self.checkpoints(), self.signer.public_key_pem())

    def signed_head(self, *, seal: bool = True) -> SignedHead:
        """The ledger's head signed now (sealing unsealed entries first when `seal`).

        Raises:
            LedgerError: no signer is configured, or the store cannot be read or written.
        """
        signer = self.signer
        if signer is None:
            raise LedgerError("cannot sign the ledger head: no signing key configured", key="ledger.signing_key")
        if seal:
            self.seal()
        checkpoint = self.store.last_checkpoint()
        head = self.store.head()
        return signer.sign_head(
            last_seq=head.seq,
            last_hash=head.entry_hash,
            checkpoint_seq=checkpoint.seq_to if checkpoint else 0,
            checkpoint_digest=checkpoint.digest() if checkpoint else GENESIS_HASH,
            at=self._clock(),
        )

    def entries(self) -> Iterator[LedgerEntry]:
        """Every entry in seq order."""
        for document in self.store.iter_entry_documents():
            yield LedgerEntry.from_dict(document)

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint in seq order."""
        return [Checkpoint.from_dict(d) for d in self.store.iter_checkpoint_documents()]

    def coverage(self, request_id: str) -> Coverage | None:
        """The seq range of `request_id`'s entries and the first checkpoint sealing all of them (certificates)."""
        seqs = [e.seq for e in self.entries() if e.record.request_id == request_id]
        if not seqs:
            return None
        sealing = next((c for c in self.checkpoints() if c.seq_to >= seqs[-1]), None)
        return Coverage(seq_first=seqs[0], seq_last=seqs[-1], checkpoint=sealing)

    def export_public_key(self, path: Path) -> Path:
        """Write the signer's public key (PEM) to `path`.

        Raises:
            LedgerError: no signer is configured.
        """
        if self.signer is None:
            raise LedgerError("no signing key configured: no public key to export", key="ledger.signing_key")
        return self.signer.export_public_key(path)

    def _iter_stream(
        self, head_seq: int | None = None, checkpoints: list[dict[str, Any]] | None = None
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Entries and checkpoints in export order, numbered from line 2 (line 1 is the header).

        Every stored checkpoint is part of the stream: one sealing seqs past the last entry comes last, so
        verification names the cut. Checkpoints are read before the head: a checkpoint sealed meanwhile ends
        at or before the head read after it, so only a real cut leaves one past the head. A caller that read
        the head itself passes `head_seq` and the checkpoints it read before it.
        """
        if checkpoints is None:
            checkpoints = list(self.store.iter_checkpoint_documents())
        head = self.store.head().seq if head_seq is None else head_seq
        by_end: dict[int, list[dict[str, Any]]] = {}
        for checkpoint in checkpoints:
            by_end.setdefault(checkpoint["seq_to"], []).append(checkpoint)
        line = 1
        for document in self.store.iter_entry_documents(upto=head):
            line += 1
            yield line, {"type": "entry", **document}
            for checkpoint in by_end.pop(document["seq"], []):
                line += 1
                yield line, {"type": "checkpoint", **checkpoint}
        for rest in by_end.values():  # checkpoints whose entry is absent: let verification say so
            for checkpoint in rest:
                line += 1
                yield line, {"type": "checkpoint", **checkpoint}

    def export_jsonl(self, path: Path, *, seal: bool = True) -> ExportSummary:
        """Write the ledger as JSONL: a header, then entries with each checkpoint after the entry it seals.

        The header carries the format, the entry count, the public key and the signed head (entry count, last
        seq and hash, last checkpoint), so the file verifies on its own (`verify_export`) and a cut tail is named
        even with the header's counts edited; trust in the key still comes from the published copy. Written to
        a temporary file, fsynced and renamed into place.

        Args:
            path: the destination file.
            seal: when a signer is set, seal unsealed entries first so every exported entry is covered
                (without a signer the tail stays unsealed and `verify_export` warns `unsealed_tail`).

        Raises:
            LedgerError: no signer is configured (every export carries a signed head), or the file cannot be
                written.
        """
        if seal and self.signer is not None:
            self.seal()
        before = list(self.store.iter_checkpoint_documents())
        signed = self.signed_head(seal=False)
        # Checkpoints sealed after the head was read (a run appending meanwhile) are not part of this export;
        # one past the head that was already stored before it is a cut, and stays in for verification to name.
        known = {c["seq_to"] for c in before}
        fresh = [c for c in self.store.iter_checkpoint_documents() if c["seq_to"] not in known]
        stream = before + [c for c in fresh if c["seq_to"] <= signed.last_seq]
        body = list(self._iter_stream(signed.last_seq, sorted(stream, key=lambda c: c["seq_to"])))
        entries = sum(1 for _, d in body if d["type"] == "entry")
        checkpoints = [d for _, d in body if d["type"] == "checkpoint"]
        header: dict[str, Any] = {
            "type": "header",
            "format": CHAINED_FORMAT,
            "exported_at": format_at(self._clock()),
            "entries": entries,
            "checkpoints": len(checkpoints),
            "head_seq": signed.last_seq,
            "head_hash": signed.last_hash if signed.last_seq else None,
            "head": signed.to_dict(),
            "public_key": self.signer.public_key_pem().decode("ascii") if self.signer else None,
            "key_id": self.signer.key_id if self.signer else None,
            "hash": "sha256 over canonical JSON (sorted keys, compact, ASCII) of an entry without entry_hash/type",
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Private like every export: entries carry laptop paths, which can name the person.
            with atomic_writer(path, mode=0o600) as fh:
                fh.write(_line(header))
                for _, document in body:
                    fh.write(_line(document))
        except OSError as exc:
            raise LedgerError(f"cannot write ledger export {path}: {exc.strerror}", path=str(path)) from exc
        return ExportSummary(
            path=path,
            entries=entries,
            checkpoints=len(checkpoints),
            head_hash=signed.last_hash if signed.last_seq else None,
            sealed_to=max((c["seq_to"] for c in checkpoints), default=0),
        )

    def verify(
        self,
        public_key_pem: bytes | None = None,
        *,
        heads: tuple[HeadCheck, ...] = (),
        anchors: bool = False,
        certificate: CertificateClaim | None = None,
        key_label: str = "the given public key",
    ) -> VerifyResult:
        """Verify the stored ledger: chain, sequence, chained checkpoint signatures, and every stored checkpoint
        (one past the last entry means the ledger was cut); then signed heads filed earlier and the anchors.

        Args:
            public_key_pem: the published public key; None uses the signer's own public key.
            heads: signed heads taken earlier (`dsr ledger head`, beside a certificate) the ledger must contain.
            anchors: also compare the checkpoints with their anchored copies (`anchors` must be set).
            certificate: a certificate (signature checked) whose ledger head must be in the chain.
            key_label: where `public_key_pem` came from, for `verified_against`.

        Raises:
            ConfigError: `public_key_pem` is not an Ed25519 public key.
            LedgerError: `anchors` is asked for but no anchor store is configured.
            DsrError: the anchor store cannot be read.
        """
        if public_key_pem is not None:
            key, source = load_public_key(public_key_pem), "given"
        elif self.signer is not None:
            key, source = self.signer.public_key, "local"
        else:
            key, source = None, "none"
        if anchors and self.anchors is None:
            raise LedgerError("no anchor store: configure [evidence] to compare with anchors", key="evidence.bucket")
        result = verify_documents(self._iter_stream(), key, key_source=source, heads=heads, certificate=certificate)
        if result.first_error is not None:  # positions in a database stream are not lines of any file
            result = replace(result, first_error=replace(result.first_error, line=None))
        against: list[str] = []
        if key is not None:
            against.append(
                f"the signing key beside the database (key {key_id_of(key)})"
                if source == "local"
                else f"{key_label} {key_id_of(key)}"
            )
        against += [check.source for check in heads]
        if certificate is not None:
            against.append(f"certificate {certificate.source} (signature and ledger head)")
        warnings = list(result.warnings)
        if anchors and self.anchors is not None:
            against.append(f"the anchors in {self.anchors.description}")
            if result.ok:
                report = compare(self.anchors, self.checkpoints(), result.head_seq)
                warnings += report.warnings
                if report.error is not None:
                    result = replace(result, ok=False, first_error=report.error)
        if not heads and not anchors and certificate is None:
            warnings.append(
                "trust: checked against the database and its key only; a cut together with its checkpoints, or a "
                "rewrite re-signed with that key, passes this check: compare with the anchors (--anchors) or a "
                "filed head (--head FILE)"
            )
        return replace(result, warnings=tuple(warnings), verified_against=tuple(against))


HEAD_FILE_TYPE = "dsr-ledger-head"
"""`type` of a filed head document (`dsr ledger head FILE`, `<request>-ledger-head.json` beside a certificate)."""


def head_document(head: SignedHead, signer: LedgerSigner) -> bytes:
    """A filed head: the signed head and the public key that signed it, as JSON bytes."""
    document = {"type": HEAD_FILE_TYPE, **head.to_dict(), "public_key": signer.public_key_pem().decode("ascii")}
    return json.dumps(document, indent=2, sort_keys=True).encode("ascii") + b"\n"


def read_head_document(data: bytes, *, source: str) -> tuple[SignedHead, bytes | None]:
    """The signed head and embedded public key (PEM) of a filed head document.

    Raises:
        InputError: the bytes are not a filed head.
    """
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("type") != HEAD_FILE_TYPE:
        raise InputError(f"{source} is not a ledger head file (dsr ledger head)", field="head")
    pem = document.pop("public_key", None)
    document.pop("type")
    return SignedHead.from_dict(document), pem.encode("ascii") if isinstance(pem, str) else None


def open_database_ledger(
    database_url: str,
    *,
    signing_key: Path | None,
    key_text: str | None = None,
    env_var: str | None = SIGNING_KEY_ENV,
    create_key: bool = True,
    checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY,
    anchors: AnchorStore | None = None,
    store: LedgerStore | None = None,
) -> Ledger:
    """The case database's ledger with its signer (over `store` if given, e.g. a read-only
    `proofs.lean_store.LeanLedgerStore` of the same database; else the ORM's `SQLLedgerStore`).

    The key is taken from `key_text` (e.g. a Prefect Secret block's value), else `env_var`
    (`DSR_LEDGER_SIGNING_KEY`; None to ignore it), else the PEM file `signing_key` (created 0600 on first use
    when `create_key`).

    Raises:
        ConfigError: no usable key (a file readable by group or others, bad material, or absent without
            `create_key`).
    """
    if key_text is not None:
        key = signing_key_from_text(key_text, source="the secret handed to the ledger")
    else:
        key = load_signing_key(signing_key, env_var=env_var, create=create_key)

    if store is None:
        from models.db import session_scope  # noqa: PLC0415 - the ORM only where it is used
        from proofs.sql_store import SQLLedgerStore  # noqa: PLC0415

        def sessions() -> AbstractContextManager[Session]:
            return session_scope(database_url)

        store = SQLLedgerStore(sessions)
    return Ledger(store, signer=LedgerSigner(key), checkpoint_every=checkpoint_every, anchors=anchors)
