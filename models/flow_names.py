"""The names Prefect shows: flows, deployments and request run names, in one place.

Flows, the deployment catalog, the CLI, the demo and the tests use these constants; a name changed here
changes everywhere. Plain strings, no Prefect import.
"""

from __future__ import annotations

ACCESS_REQUEST = "access-request"
ERASURE_REQUEST = "erasure-request"
ACCESS_SWEEP = "access-sweep"
ACCESS_SCAN = "access-scan"
RETENTION_PURGE = "retention-purge"
RETENTION_PURGE_DRY_RUN = "retention-purge-dry-run"
DEADLINE_WATCH = "deadline-watch"
SUBMIT_REQUEST = "submit-request"

DEPLOYMENT_NAMES = (
    ACCESS_REQUEST,
    ERASURE_REQUEST,
    ACCESS_SWEEP,
    ACCESS_SCAN,
    RETENTION_PURGE_DRY_RUN,
    RETENTION_PURGE,
    DEADLINE_WATCH,
    SUBMIT_REQUEST,
)
"""Every deployment `dsr server start` serves (each deployment of a flow is named like the flow, except the
purge's dry run, a second deployment of the `retention-purge` flow)."""


def deployment_path(flow: str, deployment: str | None = None) -> str:
    """`<flow>/<deployment>`, the form `run_deployment` takes (the deployment defaults to the flow's name)."""
    return f"{flow}/{deployment or flow}"


ACCESS_DEPLOYMENT = deployment_path(ACCESS_REQUEST)
ACCESS_SCAN_DEPLOYMENT = deployment_path(ACCESS_SCAN)
"""The scan deployment `[access].scan_deployment` names to spread one request's batches over workers."""
ERASURE_DEPLOYMENT = deployment_path(ERASURE_REQUEST)
DEPLOYMENT_OF_KIND = {"access": ACCESS_DEPLOYMENT, "portability": ACCESS_DEPLOYMENT, "erasure": ERASURE_DEPLOYMENT}
"""The deployment that handles a request of each kind with a flow (the other kinds are handled by hand)."""

ACCESS_RUN = "{request_id}-access"
PORTABILITY_RUN = "{request_id}-portability"
ERASURE_RUN = "{request_id}-erasure"
"""Run names of a request's flows (Prefect templates): they start with the request id, never an identifier.
An access and a portability request run the same flow; its run is named after the request's kind."""
REQUEST_RUNS = (ACCESS_RUN, PORTABILITY_RUN, ERASURE_RUN)
SCAN_BATCH_RUN = "{request_id}-scan-batch-{batch}"
"""A batch of locations: the in-process task run's name, and the child run's when `[access].scan_deployment`
spreads the batches over workers (the request id and the batch number only)."""


def access_run_name(request_id: str, kind: str) -> str:
    """The run name of the access flow for a request of `kind` (`access` or `portability`)."""
    return (PORTABILITY_RUN if kind == "portability" else ACCESS_RUN).format(request_id=request_id)


def scan_batch_run_name(request_id: str, batch: int) -> str:
    """`<id>-scan-batch-<n>`: the run of one batch of a request's locations."""
    return SCAN_BATCH_RUN.format(request_id=request_id, batch=batch)


def scan_batch_run_prefix(request_id: str) -> str:
    """`<id>-scan-batch-`: what the name of every batch run of the request starts with (housekeeping)."""
    return scan_batch_run_name(request_id, 0)[:-1]


def request_run_names(request_id: str) -> list[str]:
    """The names of a request's flow runs (`<id>-access`, `<id>-portability`, `<id>-erasure`)."""
    return [template.format(request_id=request_id) for template in REQUEST_RUNS]
