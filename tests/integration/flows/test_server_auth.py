"""The server of `dsr server start` (a real Prefect server on a free loopback port) refuses API calls without its
credential, and `dsr request run` against it works: the CLI finds the credential file and the run shows on that
server. `dsr doctor` says the server is reachable and authenticated.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.flow_names import ACCESS_RUN
from models.types import RequestKind
from tests.integration.flows.conftest import Fleet, make_fleet

pytestmark = [pytest.mark.service, pytest.mark.timeout(1500)]

DSR = [sys.executable, "-m", "dsr"]
GUARD = 900


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str, credential: str | None, body: dict[str, object] | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if credential is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(credential.encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310 - loopback http URL
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback http URL
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Fleet, dict[str, str], str]]:
    """A two-laptop fleet whose `dsr server start` server runs on a free loopback port; stopped afterwards."""
    port = _free_port()
    fleet = make_fleet(tmp_path, 2, seed=13)
    with fleet.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[prefect]\nhost = "127.0.0.1"\nport = {port}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DSR_"))}
    env.update({"DSR_CONFIG": str(fleet.config), "DSR_RETRY_DELAYS": "0", "COLUMNS": "200"})
    try:
        started = subprocess.run(
            [*DSR, "server", "start", "--wait", "600"],
            env=env,
            cwd=fleet.root,
            capture_output=True,
            text=True,
            timeout=GUARD + 600,
            check=False,
        )
        logs = fleet.root / ".dsr" / "logs"
        tail = (
            "".join(p.read_text(errors="replace")[-2000:] for p in sorted(logs.glob("*.log"))) if logs.exists() else ""
        )
        assert started.returncode == 0, started.stderr + tail
        assert "prefect-auth.key" in started.stderr  # where the UI's credential is (never the credential)
        yield fleet, env, f"http://127.0.0.1:{port}/api"
    finally:
        subprocess.run([*DSR, "server", "stop"], env=env, cwd=fleet.root, capture_output=True, check=False)


def test_unauthenticated_calls_get_401_and_a_run_against_the_server_works(
    served: tuple[Fleet, dict[str, str], str],
) -> None:
    """No credential or a wrong one: HTTP 401 (the health check stays open); the credential file is private;
    `dsr request run` completes an access request on this server; `dsr doctor` passes its Prefect line."""
    fleet, env, api = served
    key = fleet.root / ".dsr" / "prefect-auth.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    credential = key.read_text(encoding="ascii").strip()
    user, _, password = credential.partition(":")
    assert user and len(password) >= 32

    assert _status(f"{api}/admin/version", None)[0] == 401
    assert _status(f"{api}/flow_runs/filter", None, {})[0] == 401
    assert _status(f"{api}/admin/version", f"{user}:wrong")[0] == 401
    assert _status(f"{api}/health", None)[0] == 200
    assert _status(f"{api}/admin/version", credential)[0] == 200

    rid = fleet.submit(RequestKind.ACCESS)
    done = subprocess.run(
        [*DSR, "request", "run", rid, "--json"],
        env=env,
        cwd=fleet.root,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # (a refused call reads "401 Unauthorized"; the bare digits also occur in ports, ids and times)
    assert "Error logging to API" not in done.stderr and "Unauthorized" not in done.stderr, done.stderr
    shown = subprocess.run(
        [*DSR, "request", "show", rid, "--json"], env=env, cwd=fleet.root, capture_output=True, text=True, check=True
    )
    assert json.loads(shown.stdout)["status"] == "completed"
    name = ACCESS_RUN.format(request_id=rid)
    code, body = _status(f"{api}/flow_runs/filter", credential, {"flow_runs": {"name": {"any_": [name]}}})
    assert code == 200 and [run["name"] for run in json.loads(body)] == [name]  # it ran on this server
    run_id = json.loads(body)[0]["id"]
    code, body = _status(f"{api}/logs/filter", credential, {"logs": {"flow_run_id": {"any_": [run_id]}}})
    assert code == 200 and json.loads(body), "the run's logs did not reach the server"

    doctor = subprocess.run(
        [*DSR, "doctor", "--json"], env=env, cwd=fleet.root, capture_output=True, text=True, check=False
    )
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["prefect"]["status"] == "ok" and "authenticated" in checks["prefect"]["detail"]
    assert checks["key server-credential"]["status"] == "ok"
    assert credential not in doctor.stdout + doctor.stderr + done.stdout + done.stderr
