"""The lean reads of `dsr request show`, `dsr request plan` and `dsr hold list` (`services.case_views`, no
SQLAlchemy) give exactly what the ORM path gives, on SQLite and PostgreSQL, and step aside (None) where the ORM
path has to answer (an unknown request, a database to create)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from models import cases
from models.db import dispose_engines, session_scope
from models.holds import add_hold, list_holds, release_hold
from models.settings import Settings, load_settings
from models.types import RequestKind
from services import case_views, erasure
from services.identity import identity_document, identity_record
from services.intake import record_request
from simulation.fleet import simulate_fleet

HOLD = """
[[holds]]
id = "HOLD-CONFIG"
reason = "Litigation"
case_reference = "LIT-1"
approver = "Counsel"
review_date = "2027-06-30"
subjects = ["{rid}", "ABCDEF0123"]
endpoints = ["laptop-01"]
date_from = "2025-01-01"
"""


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Path]:
    """A one-laptop fleet whose case database is `database_url` (DSR_DATABASE_URL)."""
    for var in ("DSR_CONFIG", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY", "DSR_ACTOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    simulate_fleet(tmp_path / "fleet", endpoints=1, size_mb=0.02, seed=5)
    yield tmp_path / "fleet" / "dsr.toml"
    dispose_engines()


def _erasure(settings: Settings, emails: list[str], **identity: str) -> tuple[str, str]:
    rid = record_request(settings, kind=RequestKind.ERASURE, emails=emails, channel="email", **identity)
    for location in erasure.begin_erasure(settings, rid):
        erasure.discover_location(settings, rid, location)
    digest = erasure.make_plan(settings, rid).digest
    assert digest is not None
    return rid, digest


def _cases(config: Path) -> tuple[Settings, list[str]]:
    """Requests in every state the views show: decided and pending plans, a verified identity with its ledger
    entry, one waiting for identity with a blocked and partly released release check, and legal holds."""
    settings = load_settings(config)
    emails = json.loads((config.parent / "truth.json").read_text(encoding="utf-8"))["subjects"][0]["emails"]
    decided, digest = _erasure(settings, emails, identity_waiver="from the employee's own account")
    erasure.decide(settings, decided, approved=True, reviewer="Dana Reviewer", digest=digest, note="ok\nboth lines")
    pending, _ = _erasure(settings, emails, identity_method="email_challenge", identity_by="Sam", identity_note="n")
    waiting = record_request(
        settings, kind=RequestKind.ACCESS, emails=["other@example.invalid"], channel="web-form",
        received_at=datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
    )  # fmt: skip
    items = [{"item": "R-0000000001", "file": "a.json", "place": "line 3", "reason": "card", "source": "check"}]
    items.append({**items[0], "item": "R-0000000002"})
    with session_scope(settings.database.url) as session:
        cases.record_event(session, cases.RELEASE_CHECK, request_id=waiting, outcome="passed", items=[])
        cases.record_event(session, cases.RELEASE_CHECK, request_id=waiting, outcome="blocked", items=items)
    with session_scope(settings.database.url) as session:
        cases.release_item(session, waiting, "R-0000000002", reason="a test number")
        cases.extend_request(session, settings, waiting, reason="complex", now=datetime(2026, 3, 5, tzinfo=UTC))
        for n in (2, 1):
            add_hold(
                session, settings, hold_id=f"LH-{n}", reason="why\nnot", case_reference="C", approver="A",
                review_date=date(2026, 12, 1), subjects=["ff00"], paths=["/Users/*/x/**"], date_to=date(2026, 1, n),
            )  # fmt: skip
        release_hold(session, settings, "LH-2", by="Legal")
    with config.open("a", encoding="utf-8") as toml:
        toml.write(HOLD.format(rid=decided))
    return load_settings(config), [decided, pending, waiting]


def test_show_plan_and_holds_match_the_orm(fleet: Path) -> None:
    """Every request's `show` document (identity and release check included), every plan's state and decision,
    and the configured and added holds are the ORM path's, for several days."""
    settings, ids = _cases(fleet)
    for today in (date(2026, 3, 10), date(2026, 7, 1)):
        for rid in ids:
            with session_scope(settings.database.url) as session:
                orm = cases.request_detail(session, cases.get_request(session, rid), today)
            orm["identity"] = identity_document(identity_record(settings, rid))
            lean = case_views.request_detail(settings, rid, today)
            assert lean == orm
    shown = [case_views.request_detail(settings, rid, date(2026, 3, 10)) for rid in ids]
    assert [d["identity"]["outcome"] for d in shown if d] == ["waived", "verified", None]
    assert shown[2] and shown[2]["release_check"]["released"] == 1 and shown[2]["extended_due"]
    for rid in ids:
        assert case_views.plan_view(settings, rid) == (
            erasure.plan_state(settings, rid),
            erasure.approval_of(settings, rid),
        )
    decided = case_views.plan_view(settings, ids[0])
    assert decided and decided[1] and decided[1].note == "ok\nboth lines"
    with session_scope(settings.database.url) as session:
        orm_holds = list_holds(session, settings)
    assert case_views.holds(settings) == orm_holds
    assert [h.id for h in orm_holds] == ["HOLD-CONFIG", "LH-1", "LH-2"] and len(orm_holds[0].subjects) > 1


def test_unknown_ids_are_left_to_the_orm(fleet: Path) -> None:
    """An unknown request (shown, planned, or named by a configured hold) gives None: the ORM path names it."""
    settings = load_settings(fleet)
    record_request(settings, kind=RequestKind.ACCESS, emails=["someone@example.invalid"], channel="email")
    assert case_views.request_detail(settings, "DSR-2026-9999", date(2026, 3, 1)) is None
    assert case_views.plan_view(settings, "DSR-2026-9999") is None
    assert case_views.holds(settings) == []
    with fleet.open("a", encoding="utf-8") as toml:
        toml.write(HOLD.format(rid="DSR-2026-9999"))
    assert case_views.holds(load_settings(fleet)) is None


def test_the_views_import_no_orm() -> None:
    """Importing the views loads neither SQLAlchemy nor SQLModel nor the tables (what made the commands slow)."""
    probe = (
        "import sys, services.case_views; print(sorted({'sqlalchemy', 'sqlmodel', 'models.tables'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
