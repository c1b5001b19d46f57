"""Continue (and its PearAI fork): `$CONTINUE_GLOBAL_DIR` or `~/.continue` (`~/.pearai`) on every OS."""

from __future__ import annotations

from connectors.agents.base import SQLITE_SIDECARS, AgentLayout, Erase, Root, rule
from connectors.records import RecordFormat as F

RULES = (
    SQLITE_SIDECARS,
    rule(r"sessions/sessions\.json", "session_index", F.JSON, Erase.JSON_REWRITE),
    rule(r"sessions/(?P<sid>[^/]+)\.json", "transcript", F.JSON, Erase.JSON_REWRITE),
    rule(r"dev_data/.+\.jsonl", "log", F.JSONL, Erase.JSONL_REWRITE),
    rule(r"(?:dev_data|index)/[^/]+\.sqlite", "database", F.SQLITE, Erase.SQLITE),
    rule(r"index/lancedb/.+", "residual", F.NONE, Erase.WHOLE_ONLY),
)

LAYOUT = AgentLayout(
    app="continue",
    title="Continue",
    roots=(Root(".continue", rules=RULES), Root(".pearai", rules=RULES)),
    processes=("code", "Code.exe", "continue-binary", "pearai"),
    time_fields=("dateCreated",),
)
