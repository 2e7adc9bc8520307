"""The text `offhours schedule` prints: next fire times, local and UTC, and DST notes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from offhours.deploy.schedule._fire import Plan, cron_walls, next_fire_times, resolve
from offhours.deploy.schedule._forms import MAX_YEAR, At, Cron, Rate, Schedule, ScheduleError
from offhours.deploy.schedule._grammar import render
from offhours.deploy.schedule._words import describe


def _transitions(
    zone: ZoneInfo, lo: datetime, hi: datetime
) -> list[tuple[datetime, timedelta, timedelta]]:
    """UTC offset changes in ``zone`` between two UTC instants: (instant, before, after)."""
    out: list[tuple[datetime, timedelta, timedelta]] = []

    def offset(t: datetime) -> timedelta:
        return t.astimezone(zone).utcoffset() or timedelta(0)

    day = timedelta(days=1)
    t = lo
    while t < hi:
        nxt = min(t + day, hi)
        before, after = offset(t), offset(nxt)
        if before != after:
            a, b = t, nxt  # bisect to the second: offset(a) == before, offset(b) == after
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                a, b = (mid, b) if offset(mid) == before else (a, mid)
            out.append((b.replace(microsecond=0), before, after))
        t = nxt
    return out


def _line(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    utc = moment.astimezone(UTC)
    if zone.key == "UTC":
        return f"  {utc:%a %Y-%m-%d %H:%M} UTC"
    right = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%a %Y-%m-%d %H:%M}"
    return f"  {local:%a %Y-%m-%d %H:%M} {local.tzname()}  =  {right} UTC"


def _dst_notes(
    schedule: Cron | Rate, zone: ZoneInfo, start: datetime, times: Sequence[datetime]
) -> list[str]:
    """What the clock changes between ``start`` and the last listed time do to the listing."""
    if not times:
        return []
    start_utc = start.astimezone(UTC)
    shifts: list[str] = []
    previous = start_utc.astimezone(zone)
    for moment in times:
        before, after = previous.utcoffset(), moment.utcoffset()
        changes = _transitions(zone, previous.astimezone(UTC), moment.astimezone(UTC))
        previous = moment
        if before == after or len(changes) != 1 or before is None or after is None:
            continue  # several changes between two runs cancel out, or leave nothing to say
        instant = changes[0][0]
        local = instant.astimezone(zone)
        was_named = _abbr(instant - timedelta(seconds=1), zone)
        change = f"clocks change on {local:%Y-%m-%d} ({was_named} → {local.tzname()})"
        if isinstance(schedule, Rate):
            way = "forward" if after > before else "back"
            shifts.append(
                f"{change}: rate() counts elapsed time, so local times move {way} an hour"
            )
            continue
        wall = moment.replace(tzinfo=None)
        shifts.append(
            f"{change}: {wall:%H:%M} local stays {wall:%H:%M}, which is "
            f"{moment.astimezone(UTC):%H:%M} UTC after ({wall - before:%H:%M} UTC before)"
        )
    if len(shifts) > 2:
        kept = (
            "local times move with real time"
            if isinstance(schedule, Rate)
            else ("each run keeps its local time, so its UTC time moves by an hour")
        )
        shifts = [f"clocks change {len(shifts)} times in this range: {kept}"]
    if isinstance(schedule, Cron):
        plan = Plan.of(schedule)
        for instant, before, after in _transitions(zone, start_utc, times[-1].astimezone(UTC)):
            shifts.extend(_edge_notes(plan, zone, instant.astimezone(zone).date(), before, after))
    return shifts


def _at_note(schedule: At, zone: ZoneInfo, start: datetime, times: Sequence[datetime]) -> str:
    when = resolve(schedule.when, zone)
    if when is None:
        return (
            f"{schedule.when:%Y-%m-%d %H:%M:%S} does not exist in {zone.key} (the clocks skip it): "
            "it never runs"
        )
    if not times:
        return f"its time is not after {start.astimezone(zone):%Y-%m-%d %H:%M %Z}: it does not run"
    if schedule.when.replace(tzinfo=zone, fold=1).utcoffset() != when.utcoffset():
        return (
            f"{schedule.when:%H:%M:%S} happens twice that day in {zone.key}: it runs once, "
            f"at the first ({when.tzname()})"
        )
    return "a one-time schedule: it runs once"


def _abbr(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).tzname() or "?"


def _edge_notes(
    plan: Plan, zone: ZoneInfo, day: date, before: timedelta, after: timedelta
) -> list[str]:
    """Notes for runs on a change day that the clocks skip or repeat."""
    notes = []
    for wall in cron_walls(plan, day):
        if wall.date() != day:
            break
        aware = resolve(wall, zone)
        if aware is None:
            notes.append(f"{wall:%Y-%m-%d %H:%M} does not exist in {zone.key}: that run is skipped")
        elif after < before and wall.replace(tzinfo=zone, fold=1).utcoffset() != aware.utcoffset():
            notes.append(
                f"{wall:%Y-%m-%d %H:%M} happens twice in {zone.key}: it runs once, at "
                f"{wall:%H:%M} {aware.tzname()} ({aware.astimezone(UTC):%H:%M} UTC)"
            )
    return notes


def _rule_warning(
    schedule: Schedule, zone: ZoneInfo, start: datetime, times: Sequence[datetime]
) -> str | None:
    """The drift of a UTC rule against local time, if ``zone`` changes its clocks within a year."""
    if not isinstance(schedule, Cron) or not times or zone.key == "UTC":
        return None
    first = times[0].astimezone(UTC)
    changes = _transitions(zone, first, first + timedelta(days=366))
    if not changes:
        return None
    instant, _, after = changes[0]
    utc_time = first.astimezone(UTC)
    then = (utc_time.replace(tzinfo=None) + after).strftime("%H:%M")
    now_local = first.astimezone(zone)
    return (
        f"warning: classic EventBridge rules run in UTC: {utc_time:%H:%M} UTC is "
        f"{now_local:%H:%M} {now_local.tzname()}, but {then} {instant.astimezone(zone).tzname()} "
        f"after clocks change on {instant.astimezone(zone):%Y-%m-%d}; use EventBridge Scheduler "
        f"with a time zone to keep local time"
    )


def format_fire_times(
    schedule: Schedule,
    zone: ZoneInfo,
    start: datetime,
    count: int,
    *,
    scheduler: Literal["scheduler", "rule"] = "scheduler",
) -> str:
    """The text ``offhours schedule`` prints: description, next fire times, DST notes.

    ``scheduler="scheduler"`` evaluates in ``zone`` (EventBridge Scheduler with a time zone);
    ``"rule"`` evaluates in UTC (a classic rule) and shows local times in ``zone``.
    """
    if scheduler == "rule" and schedule.requires_scheduler:
        raise ScheduleError(
            render(schedule), "at() needs EventBridge Scheduler; a classic rule cannot run it"
        )
    evaluate_in = zone if scheduler == "scheduler" else ZoneInfo("UTC")
    times = next_fire_times(schedule, start, count, evaluate_in)
    where = zone.key if scheduler == "scheduler" else "UTC, classic EventBridge rule"
    lines = [f"{render(schedule)}: {describe(schedule)} ({where})"]
    if times:
        lines.append(f"next {len(times)} fire time{'s' if len(times) != 1 else ''}:")
        lines.extend(_line(t, zone) for t in times)
    if isinstance(schedule, At):
        lines.append(f"note: {_at_note(schedule, evaluate_in, start, times)}")
    elif len(times) < count:
        lines.append(f"no more fire times up to the end of {MAX_YEAR}")
    if scheduler == "scheduler":
        if not isinstance(schedule, At):
            lines.extend(f"note: {n}" for n in _dst_notes(schedule, zone, start, times))
    else:
        warning = _rule_warning(schedule, zone, start, times)
        if warning:
            lines.append(warning)
    return "\n".join(lines)
