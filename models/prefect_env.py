"""Prefect settings forced in every process this product starts: no telemetry, no analytics, nothing that
reaches the internet.

Applied to `os.environ` by the `dsr` entry point and by the `flows` and `deployments` packages before Prefect
is imported, and to the environment of every server, serve process and temporary server the CLI starts.
Plain strings, no Prefect import.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

QUIET_PREFECT_ENV: dict[str, str] = {
    # The server's telemetry heartbeat to Prefect's collector (it prints "Failed to send telemetry" offline).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The SDK's anonymous usage events (client side).
    "DO_NOT_TRACK": "1",
    # Orchestration telemetry and resource metrics sent to Prefect Cloud.
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    # The UI's promotional content (fetched from the internet).
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
}
"""Environment variables (names from Prefect 3's settings reference) and the values they are forced to."""


def quiet_prefect(environ: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Force the quiet settings into `environ` (default `os.environ`); returns it."""
    target: MutableMapping[str, str] = os.environ if environ is None else environ
    target.update(QUIET_PREFECT_ENV)
    return target
