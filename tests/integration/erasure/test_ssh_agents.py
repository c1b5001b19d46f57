"""Every covered agent on laptops behind a real sshd: found, then erased over SFTP without residue.

Databases are read from a private copy with their WAL and changed the same way as on a local disk (one
transaction, `secure_delete`, FTS rebuilt, WAL folded in, `VACUUM`), written back by compare-and-swap and
atomic replace; raw bytes of every file (databases and WAL files included) are checked afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from connectors.agents import agent_layout
from connectors.base import Activity, Expected, Item
from connectors.ssh import SIMULATED_BUSY_MARKER, SSHConnector
from detection.scan import scan_endpoint
from erasure.discovery import discover_endpoint
from erasure.executor import execute_plan
from erasure.plan import plan_erasure
from models.settings import ErasureSettings
from simulation.agents import write_agent_stores
from tests.fixtures.sshd import SSHFleet
from tests.unit.erasure.fleet import NOW, new_ledger
from tests.unit.erasure.test_agents import HOMES, PLANT, _matcher, _raw_files

pytestmark = [pytest.mark.service, pytest.mark.timeout(600)]


@pytest.mark.parametrize("os_name", ["windows", "linux"])
def test_every_agent_over_ssh_found_then_erased_without_residue(
    ssh_fleet: SSHFleet, tmp_path: Path, os_name: str
) -> None:
    """Recall 1.0 and no trap over SFTP; after erasure no mention in any byte; third parties stay; the
    databases are sound and their WAL files folded in; nothing left in the temp names."""
    tree = tmp_path / "tree"
    truth = write_agent_stores(tree, HOMES[os_name], os_name, PLANT)
    laptop = ssh_fleet.start_laptop(f"agents-{os_name}", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])

    def connect(name: str) -> SSHConnector:
        return SSHConnector(name, laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)

    with connect("lap") as connector:
        result = scan_endpoint(connector, "lap", _matcher(), classify=False)
    found = {(i.path, i.line, i.location.record) for i in result.items}
    expected = {(t["path"], t.get("line"), t.get("record")) for t in truth.subject}
    assert expected - found == set(), "every planted mention is found over SSH"
    assert not found & {(t["path"], t["line"], None) for t in truth.traps}
    assert any(i.location.record for i in result.items), "database rows are found over SSH"

    before = _raw_files(tree)
    with connect("lap") as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-ssh", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    assert any(a.records for a in plan.actions), "database rows are planned by record"
    report = execute_plan(
        plan,
        connectors=connect,
        matcher=_matcher(),
        ledger=new_ledger(tmp_path / "ledger.jsonl"),
        run_id="run-ssh",
        actor="tester",
    )
    assert report.complete, report.pending
    after = _raw_files(tree)
    needles = [PLANT.subject_email.encode(), PLANT.subject_name.encode()]
    residue = [(path, n) for path, data in after.items() for n in needles if n.lower() in data.lower()]
    assert residue == [], "no mention left in any file over SSH, databases and WAL files included"
    deleted = {f.path for a in plan.actions for f in a.files} | {
        a.target.path for a in plan.actions if a.kind.value == "delete_file" and a.target
    }
    third = [
        str(e["path"])
        for e in truth.third_party
        if str(e["path"]) not in deleted and PLANT.third_email.encode() in before.get(str(e["path"]), b"")
    ]
    assert third and all(PLANT.third_email.encode() in after[p] for p in third), "third parties stay"
    for db in [p for p in after if p.endswith((".sqlite", ".db", ".vscdb", ".backup"))]:
        con = sqlite3.connect(tree / db.lstrip("/"))
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()
    assert not list(tree.rglob(".dsr-tmp-*"))
    with connect("lap") as connector:
        assert scan_endpoint(connector, "lap", _matcher(), classify=False).items == ()


def test_databases_over_ssh_wait_while_the_app_runs(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """While the laptop reports the agent app running, no database (nor WAL) is touched over SSH: every
    action is `busy` and each database and WAL stays byte for byte."""
    tree = tmp_path / "tree"
    write_agent_stores(tree, HOMES["linux"], "linux", PLANT)
    laptop = ssh_fleet.start_laptop("agents-busy", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])

    def connect(name: str) -> SSHConnector:
        return SSHConnector(name, laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)

    with connect("lap") as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-busy", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    databases = sorted({a.target.path for a in plan.actions if a.records and a.target})
    assert databases
    files = [p for d in databases for p in (d, d + "-wal") if (tree / p.lstrip("/")).exists()]
    before = {p: (tree / p.lstrip("/")).read_bytes() for p in files}
    (tree / SIMULATED_BUSY_MARKER).write_bytes(b"")
    report = execute_plan(
        plan,
        connectors=connect,
        matcher=_matcher(),
        ledger=new_ledger(tmp_path / "ledger.jsonl"),
        run_id="run-busy",
        actor="tester",
    )
    assert {o.status.value for o in report.outcomes if o.path in databases} == {"busy"}
    assert {p: (tree / p.lstrip("/")).read_bytes() for p in files} == before


def _crash_mid_transaction(db: Path, scratch: Path) -> None:
    """Leave `db` as an app killed mid-transaction does: rollback-journal mode, a hot `-journal` beside it."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = DELETE")  # folds and removes the WAL
    con.close()
    live = scratch / db.name
    shutil.copy(db, live)
    con = sqlite3.connect(live, isolation_level=None)
    con.execute("PRAGMA cache_size = 1")
    con.execute("BEGIN")
    con.execute("CREATE TABLE dsr_pad(x TEXT)")
    for _ in range(200):
        con.execute("INSERT INTO dsr_pad VALUES (?)", ("y" * 500,))
    shutil.copy(live, db)
    shutil.copy(live.with_name(live.name + "-journal"), db.with_name(db.name + "-journal"))
    con.execute("ROLLBACK")
    con.close()


def test_database_with_a_hot_journal_is_refused_over_ssh(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """A hot rollback journal would be rolled back by the app over the written-back file (erased text back,
    a corrupt file): the action fails with `hot_journal` and the database and journal stay byte for byte."""
    tree = tmp_path / "tree"
    write_agent_stores(tree, HOMES["linux"], "linux", PLANT)
    db = next(p for p in sorted(tree.rglob("state.vscdb")) if PLANT.subject_email.encode() in _with_wal(p))
    (tmp_path / "scratch").mkdir()
    _crash_mid_transaction(db, tmp_path / "scratch")
    laptop = ssh_fleet.start_laptop("agents-journal", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])

    def connect(name: str) -> SSHConnector:
        return SSHConnector(name, laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)

    with connect("lap") as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-journal", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    path = "/" + db.relative_to(tree).as_posix()
    actions = tuple(a for a in plan.actions if a.records and a.target and a.target.path == path)
    assert actions, "the crashed database is planned"
    journal = db.with_name(db.name + "-journal")
    before = (db.read_bytes(), journal.read_bytes())
    report = execute_plan(
        dataclasses.replace(plan, actions=actions),
        connectors=connect,
        matcher=_matcher(),
        ledger=new_ledger(tmp_path / "ledger.jsonl"),
        run_id="run-journal",
        actor="tester",
    )
    assert [(o.status.value, o.error) for o in report.outcomes] == [("failed", "hot_journal")]
    assert (db.read_bytes(), journal.read_bytes()) == before


def _with_wal(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_app_opened_during_a_database_change_over_ssh_stops_it(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """An app that is not the agent the connector's own check knows (Codex, Cursor, VS Code, Zed, Kilo) and opens
    after the action began is seen just before the write-back: `busy`, the database and WAL byte for byte."""
    tree = tmp_path / "tree"
    write_agent_stores(tree, HOMES["linux"], "linux", PLANT)
    laptop = ssh_fleet.start_laptop("agents-opens", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])
    opened: list[str] = []

    class AppOpensLater(SSHConnector):
        def activity(self) -> Activity:
            seen = super().activity()
            return Activity(seen.agent_running, (*seen.evidence, *(f"app_process:{p}" for p in opened)))

    def connect(name: str) -> SSHConnector:
        return AppOpensLater(name, laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)

    with connect("lap") as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-opens", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    first = next(a for a in plan.actions if a.records and a.target and a.app and a.app != "claude")
    layout = agent_layout(first.app or "")
    assert first.target is not None and layout is not None and layout.processes
    files = [p for p in (first.target.path + s for s in ("", "-wal", "-shm")) if (tree / p.lstrip("/")).exists()]
    before = {p: (tree / p.lstrip("/")).read_bytes() for p in files}

    def hook(step: str) -> None:
        if step == "before_replace":  # the action began: the app's pre-action check has passed
            opened[:] = layout.processes

    report = execute_plan(
        dataclasses.replace(plan, actions=(first,)),
        connectors=connect,
        matcher=_matcher(),
        ledger=new_ledger(tmp_path / "ledger.jsonl"),
        run_id="run-opens",
        actor="tester",
        kill_hook=hook,
    )
    assert opened and [o.status.value for o in report.outcomes] == ["busy"]
    assert {p: (tree / p.lstrip("/")).read_bytes() for p in files} == before


def test_a_wal_rewritten_within_the_second_is_not_deleted_over_ssh(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """The WAL is removed after its content was folded into the database only while it holds exactly the
    bytes copied: rewritten with the same size in the same second (an SFTP version cannot tell), it stays,
    and the action is a `conflict` (the next run plans again)."""
    tree = tmp_path / "tree"
    write_agent_stores(tree, HOMES["linux"], "linux", PLANT)
    laptop = ssh_fleet.start_laptop("agents-wal", tree)
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", [laptop.known_hosts_line()])
    rewritten: dict[str, bytes] = {}

    class WalRewrittenBeforeItsDelete(SSHConnector):
        def delete(self, item: Item, expected: Expected | None = None) -> bool:
            if item.path.endswith("-wal"):
                wal = tree / item.path.lstrip("/")
                mtime = wal.stat().st_mtime
                rewritten[item.path] = bytes(reversed(wal.read_bytes()))
                wal.write_bytes(rewritten[item.path])
                os.utime(wal, (mtime, mtime))
                assert self.stat(item.path).version == item.version, "the version cannot tell"
            return super().delete(item, expected)

    def connect(name: str) -> SSHConnector:
        return WalRewrittenBeforeItsDelete(name, laptop.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)

    with connect("lap") as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-wal", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    first = next(
        a for a in plan.actions if a.records and a.target and (tree / (a.target.path.lstrip("/") + "-wal")).exists()
    )
    report = execute_plan(
        dataclasses.replace(plan, actions=(first,)),
        connectors=connect,
        matcher=_matcher(),
        ledger=new_ledger(tmp_path / "ledger.jsonl"),
        run_id="run-wal",
        actor="tester",
    )
    assert [o.status.value for o in report.outcomes] == ["conflict"]
    assert first.target is not None and list(rewritten) == [first.target.path + "-wal"]
    assert (tree / (first.target.path.lstrip("/") + "-wal")).read_bytes() == rewritten[first.target.path + "-wal"]
