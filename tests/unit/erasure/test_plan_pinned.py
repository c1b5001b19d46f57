"""The erasure and purge plans' JSON (and so their digests) for fixed inputs: pinned byte for byte.

An approval names a plan by its digest, so a plan made again from the same discovery must be the same text
after any refactoring of the records it is built from. The laptops are the seeded simulated fleet copied
into memory connectors (fixed inode numbers and mtimes); the store is a staged discovery in its JSON form.
If the simulator's output is changed on purpose, the pinned digests are regenerated; nothing else may
change them.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.memory import MemoryConnector
from erasure.discovery import LocationDiscovery, discover_endpoint
from erasure.plan import ErasurePlan, plan_erasure
from models.settings import Art17Exception, ErasureSettings, HoldSettings, RetentionPolicy, load_settings
from retention.plan import PurgePlan, plan_purge
from services.retention_runs import plan_digest
from simulation.fleet import simulate_fleet
from tests.unit.erasure.fleet import subject_matcher

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
REFERENCE = datetime(2026, 11, 1, tzinfo=UTC)
# Changed on purpose once: whole files and database rows under the hold (laptop-02) now each have their exception
# in the plan (7 actions added, nothing else changed); before, they were left untouched but not listed.
ERASURE_DIGEST = "3b51fa2e7e651b9cae6b6cab375da1c18a81f253a2f63c25c88fd5e1d5ea6ad5"
PURGE_DIGEST = "60e44b7b2141317abd1a39216af0d8340c79967b64e905e7de3dea867c7d9c62"
HEX = "ab" * 32

# A store discovery as staged before the refactoring (its JSON form): current and old versions, a lock.
STORE: dict[str, Any] = {
    "name": "s3",
    "type": "store",
    "items": [
        {"location": {"store": "s3", "path": key, "line": line, "version_id": vid}, "kind": "s3_object"}
        for key, vid, line in [
            ("a.jsonl", "a2", 1),
            ("a.jsonl", "a2", 2),
            ("a.jsonl", "a2", 3),
            ("a.jsonl", "a1", 1),
            ("b.jsonl", "b2", 2),
            ("b.jsonl", "b1", 2),
            ("c.jsonl", "c1", 1),
            ("d.jsonl", "d1", 4),
        ]
    ],
    "owned_sessions": [],
    "artifacts": [
        {
            "path": key,
            "size": 10,
            "version": f"etag{vid}:{vid}",
            "sha256": HEX,
            "lines": 5,
            "kind": "s3_object",
            "fmt": "jsonl",
            "version_id": vid,
            "session_id": None,
            "is_latest": vid.endswith("2"),
            "locked": vid == "c1",
            "lock_mode": "COMPLIANCE" if vid == "c1" else None,
            "legal_hold": False,
            "session_refs": [],
            "app": None,
        }
        for key in ("a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl")
        for vid in (key[0] + "2", key[0] + "1")
    ],
    "skipped": [
        {"location": "s3", "path": "gone.jsonl", "reason": "delete_marker", "target": None},
        {"location": "s3", "path": "denied.jsonl", "reason": "permission_denied", "target": None},
    ],
    "vacuum": [],
    "owner_is_subject": False,
}


def _memory_fleet(out: Path) -> tuple[dict[str, MemoryConnector], dict[str, Any]]:
    """The simulated fleet's laptops as memory connectors (files in sorted order, mtimes kept)."""
    simulate_fleet(out, endpoints=3, size_mb=0.05, seed=7, agents=True)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    laptops: dict[str, MemoryConnector] = {}
    for endpoint in truth["endpoints"]:
        root = out / endpoint["name"]
        connector = MemoryConnector(endpoint["name"])
        paths = sorted(Path(d) / n for d, _, names in os.walk(root) for n in names)
        for full in paths:
            if full.is_symlink() or not full.is_file():
                continue
            stamp = datetime.fromtimestamp(full.stat().st_mtime_ns / 1e9, tz=UTC)
            connector.write_file("/" + full.relative_to(root).as_posix(), full.read_bytes(), modified_at=stamp)
        laptops[endpoint["name"]] = connector
    return laptops, truth


def _erasure_plan(tmp_path: Path) -> ErasurePlan:
    laptops, truth = _memory_fleet(tmp_path / "fleet")
    matcher = subject_matcher(truth)
    found = []
    for endpoint in truth["endpoints"]:
        owners = [endpoint["owner"]] if endpoint["owner"] else []
        found.append(discover_endpoint(laptops[endpoint["name"]], endpoint["name"], matcher, owner_ids=owners))
    staged = [LocationDiscovery.from_dict(json.loads(json.dumps(d.without_content().to_dict()))) for d in found]
    staged.append(LocationDiscovery.from_dict(STORE))
    settings = ErasureSettings(
        exceptions=[Art17Exception(ground="legal_obligation", reason="records duty", paths=["*/memory/*"])]
    )
    hold = HoldSettings(
        id="h1",
        reason="dispute",
        case_reference="case-1",
        approver="legal",
        review_date=date(2027, 1, 1),
        endpoints=["laptop-02"],
    )
    return plan_erasure("req-0001", staged, settings=settings, holds=[hold], subject_hashes=set(), now=NOW)


def test_erasure_plan_json_is_pinned(tmp_path: Path) -> None:
    """The same discoveries give the same plan text: its digest is pinned, and it reads back unchanged."""
    plan = _erasure_plan(tmp_path)
    text = plan.to_json()
    assert {a.kind.value for a in plan.actions} >= {
        "delete_session",
        "delete_file",
        "redact",
        "s3_erase_object",
        "s3_rewrite",
        "s3_delete_versions",
        "exception",
        "not_reached",
    }
    assert ErasurePlan.from_json(text).to_json() == text
    assert hashlib.sha256(text.encode("ascii")).hexdigest() == plan.digest == ERASURE_DIGEST


def test_purge_plan_json_is_pinned(tmp_path: Path) -> None:
    """The same laptops give the same purge plan text (what a reviewer approves): digest pinned, read back unchanged."""
    laptops, _ = _memory_fleet(tmp_path / "fleet")
    settings = load_settings(tmp_path / "fleet" / "dsr.toml")
    policy = RetentionPolicy(
        name="history", kinds=["session_record", "transcript", "audit_log", "upload"], period_days=365, version="3"
    )
    settings = settings.model_copy(update={"retention": [policy]})
    plan = plan_purge(settings, laptops.__getitem__, now=REFERENCE)
    text = plan.to_json()
    assert plan.candidates
    assert PurgePlan.from_json(text).to_json() == text
    assert plan_digest(plan) == PURGE_DIGEST
