"""Cline, Roo Code and Kilo Code: VS Code extensions with one folder of compact one-line JSON per task.

Each lives in `globalStorage/<extension id>/` of every VS Code-family editor it was installed in; the
Cline CLI and JetBrains builds use `~/.cline/data/`. `checkpoints/` are shadow git repositories.
"""

from __future__ import annotations

from connectors.agents.base import AgentLayout, Erase, Root, family_roots, rule
from connectors.records import RecordFormat as F

EDITORS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")
VARIANTS = (
    ("saoudrizwan.claude-dev", "cline"),
    ("rooveterinaryinc.roo-cline", "roo-code"),
    ("kilocode.kilo-code", "kilo-code"),
)
RULES = (
    rule(
        r"tasks/(?P<sid>[^/]+)/(?:api_conversation_history|ui_messages|claude_messages)\.json",
        "transcript",
        F.JSON,
        Erase.JSON_REWRITE,
    ),
    rule(r"tasks/(?P<sid>[^/]+)/[^/]+\.json", "task", F.JSON, Erase.JSON_REWRITE),
    rule(r"tasks/_index\.json|state/taskHistory\.json", "session_index", F.JSON, Erase.JSON_REWRITE),
    rule(r"checkpoints/.+", "shadow_git", F.NONE, Erase.SHADOW_GIT),
    rule(r"tasks/(?P<sid>[^/]+)/.+", "task", None, Erase.TEXT_EDIT),
)

LAYOUT = AgentLayout(
    app="cline",
    title="Cline, Roo Code, Kilo Code",
    roots=(
        *(root for ext, app in VARIANTS for root in family_roots(EDITORS, f"globalStorage/{ext}", RULES, app)),
        Root(".cline/data", rules=RULES, app="cline"),
        Root("Documents/Cline", rules=(rule(r".+", "memory", F.TEXT, Erase.TEXT_EDIT),), app="cline"),
    ),
    processes=("code", "Code.exe", "Cursor", "Windsurf", "codium", "cline"),
    time_fields=("ts",),
    variant_titles=(("cline", "Cline"), ("roo-code", "Roo Code"), ("kilo-code", "Kilo Code")),
)
