"""Whether a schedule runs at all, and why not: ``cron(0 0 30 2 ? *)`` (February has no 30th),
a year field in the past, ``at()`` before now or in a skipped hour."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from offhours.deploy.schedule._fire import Plan, next_fire_times, resolve
from offhours.deploy.schedule._forms import MAX_YEAR, MONTH_LONG, At, Cron, Schedule


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _missing_day(plan: Plan) -> str | None:
    """ "February has no 30th": the day-of-month names a day none of its months has."""
    dom = plan.cron.day_of_month
    days = sorted(plan.days) if isinstance(dom, tuple) else [dom.day] if dom.kind == "W" else []
    # The longest each month can be: February's 29th exists in leap years.
    longest = {m: calendar.monthrange(2000, m)[1] for m in plan.months}
    if not days or min(days) <= max(longest.values()):
        return None
    months = [MONTH_LONG[m - 1] for m in plan.months]
    verb = "has" if len(months) == 1 else "have"
    return f"{_and(months)} {verb} no {_or([_ordinal(d) for d in days])}"


def never_fires(schedule: Schedule) -> str | None:
    """Why ``schedule`` runs on no date it can name (1970 to 2199), or None when it runs.

    Needs no clock: ``at()`` and a year field that has passed are :func:`fires_no_more`'s.
    The reason reads after the expression: ``never fires: February has no 30th``.
    """
    if not isinstance(schedule, Cron):
        return None
    plan = Plan.of(schedule)
    if any(plan.month_days(year, month) for year in plan.years for month in plan.months):
        return None
    years = plan.years
    shown = ", ".join(map(str, years)) if len(years) <= 4 else f"{years[0]}-{years[-1]}"
    return f"never fires: {_missing_day(plan) or f'none of the dates it names is in {shown}'}"


def fires_no_more(schedule: Schedule, now: datetime, zone: ZoneInfo) -> str | None:
    """Why ``schedule``, run in ``zone``, has no fire time after ``now``; None when it has one.

    Reads after the expression: ``at(2020-01-01T00:00:00) is in the past (…)``.
    """
    structural = never_fires(schedule)
    if structural is not None:
        return structural
    if next_fire_times(schedule, now, 1, zone):
        return None
    local_now = f"{now.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"
    if isinstance(schedule, At):
        when = resolve(schedule.when, zone)
        if when is None:
            return (
                f"never fires: {schedule.when:%Y-%m-%d %H:%M} does not exist in {zone.key} "
                "(the clocks skip that hour); give another time"
            )
        return f"is in the past (now is {local_now}); give a later time, or use cron() or rate()"
    if isinstance(schedule, Cron):
        last_year = max(Plan.of(schedule).years)
        if last_year < now.astimezone(zone).year:
            return f"never fires again: its last year, {last_year}, has passed (now is {local_now})"
        if next_fire_times(schedule, now, 1, ZoneInfo("UTC")):
            return f"never fires in {zone.key}: the clocks skip every time it names there"
    if now.astimezone(UTC).year >= MAX_YEAR:
        return f"never fires again: schedules end in {MAX_YEAR}"
    return f"never fires again: its last time is before now ({local_now})"
