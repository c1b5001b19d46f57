"""The deployment catalog: one `RunnerDeployment` per flow, schedules from the configuration."""

from __future__ import annotations

from typing import cast

from prefect.deployments.runner import RunnerDeployment

from flows.access import access_request, access_sweep
from flows.access_scan import access_scan
from flows.deadline_watch import deadline_watch
from flows.erasure_request import erasure_request
from flows.retention_purge import retention_purge
from flows.submit_request import submit_request
from models import flow_names as names
from models.settings import Settings

TAGS = ["dsr"]


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """Every deployment: access (and portability), erasure, the scan of one batch of locations, the sweep,
    purge (dry and real), deadline watch, and intake."""
    deployments = [
        access_request.to_deployment(
            name=names.ACCESS_REQUEST,
            description="Scan every laptop and store for one request's subject and issue the Art. 15 package "
            "(also Art. 20 exports for portability requests). Parameter: the request id only.",
            tags=TAGS,
        ),
        erasure_request.to_deployment(
            name=names.ERASURE_REQUEST,
            description="Find one request's subject everywhere, plan the erasure, pause for a named reviewer's "
            "approval (form in this UI), then erase, verify and certify. Parameter: the request id only.",
            tags=TAGS,
        ),
        access_scan.to_deployment(
            name=names.ACCESS_SCAN,
            description="One batch of an access request's locations, submitted by the access run when "
            "[access].scan_deployment names this deployment (any worker of its pool takes it). Parameters: the "
            "request id, the batch's location names and its number; it refuses unless that run is in progress.",
            tags=TAGS,
        ),
        access_sweep.to_deployment(
            name=names.ACCESS_SWEEP,
            cron=settings.access.sweep_cron,
            description="Retry pending (offline or busy) locations of open access requests.",
            tags=TAGS,
        ),
    ]
    schedules = settings.schedules
    deployments += [
        retention_purge.to_deployment(
            name=names.RETENTION_PURGE_DRY_RUN,
            cron=schedules.retention_dry_run,
            parameters={"dry_run": True},
            description="List what the retention policies would delete (counts per kind, endpoint and policy).",
            tags=TAGS,
        ),
        retention_purge.to_deployment(
            name=names.RETENTION_PURGE,
            cron=schedules.retention_purge,
            parameters={"dry_run": False},
            description="Delete what is past its retention period, except legal holds and open requests.",
            tags=TAGS,
        ),
        deadline_watch.to_deployment(
            name=names.DEADLINE_WATCH,
            cron=schedules.deadline_watch,
            description="Daily: mark overdue requests, warn before deadlines, retry pending locations.",
            tags=TAGS,
        ),
        submit_request.to_deployment(
            name=names.SUBMIT_REQUEST,
            description="Record a new request from this form and start its flow; this run then deletes itself "
            "so the identifiers do not stay in Prefect.",
            tags=TAGS,
        ),
    ]
    return cast("list[RunnerDeployment]", deployments)
