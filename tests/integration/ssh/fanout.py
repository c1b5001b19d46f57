"""Fan-out over many laptops for the SSH tests: plain threads, one outcome per laptop.

The product runs one Prefect task per laptop instead; these helpers exist so the tests can drive dozens of
real sshd laptops at once and count what happened on each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from connectors.ssh import SSHConnector
from models.errors import AuthenticationError, ConfigError, ConnectorError, DsrError, HostKeyError
from models.types import LocationStatus


def classify_error(exc: BaseException) -> LocationStatus:
    """The location status an exception stands for (connector errors carry theirs; anything else: failed)."""
    if isinstance(exc, ConnectorError):
        return exc.status
    return LocationStatus.FAILED


def is_retryable(exc: BaseException) -> bool:
    """Whether a retry could help: transient failures only, never host key problems or bad credentials."""
    if isinstance(exc, HostKeyError | AuthenticationError | ConfigError):
        return False
    return isinstance(exc, DsrError) and exc.retryable


@dataclass(frozen=True, slots=True)
class EndpointOutcome:
    """What happened on one laptop: status, a reason code (an error class name, no personal data), the
    seconds it took, and the work's return value when it succeeded."""

    name: str
    status: LocationStatus
    reason: str | None
    seconds: float
    value: Any = None


def run_endpoint(connector: SSHConnector, work: Callable[[SSHConnector], Any]) -> EndpointOutcome:
    """Connect, run `work(connector)`, close; map any connector failure to its status (never raises them).

    Args:
        connector: the laptop's connector (closed afterwards).
        work: what to do once connected (e.g. a scan); its return value lands in `value`.

    Returns:
        `scanned` with the value, or the failure's status and error class name.
    """
    started = time.monotonic()
    try:
        with connector:
            connector.check()
            value = work(connector)
    except (ConnectorError, ConfigError) as exc:
        return EndpointOutcome(connector.name, classify_error(exc), type(exc).__name__, time.monotonic() - started)
    return EndpointOutcome(connector.name, LocationStatus.SCANNED, None, time.monotonic() - started, value)


def probe_endpoint(connector: SSHConnector) -> EndpointOutcome:
    """Connection test: host key, authentication, SFTP and the root's presence; no file is read."""
    return run_endpoint(connector, lambda _c: None)


def fan_out(
    connectors: Sequence[SSHConnector], work: Callable[[SSHConnector], Any], *, max_workers: int = 8
) -> list[EndpointOutcome]:
    """Run `work` on every laptop with bounded concurrency; a dead laptop costs its timeouts, not the run.

    Returns:
        One outcome per connector, in the given order.
    """
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="ssh-fanout") as pool:
        return list(pool.map(lambda c: run_endpoint(c, work), connectors))


def summarize(outcomes: Iterable[EndpointOutcome]) -> dict[str, int]:
    """Count of laptops per status (for the run's summary artifact)."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
    return counts
