"""One access request's scans spread over two workers (`[access].scan_deployment`), and children that are lost.

Same cluster as `test_workers.py` (a Prefect server on a fresh PostgreSQL database, two `prefect worker`
processes on one process pool), with two runs per worker: the access run takes one slot, its scan children the
others. Which worker ran each child is read from the Prefect API (the label the worker puts on the runs it
takes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models import cases
from models.db import session_scope
from models.settings import load_settings
from models.types import LocationStatus, RequestKind, RequestStatus
from services.access import access_progress
from tests.integration.flows.conftest import Fleet, make_fleet
from tests.integration.scaleout.test_workers import POOL, REPO, STATES, start_cluster

pytestmark = [pytest.mark.service, pytest.mark.timeout(900)]
NOWHERE = "dsr-nowhere"  # a pool no worker serves: its runs are never picked up

DEPLOY = """
import json, sys
from prefect import flow
for entrypoint, name, pool, config in json.loads(sys.argv[2]):
    flow.from_source(source=sys.argv[1], entrypoint=entrypoint).deploy(
        name=name, work_pool_name=pool, job_variables={"env": {"DSR_CONFIG": config}}, build=False, push=False
    )
print("[]")
"""

RUN = """
import json, sys
from prefect.deployments import run_deployment
from models.flow_names import ACCESS_REQUEST, deployment_path
runs = [
    run_deployment(deployment_path(ACCESS_REQUEST, "spread"), parameters={"request_id": rid},
                   job_variables={"env": {"DSR_CONFIG": config}}, timeout=0)
    for rid, config in json.loads(sys.argv[1])
]
print(json.dumps([str(r.id) for r in runs]))
"""

CHILDREN = """
import json, sys
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
with get_client(sync_client=True) as client:
    named = FlowRunFilter(name=FlowRunFilterName(like_=sys.argv[1] + "-scan-batch-"))
    runs = client.read_flow_runs(flow_run_filter=named)
    print(json.dumps([
        {"name": r.name, "state": r.state.type.value, "worker": r.labels.get("prefect.worker.name"),
         "process": r.infrastructure_pid, "parameters": sorted(r.parameters), "message": r.state.message or ""}
        for r in runs
    ]))
"""


def _py(env: dict[str, str], script: str, *args: str) -> object:
    out = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _config(fleet: Fleet, name: str, access: str, package_dir: Path | None = None) -> Path:
    """A copy of the fleet's configuration (same case database and keys) with more `[access]` keys."""
    text = fleet.config.read_text(encoding="utf-8").replace("[access]\n", f"[access]\n{access}", 1)
    if package_dir is not None:
        text = text.replace(str(fleet.root.parent / "packages"), str(package_dir), 1)
    path = fleet.config.with_name(name)
    path.write_text(text, encoding="utf-8")
    return path


def _wait(env: dict[str, str], run_ids: list[str]) -> dict[str, str]:
    deadline = time.monotonic() + 600
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = dict(_py(env, STATES, *run_ids))  # type: ignore[call-overload]
        if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
            break
        time.sleep(3)
    return states


def _logs(env: dict[str, str]) -> str:
    logs = Path(env["LOGS"])
    return "\n".join(f"--- {n}\n" + (logs / f"worker-{n}.log").read_text()[-3000:] for n in (1, 2))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two workers of two runs each; workers look for runs every 2 s."""
    with start_cluster(tmp_path, limit=2, extra_env={"PREFECT_WORKER_QUERY_SECONDS": "2"}) as env:
        yield env


def test_one_request_is_scanned_by_children_on_both_workers(cluster: dict[str, str], tmp_path: Path) -> None:
    """Six laptops, two to a batch, with the scan deployment set: the access run's three scan children run on
    both workers, every laptop is scanned, and the package is issued from what the children staged."""
    fleet = make_fleet(tmp_path, 6, seed=5)
    config = _config(fleet, "spread.toml", 'locations_per_task = 2\nscan_deployment = "access-scan/spread"\n')
    rid = fleet.submit(RequestKind.ACCESS)
    specs = [["flows/access.py:access_request", "spread", POOL, str(config)]]
    specs.append(["flows/access_scan.py:access_scan", "spread", POOL, str(config)])
    _py(cluster, DEPLOY, str(REPO), json.dumps(specs))
    run_ids = _py(cluster, RUN, json.dumps([[rid, str(config)]]))
    assert isinstance(run_ids, list)
    states = _wait(cluster, run_ids)
    assert set(states.values()) == {"COMPLETED"}, (states, _logs(cluster))

    children = _py(cluster, CHILDREN, rid)
    assert isinstance(children, list)
    assert sorted(c["name"] for c in children) == [f"{rid}-scan-batch-{n}" for n in (1, 2, 3)]
    assert {c["state"] for c in children} == {"COMPLETED"}, children
    assert {tuple(c["parameters"]) for c in children} == {("batch", "locations", "request_id")}
    assert {c["worker"] for c in children} == {"worker-1", "worker-2"}, children
    assert len({c["process"] for c in children}) == 3, children  # each child in a process of its own

    settings = load_settings(config)
    progress = access_progress(settings, rid)
    assert progress.total == 6
    assert all(LocationStatus(row["status"]).was_read for row in progress.rows), progress.rows
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, rid).status == RequestStatus.COMPLETED.value
    package = fleet.package(rid, tmp_path / "out")
    report = json.loads((package / "report.json").read_text(encoding="utf-8"))
    assert report, "the package was issued from the children's staged copies"


def test_lost_children_leave_their_locations_pending(cluster: dict[str, str], tmp_path: Path) -> None:
    """A child no worker ever takes (cancelled when its time is up) and children on a worker that does not see
    the shared staging directory (they refuse before reading anything): their laptops stay pending, never
    scanned, and nothing is staged on the other disk."""
    subprocess.run(
        [sys.executable, "-m", "prefect", "work-pool", "create", NOWHERE, "--type", "process"],
        env=cluster,
        check=True,
        capture_output=True,
    )
    fleet = make_fleet(tmp_path, 4, seed=6)
    lost = _config(
        fleet,
        "lost.toml",
        'locations_per_task = 2\nscan_deployment = "access-scan/nowhere"\nscan_timeout_minutes = 0.1\n',
    )
    unshared = _config(fleet, "unshared.toml", 'locations_per_task = 2\nscan_deployment = "access-scan/unshared"\n')
    other_disk = tmp_path / "other-disk"
    child_config = _config(fleet, "child.toml", "", package_dir=other_disk)
    specs = [
        ["flows/access.py:access_request", "spread", POOL, str(lost)],
        ["flows/access_scan.py:access_scan", "nowhere", NOWHERE, str(lost)],
        ["flows/access_scan.py:access_scan", "unshared", POOL, str(child_config)],
    ]
    _py(cluster, DEPLOY, str(REPO), json.dumps(specs))
    never, refused = fleet.submit(RequestKind.ACCESS), fleet.submit(RequestKind.ACCESS)
    run_ids = _py(cluster, RUN, json.dumps([[never, str(lost)], [refused, str(unshared)]]))
    assert isinstance(run_ids, list)
    states = _wait(cluster, run_ids)
    assert set(states.values()) == {"COMPLETED"}, (states, _logs(cluster))

    expected_child_state = {never: "CANCELLED", refused: "FAILED"}
    settings = load_settings(fleet.config)
    for rid in (never, refused):
        children = _py(cluster, CHILDREN, rid)
        assert isinstance(children, list)
        assert len(children) == 2
        assert {c["state"] for c in children} == {expected_child_state[rid]}, children
        if rid == refused:  # the child said why, naming the request only
            assert all("does not see the request's staging directory" in c["message"] for c in children), children
        progress = access_progress(settings, rid)
        assert [row["status"] for row in progress.rows] == ["pending"] * 4, progress.rows
        assert progress.status == RequestStatus.IN_PROGRESS.value
    assert not list(other_disk.rglob("*.jsonl.enc")), "a child staged copies where the access run never looks"
