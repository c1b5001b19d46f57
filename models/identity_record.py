"""The identity check of a request as it is shown (`dsr request show`, the access report, the certificate): the
outcomes and `IdentityRecord`, built from the request's row and its signed ledger entry.

Needs no database: `models.identity` (which records the check through SQLModel) re-exports every name, and the
commands that only read build the record from rows read without the ORM.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models.lifecycle import IDENTITY_METHODS

#: How an identity can be established (defined with the other life-cycle rules that need no database).
METHODS = IDENTITY_METHODS

VERIFIED = "verified"
WAIVED = "waived"
SETTLED = frozenset({VERIFIED, WAIVED})


@dataclass(frozen=True)
class IdentityRecord:
    """The identity check of one request as it is shown and handed over (no personal data of the requester).

    Attributes:
        method: a key of `METHODS`, or None (waived, or nothing recorded).
        outcome: `verified`, `waived`, or None while pending.
        by: the member of staff who verified it, as they typed their name (waivers: the user who recorded it).
        recorded_by: the operating-system user (or server user) that recorded it.
        at: when it was recorded.
        note: the verifier's note or the waiver's reason.
        asked_at: when identity information was asked for (the clock stands still from then).
        arrived_at: when that information arrived (the clock resumes).
    """

    method: str | None
    outcome: str | None
    by: str | None = None
    recorded_by: str | None = None
    at: datetime | None = None
    note: str | None = None
    asked_at: datetime | None = None
    arrived_at: datetime | None = None

    def as_json(self) -> dict[str, str | None]:
        """The JSON form in `dsr request show --json`, the access report and the deletion certificate."""

        def iso(value: datetime | None) -> str | None:
            return value.astimezone(UTC).isoformat() if value else None

        return {
            "method": self.method,
            "method_description": METHODS.get(self.method or ""),
            "outcome": self.outcome,
            "by": self.by,
            "recorded_by": self.recorded_by,
            "at": iso(self.at),
            "note": self.note,
            "asked_at": iso(self.asked_at),
            "arrived_at": iso(self.arrived_at),
        }

    def sentence(self) -> str:
        """One plain sentence for a reader: how identity was established, by whom and when."""
        when = f" on {self.at.astimezone(UTC):%d %b %Y}" if self.at else ""
        who = f" by {self.by}" if self.by else ""
        if self.outcome == VERIFIED:
            return f"Verified{who}{when}: {METHODS.get(self.method or '', self.method or 'method not recorded')}."
        if self.outcome == WAIVED:
            reason = f" ({self.note})" if self.note else ""
            return f"No identity check was needed{reason}; recorded{who}{when}."
        return "Not recorded."


def os_user() -> str:
    """The authenticated operating-system user of this process (not `DSR_ACTOR`, which anyone can set)."""
    return getpass.getuser()


#: The audit event of a request's intake; its details name the OS user that submitted the request.
SUBMITTED_EVENT = "request.submitted"


def submitter_of(event: Any | None) -> str | None:
    """The OS user named by a request's `request.submitted` audit event (an `audit_events` row of the ORM or of a
    lean read; None for none, or for requests recorded before this was kept)."""
    if event is None:
        return None
    value = json.loads(event.details or "{}").get("submitted_by")
    return value if isinstance(value, str) else None


def recorded_key(request_id: str) -> str:
    """The idempotency key of the signed ledger entry that records a request's identity check."""
    return f"identity:{request_id}:recorded"


def _joined(value: object) -> str | None:
    if isinstance(value, list) and value:
        return "\n".join(str(v) for v in value)
    return None


def identity_record_of(request: Any, entry: Any | None) -> IdentityRecord:
    """The identity check of a `requests` row and its ledger entry (a `proofs.entry.LedgerEntry`, or None when
    nothing was recorded in the ledger)."""
    method, outcome = request.identity_method, request.identity_outcome
    asked, arrived = request.identity_requested_at, request.identity_received_at
    if entry is None:
        return IdentityRecord(method=method, outcome=outcome, asked_at=asked, arrived_at=arrived)
    details = entry.record.details
    by, user = details.get("by"), details.get("os_user")
    return IdentityRecord(
        method=method,
        outcome=outcome,
        by=by if isinstance(by, str) else None,
        recorded_by=user if isinstance(user, str) else None,
        at=entry.at,
        note=_joined(details.get("note")) or _joined(details.get("reason")),
        asked_at=asked,
        arrived_at=arrived,
    )
