"""Checks a ledger stream (an export file or the database's entries): hash chain, sequence, signed checkpoints.

Names the first bad entry (seq and line) and what is wrong. Works on the exported file alone. No writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.errors import ConfigError, InputError, LedgerError
from proofs.entry import FORMAT, GENESIS_HASH, Checkpoint, LedgerEntry, hash_entry_fields
from proofs.signing import is_signature_valid, key_id_of, load_public_key


class Problem(StrEnum):
    """What is wrong with the first bad entry or checkpoint."""

    MODIFIED = "modified"
    MISSING = "missing"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class VerifyError:
    """The first problem found.

    Attributes:
        problem: what is wrong.
        seq: the entry it concerns (for a checkpoint: its `seq_to`; for `missing`: the first absent seq).
        line: the 1-based line of the export (or position in the database stream) where it was found.
        detail: one sentence with seqs, lines and hashes only.
        checkpoint: whether the bad object is a checkpoint rather than an entry.
    """

    problem: Problem
    seq: int | None
    line: int | None
    detail: str
    checkpoint: bool = False

    def describe(self) -> str:
        """A one-line description, e.g. `entry seq 5 (line 6): modified: ...`."""
        what = "checkpoint up to seq" if self.checkpoint else "entry seq"
        where = f" (line {self.line})" if self.line is not None else ""
        subject = f"{what} {self.seq}{where}" if self.seq is not None else f"line {self.line}"
        return f"{subject}: {self.problem.value}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        """The error as a JSON object."""
        return {
            "problem": self.problem.value,
            "seq": self.seq,
            "line": self.line,
            "checkpoint": self.checkpoint,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of a verification.

    Attributes:
        ok: whether chain, sequence and every checkpoint signature are intact.
        entries: entries read.
        checkpoints: checkpoints read.
        first_error: the first problem, if any.
        sealed_to: the last seq covered by a valid checkpoint (0 if none).
        key_id: fingerprint of the public key the signatures were checked with.
        key_source: `given`, `embedded` (the export's own header: proves integrity, not origin) or `none`.
        warnings: `unsealed_tail` and trust notes; they do not make `ok` false.
    """

    ok: bool
    entries: int
    checkpoints: int
    first_error: VerifyError | None
    sealed_to: int = 0
    key_id: str | None = None
    key_source: str = "none"
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object (the CLI's `--json` output)."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "sealed_to": self.sealed_to,
            "key_id": self.key_id,
            "key_source": self.key_source,
            "first_error": self.first_error.to_json() if self.first_error else None,
            "warnings": list(self.warnings),
        }


class _Broken(Exception):
    """Internal control flow carrying the first `VerifyError`; never escapes this module."""

    def __init__(self, error: VerifyError) -> None:
        super().__init__(error.detail)
        self.error = error


@dataclass
class _Walk:
    """Mutable state of one pass over the stream."""

    public_key: Ed25519PublicKey | None
    seq_lines: dict[int, list[int]]
    expected: int = 1
    prev_hash: str = GENESIS_HASH
    prev_line: int | None = None
    hashes: dict[int, tuple[str, int]] = field(default_factory=dict)
    sealed_to: int = 0
    entries: int = 0
    checkpoints: int = 0

    def entry(self, line: int, document: Mapping[str, Any]) -> None:
        self.entries += 1
        stated = document.get("seq")
        seq = stated if isinstance(stated, int) and not isinstance(stated, bool) else None
        if hash_entry_fields(document) != document.get("entry_hash"):
            # Everything before passed, so this line stands at position `expected` (its seq may be the edit).
            detail = "the entry hash does not match its fields"
            if seq != self.expected:
                detail += f" (it claims seq {str(stated)[:20]})"
            raise _Broken(VerifyError(Problem.MODIFIED, self.expected, line, detail))
        if seq is None:
            raise _Broken(VerifyError(Problem.MALFORMED, self.expected, line, "the entry has no integer seq"))
        if seq != self.expected:
            later = [n for n in self.seq_lines.get(self.expected, []) if n > line]
            if seq < self.expected:
                detail = f"seq {seq} comes after seq {self.expected - 1}"
                raise _Broken(VerifyError(Problem.REORDERED, seq, line, detail))
            if later:
                detail = (
                    f"seq {seq} stands where seq {self.expected} belongs; seq {self.expected} is at line {later[0]}"
                )
                raise _Broken(VerifyError(Problem.REORDERED, seq, line, detail))
            detail = f"seq {self.expected} is absent: seq {seq} follows seq {self.expected - 1}"
            raise _Broken(VerifyError(Problem.MISSING, self.expected, line, detail))
        if document.get("prev_hash") != self.prev_hash:
            if seq == 1:
                raise _Broken(VerifyError(Problem.MODIFIED, 1, line, "the first entry does not start the chain"))
            detail = (
                f"entry {seq} links to hash {str(document.get('prev_hash'))[:16]}..., not to entry {seq - 1}'s "
                f"{self.prev_hash[:16]}...: entry {seq - 1} was changed and re-hashed"
            )
            raise _Broken(VerifyError(Problem.MODIFIED, seq - 1, self.prev_line, detail))
        try:
            LedgerEntry.from_dict(document)
        except InputError as exc:
            raise _Broken(VerifyError(Problem.MALFORMED, seq, line, str(exc))) from None
        self.hashes[seq] = (str(document["entry_hash"]), line)
        self.prev_hash = str(document["entry_hash"])
        self.prev_line = line
        self.expected += 1

    def checkpoint(self, line: int, document: Mapping[str, Any]) -> None:
        self.checkpoints += 1
        try:
            checkpoint = Checkpoint.from_dict(document)
        except InputError as exc:
            seq_to = document.get("seq_to")
            seq = seq_to if isinstance(seq_to, int) else None
            raise _Broken(VerifyError(Problem.BAD_SIGNATURE, seq, line, str(exc), checkpoint=True)) from None
        seq = checkpoint.seq_to
        if self.public_key is None:
            raise _Broken(VerifyError(Problem.BAD_SIGNATURE, seq, line, "no public key to check it", checkpoint=True))
        key_id = key_id_of(self.public_key)
        if checkpoint.key_id != key_id:
            detail = f"signed by key {checkpoint.key_id}, checked with key {key_id}"
            raise _Broken(VerifyError(Problem.BAD_SIGNATURE, seq, line, detail, checkpoint=True))
        if not is_signature_valid(checkpoint, self.public_key):
            detail = "the Ed25519 signature does not match the checkpoint's fields"
            raise _Broken(VerifyError(Problem.BAD_SIGNATURE, seq, line, detail, checkpoint=True))
        if checkpoint.seq_from != self.sealed_to + 1:
            problem = Problem.MISSING if checkpoint.seq_from > self.sealed_to + 1 else Problem.REORDERED
            detail = f"checkpoint starts at seq {checkpoint.seq_from}; the previous one ended at seq {self.sealed_to}"
            raise _Broken(VerifyError(problem, self.sealed_to + 1, line, detail, checkpoint=True))
        if seq not in self.hashes:
            later = [n for n in self.seq_lines.get(seq, []) if n > line]
            if later:
                detail = f"the checkpoint at line {line} seals seq {seq}, which comes later at line {later[0]}"
                raise _Broken(VerifyError(Problem.REORDERED, seq, later[0], detail))
            detail = f"seq {self.expected} is absent: the checkpoint at line {line} seals up to seq {seq}"
            raise _Broken(VerifyError(Problem.MISSING, self.expected, line, detail))
        entry_hash, entry_line = self.hashes[seq]
        if entry_hash != checkpoint.head_hash:
            detail = (
                f"entry {seq} has hash {entry_hash[:16]}..., the checkpoint at line {line} sealed "
                f"{checkpoint.head_hash[:16]}...: it was changed and re-hashed"
            )
            raise _Broken(VerifyError(Problem.MODIFIED, seq, entry_line, detail))
        self.sealed_to = seq


def verify_documents(
    documents: Iterable[tuple[int, Mapping[str, Any]]],
    public_key: Ed25519PublicKey | None,
    *,
    key_source: str = "given",
    expected_entries: int | None = None,
) -> VerifyResult:
    """Verify a stream of `(line, object)` pairs, each object an entry or a checkpoint (its `type` field).

    Args:
        documents: the stream in stored order; `line` is reported in errors.
        public_key: the key checkpoints must be signed with (None: every checkpoint is a bad signature).
        key_source: recorded in the result (`given`, `embedded`, `local`).
        expected_entries: how many entries the source says it holds (the export header), if known.

    Returns:
        The result; `first_error` names the first bad entry or checkpoint.
    """
    items = list(documents)
    seq_lines: dict[int, list[int]] = {}
    for line, document in items:
        seq = document.get("seq")
        if document.get("type") == "entry" and isinstance(seq, int):
            seq_lines.setdefault(seq, []).append(line)
    walk = _Walk(public_key=public_key, seq_lines=seq_lines)
    key_id = key_id_of(public_key) if public_key is not None else None
    warnings: list[str] = []
    if key_source == "embedded":
        warnings.append(
            "signatures checked with the key embedded in the export: this proves integrity, not origin; "
            "pass --public-key with the published key"
        )
    error: VerifyError | None = None
    try:
        for line, document in items:
            kind = document.get("type")
            if kind == "entry":
                walk.entry(line, document)
            elif kind == "checkpoint":
                walk.checkpoint(line, document)
            else:
                raise _Broken(VerifyError(Problem.MALFORMED, None, line, f"unknown line type {str(kind)[:20]!r}"))
        if expected_entries is not None and expected_entries != walk.entries:
            problem = Problem.MISSING if expected_entries > walk.entries else Problem.MALFORMED
            detail = f"the header announces {expected_entries} entries, the file holds {walk.entries}"
            raise _Broken(VerifyError(problem, walk.expected, None, detail))
    except _Broken as broken:
        error = broken.error
    head = walk.expected - 1
    if error is None and head > walk.sealed_to:
        warnings.append(f"unsealed_tail: entries {walk.sealed_to + 1}..{head} are not covered by a signed checkpoint")
    return VerifyResult(
        ok=error is None,
        entries=walk.entries,
        checkpoints=walk.checkpoints,
        first_error=error,
        sealed_to=walk.sealed_to,
        key_id=key_id,
        key_source=key_source if public_key is not None else "none",
        warnings=tuple(warnings),
    )


def verify_export(path: Path, public_key_pem: bytes | None = None) -> VerifyResult:
    """Verify an exported ledger file on its own, without the database.

    Args:
        path: the JSONL export (a header line, then entries and checkpoints).
        public_key_pem: the published public key; None uses the key embedded in the header (integrity only).

    Returns:
        The result; a malformed header or line is reported as the first error.

    Raises:
        LedgerError: the file cannot be read.
        ConfigError: `public_key_pem` is not an Ed25519 public key.
    """
    given = load_public_key(public_key_pem) if public_key_pem is not None else None
    try:
        raw_lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise LedgerError(f"cannot read ledger export {path}: {exc.strerror}", path=str(path)) from exc
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    parsed: list[tuple[int, Mapping[str, Any]]] = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            error = VerifyError(Problem.MALFORMED, None, number, "the line is not a JSON object")
            return VerifyResult(ok=False, entries=0, checkpoints=0, first_error=error)
        parsed.append((number, document))
    if not parsed or parsed[0][1].get("type") != "header" or parsed[0][1].get("format") != FORMAT:
        error = VerifyError(Problem.MALFORMED, None, 1, f"the first line is not a {FORMAT} header")
        return VerifyResult(ok=False, entries=0, checkpoints=0, first_error=error)
    header = parsed[0][1]
    public_key, source = given, "given"
    if public_key is None and isinstance(header.get("public_key"), str):
        try:
            public_key, source = load_public_key(header["public_key"].encode("ascii")), "embedded"
        except (ConfigError, UnicodeEncodeError):
            public_key = None
    expected = header.get("entries")
    return verify_documents(
        parsed[1:],
        public_key,
        key_source=source,
        expected_entries=expected if isinstance(expected, int) and not isinstance(expected, bool) else None,
    )
