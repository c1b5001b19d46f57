"""Tests for detection.ownership: the explicit whole-session rule."""

from __future__ import annotations

import pytest

from detection.matcher import Matcher
from detection.ownership import decide_ownership


@pytest.mark.parametrize(
    ("email", "account", "owners", "owned", "reason"),
    [
        ("zoe.angstrom@x.invalid", None, (), True, "session_email"),
        ("ZOE.ANGSTROM@X.INVALID", None, (), True, "session_email"),
        (None, "E-48213", (), True, "session_account"),
        (None, "3F2B8C1E-1111-4222-8333-444455556666", (), True, "session_account"),
        (None, None, ("zoe.angstrom@x.invalid",), True, "endpoint_owner"),
        (None, None, ("Zoë Ångström",), True, "endpoint_owner"),
        ("anna@corp.example", None, ("zoe.angstrom@x.invalid",), True, "endpoint_owner"),
        ("anna@corp.example", None, (), False, "not_owner"),
        (None, "e-48213", (), False, "not_owner"),
        (None, None, ("bob zoe.angstrom@x.invalid",), False, "not_owner"),
        (None, None, (), False, "not_owner"),
    ],
    ids=[
        "record-email", "record-email-case", "record-account", "record-uuid-case", "endpoint-owner-email",
        "endpoint-owner-name", "other-account-on-owners-laptop", "other-account", "account-case-differs",
        "owner-substring-is-not-owner", "nothing",
    ],
)  # fmt: skip
def test_ownership_rule(
    matcher: Matcher, email: str | None, account: str | None, owners: tuple[str, ...], owned: bool, reason: str
) -> None:
    """A session is the subject's by record e-mail, record account id, or the endpoint's configured owner."""
    decision = decide_ownership(matcher, email_address=email, account_id=account, endpoint_owners=owners)
    assert (decision.owned, decision.reason) == (owned, reason)


def test_other_account_is_flagged(matcher: Matcher) -> None:
    """A session on the owner's laptop under another account is owned but flagged for erasure planning."""
    decision = decide_ownership(matcher, email_address="anna@corp.example", endpoint_owners=("zoe.angstrom@x.invalid",))
    assert decision.owned and decision.other_account
