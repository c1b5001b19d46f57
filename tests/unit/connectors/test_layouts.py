"""Discovery of every artifact kind on macOS, Windows and Linux laptops, session ids, ages and records."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.agents.base import Erase
from connectors.base import Connector, Item, Skipped
from connectors.layouts import (
    OTHER_AGENT_KINDS,
    Artifact,
    ArtifactKind,
    RecordFormat,
    artifact_age,
    artifact_last_activity_at,
    classify_path,
    iter_artifacts,
    read_session_record,
    session_age,
    session_last_activity_at,
)
from connectors.local import LocalConnector
from connectors.memory import MemoryConnector
from tests.unit.connectors.laptops import (
    APP_ROOTS,
    CLI,
    CLI2,
    HOMES,
    U1,
    U3,
    U_AGENT,
    U_SHORT,
    A,
    B,
    laptop_files,
)

OSES = ["macos", "windows", "linux"]


def memory_laptop(os_name: str) -> MemoryConnector:
    return MemoryConnector(f"{os_name}-1", {path: data for path, (data, _k) in laptop_files(os_name).items()})


def artifacts_of(connector: Connector) -> dict[str, Artifact]:
    found = list(iter_artifacts(connector))
    return {a.item.path: a for a in found if isinstance(a, Artifact)}


@pytest.mark.parametrize("os_name", OSES)
def test_every_kind_discovered(os_name: str) -> None:
    """Each file of the synthetic laptop is classified as its expected kind; nothing else is reported."""
    artifacts = artifacts_of(memory_laptop(os_name))
    expected = {path: kind for path, (_d, kind) in laptop_files(os_name).items() if kind is not None}
    assert {path: a.kind for path, a in artifacts.items()} == expected
    assert {a.kind for a in artifacts.values()} == set(ArtifactKind) - OTHER_AGENT_KINDS


@pytest.mark.parametrize("os_name", OSES)
def test_os_user_and_app(os_name: str) -> None:
    """Artifacts carry the OS inferred from the home layout and the owning user."""
    artifacts = artifacts_of(memory_laptop(os_name))
    for artifact in artifacts.values():
        assert artifact.os == os_name
        assert artifact.os_user == ("SYSTEM" if "ProgramData" in artifact.item.path else "ana")
    history = artifacts[f"{HOMES[os_name]}/.claude/history.jsonl"]
    assert (history.app, history.fmt) == ("claude-code", RecordFormat.JSONL)


@pytest.mark.parametrize("os_name", OSES)
def test_cowork_session_ids(os_name: str) -> None:
    """Files inside a Cowork session carry its local_<uuid> id and the engine id from the path."""
    artifacts = artifacts_of(memory_laptop(os_name))
    proj = f"{APP_ROOTS[os_name]}/local-agent-mode-sessions/{A}/{B}/local_{U1}/.claude/projects/-sessions-quiet-fox"
    transcript = artifacts[f"{proj}/{CLI}.jsonl"]
    assert (transcript.session_id, transcript.cli_session_id) == (f"local_{U1}", CLI)
    assert transcript.root == APP_ROOTS[os_name]
    assert artifacts[f"{proj}/{CLI2}.orphaned-1767000001-ab12.jsonl"].cli_session_id == CLI2
    assert artifacts[f"{proj}/{CLI2}.jsonl.superseded-1767000000"].cli_session_id == CLI2
    assert artifacts[f"{proj}/{CLI}/tool-results/toolu_01.txt"].session_id == f"local_{U1}"
    assert artifacts[f"{proj}/{CLI}/subagents/agent-a1b2.meta.json"].fmt is RecordFormat.JSON


@pytest.mark.parametrize("os_name", OSES)
def test_short_session_dir_and_dispatch_generation_resolved(os_name: str) -> None:
    """An 8-hex session directory maps to its record's id; a dispatch generation to the agent record."""
    store = f"{APP_ROOTS[os_name]}/local-agent-mode-sessions/{A}/{B}"
    artifacts = artifacts_of(memory_laptop(os_name))
    assert artifacts[f"{store}/{U_SHORT[:8]}/audit.jsonl"].session_id == f"local_{U_SHORT}"
    assert artifacts[f"{store}/agent/local_ditto_0001/audit.jsonl"].session_id == f"local_{U_AGENT}"


def test_cli_transcript_session_is_stem() -> None:
    """A ~/.claude transcript's session id is its file stem; file-history uses its session folder."""
    artifacts = artifacts_of(memory_laptop("linux"))
    transcript = artifacts[f"/home/ana/.claude/projects/-home-ana-proj/{U3}.jsonl"]
    assert (transcript.session_id, transcript.cli_session_id) == (U3, U3)
    assert artifacts[f"/home/ana/.claude/file-history/{U3}/deadbeef@v2"].fmt is RecordFormat.TEXT


def test_residual_and_audit_key_never_opened() -> None:
    """Discovery and ages never open audit keys or residual stores (format NONE)."""
    opened: list[str] = []

    class Spy(MemoryConnector):
        def open(self, item: Item) -> BinaryIO:
            opened.append(item.path)
            return super().open(item)

    spy = Spy("spy", {path: data for path, (data, _k) in laptop_files("macos").items()})
    artifacts = [a for a in iter_artifacts(spy) if isinstance(a, Artifact)]
    assert opened == []
    for artifact in artifacts:
        artifact_last_activity_at(spy, artifact)
    never = {a.item.path for a in artifacts if a.kind in (ArtifactKind.AUDIT_KEY, ArtifactKind.RESIDUAL)}
    assert never
    assert all(a.fmt is RecordFormat.NONE for a in artifacts if a.item.path in never)
    assert not never & set(opened)


def test_every_artifact_carries_its_erase_method() -> None:
    """Discovery decides once how each file is erased (plans read it from here): Claude's by kind and format,
    the other agents' by the path rule of the root that classified the file."""
    files = {path: data for path, (data, _k) in laptop_files("macos").items()}
    files |= {
        "/Users/ana/Library/Application Support/com.openai.chat/conversations-abc/s1.json": b"{}",
        "/Users/ana/.cursor/chats/h1/c1/store.db": b"SQLite format 3\x00",
        "/Users/ana/.codex/history.jsonl": b"{}\n",
    }
    artifacts = artifacts_of(MemoryConnector("mac-1", files))
    erase = {path: a.erase for path, a in artifacts.items()}
    session = f"{APP_ROOTS['macos']}/local-agent-mode-sessions/{A}/{B}/local_{U1}"
    assert erase[f"{session}/.audit-key"] is Erase.WHOLE_ONLY
    assert erase[f"{session}/audit.jsonl"] is Erase.JSONL_REWRITE
    assert erase["/Users/ana/Library/Application Support/com.openai.chat/conversations-abc/s1.json"] is Erase.WHOLE_ONLY
    assert erase["/Users/ana/.cursor/chats/h1/c1/store.db"] is Erase.CONTENT_ADDRESSED
    assert erase["/Users/ana/.codex/history.jsonl"] is Erase.JSONL_REWRITE
    residual = [a.erase for a in artifacts.values() if a.kind is ArtifactKind.RESIDUAL]
    assert residual and set(residual) == {Erase.WHOLE_ONLY}


def test_windows_roots_all_probed() -> None:
    """A stale %APPDATA% copy, the Store package tree and a Claude-Data family all count as roots."""
    roots = {a.root for a in artifacts_of(memory_laptop("windows")).values()}
    assert {
        APP_ROOTS["windows"],
        "/C:/Users/ana/AppData/Roaming/Claude",
        "/C:/Users/ana/AppData/Local/Claude-Data/fam1",
        "/C:/Users/ana/AppData/Local/Claude-Data",
        "/C:/ProgramData/Claude/Logs/coworkd",
    } <= roots


def test_extra_user_data_and_config_dirs() -> None:
    """$CLAUDE_USER_DATA_DIR and $CLAUDE_CONFIG_DIR locations are probed when given."""
    conn = MemoryConnector(
        "x",
        {
            "/opt/claude-data/claude-code-sessions/a1b2c3d4/a1b2c3d4/local_1.json": b"{}",
            "/Users/bo/dev/claude-conf/history.jsonl": b"{}\n",
        },
    )
    artifacts = [
        a
        for a in iter_artifacts(conn, user_data_dirs=["/opt/claude-data"], config_dirs=["/Users/bo/dev/claude-conf"])
        if isinstance(a, Artifact)
    ]
    assert sorted((a.kind, a.os_user) for a in artifacts) == [
        (ArtifactKind.CODE_SESSION_RECORD, "SYSTEM"),
        (ArtifactKind.PROMPT_HISTORY, "bo"),
    ]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/Users/ana/Library/Application Support/Claude/local-agent-mode-sessions/x/y/local_1.json", None),
        ("/Users/ana/Documents/report.md", None),
        ("/Users/ana/.Trash/Claude/notes.md", ArtifactKind.OTHER),
        ("/Users/ana/.claude.json.backup.1767", ArtifactKind.CLAUDE_JSON),
        ("/root/.claude/history.jsonl", ArtifactKind.PROMPT_HISTORY),
        ("/home/ana/.config/Claude/Code Cache/js/index", ArtifactKind.RESIDUAL),
    ],
    ids=["non-id-store", "documents", "trash", "claude-json-backup", "root-home", "chromium-cache"],
)
def test_classify_path_table(path: str, kind: ArtifactKind | None) -> None:
    """Individual paths classify as the layout doc says (or not at all)."""
    found = classify_path(path)
    assert (found.kind if found else None) == kind


def test_read_session_record_fields() -> None:
    """Typed record fields come out as aware datetimes and strings."""
    conn = memory_laptop("macos")
    store = f"{APP_ROOTS['macos']}/local-agent-mode-sessions/{A}/{B}"
    artifact = artifacts_of(conn)[f"{store}/local_{U1}.json"]
    record = read_session_record(conn, artifact)
    assert record is not None
    assert record.session_id == f"local_{U1}"
    assert record.cli_session_id == CLI
    assert record.email_address == "ana.lopez@corp.example"
    assert record.title_present is True
    assert record.last_activity_at == datetime.fromtimestamp(1_767_100_000, tz=UTC)
    conn.write_file(artifact.item.path, b"[1, 2]")
    assert read_session_record(conn, artifacts_of(conn)[artifact.item.path]) is None


def test_ages_prefer_content_timestamps() -> None:
    """Ages use line and record timestamps before mtime; session age takes the latest of them."""
    conn = memory_laptop("linux")
    artifacts = artifacts_of(conn)
    store = f"{APP_ROOTS['linux']}/local-agent-mode-sessions/{A}/{B}"
    proj = f"{store}/local_{U1}/.claude/projects/-sessions-quiet-fox"
    transcript = artifacts[f"{proj}/{CLI}.jsonl"]
    assert artifact_last_activity_at(conn, transcript) == datetime(2026, 1, 5, 9, tzinfo=UTC)
    now = datetime(2026, 2, 5, 9, tzinfo=UTC)
    assert artifact_age(conn, transcript, now=now) == timedelta(days=31)
    session = [a for a in artifacts.values() if a.session_id == f"local_{U1}"]
    assert session_last_activity_at(conn, session) == datetime(2026, 1, 6, 8, tzinfo=UTC)
    assert session_age(conn, session, now=now) == now - datetime(2026, 1, 6, 8, tzinfo=UTC)
    memory = artifacts[f"{store}/memory/CLAUDE.md"]
    assert artifact_last_activity_at(conn, memory) == memory.item.modified_at


def test_local_tree_with_symlinks(tmp_path: Path) -> None:
    """On a real tree, a symlink out of the root inside ~/.claude is reported; one in Documents is not."""
    root = tmp_path / "laptop"
    for path, (data, _kind) in laptop_files("macos").items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "Users/ana/.claude/plans/linked")
    os.symlink(tmp_path / "elsewhere", root / "Users/ana/Documents/linked")
    found = list(iter_artifacts(LocalConnector("mac-1", root)))
    skipped = [s for s in found if isinstance(s, Skipped)]
    assert [(s.path, s.reason) for s in skipped] == [("/Users/ana/.claude/plans/linked", "symlink_out_of_scope")]
    artifacts = {a.item.path: a for a in found if isinstance(a, Artifact)}
    expected = {p: k for p, (_d, k) in laptop_files("macos").items() if k is not None}
    assert {p: a.kind for p, a in artifacts.items()} == expected
    store = f"{APP_ROOTS['macos']}/local-agent-mode-sessions/{A}/{B}"
    assert artifacts[f"{store}/{U_SHORT[:8]}/audit.jsonl"].session_id == f"local_{U_SHORT}"


@pytest.mark.parametrize("os_name", OSES)
def test_probing_finds_what_a_full_walk_finds(os_name: str) -> None:
    """Listing only the probed locations discovers exactly what walking the whole homes discovers."""
    conn = memory_laptop(os_name)
    conn.write_file(f"{HOMES[os_name]}/.claude.json.backup.1767", b"{}")
    probed = [a for a in iter_artifacts(conn) if isinstance(a, Artifact)]
    walked = [a for a in iter_artifacts(conn, full_walk=True) if isinstance(a, Artifact)]
    assert sorted(probed, key=lambda a: a.item.path) == sorted(walked, key=lambda a: a.item.path)
    assert len(probed) == sum(1 for _d, k in laptop_files(os_name).values() if k is not None) + 1


def test_probing_never_lists_unrelated_folders() -> None:
    """With name listing, discovery never walks a home's unrelated folders such as Documents."""
    prefixes: list[str] = []

    class Spy(MemoryConnector):
        def iter_items(self, prefix: str = "/") -> Iterator[Item | Skipped]:
            prefixes.append(prefix)
            return super().iter_items(prefix)

    spy = Spy("spy", {path: data for path, (data, _k) in laptop_files("windows").items()})
    assert len([a for a in iter_artifacts(spy) if isinstance(a, Artifact)]) > 40
    assert "/C:/Users/ana/AppData/Local/Packages/AnthropicPBC.Claude_pzs8sxrjxfjjc/LocalCache" in prefixes
    assert "/C:/Users/ana/Documents/Claude" in prefixes
    assert not [p for p in prefixes if p in ("/C:/Users", "/C:/Users/ana", "/C:/Users/ana/Documents")]


def test_symlinked_app_root_out_of_scope_reported(tmp_path: Path) -> None:
    """An app root or ~/.claude that is itself a symlink out of the root is reported as skipped."""
    root = tmp_path / "laptop"
    support = root / "Users/ana/Library/Application Support"
    support.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", support / "Claude")
    os.symlink(tmp_path / "elsewhere", root / "Users/ana/.claude")
    for full_walk in (False, True):
        found = list(iter_artifacts(LocalConnector("mac-1", root), full_walk=full_walk))
        assert sorted((s.path, s.reason) for s in found if isinstance(s, Skipped)) == [
            ("/Users/ana/.claude", "symlink_out_of_scope"),
            ("/Users/ana/Library/Application Support/Claude", "symlink_out_of_scope"),
        ]


def test_in_root_symlink_target_reported_as_other(tmp_path: Path) -> None:
    """Files reached through an in-root symlink from ~/.claude are reported (as OTHER), not dropped."""
    root = tmp_path / "laptop"
    target = root / "Volumes/data/projects/-p"
    target.mkdir(parents=True)
    (target / "s.jsonl").write_bytes(b"{}\n")
    (root / "Users/ana/.claude").mkdir(parents=True)
    os.symlink(root / "Volumes/data/projects", root / "Users/ana/.claude/projects")
    [artifact] = [a for a in iter_artifacts(LocalConnector("m", root)) if isinstance(a, Artifact)]
    assert artifact.item.path == "/Volumes/data/projects/-p/s.jsonl"
    assert (artifact.kind, artifact.fmt, artifact.os_user) == (ArtifactKind.OTHER, RecordFormat.JSONL, "ana")
    assert artifact.root == "/Users/ana/.claude"


_SEGMENTS = st.sampled_from(
    [
        "Users",
        "home",
        "C:",
        "ana",
        ".claude",
        "projects",
        "local-agent-mode-sessions",
        "a1b2c3d4",
        "agent",
        "local_ditto_1",
        "x.jsonl",
        "Library",
        "Application Support",
        "Claude",
        "AppData",
        "Local",
        "Packages",
        "memory",
        "spaces",
        "uploads",
        ".audit-key",
        "logs",
        "vm_bundles",
        "tasks",
        "subagents",
        "a.meta.json",
    ]
)


@given(st.lists(_SEGMENTS, min_size=1, max_size=10))
def test_classify_path_total_and_consistent(segments: list[str]) -> None:
    """classify_path never raises, and a classified home path belongs to that home's user."""
    path = "/" + "/".join(segments)
    found = classify_path(path)
    if found is not None and found.os_user != "SYSTEM":
        home = {"macos": "/Users/", "windows": "/C:/Users/", "linux": "/home/"}[found.os]
        assert path.startswith(home + found.os_user + "/") or path.startswith("/root/")
        assert found.fmt in RecordFormat
