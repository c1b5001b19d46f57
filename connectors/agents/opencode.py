"""OpenCode: XDG paths under the home on every OS: data `~/.local/share/opencode`, state `~/.local/state/opencode`.

The SQLite database (`opencode.db`, channel builds `opencode-<channel>.db`, WAL mode) holds sessions,
messages and typed parts; the legacy one-file-per-object `storage/` tree stays after migration.
"""

from __future__ import annotations

from connectors.agents.base import SQLITE_SIDECARS, AgentLayout, Erase, Root, rule, session_of_row
from connectors.records import RecordFormat as F

DATA_RULES = (
    SQLITE_SIDECARS,
    rule(r"opencode(?:-[^/]+)?\.db", "database", F.SQLITE, Erase.SQLITE),
    rule(r"storage/session/(?:[^/]+/)*(?P<sid>ses_[^/]+)\.json", "session_record", F.JSON, Erase.JSON_REWRITE),
    rule(
        r"storage/(?:message|part|todo|session_diff)/(?P<sid>ses_[^/]+)/.+\.json",
        "transcript",
        F.JSON,
        Erase.JSON_REWRITE,
    ),
    rule(r"storage/.+\.json", "transcript", F.JSON, Erase.JSON_REWRITE),
    rule(r"snapshot/.+", "shadow_git", F.NONE, Erase.SHADOW_GIT),
    rule(r"log/.+\.log", "log", F.TEXT, Erase.TEXT_EDIT),
)
STATE_RULES = (rule(r"prompt-history\.jsonl", "prompt_history", F.JSONL, Erase.JSONL_REWRITE),)

LAYOUT = AgentLayout(
    app="opencode",
    title="OpenCode",
    roots=(Root(".local/share/opencode", rules=DATA_RULES), Root(".local/state/opencode", rules=STATE_RULES)),
    processes=("opencode", "opencode.exe"),
    time_fields=("time_updated", "time_created"),
    row_session=session_of_row(("session",)),
)
