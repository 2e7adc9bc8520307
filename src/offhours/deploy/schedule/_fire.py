"""Next fire times in a zone: cron fields are wall-clock times, rate() is elapsed time."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from offhours.deploy.schedule._forms import (
    DOM,
    DOW,
    HOURS,
    MAX_YEAR,
    MINUTES,
    MONTH,
    YEAR,
    At,
    Cron,
    Field,
    Rate,
    Schedule,
    Values,
)


def expand(values: Values, field: Field) -> frozenset[int]:
    out: set[int] = set()
    for p in values:
        start = field.lo if p.start is None else p.start
        if p.end is not None:
            end = p.end
        elif p.start is None or p.step is not None:
            end = field.hi  # "*" and "5/15" run to the top of the field
        else:
            end = start
        out.update(range(start, end + 1, p.step or 1))
    return frozenset(out)


@dataclass(frozen=True)
class Plan:
    """A cron's fields expanded once for evaluation."""

    cron: Cron
    times: tuple[tuple[int, int], ...]  # (hour, minute), ascending
    months: tuple[int, ...]
    years: tuple[int, ...]
    days: frozenset[int]  # day-of-month values, or weekdays 1-7, when the field is a list

    @classmethod
    def of(cls, cron: Cron) -> Plan:
        hours = sorted(expand(cron.hours, HOURS))
        minutes = sorted(expand(cron.minutes, MINUTES))
        if isinstance(cron.day_of_month, tuple):
            days = expand(cron.day_of_month, DOM)
        elif isinstance(cron.day_of_week, tuple):
            days = expand(cron.day_of_week, DOW)
        else:
            days = frozenset()
        return cls(
            cron,
            tuple((h, m) for h in hours for m in minutes),
            tuple(sorted(expand(cron.month, MONTH))),
            tuple(sorted(expand(cron.year, YEAR))),
            days,
        )

    def month_days(self, year: int, month: int) -> list[int]:
        """The days of ``month`` on which the schedule runs, ascending."""
        length = calendar.monthrange(year, month)[1]
        first = date(year, month, 1).weekday()  # Mon = 0

        def weekday(day: int) -> int:  # 1 = SUN … 7 = SAT
            return (first + day) % 7 + 1

        def is_workday(day: int) -> bool:
            return weekday(day) not in (1, 7)

        dom, dow = self.cron.day_of_month, self.cron.day_of_week
        if isinstance(dom, tuple):
            return sorted(d for d in self.days if d <= length)
        if dom.kind == "L":
            return [length]
        if dom.kind == "LW":
            return [next(d for d in range(length, 0, -1) if is_workday(d))]
        if dom.kind == "W":
            return [] if dom.day > length else [_nearest_workday(dom.day, length, weekday)]
        # day-of-month is "?": day-of-week decides.
        if isinstance(dow, tuple):
            return [d for d in range(1, length + 1) if weekday(d) in self.days]
        if dow.kind == "L":
            return [d for d in range(1, length + 1) if weekday(d) == 7]
        if dow.kind == "nL":
            return [d for d in range(length - 6, length + 1) if weekday(d) == dow.day]
        if dow.kind == "#":
            return [
                d
                for d in range(1, length + 1)
                if weekday(d) == dow.day and (d - 1) // 7 + 1 == dow.nth
            ]
        raise AssertionError(f"unreachable: both day fields are {dom.kind!r}")


def _nearest_workday(day: int, length: int, weekday: Callable[[int], int]) -> int:
    # The weekday nearest ``day`` within the same month (Quartz's W): never crosses a month edge.
    wd = weekday(day)
    if wd == 7:  # Saturday
        return day + 2 if day == 1 else day - 1
    if wd == 1:  # Sunday
        return day - 2 if day == length else day + 1
    return day


def resolve(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """``wall`` as an aware time in ``zone``: None in a clock gap, else its first occurrence."""
    aware = wall.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return aware


def cron_walls(plan: Plan, first_day: date) -> Iterator[datetime]:
    """Every matching wall-clock time from ``first_day`` on, ascending, up to MAX_YEAR."""
    for year in plan.years:
        if year < first_day.year:
            continue
        for month in plan.months:
            if (year, month) < (first_day.year, first_day.month):
                continue
            for day in plan.month_days(year, month):
                if date(year, month, day) < first_day:
                    continue
                for hour, minute in plan.times:
                    yield datetime(year, month, day, hour, minute)


def _check_start(start: datetime, count: int) -> datetime:
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware (e.g. datetime.now(UTC))")
    if count < 0:
        raise ValueError(f"count must be 0 or more, not {count}")
    return start.astimezone(UTC)


def next_fire_times(
    schedule: Schedule, start: datetime, count: int, zone: ZoneInfo
) -> list[datetime]:
    """The next ``count`` times strictly after ``start`` at which ``schedule`` runs in ``zone``.

    Times are aware, in ``zone``. Cron fields are wall-clock times there: a time the clocks skip
    does not run, a repeated time runs at its first occurrence. ``rate()`` counts elapsed time
    from ``start``; ``at()`` gives its one time if after ``start``. Fewer than ``count`` come back
    when the schedule ends (year field, at(), or the year 2199). For classic rules, pass UTC.
    """
    start_utc = _check_start(start, count)
    out: list[datetime] = []
    if count == 0:
        return out
    if isinstance(schedule, At):
        when = resolve(schedule.when, zone)
        return [when] if when is not None and when.astimezone(UTC) > start_utc else []
    if isinstance(schedule, Rate):
        step = schedule.interval
        moment = start_utc
        while len(out) < count:
            moment += step
            if moment.year > MAX_YEAR:
                break
            out.append(moment.astimezone(zone))
        return out
    plan = Plan.of(schedule)
    for wall in cron_walls(plan, start_utc.astimezone(zone).date()):
        aware = resolve(wall, zone)
        # In UTC: two datetimes sharing a tzinfo would compare by wall time, ignoring fold.
        if aware is None or aware.astimezone(UTC) <= start_utc:
            continue
        out.append(aware)
        if len(out) == count:
            break
    return out


# How far back to look for the last fire, widening: an hourly cron is found in the first
# window, a monthly one in the third; a schedule that has not fired within ~13 months has none.
_LOOKBACK = (timedelta(hours=2), timedelta(days=2), timedelta(days=32), timedelta(days=400))


def last_fire_time(schedule: Schedule, at: datetime, zone: ZoneInfo) -> datetime | None:
    """The latest time at or before ``at`` at which ``schedule`` runs in ``zone`` (its *slot*:
    what a run at ``at`` stands for), or ``None`` when it has not run in the last ~13 months.
    ``rate()`` has no anchor of its own: its slots count from the Unix epoch."""
    at_utc = _check_start(at, 1)
    if isinstance(schedule, Rate):
        step = schedule.interval.total_seconds()
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        slots = (at_utc - epoch).total_seconds() // step
        return (epoch + timedelta(seconds=slots * step)).astimezone(zone)
    for back in _LOOKBACK:
        # Fires strictly after start, so start a second early to include a fire at `at - back`.
        start = at_utc - back - timedelta(seconds=1)
        found = None
        for fire in _fires_until(schedule, start, at_utc, zone):
            found = fire
        if found is not None:
            return found
    return None


def _fires_until(
    schedule: Schedule, start: datetime, end: datetime, zone: ZoneInfo
) -> Iterator[datetime]:
    batch = 64
    while True:
        fires = next_fire_times(schedule, start, batch, zone)
        for fire in fires:
            if fire.astimezone(UTC) > end:
                return
            yield fire
        if len(fires) < batch:
            return
        start = fires[-1]
