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
from pydantic import Field

from flows.common import flow_settings
from models.flow_names import RETENTION_PURGE
from models.server_auth import server_side_authentication
from models.tables import utcnow
from services.retention_runs import approve_purge, run_name, run_purge

APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600


class RetentionApproval(RunInput):
    """The disposition review form shown in the Prefect UI on a paused real purge."""

    reviewer: str = Field(default="", description="Your name: recorded in the ledger as the approver.")
    digest: str = Field(default="", description="The plan digest you reviewed (see the summary artifact).")


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
        "| | sessions | files | bytes |",
        "|---|---|---|---|",
        *(
            f"| {label} | {totals[key]['sessions']} | {totals[key]['files']} | {totals[key]['bytes']} |"
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
        logger.info("retention purge: waiting for a reviewer to approve plan %s", summary["digest"][:12])
        answer = pause_flow_run(
            wait_for_input=RetentionApproval.with_initial_data(
                description=f"Approve purge plan {summary['digest']}? Enter your name and the digest you reviewed.",
            ),
            timeout=APPROVAL_TIMEOUT_SECONDS,
        )
        summary = approve_purge(
            settings,
            str(run_id),
            by=answer.reviewer or "unknown",
            digest=answer.digest,
            authentication=server_side_authentication(),
        )
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
