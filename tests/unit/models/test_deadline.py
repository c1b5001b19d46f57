"""The deadline engine: the worked examples of docs/legal-rules.md and properties over many dates."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.deadline import (
    add_months_clamped,
    compute_deadlines,
    identity_pause_days,
    is_working_day,
    parse_calendar,
)
from models.errors import InputError

WORKED = [
    pytest.param(date(2025, 9, 3), "GB-ENG", date(2025, 10, 3), None, id="wed-3-sep-2025"),
    pytest.param(date(2025, 1, 31), "GB-ENG", date(2025, 2, 28), date(2025, 4, 30), id="31-jan-clamps-to-feb"),
    pytest.param(date(2024, 11, 25), "GB-ENG", date(2024, 12, 27), None, id="christmas-boxing-day-roll"),
    pytest.param(date(2026, 1, 30), "GB-ENG", date(2026, 3, 2), None, id="28-feb-saturday-rolls-to-monday"),
    pytest.param(date(2025, 3, 1), "GB-ENG", date(2025, 4, 1), None, id="saturday-receipt-counts"),
    pytest.param(date(2024, 1, 31), "DE", date(2024, 2, 29), date(2024, 4, 30), id="leap-year-clamp"),
    pytest.param(date(2025, 4, 18), "GB-ENG", date(2025, 5, 19), None, id="good-friday-receipt-sunday-due"),
    pytest.param(date(2025, 3, 29), "DE", date(2025, 4, 29), None, id="de-national-calendar"),
]


@pytest.mark.parametrize(("received", "calendar", "due", "extended"), WORKED)
def test_worked_examples(received: date, calendar: str, due: date, extended: date | None) -> None:
    """Each worked example of the rules doc gives exactly the documented due (and extended) date."""
    dates = compute_deadlines(received, calendar)
    assert dates.due == due
    if extended is not None:
        assert dates.extended_due == extended


def test_target_is_28_days_and_never_after_due() -> None:
    """The internal target is receipt + 28 days, capped at the legal due date."""
    assert compute_deadlines(date(2025, 9, 3), "GB-ENG").target == date(2025, 10, 1)
    assert compute_deadlines(date(2025, 1, 31), "GB-ENG").target == date(2025, 2, 28)


def test_identity_pause_shifts_the_period() -> None:
    """Days waiting for reasonably requested identity information shift the anchor."""
    assert compute_deadlines(date(2025, 9, 3), "GB-ENG", paused_days=7).due == date(2025, 10, 10)


@pytest.mark.parametrize("code", ["XX", "GB-XYZ", "", "gb-eng-x"])
def test_unknown_calendar_is_refused(code: str) -> None:
    """An unknown calendar code is an input error naming the code and examples of valid ones."""
    with pytest.raises(InputError, match="GB-ENG"):
        parse_calendar(code)


days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@given(days)
def test_due_is_a_working_day_after_receipt(received: date) -> None:
    """Due is a working day, after receipt, never more than a month and a few roll days later."""
    dates = compute_deadlines(received, "GB-ENG")
    assert is_working_day(dates.due, "GB-ENG")
    assert received < dates.due <= add_months_clamped(received, 1) + timedelta(days=6)
    assert dates.due < dates.extended_due
    assert dates.target <= dates.due


@given(days)
def test_due_is_the_clamped_date_when_that_is_a_working_day(received: date) -> None:
    """If the same date next month (clamped) is a working day it is the due date; else due is the next one."""
    raw = add_months_clamped(received, 1)
    dates = compute_deadlines(received, "DE")
    if is_working_day(raw, "DE"):
        assert dates.due == raw
    else:
        assert dates.due > raw
        day = raw + timedelta(days=1)
        while day < dates.due:
            assert not is_working_day(day, "DE")
            day += timedelta(days=1)


@given(days, st.integers(min_value=1, max_value=36))
def test_month_addition_never_overflows(received: date, months: int) -> None:
    """Adding months keeps the day or clamps to the month's last day; it never spills into the next month."""
    result = add_months_clamped(received, months)
    assert (result.year * 12 + result.month) - (received.year * 12 + received.month) == months
    assert result.day == received.day or (result.day < received.day and (result + timedelta(days=1)).day == 1)


def test_identity_pause_counts_from_asking_to_arrival() -> None:
    """Asked on 5 Sep, arrived on 12 Sep: seven days stand still; nothing asked or nothing arrived, no pause;
    an arrival before the question is refused."""
    paused = compute_deadlines(
        date(2025, 9, 3), "GB-ENG", identity_asked=date(2025, 9, 5), identity_arrived=date(2025, 9, 12)
    )
    assert (paused.due, paused.paused_days) == (date(2025, 10, 10), 7)
    assert identity_pause_days(date(2025, 9, 5), None) == 0
    assert identity_pause_days(None, date(2025, 9, 12)) == 0
    with pytest.raises(InputError, match="before it was asked"):
        identity_pause_days(date(2025, 9, 12), date(2025, 9, 5))


#: Run in a new interpreter: the calendars are taken the lean way first (one country module each; Aland imports
#: Finland and so loads the whole package), then compared, day by day, with the package's own `country_holidays`.
FRESH_CALENDARS = """
import json, sys
from datetime import date, timedelta
from models import deadline
codes = ["GB-ENG", "GB-SCT", "UK", "DE-BY", "FR", "IE"]
dates = {c: deadline.compute_deadlines(date(2025, 12, 20), c).as_json() for c in codes}
alone = sorted(m for m in sys.modules if m.startswith("holidays.countries"))
dates["AX"] = deadline.compute_deadlines(date(2025, 12, 20), "AX").as_json()
import holidays
days = [date(2024, 1, 1) + timedelta(days=n) for n in range(4 * 366)]
same = all(
    [d in deadline._holiday_calendar(c) for d in days]
    == [d in holidays.country_holidays(*deadline.parse_calendar(c)) for d in days]
    for c in [*codes, "AX"]
)
print(json.dumps({"alone": alone, "same": same, "classes": [
    deadline._country_class(c) is getattr(holidays, c).get_entity() for c in ("GB", "UK", "DE", "AX")]}))
"""


def test_a_calendar_loads_its_own_country_module_only_and_gives_the_packages_holidays() -> None:
    """`holidays.GB` would import all ~250 country modules (a fifth of `dsr deadline`'s time): a calendar loads
    its country's module alone, and gives exactly the holidays and classes of the package's own lookup."""
    result = subprocess.run(
        [sys.executable, "-c", FRESH_CALENDARS], capture_output=True, text=True, check=True, timeout=300
    )
    found = json.loads(result.stdout)
    assert found["alone"] == [
        "holidays.countries.france",
        "holidays.countries.germany",
        "holidays.countries.ireland",
        "holidays.countries.united_kingdom",
    ]
    assert found["same"] is True
    assert found["classes"] == [True, True, True, True]
