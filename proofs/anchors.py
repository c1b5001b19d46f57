"""Trust anchors of the proof ledger outside the database: the public key and every checkpoint, written once to
an append-only place the database's operator does not control (the evidence bucket under Object Lock).

Someone who can rewrite the case database, and holds the signing key beside it, can cut the ledger together with
its checkpoints or rewrite and re-sign it; the anchored copies still hold what was sealed before, so `compare`
names the cut or the rewrite. Storage is an `AnchorStore` (implemented over S3 by the services layer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.errors import ConfigError, InputError
from proofs.entry import Checkpoint, canonical_json
from proofs.signing import is_signature_valid, key_id_of, load_public_key
from proofs.verify import Problem, VerifyError

CHECKPOINT_PREFIX = "ledger/checkpoints/"
KEY_PREFIX = "ledger/keys/"


class AnchorStore(Protocol):
    """Write-once storage of anchor documents, where every version ever written can be read back."""

    @property
    def description(self) -> str:
        """Where the anchors are, for messages (`s3://bucket/ledger/`), never credentials."""
        ...

    @property
    def locked(self) -> bool:
        """Whether writes carry a retention that nobody can shorten (Object Lock)."""
        ...

    def put(self, name: str, data: bytes) -> None:
        """Write `data` under `name` (a new version if one exists: older versions stay readable)."""
        ...

    def names(self, prefix: str) -> list[str]:
        """Every name under `prefix` that has at least one version."""
        ...

    def versions(self, name: str) -> list[bytes]:
        """Every stored version of `name`, oldest first."""
        ...


def checkpoint_name(seq_to: int) -> str:
    """The anchor name of the checkpoint ending at `seq_to`."""
    return f"{CHECKPOINT_PREFIX}{seq_to:012d}.json"


def key_name(key_id: str) -> str:
    """The anchor name of the public key with fingerprint `key_id`."""
    return f"{KEY_PREFIX}{key_id}.pem"


def publish(anchors: AnchorStore, checkpoints: Iterable[Checkpoint], public_key_pem: bytes) -> int:
    """Anchor the public key (once) and every checkpoint not anchored yet; returns how many were written."""
    key_id = key_id_of(load_public_key(public_key_pem))
    if key_name(key_id) not in set(anchors.names(KEY_PREFIX)):
        anchors.put(key_name(key_id), public_key_pem)
    present = set(anchors.names(CHECKPOINT_PREFIX))
    written = 0
    for checkpoint in checkpoints:
        name = checkpoint_name(checkpoint.seq_to)
        if name not in present:
            anchors.put(name, canonical_json(checkpoint.to_dict()))
            written += 1
    return written


@dataclass(frozen=True)
class AnchorReport:
    """The database's checkpoints compared with their anchored copies.

    Attributes:
        error: the first disagreement (truncated, missing, rewritten), if any.
        anchored: anchored checkpoints read.
        keys: fingerprints of the anchored public keys.
        warnings: checkpoints not anchored yet, an unlocked bucket.
    """

    error: VerifyError | None
    anchored: int
    keys: tuple[str, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


class _Mismatch(Exception):
    def __init__(self, error: VerifyError) -> None:
        super().__init__(error.detail)
        self.error = error


def _oldest(anchors: AnchorStore, name: str) -> bytes:
    versions = anchors.versions(name)
    if any(v != versions[0] for v in versions[1:]):
        detail = f"the anchor {name} in {anchors.description} was overwritten with different content (oldest kept)"
        raise _Mismatch(VerifyError(Problem.REWRITTEN, None, None, detail))
    return versions[0]


def _anchored_keys(anchors: AnchorStore) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for name in anchors.names(KEY_PREFIX):
        try:
            key = load_public_key(_oldest(anchors, name))
        except ConfigError:
            raise _Mismatch(
                VerifyError(Problem.MALFORMED, None, None, f"the anchor {name} is not a public key")
            ) from None
        keys[key_id_of(key)] = key
    return keys


def _anchored_checkpoint(anchors: AnchorStore, name: str, keys: dict[str, Ed25519PublicKey]) -> Checkpoint:
    try:
        checkpoint = Checkpoint.from_dict(json.loads(_oldest(anchors, name)))
    except (ValueError, InputError):
        raise _Mismatch(VerifyError(Problem.MALFORMED, None, None, f"the anchor {name} is not a checkpoint")) from None
    key = keys.get(checkpoint.key_id)
    if key is None or not is_signature_valid(checkpoint, key):
        detail = f"the anchor {name} is not signed by an anchored key"
        raise _Mismatch(VerifyError(Problem.BAD_SIGNATURE, checkpoint.seq_to, None, detail, checkpoint=True))
    return checkpoint


def compare(anchors: AnchorStore, checkpoints: Sequence[Checkpoint], head_seq: int) -> AnchorReport:
    """Compare the database's checkpoints (and its last seq) with the anchored copies.

    Every anchored checkpoint must be in the database unchanged; every database checkpoint must be signed by
    an anchored key. A database that ends before an anchored checkpoint was cut (`truncated`); an anchored
    checkpoint the database lacks was dropped (`missing`); one that differs was rewritten (`rewritten`).
    """
    warnings: list[str] = []
    if not anchors.locked:
        warnings.append(
            f"anchors in {anchors.description} carry no Object Lock retention: someone with the bucket's "
            "credentials could delete them"
        )
    by_seq = {c.seq_to: c for c in checkpoints}
    keys: dict[str, Ed25519PublicKey] = {}
    anchored = 0
    try:
        keys = _anchored_keys(anchors)
        last_anchored = 0
        for name in sorted(anchors.names(CHECKPOINT_PREFIX)):
            copy = _anchored_checkpoint(anchors, name, keys)
            anchored += 1
            last_anchored = max(last_anchored, copy.seq_to)
            stored = by_seq.get(copy.seq_to)
            if stored is None and copy.seq_to > head_seq:
                detail = (
                    f"{anchors.description} holds the checkpoint sealing seqs {copy.seq_from}..{copy.seq_to} "
                    f"(signed {copy.at:%Y-%m-%d %H:%M} UTC); the database ends at seq {head_seq}: "
                    f"entries {head_seq + 1}..{copy.seq_to} were cut"
                )
                raise _Mismatch(VerifyError(Problem.TRUNCATED, head_seq + 1, None, detail))
            if stored is None:
                detail = (
                    f"the checkpoint sealing seqs {copy.seq_from}..{copy.seq_to} is anchored in "
                    f"{anchors.description} but absent from the database: it was dropped"
                )
                raise _Mismatch(VerifyError(Problem.MISSING, copy.seq_to, None, detail, checkpoint=True))
            if stored.to_dict() != copy.to_dict():
                detail = (
                    f"the database's checkpoint up to seq {copy.seq_to} (entry hash {stored.head_hash[:16]}..., key "
                    f"{stored.key_id}) differs from its anchored copy (entry hash {copy.head_hash[:16]}..., key "
                    f"{copy.key_id}) in {anchors.description}: the ledger was rewritten and re-signed"
                )
                raise _Mismatch(VerifyError(Problem.REWRITTEN, copy.seq_to, None, detail, checkpoint=True))
        for checkpoint in checkpoints:
            if checkpoint.key_id not in keys:
                detail = (
                    f"the checkpoint up to seq {checkpoint.seq_to} is signed by key {checkpoint.key_id}, which was "
                    f"never anchored in {anchors.description}: the ledger was re-signed with another key"
                )
                raise _Mismatch(VerifyError(Problem.REWRITTEN, checkpoint.seq_to, None, detail, checkpoint=True))
        unanchored = [c.seq_to for c in checkpoints if c.seq_to > last_anchored]
        if unanchored:
            warnings.append(
                f"unanchored: checkpoints after seq {last_anchored} (up to seq {unanchored[-1]}) are not in "
                f"{anchors.description} yet; `dsr ledger anchor` writes them"
            )
    except _Mismatch as mismatch:
        return AnchorReport(error=mismatch.error, anchored=anchored, keys=tuple(sorted(keys)), warnings=tuple(warnings))
    return AnchorReport(error=None, anchored=anchored, keys=tuple(sorted(keys)), warnings=tuple(warnings))
