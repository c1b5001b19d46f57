"""Windsurf (Codeium Cascade): encrypted conversations under `~/.codeium/windsurf/` on every OS.

Never opened or decrypted: each conversation file is listed as an encrypted store, deleted whole (app
closed) only when the conversation is in scope on other evidence, and the vendor is asked for its copy.
Its VS Code-family user directory holds ordinary `state.vscdb` databases.
"""

from __future__ import annotations

from connectors.agents.base import SQLITE_SIDECARS, AgentLayout, Erase, Root, family_roots, rule
from connectors.records import RecordFormat as F

RULES = (
    rule(r"(?:cascade|implicit)/(?P<sid>[^/]+)\.pb", "encrypted_store", F.NONE, Erase.WHOLE_ONLY),
    rule(r"(?:memories|brain|codemaps|database)/.+", "encrypted_store", F.NONE, Erase.WHOLE_ONLY),
    rule(r"user_settings\.pb", "encrypted_store", F.NONE, Erase.WHOLE_ONLY),
)
USER_RULES = (
    SQLITE_SIDECARS,
    rule(r"(?:globalStorage|workspaceStorage/[^/]+)/state\.vscdb(?:\.backup)?", "database", F.SQLITE, Erase.SQLITE),
)

LAYOUT = AgentLayout(
    app="windsurf",
    title="Windsurf (Codeium Cascade)",
    roots=(Root(".codeium/windsurf", rules=RULES), *family_roots(("Windsurf",), "", USER_RULES)),
    processes=("Windsurf", "Windsurf.exe", "windsurf", "language_server"),
    encrypted=True,
)
