"""The deployment catalog: one `RunnerDeployment` per flow, schedules from the configuration."""

from __future__ import annotations

from typing import cast

from prefect.deployments.runner import RunnerDeployment

from flows.access import access_request, access_sweep
from flows.erasure_request import erasure_request
from models.settings import Settings

TAGS = ["dsr"]


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """The deployments to serve: access (and portability), the pending-location sweep, ... ."""
    deployments = [
        access_request.to_deployment(
            name="access-request",
            description="Scan every laptop and store for one request's subject and issue the Art. 15 package "
            "(also Art. 20 exports for portability requests). Parameter: the request id only.",
            tags=TAGS,
        ),
        erasure_request.to_deployment(
            name="erasure-request",
            description="Find one request's subject everywhere, plan the erasure, pause for a named reviewer's "
            "approval (form in this UI), then erase, verify and certify. Parameter: the request id only.",
            tags=TAGS,
        ),
        access_sweep.to_deployment(
            name="access-sweep",
            cron=settings.access.sweep_cron,
            description="Retry pending (offline or busy) locations of open access requests.",
            tags=TAGS,
        ),
    ]
    return cast("list[RunnerDeployment]", deployments)
