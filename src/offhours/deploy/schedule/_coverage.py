"""A deployment's schedule against its business hours (pure; ``now`` is a parameter).

A run inside business hours finds nothing to flag; an off-hours period (from closing to the
next opening, weekends and holidays included) in which no run falls is never checked. Either is
usually a zone mistake: the classic UTC rule ``cron(0 18-23 ? * MON-FRI *)`` fires 13:00-18:00
in New York. The sample is the next 14 days, and 14 days from the next clock change of either
zone within a year (both sides of daylight saving time).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from offhours.deploy.schedule._fire import Plan, _fires_until, cron_walls, expand, resolve
from offhours.deploy.schedule._forms import HOURS, At, Cron, Rate, Schedule
from offhours.deploy.schedule._listing import _transitions
from offhours.hours import DAY_ABBR, BusinessHours, format_days, format_schedule

SAMPLE_DAYS = 14
#: off-hours shorter than this (a lunch break between two windows) need no run of their own
BREAK = timedelta(hours=4)
_MAX_TIMES = 6  # local times listed one by one; more are given as a range
_MAX_PERIODS = 4  # unchecked periods listed; more are counted


@dataclass(frozen=True)
class Sample:
    """What a schedule does over ``[start, end)`` against business hours (times in UTC)."""

    start: datetime
    end: datetime
    runs: tuple[datetime, ...]
    inside: tuple[datetime, ...]
    #: the off-hours periods wholly inside the sample (breaks aside), and whether a run falls
    #: in each
    periods: tuple[tuple[datetime, datetime, bool], ...]

    @property
    def unchecked(self) -> list[tuple[datetime, datetime]]:
        return [(a, b) for a, b, checked in self.periods if not checked]


def _runs(schedule: Schedule, zone: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """Fire times in ``(lo, hi]``, in UTC. A cron's walls are walked once (an every-minute
    cron has 20,160 runs in 14 days)."""
    if not isinstance(schedule, Cron):
        yield from (t.astimezone(UTC) for t in _fires_until(schedule, lo, hi, zone))
        return
    for wall in cron_walls(Plan.of(schedule), lo.astimezone(zone).date()):
        aware = resolve(wall, zone)
        if aware is None:
            continue  # skipped by the clocks
        moment = aware.astimezone(UTC)
        if moment > hi:
            return
        if moment > lo:
            yield moment


def sample(
    schedule: Schedule, zone: ZoneInfo, hours: BusinessHours, start: datetime, end: datetime
) -> Sample:
    """The runs of ``schedule`` (evaluated in ``zone``) after ``start`` up to ``end``, those
    inside ``hours``, and ``hours``' off-hours periods between the two with or without a run."""
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    runs = tuple(_runs(schedule, zone, lo, hi))
    opened = hours.open_intervals(lo, hi)
    starts = [a for a, _ in opened]

    def is_open(t: datetime) -> bool:
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < opened[i][1]

    periods = []
    for (_, closing), (opening, _) in pairwise(opened):
        if lo <= closing and opening <= hi and opening - closing >= BREAK:
            i = bisect.bisect_left(runs, closing)
            periods.append((closing, opening, i < len(runs) and runs[i] < opening))
    return Sample(lo, hi, runs, tuple(t for t in runs if is_open(t)), tuple(periods))


def _around_the_clock(schedule: Schedule) -> bool:
    """Runs every hour of its days (``rate()``, ``cron(0 * …)``): runs inside business hours
    are then meant, not a mistake."""
    if isinstance(schedule, Rate):
        return True
    return isinstance(schedule, Cron) and expand(schedule.hours, HOURS) == frozenset(range(24))


def _times(moments: Sequence[datetime], zone: ZoneInfo) -> str:
    shown = sorted({f"{t.astimezone(zone):%H:%M}" for t in moments})
    if len(shown) > _MAX_TIMES:
        return f"between {shown[0]} and {shown[-1]}"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _periods(periods: Sequence[tuple[datetime, datetime]], hours: BusinessHours) -> str:
    """``Mon-Thu 18:00 – 08:00; Fri 18:00 – Mon 08:00``: one item per weekly pattern (by the
    weekdays it starts on: a window belongs to the day it starts on); a period that a holiday
    lengthens is dated."""
    zone = hours.zone
    weekly: dict[tuple[str, int, str], set[int]] = {}
    dated = []
    for first, last in periods:
        a, b = first.astimezone(zone), last.astimezone(zone)
        span = (b.date() - a.date()).days
        if any(hours.holidays.holiday_name(a.date() + timedelta(days=d)) for d in range(span + 1)):
            dated.append(f"{a:%a %Y-%m-%d %H:%M} – {b:%a %Y-%m-%d %H:%M}")
        else:
            weekly.setdefault((f"{a:%H:%M}", span, f"{b:%H:%M}"), set()).add(a.weekday())
    items = []
    for (start, span, end), days in sorted(weekly.items(), key=lambda item: min(item[1])):
        if span <= 1:  # overnight: "Mon-Thu 18:00 – 08:00"
            items.append(f"{format_days(frozenset(days))} {start} – {end}")
        else:
            items.extend(
                f"{DAY_ABBR[d]} {start} – {DAY_ABBR[(d + span) % 7]} {end}" for d in sorted(days)
            )
    items += sorted(set(dated))
    more = len(items) - _MAX_PERIODS
    return "; ".join(items[:_MAX_PERIODS]) + (f"; and {more} more" if more > 0 else "")


def _samples(
    schedule: Schedule, zone: ZoneInfo, hours: BusinessHours, now: datetime, days: int
) -> list[Sample]:
    span = timedelta(days=days)
    start = now.astimezone(UTC)
    out = [sample(schedule, zone, hours, start, start + span)]
    year = start + timedelta(days=366)
    changes = [t for z in {zone, hours.zone} for t, _, _ in _transitions(z, start + span, year)]
    if changes:
        change = min(changes)
        out.append(sample(schedule, zone, hours, change, change + span))
    return out


def coverage_warnings(
    schedule: Schedule,
    zone: ZoneInfo,
    hours: BusinessHours,
    now: datetime,
    *,
    days: int = SAMPLE_DAYS,
) -> list[str]:
    """What is wrong with running ``schedule`` in ``zone`` (UTC for a classic rule) against
    ``hours``, each a sentence; empty when every run falls outside business hours (or the
    schedule runs around the clock) and every off-hours period has a run."""
    if hours.always_open or not hours.rules or hours.open_all_week:
        return []  # nothing is ever off-hours, or everything always is: nothing to compare
    hz = hours.zone
    samples = _samples(schedule, zone, hours, now, days)
    runs = [t for s in samples for t in s.runs]
    inside = [t for s in samples for t in s.inside]
    where = f"the next {days} days"
    if len(samples) > 1:
        where += f", and {days} from the clock change on {samples[1].start.astimezone(hz):%Y-%m-%d}"
    shown = f"{format_schedule(hours)}"
    if not runs:
        return [f"it does not run in {where}: no off-hours are checked"]
    out = []
    if isinstance(schedule, At):
        if inside:
            out.append(
                f"its one run, {inside[0].astimezone(hz):%Y-%m-%d %H:%M} {hz.key}, falls inside "
                f"business hours ({shown}), when nothing is flagged"
            )
        return out
    if inside and not _around_the_clock(schedule):
        out.append(
            f"{len(inside)} of {len(runs)} runs ({where}) fall inside business hours "
            f"({shown}), when nothing is flagged: at {_times(inside, hz)} {hz.key}"
        )
    periods = [p for s in samples for p in s.periods]
    unchecked = [(a, b) for s in samples for a, b in s.unchecked]
    if periods and len(unchecked) == len(periods):
        out.append(f"no run ({where}) falls outside business hours: nothing is checked")
    elif unchecked:
        out.append(
            f"no run falls in the off-hours {_periods(unchecked, hours)} ({hz.key}; {where}): "
            "what runs only then is never reported"
        )
    return out
