"""Intake: validate a person's identifiers and record a new request in the case database.

Plain Python: no Prefect. The identifiers are validated exactly as `dsr request submit` validates them and
stored only encrypted (plus keyed hashes); the caller gets the request id back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from models import cases
from models.db import session_scope
from models.errors import InputError
from models.identifiers import validate_all
from models.identity import METHODS
from models.keys import hmac_key, master_key
from models.settings import Settings
from models.types import RequestKind
from services.identity import verify, waive


def record_request(
    settings: Settings,
    *,
    kind: RequestKind,
    emails: Sequence[str] = (),
    names: Sequence[str] = (),
    phones: Sequence[str] = (),
    user_ids: Sequence[str] = (),
    received_at: datetime | None = None,
    channel: str,
    identity_method: str | None = None,
    identity_by: str | None = None,
    identity_note: str | None = None,
    identity_waiver: str | None = None,
) -> str:
    """Validate the identifiers and record the request; returns its id.

    With `identity_method` and `identity_by` the identity check is recorded as verified, with
    `identity_waiver` as waived (the reason); with neither the request waits in `identity_pending`.

    Raises:
        InputError: an identifier is malformed or none is given, the receipt time is in the future or before
            the GDPR applied, the channel is empty or too long (the message never quotes the value), or the
            identity fields are incomplete or contradictory.
    """
    if identity_waiver is not None and identity_method is not None:
        raise InputError("give either an identity method (verified) or a waiver reason, not both")
    if identity_waiver is not None and not identity_waiver.strip():
        raise InputError("a waived identity check needs the reason (for example: the employee's own account)")
    if identity_method is not None:
        if identity_method not in METHODS:
            raise InputError(f"identity method {identity_method!r} is not one of: {', '.join(METHODS)}")
        if not (identity_by or "").strip():
            raise InputError("a verified identity needs the name of the person who checked it")
    identifiers = validate_all(
        emails=emails, names=names, phones=phones, user_ids=user_ids, region=settings.controller.phone_region,
        received_at=received_at, channel=channel,
    )  # fmt: skip
    with session_scope(settings.database.url) as session:
        request = cases.submit_request(
            session,
            settings,
            kind=kind,
            identifiers=identifiers,
            hmac_key=hmac_key(settings.state_dir),
            master_key=master_key(settings.state_dir),
            received_at=received_at,
            channel=channel,
        )
        request_id = request.id
    if identity_waiver is not None:
        waive(settings, request_id, reason=identity_waiver)
    elif identity_method is not None:
        verify(settings, request_id, method=identity_method, by=identity_by or "", note=identity_note)
    return request_id
