"""`dsr request plan` and `dsr request approve` run without importing Prefect: the approval gate works where
no Prefect is installed or reachable, and the CLI stays fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from models.db import dispose_engines
from models.settings import load_settings
from models.types import RequestKind, RequestStatus
from services import erasure
from services.intake import record_request
from simulation.fleet import simulate_fleet

MARK = "PREFECT-LOADED:"
CALL_MAIN = f"""
import sys
from dsr.cli import main
sys.argv = ["dsr", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
print("{MARK}", "prefect" in sys.modules, code)
"""


def _dsr_in_fresh_interpreter(config: Path, *args: str, prelude: str = "") -> tuple[bool, str, str]:
    """Run the CLI's `main` in-process in a new interpreter; whether Prefect got imported, the exit code, stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DSR_"))}
    env["DSR_CONFIG"] = str(config)
    result = subprocess.run(
        [sys.executable, "-c", prelude + CALL_MAIN, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(MARK), result.stderr
    _, loaded, code = last.split()
    return loaded == "True", code, result.stdout.removesuffix(last + "\n")


@pytest.fixture
def planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A one-laptop fleet with an erasure request whose plan awaits a decision (made by the services)."""
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    simulate_fleet(tmp_path / "fleet", endpoints=1, size_mb=0.02, seed=5)
    config = tmp_path / "fleet" / "dsr.toml"
    settings = load_settings(config)
    person = json.loads((tmp_path / "fleet" / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    rid = record_request(
        settings,
        kind=RequestKind.ERASURE,
        emails=person["emails"],
        channel="email",
        identity_waiver="request from the employee's authenticated account",
    )
    for location in erasure.begin_erasure(settings, rid):
        erasure.discover_location(settings, rid, location)
    assert erasure.make_plan(settings, rid).decision == "pending"
    return config, rid


def test_plan_and_approve_do_not_import_prefect(planned: tuple[Path, str]) -> None:
    """`dsr request plan --json` prints the plan and `dsr request approve --by` records the decision in the
    case database, and neither imports the `prefect` package."""
    config, rid = planned
    loaded, code, out = _dsr_in_fresh_interpreter(config, "request", "plan", rid, "--json")
    assert (loaded, code) == (False, "0")
    assert json.loads(out)["decision"] == "pending"

    digest = json.loads(out)["digest"]
    loaded, code, _ = _dsr_in_fresh_interpreter(
        config, "request", "approve", rid, "--by", "Dana Reviewer", "--digest", digest
    )
    assert (loaded, code) == (False, "0")
    settings = load_settings(config)
    state = erasure.plan_state(settings, rid)
    assert state.decision == "approved"
    assert erasure.latest_plan(settings, rid).decided_by == "Dana Reviewer"  # type: ignore[union-attr]
    from models import cases
    from models.db import session_scope

    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, rid).status == RequestStatus.EXECUTING.value


def test_the_probe_sees_prefect_when_a_flow_module_is_loaded(planned: tuple[Path, str]) -> None:
    """The check can fail: once a flow module is loaded (as `dsr request run` does), the probe reports Prefect."""
    config, rid = planned
    loaded, code, _ = _dsr_in_fresh_interpreter(config, "request", "plan", rid, "--json", prelude="import flows.access")
    assert (loaded, code) == (True, "0")


HEAVY = ("prefect", "presidio_analyzer", "spacy", "hyperscan", "alembic", "boto3", "paramiko")
#: Also kept out of commands that only read or write the case database: phone-number metadata (loaded when a
#: phone number is checked), the laptop connectors and their decompressor, the PostgreSQL dialect on SQLite,
#: Rich's progress bars (only `request run` draws one), the other countries' holiday calendars (the package
#: `holidays.countries` imports all of them; the configured calendar's module is loaded alone).
LIGHT = (
    *HEAVY,
    "phonenumbers",
    "connectors.local",
    "zstandard",
    "sqlalchemy.dialects.postgresql",
    "rich.progress",
    "holidays.countries",
)
#: `deadline` does not touch the case database at all.
NO_DATABASE = (*LIGHT, "sqlalchemy", "sqlmodel", "cryptography")
#: `request list` reads the case database with one SELECT through the DB-API driver: no ORM, no crypto.
NO_ORM = (*LIGHT, "sqlalchemy", "sqlmodel", "models.tables", "models.cases", "cryptography")
#: The erasure plan and its approval need the erasure services (and the matcher) but nothing that classifies.
NO_CLASSIFIER = ("prefect", "presidio_analyzer", "spacy", "alembic", "boto3", "paramiko")
CALL_MAIN_MODULES = f"""
import sys
from dsr.cli import main
watch = sys.argv[1].split(",")
sys.argv = ["dsr", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
print("{MARK}", ",".join(sorted(m for m in watch if m in sys.modules)) or "-")
"""


def _heavy_modules(
    config: Path, *args: str, watch: tuple[str, ...] = HEAVY, extra_env: dict[str, str] | None = None
) -> set[str]:
    """Which of the `watch` modules the command `dsr ARGS` imported, run in a new interpreter (exits 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DSR_"))}
    env["DSR_CONFIG"] = str(config)
    env.update(extra_env or {})
    result = subprocess.run(
        [sys.executable, "-c", CALL_MAIN_MODULES, ",".join(watch), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(MARK), result.stderr
    assert "error" not in result.stderr, result.stderr
    loaded = last.split()[1]
    return set() if loaded == "-" else set(loaded.split(","))


def test_commands_that_start_no_flow_load_no_heavy_package(planned: tuple[Path, str], tmp_path: Path) -> None:
    """`deadline`, `request list|show|submit|plan`, `hold list|add|release` and `ledger verify|head|export` answer
    without importing Prefect, presidio, the matcher engine, Alembic (the case database is already current),
    boto3, paramiko, the laptop connectors or phone-number metadata: these imports are what made every command
    take seconds. `deadline` does not load the database layer either."""
    config, rid = planned
    assert _heavy_modules(config, "deadline", "2026-01-31", "--json", watch=NO_DATABASE) == set()
    assert _heavy_modules(config, "request", "list", watch=LIGHT) == set()
    assert _heavy_modules(config, "request", "show", rid, watch=LIGHT) == set()
    assert _heavy_modules(config, "request", "show", rid, "--json", watch=LIGHT) == set()
    assert _heavy_modules(config, "request", "plan", rid, watch=LIGHT) == set()
    assert _heavy_modules(config, "request", "plan", rid, "--json", watch=LIGHT) == set()
    submit = ("request", "submit", "--kind", "access", "--email", "someone.else@example.invalid", "--json")
    assert _heavy_modules(config, *submit, watch=LIGHT) == set()
    assert _heavy_modules(config, "hold", "list", watch=LIGHT) == set()
    hold = ("--id", "LH-1", "--reason", "litigation", "--case-reference", "C-1", "--approver", "Legal")
    assert _heavy_modules(config, "hold", "add", *hold, "--review-date", "2027-01-01", watch=LIGHT) == set()
    assert _heavy_modules(config, "hold", "release", "LH-1", "--by", "Legal", watch=LIGHT) == set()
    assert _heavy_modules(config, "ledger", "verify", watch=LIGHT) == set()
    assert _heavy_modules(config, "ledger", "verify", "--json", watch=LIGHT) == set()
    assert _heavy_modules(config, "ledger", "head", str(tmp_path / "head.json"), watch=LIGHT) == set()
    assert _heavy_modules(config, "ledger", "export", str(tmp_path / "ledger.jsonl"), watch=LIGHT) == set()


#: What reads only: the requests, one request's detail, its erasure plan and the legal holds.
READS = (
    ("request", "list"),
    ("request", "list", "--json"),
    ("request", "list", "--status", "executing"),
    ("request", "list", "--overdue", "--json"),
    ("request", "show", "{rid}"),
    ("request", "show", "{rid}", "--json"),
    ("request", "plan", "{rid}"),
    ("request", "plan", "{rid}", "--json"),
    ("hold", "list"),
    ("hold", "list", "--json"),
)


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_reads_load_no_orm(planned: tuple[Path, str], args: tuple[str, ...]) -> None:
    """`request list|show|plan` and `hold list` on a current case database import neither SQLAlchemy nor SQLModel
    nor the tables (they read through the DB-API driver: `models.lean_read`, `services.case_views`); the ORM
    alone took more than half of their time."""
    config, rid = planned
    assert _heavy_modules(config, *(a.format(rid=rid) for a in args), watch=NO_ORM) == set()


def test_reads_load_no_orm_on_either_database(planned: tuple[Path, str], database_url: str) -> None:
    """The same on the database of DSR_DATABASE_URL (PostgreSQL through psycopg, or another SQLite file), with an
    erasure request planned there."""
    config, _rid = planned
    person = json.loads((config.parent / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DSR_DATABASE_URL", database_url)
        settings = load_settings(config)
        rid = record_request(
            settings, kind=RequestKind.ERASURE, emails=person["emails"], channel="email", identity_waiver="own account"
        )
        for location in erasure.begin_erasure(settings, rid):
            erasure.discover_location(settings, rid, location)
        erasure.make_plan(settings, rid)
    dispose_engines()
    env = {"DSR_DATABASE_URL": database_url}
    for args in READS:
        assert _heavy_modules(config, *(a.format(rid=rid) for a in args), watch=NO_ORM, extra_env=env) == set()


#: What writes a few rows: a legal hold added and released, the ledger sealed with its head filed or exported.
WRITES = (
    ("hold", "add", "--id", "LH-LEAN", "--reason", "r", "--case-reference", "C", "--approver", "A", "--review-date",
     "2027-01-01", "--subject-request", "{rid}"),
    ("hold", "release", "LH-LEAN", "--by", "Legal"),
    ("ledger", "head", "{tmp}/head.json"),
    ("ledger", "export", "{tmp}/ledger.jsonl"),
    ("request", "submit", "--kind", "access", "--email", "someone.else@example.invalid", "--json"),
)  # fmt: skip
#: The ledger's commands and `request approve` sign (Ed25519), `request submit` seals the identifiers (AES-GCM),
#: both from `cryptography`; the hold's need no crypto.
SIGNS = tuple(m for m in NO_ORM if m != "cryptography")


def _approve(settings: Any, rid: str) -> tuple[str, ...]:
    digest = erasure.plan_state(settings, rid).digest
    assert digest is not None
    return ("request", "approve", rid, "--by", "Dana Reviewer", "--digest", digest)


def test_writes_load_no_orm_on_either_database(planned: tuple[Path, str], database_url: str, tmp_path: Path) -> None:
    """`hold add|release`, `ledger head|export` and `request submit|approve` on a current case database (the
    fleet's SQLite file, and the database of DSR_DATABASE_URL: PostgreSQL through psycopg, or another SQLite file)
    import neither SQLAlchemy nor SQLModel nor the tables: they write through the DB-API driver
    (`models.lean_write`, `proofs.lean_store`, `services.approval.decide_lean`, `models.new_request`)."""
    config, rid = planned
    commands = [*WRITES, _approve(load_settings(config), rid)]
    dispose_engines()
    for args in commands:
        watch = SIGNS if args[0] in ("ledger", "request") else NO_ORM
        assert _heavy_modules(config, *(a.format(rid=rid, tmp=tmp_path) for a in args), watch=watch) == set()
    person = json.loads((config.parent / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DSR_DATABASE_URL", database_url)
        settings = load_settings(config)
        rid = record_request(
            settings, kind=RequestKind.ERASURE, emails=person["emails"], channel="email", identity_waiver="own account"
        )
        for location in erasure.begin_erasure(settings, rid):
            erasure.discover_location(settings, rid, location)
        erasure.make_plan(settings, rid)
        commands = [*WRITES, _approve(settings, rid)]
    dispose_engines()
    env = {"DSR_DATABASE_URL": database_url}
    for args in commands:
        formatted = (a.format(rid=rid, tmp=tmp_path) for a in args)
        watch = SIGNS if args[0] in ("ledger", "request") else NO_ORM
        assert _heavy_modules(config, *formatted, watch=watch, extra_env=env) == set()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DSR_DATABASE_URL", database_url)
        assert erasure.plan_state(load_settings(config), rid).decision == "approved"
    dispose_engines()


def test_plan_and_approve_load_no_classifier(planned: tuple[Path, str]) -> None:
    """`request plan --detail` loads neither Prefect nor presidio (nor spaCy behind it); `request approve` none of
    the heavy packages either: not the matcher engine, the laptop connectors or the erasure modules (the decision
    is `services.approval`)."""
    config, rid = planned
    assert _heavy_modules(config, "request", "plan", rid, "--detail", watch=NO_CLASSIFIER) == set()
    loaded, code, out = _dsr_in_fresh_interpreter(config, "request", "plan", rid, "--json")
    assert (loaded, code) == (False, "0")
    digest = json.loads(out)["digest"]
    approve = ("request", "approve", rid, "--by", "Dana Reviewer", "--digest", digest)
    assert _heavy_modules(config, *approve, watch=(*LIGHT, "erasure.plan", "detection.matcher")) == set()


def test_scan_loads_presidio_only_to_classify_a_finding(planned: tuple[Path, str]) -> None:
    """`dsr scan` of a laptop where the subject is not found never imports presidio; where records name the
    subject, it does (they are classified), unless --no-classify."""
    config, _rid = planned
    fleet = config.parent
    laptop = fleet / "laptop-01"
    person = json.loads((fleet / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    scan = ("scan", str(laptop), "--endpoint-name", "laptop", "--json")
    watch = ("presidio_analyzer", "spacy", "prefect", "sqlalchemy")
    assert _heavy_modules(config, *scan, "--email", "nobody.known@example.invalid", watch=watch) == set()
    assert _heavy_modules(config, *scan, "--email", person["emails"][0], "--no-classify", watch=watch) == set()
    assert _heavy_modules(config, *scan, "--email", person["emails"][0], watch=watch) == {"presidio_analyzer", "spacy"}


def test_retention_plan_and_run_do_not_import_prefect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dsr retention plan --json` and `dsr retention run` (review on: the plan waits for a reviewer) run the
    retention services without importing Prefect."""
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    policy = '\n[[retention]]\nname = "all"\nunit = "conversation"\nperiod_days = 30\n'
    simulate_fleet(tmp_path / "fleet", endpoints=1, size_mb=0.02, seed=5, extra_toml=policy)
    config = tmp_path / "fleet" / "dsr.toml"
    loaded, code, out = _dsr_in_fresh_interpreter(config, "retention", "plan", "--as-of", "2026-11-01", "--json")
    assert (loaded, code) == (False, "0")
    assert json.loads(out)["totals"]["purge"]["sessions"] > 0
    loaded, code, out = _dsr_in_fresh_interpreter(config, "retention", "run", "--as-of", "2026-11-01")
    assert (loaded, code) == (False, "0")
    assert "awaits approval" in out
