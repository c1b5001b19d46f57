"""Which planned actions are gaps (not reached) on the certificate, plans stored before the kind existed too."""

from __future__ import annotations

from erasure.plan import ActionKind, PlannedAction
from services.certificates import is_gap


def _action(kind: ActionKind, reason: str, ground: str | None) -> PlannedAction:
    return PlannedAction("a1", kind, "laptop-01", "endpoint", reason, path="/Users/ana/x", ground=ground)


def test_not_reached_actions_and_older_not_reached_exceptions_are_gaps() -> None:
    """`not_reached` actions, and exceptions an older plan recorded for unread items, are gaps; a real
    Art. 17(3) exception or a legal hold is not."""
    assert is_gap(_action(ActionKind.NOT_REACHED, "special_file", None))
    assert is_gap(_action(ActionKind.EXCEPTION, "not_reached", "symlink_out_of_scope"))
    assert is_gap(_action(ActionKind.EXCEPTION, "not_identified", "not_read"))
    assert not is_gap(_action(ActionKind.EXCEPTION, "art17_3", "legal_obligation"))
    assert not is_gap(_action(ActionKind.EXCEPTION, "legal_hold", "legal_claims"))
    assert not is_gap(_action(ActionKind.REDACT, "no_session", None))
