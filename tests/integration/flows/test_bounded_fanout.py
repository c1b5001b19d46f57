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


def test_narrow_items_run_no_more_than_their_limit_and_the_others_go_ahead() -> None:
    """Of eight items, the even ones are narrow (one at a time): while one runs, the odd ones fill the other
    places of the bound of three, and every item still runs once."""
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.common import MAX_THREADS, submit_bounded

    lock = threading.Lock()
    running: dict[bool, int] = {True: 0, False: 0}
    peak: dict[bool, int] = {True: 0, False: 0}
    both = 0  # the most running at once, narrow and wide together

    @task(persist_result=False)
    def work(item: int) -> int:
        nonlocal both
        narrow = item % 2 == 0
        with lock:
            running[narrow] += 1
            peak[narrow] = max(peak[narrow], running[narrow])
            both = max(both, running[True] + running[False])
        time.sleep(0.3)
        with lock:
            running[narrow] -= 1
        return item

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS), persist_result=False)  # type: ignore[arg-type]
    def fan_out() -> list[int]:
        futures = submit_bounded(work.submit, range(8), 3, narrow=lambda item: item % 2 == 0, narrow_limit=1)
        return [f.result() for f in futures]

    assert sorted(fan_out()) == list(range(8))
    assert peak[True] == 1  # never two narrow items at once
    assert peak[False] == 2 and both == 3  # the wide ones went ahead beside it, up to the bound
