"""The per-endpoint inventory: counts, bytes, roots and skipped entries per OS user and kind."""

from __future__ import annotations

import json
import os
from pathlib import Path

from connectors.inventory import build_inventory
from connectors.layouts import ArtifactKind
from connectors.local import LocalConnector
from connectors.memory import MemoryConnector
from tests.unit.connectors.laptops import APP_ROOTS, laptop_files


def test_counts_and_bytes_per_kind() -> None:
    """Counts and bytes per kind equal those of the synthetic tree's expected artifacts."""
    files = laptop_files("windows")
    conn = MemoryConnector("win-1", {p: d for p, (d, _k) in files.items()})
    conn.write_file("/C:/Users/bo/.claude/history.jsonl", b"{}\n")
    inventory = build_inventory(conn)
    by_user = {(u.os, u.os_user): u for u in inventory.users}
    assert set(by_user) == {("windows", "SYSTEM"), ("windows", "ana"), ("windows", "bo")}
    ana = by_user[("windows", "ana")]
    expected: dict[str, list[int]] = {}
    for path, (data, kind) in files.items():
        if kind is not None and "ProgramData" not in path:
            totals = expected.setdefault(kind.value, [0, 0])
            totals[0] += 1
            totals[1] += len(data)
    assert {k: [t.count, t.bytes] for k, t in ana.kinds.items()} == expected
    assert APP_ROOTS["windows"] in ana.roots
    assert "/C:/Users/ana/AppData/Roaming/Claude" in ana.roots
    assert ana.oldest_at is not None and ana.newest_at is not None and ana.oldest_at <= ana.newest_at
    assert list(by_user[("windows", "bo")].kinds) == [ArtifactKind.PROMPT_HISTORY.value]
    assert (by_user[("windows", "bo")].artifacts, by_user[("windows", "bo")].bytes) == (1, 3)


def test_to_json_is_one_document(tmp_path: Path) -> None:
    """to_json emits one JSON document with users, kinds, roots and skipped symlinks."""
    root = tmp_path / "laptop"
    (root / "home/ana/.claude/plans").mkdir(parents=True)
    (root / "home/ana/.claude/plans/a.md").write_bytes(b"plan\n")
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "out", root / "home/ana/.claude/plans/ext")
    doc = json.loads(build_inventory(LocalConnector("lin-1", root)).to_json())
    assert doc["endpoint"] == "lin-1"
    [user] = doc["users"]
    assert (user["os"], user["os_user"], user["artifacts"], user["bytes"]) == ("linux", "ana", 1, 5)
    assert user["kinds"] == {"plan": {"count": 1, "bytes": 5}}
    assert user["roots"] == ["/home/ana/.claude"]
    assert user["skipped"] == [
        {"path": "/home/ana/.claude/plans/ext", "reason": "symlink_out_of_scope", "target": str(tmp_path / "out")}
    ]
    assert doc["skipped"] == []
