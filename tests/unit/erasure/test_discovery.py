"""A location's discovery survives its JSON form unchanged (how erasure stages it between tasks)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from connectors import agents, layouts
from connectors.agents.base import AgentLayout, Erase, Root, rule
from connectors.base import Item, Skipped
from connectors.memory import MemoryConnector
from connectors.records import RecordFormat as F
from detection.findings import Finding, FindingLocation
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from erasure.discovery import ArtifactInfo, LocationDiscovery, discover_endpoint
from erasure.plan import plan_erasure
from models.errors import InputError
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


def _database(path: Path, email: str) -> bytes:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO kv VALUES ('chat', ?)", (f"write to {email}",))
    con.execute("INSERT INTO kv VALUES ('other', 'nothing here')")
    con.commit()
    con.close()
    return path.read_bytes()


def test_the_plan_follows_the_erase_method_discovery_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent keeps the same file as a content-addressed store on Linux and as an ordinary database on
    macOS (one root per OS). On a Mac, discovery classifies it with the macOS root, and the plan redacts its
    rows: it does not look the path up again in every root of the layout whatever its OS (the Linux rule
    would have deleted the file whole)."""
    rule_for = {
        "linux": rule(r"chats/(?P<sid>[^/]+)\.db", "database", F.SQLITE, Erase.CONTENT_ADDRESSED),
        "macos": rule(r"chats/(?P<sid>[^/]+)\.db", "database", F.SQLITE, Erase.SQLITE),
    }
    demo = AgentLayout("demo", "Demo", tuple(Root(".demo", (os_name,), (r,)) for os_name, r in rule_for.items()))
    monkeypatch.setattr(agents, "AGENTS", (*agents.AGENTS, demo))
    monkeypatch.setitem(agents._BY_APP, "demo", demo)  # the registry by name, kept in step with AGENTS
    monkeypatch.setitem(layouts.HOME_PROBES, "macos", (*layouts.HOME_PROBES["macos"], ".demo"))
    email = "ana.lopez@example.invalid"
    path = "/Users/ana/.demo/chats/c1.db"
    laptop = MemoryConnector("mac", {path: _database(tmp_path / "c1.db", email), "/Users/ana/Library/.keep": b""})
    matcher = Matcher.from_identifiers(SubjectIdentifiers((email,), (), (), ()))

    discovery = discover_endpoint(laptop, "mac", matcher)
    (info,) = [a for a in discovery.artifacts if a.file.path == path]
    assert (info.app, info.erase) == ("demo", Erase.SQLITE)
    assert LocationDiscovery.from_dict(json.loads(json.dumps(discovery.to_dict()))) == discovery
    plan = plan_erasure(REQUEST, [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    assert [(a.kind.value, a.reason, a.records) for a in plan.actions if a.path == path] == [
        ("redact", "third_party_session", ("kv:chat",))
    ]


def test_a_discovery_staged_before_erase_methods_were_recorded_is_refused_in_one_line() -> None:
    """Planning from an endpoint discovery without each file's erase method would fall back to the format and
    could rewrite a whole-only file: it is refused, naming the location and the fix."""
    item = Item("lap", "/Users/u/x.jsonl", 10, None, "1:1", sha256="ab" * 32, lines=2, kind="transcript", fmt="jsonl")
    current = LocationDiscovery("lap", "endpoint", (), (), (ArtifactInfo(item, "s1", app="codex"),)).to_dict()
    assert LocationDiscovery.from_dict(current).artifacts[0].file == item
    old = json.loads(json.dumps(current))
    del old["artifacts"][0]["erase"]
    with pytest.raises(InputError, match=r"'lap' was made by an earlier version .* discover again"):
        LocationDiscovery.from_dict(old)
    store = LocationDiscovery("s3", "store", (), (), (ArtifactInfo(replace(item, location="s3"), None),)).to_dict()
    del store["artifacts"][0]["erase"]
    assert LocationDiscovery.from_dict(store).artifacts[0].erase is None  # S3 versions are planned by format
