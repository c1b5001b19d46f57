"""Shared pieces of the Prefect flows: settings inside a run, retry conditions, artifact keys."""

from __future__ import annotations

import re
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun

from models.errors import is_retryable
from models.settings import Settings, load_settings


class TransientLocationError(Exception):
    """Raised by a task so that Prefect retries a location that was asleep or busy (ids only in the message)."""


def flow_settings() -> Settings:
    """The configuration inside a flow run (`DSR_CONFIG`, else ./dsr.toml, else defaults)."""
    return load_settings(None)


def retry_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: retry only transient failures (never host-key or auth problems)."""
    try:
        state.result()
    except TransientLocationError:
        return True
    except Exception as exc:  # noqa: BLE001 - classify whatever the task raised
        return is_retryable(exc)
    return False


def artifact_key(request_id: str, what: str) -> str:
    """A Prefect artifact key for a request (lower case letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9-]", "-", f"{request_id}-{what}".lower())
