"""The parsed forms of a schedule expression and the cron fields' vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal, TypeAlias

MAX_YEAR = 2199  # the last year a cron() year field accepts; searches stop there
_MAX_SHOWN = 100  # longest expression quoted in full in an error message

DOW_ABBR = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1 = SUN … 7 = SAT
DOW_LONG = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Spelled out: calendar.month_abbr follows the process locale, EventBridge does not.
MONTH_ABBR = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTH_LONG = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
ORDINAL = ("first", "second", "third", "fourth", "fifth")
UNITS: Mapping[str, Literal["minute", "hour", "day"]] = MappingProxyType(
    {"minute": "minute", "hour": "hour", "day": "day"}
)
EXAMPLES = "cron(0 17 ? * MON-FRI *), rate(1 hour) or at(2026-11-30T17:00:00)"


class ScheduleError(ValueError):
    """An expression EventBridge would refuse.

    ``str()`` is ``<expression>: <detail>``; ``field`` names the cron field at fault (or None)
    and ``position``/``length`` locate the bad text within ``expression``, for :meth:`pointer`.
    """

    def __init__(
        self,
        expression: str,
        detail: str,
        *,
        field: str | None = None,
        position: int | None = None,
        length: int = 1,
    ) -> None:
        shown = expression if len(expression) <= _MAX_SHOWN else expression[: _MAX_SHOWN - 1] + "…"
        super().__init__(f"{shown}: {detail}" if shown else detail)
        self.expression = expression
        self.detail = detail
        self.field = field
        self.position = position if position is not None and position < len(shown) else None
        self.length = max(1, length)

    def pointer(self) -> str:
        """The expression with a caret line under the bad text (just the expression if unknown)."""
        if self.position is None:
            return self.expression
        return f"{self.expression}\n{' ' * self.position}{'^' * self.length}"


# ---------------------------------------------------------------- the parsed forms


@dataclass(frozen=True)
class Part:
    """One comma-separated item of a cron field: ``*``, ``N``, ``A-B``, each optionally ``/step``.

    ``start`` is None for ``*``; ``end`` is None unless the item is a range.
    """

    start: int | None
    end: int | None = None
    step: int | None = None


Values: TypeAlias = tuple[Part, ...]


@dataclass(frozen=True)
class DayRule:
    """A day-field token that stands alone in its field.

    day-of-month: ``?`` (no value), ``L`` (last day), ``LW`` (last weekday), ``W`` with ``day``
    (the weekday nearest that day). day-of-week: ``?``, ``L`` (Saturday), ``nL`` with ``day``
    (the last such weekday of the month), ``#`` with ``day`` and ``nth`` (``3#2`` = 2nd Tuesday).
    Weekdays count 1 = SUN … 7 = SAT.
    """

    kind: Literal["?", "L", "LW", "W", "nL", "#"]
    day: int = 0
    nth: int = 0


NO_VALUE = DayRule("?")


@dataclass(frozen=True)
class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)``."""

    minutes: Values
    hours: Values
    day_of_month: Values | DayRule
    month: Values
    day_of_week: Values | DayRule
    year: Values

    @property
    def requires_scheduler(self) -> bool:
        return False


@dataclass(frozen=True)
class Rate:
    """``rate(value unit)``: every ``value`` minutes, hours or days of elapsed time."""

    value: int
    unit: Literal["minute", "hour", "day"]

    @property
    def interval(self) -> timedelta:
        return timedelta(**{self.unit + "s": self.value})

    @property
    def requires_scheduler(self) -> bool:
        return False


@dataclass(frozen=True)
class At:
    """``at(yyyy-mm-ddThh:mm:ss)``: once, at a wall-clock time in the schedule's zone (naive)."""

    when: datetime

    @property
    def requires_scheduler(self) -> bool:
        # Classic EventBridge rules have no one-time schedules.
        return True


Schedule: TypeAlias = Cron | Rate | At


def requires_scheduler(schedule: Schedule) -> bool:
    """True when only EventBridge Scheduler (not a classic rule) can run ``schedule``."""
    return schedule.requires_scheduler


# ---------------------------------------------------------------- fields


@dataclass(frozen=True)
class Field:
    number: int
    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()  # value lo + i is names[i]
    steps: bool = True
    range_text: str = ""

    def lookup(self) -> Mapping[str, int]:
        return MappingProxyType({n: self.lo + i for i, n in enumerate(self.names)})

    def show(self, value: int) -> str:
        # Weekdays are rendered by name: "1" means SUN here but MON in unix cron.
        return self.names[value - self.lo] if self.number == 5 else str(value)


MINUTES = Field(1, "minutes", 0, 59, range_text="0-59")
HOURS = Field(2, "hours", 0, 23, range_text="0-23")
DOM = Field(3, "day-of-month", 1, 31, range_text="1-31")
MONTH = Field(4, "month", 1, 12, MONTH_ABBR, range_text="1-12 or JAN-DEC")
DOW = Field(5, "day-of-week", 1, 7, DOW_ABBR, steps=False, range_text="1-7 (1 = SUN) or SUN-SAT")
YEAR = Field(6, "year", 1970, MAX_YEAR, range_text=f"1970-{MAX_YEAR}")
FIELDS = (MINUTES, HOURS, DOM, MONTH, DOW, YEAR)
FIELD_NAMES = "minutes hours day-of-month month day-of-week year"
