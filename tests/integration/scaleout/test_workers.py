"""Scale-out: a Prefect server on PostgreSQL, a process work pool, two workers; access flows complete across them.

Everything runs on loopback and is stopped by pid: the Prefect server (its own PostgreSQL database), two
`prefect worker` processes on one process pool, and the deployment pulled from this checkout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from models.types import RequestKind
from tests.conftest import PG_URL, skip_service
from tests.integration.flows.conftest import Fleet, make_fleet

pytestmark = [pytest.mark.service, pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[3]
POOL = "dsr-scaleout"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _asyncpg(url: str, database: str) -> str:
    """The same server as `url`, database `database`, with Prefect's async driver."""
    base = url.rsplit("/", 1)[0]
    return base.replace("postgresql+psycopg", "postgresql+asyncpg", 1) + f"/{database}"


DEPLOY = """
import json, sys
from prefect import flow
from prefect.deployments import run_deployment
from models.flow_names import ACCESS_REQUEST, deployment_path
repo, pool, config, *ids = sys.argv[1:]
flow.from_source(source=repo, entrypoint="flows/access.py:access_request").deploy(
    name="scaleout", work_pool_name=pool, job_variables={"env": {"DSR_CONFIG": config}}, build=False, push=False
)
target = deployment_path(ACCESS_REQUEST, "scaleout")
runs = [run_deployment(target, parameters={"request_id": r}, timeout=0) for r in ids]
print(json.dumps([str(r.id) for r in runs]))
"""

STATES = """
import json, sys, uuid
from prefect import get_client
with get_client(sync_client=True) as client:
    print(json.dumps({i: client.read_flow_run(uuid.UUID(i)).state.type.value for i in sys.argv[1:]}))
"""


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:  # noqa: S310 - loopback http URL
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def start_cluster(
    tmp_path: Path, *, limit: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """A Prefect server on a fresh PostgreSQL database plus two process workers (`limit` runs each) on one
    pool; yields the environment that reaches it (and `LOGS`, the directory of every process's log)."""
    if not PG_URL:
        skip_service("DSR_TEST_DATABASE_URL is not set (the Prefect server needs PostgreSQL here)")
    admin = create_engine(PG_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    db = f"dsr_prefect_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {db}"))
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": PG_URL.rsplit("/", 1)[0].replace(
            "postgresql+psycopg", "postgresql+asyncpg"
        )
        + f"/{db}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        **(extra_env or {}),
    }
    procs: list[subprocess.Popen[bytes]] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def spawn(name: str, *argv: str) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "prefect", *argv],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    try:
        spawn("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        deadline = time.monotonic() + 120
        while not _healthy(api):
            assert time.monotonic() < deadline, (logs / "server.log").read_text()[-3000:]
            time.sleep(1)
        subprocess.run(
            [sys.executable, "-m", "prefect", "work-pool", "create", POOL, "--type", "process"],
            env=env,
            check=True,
            capture_output=True,
        )
        for n in (1, 2):
            spawn(f"worker-{n}", "worker", "start", "--pool", POOL, "--name", f"worker-{n}", "--limit", str(limit))
        yield {**env, "LOGS": str(logs)}
    finally:
        _stop(procs)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Prefect server on a fresh PostgreSQL database plus two process workers on one pool."""
    with start_cluster(tmp_path) as env:
        yield env


def test_access_flows_complete_across_two_workers(cluster: dict[str, str], tmp_path: Path) -> None:
    """Four access requests submitted to the pool all complete, and both workers ran some of them."""
    fleet: Fleet = make_fleet(tmp_path, 3, seed=5)
    env = {**cluster, "DSR_CONFIG": str(fleet.config)}
    os.environ["DSR_CONFIG"] = str(fleet.config)
    try:
        ids = [fleet.submit(RequestKind.ACCESS) for _ in range(4)]
    finally:
        os.environ.pop("DSR_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-c", DEPLOY, str(REPO), POOL, str(fleet.config), *ids],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    run_ids = json.loads(out.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + 600
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        res = subprocess.run(
            [sys.executable, "-c", STATES, *run_ids], env=env, capture_output=True, text=True, check=True
        )
        states = json.loads(res.stdout.strip().splitlines()[-1])
        if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
            break
        time.sleep(5)
    logs = Path(cluster["LOGS"])
    assert set(states.values()) == {"COMPLETED"}, (states, (logs / "worker-1.log").read_text()[-2000:])
    ran = {n: sum(rid in (logs / f"worker-{n}.log").read_text() for rid in run_ids) for n in (1, 2)}
    assert ran[1] >= 1 and ran[2] >= 1, ran
