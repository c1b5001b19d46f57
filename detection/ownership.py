"""The ownership rule: when a whole session is about the subject, not only the lines that name them.

Owns the decision and its reason code. Reads nothing itself; must not log identifier values.

Rule (Art. 15(1) covers all data relating to the person): a session is the subject's,
and every record of it is in scope for access, when ANY of these holds:

1. `session_email`: the session record's `emailAddress` is one of the subject's e-mail addresses;
2. `session_account`: the session record's account id is one of the subject's user ids;
3. `endpoint_owner`: the endpoint's configured owner identifier (an e-mail, user id or name in the
   configuration) is one of the subject's identifiers, as a whole (not a substring).

Otherwise (`not_owner`) only confirmed records are in scope. The rule is inclusive on purpose: a session on
the subject's own laptop under another account is still included for access, and the reason code lets an
erasure plan treat that case more carefully (the record names a different account).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from detection.identifiers import is_uuid
from detection.matcher import Matcher

SESSION_EMAIL = "session_email"
SESSION_ACCOUNT = "session_account"
ENDPOINT_OWNER = "endpoint_owner"
NOT_OWNER = "not_owner"


@dataclass(frozen=True)
class Ownership:
    """Whether a session belongs to the subject, and why.

    Attributes:
        owned: every record of the session is in scope.
        reason: `session_email`, `session_account`, `endpoint_owner` or `not_owner`.
        other_account: the session record names an account (e-mail or id) that is not the subject's.
    """

    owned: bool
    reason: str
    other_account: bool = False


def decide_ownership(
    matcher: Matcher,
    *,
    email_address: str | None = None,
    account_id: str | None = None,
    endpoint_owners: Iterable[str] = (),
) -> Ownership:
    """Apply the ownership rule of this module's docstring.

    Args:
        matcher: the subject's matcher.
        email_address: the session record's `emailAddress`, if any.
        account_id: the session record's account id, if any.
        endpoint_owners: the endpoint's configured owner identifier(s).

    Returns:
        The decision with its reason code.
    """
    subject_emails = {e.strip().lower() for e in matcher.identifiers.emails}
    subject_ids = {u.strip() for u in matcher.identifiers.user_ids}
    subject_uuids = {u.lower() for u in subject_ids if is_uuid(u)}
    email = (email_address or "").strip().lower()
    account = (account_id or "").strip()
    email_match = bool(email) and email in subject_emails
    account_match = bool(account) and (account in subject_ids or account.lower() in subject_uuids)
    other_account = bool(email_address or account_id) and not (email_match or account_match)
    if email_match:
        return Ownership(True, SESSION_EMAIL)
    if account_match:
        return Ownership(True, SESSION_ACCOUNT)
    if any(owner and matcher.is_identifier(owner) for owner in endpoint_owners):
        return Ownership(True, ENDPOINT_OWNER, other_account=other_account)
    return Ownership(False, NOT_OWNER, other_account=other_account)
