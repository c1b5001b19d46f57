"""`dsr retention plan|run|approve`: see, run and sign off retention purges from the command line.

The same service code as the `retention-purge` deployments (`services.retention_runs`); no Prefect import.
Prints counts, conversation ids and paths of files on the organisation's own machines, never file content.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, time
from typing import Annotated, Any

import typer

from dsr.context import err, out, print_json, state
from models.errors import InputError
from models.identifiers import check_text, parse_day

app = typer.Typer(
    help="Retention: plan, run and approve purges of what is past its retention period.", no_args_is_help=True
)

PolicyOpt = Annotated[
    str | None, typer.Option("--policy", help="Apply only the retention policy of this name (default: all).")
]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Measure ages on this day, YYYY-MM-DD (default: now).")]
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def _as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return datetime.combine(parse_day("--as-of", value), time.min, tzinfo=UTC)


def _run_id(dry_run: bool, now: datetime) -> str:
    from services.retention_runs import run_name  # noqa: PLC0415 - loads the retention modules on demand

    # Two runs in the same second must not share an id (ledger keys and the certificate are per run).
    return f"{run_name(dry_run, now)}-{datetime.now(UTC):%H%M%S}-{secrets.token_hex(3)}"


def _print_plan(summary: dict[str, Any], plan: Any) -> None:
    from services.retention_runs import kept_unplanned_reason  # noqa: PLC0415

    totals = summary["totals"]
    out.print(f"as of {summary['as_of']}  digest {summary['digest']}")
    out.print("policies: " + (", ".join(f"{n} v{v}" for n, v in summary["policies"].items()) or "none configured"))
    for key, label in (("purge", "goes"), ("retained", "kept (legal hold)"), ("frozen", "kept (open access request)")):
        out.print(
            f"  {label:28} {totals[key]['sessions']} conversation(s), {totals[key]['files']} file(s), "
            f"{totals[key]['rows']} database row(s)"
        )
    for cand in plan.candidates:
        why = {"purge": "past its period", "retained": f"hold {cand.hold_id}", "frozen": "open access request"}
        what = f"conversation {cand.session_id}" if cand.unit == "session" else cand.path
        if cand.unit == "rows":
            what = f"conversation {cand.session_id}: {len(cand.records)} row(s) of {cand.path}"
        out.print(f"  {cand.location}  {cand.status.value:8}  {cand.policy}  {what}  ({why[cand.status.value]})")
    for location, sid, stay in plan.partial:
        out.print(f"  {location}  partial   conversation {sid}: {len(stay)} file(s) stay:")
        for path in stay:
            out.print(f"      stays  {path}")
    for location, path, kind in plan.ungrouped:
        out.print(f"  {location}  reported  {path} ({kind}): {kept_unplanned_reason(kind)}; kept")
    for location, status in plan.unreached:
        out.print(f"  {location}  unreached ({status}): nothing there is planned")


@app.command()
def plan(
    policy: PolicyOpt = None,
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """What a purge would dispose of, per policy, laptop and conversation, with the reason and what keeps the rest."""
    from services.retention_runs import make_plan, summary_of  # noqa: PLC0415

    now = _as_of(as_of)
    purge_plan, _ = make_plan(state.settings, policy=policy, now=now)
    summary = summary_of(purge_plan, run_id="plan", dry_run=True, outcome="plan")
    if as_json:
        print_json(
            {
                **summary,
                "candidates": [
                    {
                        "location": c.location,
                        "policy": c.policy,
                        "unit": c.unit,
                        "conversation": c.session_id,
                        "path": c.path,
                        "status": c.status.value,
                        "hold_id": c.hold_id,
                        "frozen_by": c.frozen_by,
                        "files": [f.path for f in c.files],
                        "rows": len(c.records),
                    }
                    for c in purge_plan.candidates
                ],
                "partial": [
                    {"location": loc, "conversation": sid, "stays": list(stay)} for loc, sid, stay in purge_plan.partial
                ],
                "ungrouped": [{"location": loc, "path": p, "kind": k} for loc, p, k in purge_plan.ungrouped],
            }
        )
        return
    _print_plan(summary, purge_plan)


@app.command()
def run(policy: PolicyOpt = None, as_of: AsOfOpt = None) -> None:
    """A real purge: with disposition review on (the default) it only records the plan for a reviewer."""
    from services.retention_runs import run_purge  # noqa: PLC0415

    now = _as_of(as_of)
    summary = run_purge(state.settings, dry_run=False, policy=policy, now=now, run_id=_run_id(False, now))
    if summary["outcome"] == "awaiting_approval":
        out.print(f"run {summary['run_id']} awaits approval; nothing was deleted")
        out.print(f"plan digest {summary['digest']}")
        out.print(f"approve with: dsr retention approve {summary['run_id']} --by NAME --digest {summary['digest']}")
        return
    _done(summary)


def _done(summary: dict[str, Any]) -> None:
    out.print(
        f"run {summary['run_id']}: {summary['outcome']}; {summary['disposed_conversations']} conversation(s) disposed"
    )
    out.print(f"certificate: {summary['certificate']['html']}")


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run id `dsr retention run` printed.")],
    by: Annotated[str, typer.Option("--by", help="Name of the reviewer who approves (audit trail).")],
    digest: Annotated[str, typer.Option("--digest", help="The plan digest you reviewed (64 hex characters).")],
) -> None:
    """Approve a real purge's plan by its digest; the purge then runs (a stale digest is refused)."""
    by = check_text("--by", by)
    if not _HEX.fullmatch(digest.strip()):
        raise InputError("--digest must be the 64 hexadecimal characters `dsr retention run` printed")
    from services.retention_runs import approve_purge  # noqa: PLC0415

    summary = approve_purge(state.settings, check_text("RUN", run_id), by=by, digest=digest)
    err.print(f"{run_id}: plan approved by the named reviewer")
    _done(summary)
