"""Every covered agent on laptops behind a real sshd: found, then erased over SFTP without residue.

Databases are read from a private copy with their WAL and changed the same way as on a local disk (one
transaction, `secure_delete`, FTS rebuilt, WAL folded in, `VACUUM`), written back by compare-and-swap and
atomic replace; raw bytes of every file (databases and WAL files included) are checked afterwards.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

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
