"""Helpers of the proof-ledger tests: a ticking clock and synthetic proof records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from proofs.entry import LedgerAction, ProofRecord
from proofs.ledger import Ledger


class TickingClock:
    """A clock that advances one second per reading, from a fixed aware UTC instant."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def sample_record(index: int) -> ProofRecord:
    """A synthetic proof record with every field filled (no personal data: paths and ids are invented)."""
    actions = list(LedgerAction)
    return ProofRecord(
        action=actions[index % len(actions)],
        request_id=None if index % 4 == 3 else f"DSR-2026-{index:04d}",
        run_id=f"run-{index:03d}",
        location=f"laptop-{index % 3}",
        path=f"/home/u{index}/.claude/projects/p/session-{index}.jsonl",
        version_id=f"v{index}" if index % 2 else None,
        sha256_before=f"{index:064x}",
        sha256_after=f"{index + 1000:064x}" if index % 2 == 0 else None,
        counts={"lines_redacted": index, "records": index + 1},
        exception_ground="art17_3_e" if index % 3 == 0 else None,
        verification="clean" if index % 2 else None,
        outcome="done",
        actor="svc-dsr",
        policy_version="policy-7",
        details={"audit_lines": [index, index + 2], "original_macs": [f"{index:08x}"]},
    )


def fill(ledger: Ledger, count: int) -> None:
    """Append `count` sample records with idempotency keys."""
    for index in range(1, count + 1):
        ledger.append(sample_record(index), idempotency_key=f"key-{index}")
