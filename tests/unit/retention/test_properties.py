"""Property tests of the pure retention rules: expiry is monotonic in time, hold scope narrows monotonically."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from models.holds import Hold, hold_covers
from models.settings import RetentionPolicy
from retention.policies import is_expired

# Hypothesis takes naive bounds and attaches the zone itself.
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - naive bound, as Hypothesis requires
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001 - naive bound, as Hypothesis requires
    timezones=st.just(UTC),
)
triggers = st.sampled_from(["last_activity", "creation", "file_age", "end_of_year"])
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1))


@given(reference=instants, period=st.integers(0, 4000), trigger=triggers, now=instants, later=st.integers(0, 5000))
def test_expired_stays_expired(reference: datetime, period: int, trigger: str, now: datetime, later: int) -> None:
    """Once past its period an item stays past it; a longer period never expires earlier."""
    policy = RetentionPolicy(name="p", kinds=["transcript"], period_days=period, trigger=trigger)  # type: ignore[arg-type]
    longer = policy.model_copy(update={"period_days": period + 1})
    if is_expired(policy, reference, now):
        assert is_expired(policy, reference, now + timedelta(days=later))
    if is_expired(longer, reference, now):
        assert is_expired(policy, reference, now)


@given(
    endpoints=st.lists(st.sampled_from(["a", "b", "c"]), max_size=2),
    date_from=st.none() | days,
    date_to=st.none() | days,
    first=days,
    span=st.integers(0, 400),
    endpoint=st.sampled_from(["a", "b", "c"]),
)
def test_adding_a_scope_dimension_never_widens_a_hold(
    endpoints: list[str], date_from: date | None, date_to: date | None, first: date, span: int, endpoint: str
) -> None:
    """A hold with more scope set covers a subset of what the hold without it covers (empty covers all)."""
    base = Hold("H", "r", "c", "a", date(2030, 1, 1))
    narrowed = Hold(
        "H", "r", "c", "a", date(2030, 1, 1), endpoints=tuple(endpoints), date_from=date_from, date_to=date_to
    )
    dates = (first, first + timedelta(days=span))
    args = {"endpoint": endpoint, "path": "/Users/x/f.json", "session_dates": dates, "subject_hashes": set()}
    assert hold_covers(base, **args)  # type: ignore[arg-type]
    if hold_covers(narrowed, **args):  # type: ignore[arg-type]
        assert not endpoints or endpoint in endpoints
        assert date_from is None or dates[1] >= date_from
        assert date_to is None or dates[0] <= date_to
