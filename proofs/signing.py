"""Ed25519 keys of the proof ledger: load or create the signing key, sign and check checkpoints.

The signing key comes from a PEM file (mode 0600, refused if group/world-readable), `DSR_LEDGER_SIGNING_KEY`
(PEM or a 64-hex-digit seed), or text handed over by the caller (e.g. a Prefect Secret block). Never logs key bytes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.errors import ConfigError
from models.files import atomic_write, check_private
from proofs.entry import Checkpoint, SignedHead, canonical_json, checkpoint_payload, head_payload

SIGNING_KEY_ENV = "DSR_LEDGER_SIGNING_KEY"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of sha256 over its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes.

    Raises:
        ConfigError: the bytes are not an Ed25519 public key in PEM form.
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError("the ledger public key is not a PEM public key", key="ledger.public_key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("the ledger public key is not an Ed25519 key", key="ledger.public_key")
    return key


def signing_key_from_text(text: str, *, source: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8, unencrypted) or a 64-hex-digit seed.

    Args:
        text: the key material.
        source: where it came from, for error messages (an env var name or a path; never the key).

    Raises:
        ConfigError: the text is neither form, or the PEM holds another key type.
    """
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(stripped.encode("ascii"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ConfigError(
                f"ledger signing key from {source} is not an unencrypted PEM private key", key="ledger.signing_key"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"ledger signing key from {source} is not an Ed25519 key", key="ledger.signing_key")
        return key
    try:
        seed = bytes.fromhex(stripped)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ConfigError(
            f"ledger signing key from {source} must be PEM or 64 hex digits (a 32-byte Ed25519 seed)",
            key="ledger.signing_key",
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_signing_key(
    path: Path | None, *, env_var: str | None = SIGNING_KEY_ENV, create: bool = True
) -> Ed25519PrivateKey:
    """The ledger signing key: `env_var` if set, else the PEM file `path`, created (0600) on first use.

    Args:
        path: the PEM key file (created when absent and `create` is true).
        env_var: the environment variable that overrides the file (None: ignore the environment).
        create: generate a new key into `path` when neither source has one.

    Raises:
        ConfigError: no key is available and `create` is false, the file is readable by group or others,
            or the material is not an Ed25519 key.
    """
    env = os.environ.get(env_var) if env_var else None
    if env and env_var:
        return signing_key_from_text(env, source=env_var)
    if path is None:
        raise ConfigError(f"no ledger signing key: set {SIGNING_KEY_ENV} or give a key file", key="ledger.signing_key")
    if path.exists():
        check_private(path, "ledger signing key file", key="ledger.signing_key")
        return signing_key_from_text(path.read_text(encoding="ascii"), source=str(path))
    if not create:
        raise ConfigError(f"no ledger signing key at {path} (nor in {SIGNING_KEY_ENV})", key="ledger.signing_key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Publish the complete file atomically (the link fails if another process won the race: use its key).
    try:
        atomic_write(path, pem, mode=0o600, exclusive=True)
    except FileExistsError:
        return signing_key_from_text(path.read_text(encoding="ascii"), source=str(path))
    return key


@dataclass(frozen=True)
class LedgerSigner:
    """Signs checkpoints with one Ed25519 key."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The matching public key."""
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        """The public key's fingerprint, recorded in every checkpoint."""
        return key_id_of(self.public_key)

    def public_key_pem(self) -> bytes:
        """The public key as PEM, for publication and for `verify --public-key`."""
        return public_key_pem(self.public_key)

    def export_public_key(self, path: Path) -> Path:
        """Write the public key as PEM to `path` (mode 0644) and return `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, self.public_key_pem(), mode=0o644)

    def sign_checkpoint(
        self, *, seq_from: int, seq_to: int, head_hash: str, at: datetime, prev_checkpoint: str
    ) -> Checkpoint:
        """A checkpoint over `seq_from..seq_to` whose last entry hash is `head_hash`, chained to the checkpoint
        whose digest is `prev_checkpoint` (the genesis hash for the first)."""
        payload = checkpoint_payload(seq_from, seq_to, head_hash, at, self.key_id, prev_checkpoint=prev_checkpoint)
        signature = self.private_key.sign(canonical_json(payload)).hex()
        return Checkpoint(
            seq_from=seq_from,
            seq_to=seq_to,
            head_hash=head_hash,
            at=at,
            key_id=self.key_id,
            signature=signature,
            prev_checkpoint=prev_checkpoint,
        )

    def sign_head(
        self, *, last_seq: int, last_hash: str, checkpoint_seq: int, checkpoint_digest: str, at: datetime
    ) -> SignedHead:
        """The signed head of a ledger whose last entry is `last_seq` / `last_hash` (entries = `last_seq`)."""
        payload = head_payload(last_seq, last_seq, last_hash, checkpoint_seq, checkpoint_digest, at, self.key_id)
        return SignedHead(
            entries=last_seq,
            last_seq=last_seq,
            last_hash=last_hash,
            checkpoint_seq=checkpoint_seq,
            checkpoint_digest=checkpoint_digest,
            at=at,
            key_id=self.key_id,
            signature=self.private_key.sign(canonical_json(payload)).hex(),
        )

    def sign_bytes(self, data: bytes) -> str:
        """An Ed25519 signature (hex) over `data` (detached signatures of certificates)."""
        return self.private_key.sign(data).hex()


def is_bytes_signature_valid(data: bytes, signature_hex: str, public_key: Ed25519PublicKey) -> bool:
    """Whether `signature_hex` is an Ed25519 signature over `data` by the key matching `public_key`."""
    try:
        public_key.verify(bytes.fromhex(signature_hex), data)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_signature_valid(signed: Checkpoint | SignedHead, public_key: Ed25519PublicKey) -> bool:
    """Whether a checkpoint's or head's signature was made over its fields by the key matching `public_key`."""
    return is_bytes_signature_valid(canonical_json(signed.signed_fields()), signed.signature, public_key)
