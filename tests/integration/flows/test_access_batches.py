"""Large fleets: several laptops to a scan task (`[access].locations_per_task`), progress sent once a second.

Runs the access flow under Prefect's test harness with batches of three locations, one of them gone (retried
inside its batch, then left pending) and one whose scan fails unexpectedly (the rest of its batch goes on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows import access as access_flow
from flows.access import access_request
from models import cases
from models.db import session_scope
from models.settings import load_settings
from models.types import RequestKind
from services import access as steps
from tests.integration.flows.conftest import make_fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


def _task_runs(request_id: str) -> dict[str, str]:
    """Id and name of every task run named after `request_id` on the harness's server (shared by the whole
    test session: request ids start again in every test's database, so earlier tests' runs share the name)."""
    from prefect import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=request_id)))
    return {str(run.id): run.name for run in runs}


def _progress(request_id: str) -> float:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    key = access_flow.artifact_key(request_id, "progress")
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    artifact = max(found, key=lambda a: a.created or 0)  # the newest: earlier tests' requests share the key
    return float(artifact.data)  # type: ignore[arg-type]


def test_batched_laptops_are_scanned_in_few_tasks_with_honest_statuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six locations, three to a task: two task runs. The gone laptop is tried three times inside its batch and
    stays pending; the laptop whose scan fails stays pending too, and the others of its batch are scanned.
    The progress artifact is sent once when the clock does not move (never once per laptop) and ends at 4/6."""
    extra = '\n[[endpoints]]\nname = "laptop-gone"\nurl = "file:///nonexistent/dsr-gone-laptop"\nos = "macos"\n'
    fleet = make_fleet(tmp_path, 5, seed=9, extra=extra)
    fleet.config.write_text(
        fleet.config.read_text(encoding="utf-8").replace("[access]\n", "[access]\nlocations_per_task = 3\n", 1),
        encoding="utf-8",
    )
    monkeypatch.setenv("DSR_CONFIG", str(fleet.config))
    monkeypatch.setenv("DSR_RETRY_DELAYS", "0,0")
    rid = fleet.submit(RequestKind.ACCESS)

    real_scan = steps.scan_location

    def flaky(settings: Any, request_id: str, location: str, **kwargs: Any) -> steps.ScanOutcome:
        if location == "laptop-02":
            raise RuntimeError("disk on fire")
        return real_scan(settings, request_id, location, **kwargs)

    monkeypatch.setattr(steps, "scan_location", flaky)
    sent: list[float] = []
    real_update = access_flow.update_progress_artifact

    def update(artifact_id: Any, progress: float) -> Any:
        sent.append(progress)
        return real_update(artifact_id, progress=progress)

    monkeypatch.setattr(access_flow, "_now", lambda: 0.0)  # the clock never moves: no update before the end
    monkeypatch.setattr(access_flow, "update_progress_artifact", update)

    earlier = _task_runs(rid)
    result = access_request(rid)

    assert result["issued"] is False and sorted(result["pending"]) == ["laptop-02", "laptop-gone"]
    ours = sorted(name for run_id, name in _task_runs(rid).items() if run_id not in earlier)
    assert ours == [f"{rid}-scan-batch-1", f"{rid}-scan-batch-2"]
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        scans = {s.location: s for s in cases.location_scans(session, rid)}
    assert scans["laptop-gone"].status == "unreachable" and scans["laptop-gone"].attempts == 3
    assert scans["laptop-02"].status == "pending" and scans["laptop-02"].attempts == 0
    for name in ("laptop-01", "laptop-03", "laptop-04", "laptop-05"):
        assert scans[name].status == "scanned" and scans[name].attempts == 1, name
    assert sent == [pytest.approx(100 * 4 / 6)]
    assert _progress(rid) == pytest.approx(100 * 4 / 6)
