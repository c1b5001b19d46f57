"""Request lifecycle on the case database (SQLite and PostgreSQL): intake, transitions, extensions, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from models import cases
from models.db import session_scope
from models.errors import DeadlinePassedError, InputError, InvalidTransitionError, RequestNotFoundError
from models.identifiers import validate_identifier
from models.lifecycle import is_overdue
from models.settings import Settings
from models.tables import AuditEvent, Request, SubjectIdentifier
from models.types import IdentifierKind, RequestKind, RequestStatus

KEY = b"k" * 32
MKEY = b"m" * 32
SETTINGS = Settings()


def _submit(url: str, received: datetime) -> str:
    with session_scope(url) as session:
        ids = [
            validate_identifier(IdentifierKind.EMAIL, "Zoe.Angstrom@Example.invalid"),
            validate_identifier(IdentifierKind.PHONE, "+44 1632 960123"),
        ]
        request = cases.submit_request(
            session,
            SETTINGS,
            kind=RequestKind.ACCESS,
            identifiers=ids,
            hmac_key=KEY,
            master_key=MKEY,
            received_at=received,
        )
        return request.id


def test_submit_records_dates_identifiers_and_audit(database_url: str) -> None:
    """A request gets a sequential id, legal dates, normalised and hashed identifiers, and an audit event."""
    first = _submit(database_url, datetime(2025, 1, 31, 23, 59, tzinfo=UTC))
    second = _submit(database_url, datetime(2025, 2, 3, 9, 0, tzinfo=UTC))
    assert (first, second) == ("DSR-2025-0001", "DSR-2025-0002")
    with session_scope(database_url) as session:
        request = cases.get_request(session, first)
        assert (request.due_on, request.status) == (date(2025, 2, 28), "identity_pending")
        idents = {i.kind: i for i in cases.identifiers_of(session, first)}
        assert "zoe" not in (idents["email"].value or "") and "angstrom" not in (idents["email"].normalized or "")
        plain = dict(cases.decrypted_identifiers(session, first, MKEY))
        assert plain == {"email": "Zoe.Angstrom@Example.invalid", "phone": "+44 1632 960123"}
        assert len(idents["email"].keyed_hash) == 64 and "zoe" not in idents["email"].keyed_hash
        events = session.exec(select(AuditEvent).where(AuditEvent.request_id == first)).all()
        assert [e.action for e in events] == ["request.submitted"]
        assert "zoe" not in events[0].details.lower() and "1632" not in events[0].details


def test_illegal_transition_leaves_row_unchanged(database_url: str) -> None:
    """Completing a request that was never worked on is refused and nothing changes, no audit event."""
    rid = _submit(database_url, datetime(2025, 1, 6, tzinfo=UTC))
    with pytest.raises(InvalidTransitionError, match="identity_pending to completed"), session_scope(database_url) as s:
        cases.transition(s, cases.get_request(s, rid), RequestStatus.COMPLETED, action="x")
    with session_scope(database_url) as s:
        assert cases.get_request(s, rid).status == "identity_pending"
        assert len(s.exec(select(AuditEvent).where(AuditEvent.request_id == rid)).all()) == 1


def test_lifecycle_to_completed_and_closed(database_url: str) -> None:
    """The documented path reaches completed, sets closed_at, and a closed request cannot be withdrawn."""
    rid = _submit(database_url, datetime(2025, 1, 6, tzinfo=UTC))
    with session_scope(database_url) as s:
        r = cases.get_request(s, rid)
        for status in (RequestStatus.IN_PROGRESS, RequestStatus.AWAITING_APPROVAL, RequestStatus.EXECUTING):
            cases.transition(s, r, status, action="t")
        cases.transition(s, r, RequestStatus.COMPLETED, action="t")
        assert r.closed_at is not None
    with pytest.raises(InvalidTransitionError), session_scope(database_url) as s:
        cases.withdraw_request(s, rid)


def test_extension_within_first_month(database_url: str) -> None:
    """An extension notified before the first deadline sets the three-month date."""
    rid = _submit(database_url, datetime(2025, 1, 31, 10, tzinfo=UTC))
    with session_scope(database_url) as s:
        r = cases.extend_request(
            s,
            SETTINGS,
            rid,
            reason="complex request",
            notified_at=datetime(2025, 2, 20, tzinfo=UTC),
            now=datetime(2025, 2, 20, tzinfo=UTC),
        )
        assert r.extended_due_on == date(2025, 4, 30)


def test_extension_after_deadline_is_refused_and_nothing_written(database_url: str) -> None:
    """After the first deadline the extension is refused, no extended date is shown, no audit event added."""
    rid = _submit(database_url, datetime(2025, 1, 31, 10, tzinfo=UTC))
    with pytest.raises(DeadlinePassedError, match="overdue"), session_scope(database_url) as s:
        cases.extend_request(s, SETTINGS, rid, reason="late", now=datetime(2025, 3, 1, tzinfo=UTC))
    with session_scope(database_url) as s:
        r = cases.get_request(s, rid)
        assert r.extended_due_on is None
        assert is_overdue(r, date(2025, 3, 1))
        assert len(s.exec(select(AuditEvent).where(AuditEvent.request_id == rid)).all()) == 1


def test_refusal_needs_known_ground(database_url: str) -> None:
    """A refusal records a known Art. 12(5) ground; an unknown ground is refused without change."""
    rid = _submit(database_url, datetime(2025, 1, 6, tzinfo=UTC))
    with pytest.raises(InputError, match="manifestly_unfounded"), session_scope(database_url) as s:
        cases.refuse_request(s, rid, ground="because", reason="x")
    with session_scope(database_url) as s:
        cases.refuse_request(s, rid, ground="excessive", reason="fifth identical request this month")
    with session_scope(database_url) as s:
        r = cases.get_request(s, rid)
        assert (r.status, r.refusal_ground) == ("refused", "excessive")


def test_unknown_request(database_url: str) -> None:
    """An unknown id raises RequestNotFoundError naming the id."""
    with pytest.raises(RequestNotFoundError, match="DSR-1999-0001"), session_scope(database_url) as s:
        cases.get_request(s, "DSR-1999-0001")


def test_submit_without_identifiers_writes_nothing(database_url: str) -> None:
    """A request without identifiers is refused and no row is written."""
    with pytest.raises(InputError), session_scope(database_url) as s:
        cases.submit_request(s, SETTINGS, kind=RequestKind.ACCESS, identifiers=[], hmac_key=KEY, master_key=MKEY)
    with session_scope(database_url) as s:
        assert s.exec(select(Request)).all() == []
        assert s.exec(select(SubjectIdentifier)).all() == []


def test_concurrent_location_sync_does_not_collide(database_url: str) -> None:
    """Flows starting at once sync the same locations concurrently: no unique-constraint error, one row each."""
    from concurrent.futures import ThreadPoolExecutor

    from models.settings import settings_from_dict
    from models.tables import Location

    settings = settings_from_dict(
        {"endpoints": [{"name": f"laptop-{i}", "url": f"file:///srv/laptop-{i}"} for i in range(20)]}
    )

    def sync(_: int) -> None:
        with session_scope(database_url) as session:
            cases.sync_locations(session, settings)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(sync, range(12)))
    with session_scope(database_url) as session:
        assert len(session.exec(select(Location)).all()) == 20
