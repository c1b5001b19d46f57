"""Legal holds: the configured `[[holds]]` and the `legal_holds` table as one list, and their scope rule.

Plain functions over a SQLModel session; every change writes an audit event in the same transaction.
Subjects are stored as keyed identifier hashes only, never raw identifiers; nothing here reads endpoints.
SQLModel and the tables are imported by the functions that use a session: `Hold`, its scope rule and
`merge_holds` also serve `dsr hold list`'s lean read (`services.case_views`), which has no ORM.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from models.errors import InputError
from models.lean_write import utcnow
from models.settings import HoldSettings, Settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from models.lean_write import Writer
    from models.tables import LegalHold

CONFIG_SOURCE = "config"
CLI_SOURCE = "cli"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REQUEST_ID_RE = re.compile(r"^DSR-\d{4}-\d{4,}$")


@dataclass(frozen=True)
class Hold:
    """One legal hold, from the configuration or the case database.

    Attributes:
        id: the hold's id (unique across both sources).
        reason: why the data must be kept (Art. 17(3)(e)).
        case_reference: the legal case or matter.
        approver: who approved the hold.
        review_date: when the hold must be reviewed.
        subjects: keyed identifier hashes (empty: every subject).
        endpoints: location names (empty: every location).
        paths: glob patterns over laptop paths or S3 keys (empty: every path).
        date_from: first day of session activity in scope (None: open).
        date_to: last day of session activity in scope (None: open).
        source: `config` or `cli`.
        created_at: when it was added (None for configured holds).
        released_at: when it was released (None while active).
        released_by: who released it.
    """

    id: str
    reason: str
    case_reference: str
    approver: str
    review_date: date
    subjects: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    source: str = CONFIG_SOURCE
    created_at: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None

    @property
    def active(self) -> bool:
        """Whether the hold still blocks purge and erasure."""
        return self.released_at is None

    def is_review_due(self, today: date) -> bool:
        """Whether the review date has come (active holds only)."""
        return self.active and today >= self.review_date

    def summary(self, today: date) -> dict[str, Any]:
        """JSON-ready description (ids, counts and dates; subjects only as a count)."""
        return {
            "id": self.id,
            "source": self.source,
            "status": "active" if self.active else "released",
            "reason": self.reason,
            "case_reference": self.case_reference,
            "approver": self.approver,
            "review_date": self.review_date.isoformat(),
            "review_due": self.is_review_due(today),
            "subjects": len(self.subjects),
            "endpoints": list(self.endpoints),
            "paths": list(self.paths),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "created_at": self.created_at.astimezone(UTC).isoformat() if self.created_at else None,
            "released_at": self.released_at.astimezone(UTC).isoformat() if self.released_at else None,
            "released_by": self.released_by,
        }


def _loads(text: str) -> tuple[str, ...]:
    value = json.loads(text or "[]")
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def hold_from_settings(hold: HoldSettings, subjects: Sequence[str] | None = None) -> Hold:
    """The `Hold` of a configured `[[holds]]` entry (`subjects` overrides its resolved subject hashes)."""
    return Hold(
        id=hold.id,
        reason=hold.reason,
        case_reference=hold.case_reference,
        approver=hold.approver,
        review_date=hold.review_date,
        subjects=tuple(hold.subjects if subjects is None else subjects),
        endpoints=tuple(hold.endpoints),
        paths=tuple(hold.paths),
        date_from=hold.date_from,
        date_to=hold.date_to,
        source=CONFIG_SOURCE,
    )


def as_settings(hold: Hold) -> HoldSettings:
    """The hold in the configuration's shape (what `erasure.plan.plan_erasure` takes as `holds`)."""
    return HoldSettings(
        id=hold.id,
        reason=hold.reason,
        case_reference=hold.case_reference,
        approver=hold.approver,
        review_date=hold.review_date,
        subjects=list(hold.subjects),
        endpoints=list(hold.endpoints),
        paths=list(hold.paths),
        date_from=hold.date_from,
        date_to=hold.date_to,
    )


def hold_from_row(row: LegalHold | Any) -> Hold:
    """The `Hold` of a `legal_holds` row (the ORM's, or a lean read's with the same attributes)."""
    return Hold(
        id=row.id,
        reason=row.reason,
        case_reference=row.case_reference,
        approver=row.approver,
        review_date=row.review_date,
        subjects=_loads(row.subjects),
        endpoints=_loads(row.endpoints),
        paths=_loads(row.paths),
        date_from=row.date_from,
        date_to=row.date_to,
        source=row.source,
        created_at=row.created_at,
        released_at=row.released_at,
        released_by=row.released_by,
    )


def subject_hashes_of_request(session: Session, request_id: str) -> list[str]:
    """The keyed hashes of a request's identifiers (what a hold stores instead of the identifiers).

    Raises:
        RequestNotFoundError: no such request.
    """
    from models.cases import get_request, identifiers_of  # noqa: PLC0415 - the ORM only where a session is used

    get_request(session, request_id)
    return sorted({row.keyed_hash for row in identifiers_of(session, request_id)})


def resolve_subjects(session: Session, subjects: Sequence[str]) -> list[str]:
    """Keyed hashes for configured hold subjects: request ids (`DSR-2026-0001`) become that request's
    identifier hashes; anything else is taken as a keyed hash already.

    Raises:
        RequestNotFoundError: a request id that does not exist.
    """
    return subjects_to_hashes(subjects, lambda request_id: subject_hashes_of_request(session, request_id))


def subjects_to_hashes(subjects: Sequence[str], hashes_of_request: Callable[[str], Iterable[str]]) -> list[str]:
    """`resolve_subjects` with the request's identifier hashes looked up by `hashes_of_request`."""
    out: set[str] = set()
    for entry in subjects:
        if _REQUEST_ID_RE.match(entry):
            out.update(hashes_of_request(entry))
        else:
            out.add(entry.strip().lower())
    return sorted(out)


def list_holds(session: Session, settings: Settings, *, include_released: bool = True) -> list[Hold]:
    """Configured holds then database holds, each sorted by id.

    Raises:
        RequestNotFoundError: a configured hold names a request id that does not exist.
    """
    from sqlmodel import col, select  # noqa: PLC0415 - the ORM only where a session is used

    from models.tables import LegalHold  # noqa: PLC0415

    configured = [(h, resolve_subjects(session, h.subjects)) for h in settings.holds]
    rows = session.exec(select(LegalHold).order_by(col(LegalHold.id))).all()
    return merge_holds(configured, rows, include_released=include_released)


def merge_holds(
    configured: Iterable[tuple[HoldSettings, Sequence[str]]], rows: Iterable[Any], *, include_released: bool = True
) -> list[Hold]:
    """Configured holds (each with its resolved subject hashes) sorted by id, then the `legal_holds` rows (read
    in id order), without the released ones unless `include_released`."""
    holds = sorted((hold_from_settings(h, subjects) for h, subjects in configured), key=lambda h: h.id)
    holds.extend(hold_from_row(r) for r in rows if include_released or r.released_at is None)
    return holds


def active_holds(session: Session, settings: Settings) -> list[Hold]:
    """Holds that still block purge and erasure."""
    return list_holds(session, settings, include_released=False)


def find_hold(session: Session, settings: Settings, hold_id: str) -> Hold | None:
    """The hold with this id (configured or in the database), or None."""
    return next((h for h in list_holds(session, settings) if h.id == hold_id), None)


def new_hold_columns(
    settings: Settings,
    *,
    hold_id: str,
    reason: str,
    case_reference: str,
    approver: str,
    review_date: date,
    subjects: Sequence[str] = (),
    endpoints: Sequence[str] = (),
    paths: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    """The checked `legal_holds` row of a new hold, every column (`add_hold` and `add_hold_lean` write it).

    Raises:
        InputError: a bad id or one a configured hold uses, an empty text field, an unknown location or a
            reversed date range.
    """
    if not _ID_RE.match(hold_id):
        raise InputError("--id: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    for option, text in (("--reason", reason), ("--case-reference", case_reference), ("--approver", approver)):
        if not text.strip():
            raise InputError(f"{option} must not be empty", option=option)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InputError("--from must not be after --to", option="--from")
    known = {e.name for e in settings.endpoints} | {s.name for s in settings.stores}
    unknown = sorted(set(endpoints) - known)
    if unknown:
        raise InputError(f"--endpoint: no location named {', '.join(unknown)} in the configuration")
    if any(h.id == hold_id for h in settings.holds):
        raise _exists(hold_id)
    return {
        "id": hold_id,
        "reason": reason.strip(),
        "case_reference": case_reference.strip(),
        "approver": approver.strip(),
        "review_date": review_date,
        "subjects": json.dumps(sorted({s.lower() for s in subjects})),
        "endpoints": json.dumps(sorted(set(endpoints))),
        "paths": json.dumps(list(dict.fromkeys(paths))),
        "date_from": date_from,
        "date_to": date_to,
        "source": CLI_SOURCE,
        "created_at": utcnow(),
        "released_at": None,
        "released_by": None,
    }


def _exists(hold_id: str) -> InputError:
    return InputError(f"a legal hold with id {hold_id!r} exists already", option="--id")


def _added_details(columns: dict[str, Any], subjects: Sequence[str], paths: Sequence[str]) -> dict[str, Any]:
    """The details of the `hold.added` audit event of the new hold `columns`."""
    return {
        "hold_id": columns["id"],
        "case_reference": columns["case_reference"],
        "approver": columns["approver"],
        "review_date": columns["review_date"].isoformat(),
        "subjects": len(set(subjects)),
        "endpoints": json.loads(columns["endpoints"]),
        "paths": len(paths),
        "date_from": columns["date_from"].isoformat() if columns["date_from"] else None,
        "date_to": columns["date_to"].isoformat() if columns["date_to"] else None,
    }


def add_hold(
    session: Session,
    settings: Settings,
    *,
    hold_id: str,
    reason: str,
    case_reference: str,
    approver: str,
    review_date: date,
    subjects: Sequence[str] = (),
    endpoints: Sequence[str] = (),
    paths: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
) -> Hold:
    """Record a new legal hold in the case database.

    Args:
        session: the case database.
        settings: the configuration (to refuse ids used by configured holds and unknown endpoints).
        hold_id: a short id (letters, digits, `.`, `_`, `-`).
        reason: why the data must be kept.
        case_reference: the legal case or matter.
        approver: who approved it.
        review_date: when to review it.
        subjects: keyed identifier hashes (see `subject_hashes_of_request`); empty means every subject.
        endpoints: location names; empty means every location.
        paths: glob patterns over laptop paths; empty means every path.
        date_from: first day of session activity in scope.
        date_to: last day of session activity in scope.

    Raises:
        InputError: a bad or duplicate id, an empty text field, an unknown location or a reversed date range.
    """
    columns = new_hold_columns(
        settings, hold_id=hold_id, reason=reason, case_reference=case_reference, approver=approver,
        review_date=review_date, subjects=subjects, endpoints=endpoints, paths=paths, date_from=date_from,
        date_to=date_to,
    )  # fmt: skip
    from models.cases import record_event  # noqa: PLC0415 - the ORM only where a session is used
    from models.tables import LegalHold  # noqa: PLC0415

    if session.get(LegalHold, hold_id) is not None:
        raise _exists(hold_id)
    row = LegalHold(**columns)
    session.add(row)
    record_event(session, "hold.added", **_added_details(columns, subjects, paths))
    session.flush()
    return hold_from_row(row)


def add_hold_lean(db: Writer, settings: Settings, *, subject_requests: Sequence[str], **hold: Any) -> Hold | None:
    """`add_hold` through a lean write (`models.lean_write`), the subjects named by request id as `dsr hold add`
    gives them (`subject_hashes_of_request`); None, with nothing written, where the ORM path must answer (an
    unknown request, an id in use). Takes `add_hold`'s keyword arguments but `subjects`.

    Raises:
        InputError: as `add_hold`, for the checks that need no database.
    """
    subjects: list[str] = []
    for request_id in subject_requests:
        if not db.rows("requests", "id = ?", (request_id,)):
            return None
        subjects.extend(sorted({r.keyed_hash for r in db.rows("subject_identifiers", "request_id = ?", (request_id,))}))
    columns = new_hold_columns(settings, subjects=subjects, **hold)
    if db.rows("legal_holds", "id = ?", (columns["id"],)):
        return None
    db.insert("legal_holds", columns)
    db.event("hold.added", **_added_details(columns, subjects, hold.get("paths", ())))
    return hold_from_row(SimpleNamespace(**columns))


def release_refusal(settings: Settings, hold_id: str, by: str) -> InputError | None:
    """Why releasing `hold_id` by `by` must be refused before the hold is read (an empty `by`, a configured hold),
    or None: the rule of both paths (`release_hold`, `release_hold_lean`)."""
    if not by.strip():
        return InputError("--by must name who releases the hold", option="--by")
    if any(h.id == hold_id for h in settings.holds):
        return InputError(
            f"legal hold {hold_id!r} is defined in the configuration; remove its [[holds]] entry to release it"
        )
    return None


def _release_columns(by: str, now: datetime | None = None) -> dict[str, Any]:
    """The `legal_holds` columns a release sets."""
    return {"released_at": (now or utcnow()).astimezone(UTC), "released_by": by.strip()}


def release_hold(session: Session, settings: Settings, hold_id: str, *, by: str, now: datetime | None = None) -> Hold:
    """Release a database hold: its items become eligible for purge and erasure on the next run.

    Raises:
        InputError: unknown id, a configured hold (remove it from the configuration instead), an empty
            `by`, or a hold released already.
    """
    refusal = release_refusal(settings, hold_id, by)
    if refusal is not None:
        raise refusal
    from models.cases import record_event  # noqa: PLC0415 - the ORM only where a session is used
    from models.tables import LegalHold  # noqa: PLC0415

    row = session.get(LegalHold, hold_id)
    if row is None:
        raise InputError(f"no legal hold with id {hold_id!r}", hold_id=hold_id)
    if row.released_at is not None:
        raise InputError(f"legal hold {hold_id!r} was released already on {row.released_at.date().isoformat()}")
    for column, value in _release_columns(by, now).items():
        setattr(row, column, value)
    session.add(row)
    record_event(session, "hold.released", hold_id=hold_id, released_by=row.released_by)
    session.flush()
    return hold_from_row(row)


def release_hold_lean(db: Writer, settings: Settings, hold_id: str, *, by: str) -> Hold | None:
    """`dsr hold release` (`find_hold`, then `release_hold`) through a lean write: None, with nothing written, where
    the ORM path must answer (a configured hold naming an unknown request, an unknown, configured or released
    hold, an empty `by`), which then names the problem."""
    unknown: list[str] = []

    def hashes_of_request(request_id: str) -> list[str]:
        if not db.rows("requests", "id = ?", (request_id,)):
            unknown.append(request_id)
        return []

    for configured in settings.holds:
        subjects_to_hashes(configured.subjects, hashes_of_request)
    if unknown or release_refusal(settings, hold_id, by) is not None:
        return None
    released = _release_columns(by)
    # Compare-and-swap: only a hold still active is released (SQLite holds the write lock already).
    if db.update("legal_holds", released, "id = ? AND released_at IS NULL", (hold_id,)) != 1:
        return None
    db.event("hold.released", hold_id=hold_id, released_by=released["released_by"])
    return hold_from_row(db.rows("legal_holds", "id = ?", (hold_id,))[0])


def requests_with_hashes(session: Session, hashes: Collection[str]) -> dict[str, set[str]]:
    """Request ids whose identifiers have any of these keyed hashes, with the hashes each one has."""
    if not hashes:
        return {}
    from sqlmodel import col, select  # noqa: PLC0415 - the ORM only where a session is used

    from models.tables import SubjectIdentifier  # noqa: PLC0415

    rows = session.exec(
        select(SubjectIdentifier.request_id, SubjectIdentifier.keyed_hash).where(
            col(SubjectIdentifier.keyed_hash).in_(list(hashes))
        )
    ).all()
    out: dict[str, set[str]] = {}
    for request_id, keyed in rows:
        out.setdefault(request_id, set()).add(keyed)
    return out


def hold_covers(
    hold: Hold,
    *,
    endpoint: str,
    path: str,
    session_dates: tuple[date, date] | None,
    subject_hashes: Collection[str] | None,
) -> bool:
    """Whether a hold's scope covers one item (docs/legal-rules.md: a hold blocks only within its scope).

    Every scope dimension that the hold sets must hold; an empty dimension covers everything. Where the
    item's side is unknown the hold covers it (a hold errs on keeping).

    Args:
        hold: the hold (a released hold covers nothing).
        endpoint: the location name.
        path: the laptop path (or S3 key), matched with `fnmatch` (case-sensitive, `*` crosses `/`).
        session_dates: first and last day of the item's session activity; None when unknown.
        subject_hashes: keyed hashes of the subjects the item concerns; None when they could not be
            determined.
    """
    if not hold.active:
        return False
    if hold.endpoints and endpoint not in hold.endpoints:
        return False
    if hold.paths and not any(fnmatch.fnmatchcase(path, glob) for glob in hold.paths):
        return False
    if (hold.date_from or hold.date_to) and session_dates is not None:
        first, last = session_dates
        if hold.date_from is not None and last < hold.date_from:
            return False
        if hold.date_to is not None and first > hold.date_to:
            return False
    if hold.subjects and subject_hashes is not None:
        wanted = {s.lower() for s in hold.subjects}
        if not wanted & {s.lower() for s in subject_hashes}:
            return False
    return True
