"""Cursor (IDE) and the Cursor Agent CLI.

The IDE keeps chats in SQLite key-value tables (`cursorDiskKV`, `ItemTable`) of `state.vscdb` in its
VS Code-family user directory (global and per workspace), with `.backup` copies that are full databases.
The CLI keeps a content-addressed `store.db` per chat (deleted whole) and JSONL agent transcripts.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.agents.base import SQLITE_SIDECARS, AgentLayout, Erase, Root, family_roots, rule
from connectors.records import RecordFormat as F

USER_RULES = (
    SQLITE_SIDECARS,
    rule(r"(?:globalStorage|workspaceStorage/[^/]+)/state\.vscdb(?:\.backup)?", "database", F.SQLITE, Erase.SQLITE),
    rule(r"workspaceStorage/[^/]+/workspace\.json", "other", F.JSON, Erase.JSON_REWRITE),
)
CLI_RULES = (
    SQLITE_SIDECARS,
    rule(r"chats/[^/]+/(?P<sid>[^/]+)/store\.db", "database", F.SQLITE, Erase.CONTENT_ADDRESSED),
    rule(r"projects/[^/]+/agent-transcripts/(?P<sid>[^/]+)/[^/]+\.jsonl", "transcript", F.JSONL, Erase.JSONL_REWRITE),
    rule(r"ai-tracking/[^/]+\.db", "database", F.SQLITE, Erase.SQLITE),
)


def _cursor_row_session(table: str, key: str, cells: Mapping[str, object]) -> str | None:
    """`cursorDiskKV` keys name the conversation: `bubbleId:<composerId>:<bubbleId>`, `composerData:<id>`."""
    if table == "cursorDiskKV":
        parts = key.split(":")
        if parts[0] in ("bubbleId", "composerData", "messageRequestContext", "checkpointId") and len(parts) > 1:
            return parts[1]
    value = cells.get("composerId")
    return value if isinstance(value, str) else None


LAYOUT = AgentLayout(
    app="cursor",
    title="Cursor",
    roots=(*family_roots(("Cursor",), "", USER_RULES), Root(".cursor", rules=CLI_RULES)),
    processes=("Cursor", "Cursor.exe", "cursor", "cursor-agent"),
    time_fields=("lastUpdatedAt", "createdAt", "unixMs"),
    row_session=_cursor_row_session,
    blob_records=(r"cursorDiskKV:agentKv:blob:.+",),
)
