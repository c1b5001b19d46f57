"""Retention policies: which configured policies a run applies, which policy governs an artifact, and the
age rule (when a period has run out).

Plain Python, no I/O: the planner (`retention.plan`) and the configuration checks use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from connectors.layouts import Artifact, ArtifactKind
from models.errors import ConfigError, InputError
from models.settings import RetentionPolicy, Settings

S3_OBJECT_KIND = "s3_object"
CONVERSATION = "conversation"
"""The policy table's key of a policy whose unit is the whole conversation (every file, every agent)."""
LINE_TIMES = {ArtifactKind.PROMPT_HISTORY: "timestamp"}
"""Kinds outside sessions whose records carry their own time: `redact` policies drop their expired lines."""


def select_policies(settings: Settings, policy: str | None = None) -> list[RetentionPolicy]:
    """The policies a run applies: all configured ones, or the one named.

    Raises:
        InputError: `policy` names no configured policy.
        ConfigError: a `redact` policy lists kinds whose records carry no time of their own.
    """
    for pol in settings.retention:
        unsupported = sorted(k for k in pol.kinds if k.rsplit(":", 1)[-1] not in {t.value for t in LINE_TIMES})
        if pol.action == "redact" and unsupported:
            raise ConfigError(
                f"retention policy {pol.name!r}: action 'redact' drops expired records and applies only to "
                f"{', '.join(sorted(t.value for t in LINE_TIMES))}; use action 'delete' for {', '.join(unsupported)}",
                key="retention",
            )
    if policy is None:
        return list(settings.retention)
    chosen = [p for p in settings.retention if p.name == policy]
    if not chosen:
        known = ", ".join(p.name for p in settings.retention) or "none configured"
        raise InputError(f"no retention policy named {policy!r} (known: {known})", policy=policy)
    return chosen


def policy_table(policies: Sequence[RetentionPolicy], group: str | None) -> dict[str, RetentionPolicy]:
    """Kind -> the policy that governs it at a location of `group` (group-specific policies first); a policy
    of whole conversations under `CONVERSATION`."""
    table: dict[str, RetentionPolicy] = {}
    specific = [p for p in policies if p.endpoint_group is not None and p.endpoint_group == group]
    general = [p for p in policies if p.endpoint_group is None]
    for pol in [*specific, *general]:
        if pol.unit == CONVERSATION:
            table.setdefault(CONVERSATION, pol)
        for kind in pol.kinds:
            table.setdefault(kind, pol)
    return table


def policy_for(table: Mapping[str, RetentionPolicy], art: Artifact) -> RetentionPolicy | None:
    """The policy governing one artifact: an agent-qualified kind (`codex:transcript`), then the agent's
    wildcard (`codex:*`), then the plain kind (which covers that kind of every agent)."""
    kind = art.kind.value
    return table.get(f"{art.app}:{kind}") or table.get(f"{art.app}:*") or table.get(kind)


def is_expired(policy: RetentionPolicy, reference_at: datetime, now: datetime) -> bool:
    """Whether `period_days` have passed since `reference_at` (for `end_of_year`: since the end of its year)."""
    if policy.trigger == "end_of_year":
        reference_at = datetime(reference_at.astimezone(UTC).year + 1, 1, 1, tzinfo=UTC)
    return reference_at + timedelta(days=policy.period_days) <= now
