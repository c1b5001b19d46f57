"""Every covered agent on one laptop: every planted mention found, no trap, and after erasure no residue in
any file (raw bytes of databases and WAL files included) while third parties' records stay."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard

from connectors.agents import agent_layout
from connectors.base import Activity
from connectors.inventory import build_inventory
from connectors.local import LocalConnector
from detection.findings import Finding
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.scan import scan_endpoint
from erasure.discovery import LocationDiscovery, discover_endpoint
from erasure.executor import execute_plan
from erasure.plan import plan_erasure
from models.settings import ErasureSettings
from simulation.agents import AgentPlant, write_agent_stores
from simulation.fleet import simulate_fleet
from tests.unit.erasure.fleet import NOW, Fleet, new_ledger

PLANT = AgentPlant()
HOMES = {"macos": "/Users/ana", "windows": "/C:/Users/ana", "linux": "/home/ana"}


def _matcher() -> Matcher:
    ids = SubjectIdentifiers((PLANT.subject_email,), (PLANT.subject_name,), (), ())
    return Matcher.from_identifiers(ids)


def _where(item: Finding) -> tuple[object, ...]:
    return (item.path, item.line, item.location.record)


def _raw_files(root: Path) -> dict[str, bytes]:
    out = {}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data.startswith(b"\x28\xb5\x2f\xfd"):
                data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 24)
            elif "/objects/" in path.as_posix():  # a git object: searched inflated
                data = zlib.decompress(data)
            out["/" + path.relative_to(root).as_posix()] = data
    return out


@pytest.mark.parametrize("os_name", ["macos", "windows", "linux"])
def test_every_agent_found_then_erased_without_residue(tmp_path: Path, os_name: str) -> None:
    """Recall 1.0 and no trap through the scan; erasure leaves no mention in any byte; third parties stay."""
    truth = write_agent_stores(tmp_path, HOMES[os_name], os_name, PLANT)
    with LocalConnector("lap", tmp_path) as connector:
        result = scan_endpoint(connector, "lap", _matcher(), classify=False)
        inventory = build_inventory(connector)
    found = {_where(item) for item in result.items}
    expected = {(t["path"], t.get("line"), t.get("record")) for t in truth.subject}
    assert expected - found == set(), "every planted mention is found"
    traps = {(t["path"], t["line"], None) for t in truth.traps}
    assert not found & traps, "look-alikes are not matches"
    assert not result.gaps and not result.skipped
    apps = {item.app for item in result.items}
    assert apps >= {"codex", "gemini-cli", "cursor", "copilot", "cline", "aider", "continue", "zed", "opencode"}
    assert {"roo-code", "kilo-code"} <= apps, "Roo Code and Kilo Code are named as themselves, not as Cline"
    kilo_rows = [i for i in result.items if i.location.record == "ItemTable:kilocode.kilo-code"]
    assert kilo_rows and {i.app for i in kilo_rows} == {"kilo-code"}, "Kilo's index in Cursor's state is Kilo's"
    rows = [item for item in result.items if item.location.record]
    assert rows and all(item.line is None for item in rows)
    # Global lists and content-addressed blobs name no conversation.
    conversations = [
        i for i in rows if not str(i.location.record).startswith(("ItemTable:", "cursorDiskKV:agentKv:blob:"))
    ]
    assert all(item.session_id for item in conversations), "database rows are grouped by the agent's conversation"
    agents = {agent for user in inventory.users for agent in user.agents}
    assert {"windsurf"} <= agents
    assert not any(item.path in truth.encrypted for item in result.items)

    before = _raw_files(tmp_path)
    with LocalConnector("lap", tmp_path) as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-agents", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    assert any(a.records for a in plan.actions), "database rows are planned by record"
    assert set(result.encrypted_stores) == set(truth.encrypted)
    kept = {(a.path, a.ground, a.app) for a in plan.exceptions if a.ground == "encrypted_store"}
    assert (f"{HOMES[os_name]}/.codeium/windsurf/cascade", "encrypted_store", "windsurf") in kept
    report = execute_plan(
        plan,
        connectors=lambda name: LocalConnector(name, tmp_path),
        matcher=_matcher(),
        ledger=new_ledger(tmp_path.parent / f"ledger-{os_name}.jsonl"),
        run_id="run-1",
        actor="tester",
    )
    assert report.complete, report.pending
    after = _raw_files(tmp_path)
    needles = [PLANT.subject_email.encode(), PLANT.subject_name.encode(), b"Keller"]
    residue = [(path, n) for path, data in after.items() for n in needles if n.lower() in data.lower()]
    residue = [(p, n) for p, n in residue if not (n == b"Keller" and PLANT.trap_email.encode() in after[p])]
    assert residue == [], "no mention left in any file, databases and WAL files included"
    kept = 0
    for entry in truth.third_party:
        path = str(entry["path"])
        deleted = {f.path for a in plan.actions for f in a.files} | {
            a.target.path for a in plan.actions if a.kind.value == "delete_file" and a.target
        }
        if path in deleted or PLANT.third_email.encode() not in before.get(path, b""):
            continue  # a session mainly about the subject goes whole (plan policy)
        assert PLANT.third_email.encode() in after[path], path
        kept += 1
    assert kept >= 3, "third parties' rows and lines outside deleted sessions stay"
    for db in [p for p in after if p.endswith((".sqlite", ".db", ".vscdb", ".backup"))]:
        con = sqlite3.connect(tmp_path / db.lstrip("/"))
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()
    with LocalConnector("lap", tmp_path) as connector:
        assert scan_endpoint(connector, "lap", _matcher(), classify=False).items == ()
    blob_rows = [r for a in plan.actions for r in a.records if r.startswith("cursorDiskKV:agentKv:blob:")]
    assert len(blob_rows) == 2, "the content-addressed row of state.vscdb and of its .backup are planned"
    for db in {a.target.path for a in plan.actions if a.target and a.target.path.endswith("state.vscdb")}:
        con = sqlite3.connect(tmp_path / db.lstrip("/"))
        assert con.execute("SELECT count(*) FROM cursorDiskKV WHERE key LIKE 'agentKv:blob:%'").fetchone() == (0,)
        con.close()
    blobs = [a for a in plan.actions if a.reason == "content_addressed"]
    assert [(a.kind.value, a.app) for a in blobs] == [("delete_file", "cursor")], "a content-addressed store goes whole"
    assert blobs[0].target is not None and not (tmp_path / blobs[0].target.path.lstrip("/")).exists()
    repos = [a for a in plan.actions if a.reason == "shadow_git"]
    assert [a.app for a in repos] == ["cline"] and all(a.dirs == (a.path,) for a in repos)
    assert not (tmp_path / repos[0].path.lstrip("/")).exists(), "the checkpoint repository goes whole"
    assert all((tmp_path / repo.lstrip("/") / ".git/HEAD").exists() for repo in truth.shadow_git), "others stay"


def test_encrypted_conversations_on_the_subjects_own_laptop_go_whole(tmp_path: Path) -> None:
    """Encrypted stores are never opened: elsewhere they are kept as reported exceptions, but on the subject's
    own laptop (its owner is the subject) each encrypted conversation file is deleted whole, app closed."""
    truth = write_agent_stores(tmp_path, "/home/ana", "linux", PLANT)
    with LocalConnector("lap", tmp_path) as connector:
        discovery = discover_endpoint(connector, "lap", _matcher(), owner_ids=[PLANT.subject_email])
    assert discovery.owner_is_subject
    plan = plan_erasure("req-own", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    gone = {a.target.path for a in plan.actions if a.reason == "owner_encrypted_store" and a.target}
    assert gone == set(truth.encrypted)
    assert not any(a.ground == "encrypted_store" and a.path in gone for a in plan.exceptions)
    report = execute_plan(
        plan,
        connectors=lambda name: LocalConnector(name, tmp_path),
        matcher=_matcher(),
        ledger=new_ledger(tmp_path.parent / "ledger-own.jsonl"),
        run_id="run-1",
        actor="tester",
    )
    assert report.complete, report.pending
    assert not any((tmp_path / p.lstrip("/")).exists() for p in gone)


def test_corrupt_database_is_a_reported_error(tmp_path: Path) -> None:
    """A corrupt SQLite file is listed as skipped with a reason; the scan goes on."""
    write_agent_stores(tmp_path, "/home/ana", "linux", PLANT)
    db = tmp_path / "home/ana/.local/share/opencode/opencode.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 8192)  # the header, then garbage
    db.with_name("opencode.db-wal").unlink()
    with LocalConnector("lap", tmp_path) as connector:
        result = scan_endpoint(connector, "lap", _matcher(), classify=False)
    assert [(s.path, s.reason) for s in result.skipped] == [("/home/ana/.local/share/opencode/opencode.db", "failed")]
    assert any(item.app == "codex" for item in result.items)


def test_simulated_fleet_with_every_agent_scanned_and_erased(tmp_path: Path) -> None:
    """`simulate_fleet(agents=True)`: recall 1.0 and no trap for s1 over every laptop through `scan_endpoint`;
    after plan + execute no literal of s1 in any file (decompressed, databases and WAL included)."""
    out = tmp_path / "fleet"
    simulate_fleet(out, endpoints=4, size_mb=0.05, seed=11, agents=True)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    fleet = Fleet(out, truth, _fleet_matcher(truth))
    agent_locations = [loc for loc in truth["locations"] if loc.get("app")]
    assert {loc["app"] for loc in agent_locations} >= {"codex", "cursor", "zed", "opencode", "gemini-cli", "cline"}
    assert any(loc["record"] for loc in agent_locations) and any(
        loc["path"].startswith("/C:/") for loc in agent_locations
    )
    found: set[tuple[object, ...]] = set()
    for endpoint in fleet.endpoints:
        with fleet.connector(endpoint["name"]) as connector:
            result = scan_endpoint(connector, endpoint["name"], fleet.matcher, classify=False, expand_owned=False)
        assert not result.gaps, result.gaps
        found |= {(endpoint["name"], *_where(item)) for item in result.items}
    planted = {
        (loc["endpoint"], loc["path"], loc["line"], loc.get("record"))
        for loc in truth["locations"]
        if loc["subject"] == "s1" and loc["in_agent_store"]
    }
    whole = {(e, p) for e, p, line, rec in found if line is None and rec is None}
    missing = {p for p in planted if p not in found and (p[0], p[1]) not in whole}
    assert not missing, sorted(missing, key=str)[:5]
    trap_hits = {(t["endpoint"], t["path"], t["line"], None) for t in truth["traps"]} & found
    assert not trap_hits, sorted(trap_hits, key=str)[:3]

    plan = fleet.plan()
    report = fleet.execute(plan, new_ledger(tmp_path / "ledger.jsonl"))
    assert report.complete, report.pending
    assert fleet.subject_hits(plan) == [], "raw bytes of every file, databases and WAL files included"
    subject = truth["subjects"][0]
    needles = [subject["emails"][0].encode(), subject["name"].encode()]
    for endpoint in fleet.endpoints:
        for path, data in _raw_files(fleet.root(endpoint["name"])).items():
            if path.endswith(".zst"):  # compressed: checked once decompressed
                assert not any(n.lower() in data.lower() for n in needles), (endpoint["name"], path)


def _fleet_matcher(truth: dict[str, Any]) -> Matcher:
    subject = truth["subjects"][0]
    ids = SubjectIdentifiers(
        tuple(subject["emails"]), (subject["name"],), tuple(subject["phones"]), tuple(subject["user_ids"])
    )
    return Matcher.from_identifiers(ids)


def test_databases_are_changed_through_a_copy_without_a_local_disk(tmp_path: Path) -> None:
    """Over a connector that cannot hand out a local path (SSH), a database is changed on a private copy
    (with its WAL) and written back: no subject byte in the database or a WAL, the laptop's WAL folded in
    and removed, the file still a sound database and third parties' rows kept."""
    write_agent_stores(tmp_path, "/home/ana", "linux", PLANT)
    with LocalConnector("lap", tmp_path) as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-ssh", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    databases = {a.target.path for a in plan.actions if a.records and a.target}
    wals = {p for p in databases if (tmp_path / (p.lstrip("/") + "-wal")).exists()}
    assert wals, "a database with a live WAL is planned"
    third = {p for p in databases if PLANT.third_email.encode() in _db_bytes(tmp_path / p.lstrip("/"))}

    class NoLocalDisk(LocalConnector):
        database_path = None  # type: ignore[assignment]  # as over SSH: no local path to a database

    report = execute_plan(
        plan,
        connectors=lambda name: NoLocalDisk(name, tmp_path),
        matcher=_matcher(),
        ledger=new_ledger(tmp_path.parent / "ledger-ssh.jsonl"),
        run_id="run-1",
        actor="tester",
    )
    assert report.complete, report.pending
    needles = [PLANT.subject_email.encode().lower(), PLANT.subject_name.encode().lower()]
    for path in databases:
        db = tmp_path / path.lstrip("/")
        assert not any(n in _db_bytes(db).lower() for n in needles), path
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()
    assert not any((tmp_path / (p.lstrip("/") + "-wal")).exists() for p in wals), "the folded WAL is removed"
    assert all(PLANT.third_email.encode() in _db_bytes(tmp_path / p.lstrip("/")) for p in third)
    assert not list(tmp_path.rglob(".dsr-tmp-*"))


def _db_bytes(db: Path) -> bytes:
    """A database's raw bytes with its WAL's."""
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_running_agent_app_makes_only_its_files_wait(tmp_path: Path) -> None:
    """While Codex runs (its process seen), Codex files are busy and untouched; other agents' are erased."""
    write_agent_stores(tmp_path, "/home/ana", "linux", PLANT)
    with LocalConnector("lap", tmp_path) as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-busy", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    codex = {a.target.path for a in plan.actions if a.app == "codex" and a.target}
    assert codex
    before = {p: (tmp_path / p.lstrip("/")).read_bytes() for p in codex}

    class CodexRunning(LocalConnector):
        def activity(self) -> Activity:
            return Activity(agent_running=False, evidence=("app_process:codex",))

    report = execute_plan(
        plan,
        connectors=lambda name: CodexRunning(name, tmp_path),
        matcher=_matcher(),
        ledger=new_ledger(tmp_path.parent / "ledger-busy.jsonl"),
        run_id="run-1",
        actor="tester",
    )
    busy = {o.path for o in report.outcomes if o.status.value == "busy"}
    assert codex <= busy
    assert {p: (tmp_path / p.lstrip("/")).read_bytes() for p in codex} == before
    assert any(o.status.value == "done" for o in report.outcomes)


def test_row_deleted_without_vacuum_is_erased_from_free_pages(tmp_path: Path) -> None:
    """A database whose subject row was deleted by the app (no VACUUM) is no access finding, but the bytes
    stay in free pages: the scan reports it, the plan VACUUMs it, and no byte of the subject remains."""
    db = tmp_path / "home/ana/.local/share/opencode/opencode.db"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db)
    con.execute("PRAGMA secure_delete=OFF")
    con.execute("CREATE TABLE session(id TEXT PRIMARY KEY, title TEXT)")
    con.execute("INSERT INTO session VALUES ('ses_1', ?)", (f"Contract for {PLANT.subject_name}",))
    con.execute("INSERT INTO session VALUES ('ses_2', 'kept')")
    con.commit()
    con.execute("DELETE FROM session WHERE id = 'ses_1'")
    con.commit()
    con.close()
    assert PLANT.subject_name.encode() in db.read_bytes(), "the deleted row lingers in a free page"
    with LocalConnector("lap", tmp_path) as connector:
        result = scan_endpoint(connector, "lap", _matcher(), classify=False)
        discovery = discover_endpoint(connector, "lap", _matcher())
    assert result.items == () and result.residual_databases == ("/home/ana/.local/share/opencode/opencode.db",)
    assert LocationDiscovery.from_dict(discovery.to_dict()) == discovery, "staged discoveries keep the VACUUM list"
    plan = plan_erasure("req-free", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    endpoint_actions = [(a.reason, a.records) for a in plan.actions if a.location_type == "endpoint"]
    assert endpoint_actions == [("free_pages", ())]
    report = execute_plan(
        plan,
        connectors=lambda name: LocalConnector(name, tmp_path),
        matcher=_matcher(),
        ledger=new_ledger(tmp_path.parent / "ledger-free.jsonl"),
        run_id="run-1",
        actor="tester",
    )
    assert report.complete
    assert PLANT.subject_name.encode() not in db.read_bytes()
    con = sqlite3.connect(db)
    assert con.execute("SELECT id FROM session").fetchall() == [("ses_2",)]
    con.close()


def test_app_opened_during_a_database_write_back_stops_it(tmp_path: Path) -> None:
    """Over SSH the app is checked again just before the database is written back: an app (not the agent
    the connector's own check knows) that opens after the action began leaves its database untouched."""
    write_agent_stores(tmp_path, "/home/ana", "linux", PLANT)
    with LocalConnector("lap", tmp_path) as connector:
        discovery = discover_endpoint(connector, "lap", _matcher())
    plan = plan_erasure("req-open", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    first = next(a for a in plan.actions if a.records and a.target and a.app and a.app != "claude")
    layout = agent_layout(first.app or "")
    assert first.target is not None and layout is not None and layout.processes
    files = [first.target.path + s for s in ("", "-wal", "-shm")]
    before = {p: (tmp_path / p.lstrip("/")).read_bytes() for p in files if (tmp_path / p.lstrip("/")).exists()}
    opened: list[str] = []

    class AppOpensLater(LocalConnector):
        database_path = None  # type: ignore[assignment]  # as over SSH: no local path to a database

        def activity(self) -> Activity:
            return Activity(agent_running=False, evidence=tuple(f"app_process:{p}" for p in opened))

    def hook(step: str) -> None:
        if step == "before_replace":  # the action began: the app's pre-action check has passed
            opened[:] = layout.processes

    report = execute_plan(
        dataclasses.replace(plan, actions=(first,)),  # the hook fires during this action only
        connectors=lambda name: AppOpensLater(name, tmp_path),
        matcher=_matcher(),
        ledger=new_ledger(tmp_path.parent / "ledger-open.jsonl"),
        run_id="run-1",
        actor="tester",
        kill_hook=hook,
    )
    assert [o.status.value for o in report.outcomes] == ["busy"]
    assert opened, "the app opened during the action"
    assert {p: (tmp_path / p.lstrip("/")).read_bytes() for p in before} == before
