"""The retention purge flow: a dry run lists what would go (counts only), a real run deletes it with proofs.

Thin glue over `services.retention_runs`. Hands Prefect counts per kind, location and policy, never paths of
personal files, identifiers or content.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field, create_model

from flows.common import flow_settings
from models.errors import ApprovalRequiredError, InputError
from models.flow_names import RETENTION_PURGE
from models.server_auth import server_side_authentication
from models.settings import Settings
from models.tables import utcnow
from services.retention_runs import approve_purge, pending_review, run_name, run_purge

APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_APPROVAL_ATTEMPTS = 5
"""Refused approvals (a digest that is not the plan's, or a stale one) re-open the form this many times."""
DIGEST_HELP = (
    "The digest of the purge plan you reviewed, as the review artifact and `dsr retention plan` show it. "
    "Any other digest is refused and nothing is deleted."
)


class RetentionApproval(RunInput):
    """The disposition review form shown in the Prefect UI on a paused real purge."""

    reviewer: str = Field(
        min_length=1,
        max_length=200,
        description="Your name (required): recorded in the signed proof ledger as the approver.",
    )
    digest: str = Field(min_length=64, max_length=64, description=DIGEST_HELP)


def approval_form(digest: str, description: str) -> type[RetentionApproval]:
    """The form for one plan: its digest filled in (field rules and help kept) and the reviewer's name required."""
    model = create_model(
        RetentionApproval.__name__,
        __base__=RetentionApproval,
        digest=(str, Field(default=digest, min_length=64, max_length=64, description=DIGEST_HELP)),
    )
    model._description = description  # what Prefect shows above the form
    return model


def _await_approval(settings: Settings, run_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Pause on the review form until a named reviewer approves the plan's current digest; a refused answer
    (not the plan's digest, or stale because the plan changed) deletes nothing and re-opens the form."""
    logger = get_run_logger()
    refusal = ""
    for attempt in range(1, MAX_APPROVAL_ATTEMPTS + 1):
        try:
            digest = pending_review(settings, run_id)["digest"]
        except InputError:
            return {**summary, "outcome": "approved_outside_form"}  # `dsr retention approve` ran meanwhile
        logger.info("retention purge: waiting for a reviewer to approve plan %s", digest[:12])
        answer = pause_flow_run(
            wait_for_input=approval_form(
                digest,
                f"{refusal}Approve purge plan {digest}? See the retention-purge-review artifact for what goes and "
                "what stays. Your name is required; the digest must be this plan's.",
            ),
            timeout=APPROVAL_TIMEOUT_SECONDS,
            key=f"retention-approval-{attempt}",
        )
        try:
            return approve_purge(
                settings,
                run_id,
                by=answer.reviewer,
                digest=answer.digest,
                authentication=server_side_authentication(),
            )
        except InputError as exc:
            refusal = f"Refused: {exc} "
            logger.warning("retention purge: approval refused: %s", exc)
    raise ApprovalRequiredError(
        f"retention run {run_id}: no acceptable approval after {MAX_APPROVAL_ATTEMPTS} attempts; run it again"
    )


def _flow_run_name() -> str:
    params = flow_run.parameters
    as_of = params.get("as_of")
    on = datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return run_name(bool(params.get("dry_run", True)), on if isinstance(on, datetime) else utcnow())


def _markdown(summary: dict[str, Any]) -> str:
    totals = summary["totals"]
    verb = "would delete" if summary["dry_run"] else "deleted"
    lines = [
        f"# Retention purge {'(dry run)' if summary['dry_run'] else ''}".rstrip(),
        "",
        "| | conversations | files | database rows | bytes |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {totals[key]['sessions']} | {totals[key]['files']} | {totals[key]['rows']} "
            f"| {totals[key]['bytes']} |"
            for key, label in (("purge", verb), ("retained", "retained (legal hold)"), ("frozen", "frozen (access)"))
        ),
        "",
        f"Plan digest: {summary.get('digest', '-')}.",
        "",
        f"Outcome: {summary['outcome']}. Policies: "
        + (", ".join(f"{n} v{v}" for n, v in summary["policies"].items()) or "none configured"),
    ]
    if summary["unreached"]:
        lines.append("Unreached: " + ", ".join(f"{loc} ({status})" for loc, status in summary["unreached"]))
    return "\n".join(lines)


@flow(name=RETENTION_PURGE, flow_run_name=_flow_run_name, log_prints=False, persist_result=False)
def retention_purge(
    dry_run: bool = True, policy: str | None = None, as_of: datetime | None = None, wait_for_approval: bool = True
) -> dict[str, Any]:
    """Purge what is past its retention period (a dry run by default: lists counts, deletes nothing).

    Args:
        dry_run: list what would go without deleting anything.
        policy: apply only the retention policy of this name.
        as_of: measure ages at this instant instead of now (checks and tests).
        wait_for_approval: with disposition review on, pause for the reviewer's form; False returns at
            `awaiting_approval` (then `dsr retention approve` runs the purge).
    """
    settings = flow_settings()
    logger = get_run_logger()
    now = (as_of or utcnow()).astimezone(UTC)
    run_id = flow_run.id or run_name(dry_run, now)
    summary = run_purge(settings, dry_run=dry_run, policy=policy, now=now, run_id=str(run_id))
    if summary["outcome"] == "awaiting_approval":
        create_markdown_artifact(key="retention-purge-review", markdown=_markdown(summary))
        if not wait_for_approval:
            return summary
        summary = _await_approval(settings, str(run_id), summary)
    what = "dry-run" if dry_run else "purge"
    create_table_artifact(
        key=f"retention-{what}",
        table=summary["rows"] or [{"policy": "-", "location": "-", "kind": "-", "status": "none", "files": 0}],
        description=f"retention {what}: files per policy, location, kind and status",
    )
    create_markdown_artifact(key=f"retention-{what}-summary", markdown=_markdown(summary))
    totals = summary["totals"]
    logger.info(
        "retention %s: %d session(s) and %d file(s) %s, %d retained by holds, %d frozen; outcome %s",
        what,
        totals["purge"]["sessions"],
        totals["purge"]["files"],
        "would go" if dry_run else "deleted",
        totals["retained"]["files"],
        totals["frozen"]["files"],
        summary["outcome"],
    )
    return summary
