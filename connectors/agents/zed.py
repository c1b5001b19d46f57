"""Zed: agent threads in `threads/threads.db` (zstd-compressed JSON per row), legacy text threads as files."""

from __future__ import annotations

from connectors.agents.base import SQLITE_SIDECARS, AgentLayout, Erase, Root, rule, session_of_row
from connectors.records import RecordFormat as F

DATA_RULES = (
    SQLITE_SIDECARS,
    rule(r"threads/threads\.db", "database", F.SQLITE, Erase.SQLITE),
    rule(r"conversations/(?P<sid>[^/]+)\.json", "transcript", F.JSON, Erase.JSON_REWRITE),
    rule(r"conversations/.+", "transcript", None, Erase.TEXT_EDIT),
    rule(r"logs/Zed\.log(?:\.old)?", "log", F.TEXT, Erase.TEXT_EDIT),
)
LEGACY_RULES = (rule(r"conversations/(?P<sid>[^/]+)\.json", "transcript", F.JSON, Erase.JSON_REWRITE),)

LAYOUT = AgentLayout(
    app="zed",
    title="Zed",
    roots=(
        Root("Library/Application Support/Zed", ("macos",), DATA_RULES),
        Root(".config/zed", rules=LEGACY_RULES, claim_all=False),
        Root(".local/share/zed", ("linux",), DATA_RULES),
        Root("AppData/Local/Zed", ("windows",), DATA_RULES),
        Root("Library/Logs/Zed", ("macos",), (rule(r"Zed\.log(?:\.old)?", "log", F.TEXT, Erase.TEXT_EDIT),)),
    ),
    processes=("zed", "Zed", "zed.exe", "zed-editor"),
    time_fields=("updated_at",),
    row_session=session_of_row(("threads",)),
)
