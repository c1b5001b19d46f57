"""The proof ledger of the case database and the optional evidence bucket for packages and certificates.

Plain Python: no Prefect. Uploads carry request ids and file names only; links are returned, never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.base import EvidenceStore
from connectors.registry import evidence_url, open_evidence_store
from models.settings import EvidenceSettings, Settings
from proofs.anchors import AnchorStore
from proofs.ledger import DEFAULT_KEY_FILENAME, Ledger, open_database_ledger
from proofs.store import LedgerStore

ANCHOR_RETENTION_DAYS = 3650
"""Object Lock retention of ledger anchors when `[evidence].retention_days` is shorter (they outlive requests)."""


class BucketAnchors:
    """`AnchorStore` in the evidence bucket under `ledger/`: COMPLIANCE Object Lock where the bucket has it."""

    def __init__(self, evidence: EvidenceSettings) -> None:
        """Anchors in `evidence.bucket`; no traffic until the first call."""
        self._evidence = evidence
        self._connector: EvidenceStore | None = None
        self._locked: bool | None = None

    @property
    def description(self) -> str:
        """Where the anchors are (no credentials)."""
        return f"{evidence_url(self._evidence)}/ledger/"

    @property
    def connector(self) -> EvidenceStore:
        """The evidence bucket's store, created on first use."""
        if self._connector is None:
            self._connector = open_evidence_store(self._evidence)
        return self._connector

    @property
    def locked(self) -> bool:
        """Whether the bucket has Object Lock (anchors are then kept in COMPLIANCE mode)."""
        if self._locked is None:
            self._locked = self.connector.evidence_object_lock(self._evidence.bucket)
        return self._locked

    def put(self, name: str, data: bytes) -> None:
        """Write one anchor (a new version if the name exists)."""
        days = max(self._evidence.retention_days, ANCHOR_RETENTION_DAYS)
        self.connector.put_evidence_bytes(
            self._evidence.bucket,
            name,
            data,
            sse=self._evidence.sse,
            retain_until=datetime.now(UTC) + timedelta(days=days),
        )

    def names(self, prefix: str) -> list[str]:
        """Every anchor name under `prefix`."""
        return sorted(self.connector.evidence_versions(self._evidence.bucket, prefix))

    def versions(self, name: str) -> list[bytes]:
        """Every version of one anchor, oldest first."""
        ids = self.connector.evidence_versions(self._evidence.bucket, name).get(name, [])
        return [self.connector.read_evidence(self._evidence.bucket, name, vid) for vid in ids]


def anchors_for(settings: Settings) -> AnchorStore | None:
    """The ledger's anchor store: the evidence bucket when `[evidence]` is configured, else None."""
    return BucketAnchors(settings.evidence) if settings.evidence is not None else None


def ledger_for(settings: Settings, *, store: LedgerStore | None = None) -> Ledger:
    """The case database's proof ledger, signed with `[erasure].signing_key` or `.dsr/ledger-signing.pem`,
    anchoring every checkpoint in the evidence bucket when `[evidence]` is configured; over `store` if given (the
    lean store of the same database, `proofs.lean_store`), else the ORM's."""
    key_path = settings.erasure.signing_key or settings.state_dir / DEFAULT_KEY_FILENAME
    return open_database_ledger(
        settings.database.url,
        signing_key=key_path,
        checkpoint_every=settings.erasure.checkpoint_every,
        anchors=anchors_for(settings),
        store=store,
    )


def publish_evidence(settings: Settings, request_id: str, path: Path, what: str) -> str | None:
    """Upload a sealed package or a certificate to the evidence bucket (SSE, Object Lock where the bucket has
    it) when `[evidence]` is configured; returns a presigned link valid for `link_expiry_hours`, else None.

    The link is handed to whoever delivers the package and is never logged or stored.
    """
    evidence = settings.evidence
    if evidence is None:
        return None
    connector = open_evidence_store(evidence)
    key = f"{request_id}/{what}/{path.name}"
    retain_until = datetime.now(UTC) + timedelta(days=evidence.retention_days) if evidence.retention_days > 0 else None
    with connector:
        stored = connector.upload_evidence(evidence.bucket, key, path, sse=evidence.sse, retain_until=retain_until)
        link = connector.presign(evidence.bucket, key, timedelta(hours=evidence.link_expiry_hours))
    from models.cases import record_event  # noqa: PLC0415 - the ORM only where it writes (`dsr ledger verify` has none)
    from models.db import session_scope  # noqa: PLC0415

    with session_scope(settings.database.url) as session:
        record_event(
            session,
            "evidence.uploaded",
            request_id=request_id,
            what=what,
            key=key,
            version_id=stored.version_id,
            retained_until=stored.retain_until.isoformat() if stored.retain_until else None,
        )
    return link
