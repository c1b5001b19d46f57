"""GitHub Copilot Chat in VS Code (the editor's own chat store) and the Copilot CLI.

Sessions are files in `workspaceStorage/<id>/chatSessions/` (flat JSON in older builds, an operation log
in JSONL in newer ones; both can stay on disk), also for empty windows and transferred sessions; their
index and legacy whole sessions sit in `state.vscdb` (+ `.backup`). The Copilot CLI keeps
`~/.copilot/session-state/<sid>/events.jsonl`.
"""

from __future__ import annotations

from connectors.agents.base import SQLITE_SIDECARS, AgentLayout, Erase, Root, family_roots, rule
from connectors.records import RecordFormat as F

EDITORS = ("Code", "Code - Insiders", "VSCodium")
USER_RULES = (
    SQLITE_SIDECARS,
    rule(r"workspaceStorage/[^/]+/chatSessions/(?P<sid>[^/]+)\.jsonl", "transcript", F.JSONL, Erase.JSONL_REWRITE),
    rule(r"workspaceStorage/[^/]+/chatSessions/(?P<sid>[^/]+)\.json", "transcript", F.JSON, Erase.JSON_REWRITE),
    rule(
        r"globalStorage/(?:emptyWindowChatSessions|transferredChatSessions)/(?P<sid>[^/]+)\.jsonl",
        "transcript",
        F.JSONL,
        Erase.JSONL_REWRITE,
    ),
    rule(
        r"globalStorage/(?:emptyWindowChatSessions|transferredChatSessions)/(?P<sid>[^/]+)\.json",
        "transcript",
        F.JSON,
        Erase.JSON_REWRITE,
    ),
    rule(r"(?:globalStorage|workspaceStorage/[^/]+)/state\.vscdb(?:\.backup)?", "database", F.SQLITE, Erase.SQLITE),
    rule(r"globalStorage/github\.copilot-chat/session-store\.db", "database", F.SQLITE, Erase.SQLITE),
    rule(
        r"workspaceStorage/[^/]+/GitHub\.copilot-chat/transcripts/(?P<sid>[^/]+)\.jsonl",
        "transcript",
        F.JSONL,
        Erase.JSONL_REWRITE,
    ),
)
CLI_RULES = (
    SQLITE_SIDECARS,
    rule(r"session-state/(?P<sid>[^/]+)/events\.jsonl", "transcript", F.JSONL, Erase.JSONL_REWRITE),
    rule(r"session-state/(?P<sid>[^/]+)/plan\.md", "plan", F.TEXT, Erase.TEXT_EDIT),
    rule(r"session-store\.db", "database", F.SQLITE, Erase.SQLITE),
)

LAYOUT = AgentLayout(
    app="copilot",
    title="GitHub Copilot Chat (VS Code) and Copilot CLI",
    roots=(*family_roots(EDITORS, "", USER_RULES), Root(".copilot", rules=CLI_RULES)),
    processes=("code", "Code.exe", "Code Helper", "code-insiders", "codium", "copilot"),
    time_fields=("timestamp", "lastMessageDate", "creationDate"),
)
