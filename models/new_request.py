"""A new request's rows, built once for both paths that record one: `models.cases.submit_request` (the ORM) and
`submit_request_lean` (`models.lean_write`, what `dsr request submit` uses on a current case database).

The request (its legal dates, Art. 12(3)), its data key wrapped under the master key, its identifiers sealed under
that key with their keyed hashes, and the `request.submitted` audit event naming the OS user that recorded it.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from models.crypto import new_key, seal
from models.deadline import ALGORITHM_VERSION, compute_deadlines
from models.errors import InputError
from models.identifiers import Identifier, check_received, check_text, keyed_hash
from models.identity_record import SUBMITTED_EVENT
from models.lean_write import Writer, utcnow
from models.settings import Settings
from models.types import RequestKind, RequestStatus


def local_date(at: datetime, settings: Settings) -> date:
    """The calendar date of an instant in the controller's establishment."""
    return at.astimezone(settings.controller.tz).date()


def id_prefix(year: int) -> str:
    """What every request id of `year` starts with."""
    return f"DSR-{year}-"


def next_id(ids: Iterable[str], year: int) -> str:
    """`DSR-<year>-NNNN`, one more than the highest of `ids` (that year's ids)."""
    prefix = id_prefix(year)
    highest = max((int(i.removeprefix(prefix)) for i in ids if i.removeprefix(prefix).isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


@dataclass(frozen=True)
class NewRequest:
    """A checked new request, its id still to be numbered (`rows`)."""

    kind: RequestKind
    identifiers: tuple[Identifier, ...]
    received_at: datetime
    channel: str
    year: int
    calendar: str
    due_on: date
    target_on: date
    representative: str | None
    representative_authority: str | None

    def rows(self, request_id: str, *, hmac_key: bytes, master_key: bytes) -> tuple[dict[str, Any], ...]:
        """The `requests` row, then the `request_keys` row, then one `subject_identifiers` row per identifier
        (every column but their own ids)."""
        request = {
            "id": request_id,
            "kind": self.kind.value,
            # Nothing is searched or erased until the identity check is recorded (`models.identity`).
            "status": RequestStatus.IDENTITY_PENDING.value,
            "received_at": self.received_at,
            "channel": self.channel,
            "calendar": self.calendar,
            "algorithm_version": ALGORITHM_VERSION,
            "due_on": self.due_on,
            "target_on": self.target_on,
            "extended_due_on": None,
            "extension_notified_at": None,
            "extension_reasons": None,
            "identity_method": None,
            "identity_outcome": None,
            "identity_requested_at": None,
            "identity_received_at": None,
            "representative": self.representative,
            "representative_authority": self.representative_authority,
            "authority_reference": None,
            "refusal_ground": None,
            "refusal_reason": None,
            "report_path": None,
            "package_sha256": None,
            "certificate_path": None,
            "created_at": utcnow(),
            "updated_at": utcnow(),
            "closed_at": None,
        }
        data_key = new_key()
        key = {
            "request_id": request_id,
            "wrapped_key": seal(master_key, data_key, request_id.encode()),
            "created_at": utcnow(),
            "destroyed_at": None,
        }
        identifiers = []
        for ident in self.identifiers:
            aad = f"{request_id}:{ident.kind.value}".encode()
            identifiers.append(
                {
                    "request_id": request_id,
                    "kind": ident.kind.value,
                    "value": seal(data_key, ident.value.encode("utf-8"), aad),
                    "normalized": seal(data_key, ident.normalized.encode("utf-8"), aad),
                    "keyed_hash": keyed_hash(hmac_key, ident.kind, ident.normalized),
                    "pseudonymised_at": None,
                }
            )
        return (request, key, *identifiers)

    def event(self) -> dict[str, Any]:
        """The details of the `request.submitted` audit event."""
        return {
            "kind": self.kind.value,
            "channel": self.channel,
            "identifier_kinds": sorted({i.kind.value for i in self.identifiers}),
            "due": self.due_on.isoformat(),
            # The authenticated OS user, compared with the approver when `[erasure].four_eyes` is on.
            "submitted_by": getpass.getuser(),
        }


def new_request(
    settings: Settings,
    *,
    kind: RequestKind,
    identifiers: Sequence[Identifier],
    received_at: datetime | None = None,
    channel: str = "email",
    representative: str | None = None,
    representative_authority: str | None = None,
) -> NewRequest:
    """A new request checked and dated (Art. 12(3)).

    Raises:
        InputError: no identifiers; `received_at` naive, in the future or before the GDPR applied; `channel`
            empty or too long.
    """
    if not identifiers:
        raise InputError("give at least one identifier (--email, --name, --phone or --user-id)")
    received_at = check_received(received_at or utcnow()).astimezone(UTC)
    channel = check_text("--channel", channel)
    day = local_date(received_at, settings)
    deadlines = compute_deadlines(day, settings.controller.calendar)
    return NewRequest(
        kind=kind, identifiers=tuple(identifiers), received_at=received_at, channel=channel, year=day.year,
        calendar=deadlines.calendar, due_on=deadlines.due, target_on=deadlines.target, representative=representative,
        representative_authority=representative_authority,
    )  # fmt: skip


def submit_request_lean(db: Writer, request: NewRequest, *, hmac_key: bytes, master_key: bytes) -> tuple[str, date]:
    """Record `request` through a lean write, numbered after that year's highest id (SQLite: under the write lock;
    PostgreSQL: a request numbered meanwhile makes the insert fail, and the ORM path numbers it again): its id and
    due date."""
    ids = [row[0] for row in db.fetch("SELECT id FROM requests WHERE id LIKE ?", (id_prefix(request.year) + "%",))]
    request_id = next_id(ids, request.year)
    row, key, *identifiers = request.rows(request_id, hmac_key=hmac_key, master_key=master_key)
    db.insert("requests", row)
    db.insert("request_keys", key)
    for identifier in identifiers:
        db.insert("subject_identifiers", identifier)
    db.event(SUBMITTED_EVENT, request_id=request_id, **request.event())
    return request_id, request.due_on
