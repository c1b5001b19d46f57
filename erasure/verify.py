"""Verification of an erasure: a re-scan after execution must find nothing outside the recorded exceptions.

Owns the completion rule of an erasure (verified by re-scan) and its proof entries. Decides over discovery results; the
remaining findings it reports and records are locations and counts only, never content.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from erasure.discovery import LocationDiscovery
from erasure.plan import ActionKind, ErasurePlan, PlannedAction
from proofs.ledger import Ledger, LedgerAction, ProofRecord


@dataclass(frozen=True)
class RemainingFinding:
    """A finding that is still there and no exception covers (a location, not its content)."""

    location: str
    path: str
    line: int | None
    kind: str | None
    version_id: str | None = None


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of verification.

    Attributes:
        clean: True when no finding remains outside the exceptions (the request may complete).
        remaining: findings outside the exceptions, as locations.
        excepted: number of findings covered by recorded exceptions.
        checked_locations: the locations re-scanned.
        not_reached: number of findings in items the plan lists as not reached (read only partly, never
            changed): gaps reported with the request, not findings the erasure missed.
    """

    clean: bool
    remaining: tuple[RemainingFinding, ...]
    excepted: int
    checked_locations: tuple[str, ...]
    not_reached: int = 0

    @property
    def verification(self) -> str:
        """The ledger code of the result: `clean` or `findings_remain`."""
        return "clean" if self.clean else "findings_remain"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (locations only)."""
        return {
            "clean": self.clean,
            "verification": self.verification,
            "excepted": self.excepted,
            "not_reached": self.not_reached,
            "checked_locations": list(self.checked_locations),
            "remaining": [
                {"location": r.location, "path": r.path, "line": r.line, "kind": r.kind, "version_id": r.version_id}
                for r in self.remaining
            ],
        }


def _covers(exception: PlannedAction, path: str, line: int | None, version_id: str | None) -> bool:
    if exception.path is None:
        return False
    if path != exception.path and not path.startswith(exception.path.rstrip("/") + "/"):
        return False
    if exception.version_ids and version_id not in exception.version_ids:
        return False
    return not exception.lines or line is None or line in exception.lines


def verify_erasure(
    plan: ErasurePlan,
    discoveries_after: Sequence[LocationDiscovery],
    *,
    retained: Iterable[tuple[str, str, str]] = (),
) -> VerificationResult:
    """Check a re-scan of the affected locations against the plan's exceptions.

    Args:
        plan: the executed plan (its exception actions are the recorded exceptions).
        discoveries_after: a fresh discovery of every location the plan touched.
        retained: (location, key, version id) of versions Object Lock kept at execution
            (`ExecutionReport.retained`), exceptions found only at run time.

    Returns:
        Clean only when every remaining finding is covered by an exception or lies in an item the plan lists
        as not reached (those are counted in `not_reached`; the request then ends with gaps, not completed).
    """
    exceptions: dict[str, list[PlannedAction]] = {}
    gaps: dict[str, list[PlannedAction]] = {}
    for action in plan.actions:
        if action.kind is ActionKind.EXCEPTION:
            exceptions.setdefault(action.location, []).append(action)
        elif action.kind is ActionKind.NOT_REACHED:
            gaps.setdefault(action.location, []).append(action)
    locked = set(retained)
    remaining: list[RemainingFinding] = []
    excepted = 0
    not_reached = 0
    seen: set[tuple[str, str, int | None, str | None]] = set()
    for discovery in discoveries_after:
        for item in discovery.items:
            path, line, vid = item.path, item.line, item.location.version_id
            key = (discovery.name, path, line, vid)
            if key in seen:
                continue
            seen.add(key)
            if (discovery.name, path, vid) in locked or any(
                _covers(e, path, line, vid) for e in exceptions.get(discovery.name, ())
            ):
                excepted += 1
                continue
            if any(_covers(g, path, line, vid) for g in gaps.get(discovery.name, ())):
                not_reached += 1  # a known gap of the plan: reported with the request, never "clean"
                continue
            remaining.append(RemainingFinding(discovery.name, path, line, item.kind, vid))
    return VerificationResult(
        clean=not remaining,
        remaining=tuple(remaining),
        excepted=excepted,
        checked_locations=tuple(sorted(d.name for d in discoveries_after)),
        not_reached=not_reached,
    )


def record_verification(
    ledger: Ledger, plan: ErasurePlan, result: VerificationResult, *, run_id: str, actor: str
) -> list[int]:
    """Append one VERIFY proof entry per re-scanned location (counts of remaining and excepted findings).

    Idempotent per run: a rerun of the same run id returns the entries already stored.

    Returns:
        The entries' sequence numbers, in location order.
    """
    remaining: dict[str, int] = {}
    for finding in result.remaining:
        remaining[finding.location] = remaining.get(finding.location, 0) + 1
    seqs: list[int] = []
    for location in result.checked_locations:
        count = remaining.get(location, 0)
        record = ProofRecord(
            action=LedgerAction.VERIFY,
            request_id=plan.request_id,
            run_id=run_id,
            location=location,
            actor=actor,
            verification="clean" if count == 0 else "findings_remain",
            counts={"findings_remaining": count},
            details={"plan_digest": plan.digest},
        )
        key = f"erasure-verify:{plan.request_id}:{run_id}:{location}"
        seqs.append(ledger.append(record, idempotency_key=key).seq)
    return seqs
