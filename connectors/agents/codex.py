"""OpenAI Codex CLI (and its IDE extension and desktop app): `$CODEX_HOME` or `~/.codex` on every OS.

Rollouts are JSONL (newer builds zstd-compressed JSONL) named by local time and the session UUID; prompts in
`history.jsonl`; thread titles, first messages and a full-text index in `state_<N>.sqlite`; tracing bodies
in `logs_<N>.sqlite` (the digit is a schema version).
"""

from __future__ import annotations

from connectors.agents.base import SQLITE_SIDECARS, UUID, AgentLayout, Erase, Root, rule, session_of_row
from connectors.records import RecordFormat as F

_ROLLOUT = rf"(?:sessions/\d{{4}}/\d\d/\d\d|archived_sessions)/rollout-[0-9T:-]+-(?P<sid>{UUID})"
RULES = (
    SQLITE_SIDECARS,
    rule(
        rf"{_ROLLOUT}\.jsonl",
        "transcript",
        F.JSONL,
        Erase.JSONL_REWRITE,
    ),
    rule(
        rf"{_ROLLOUT}\.jsonl\.zst",
        "transcript",
        F.JSONL_ZSTD,
        Erase.COMPRESSED,
    ),
    rule(r"history\.jsonl", "prompt_history", F.JSONL, Erase.JSONL_REWRITE),
    rule(r"session_index\.jsonl", "session_index", F.JSONL, Erase.JSONL_REWRITE),
    rule(r"(?:state|logs)_\d+\.sqlite", "database", F.SQLITE, Erase.SQLITE),
    rule(r"memories/.+", "memory", F.TEXT, Erase.TEXT_EDIT),
    rule(r"log/.+", "log", F.TEXT, Erase.TEXT_EDIT),
    rule(r"shell_snapshots/.+", "shell_snapshot", F.TEXT, Erase.TEXT_EDIT),
    rule(r"auth\.json", "account", F.JSON, Erase.JSON_REWRITE),
)

LAYOUT = AgentLayout(
    app="codex",
    title="OpenAI Codex CLI",
    roots=(Root(".codex", rules=RULES),),
    processes=("codex", "codex.exe", "Codex"),
    time_fields=("timestamp", "ts", "updated_at"),
    row_session=session_of_row(("threads",)),
)
