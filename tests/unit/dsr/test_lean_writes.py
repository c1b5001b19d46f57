"""The commands that write through `models.lean_write` (`dsr request submit|approve`, `dsr hold add|release`,
`dsr ledger head|export`) leave exactly the rows the ORM path leaves, on SQLite and PostgreSQL: every column of
every table, as stored, from the same seeded database and clock. Their refusals give the ORM path's one-line error
and write what it writes."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import dsr.cli_ledger  # noqa: F401 - imported before a test patches what it imports
import models.tables  # noqa: F401 - registers every table
import proofs.lean_store  # noqa: F401
from models.cases import record_event
from models.db import dispose_engines, get_engine, session_scope
from models.holds import add_hold
from models.tables import ErasurePlanRecord, Location, Request, SubjectIdentifier
from proofs.entry import LedgerAction, ProofRecord
from proofs.ledger import open_database_ledger
from proofs.signing import load_signing_key
from tests.unit.dsr.conftest import Invoke, Outcome, assert_clean_failure

FIXED = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)

CONFIG = """
[controller]
name = "Example Ltd"

[[endpoints]]
name = "laptop-01"
url = "file:///srv/fleet/laptop-01"
os = "macos"
group = "engineering"

[[stores]]
name = "backups"
url = "s3://backups/laptops/"

[[holds]]
id = "HOLD-CONFIG"
reason = "litigation"
case_reference = "LIT-1"
approver = "General Counsel"
review_date = "2027-06-30"
"""


class _FixedClock(datetime):
    """`datetime` whose `now` is `FIXED` (the ledger's default clock reads `datetime.now(UTC)`)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Any:
        return FIXED if tz is not None else FIXED.replace(tzinfo=None)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration with one endpoint, one store and one configured hold; a fixed clock and actor."""
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "dsr.toml"
    path.write_text(CONFIG, encoding="utf-8")
    load_signing_key(tmp_path / ".dsr" / "ledger-signing.pem", create=True)
    monkeypatch.setenv("DSR_CONFIG", str(path))
    monkeypatch.setenv("DSR_ACTOR", "tester")
    for module in ("models.lean_write", "models.holds", "models.cases", "services.approval", "models.new_request"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: FIXED)
    # A new request's data key and nonces, made repeatable so that both paths' sealed identifiers can be compared.
    monkeypatch.setattr("models.new_request.new_key", lambda: b"k" * 32)
    monkeypatch.setattr("models.crypto.os.urandom", lambda n: b"\x01" * n)
    monkeypatch.setattr("proofs.ledger.datetime", _FixedClock)
    return path


def _fresh(url: str, tmp_path: Path, tag: str) -> str:
    """An empty, migrated case database: a new SQLite file, or the PostgreSQL database emptied (ids restarted)."""
    dispose_engines()
    if url.startswith("sqlite"):
        for suffix in (".db", ".db-wal", ".db-shm"):
            (tmp_path / f"{tag}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{tmp_path / tag}.db"
        get_engine(url)
        return url
    tables = ", ".join(t for t in SQLModel.metadata.tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


def _seed(url: str, config: Path) -> None:
    """A request with two identifiers, three erasure requests whose plans await a decision (awaiting approval, one
    of them submitted by this OS user, and one whose status does not allow it), an added hold and its audit event,
    a location the configuration no longer names and one whose address changed, and a ledger of five entries of
    which three are sealed: written through the ORM with the fixed clock."""
    from models.settings import load_settings

    settings = load_settings(config)
    with session_scope(url) as session:
        session.add(
            Request(
                id="DSR-2026-0001", kind="access", status="identity_pending", received_at=FIXED, calendar="x",
                algorithm_version="1", due_on=date(2026, 4, 4), target_on=date(2026, 3, 30), created_at=FIXED,
                updated_at=FIXED,
            )
        )  # fmt: skip
        for rid, status, digest, submitter in (
            ("DSR-2026-0002", "awaiting_approval", "a" * 64, "the-submitter"),
            ("DSR-2026-0003", "in_progress", "b" * 64, "the-submitter"),
            ("DSR-2026-0004", "awaiting_approval", "d" * 64, getpass.getuser()),
        ):
            session.add(
                Request(
                    id=rid, kind="erasure", status=status, received_at=FIXED, calendar="x", algorithm_version="1",
                    due_on=date(2026, 4, 4), target_on=date(2026, 3, 30), created_at=FIXED, updated_at=FIXED,
                )
            )  # fmt: skip
            session.flush()
            session.add(
                ErasurePlanRecord(request_id=rid, digest=digest, plan_json="{}", summary_json="[]", created_at=FIXED)
            )
            record_event(session, "request.submitted", request_id=rid, submitted_by=submitter)
        session.add(Location(name="retired", kind="endpoint", url="file:///old", synced_at=FIXED))
        session.add(Location(name="laptop-01", kind="endpoint", url="file:///moved", os="linux", synced_at=FIXED))
        session.flush()
        for n in (2, 1):
            session.add(SubjectIdentifier(request_id="DSR-2026-0001", kind="email", keyed_hash=f"{n}" * 64))
        add_hold(
            session, settings, hold_id="LH-OLD", reason="litigation", case_reference="C-1", approver="Legal",
            review_date=date(2027, 1, 1), paths=["/Users/*/x"],
        )  # fmt: skip
    ledger = open_database_ledger(url, signing_key=config.parent / ".dsr" / "ledger-signing.pem", env_var=None)
    for n in range(5):
        ledger.append(
            ProofRecord(action=LedgerAction.PURGE, location="laptop-01", path=f"/p/{n}"), idempotency_key=f"k{n}"
        )
        if n == 2:
            ledger.seal()
    dispose_engines()


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as stored (the driver's values, no ORM conversion), in primary-key order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with get_engine(url).connect() as conn:
        for name, table in SQLModel.metadata.tables.items():
            order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
            rows[name] = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {name} ORDER BY {order}"))]  # noqa: S608 - fixed names
    dispose_engines()
    return rows


Rows = dict[str, list[tuple[Any, ...]]]


@dataclass
class Run:
    """One command on a freshly seeded database: its outcome, the rows before and after, and the outcome of the
    command run after it (if any)."""

    outcome: Outcome
    before: Rows
    after: Rows
    again: Outcome | None = None


@pytest.fixture
def run(
    config: Path, database_url: str, tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """`run(path, *args, again=())`: `dsr ARGS` (then `dsr AGAIN`) on a freshly seeded database through the lean
    path (`lean`: the ORM must not be touched), the ORM path (`orm`: the lean write steps aside) or whichever
    answers (`auto`)."""

    def _run(path: str, *args: str, again: tuple[str, ...] = ()) -> Run:
        url = _fresh(database_url, tmp_path, path)
        _seed(url, config)
        before = _snapshot(url)
        with monkeypatch.context() as patch:
            patch.setenv("DSR_DATABASE_URL", url)
            if path == "lean":
                patch.setattr("models.db.get_engine", _no_orm)
            elif path == "orm":
                patch.setattr("models.lean_write.lean_write", lambda url, write: None)
                patch.setattr("dsr.cli_ledger.lean_ledger_store", lambda url: None)
            result = invoke(*(a.replace("{tmp}", str(tmp_path / path)) for a in args))
            second = invoke(*again) if again else None
        dispose_engines()
        return Run(result, before, _snapshot(url), second)

    return _run


def _no_orm(url: str) -> Iterator[Any]:
    raise AssertionError("the ORM path was taken")


HOLD = (
    "--reason",
    "litigation\nsecond line",
    "--case-reference",
    " C-9 ",
    "--approver",
    "Legal",
    "--review-date",
    "2027-05-01",
)

#: Commands that write, each with the lean path's outcome.
WRITES = {
    "hold add": ("hold", "add", "--id", "LH-NEW", *HOLD, "--json"),
    "hold add with scope": (
        "hold",
        "add",
        "--id",
        "LH-NEW",
        *HOLD,
        "--endpoint",
        "laptop-01",
        "--endpoint",
        "backups",
        "--path",
        "/a/*",
        "--path",
        "/a/*",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        "--subject-request",
        "DSR-2026-0001",
    ),
    "hold release": ("hold", "release", "LH-OLD", "--by", " Legal Team ", "--json"),
    "request submit": ("request", "submit", "--kind", "access", "--email", "Someone@Example.org", "--json"),
    "request submit received earlier": (
        "request",
        "submit",
        "--kind",
        "erasure",
        "--email",
        "a@example.org",
        "--name",
        "Ana Pereira",
        "--received",
        "2025-12-31T23:30:00-02:00",
        "--channel",
        "web-form",
    ),
    "request approve": ("request", "approve", "DSR-2026-0002", "--by", "Dana Reviewer", "--digest", "A" * 64),
    "request approve --reject": (
        "request",
        "approve",
        "DSR-2026-0002",
        "--by",
        "Dana",
        "--digest",
        "a" * 64,
        "--reject",
        "--note",
        "line 1\nline 2",
    ),
    "ledger head": ("ledger", "head", "{tmp}/head.json", "--json"),
    "ledger export": ("ledger", "export", "{tmp}/ledger.jsonl", "--json"),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_lean_and_orm_paths_write_the_same_rows(name: str, run: Callable[..., Run], tmp_path: Path) -> None:
    """Same output, same rows in every table (the request with its key and identifiers, the hold, the plan's
    decision, the request's status, their audit events, the locations synced from the configuration, the ledger's
    new entries and checkpoints), and a change was made."""
    by_orm, by_lean = run("orm", *WRITES[name]), run("lean", *WRITES[name])
    orm, lean, before, orm_rows, lean_rows = (
        by_orm.outcome,
        by_lean.outcome,
        by_lean.before,
        by_orm.after,
        by_lean.after,
    )
    assert (orm.returncode, lean.returncode) == (0, 0), (orm.stderr, lean.stderr)
    assert lean.stdout.replace(str(tmp_path / "lean"), "T") == orm.stdout.replace(str(tmp_path / "orm"), "T")
    assert lean.stderr.replace(str(tmp_path / "lean"), "T") == orm.stderr.replace(str(tmp_path / "orm"), "T")
    assert lean_rows == orm_rows
    assert lean_rows != before
    if name.startswith("ledger"):
        written = next((tmp_path / "lean").glob("*"))
        assert written.read_bytes() == (tmp_path / "orm" / written.name).read_bytes()


REFUSALS = {
    "duplicate id": ("hold", "add", "--id", "LH-OLD", *HOLD),
    "configured id": ("hold", "add", "--id", "HOLD-CONFIG", *HOLD),
    "bad id": ("hold", "add", "--id", "-bad", *HOLD),
    "unknown location": ("hold", "add", "--id", "LH-NEW", *HOLD, "--endpoint", "nowhere"),
    "unknown subject request": ("hold", "add", "--id", "LH-NEW", *HOLD, "--subject-request", "DSR-2026-0099"),
    "reversed dates": ("hold", "add", "--id", "LH-NEW", *HOLD, "--from", "2025-02-01", "--to", "2025-01-01"),
    "release unknown": ("hold", "release", "LH-NONE", "--by", "Legal"),
    "release configured": ("hold", "release", "HOLD-CONFIG", "--by", "Legal"),
    "approve unknown request": ("request", "approve", "DSR-2026-0099", "--by", "Dana", "--digest", "a" * 64),
    "approve without a plan": ("request", "approve", "DSR-2026-0001", "--by", "Dana", "--digest", "a" * 64),
    "approve another digest": ("request", "approve", "DSR-2026-0002", "--by", "Dana", "--digest", "c" * 64),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusals_give_the_orm_error_and_write_nothing(name: str, run: Callable[..., Run]) -> None:
    """Bad input, a duplicate or configured id, an unknown location, request, hold or digest, no plan: the command
    as it runs (lean first) says what the ORM path says, in one line with the same exit code, and writes what the
    ORM path writes: nothing, but for `approve` the locations synced once the request is found (its first step,
    `state.require_request`, commits on its own on both paths)."""
    orm, auto = run("orm", *REFUSALS[name]), run("auto", *REFUSALS[name])
    assert_clean_failure(auto.outcome)
    assert auto.outcome == orm.outcome
    assert auto.after == orm.after
    synced = {"locations"} if name in ("approve without a plan", "approve another digest") else set()
    assert {k: v for k, v in auto.after.items() if k not in synced} == {
        k: v for k, v in auto.before.items() if k not in synced
    }


def test_an_approval_the_status_does_not_allow_is_refused_as_by_the_orm(run: Callable[..., Run]) -> None:
    """A pending plan of a request whose status cannot go to `executing`: both paths sign the decision in the
    ledger first (as `decide` always did), then refuse the change with the same message; the same rows remain."""
    approve = ("request", "approve", "DSR-2026-0003", "--by", "Dana", "--digest", "b" * 64)
    orm, auto = run("orm", *approve), run("auto", *approve)
    assert_clean_failure(auto.outcome)
    assert "cannot go from in_progress to executing" in auto.outcome.stderr
    assert auto.outcome == orm.outcome and auto.after == orm.after


def test_four_eyes_refuse_the_submitter_as_the_orm_does(run: Callable[..., Run], config: Path) -> None:
    """With `[erasure].four_eyes`, the user who submitted the request cannot approve its plan (another request's
    plan they can): the same refusal and rows as the ORM path."""
    config.write_text(CONFIG + "\n[erasure]\nfour_eyes = true\n", encoding="utf-8")
    own = ("request", "approve", "DSR-2026-0004", "--by", "Dana", "--digest", "d" * 64)
    orm, auto = run("orm", *own), run("auto", *own)
    assert_clean_failure(auto.outcome)
    assert "four_eyes" in auto.outcome.stderr
    assert auto.outcome == orm.outcome and auto.after == orm.after
    other = ("request", "approve", "DSR-2026-0002", "--by", "Dana", "--digest", "a" * 64)
    orm, lean = run("orm", *other), run("lean", *other)
    assert lean.outcome == orm.outcome and lean.outcome.returncode == 0
    assert lean.after == orm.after


def test_a_plan_is_decided_once(run: Callable[..., Run]) -> None:
    """A second decision on the same plan is refused as by the ORM path, and changes nothing."""
    approve = ("request", "approve", "DSR-2026-0002", "--by", "Dana", "--digest", "a" * 64)
    orm = run("orm", *approve, again=(*approve, "--reject"))
    auto = run("auto", *approve, again=(*approve, "--reject"))
    assert auto.again is not None and auto.again == orm.again
    assert_clean_failure(auto.again)
    assert auto.after == orm.after


def test_a_released_hold_is_not_released_again(run: Callable[..., Run]) -> None:
    """The release is a compare-and-swap on `released_at`: a second release, lean or not, names the first one's
    day, as the ORM path does, and changes nothing."""
    release = ("hold", "release", "LH-OLD", "--by", "Legal")
    orm = run("orm", *release, again=(*release[:3], "--by", "Someone Else"))
    auto = run("auto", *release, again=(*release[:3], "--by", "Someone Else"))
    assert auto.again is not None and orm.again is not None
    assert_clean_failure(auto.again)
    assert "was released already on 2026-03-04" in auto.again.stderr
    assert auto.again == orm.again and auto.after == orm.after


def _decider(path: str) -> Callable[..., str | None]:
    """`decide_lean` or the ORM's `decide` with the same arguments: the decided digest (None where `decide_lean`
    steps aside)."""
    from services import approval

    def lean(settings: Any, request_id: str, **kwargs: Any) -> str | None:
        return approval.decide_lean(settings, request_id, **kwargs)

    def orm(settings: Any, request_id: str, **kwargs: Any) -> str | None:
        return approval.decide(settings, request_id, **kwargs).digest

    return lean if path == "lean" else orm


def _plan_and_signed(settings: Any, request_id: str) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """The plan's (decision, decided_by) and the signed approval's (decision, reviewer), if one is signed."""
    from services.approval import approval_of, latest_plan

    plan, signed = latest_plan(settings, request_id), approval_of(settings, request_id)
    assert plan is not None
    dispose_engines()
    return (plan.decision, plan.decided_by), None if signed is None else (signed.decision, signed.reviewer)


@pytest.mark.parametrize("path", ["lean", "orm"])
def test_a_concurrent_opposite_decision_never_contradicts_the_ledger(
    path: str, config: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signs an approval; B's rejection of the same plan then runs to completion before A updates the plan. B
    gets A's entry back from the ledger (the approval key is the plan's): it is refused as decided meanwhile, and
    A's approval is the one the plan and the ledger record."""
    from models.errors import ApprovalRequiredError
    from models.settings import load_settings
    from services import approval

    url = _fresh(database_url, tmp_path, path)
    _seed(url, config)
    monkeypatch.setenv("DSR_DATABASE_URL", url)
    settings = load_settings(config)
    decide, real_sign = _decider(path), approval._sign
    outcomes: list[object] = []

    def sign_then_b_decides(*args: Any) -> Any:
        entry = real_sign(*args)
        if not outcomes:  # A's entry is signed: B decides the other way, start to end
            outcomes.append("B")
            try:
                outcomes.append(
                    decide(settings, "DSR-2026-0002", approved=False, reviewer="Bea", digest="a" * 64,
                           authenticated_user="bea")
                )  # fmt: skip
            except ApprovalRequiredError as exc:
                outcomes.append(exc)
        return entry

    monkeypatch.setattr(approval, "_sign", sign_then_b_decides)
    decided = decide(
        settings, "DSR-2026-0002", approved=True, reviewer="Dana", digest="a" * 64, authenticated_user="dana"
    )
    assert decided == "a" * 64
    assert isinstance(outcomes[1], ApprovalRequiredError) and "decided meanwhile" in str(outcomes[1])
    assert _plan_and_signed(settings, "DSR-2026-0002") == (("approved", "Dana"), ("approved", "Dana"))


@pytest.mark.parametrize("path", ["lean", "orm"])
def test_a_decision_after_another_signed_one_is_refused(
    path: str, config: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An approval was signed but its last write failed (the plan still pending): a retry that rejects, or that
    names another reviewer, is refused as decided meanwhile and leaves the plan pending; the same approval again
    records it."""
    from models.errors import ApprovalRequiredError
    from models.settings import load_settings
    from services import approval
    from services.evidence import ledger_for

    url = _fresh(database_url, tmp_path, path)
    _seed(url, config)
    monkeypatch.setenv("DSR_DATABASE_URL", url)
    settings = load_settings(config)
    first = approval._Decision("DSR-2026-0002", True, "Dana", "a" * 64, None, "dana", "cli", "os_login")
    approval._sign(settings, first, "the-submitter", ledger_for(settings))
    dispose_engines()
    decide = _decider(path)
    for approved, reviewer in ((False, "Dana"), (True, "Someone Else")):
        with pytest.raises(ApprovalRequiredError, match="decided meanwhile"):
            decide(settings, "DSR-2026-0002", approved=approved, reviewer=reviewer, digest="a" * 64,
                   authenticated_user="dana")  # fmt: skip
        assert _plan_and_signed(settings, "DSR-2026-0002") == (("pending", None), ("approved", "Dana"))
    decide(settings, "DSR-2026-0002", approved=True, reviewer="Dana", digest="a" * 64, authenticated_user="dana")
    assert _plan_and_signed(settings, "DSR-2026-0002") == (("approved", "Dana"), ("approved", "Dana"))


def test_a_lean_decision_refuses_a_status_changed_since_it_was_read(
    config: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's status moves (here to in_progress) between the lean write's read and its update: the update
    is a compare-and-swap on the status read, so the decision is refused in one line and the transaction (the
    plan's decision with it) rolled back, never a move to executing from a status that does not allow it."""
    from models.errors import InvalidTransitionError
    from models.lean_write import Writer
    from models.settings import load_settings
    from services.approval import decide_lean

    url = _fresh(database_url, tmp_path, "cas")
    _seed(url, config)
    monkeypatch.setenv("DSR_DATABASE_URL", url)
    settings = load_settings(config)
    real_update = Writer.update

    def moved_first(self: Writer, table: str, values: Any, where: str, params: Any = ()) -> int:
        if table == "requests":  # what another writer committed after this transaction read the status
            self.execute("UPDATE requests SET status = 'in_progress' WHERE id = ?", ("DSR-2026-0002",))
        return real_update(self, table, values, where, params)

    monkeypatch.setattr(Writer, "update", moved_first)
    with pytest.raises(InvalidTransitionError, match="changed meanwhile"):
        decide_lean(
            settings, "DSR-2026-0002", approved=True, reviewer="Dana", digest="a" * 64, authenticated_user="dana"
        )
    assert _plan_and_signed(settings, "DSR-2026-0002")[0] == ("pending", None)


def test_one_function_holds_the_approval_refusals() -> None:
    """`decision_refusal` gives each refusal as the ORM path raises it, or None for a decision to record."""
    from types import SimpleNamespace

    from models.errors import ApprovalRequiredError, FourEyesError, InputError
    from services.approval import decision_refusal

    pending = SimpleNamespace(decision="pending", digest="a" * 64)
    ok = {"approved": True, "digest": " " + "A" * 64, "four_eyes": True, "submitter": "sam", "authenticated_user": "u"}

    def refusal(plan: Any = pending, **changes: Any) -> type[Exception] | None:
        found = decision_refusal("DSR-1", plan, **{**ok, **changes})
        return None if found is None else type(found)

    assert refusal() is None
    assert refusal(reviewer=" ") is InputError
    assert refusal(digest=" ") is InputError
    assert refusal(None) is ApprovalRequiredError
    assert refusal(SimpleNamespace(decision="approved", digest="a" * 64)) is ApprovalRequiredError
    assert refusal(digest="b" * 64) is InputError
    assert refusal(submitter="u") is FourEyesError
    assert refusal(submitter=None) is FourEyesError
    assert refusal(submitter=None, approved=False) is None
    assert refusal(submitter=None, four_eyes=False) is None


@pytest.mark.parametrize("path", ["lean", "orm"])
def test_both_decision_paths_refuse_what_decision_refusal_refuses(
    path: str, config: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decision the rules refuse (here every one, by a stand-in for `decision_refusal`) is refused on both paths:
    the lean path steps aside, the ORM path raises the refusal; nothing is signed."""
    from models.errors import InputError
    from models.settings import load_settings
    from services import approval

    url = _fresh(database_url, tmp_path, path)
    _seed(url, config)
    monkeypatch.setenv("DSR_DATABASE_URL", url)
    settings = load_settings(config)
    monkeypatch.setattr(approval, "decision_refusal", lambda *args, **kwargs: InputError("refused by the rules"))
    decide = _decider(path)
    if path == "lean":
        assert (
            decide(settings, "DSR-2026-0002", approved=True, reviewer="D", digest="a" * 64, authenticated_user="d")
            is None
        )
    else:
        with pytest.raises(InputError, match="refused by the rules"):
            decide(settings, "DSR-2026-0002", approved=True, reviewer="D", digest="a" * 64, authenticated_user="d")
    assert _plan_and_signed(settings, "DSR-2026-0002") == (("pending", None), None)


@pytest.mark.parametrize("path", ["lean", "orm"])
def test_both_release_paths_refuse_what_release_refusal_refuses(
    path: str, run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release the rule refuses (here every one, by a stand-in for `models.holds.release_refusal`) is refused on
    both paths: the lean write steps aside and the ORM path names the refusal; the hold stays active."""
    from models.errors import InputError

    monkeypatch.setattr("models.holds.release_refusal", lambda *args: InputError("refused by the rule"))
    done = run(path if path == "orm" else "auto", "hold", "release", "LH-OLD", "--by", "Legal")
    assert_clean_failure(done.outcome)
    assert "refused by the rule" in done.outcome.stderr
    assert done.after["legal_holds"] == done.before["legal_holds"]


def test_an_orm_decision_refuses_a_status_changed_since_it_was_read(
    config: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ORM path's status change is a compare-and-swap too: another connection commits a status change after
    `decide` read the request and before it writes; the decision is refused in one line and nothing of it but the
    signed entry is written (the other writer's status stays)."""
    from models import lifecycle
    from models.errors import InvalidTransitionError
    from models.settings import load_settings
    from services import approval

    url = _fresh(database_url, tmp_path, "orm-cas")
    _seed(url, config)
    monkeypatch.setenv("DSR_DATABASE_URL", url)
    settings = load_settings(config)
    real = lifecycle.transition_columns

    def moved_first(request_id: str, *args: Any) -> Any:
        with get_engine(url).begin() as conn:  # another writer, committed after the decision read the status
            conn.execute(text("UPDATE requests SET status = 'in_progress' WHERE id = :id"), {"id": request_id})
        return real(request_id, *args)

    monkeypatch.setattr(lifecycle, "transition_columns", moved_first)
    monkeypatch.setattr(approval, "transition_columns", moved_first)
    with pytest.raises(InvalidTransitionError, match="changed meanwhile"):
        approval.decide(
            settings, "DSR-2026-0002", approved=True, reviewer="Dana", digest="a" * 64, authenticated_user="dana"
        )
    assert _plan_and_signed(settings, "DSR-2026-0002") == (("pending", None), ("approved", "Dana"))
    with session_scope(url) as session:
        assert session.get(Request, "DSR-2026-0002").status == "in_progress"  # type: ignore[union-attr]
    dispose_engines()
