"""Intake: validate a person's identifiers and record a new request in the case database.

Plain Python: no Prefect. The identifiers are validated exactly as `dsr request submit` validates them and
stored only encrypted (plus keyed hashes); the caller gets the request id back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from models import cases
from models.db import session_scope
from models.identifiers import validate_all
from models.keys import hmac_key, master_key
from models.settings import Settings
from models.types import RequestKind


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
) -> str:
    """Validate the identifiers and record the request; returns its id.

    Raises:
        InputError: an identifier is malformed or none is given, the receipt time is in the future or before
            the GDPR applied, or the channel is empty or too long (the message never quotes the value).
    """
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
        return request.id
