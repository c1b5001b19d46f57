"""Google Gemini CLI: `$GEMINI_CLI_HOME/.gemini` or `~/.gemini` on every OS.

Project folders under `tmp/` are named by a SHA-256 (older builds) or a slug (newer): every folder is walked,
no name is computed. Chats are JSONL (newer) or pretty JSON (older; a resumed one is copied, so both stay);
`logs.json` holds every prompt; checkpoints hold whole conversations; `history/<project>` is a shadow git.
"""

from __future__ import annotations

from connectors.agents.base import AgentLayout, Erase, Root, rule
from connectors.records import RecordFormat as F

_P = r"tmp/[^/]+"
RULES = (
    rule(rf"{_P}/chats/session-[^/]*?(?P<sid>[0-9a-f]{{8}})?\.jsonl", "transcript", F.JSONL, Erase.JSONL_REWRITE),
    rule(rf"{_P}/chats/session-[^/]*?(?P<sid>[0-9a-f]{{8}})?\.json", "transcript", F.JSON, Erase.JSON_REWRITE),
    rule(rf"{_P}/chats/(?P<sid>[^/]+)/[^/]+\.jsonl", "subagent", F.JSONL, Erase.JSONL_REWRITE),
    rule(rf"{_P}/chats/[^/]+\.unreadable-\d+", "transcript", F.TEXT, Erase.TEXT_EDIT),
    rule(rf"{_P}/logs\.json(?:\..*\.bak)?", "prompt_history", F.JSON, Erase.JSON_REWRITE),
    rule(rf"{_P}/checkpoint-[^/]+\.json", "checkpoint", F.JSON, Erase.JSON_REWRITE),
    rule(rf"{_P}/checkpoints/[^/]+\.json", "checkpoint", F.JSON, Erase.JSON_REWRITE),
    rule(rf"{_P}/tool-outputs/session-(?P<sid>[^/]+)/.+", "tool_result", F.TEXT, Erase.TEXT_EDIT),
    rule(rf"{_P}/shell_history", "prompt_history", F.TEXT, Erase.TEXT_EDIT),
    rule(rf"{_P}/logs/session-(?P<sid>[^/]+)\.jsonl", "log", F.JSONL, Erase.JSONL_REWRITE),
    rule(rf"{_P}/GEMINI\.md", "memory", F.TEXT, Erase.TEXT_EDIT),
    rule(r"history/.+", "shadow_git", F.NONE, Erase.SHADOW_GIT),
    rule(r"GEMINI\.md", "memory", F.TEXT, Erase.TEXT_EDIT),
    rule(r"projects\.json", "session_index", F.JSON, Erase.JSON_REWRITE),
)

LAYOUT = AgentLayout(
    app="gemini-cli",
    title="Google Gemini CLI",
    roots=(Root(".gemini", rules=RULES),),
    processes=("gemini",),
    time_fields=("timestamp", "lastUpdated", "startTime"),
)
