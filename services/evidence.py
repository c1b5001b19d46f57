"""The proof ledger of the case database and the optional evidence bucket for packages and certificates.

Plain Python: no Prefect. Uploads carry request ids and file names only; links are returned, never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from models.cases import record_event
from models.db import session_scope
from models.settings import Settings
from proofs.ledger import DEFAULT_KEY_FILENAME, Ledger, open_database_ledger


def ledger_for(settings: Settings) -> Ledger:
    """The case database's proof ledger, signed with `[erasure].signing_key` or `.dsr/ledger-signing.pem`."""
    key_path = settings.erasure.signing_key or settings.state_dir / DEFAULT_KEY_FILENAME
    return open_database_ledger(
        settings.database.url, signing_key=key_path, checkpoint_every=settings.erasure.checkpoint_every
    )


def publish_evidence(settings: Settings, request_id: str, path: Path, what: str) -> str | None:
    """Upload a sealed package or a certificate to the evidence bucket (SSE, Object Lock where the bucket has
    it) when `[evidence]` is configured; returns a presigned link valid for `link_expiry_hours`, else None.

    The link is handed to whoever delivers the package and is never logged or stored.
    """
    evidence = settings.evidence
    if evidence is None:
        return None
    from connectors.s3 import S3Connector  # noqa: PLC0415 - boto3 only when an evidence bucket is configured

    connector = S3Connector(
        "evidence", f"s3://{evidence.bucket}/", endpoint_url=evidence.endpoint_url, region=evidence.region
    )
    key = f"{request_id}/{what}/{path.name}"
    retain_until = datetime.now(UTC) + timedelta(days=evidence.retention_days) if evidence.retention_days > 0 else None
    with connector:
        stored = connector.upload_evidence(evidence.bucket, key, path, sse=evidence.sse, retain_until=retain_until)
        link = connector.presign(evidence.bucket, key, timedelta(hours=evidence.link_expiry_hours))
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
