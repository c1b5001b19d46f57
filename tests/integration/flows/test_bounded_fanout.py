"""`[access].max_workers` bounds how many location tasks run at once (`flows.common.submit_bounded`), under
Prefect's test harness with real task runs on the flows' thread pool."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


@pytest.mark.parametrize("limit", [1, 3])
def test_no_more_than_max_workers_tasks_run_at_once(limit: int) -> None:
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.common import MAX_THREADS, submit_bounded

    lock = threading.Lock()
    running = 0
    peak = 0

    @task(persist_result=False)
    def work(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        deadline = time.monotonic() + 5  # wait for the others the bound lets in (the last wave may be short)
        while running < limit and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # a task over the bound, if one were started, would be running now
        with lock:
            peak = max(peak, running)
            running -= 1
        return item * 10

    finished: list[int] = []

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS), persist_result=False)  # type: ignore[arg-type]
    def fan_out() -> list[int]:
        futures = submit_bounded(work.submit, range(8), limit, lambda f: finished.append(f.result()))
        return [f.result() for f in futures]

    assert fan_out() == [i * 10 for i in range(8)]  # every item, in submission order
    assert sorted(finished) == [i * 10 for i in range(8)]  # each reported once as it finished
    assert peak == limit  # the pool had threads for all eight: only the bound held them back
