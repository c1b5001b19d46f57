"""The Claude layout is one module of `connectors.agents` like the others: it declares its roots per OS,
kinds, record and age fields, processes, files held open and erase methods, and discovery uses it."""

from __future__ import annotations

from connectors import layouts
from connectors.agents import CLAUDE, claude
from connectors.agents.base import ArtifactKind, Erase
from connectors.records import RecordFormat
from connectors.ssh import AGENT_PROCESS_NAMES


def test_claude_declares_roots_per_os_and_discovery_probes_them() -> None:
    # Where the apps keep their data on each OS (written out here, not read from the module under test).
    expected = {
        "macos": {".claude", ".claude.json*", "Library/Application Support/Claude", "Library/Logs/Claude*"},
        "windows": {
            ".claude",
            ".claude.json*",
            "AppData/Roaming/Claude",
            "AppData/Local/Packages/*Claude_*/LocalCache",
        },
        "linux": {".claude", ".claude.json*", ".config/Claude"},
    }
    for os_name in ("macos", "windows", "linux"):
        declared = {root.path for root in CLAUDE.roots if os_name in root.oses}
        assert declared == set(claude.PROBES[os_name])
        assert expected[os_name] <= declared, os_name
        assert declared <= set(layouts.HOME_PROBES[os_name])
    assert "AppData/Local/Packages/*Claude_*/LocalCache" in CLAUDE.probes("windows")
    assert "AppData/Local/Packages/*Claude_*/LocalCache" not in CLAUDE.probes("macos")


def test_claude_declares_processes_held_files_times_and_erase_methods() -> None:
    assert set(CLAUDE.processes) == AGENT_PROCESS_NAMES
    # The desktop app (and its helpers) and the CLI, on macOS/Linux and Windows, keep a laptop busy.
    assert {"Claude", "Claude Helper", "Claude.exe", "claude", "claude.exe"} <= AGENT_PROCESS_NAMES
    assert CLAUDE.held_open == ("*",)
    assert {"lastActivityAt", "timestamp", "_audit_timestamp"} <= set(CLAUDE.time_fields)
    assert claude.erase_method(ArtifactKind.TRANSCRIPT, RecordFormat.JSONL) is Erase.JSONL_REWRITE
    assert claude.erase_method(ArtifactKind.SESSION_RECORD, RecordFormat.JSON) is Erase.JSON_REWRITE
    assert claude.erase_method(ArtifactKind.RESIDUAL, RecordFormat.NONE) is Erase.WHOLE_ONLY
    assert claude.erase_method(ArtifactKind.UPLOAD, RecordFormat.BINARY) is Erase.WHOLE_ONLY
    assert claude.erase_method(ArtifactKind.OUTPUT, RecordFormat.TEXT) is Erase.TEXT_EDIT


def test_claude_paths_are_classified_by_the_claude_module() -> None:
    root = "/C:/Users/ana/AppData/Roaming/Claude"
    found = layouts.classify_path(f"{root}/claude-code-sessions/0a1b2c3d/4e5f6a7b/local_x.json")
    assert found is not None and found.kind is ArtifactKind.CODE_SESSION_RECORD and found.app == claude.CLAUDE_CODE
    home = claude.classify_home("linux", "/home/ana", ".claude/history.jsonl", claude.Ctx("linux", "ana"))
    assert home is not None and home.kind is ArtifactKind.PROMPT_HISTORY
    assert claude.classify_home("linux", "/home/ana", ".codex/history.jsonl", claude.Ctx("linux", "ana")) is None
    assert layouts.RESIDUAL_DIRS is claude.RESIDUAL_DIRS and layouts.SessionRecord is claude.SessionRecord


def test_agent_titles_name_each_variant() -> None:
    from connectors.agents import agent_title

    assert agent_title("kilo-code") == "Kilo Code"
    assert agent_title("roo-code") == "Roo Code"
    assert agent_title("cline") == "Cline"
    assert agent_title("cowork") == "Claude Cowork"
    assert agent_title("codex") != "codex"
    assert agent_title("unknown-app") == "unknown-app"
