"""Detached signatures of deletion certificates: the certificate JSON signed with the ledger key.

A certificate names the ledger head it was built from (last seq and entry hash). Its signature file
(`<certificate>.json.sig`) binds the certificate's exact bytes, its request and that head to the ledger key, so a
certificate edited, swapped for another request's, or built from another ledger does not verify. No I/O here
beyond what the caller hands in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from proofs.entry import canonical_json
from proofs.signing import LedgerSigner, is_bytes_signature_valid, key_id_of

SIGNATURE_FORMAT = "dsr-certificate-signature/1"
"""Format tag of a certificate's detached signature file."""

SIGNATURE_SUFFIX = ".sig"
"""The signature file is the certificate's file name plus this suffix."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class CertificateProblem(Exception):
    """A certificate or its signature does not hold up; the message names what (seqs, hashes, ids only)."""


@dataclass(frozen=True)
class CertificateClaim:
    """What a deletion certificate states about the ledger (its detached signature already checked).

    Attributes:
        request_id: the certificate's request.
        head_seq: the last seq of the ledger head the certificate was built from.
        head_hash: that entry's hash.
        seqs: the ledger seqs the certificate cites for its items.
        source: the certificate file name, for messages.
    """

    request_id: str
    head_seq: int
    head_hash: str
    seqs: tuple[int, ...]
    source: str


def _payload(request_id: str, sha256: str, head_seq: int, head_hash: str, key_id: str) -> dict[str, Any]:
    return {
        "format": SIGNATURE_FORMAT,
        "request_id": request_id,
        "sha256": sha256,
        "ledger_head_seq": head_seq,
        "ledger_head_hash": head_hash,
        "key_id": key_id,
    }


def sign_certificate(signer: LedgerSigner, document: bytes, *, request_id: str, head_seq: int, head_hash: str) -> bytes:
    """The detached signature file (JSON bytes) of the certificate whose exact bytes are `document`."""
    payload = _payload(request_id, hashlib.sha256(document).hexdigest(), head_seq, head_hash, signer.key_id)
    signed = {**payload, "signature": signer.sign_bytes(canonical_json(payload))}
    return json.dumps(signed, indent=2, sort_keys=True).encode("ascii") + b"\n"


def _head_of(certificate: Mapping[str, Any]) -> tuple[int, str]:
    ledger = certificate.get("ledger")
    head_seq = ledger.get("head_seq") if isinstance(ledger, Mapping) else None
    head_hash = ledger.get("head_entry_hash") if isinstance(ledger, Mapping) else None
    if isinstance(head_seq, bool) or not isinstance(head_seq, int) or head_seq < 1:
        raise CertificateProblem("the certificate names no ledger head (ledger.head_seq): it cannot be checked")
    if not isinstance(head_hash, str) or not _HEX64.match(head_hash):
        raise CertificateProblem("the certificate names no ledger head hash (ledger.head_entry_hash)")
    return head_seq, head_hash


def _cited_seqs(certificate: Mapping[str, Any]) -> tuple[int, ...]:
    seqs: set[int] = set()
    for section in ("erased", "kept", "verification"):
        items = certificate.get(section)
        for item in items if isinstance(items, list) else []:
            seq = item.get("ledger_seq") if isinstance(item, Mapping) else None
            if isinstance(seq, int) and not isinstance(seq, bool):
                seqs.add(seq)
    return tuple(sorted(seqs))


def check_certificate(
    document: bytes, signature_file: bytes | None, public_key: Ed25519PublicKey, *, source: str
) -> CertificateClaim:
    """The certificate's claim on the ledger, once its detached signature is checked against `public_key`.

    Args:
        document: the certificate JSON's exact bytes.
        signature_file: the `.sig` file's bytes, or None when it is absent.
        public_key: the ledger's published public key.
        source: the certificate's file name, for messages.

    Raises:
        CertificateProblem: the certificate is not JSON, names no head, has no or a bad signature, or is not
            the document the signature covers (edited, or another request's certificate swapped in).
    """
    try:
        certificate = json.loads(document)
    except ValueError:
        raise CertificateProblem(f"{source} is not JSON") from None
    if not isinstance(certificate, Mapping) or not isinstance(certificate.get("request_id"), str):
        raise CertificateProblem(f"{source} is not a deletion certificate (no request_id)")
    request_id = str(certificate["request_id"])
    head_seq, head_hash = _head_of(certificate)
    if signature_file is None:
        raise CertificateProblem(f"{source} has no detached signature ({source}{SIGNATURE_SUFFIX} is absent)")
    try:
        signed = json.loads(signature_file)
    except ValueError:
        signed = None
    if not isinstance(signed, Mapping) or signed.get("format") != SIGNATURE_FORMAT:
        raise CertificateProblem(f"{source}{SIGNATURE_SUFFIX} is not a {SIGNATURE_FORMAT} file")
    key_id = key_id_of(public_key)
    if signed.get("key_id") != key_id:
        raise CertificateProblem(
            f"{source}{SIGNATURE_SUFFIX} is signed by key {str(signed.get('key_id'))[:32]}, "
            f"the ledger's key is {key_id}"
        )
    payload = _payload(
        str(signed.get("request_id")),
        str(signed.get("sha256")),
        signed.get("ledger_head_seq"),  # type: ignore[arg-type]
        str(signed.get("ledger_head_hash")),
        key_id,
    )
    if not is_bytes_signature_valid(canonical_json(payload), str(signed.get("signature")), public_key):
        raise CertificateProblem(f"the signature in {source}{SIGNATURE_SUFFIX} does not match its fields")
    if payload["sha256"] != hashlib.sha256(document).hexdigest():
        raise CertificateProblem(
            f"{source} is not the certificate the signature covers (the signature is for request "
            f"{payload['request_id']}, the file says {request_id}; its SHA-256 differs): edited or swapped"
        )
    if payload["request_id"] != request_id or (payload["ledger_head_seq"], payload["ledger_head_hash"]) != (
        head_seq,
        head_hash,
    ):
        raise CertificateProblem(f"{source} does not match its signature's request or ledger head")
    return CertificateClaim(
        request_id=request_id, head_seq=head_seq, head_hash=head_hash, seqs=_cited_seqs(certificate), source=source
    )
