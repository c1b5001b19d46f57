"""Intake from the Prefect UI: a run form that records a request and starts its flow, then deletes itself.

The form's fields are the person's identifiers, so this run is the one place they touch Prefect: the run
validates them exactly as `dsr request submit` does and records the request in the case database
(`services.intake`), starts the request's own flow by id, and then deletes its own flow run (parameters
included) from Prefect's database.
Prefect's event log keeps state-change events (no parameters) for PREFECT_EVENTS_RETENTION_PERIOD.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from prefect import Flow, flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel, Field

from flows.common import flow_settings
from models.flow_names import DEPLOYMENT_OF_KIND, SUBMIT_REQUEST
from models.types import RequestKind
from services.intake import record_request


class RequestForm(BaseModel):
    """The intake form (shown by the Prefect UI for the submit-request deployment)."""

    kind: Literal["access", "erasure", "portability", "rectification", "restriction", "objection"] = Field(
        description="The right the person exercises."
    )
    emails: list[str] = Field(default=[], description="The person's e-mail addresses.")
    names: list[str] = Field(default=[], description="Full names as the person gave them.")
    phones: list[str] = Field(default=[], description="Phone numbers (international form preferred).")
    user_ids: list[str] = Field(default=[], description="User or account ids.")
    received_at: datetime | None = Field(
        default=None, description="When the request arrived (with timezone; not in the future)."
    )
    channel: str = Field(default="web-form", description="How it arrived: email, web-form, post, ... (200 at most).")
    identity: Literal[
        "not yet checked",
        "waived",
        "authenticated_account",
        "email_challenge",
        "phone_callback",
        "in_person",
        "shared_knowledge",
        "document_checked",
        "representative_authority",
    ] = Field(
        default="not yet checked",
        description="How the person's identity was established. 'not yet checked' keeps the request waiting "
        "(`dsr request verify-identity`); 'waived' needs the reason below (e.g. the request came from the "
        "employee's authenticated account); a method needs your name below.",
    )
    identity_by: str = Field(default="", description="Your name, when you checked the identity (200 at most).")
    identity_note: str = Field(
        default="", description="The waiver's reason, or a note on the check: never a document number."
    )


def _delete_own_run(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """State hook: delete this run (and its parameters) from Prefect's database: success, failure, crash or
    cancellation."""
    with get_client(sync_client=True) as client:
        client.delete_flow_run(flow_run.id)


@flow(
    name=SUBMIT_REQUEST,
    flow_run_name=SUBMIT_REQUEST,
    log_prints=False,
    persist_result=False,
    on_completion=[_delete_own_run],
    on_failure=[_delete_own_run],
    on_crashed=[_delete_own_run],
    on_cancellation=[_delete_own_run],
)
def submit_request(form: RequestForm) -> dict[str, Any]:
    """Record a request from the UI form, start its flow by id, then remove this run from Prefect."""
    request_id = record_request(
        flow_settings(),
        kind=RequestKind(form.kind),
        emails=form.emails,
        names=form.names,
        phones=form.phones,
        user_ids=form.user_ids,
        received_at=form.received_at,
        channel=form.channel,
        identity_method=None if form.identity in ("not yet checked", "waived") else form.identity,
        identity_by=form.identity_by or None,
        identity_note=None if form.identity == "waived" else (form.identity_note or None),
        identity_waiver=form.identity_note if form.identity == "waived" else None,
    )
    started = None
    if form.identity == "not yet checked":
        get_run_logger().info(
            "%s recorded; it waits for its identity check: `dsr request verify-identity %s --method M --by NAME` "
            "or `dsr request waive-identity %s --reason T`, then `dsr request run %s`",
            request_id,
            request_id,
            request_id,
            request_id,
        )
    elif form.kind in DEPLOYMENT_OF_KIND:
        try:
            run = run_deployment(DEPLOYMENT_OF_KIND[form.kind], parameters={"request_id": request_id}, timeout=0)
            started = str(run.id)  # type: ignore[union-attr]
        except ObjectNotFound:
            get_run_logger().warning(
                "%s recorded; deployment %s is not served: start it with `dsr request run %s`",
                request_id,
                DEPLOYMENT_OF_KIND[form.kind],
                request_id,
            )
    return {"request_id": request_id, "flow_run": started}
