"""The one deadline function: Art. 12(3) GDPR periods counted under Regulation 1182/71.

Pure date arithmetic over a holiday calendar from the `holidays` package. No I/O, no clock:
callers pass the dates.
"""

from __future__ import annotations

import calendar as _calendar
import importlib.util
import re
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import holidays
from holidays.registry import COUNTRIES, IMPORT_LOCK, EntityLoader

from models.errors import InputError

#: Recorded on every request so that its dates can be recomputed and explained later.
ALGORITHM_VERSION = "art12-3/reg1182-71/v1"

#: Internal target shown beside the legal date (house rule, not law).
INTERNAL_TARGET = timedelta(days=28)

#: The dates of receipt the calculation supports (holiday calendars and month arithmetic stay in range).
FIRST_SUPPORTED = date(1970, 1, 1)
LAST_SUPPORTED = date(2999, 12, 31)

_CALENDAR_RE = re.compile(r"^(?P<country>[A-Z]{2})(?:-(?P<subdiv>[A-Z0-9]{1,4}))?$")


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Dates for one request: all ISO calendar dates in the controller's establishment."""

    received: date
    due: date
    target: date
    extended_due: date
    calendar: str
    paused_days: int = 0

    def as_json(self) -> dict[str, str | int]:
        """The `dsr deadline --json` document."""
        return {
            "received": self.received.isoformat(),
            "due": self.due.isoformat(),
            "target": self.target.isoformat(),
            "extended_due": self.extended_due.isoformat(),
            "calendar": self.calendar,
        }


def parse_calendar(code: str) -> tuple[str, str | None]:
    """Split a calendar code such as `GB-ENG` or `DE` into country and optional subdivision.

    Raises:
        InputError: the code is not a supported country (and subdivision) of the `holidays` package.
    """
    match = _CALENDAR_RE.match(code.strip().upper())
    if not match or match["country"] not in _country_codes():
        raise InputError(
            f"unknown holiday calendar {code!r}: use an ISO 3166 country code with an optional subdivision "
            "supported by the 'holidays' package, for example GB-ENG, GB-SCT, DE, DE-BY, FR, IE",
            value=code,
        )
    country, subdiv = match["country"], match["subdiv"]
    subdivisions = list(_country_class(country).subdivisions) if subdiv is not None else []
    if subdiv is not None and subdiv not in subdivisions:
        allowed = ", ".join(f"{country}-{s}" for s in subdivisions[:12])
        raise InputError(
            f"unknown subdivision in holiday calendar {code!r}: allowed for {country} are {allowed} ...",
            value=code,
        )
    return country, subdiv


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    """The country codes (with aliases such as UK) the `holidays` package supports, read from its registry.

    `holidays.list_supported_countries()` gives the same codes but imports all of its several hundred country
    modules to list their subdivisions; here they load only when a subdivision must be checked (the package
    imports them together with any one country).
    """
    return frozenset(EntityLoader.get_country_codes(include_aliases=True))


@lru_cache(maxsize=64)
def _country_class(country: str) -> Any:
    """The holiday class of `country` (a supported code), importing its one module where that is safe.

    `holidays.GB` imports the package `holidays.countries`, whose `__init__` imports all of its ~250 country
    modules: about a fifth of `dsr deadline`'s time, and of every command that validates the configuration's
    calendar. The registry names the country's module, which is loaded by itself unless it imports another
    country (Aland imports Finland) or the package is loaded already; anything unexpected takes the package's
    own lazy lookup, which gives the same class.
    """
    with IMPORT_LOCK:  # the lock of the package's own lazy imports
        module = _country_module(country)
    entity = getattr(module, country, None) if module is not None else None
    if entity is None:
        entity = getattr(holidays, country)
        entity = entity.get_entity() if isinstance(entity, EntityLoader) else entity
    return entity


def _country_module(country: str) -> Any:
    """The country's module, loaded alone (see `_country_class`), or None where the package must load it."""
    package = "holidays.countries"
    name = next((module for module, entities in COUNTRIES.items() if country in entities[1:]), None)
    if name is None or package in sys.modules:
        return None
    qualified = f"{package}.{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    path = Path(str(holidays.__file__)).parent / "countries" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(qualified, path)
    if spec is None or spec.loader is None or not path.is_file() or package in path.read_text(encoding="utf-8"):
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # the package's `__init__`, if it loads later, takes this same module
    try:
        spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - any failure: forget the half-loaded module and let the package load it
        del sys.modules[qualified]
        return None
    return module


@lru_cache(maxsize=64)
def _holiday_calendar(code: str) -> holidays.HolidayBase:
    """The holidays of `code`, as `holidays.country_holidays(country, subdiv=...)` gives them."""
    country, subdiv = parse_calendar(code)
    calendar: holidays.HolidayBase = _country_class(country)(
        years=None, subdiv=subdiv, expand=True, observed=True, prov=None, state=None, language=None, categories=None
    )
    return calendar


def is_working_day(day: date, calendar: str) -> bool:
    """Whether `day` is neither a Saturday, a Sunday nor a public holiday of `calendar`."""
    return day.weekday() < 5 and day not in _holiday_calendar(calendar)


def add_months_clamped(day: date, months: int) -> date:
    """The same calendar date `months` later, or the last day of that month if it does not exist.

    Reg. 1182/71 Art. 3(2)(c): 31 Jan + 1 month is 28 (29) Feb, never 3 March.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def roll_forward(day: date, calendar: str) -> date:
    """The day itself if it is a working day, else the next working day (Reg. 1182/71 Art. 3(4))."""
    while not is_working_day(day, calendar):
        day += timedelta(days=1)
    return day


def identity_pause_days(asked_on: date | None, arrived_on: date | None) -> int:
    """Days the clock stands still while identity information the controller reasonably asked for is awaited.

    The period runs from receipt until the day the controller asked (Art. 12(6)), stands still, and resumes
    on the day the information arrived: the pause is the number of days from asking to arrival. Nothing was
    asked, or nothing has arrived yet: no pause is counted (an open pause is shown by the caller, never
    guessed here).

    Raises:
        InputError: the information arrived before it was asked for.
    """
    if asked_on is None or arrived_on is None:
        return 0
    if arrived_on < asked_on:
        raise InputError(
            "identity information cannot arrive before it was asked for; check --received-at and the date "
            "recorded by `dsr request ask-identity`",
            value=arrived_on.isoformat(),
        )
    return (arrived_on - asked_on).days


def compute_deadlines(
    received: date,
    calendar: str,
    *,
    paused_days: int = 0,
    identity_asked: date | None = None,
    identity_arrived: date | None = None,
) -> Deadlines:
    """Legal dates for a request received on `received` (the day of receipt anchors the period).

    Args:
        received: the calendar date of receipt in the controller's timezone, working day or not.
        calendar: holiday calendar code, for example `GB-ENG` or `DE`.
        paused_days: days the clock stood still for another recorded reason; added to the identity pause.
        identity_asked: the day the controller asked for identity information (reasonable doubt only).
        identity_arrived: the day that information arrived; the period is counted from `received` plus
            the days between the two (`identity_pause_days`).

    Returns:
        Due date (one month, clamped, then rolled to a working day only if the final day is not one),
        the internal 28-day target (never after the due date), and the extended due date (three months
        from receipt, Art. 12(3) second sentence, same clamp and roll).
    """
    if paused_days < 0:
        raise InputError(f"paused_days must be >= 0, got {paused_days}", value=paused_days)
    if not FIRST_SUPPORTED <= received <= LAST_SUPPORTED:
        raise InputError(
            f"the date of receipt must lie between {FIRST_SUPPORTED.isoformat()} and {LAST_SUPPORTED.isoformat()}",
            value=received.isoformat(),
        )
    paused_days += identity_pause_days(identity_asked, identity_arrived)
    anchor = received + timedelta(days=paused_days)
    due = roll_forward(add_months_clamped(anchor, 1), calendar)
    extended = roll_forward(add_months_clamped(anchor, 3), calendar)
    target = min(anchor + INTERNAL_TARGET, due)
    return Deadlines(
        received=received,
        due=due,
        target=target,
        extended_due=extended,
        calendar=calendar.strip().upper(),
        paused_days=paused_days,
    )
