"""Shared pieces of the Prefect flows: settings inside a run, retry conditions, artifact keys."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun

from models.cases import record_event
from models.db import session_scope
from models.errors import DsrError, is_retryable
from models.secret_source import resolve_secret
from models.settings import Settings, load_settings
from proofs.ledger import DEFAULT_KEY_FILENAME, Ledger, open_database_ledger


class TransientLocationError(Exception):
    """Raised by a task so that Prefect retries a location that was asleep or busy (ids only in the message)."""


SECRET_ENV = {
    "master_key": "DSR_MASTER_KEY",
    "hmac_key": "DSR_HMAC_KEY",
    "ledger_signing_key": "DSR_LEDGER_SIGNING_KEY",
}


def flow_settings() -> Settings:
    """The configuration inside a flow run (`DSR_CONFIG`, else ./dsr.toml, else defaults); keys named as
    Prefect Secret blocks in `[secrets]` are loaded into this process's environment once."""
    settings = load_settings(None)
    load_secret_blocks(settings)
    return settings


def load_secret_blocks(settings: Settings) -> None:
    """For each key with a `[secrets]` block and no environment value, read the block (never logged)."""
    for field, env_var in SECRET_ENV.items():
        block = getattr(settings.secrets, field)
        if block and not os.environ.get(env_var):
            value = resolve_secret(env_var, None, block, _load_block)
            if value:
                os.environ[env_var] = value


def _load_block(name: str) -> str:
    from prefect.blocks.system import Secret  # noqa: PLC0415 - only when a block is configured

    value = Secret.load(name).get()  # type: ignore[union-attr]
    return str(value)


def retry_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry only transient failures (never host-key or auth problems)."""
    try:
        state.result()
    except TransientLocationError:
        return True
    except Exception as exc:  # noqa: BLE001 - classify whatever the task raised
        return is_retryable(exc)
    return False


def retry_delays() -> list[float]:
    """Backoff between task retries: `DSR_RETRY_DELAYS` (comma-separated seconds), default 5 then 30."""
    raw = os.environ.get("DSR_RETRY_DELAYS", "5,30")
    try:
        return [float(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise DsrError(f"DSR_RETRY_DELAYS={raw!r} must be comma-separated seconds, e.g. 5,30") from None


def artifact_key(request_id: str, what: str) -> str:
    """A Prefect artifact key for a request (lower case letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9-]", "-", f"{request_id}-{what}".lower())


class TaskFailedError(DsrError):
    """An unexpected error inside a task, re-raised without its message (which could quote data)."""


@contextmanager
def guarded(request_id: str, location: str) -> Iterator[None]:
    """Let domain errors through (their messages carry ids only); replace any other exception by a
    `TaskFailedError` naming only its type, so no message that could quote data reaches Prefect."""
    try:
        yield
    except (DsrError, TransientLocationError):
        raise
    except Exception as exc:  # noqa: BLE001 - every unexpected error is sanitised before Prefect stores it
        raise TaskFailedError(
            f"{request_id}: {location}: unexpected {type(exc).__name__}; details withheld (they could quote data)"
        ) from None


@contextmanager
def request_log_redaction(request_id: str) -> Iterator[None]:
    """While a request's flow runs, redact its subject's identifiers from every log record (safety net)."""
    from detection.logfilter import redacting_logs  # noqa: PLC0415 - keeps flows.common light
    from flows.access_steps import build_matcher  # noqa: PLC0415 - avoids an import cycle

    try:
        matcher = build_matcher(flow_settings(), request_id)
    except DsrError:
        yield
        return
    with redacting_logs(matcher):
        yield


def ledger_for(settings: Settings) -> Ledger:
    """The case database's proof ledger, signed with `[erasure].signing_key` or `.dsr/ledger-signing.pem`."""
    configured = settings.erasure.signing_key
    if configured is None:
        key_path = settings.state_dir / DEFAULT_KEY_FILENAME
    elif configured.is_absolute() or settings.source is None:
        key_path = configured
    else:
        key_path = settings.source.resolve().parent / configured
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
