"""A location's discovery survives its JSON form unchanged (how erasure stages it between tasks)."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.base import Item, Skipped
from detection.findings import Finding, FindingLocation
from erasure.discovery import ArtifactInfo, LocationDiscovery
from erasure.plan import plan_erasure
from models.settings import ErasureSettings
from tests.unit.erasure.fleet import NOW, REQUEST, make_fleet


def test_fleet_discoveries_roundtrip_through_json(tmp_path: Path) -> None:
    """Discoveries of a simulated fleet (items, owned sessions, artifact identities, session references,
    skipped entries) come back equal from `json.loads(json.dumps(to_dict()))`, and plan the same erasure."""
    fleet = make_fleet(tmp_path / "fleet")
    found = [d.without_content() for d in fleet.discover()]
    assert any(d.owned_sessions for d in found) and any(a.session_refs for d in found for a in d.artifacts)
    back = [LocationDiscovery.from_dict(json.loads(json.dumps(d.to_dict()))) for d in found]
    assert back == found
    plans = [
        plan_erasure(REQUEST, d, settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
        for d in (back, found)
    ]
    assert plans[0].digest == plans[1].digest and plans[0].actions


def test_store_discovery_roundtrips_with_versions_locks_and_skips() -> None:
    """S3 fields (version ids, non-current versions, Object Lock, legal hold) and skip reasons survive."""
    info = ArtifactInfo(
        Item("s", "t/a.jsonl", 42, None, "etag:v1", version_id="v1", is_latest=False).read_as(
            "s3_object", "jsonl", sha256="ab" * 32, lines=3
        ),
        "sess-1",
        locked=True,
        lock_mode="COMPLIANCE",
        legal_hold=True,
        session_refs=(("sess-1", 2),),
    )
    item = Finding(FindingLocation("t/a.jsonl", 2, store="s", version_id="v1"), "s3_object", "identifier_match")
    original = LocationDiscovery("s", "store", (item,), (), (info,), (Skipped("s", "t/gone", "delete_marker", None),))
    assert LocationDiscovery.from_dict(json.loads(json.dumps(original.to_dict()))) == original
