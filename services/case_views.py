"""What the commands that only read show (`dsr request show`, `dsr request plan`, `dsr hold list`), read with
`models.lean_read` (the DB-API driver, no SQLAlchemy or SQLModel) where the case database allows it.

Every function gives None where the lean read cannot answer (a database to create or migrate, an unknown id,
a driver error): the caller then takes the ORM path, which gives the same result or the error. The documents
are built by the same functions as on the ORM path (`models.lifecycle`, `models.identity_record`,
`models.holds`, `proofs.entry`, and the plan's state and approval below, which `services.erasure` uses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from models.holds import Hold, merge_holds, subjects_to_hashes
from models.identity_record import identity_record_of, recorded_key
from models.lean_read import Reader, Row, lean_read
from models.lifecycle import ITEM_RELEASED, RELEASE_CHECK, release_check_document, released_of, request_detail_document
from models.settings import Settings
from proofs.entry import LedgerEntry, entry_document


@dataclass(frozen=True, slots=True)
class PlanState:
    """Where the request's erasure plan stands (no personal data)."""

    request_id: str
    digest: str | None
    decision: str | None
    summary: tuple[dict[str, Any], ...]
    executed: bool


@dataclass(frozen=True, slots=True)
class Approval:
    """A reviewer's decision as the ledger records it (no personal data of the subject)."""

    request_id: str
    plan_digest: str
    decision: str
    reviewer: str
    authenticated_user: str
    channel: str
    at: datetime
    note: str | None
    submitted_by: str | None
    ledger_seq: int | None
    authentication: str = ""
    """How the decision was authenticated (`models.server_auth`: os_login, server_shared_credential,
    server_without_authentication); empty for decisions recorded before this was kept."""


def approval_key(request_id: str, digest: str) -> str:
    """The idempotency key of the signed ledger entry of the decision on the plan with this digest."""
    return f"approval:{request_id}:{digest}"


def plan_state_of(request_id: str, record: Any | None) -> PlanState:
    """The state of an `erasure_plans` row (None: no plan yet)."""
    if record is None:
        return PlanState(request_id, None, None, (), False)
    return PlanState(
        request_id,
        record.digest,
        record.decision,
        tuple(json.loads(record.summary_json)),
        record.executed_at is not None,
    )


def approval_from(request_id: str, record: Any, entry: LedgerEntry | None) -> Approval | None:
    """The decision on the plan `record` as its ledger `entry` records it (None: no decision recorded)."""
    if entry is None:
        return None
    details = entry.record.details

    def text(key: str) -> str | None:
        value = details.get(key)
        return value if isinstance(value, str) else None

    note = details.get("note")
    return Approval(
        request_id=request_id,
        plan_digest=text("plan_digest") or record.digest,
        decision=entry.record.outcome,
        reviewer=text("reviewer") or "",
        authenticated_user=text("authenticated_user") or "",
        channel=text("channel") or "",
        at=entry.at,
        note="\n".join(str(n) for n in note) if isinstance(note, list) and note else None,
        submitted_by=text("submitted_by"),
        ledger_seq=entry.seq,
        authentication=text("authentication") or "",
    )


def _entry(db: Reader, key: str) -> LedgerEntry | None:
    rows = db.rows("ledger_entries", "idempotency_key = ?", (key,))
    return LedgerEntry.from_dict(entry_document(rows[0])) if rows else None


def _request(db: Reader, request_id: str) -> Row | None:
    rows = db.rows("requests", "id = ?", (request_id,))
    return rows[0] if rows else None


def request_detail(settings: Settings, request_id: str, today: date) -> dict[str, Any] | None:
    """The JSON object of `dsr request show --json`, identity included (None: take the ORM path)."""

    def read(db: Reader) -> dict[str, Any] | None:
        request = _request(db, request_id)
        if request is None:
            return None
        checks = db.rows(
            "audit_events", "request_id = ? AND action = ?", (request_id, RELEASE_CHECK), order="id DESC", limit=1
        )
        released = db.rows("audit_events", "request_id = ? AND action = ?", (request_id, ITEM_RELEASED))
        detail = request_detail_document(
            request,
            today,
            identifier_kinds=[r.kind for r in db.rows("subject_identifiers", "request_id = ?", (request_id,))],
            scans=db.rows("location_scans", "request_id = ?", (request_id,), order="location"),
            release_check=release_check_document(checks[0] if checks else None, released_of(released)),
        )
        entry = _entry(db, recorded_key(request_id)) if request.identity_outcome else None
        detail["identity"] = identity_record_of(request, entry).as_json()
        return detail

    return lean_read(settings.database.url, read)


def plan_view(settings: Settings, request_id: str) -> tuple[PlanState, Approval | None] | None:
    """The newest erasure plan's state and the decision on it, as `dsr request plan` shows them (None: take the
    ORM path, which also names an unknown request)."""

    def read(db: Reader) -> tuple[PlanState, Approval | None] | None:
        if _request(db, request_id) is None:
            return None
        plans = db.rows("erasure_plans", "request_id = ?", (request_id,), order="id DESC", limit=1)
        record = plans[0] if plans else None
        if record is None:
            return plan_state_of(request_id, None), None
        entry = _entry(db, approval_key(request_id, record.digest))
        return plan_state_of(request_id, record), approval_from(request_id, record, entry)

    return lean_read(settings.database.url, read)


def holds(settings: Settings) -> list[Hold] | None:
    """Configured then added legal holds, as `dsr hold list` shows them (None: take the ORM path, which also names
    a configured hold's unknown request)."""

    def read(db: Reader) -> list[Hold] | None:
        unknown: list[str] = []

        def hashes_of_request(request_id: str) -> list[str]:
            if _request(db, request_id) is None:
                unknown.append(request_id)
            return sorted({r.keyed_hash for r in db.rows("subject_identifiers", "request_id = ?", (request_id,))})

        configured = [(h, subjects_to_hashes(h.subjects, hashes_of_request)) for h in settings.holds]
        if unknown:
            return None
        return merge_holds(configured, db.rows("legal_holds", order="id"))

    return lean_read(settings.database.url, read)
