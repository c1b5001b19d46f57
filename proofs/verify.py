"""Checks a ledger stream (an export file or the database's entries): hash chain, sequence, signed checkpoints.

Names the first bad entry (seq and line) and what is wrong. Works on the exported file alone. No writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.errors import ConfigError, InputError, LedgerError
from proofs.attestation import SIGNATURE_SUFFIX, CertificateClaim, CertificateProblem, check_certificate
from proofs.entry import (
    CHAINED_FORMAT,
    FORMAT,
    GENESIS_HASH,
    Checkpoint,
    LedgerEntry,
    SignedHead,
    hash_entry_fields,
)
from proofs.signing import is_signature_valid, key_id_of, load_public_key


class Problem(StrEnum):
    """What is wrong with the first bad entry or checkpoint."""

    MODIFIED = "modified"
    MISSING = "missing"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    """Entries a stored checkpoint, a signed head, an anchor or a certificate vouches for are gone at the end."""
    REWRITTEN = "rewritten"
    """The ledger differs from a signed head or anchored checkpoint taken earlier (rewritten and re-signed)."""
    NOT_IN_CHAIN = "not_in_chain"
    """A certificate's ledger head (seq and entry hash) is not an entry of this ledger."""


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

    def to_dict(self) -> dict[str, Any]:
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
        head_seq: the last entry read (0 when none).
        head_hash: its hash (None when none).
        verified_against: what the ledger was checked against, one phrase each (key, signed head, anchors,
            certificate), so a reader knows what a pass proves.
    """

    ok: bool
    entries: int
    checkpoints: int
    first_error: VerifyError | None
    sealed_to: int = 0
    key_id: str | None = None
    key_source: str = "none"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    head_seq: int = 0
    head_hash: str | None = None
    verified_against: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON object (the CLI's `--json` output)."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "sealed_to": self.sealed_to,
            "key_id": self.key_id,
            "key_source": self.key_source,
            "first_error": self.first_error.to_dict() if self.first_error else None,
            "warnings": list(self.warnings),
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "verified_against": list(self.verified_against),
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
    chain_seq: dict[int, int] = field(default_factory=dict)
    last_digest: str = GENESIS_HASH
    chained: bool = False
    legacy: int = 0
    digests: dict[str, int] = field(default_factory=dict)
    requests: dict[int, str | None] = field(default_factory=dict)

    def entry(self, line: int, document: Mapping[str, Any]) -> None:
        self.entries += 1
        stated = document.get("seq")
        seq = stated if isinstance(stated, int) and not isinstance(stated, bool) else None
        if hash_entry_fields(document) != document.get("entry_hash"):
            # Everything before passed, so this line stands at position `expected` (its seq may be the edit).
            original = self.chain_seq.get(id(document))
            if original is not None and original != self.expected:
                detail = (
                    f"the entry stored as seq {str(stated)[:20]} is entry {original} of the hash chain: "
                    "entries were swapped"
                )
                raise _Broken(VerifyError(Problem.REORDERED, self.expected, line, detail))
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
        self.requests[seq] = document.get("request_id")
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
        self._check_signature(checkpoint, line)
        self._check_chain(checkpoint, line)
        if seq not in self.hashes:
            self._sealed_entry_absent(checkpoint, line)
        entry_hash, entry_line = self.hashes[seq]
        if entry_hash != checkpoint.head_hash:
            detail = (
                f"entry {seq} has hash {entry_hash[:16]}..., the checkpoint at line {line} sealed "
                f"{checkpoint.head_hash[:16]}...: it was changed and re-hashed"
            )
            raise _Broken(VerifyError(Problem.MODIFIED, seq, entry_line, detail))
        self.sealed_to = seq
        self.last_digest = checkpoint.digest()
        self.digests[self.last_digest] = seq
        self.chained = self.chained or checkpoint.prev_checkpoint is not None

    def _check_signature(self, checkpoint: Checkpoint, line: int) -> None:
        """The checkpoint is signed with the key the ledger is checked with."""
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

    def _check_chain(self, checkpoint: Checkpoint, line: int) -> None:
        """The checkpoint follows the one before it: its seq range and its chain digest."""
        seq = checkpoint.seq_to
        if checkpoint.seq_from != self.sealed_to + 1:
            problem = Problem.MISSING if checkpoint.seq_from > self.sealed_to + 1 else Problem.REORDERED
            detail = f"checkpoint starts at seq {checkpoint.seq_from}; the previous one ended at seq {self.sealed_to}"
            if problem is Problem.MISSING:
                detail += f": the checkpoint sealing seqs {self.sealed_to + 1}..{checkpoint.seq_from - 1} was dropped"
            raise _Broken(VerifyError(problem, self.sealed_to + 1, line, detail, checkpoint=True))
        if checkpoint.prev_checkpoint is None:
            if self.chained:
                detail = "an unchained (dsr-ledger/1) checkpoint follows chained ones: it was inserted"
                raise _Broken(VerifyError(Problem.MODIFIED, seq, line, detail, checkpoint=True))
            self.legacy += 1
        elif checkpoint.prev_checkpoint != self.last_digest:
            detail = (
                f"the checkpoint chains to checkpoint digest {checkpoint.prev_checkpoint[:16]}..., but the one before "
                f"it (up to seq {self.sealed_to}) has digest {self.last_digest[:16]}...: a checkpoint was dropped or "
                "replaced"
            )
            raise _Broken(VerifyError(Problem.MISSING, seq, line, detail, checkpoint=True))

    def _sealed_entry_absent(self, checkpoint: Checkpoint, line: int) -> NoReturn:
        """Why the entry a checkpoint seals was not read before it: later in the file, cut off, or missing."""
        seq = checkpoint.seq_to
        later = [n for n in self.seq_lines.get(seq, []) if n > line]
        if later:
            detail = f"the checkpoint at line {line} seals seq {seq}, which comes later at line {later[0]}"
            raise _Broken(VerifyError(Problem.REORDERED, seq, later[0], detail))
        if not any(n > line for lines in self.seq_lines.values() for n in lines):
            detail = (
                f"entries {self.expected}..{seq} are absent, but the stored checkpoint sealing seqs "
                f"{checkpoint.seq_from}..{seq} is still there: the ledger was cut after seq {self.expected - 1}"
            )
            raise _Broken(VerifyError(Problem.TRUNCATED, self.expected, line, detail))
        detail = f"seq {self.expected} is absent: the checkpoint at line {line} seals up to seq {seq}"
        raise _Broken(VerifyError(Problem.MISSING, self.expected, line, detail))

    def head(self, head: SignedHead, source: str, *, exact: bool) -> None:
        """Check a signed head against what was read: signature, then nothing cut or rewritten up to it."""
        if self.public_key is None:
            raise _Broken(VerifyError(Problem.BAD_SIGNATURE, head.last_seq, None, f"no public key to check {source}"))
        key_id = key_id_of(self.public_key)
        if head.key_id != key_id:
            detail = f"{source} is signed by key {head.key_id}, the ledger is checked with key {key_id}"
            raise _Broken(VerifyError(Problem.BAD_SIGNATURE, head.last_seq, None, detail))
        if not is_signature_valid(head, self.public_key):
            detail = f"the signature of {source} does not match its fields (entry count, last seq or hash was edited)"
            raise _Broken(VerifyError(Problem.BAD_SIGNATURE, head.last_seq, None, detail))
        last = self.expected - 1
        if head.last_seq > last:
            detail = (
                f"{source} names {head.entries} entries up to seq {head.last_seq} (hash {head.last_hash[:16]}...); "
                f"the ledger ends at seq {last}: entries {last + 1}..{head.last_seq} were cut"
            )
            raise _Broken(VerifyError(Problem.TRUNCATED, last + 1, None, detail))
        if head.last_seq and self.hashes[head.last_seq][0] != head.last_hash:
            detail = (
                f"entry {head.last_seq} has hash {self.hashes[head.last_seq][0][:16]}..., {source} says "
                f"{head.last_hash[:16]}...: the ledger was rewritten (and re-signed) after that head was signed"
            )
            raise _Broken(VerifyError(Problem.REWRITTEN, head.last_seq, self.hashes[head.last_seq][1], detail))
        if head.checkpoint_seq and head.checkpoint_digest not in self.digests:
            problem = Problem.TRUNCATED if head.checkpoint_seq > self.sealed_to else Problem.REWRITTEN
            detail = (
                f"{source} names the checkpoint up to seq {head.checkpoint_seq} (digest "
                f"{head.checkpoint_digest[:16]}...), which is not in the ledger: it was dropped or replaced"
            )
            raise _Broken(VerifyError(problem, head.checkpoint_seq, None, detail, checkpoint=True))
        if exact and head.last_seq < last:
            detail = f"entries {head.last_seq + 1}..{last} follow {source}: they were added after it was signed"
            raise _Broken(VerifyError(Problem.MALFORMED, head.last_seq + 1, None, detail))


@dataclass(frozen=True)
class HeadCheck:
    """A signed head to verify the ledger against.

    Attributes:
        head: the signed head.
        source: what it is, for messages (`the export's signed head`, `the filed head ledger-head.json`).
        exact: the ledger must end at the head (an export), rather than only contain it (a head filed earlier).
    """

    head: SignedHead
    source: str
    exact: bool = False


def _check_certificate(walk: _Walk, claim: CertificateClaim) -> None:
    found = walk.hashes.get(claim.head_seq)
    if found is None or found[0] != claim.head_hash:
        where = "absent" if found is None else f"hash {found[0][:16]}..."
        detail = (
            f"{claim.source} was built from ledger head seq {claim.head_seq} (hash {claim.head_hash[:16]}...), "
            f"which is not in this ledger's chain (entry {claim.head_seq}: {where})"
        )
        raise _Broken(VerifyError(Problem.NOT_IN_CHAIN, claim.head_seq, None, detail))
    for seq in claim.seqs:
        if seq > claim.head_seq or walk.requests.get(seq) != claim.request_id:
            detail = f"{claim.source} cites ledger entry {seq}, which is not an entry of request {claim.request_id}"
            raise _Broken(VerifyError(Problem.NOT_IN_CHAIN, seq, None, detail))


def _chain_positions(items: list[tuple[int, Mapping[str, Any]]]) -> dict[int, int]:
    """For entries whose stored seq may have been swapped: their position found by following `prev_hash`."""
    by_prev: dict[object, list[Mapping[str, Any]]] = {}
    for _, document in items:
        if document.get("type") == "entry":
            by_prev.setdefault(document.get("prev_hash"), []).append(document)
    positions: dict[int, int] = {}
    current, position = GENESIS_HASH, 0
    while position < len(items):
        follower = next(
            (
                d
                for d in by_prev.get(current, [])
                if hash_entry_fields({**d, "seq": position + 1}) == d.get("entry_hash")
            ),
            None,
        )
        if follower is None:
            break
        position += 1
        positions[id(follower)] = position
        current = str(follower.get("entry_hash"))
    return positions


def verify_documents(
    documents: Iterable[tuple[int, Mapping[str, Any]]],
    public_key: Ed25519PublicKey | None,
    *,
    key_source: str = "given",
    expected_entries: int | None = None,
    heads: Iterable[HeadCheck] = (),
    certificate: CertificateClaim | None = None,
) -> VerifyResult:
    """Verify a stream of `(line, object)` pairs, each object an entry or a checkpoint (its `type` field).

    Args:
        documents: the stream in stored order; `line` is reported in errors.
        public_key: the key checkpoints must be signed with (None: every checkpoint is a bad signature).
        key_source: recorded in the result (`given`, `embedded`, `local`).
        expected_entries: how many entries the source says it holds (the export header), if known.
        heads: signed heads the ledger must match (the export's own, heads filed earlier).
        certificate: a certificate whose ledger head must be in the chain.

    Returns:
        The result; `first_error` names the first bad entry or checkpoint.
    """
    items = list(documents)
    seq_lines: dict[int, list[int]] = {}
    for line, document in items:
        seq = document.get("seq")
        if document.get("type") == "entry" and isinstance(seq, int):
            seq_lines.setdefault(seq, []).append(line)
    walk = _Walk(public_key=public_key, seq_lines=seq_lines, chain_seq=_chain_positions(items))
    key_id = key_id_of(public_key) if public_key is not None else None
    warnings: list[str] = []
    if key_source == "embedded":
        warnings.append(
            "signatures checked with the key embedded in the export: this proves integrity, not origin; "
            "pass --public-key with the published key"
        )
    error: VerifyError | None = None
    try:
        _walk_all(walk, items, expected_entries, heads, certificate)
    except _Broken as broken:
        error = broken.error
    head = walk.expected - 1
    if error is None and head > walk.sealed_to:
        warnings.append(f"unsealed_tail: entries {walk.sealed_to + 1}..{head} are not covered by a signed checkpoint")
    if error is None and walk.legacy:
        warnings.append(
            f"legacy_checkpoints: the first {walk.legacy} checkpoints predate chaining (dsr-ledger/1); they are "
            "checked by seq range, later ones also by their chain"
        )
    return VerifyResult(
        ok=error is None,
        entries=walk.entries,
        checkpoints=walk.checkpoints,
        first_error=error,
        sealed_to=walk.sealed_to,
        key_id=key_id,
        key_source=key_source if public_key is not None else "none",
        warnings=tuple(warnings),
        head_seq=head,
        head_hash=walk.hashes[head][0] if head in walk.hashes else None,
    )


def _walk_all(
    walk: _Walk,
    items: Sequence[tuple[int, Mapping[str, Any]]],
    expected_entries: int | None,
    heads: Iterable[HeadCheck],
    certificate: CertificateClaim | None,
) -> None:
    """Walk every entry and checkpoint, then the entry count, the signed heads and the certificate.

    Raises:
        _Broken: at the first problem.
    """
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
    for check in heads:
        walk.head(check.head, check.source, exact=check.exact)
    if certificate is not None:
        _check_certificate(walk, certificate)


def _failed(line: int | None, detail: str, problem: Problem = Problem.MALFORMED) -> VerifyResult:
    return VerifyResult(ok=False, entries=0, checkpoints=0, first_error=VerifyError(problem, None, line, detail))


def read_certificate(path: Path, public_key: Ed25519PublicKey) -> CertificateClaim:
    """The claim of the certificate at `path`, its detached signature (`<path>.sig`) checked with `public_key`.

    Raises:
        CertificateProblem: see `check_certificate`.
        LedgerError: the certificate cannot be read.
    """
    try:
        document = path.read_bytes()
    except OSError as exc:
        raise LedgerError(f"cannot read certificate {path}: {exc.strerror}", path=str(path)) from exc
    signature_path = path.with_name(path.name + SIGNATURE_SUFFIX)
    try:
        signature = signature_path.read_bytes()
    except FileNotFoundError:
        signature = None
    except OSError as exc:
        raise LedgerError(f"cannot read {signature_path}: {exc.strerror}", path=str(signature_path)) from exc
    return check_certificate(document, signature, public_key, source=path.name)


def _read_export(path: Path) -> list[tuple[int, Mapping[str, Any]]] | VerifyResult:
    """The export's lines as (line number, object), or the failed result naming the first line that is not
    a JSON object.

    Raises:
        LedgerError: the file cannot be read.
    """
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
            return _failed(number, "the line is not a JSON object")
        parsed.append((number, document))
    return parsed


def _export_key(header: Mapping[str, Any], given: Ed25519PublicKey | None) -> tuple[Ed25519PublicKey | None, str]:
    """The key to check with and where it came from: the given key, else the one embedded in the header."""
    if given is not None or not isinstance(header.get("public_key"), str):
        return given, "given"
    try:
        return load_public_key(header["public_key"].encode("ascii")), "embedded"
    except (ConfigError, UnicodeEncodeError):
        return None, "given"


def verify_export(
    path: Path,
    public_key_pem: bytes | None = None,
    *,
    certificate: Path | None = None,
    heads: tuple[HeadCheck, ...] = (),
) -> VerifyResult:
    """Verify an exported ledger file on its own, without the database.

    The header's signed head must be there and match the file: a file cut after a checkpoint (with or without
    that checkpoint, header counts edited or not) fails as `truncated`.

    Args:
        path: the JSONL export (a header line with the signed head, then entries and checkpoints).
        public_key_pem: the published public key; None uses the key embedded in the header (integrity only).
        certificate: a deletion certificate (its `.sig` beside it) whose ledger head must be in the chain.
        heads: further signed heads filed earlier that the export must contain.

    Returns:
        The result; a malformed header or line is reported as the first error.

    Raises:
        LedgerError: the file cannot be read.
        ConfigError: `public_key_pem` is not an Ed25519 public key.
    """
    given = load_public_key(public_key_pem) if public_key_pem is not None else None
    parsed = _read_export(path)
    if isinstance(parsed, VerifyResult):
        return parsed
    if not parsed or parsed[0][1].get("type") != "header":
        return _failed(1, f"the first line is not a {CHAINED_FORMAT} header")
    header = parsed[0][1]
    if header.get("format") == FORMAT:
        return _failed(
            1,
            f"the export is in the old {FORMAT} format without a signed head, so a cut tail cannot be ruled out: "
            "export the ledger again with `dsr ledger export`",
            Problem.MISSING,
        )
    if header.get("format") != CHAINED_FORMAT:
        return _failed(1, f"the first line is not a {CHAINED_FORMAT} header")
    try:
        signed_head = SignedHead.from_dict(header.get("head"))  # type: ignore[arg-type]
    except InputError as exc:
        return _failed(
            1, f"the header carries no valid signed head ({exc}): the export cannot be trusted", Problem.MISSING
        )
    public_key, source = _export_key(header, given)
    claim: CertificateClaim | None = None
    against = [f"public key {key_id_of(public_key)} ({source})" if public_key else "no public key"]
    against.append("the export's signed head")
    if certificate is not None:
        if public_key is None:
            return _failed(None, "no public key to check the certificate's signature with", Problem.BAD_SIGNATURE)
        try:
            claim = read_certificate(certificate, public_key)
        except CertificateProblem as exc:
            return _failed(None, str(exc), Problem.BAD_SIGNATURE)
        against.append(f"certificate {certificate.name} (signature and ledger head)")
    against += [check.source for check in heads]
    expected = header.get("entries")
    result = verify_documents(
        parsed[1:],
        public_key,
        key_source=source,
        expected_entries=expected if isinstance(expected, int) and not isinstance(expected, bool) else None,
        heads=(HeadCheck(signed_head, "the export's signed head", exact=True), *heads),
        certificate=claim,
    )
    return replace(result, verified_against=tuple(against))
