"""Legal holds: scope rule, adding, listing and releasing (with audit events, subjects only as hashes)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from models import cases
from models.db import session_scope
from models.errors import InputError, RequestNotFoundError
from models.holds import (
    Hold,
    active_holds,
    add_hold,
    hold_covers,
    list_holds,
    release_hold,
    subject_hashes_of_request,
)
from models.identifiers import validate_identifier
from models.settings import EndpointSettings, HoldSettings, Settings
from models.tables import AuditEvent, LegalHold
from models.types import IdentifierKind, RequestKind

KEY = b"k" * 32
MKEY = b"m" * 32
SETTINGS = Settings(
    endpoints=[
        EndpointSettings(name="laptop-01", url="file:///tmp/l1"),
        EndpointSettings(name="laptop-02", url="file:///tmp/l2"),
    ],
    holds=[
        HoldSettings(id="CFG-1", reason="audit", case_reference="C-1", approver="dpo", review_date=date(2026, 1, 1))
    ],
)
BASE = Hold("H", "reason", "case", "approver", date(2027, 1, 1))
SESSION = (date(2025, 3, 1), date(2025, 3, 10))


@pytest.mark.parametrize(
    ("changes", "kwargs", "covered"),
    [
        ({}, {}, True),
        ({"endpoints": ("laptop-02",)}, {}, False),
        ({"endpoints": ("laptop-01",)}, {}, True),
        ({"paths": ("/Users/*/Library/*",)}, {}, True),
        ({"paths": ("/home/*",)}, {}, False),
        ({"date_from": date(2025, 3, 10)}, {}, True),
        ({"date_from": date(2025, 3, 11)}, {}, False),
        ({"date_to": date(2025, 3, 1)}, {}, True),
        ({"date_to": date(2025, 2, 28)}, {}, False),
        ({"date_to": date(2025, 2, 28)}, {"session_dates": None}, True),
        ({"subjects": ("ab" * 32,)}, {"subject_hashes": {"AB" * 32}}, True),
        ({"subjects": ("ab" * 32,)}, {"subject_hashes": {"cd" * 32}}, False),
        ({"subjects": ("ab" * 32,)}, {"subject_hashes": None}, True),
        ({"released_at": datetime(2026, 1, 1, tzinfo=UTC)}, {}, False),
    ],
    ids=[
        "empty-scope",
        "other-endpoint",
        "same-endpoint",
        "glob-match",
        "glob-miss",
        "from-on-last-day",
        "from-after-session",
        "to-on-first-day",
        "to-before-session",
        "unknown-dates-kept",
        "subject-match",
        "subject-miss",
        "unknown-subjects-kept",
        "released",
    ],
)
def test_hold_covers_scope(changes: dict[str, object], kwargs: dict[str, object], covered: bool) -> None:
    """A hold covers an item only within every scope dimension it sets; unknowns err on keeping."""
    hold = Hold(**{**BASE.__dict__, **changes})  # type: ignore[arg-type]
    args: dict[str, object] = {
        "endpoint": "laptop-01",
        "path": "/Users/za/Library/Application Support/Claude/x.json",
        "session_dates": SESSION,
        "subject_hashes": set(),
        **kwargs,
    }
    assert hold_covers(hold, **args) is covered  # type: ignore[arg-type]


def _request(url: str) -> str:
    with session_scope(url) as session:
        ids = [validate_identifier(IdentifierKind.EMAIL, "ines.example@mail.invalid")]
        req = cases.submit_request(
            session,
            SETTINGS,
            kind=RequestKind.ACCESS,
            identifiers=ids,
            hmac_key=KEY,
            master_key=MKEY,
            received_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
        return req.id


def test_add_list_release_with_audit_events(database_url: str) -> None:
    """Adding and releasing a hold are audited; list shows config and DB holds with status and review."""
    request_id = _request(database_url)
    with session_scope(database_url) as session:
        hashes = subject_hashes_of_request(session, request_id)
        hold = add_hold(
            session,
            SETTINGS,
            hold_id="LH-1",
            reason="litigation hold",
            case_reference="CASE-9",
            approver="legal counsel",
            review_date=date(2027, 6, 1),
            subjects=hashes,
            endpoints=["laptop-01"],
            paths=["/Users/*"],
            date_from=date(2025, 1, 1),
        )
        assert hold.active and hold.subjects == tuple(hashes)
    with session_scope(database_url) as session:
        row = session.get(LegalHold, "LH-1")
        assert row is not None
        assert "ines" not in row.subjects and json.loads(row.subjects) == hashes
        holds = list_holds(session, SETTINGS)
        assert [h.id for h in holds] == ["CFG-1", "LH-1"]
        summaries = {h.id: h.summary(date(2026, 11, 1)) for h in holds}
        assert summaries["CFG-1"]["review_due"] is True
        assert summaries["LH-1"]["review_due"] is False
        assert summaries["LH-1"]["subjects"] == 1
        released = release_hold(session, SETTINGS, "LH-1", by="legal counsel")
        assert not released.active
    with session_scope(database_url) as session:
        assert [h.id for h in active_holds(session, SETTINGS)] == ["CFG-1"]
        assert [h.summary(date(2026, 11, 1))["status"] for h in list_holds(session, SETTINGS)] == [
            "active",
            "released",
        ]
        events = session.exec(select(AuditEvent).where(AuditEvent.action.startswith("hold."))).all()  # type: ignore[attr-defined]
        assert [e.action for e in events] == ["hold.added", "hold.released"]
        assert all("ines" not in e.details for e in events)


def test_invalid_changes_are_refused(database_url: str) -> None:
    """Duplicate ids, unknown endpoints, reversed ranges and config or unknown holds raise InputError."""
    with session_scope(database_url) as session:
        common = {"reason": "r", "case_reference": "c", "approver": "a", "review_date": date(2027, 1, 1)}
        with pytest.raises(InputError, match="exists already"):
            add_hold(session, SETTINGS, hold_id="CFG-1", **common)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="no location named"):
            add_hold(session, SETTINGS, hold_id="X", endpoints=["nowhere"], **common)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="--from"):
            add_hold(
                session,
                SETTINGS,
                hold_id="Y",
                date_from=date(2026, 1, 2),
                date_to=date(2026, 1, 1),
                **common,  # type: ignore[arg-type]
            )
        with pytest.raises(InputError, match="configuration"):
            release_hold(session, SETTINGS, "CFG-1", by="x")
        with pytest.raises(InputError, match="no legal hold"):
            release_hold(session, SETTINGS, "nope", by="x")
        with pytest.raises(RequestNotFoundError):
            subject_hashes_of_request(session, "DSR-2026-9999")


def test_as_settings_feeds_the_erasure_planner_rule() -> None:
    """A database hold converted with `as_settings` scopes erasure like the hold itself does."""
    from models.holds import as_settings, hold_from_settings

    hold = Hold(**{**BASE.__dict__, "endpoints": ("laptop-01",), "paths": ("/Users/*",), "subjects": ("ab" * 32,)})  # type: ignore[arg-type]
    config = hold_from_settings(as_settings(hold))
    day = (date(2025, 3, 5), date(2025, 3, 5))
    args = {"path": "/Users/za/x.json", "session_dates": day}
    assert hold_covers(config, endpoint="laptop-01", subject_hashes={"ab" * 32}, **args)  # type: ignore[arg-type]
    assert not hold_covers(config, endpoint="laptop-01", subject_hashes={"cd" * 32}, **args)  # type: ignore[arg-type]
    assert not hold_covers(config, endpoint="laptop-02", subject_hashes={"ab" * 32}, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "end", "dates", "covered"),
    [
        (date(2025, 4, 1), date(2025, 4, 30), (date(2025, 3, 1), date(2025, 3, 31)), False),
        (date(2025, 2, 1), date(2025, 2, 28), (date(2025, 3, 1), date(2025, 3, 31)), False),
        (date(2025, 3, 20), date(2025, 4, 30), (date(2025, 3, 1), date(2025, 3, 31)), True),
        (date(2025, 2, 1), date(2025, 3, 5), (date(2025, 3, 1), date(2025, 3, 31)), True),
        (date(2025, 3, 10), date(2025, 3, 12), (date(2025, 3, 1), date(2025, 3, 31)), True),
        (date(2025, 2, 1), date(2025, 5, 1), (date(2025, 3, 1), date(2025, 3, 31)), True),
        (date(2025, 4, 1), date(2025, 4, 30), None, True),
    ],
    ids=[
        "session-before-hold",
        "session-after-hold",
        "overlap-start",
        "overlap-end",
        "hold-inside",
        "session-inside",
        "unknown-dates-kept",
    ],
)
def test_hold_date_rule_is_overlap(start: date, end: date, dates: tuple[date, date] | None, covered: bool) -> None:
    """The one hold rule: a hold covers an item whose activity period overlaps the hold's; unknown dates keep."""
    hold = Hold(**{**BASE.__dict__, "date_from": start, "date_to": end})  # type: ignore[arg-type]
    assert hold_covers(hold, endpoint="laptop-01", path="/x", session_dates=dates, subject_hashes=set()) is covered
