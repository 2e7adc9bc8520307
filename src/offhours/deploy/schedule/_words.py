"""Schedules in plain English."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from offhours.deploy.schedule._fire import expand
from offhours.deploy.schedule._forms import (
    DOM,
    DOW,
    DOW_LONG,
    HOURS,
    MINUTES,
    MONTH,
    MONTH_LONG,
    ORDINAL,
    YEAR,
    At,
    Cron,
    DayRule,
    Field,
    Part,
    Rate,
    Schedule,
    Values,
)


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _singles(values: Values) -> list[int] | None:
    """The values when every item is a plain number, else None."""
    if all(p.start is not None and p.end is None and p.step is None for p in values):
        return [p.start for p in values if p.start is not None]
    return None


def _every(step: int | None, unit: str) -> str:
    return f"every {unit}" if step in (None, 1) else f"every {step} {unit}s"


def _part_phrase(part: Part, field: Field, unit: str, show: Callable[[int], str]) -> str:
    """One item in words, e.g. "every 10 minutes from minute 10 through minute 50"."""
    if part.start is None:
        return _every(part.step, unit)
    if part.step is None:
        if part.end is None:
            return show(part.start)
        return f"{show(part.start)} through {show(part.end)}"
    if part.start == field.lo and part.end is None:
        return _every(part.step, unit)
    tail = "" if part.end is None else f" through {show(part.end)}"
    return f"{_every(part.step, unit)} from {show(part.start)}{tail}"


def _describe_time(cron: Cron) -> str:
    minutes, hours = _singles(cron.minutes), _singles(cron.hours)
    if minutes is not None and hours is not None and len(minutes) * len(hours) <= 12:
        return "at " + _join([f"{h:02d}:{m:02d}" for h in sorted(hours) for m in sorted(minutes)])
    every_hour = cron.hours == (Part(None),)
    hour_words = [
        f"between {p.start:02d}:00 and {p.start if p.end is None else p.end:02d}:59"
        if p.step is None and p.start is not None
        else _part_phrase(p, HOURS, "hour", lambda h: f"{h:02d}:00")
        for p in cron.hours
    ]
    if minutes is None:
        minute_text = _join([_minute_phrase(p) for p in cron.minutes])
        return minute_text if every_hour else f"{minute_text}, {_join(hour_words)}"
    said = f"minute{'s' if len(minutes) > 1 else ''} {_join([str(m) for m in sorted(minutes)])}"
    if every_hour:
        return f"every hour at {said}"
    if all(p.step is None for p in cron.hours):
        return f"at {said} of every hour {_join(hour_words)}"
    return f"at {said}, {_join(hour_words)}"


def _minute_phrase(part: Part) -> str:
    if part.start is not None and part.end is not None and part.step is None:
        return f"every minute from minute {part.start} through minute {part.end}"
    return _part_phrase(part, MINUTES, "minute", lambda m: f"minute {m}")


def _describe_days(cron: Cron) -> str:
    dom, dow = cron.day_of_month, cron.day_of_week
    if isinstance(dom, DayRule) and dom.kind != "?":
        return {
            "L": "on the last day of the month",
            "LW": "on the last weekday (Monday to Friday) of the month",
        }.get(dom.kind, f"on the weekday (Monday to Friday) nearest day {dom.day} of the month")
    if isinstance(dom, tuple):
        if dom == (Part(None),):
            return "every day"
        days = _singles(dom)
        if days is not None:
            return (
                f"on day{'s' if len(days) > 1 else ''} {_join([str(d) for d in days])} of the month"
            )
        if len(dom) == 1 and dom[0].step is None and dom[0].end is not None:
            return f"on days {dom[0].start} through {dom[0].end} of the month"
        listed = sorted(expand(dom, DOM))
        if len(listed) > 8:
            shown = ", ".join(str(d) for d in listed[:3]) + f" … {listed[-1]}"
        else:
            shown = _join([str(d) for d in listed])
        return f"on days {shown} of the month"
    if isinstance(dow, DayRule):
        if dow.kind == "L":
            return "on Saturday (the last day of the week)"
        if dow.kind == "nL":
            return f"on the last {DOW_LONG[dow.day - 1]} of the month"
        return f"on the {ORDINAL[dow.nth - 1]} {DOW_LONG[dow.day - 1]} of the month"
    if expand(dow, DOW) == frozenset(range(1, 8)):
        return "every day"
    only = dow[0]
    if len(dow) == 1 and only.start is not None and only.end is not None:
        return f"{DOW_LONG[only.start - 1]} through {DOW_LONG[only.end - 1]}"
    return "on " + _join([_part_phrase(p, DOW, "day", lambda d: DOW_LONG[d - 1]) for p in dow])


def _describe_months(cron: Cron) -> str:
    if cron.month == (Part(None),):
        return ""
    return _in(_part_phrase(p, MONTH, "month", lambda m: MONTH_LONG[m - 1]) for p in cron.month)


def _describe_years(cron: Cron) -> str:
    if cron.year == (Part(None),):
        return ""
    return _in(_part_phrase(p, YEAR, "year", str) for p in cron.year)


def _in(words: Iterable[str]) -> str:
    text = _join(list(words))
    return text if text.startswith("every") else f"in {text}"


def describe(schedule: Schedule) -> str:
    """Plain English, e.g. ``cron(0 17 ? * MON-FRI *)`` → "at 17:00, Monday through Friday"."""
    if isinstance(schedule, Rate):
        return _every(schedule.value, schedule.unit)
    if isinstance(schedule, At):
        return f"once, at {schedule.when:%H:%M:%S} on {schedule.when:%A %Y-%m-%d}"
    words = [
        _describe_time(schedule),
        _describe_days(schedule),
        _describe_months(schedule),
        _describe_years(schedule),
    ]
    return ", ".join(w for w in words if w)
