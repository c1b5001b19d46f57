"""Small synthetic laptop trees (macOS, Windows, Linux) with one file of every artifact kind.

Synthetic data only: invented names, `*.invalid` e-mail domains. Not the fleet simulator.
"""

from __future__ import annotations

import json

from connectors.layouts import ArtifactKind

A = "0f5c2f1e-6a3b-4c6d-8e9f-101112131415"
B = "a1b2c3d4"
U1 = "11111111-2222-4333-8444-555555555555"
U2 = "66666666-7777-4888-9999-aaaaaaaaaaaa"
U3 = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
U_SHORT = "c0ffee00-1234-4567-89ab-cdef01234567"
U_AGENT = "dddddddd-0000-4000-8000-000000000001"
CLI = "9a9a9a9a-0000-4000-8000-000000000002"
CLI2 = "8b8b8b8b-0000-4000-8000-000000000003"

HOMES = {"macos": "/Users/ana", "windows": "/C:/Users/ana", "linux": "/home/ana"}
APP_ROOTS = {
    "macos": "/Users/ana/Library/Application Support/Claude",
    "windows": "/C:/Users/ana/AppData/Local/Packages/AnthropicPBC.Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude",
    "linux": "/home/ana/.config/Claude",
}


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _lines(*values: object) -> bytes:
    return b"".join(json.dumps(v).encode() + b"\n" for v in values)


def laptop_files(os_name: str) -> dict[str, tuple[bytes, ArtifactKind | None]]:
    """Path -> (content, expected kind or None when the path must not be reported)."""
    K = ArtifactKind
    home = HOMES[os_name]
    root = APP_ROOTS[os_name]
    store = f"{root}/local-agent-mode-sessions/{A}/{B}"
    sess = f"{store}/local_{U1}"
    proj = f"{sess}/.claude/projects/-sessions-quiet-fox"
    record = {
        "sessionId": f"local_{U1}",
        "cliSessionId": CLI,
        "title": "Quarterly plan",
        "emailAddress": "ana.lopez@corp.example",
        "accountId": "acct-1",
        "createdAt": 1_767_000_000_000,
        "lastActivityAt": 1_767_100_000_000,
        "sessionType": "local",
    }
    files: dict[str, tuple[bytes, ArtifactKind | None]] = {
        f"{store}/local_{U1}.json": (_json(record), K.SESSION_RECORD),
        f"{proj}/{CLI}.jsonl": (
            _lines(
                {"type": "user", "timestamp": "2026-01-02T10:00:00Z", "message": {"content": "hi"}},
                {"type": "assistant", "timestamp": "2026-01-05T09:00:00.000Z"},
            ),
            K.TRANSCRIPT,
        ),
        f"{proj}/{CLI2}.jsonl.superseded-1767000000": (_lines({"type": "user"}), K.TRANSCRIPT),
        f"{proj}/{CLI2}.orphaned-1767000001-ab12.jsonl": (_lines({"type": "user"}), K.TRANSCRIPT),
        f"{proj}/{CLI}/subagents/agent-a1b2.jsonl": (_lines({"type": "assistant"}), K.SUBAGENT),
        f"{proj}/{CLI}/subagents/agent-a1b2.meta.json": (_json({"agentType": "explore"}), K.SUBAGENT_META),
        f"{proj}/{CLI}/tool-results/toolu_01.txt": (b"ls output\n", K.TOOL_RESULT),
        f"{sess}/.claude/tasks/{CLI}/1.json": (_json({"subject": "draft"}), K.TASK),
        f"{sess}/audit.jsonl": (
            _lines({"type": "user", "_audit_timestamp": "2026-01-06T08:00:00Z", "_audit_hmac": "00"}),
            K.AUDIT_LOG,
        ),
        f"{sess}/.audit-key": (b"\x00encrypted", K.AUDIT_KEY),
        f"{sess}/uploads/cv.pdf": (b"%PDF-1.4", K.UPLOAD),
        f"{sess}/outputs/report.md": (b"# Report\n", K.OUTPUT),
        f"{store}/memory/CLAUDE.md": (b"Ana prefers tea\n", K.MEMORY),
        f"{store}/memory/memory/people.md": (b"Bo Kim, bo@kim.invalid\n", K.MEMORY),
        f"{store}/spaces/sp1/memory/MEMORY.md": (b"space notes\n", K.MEMORY),
        f"{store}/spaces.json": (_json([{"id": "sp1"}]), K.ORG_FILE),
        f"{store}/artifacts.json": (_json([]), K.ORG_FILE),
        f"{store}/scheduled-tasks.json": (_json([]), K.ORG_FILE),
        f"{store}/cowork_account_settings.json": (_json({}), K.ORG_FILE),
        # 8-hex short session directory and a dispatch-agent generation
        f"{store}/local_{U_SHORT}.json": (_json({"sessionId": f"local_{U_SHORT}"}), K.SESSION_RECORD),
        f"{store}/{U_SHORT[:8]}/audit.jsonl": (_lines({"type": "system"}), K.AUDIT_LOG),
        f"{store}/agent/local_{U_AGENT}.json": (_json({"sessionId": f"local_{U_AGENT}"}), K.SESSION_RECORD),
        f"{store}/agent/local_ditto_0001/audit.jsonl": (_lines({"type": "system"}), K.AUDIT_LOG),
        f"{store}/agent/local_ditto_0001/.claude/projects/session/{CLI}.jsonl": (_lines({}), K.TRANSCRIPT),
        # non-id sibling: skipped
        f"{root}/local-agent-mode-sessions/skills-plugin/manifest.json": (_json({}), None),
        f"{root}/claude-code-sessions/{A}/{B}/local_{U2}.json": (
            _json({"sessionId": f"local_{U2}", "lastActivityAt": 1_767_200_000_000}),
            K.CODE_SESSION_RECORD,
        ),
        f"{root}/logs/main.log": (b"2026-01-01 10:00:00 start\n", K.LOG),
        f"{root}/vm_bundles/claudevm.bundle/sessiondata.img": (b"\x00" * 16, K.RESIDUAL),
        f"{root}/IndexedDB/https_claude.ai_0.indexeddb.leveldb/000003.log": (b"x", K.RESIDUAL),
        f"{root}/Local Storage/leveldb/CURRENT": (b"x", K.RESIDUAL),
        f"{root}/Session Storage/000001.log": (b"x", K.RESIDUAL),
        f"{root}/config.json": (_json({"theme": "dark"}), K.OTHER),
        f"{home}/.claude/history.jsonl": (
            _lines({"display": "fix tests", "timestamp": 1_767_300_000_000, "sessionId": CLI}),
            K.PROMPT_HISTORY,
        ),
        f"{home}/.claude/projects/-home-ana-proj/{U3}.jsonl": (_lines({"type": "user"}), K.TRANSCRIPT),
        f"{home}/.claude/projects/-home-ana-proj/memory/notes.md": (b"notes\n", K.PROJECT_MEMORY),
        f"{home}/.claude/paste-cache/3f2a.txt": (b"pasted\n", K.PASTE_CACHE),
        f"{home}/.claude/file-history/{U3}/deadbeef@v2": (b"old file\n", K.FILE_HISTORY),
        f"{home}/.claude/plans/brave-otter.md": (b"# plan\n", K.PLAN),
        f"{home}/.claude/todos/{U3}-agent-{U3}.json": (_json([]), K.TODO),
        f"{home}/.claude/shell-snapshots/snapshot-zsh-1767-abc.sh": (b"export A=1\n", K.SHELL_SNAPSHOT),
        f"{home}/.claude.json": (_json({"oauthAccount": {"emailAddress": "ana@corp.example"}}), K.CLAUDE_JSON),
        f"{home}/Claude/summary.docx": (b"PK\x03\x04", K.USER_OUTPUT),
        f"{home}/Documents/Claude/legacy.md": (b"legacy\n", K.USER_OUTPUT),
        f"{home}/Documents/cv.pdf": (b"%PDF-1.4", None),
    }
    if os_name == "macos":
        files[f"{home}/Library/Logs/Claude/mcp.log"] = (b"log\n", K.LOG)
        files[f"{home}/Library/Application Support/Claude-3p/config.json"] = (b"{}", K.OTHER)
    if os_name == "windows":
        files[f"{home}/AppData/Roaming/Claude/local-agent-mode-sessions/{A}/{B}/local_{U3}.json"] = (
            _json({"sessionId": f"local_{U3}"}),
            K.SESSION_RECORD,
        )
        files[f"{home}/AppData/Local/Claude-Data/fam1/claude-code-sessions/{A}/{B}/local_{U3}.json"] = (
            _json({"sessionId": f"local_{U3}"}),
            K.CODE_SESSION_RECORD,
        )
        files[f"{home}/AppData/Local/Claude-Data/logs/x.log"] = (b"l\n", K.LOG)
        files["/C:/ProgramData/Claude/Logs/coworkd/coworkd.log"] = (b"svc\n", K.LOG)
    if os_name == "linux":
        files[f"{home}/.config/Claude-3p/logs/main.log"] = (b"l\n", K.LOG)
        files[f"{home}/.local/share/Trash/files/Claude/old.md"] = (b"t\n", K.OTHER)
        files[f"{home}/.local/share/Trash/files/holiday.jpg"] = (b"j", None)
    return files
