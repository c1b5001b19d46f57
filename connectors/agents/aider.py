"""Aider: Markdown chat history and prompt history in each repository's git root (no central store).

Found by listing the home and two folder levels below it (the user's project folders) for `.aider.*` files.
"""

from __future__ import annotations

from connectors.agents.base import AgentLayout, Erase, Root, rule
from connectors.records import RecordFormat as F

_DIR = r"(?:[^/]+/){0,2}"
RULES = (
    rule(rf"{_DIR}\.aider\.chat\.history\.md", "transcript", F.TEXT, Erase.TEXT_EDIT),
    rule(rf"{_DIR}\.aider\.input\.history", "prompt_history", F.TEXT, Erase.TEXT_EDIT),
    rule(rf"{_DIR}\.aider\.llm\.history", "transcript", F.TEXT, Erase.TEXT_EDIT),
)
PLACES = (".aider*", "*/.aider*", "*/*/.aider*")
"""Globs listed per home; hidden folders and the OS's own trees (`Library`, `AppData`) are not searched."""

LAYOUT = AgentLayout(
    app="aider",
    title="Aider",
    roots=(Root("", rules=RULES, claim_all=False, probe_globs=PLACES),),
    processes=("aider",),
    time_fields=(),
)
