"""Shared pieces of the Prefect flows: settings and secret blocks inside a run, retry conditions, artifact keys,
sanitised task errors and log redaction."""

from __future__ import annotations

import collections
import functools
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun
from prefect.futures import PrefectFuture

from models.errors import DsrError, is_retryable
from models.secret_source import resolve_secret
from models.settings import Settings, load_settings, resolve_config_path
from services.fanout import current_scan_context
from services.subject import log_redaction


class TransientLocationError(Exception):
    """Raised by a task so that Prefect retries a location that was asleep or busy (ids only in the message)."""


SECRET_ENV = {
    "master_key": "DSR_MASTER_KEY",
    "hmac_key": "DSR_HMAC_KEY",
    "ledger_signing_key": "DSR_LEDGER_SIGNING_KEY",
}


#: Parsed configurations of this process, by what they were read from (see `_settings_key`).
_SETTINGS_CACHE: dict[tuple[object, ...], Settings] = {}
_SETTINGS_LOCK = threading.Lock()
_SETTINGS_CACHE_SIZE = 8


def flow_settings() -> Settings:
    """The configuration inside a flow run (`DSR_CONFIG`, else ./dsr.toml, else defaults); keys named as
    Prefect Secret blocks in `[secrets]` are loaded into this process's environment once.

    Parsed once per process and file version: every task of a fan-out asks for it, and validating a
    configuration with hundreds of laptops takes a noticeable fraction of a second. A changed file (its
    modification time, size or inode), another `DSR_CONFIG`, working directory or `DSR_DATABASE_URL` is read
    afresh. `Settings` is frozen, so sharing one between threads is safe.
    """
    key = _settings_key()
    with _SETTINGS_LOCK:
        settings = _SETTINGS_CACHE.get(key)
    if settings is None:
        settings = load_settings(None)
        with _SETTINGS_LOCK:
            if len(_SETTINGS_CACHE) >= _SETTINGS_CACHE_SIZE:
                _SETTINGS_CACHE.clear()
            _SETTINGS_CACHE[key] = settings
    load_secret_blocks(settings)
    return settings


def _settings_key() -> tuple[object, ...]:
    """What the configuration of this process is read from: the file's identity and version, the working
    directory (relative paths) and the database override."""
    path, _named = resolve_config_path(None)
    try:
        stat = path.stat()
        version: tuple[object, ...] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except OSError:
        version = ("missing",)
    return (str(path), os.getcwd(), os.environ.get("DSR_DATABASE_URL"), *version)


def load_secret_blocks(settings: Settings) -> None:
    """For each key with a `[secrets]` block and no environment value, read the block (never logged)."""
    for field, env_var in SECRET_ENV.items():
        block = getattr(settings.secrets, field)
        if block and not os.environ.get(env_var):
            value = resolve_secret(env_var, None, block, _load_block)
            if value:
                os.environ[env_var] = value


def _load_block(name: str) -> str:
    from prefect.blocks.system import Secret  # noqa: PLC0415 - only when a block is configured

    value = Secret.load(name).get()  # type: ignore[union-attr]
    return str(value)


def retry_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry only transient failures (never host-key or auth problems)."""
    try:
        state.result()
    except TransientLocationError:
        return True
    except Exception as exc:  # noqa: BLE001 - classify whatever the task raised
        return is_retryable(exc)
    return False


def retry_delays() -> list[float]:
    """Backoff between task retries: `DSR_RETRY_DELAYS` (comma-separated seconds), default 5 then 30."""
    raw = os.environ.get("DSR_RETRY_DELAYS", "5,30")
    try:
        return [float(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise DsrError(f"DSR_RETRY_DELAYS={raw!r} must be comma-separated seconds, e.g. 5,30") from None


def artifact_key(request_id: str, what: str) -> str:
    """A Prefect artifact key for a request (lower case letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9-]", "-", f"{request_id}-{what}".lower())


class TaskFailedError(DsrError):
    """An unexpected error inside a task, re-raised without its message (which could quote data)."""


@contextmanager
def guarded(request_id: str, location: str) -> Iterator[None]:
    """Let domain errors through (their messages carry ids only); replace any other exception by a
    `TaskFailedError` naming only its type, so no message that could quote data reaches Prefect."""
    try:
        yield
    except (DsrError, TransientLocationError):
        raise
    except Exception as exc:  # noqa: BLE001 - every unexpected error is sanitised before Prefect stores it
        raise TaskFailedError(
            f"{request_id}: {location}: unexpected {type(exc).__name__}; details withheld (they could quote data)"
        ) from None


@contextmanager
def request_log_redaction(request_id: str) -> Iterator[None]:
    """While a request's flow runs, redact its subject's identifiers from every log record (safety net); a
    task in the process of its run reuses the run's matcher instead of building one."""
    try:
        settings = flow_settings()
    except DsrError:
        yield
        return
    context = current_scan_context(request_id)
    with log_redaction(settings, request_id, context.matcher if context is not None else None):
        yield


MAX_THREADS = 256
"""The flows' thread pools: the upper bound of `[access].max_workers`; threads start only as tasks need them,
and `submit_bounded` keeps at most `max_workers` tasks running."""


def submit_bounded(
    submit: Callable[[Any], PrefectFuture[Any]],
    work: Iterable[Any],
    limit: int,
    done: Callable[[PrefectFuture[Any]], None] | None = None,
    *,
    narrow: Callable[[Any], bool] | None = None,
    narrow_limit: int = 1,
    keep: bool = True,
) -> list[PrefectFuture[Any]]:
    """Submit one task per item of `work`, never more than `limit` running at once (`[access].max_workers`),
    and of the items `narrow` is true of, never more than `narrow_limit` (`[access].local_scans`): those wait
    unsubmitted, in order, while the others go ahead. `done` is called with each future as it finishes. Returns
    every future, in submission order, all finished; with `keep=False` none: each is let go once `done` has seen
    it, so that a fan-out over thousands of laptops holds no finished task's state.

    Each future gets one done-callback, which puts it on a queue the loop reads: the bookkeeping per finished
    task is constant, however many tasks run (waiting on the running set anew would register a callback on
    every running future each time one finishes)."""
    pending = collections.deque(work)
    held: collections.deque[Any] = collections.deque()  # narrow items waiting for a narrow place
    submitted: list[PrefectFuture[Any]] = []
    finished: queue.SimpleQueue[tuple[PrefectFuture[Any], bool]] = queue.SimpleQueue()
    running = narrowed = 0
    while pending or held or running:
        while running < max(limit, 1):
            if held and narrowed < max(narrow_limit, 1):
                item, is_narrow = held.popleft(), True
            elif pending:
                item = pending.popleft()
                is_narrow = narrow is not None and narrow(item)
                if is_narrow and narrowed >= max(narrow_limit, 1):
                    held.append(item)
                    continue
            else:
                break
            future = submit(item)
            if keep:
                submitted.append(future)
            running += 1
            narrowed += is_narrow
            future.add_done_callback(functools.partial(_finished, finished, is_narrow))
        future, was_narrow = finished.get()
        running -= 1
        narrowed -= was_narrow
        if done is not None:
            done(future)
    return submitted


def _finished(
    into: queue.SimpleQueue[tuple[PrefectFuture[Any], bool]], is_narrow: bool, future: PrefectFuture[Any]
) -> None:
    into.put((future, is_narrow))
