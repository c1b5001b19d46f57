"""Agent-history layouts: the only module that knows where Claude apps keep histories on a laptop.

Placeholder while being written.
"""

from __future__ import annotations

ACTIVITY_MARKER_GLOBS: tuple[str, ...] = (
    "Users/*/.claude/sessions/*.json",
    "home/*/.claude/sessions/*.json",
    "root/.claude/sessions/*.json",
    "C:/Users/*/.claude/sessions/*.json",
)
