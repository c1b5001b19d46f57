"""`dsr request run` as a user runs it (a subprocess): the Prefect server it starts ends with it, even after
`kill -9`; nothing mentions telemetry; one run of a request at a time; a closed request is never run again.

Waits are for events (a process appearing or ending, a command exiting), each with a generous guard only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import select

from models import cases
from models.db import dispose_engines, session_scope
from models.run_lock import run_lock
from models.settings import load_settings
from models.tables import ErasurePlanRecord, LedgerEntry, LocationScan, Request
from models.types import RequestKind
from services import erasure as steps
from tests.integration.flows.conftest import Fleet, make_fleet

pytestmark = [pytest.mark.service, pytest.mark.timeout(1200)]

DSR = [sys.executable, "-m", "dsr"]
GUARD = 600.0
DESTRUCTIVE = ("delete_file", "delete_session", "redact_lines", "delete_s3_version")
SERVER_MARKERS = ("uvicorn", "temp_server", "prefect.server", "prefect server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fleet(root: Path, endpoints: int, prefect_port: int) -> Fleet:
    """A small fleet whose configuration names `prefect_port` as the local Prefect server."""
    made = make_fleet(root, endpoints, seed=13)
    with made.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[prefect]\nhost = "127.0.0.1"\nport = {prefect_port}\n')
    return made


def _env(fleet: Fleet, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DSR_"))}
    env.update({"DSR_CONFIG": str(fleet.config), "DSR_RETRY_DELAYS": "0", "COLUMNS": "200"})
    if database_url:
        env["DSR_DATABASE_URL"] = database_url
    return env


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def _live_pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] != "Z":
                yield int(entry.name)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _server_child(parent: int) -> int | None:
    for pid in _live_pids():
        stat = _stat(pid)
        if stat is not None and stat[1] == parent and any(m in _cmdline(pid) for m in SERVER_MARKERS):
            return pid
    return None


def _group(pgid: int) -> list[int]:
    return [pid for pid in _live_pids() if (_stat(pid) or ("", 0, 0))[2] == pgid]


def _wait_for(what: str, done: object, guard: float = GUARD) -> None:
    deadline = time.monotonic() + guard
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"guard expired waiting for {what}"
        time.sleep(0.2)


def _run(fleet: Fleet, rid: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DSR, "request", "run", rid],
        env=env,
        cwd=fleet.root,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )


def _run_two_at_once(fleet: Fleet, rid: str, env: dict[str, str]) -> list[tuple[int, str]]:
    procs = [
        subprocess.Popen(
            [*DSR, "request", "run", rid],
            env=env,
            cwd=fleet.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=GUARD)
        results.append((proc.returncode, stdout + stderr))
    return results


def _assert_one_ran_the_other_refused_cleanly(results: list[tuple[int, str]], rid: str) -> None:
    for code, output in results:
        assert "Traceback" not in output, output
        assert "cannot go from" not in output, output
        if code != 0:
            assert code == 1, output
            assert f"request {rid} is being run by another process" in output, output
    assert any(code == 0 for code, _ in results), results


def test_kill_9_of_a_run_leaves_no_prefect_server_behind(tmp_path: Path) -> None:
    """`kill -9` of `dsr request run` while its temporary Prefect server runs: the server and its process group
    end too (the parent is gone, so nothing else would ever stop them)."""
    fleet = _fleet(tmp_path, 2, _free_port())
    rid = fleet.submit(RequestKind.ACCESS)
    proc = subprocess.Popen(
        [*DSR, "request", "run", rid],
        env=_env(fleet),
        cwd=fleet.root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server: list[int] = []
    try:

        def server_seen() -> bool:
            assert proc.poll() is None, "the run ended before its Prefect server was seen"
            child = _server_child(proc.pid)
            if child is not None:
                server.append(child)
            return bool(server)

        _wait_for("the run's Prefect server", server_seen)
        pgid = (_stat(server[0]) or ("", 0, 0))[2]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_for("the orphaned Prefect server to end", lambda: _stat(server[0]) is None or not _group(pgid), 120)
        assert server[0] not in list(_live_pids())
        assert _group(pgid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in server:
            stat = _stat(pid)
            if stat is not None:
                for leftover in _group(stat[2]):
                    os.kill(leftover, signal.SIGKILL)


def test_a_run_with_its_own_server_says_nothing_of_telemetry_and_leaves_nothing_running(tmp_path: Path) -> None:
    """No Prefect server around: the run starts one, completes, prints no telemetry line and no traceback, and
    no process with its Prefect home is left."""
    fleet = _fleet(tmp_path, 2, _free_port())
    rid = fleet.submit(RequestKind.ACCESS)
    done = _run(fleet, rid, _env(fleet))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"{rid}: completed" in done.stdout
    assert "telemetry" not in output.lower(), output
    assert "Traceback" not in output
    # its one-time credential works (a refused call reads "401 Unauthorized"; bare digits occur in times)
    assert "Error logging to API" not in output and "Unauthorized" not in output, output
    home = str(load_settings(fleet.config).prefect.home).encode()
    for pid in _live_pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        assert b"PREFECT_HOME=" + home + b"\0" not in environ, f"process {pid} of the run is still running"


@pytest.fixture
def harness_port(prefect_harness: None) -> int:
    """The port of the session's Prefect test server, used as the configuration's local Prefect server."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url and url.startswith("http://127.0.0.1:")
    return int(url.split(":")[2].split("/")[0])


def _plans(url: str, rid: str) -> list[ErasurePlanRecord]:
    with session_scope(url) as session:
        return list(session.exec(select(ErasurePlanRecord).where(ErasurePlanRecord.request_id == rid)).all())


def test_two_runs_of_one_request_at_once_make_one_plan_and_act_once(
    tmp_path: Path, database_url: str, harness_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `dsr request run` of one erasure at the same moment (SQLite and PostgreSQL), against the running
    local Prefect server: one plan, then after approval each action once; a second run is refused in one line."""
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    fleet = _fleet(tmp_path, 3, harness_port)
    env = _env(fleet, database_url)
    rid = fleet.submit(RequestKind.ERASURE)
    _assert_one_ran_the_other_refused_cleanly(_run_two_at_once(fleet, rid, env), rid)
    assert len(_plans(database_url, rid)) == 1
    with session_scope(database_url) as session:
        assert cases.get_request(session, rid).status == "awaiting_approval"
    settings = load_settings(fleet.config)
    digest = steps.plan_state(settings, rid).digest
    assert digest
    steps.decide(settings, rid, approved=True, reviewer="Dana Reviewer", digest=digest, note="checked")
    dispose_engines()
    _assert_one_ran_the_other_refused_cleanly(_run_two_at_once(fleet, rid, env), rid)
    assert len(_plans(database_url, rid)) == 1
    with session_scope(database_url) as session:
        entries = session.exec(select(LedgerEntry).where(LedgerEntry.request_id == rid)).all()
        assert cases.get_request(session, rid).status == "completed"
    acted = Counter((e.action, e.location, e.path, e.version_id) for e in entries if e.action in DESTRUCTIVE)
    assert acted, "the approved plan deleted or redacted nothing"
    assert [key for key, n in acted.items() if n > 1] == []


def test_a_run_while_another_holds_the_request_is_refused_and_touches_nothing(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run holds the request (here: this test): `dsr request run` exits 1 in one line, without starting
    a server, scanning or planning."""
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    fleet = _fleet(tmp_path, 2, _free_port())
    rid = fleet.submit(RequestKind.ERASURE)
    with session_scope(database_url) as session:
        before = cases.get_request(session, rid).status
    with run_lock(database_url, rid):
        done = _run(fleet, rid, _env(fleet, database_url))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"request {rid} is being run by another process" in lines[0], done.stderr
    with session_scope(database_url) as session:
        assert cases.get_request(session, rid).status == before
        assert session.exec(select(LocationScan).where(LocationScan.request_id == rid)).all() == []
    assert _plans(database_url, rid) == []


@pytest.mark.parametrize("kind", [RequestKind.ERASURE, RequestKind.ACCESS])
def test_a_closed_request_is_never_run_again(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, kind: RequestKind
) -> None:
    """A completed request: `dsr request run` says it is closed, in one line, and scans and plans nothing."""
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    fleet = _fleet(tmp_path, 2, _free_port())
    rid = fleet.submit(kind)
    with session_scope(database_url) as session:
        session.execute(update(Request).where(Request.id == rid).values(status="completed"))  # type: ignore[arg-type]
        ledger_before = len(session.exec(select(LedgerEntry).where(LedgerEntry.request_id == rid)).all())
    done = _run(fleet, rid, _env(fleet, database_url))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"request {rid} is completed" in lines[0] and "not run again" in lines[0], lines
    with session_scope(database_url) as session:
        assert cases.get_request(session, rid).status == "completed"
        assert session.exec(select(LocationScan).where(LocationScan.request_id == rid)).all() == []
        assert len(session.exec(select(LedgerEntry).where(LedgerEntry.request_id == rid)).all()) == ledger_before
    assert _plans(database_url, rid) == []
