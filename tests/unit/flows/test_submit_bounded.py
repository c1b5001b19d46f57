"""`flows.common.submit_bounded`: each future gets one done-callback, whatever the size of the fan-out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.common import submit_bounded


class _Finished:
    """A future whose task has already run: a callback added to it is called at once (as Prefect's futures do)."""

    _final_state = None  # what Prefect's own waiting helpers look at first: not known yet, so they register

    def __init__(self, item: int) -> None:
        self.item = item
        self.callbacks = 0

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        self.callbacks += 1
        fn(self)


def test_each_future_gets_one_done_callback() -> None:
    """Waiting for the next finished task must not register a callback on every running future again
    (that work would grow with the number of laptops times the bound)."""
    futures: list[_Finished] = []
    reported: list[int] = []

    def submit(item: int) -> Any:
        futures.append(_Finished(item))
        return futures[-1]

    def done(future: Any) -> None:
        reported.append(future.item)

    result = submit_bounded(submit, range(20), 4, done)
    assert [id(f) for f in result] == [id(f) for f in futures]  # every item, in submission order
    assert sorted(reported) == list(range(20))  # each reported once
    assert [f.callbacks for f in futures] == [1] * 20


def test_without_keep_no_finished_future_is_held() -> None:
    """`keep=False` (the access run's fan-out over every laptop): each future is reported, then let go, so the
    memory of a fan-out does not grow with the fleet."""
    import gc
    import weakref

    alive: list[weakref.ref[_Finished]] = []
    reported: list[int] = []

    def submit(item: int) -> Any:
        future = _Finished(item)
        alive.append(weakref.ref(future))
        return future

    assert submit_bounded(submit, range(20), 4, lambda future: reported.append(future.item), keep=False) == []
    gc.collect()
    assert sorted(reported) == list(range(20))
    assert [ref() for ref in alive] == [None] * 20
