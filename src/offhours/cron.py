"""EventBridge schedule expressions ``cron()``, ``rate()``, ``at()``: validate, evaluate, describe.

Pure: nothing here calls AWS or reads the clock (the instant to count from is a parameter).
AWS test doubles validate none of this, so every expression is checked here before use.

Grammar, as EventBridge accepts it::

    cron(Minutes Hours Day-of-month Month Day-of-week Year)
        1 minutes       0-59                  , - * /
        2 hours         0-23                  , - * /
        3 day-of-month  1-31                  , - * ? /   L  LW  15W      (these stand alone)
        4 month         1-12 or JAN-DEC       , - * /
        5 day-of-week   1-7 = SUN-SAT         , - * ?     L  6L  3#2      (these stand alone)
        6 year          1970-2199             , - * /
        exactly one of day-of-month / day-of-week is "?"; at most one "#"
    rate(1 minute | N minutes | 1 hour | N hours | 1 day | N days)        N a positive integer
    at(yyyy-mm-ddThh:mm:ss)                 EventBridge Scheduler only (not classic rules)

Where the AWS documentation is silent the parser takes the safe side: it refuses what EventBridge
might refuse and names a form it certainly accepts.

- Ranges do not wrap around: ``FRI-MON`` is refused with the list that means it
  (``FRI-SAT,SUN-MON``), ``22-2`` hours with ``22-23,0-2``.
- A step runs from 1 to the field's span (``0/59`` minutes, ``1/30`` days, ``*/11`` months); a
  larger one would select its start value only.
- ``L``, ``LW``, ``15W``, ``6L`` and ``3#2`` stand alone in their field, as in Quartz (where the
  syntax comes from); ``L-3`` is not accepted. ``L`` alone in day-of-week means Saturday.
- ``nW`` never leaves its month (``1W`` on a Saturday is Monday the 3rd); in a month without day
  n (``31W`` in April) it does not run, like a plain ``31``.
- Names are case-insensitive; whitespace around the expression and between fields is tolerated.
  :func:`render` gives the canonical text, which is what should be sent to AWS.

Evaluation follows EventBridge Scheduler with ``ScheduleExpressionTimezone``: cron fields are
wall-clock times in the zone; a time the clocks skip (spring forward) does not run; a time the
clocks repeat (fall back) runs once, at its first occurrence; ``rate()`` counts real elapsed time
from the start, the first run one interval after it. Classic EventBridge rules are the same
evaluation in UTC. Searches stop at the end of 2199, the last year a cron() can name.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo

__all__ = [
    "MAX_YEAR",
    "At",
    "Cron",
    "DayRule",
    "Part",
    "Rate",
    "Schedule",
    "ScheduleError",
    "describe",
    "format_fire_times",
    "next_fire_times",
    "parse_schedule_expression",
    "render",
    "requires_scheduler",
]

MAX_YEAR = 2199  # the last year a cron() year field accepts; searches stop there
_MAX_SHOWN = 100  # longest expression quoted in full in an error message

_DOW_ABBR = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1 = SUN … 7 = SAT
_DOW_LONG = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Spelled out: calendar.month_abbr follows the process locale, EventBridge does not.
_MONTH_ABBR = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_LONG = (
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
_ORDINAL = ("first", "second", "third", "fourth", "fifth")
_UNITS: Mapping[str, Literal["minute", "hour", "day"]] = MappingProxyType(
    {"minute": "minute", "hour": "hour", "day": "day"}
)
_EXAMPLES = "cron(0 17 ? * MON-FRI *), rate(1 hour) or at(2026-11-30T17:00:00)"


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


_NO_VALUE = DayRule("?")


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
class _Field:
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


_MINUTES = _Field(1, "minutes", 0, 59, range_text="0-59")
_HOURS = _Field(2, "hours", 0, 23, range_text="0-23")
_DOM = _Field(3, "day-of-month", 1, 31, range_text="1-31")
_MONTH = _Field(4, "month", 1, 12, _MONTH_ABBR, range_text="1-12 or JAN-DEC")
_DOW = _Field(5, "day-of-week", 1, 7, _DOW_ABBR, steps=False, range_text="1-7 (1 = SUN) or SUN-SAT")
_YEAR = _Field(6, "year", 1970, MAX_YEAR, range_text=f"1970-{MAX_YEAR}")
_FIELDS = (_MINUTES, _HOURS, _DOM, _MONTH, _DOW, _YEAR)
_FIELD_NAMES = "minutes hours day-of-month month day-of-week year"


class _FieldError(Exception):
    """A problem inside one field; turned into a ScheduleError with the field's position."""

    def __init__(self, detail: str, offset: int = 0, length: int = 0) -> None:
        super().__init__(detail)
        self.detail = detail
        self.offset = offset
        self.length = length


def _wrapped_list(field: _Field, start: int, end: int) -> str:
    def span(a: int, b: int) -> str:
        return field.show(a) if a == b else f"{field.show(a)}-{field.show(b)}"

    return f"{span(start, field.hi)},{span(field.lo, end)}"


def _misplaced(text: str, field: _Field) -> str | None:
    """Explain a day token used in the wrong field or inside a list, if ``text`` is one."""
    upper = text.upper()
    if "?" in upper:
        if field.number in (3, 5):
            return '"?" stands alone in its field'
        return '"?" is only allowed in day-of-month and day-of-week'
    if "#" in upper:
        if field.number == 5:
            return '"#" stands alone in day-of-week (e.g. 3#2 = second Tuesday)'
        return '"#" is only allowed in day-of-week (e.g. 3#2 = second Tuesday)'
    if re.fullmatch(r"\d*L?W", upper) or upper == "LW":
        if field.number == 3:
            return f'"{text}" stands alone in day-of-month'
        return '"W" (nearest weekday) is only allowed in day-of-month (e.g. 15W)'
    if re.fullmatch(r"(\d+|[A-Z]{3})?L(-\d+)?", upper):
        if field.number in (3, 5):
            return f'"{text}" stands alone in {field.name}'
        return '"L" (last) is only allowed in day-of-month and day-of-week'
    return None


def _whole(text: str) -> int | None:
    """``text`` as a whole number if it is ASCII digits (a huge one capped: it is out of range)."""
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 12 else 10**12


def _value(text: str, field: _Field, offset: int) -> int:
    upper = text.upper()
    if not text:
        raise _FieldError("a value is missing (e.g. around a ',' '-' or '/')", offset, 1)
    value = _whole(text)
    if value is not None:
        if not field.lo <= value <= field.hi:
            hint = ""
            if field.number == 5 and value == 0:
                hint = "; EventBridge counts from 1 = SUN (unix cron's 0 = SUN is 1 here)"
            raise _FieldError(f'"{text}": out of range {field.range_text}{hint}', offset, len(text))
        return value
    found = field.lookup().get(upper)
    if found is not None:
        return found
    misplaced = _misplaced(text, field)
    if misplaced:
        raise _FieldError(misplaced, offset, len(text))
    if field.names:
        guess = field.lookup().get(upper[:3]) if upper.isalpha() and len(upper) > 3 else None
        hint = f" (did you mean {field.names[guess - field.lo]}?)" if guess else ""
        raise _FieldError(f'"{text}": not a value; use {field.range_text}{hint}', offset, len(text))
    raise _FieldError(f'"{text}": not a number; use {field.range_text}', offset, len(text))


def _item(text: str, field: _Field, offset: int) -> Part:
    base, slash, step_text = text.partition("/")
    step: int | None = None
    if slash:
        if not field.steps:
            raise _FieldError(
                f'"{text}": {field.name} takes no "/" steps; '
                "list the days instead (e.g. MON,WED,FRI)",
                offset,
                len(text),
            )
        step_offset = offset + len(base) + 1
        step = _whole(step_text)
        if step is None:
            raise _FieldError(
                f'"{text}": the step after "/" must be a whole number', step_offset, len(step_text)
            )
        span = field.hi - field.lo
        if not 1 <= step <= span:
            raise _FieldError(
                f'"{text}": step {step_text} must be 1-{span} for {field.name}',
                step_offset,
                len(step_text),
            )
    if base == "*":
        return Part(None, None, step)
    first, dash, second = base.partition("-")
    start = _value(first, field, offset)
    if not dash:
        return Part(start, None, step)
    end = _value(second, field, offset + len(first) + 1)
    if end < start:
        raise _FieldError(
            f'"{base}": the range runs backwards and EventBridge ranges do not wrap around; '
            f"write {_wrapped_list(field, start, end)}",
            offset,
            len(base),
        )
    return Part(start, end, step)


def _values(text: str, field: _Field) -> Values:
    parts: list[Part] = []
    offset = 0
    for piece in text.split(","):
        parts.append(_item(piece, field, offset))
        offset += len(piece) + 1
    return tuple(parts)


def _day_of_month(text: str) -> Values | DayRule:
    upper = text.upper()
    if upper == "?":
        return _NO_VALUE
    if upper == "L":
        return DayRule("L")
    if upper == "LW":
        return DayRule("LW")
    if match := re.fullmatch(r"L-(\d+)", upper):
        raise _FieldError(
            f'"{text}": L-{match[1]} (days before the end) is not part of EventBridge cron; '
            "use L (last day) or LW (last weekday)",
            0,
            len(text),
        )
    if re.fullmatch(r"\w+W", upper):
        return DayRule("W", _value(text[:-1], _DOM, 0))
    return _values(text, _DOM)


def _day_of_week(text: str) -> Values | DayRule:
    upper = text.upper()
    if upper == "?":
        return _NO_VALUE
    if upper == "L":
        return DayRule("L")
    if "," in text and upper.count("#") > 1:
        raise _FieldError(f'"{text}": only one "#" value is allowed in an expression', 0, len(text))
    if match := re.fullmatch(r"(\w+?)#(\w*)", text):
        day = _value(match[1], _DOW, 0)
        nth_text = match[2]
        nth = _whole(nth_text)
        if nth is None or not 1 <= nth <= 5:
            raise _FieldError(
                f'"{text}": the week after "#" must be 1-5 (e.g. 3#2 = second Tuesday)',
                len(match[1]) + 1,
                max(1, len(nth_text)),
            )
        return DayRule("#", day, nth)
    if match := re.fullmatch(r"(\w+?)L", upper):
        return DayRule("nL", _value(text[: len(match[1])], _DOW, 0))
    return _values(text, _DOW)


def _suggest_day_fields(fields: Sequence[str], dom: str, dow: str) -> str:
    def with_days(d: str, w: str) -> str:
        return "cron(" + " ".join([*fields[:2], d, fields[3], w, fields[5]]) + ")"

    if dom == "*" and dow not in ("*", "?"):
        return f"e.g. {with_days('?', dow)}"
    if dow == "*" or dom == "*":
        return f"e.g. {with_days(dom, '?')}"
    return f"choose one: {with_days(dom, '?')} or {with_days('?', dow)}"


def _parse_cron(expr: str, body: str, body_offset: int) -> Cron:
    tokens = [(m.group(), m.start()) for m in re.finditer(r"\S+", body)]
    if len(tokens) != 6:
        raise ScheduleError(expr, _field_count_hint([t for t, _ in tokens]))
    texts = [t for t, _ in tokens]
    parsed: list[Values | DayRule] = []
    for field, (text, offset) in zip(_FIELDS, tokens, strict=True):
        try:
            if field is _DOM:
                parsed.append(_day_of_month(text))
            elif field is _DOW:
                parsed.append(_day_of_week(text))
            else:
                parsed.append(_values(text, field))
        except _FieldError as exc:
            detail = exc.detail if exc.detail.startswith('"') else f'"{text}": {exc.detail}'
            raise ScheduleError(
                expr,
                f"field {field.number} ({field.name}) {detail}",
                field=field.name,
                position=body_offset + offset + exc.offset,
                length=exc.length or len(text),
            ) from None
    minutes, hours, dom, month, dow, year = parsed
    assert isinstance(minutes, tuple)
    assert isinstance(hours, tuple)
    assert isinstance(month, tuple)
    assert isinstance(year, tuple)
    dom_free, dow_free = dom == _NO_VALUE, dow == _NO_VALUE
    if dom_free and dow_free:
        raise ScheduleError(
            expr,
            'day-of-month and day-of-week cannot both be "?"; give one of them '
            f"(e.g. {_with_field(texts, 2, '*')} for every day)",
            field="day-of-month",
            position=body_offset + tokens[2][1],
        )
    if not dom_free and not dow_free:
        raise ScheduleError(
            expr,
            'day-of-month and day-of-week cannot both be given; one of them must be "?" '
            f"({_suggest_day_fields(texts, texts[2], texts[4])})",
            field="day-of-month",
            position=body_offset + tokens[2][1],
            length=tokens[4][1] + len(texts[4]) - tokens[2][1],
        )
    return Cron(minutes, hours, dom, month, dow, year)


def _with_field(texts: Sequence[str], index: int, value: str) -> str:
    return "cron(" + " ".join(value if i == index else t for i, t in enumerate(texts)) + ")"


# ---------------------------------------------------------------- hints for foreign forms


def _unix_to_aws(fields: Sequence[str]) -> str | None:
    """A 5-field unix cron as the equivalent EventBridge cron(), or None if it has none."""
    minute, hour, dom, month, dow = fields
    if dow in ("*", "?"):
        candidate = f"cron({minute} {hour} {dom} {month} ? *)"
    elif dom in ("*", "?"):
        days = _unix_days(dow)
        if days is None:
            return None
        candidate = f"cron({minute} {hour} ? {month} {_compact_days(days)} *)"
    else:
        return None
    try:
        return render(parse_schedule_expression(candidate))
    except ScheduleError:
        return None


def _unix_days(text: str) -> set[int] | None:
    """Unix day-of-week (0 or 7 = Sunday) → EventBridge days (1 = SUN … 7 = SAT)."""
    names = {n: i for i, n in enumerate(_DOW_ABBR)}
    days: set[int] = set()

    def number(t: str) -> int:
        if t.upper() in names:
            return names[t.upper()]
        if not (t.isdigit() and int(t) <= 7):
            raise ValueError(t)
        return int(t)

    try:
        for item in text.split(","):
            base, _, step_text = item.partition("/")
            step = int(step_text) if step_text else 1
            if step < 1:
                return None
            if base == "*":
                lo, hi = 0, 6
            else:
                first, dash, second = base.partition("-")
                lo = number(first)
                hi = number(second) if dash else (6 if step_text else lo)
            if hi < lo:
                return None
            days.update(d % 7 + 1 for d in range(lo, hi + 1, step))
    except ValueError:
        return None
    return days


def _compact_days(days: set[int]) -> str:
    runs: list[tuple[int, int]] = []
    for d in sorted(days):
        if runs and runs[-1][1] == d - 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return ",".join(
        _DOW_ABBR[a - 1] if a == b else f"{_DOW_ABBR[a - 1]}-{_DOW_ABBR[b - 1]}" for a, b in runs
    )


def _field_count_hint(fields: Sequence[str]) -> str:
    count = len(fields)
    need = f"EventBridge cron() takes six fields ({_FIELD_NAMES})"
    if count == 5:
        aws = _unix_to_aws(fields)
        if aws:
            return (
                f'5 fields, like unix cron; {need}, one day field "?", and counts '
                f"day-of-week 1-7 from SUN: write {aws}"
            )
        if fields[2] not in ("*", "?") and fields[4] not in ("*", "?"):
            return (
                f"5 fields, like unix cron; {need}. Unix cron runs when either day field matches; "
                "EventBridge cannot combine them: use two schedules, one per day field"
            )
        return f"5 fields, like unix cron; {need}"
    if count == 7:
        try:
            aws = render(parse_schedule_expression("cron(" + " ".join(fields[1:]) + ")"))
        except ScheduleError:
            return f"7 fields; {need} and has no seconds field"
        return f"7 fields; {need} and has no seconds field: drop the first, {aws}"
    return f"{count} field{'s' if count != 1 else ''}; {need}"


_MACROS = MappingProxyType(
    {
        "@yearly": "cron(0 0 1 1 ? *)",
        "@annually": "cron(0 0 1 1 ? *)",
        "@monthly": "cron(0 0 1 * ? *)",
        "@weekly": "cron(0 0 ? * SUN *)",
        "@daily": "cron(0 0 * * ? *)",
        "@midnight": "cron(0 0 * * ? *)",
        "@hourly": "cron(0 * * * ? *)",
    }
)


def _foreign_form(expr: str) -> str:
    """The detail for text that is not cron(), rate() or at() at all."""
    lower = expr.lower()
    if lower in _MACROS:
        return f"{expr} is a unix cron shorthand; EventBridge writes it {_MACROS[lower]}"
    if lower.startswith("@"):
        return f"{expr} is not an EventBridge expression; write e.g. {_EXAMPLES}"
    keyword, _, rest = expr.partition(" ")
    if keyword.lower() in ("cron", "rate", "at") and rest.strip():
        rest = " ".join(rest.split())
        if rest.startswith("(") and rest.endswith(")"):
            return f"no space between {keyword.lower()} and '(': write {keyword.lower()}{rest}"
        suggestion = f"{keyword.lower()}({rest})"
        return f"the fields go in parentheses: {_checked(suggestion)}"
    if match := re.fullmatch(r"(?:every\s+)?([0-9]{1,6})\s+(minute|hour|day)s?", lower):
        unit = match[2] if int(match[1]) == 1 else match[2] + "s"
        return f"write it as {_checked(f'rate({match[1]} {unit})')}"
    fields = expr.split()
    if len(fields) == 6:
        return f"a cron expression goes in cron(…): {_checked('cron(' + ' '.join(fields) + ')')}"
    if len(fields) in (5, 7):
        return _field_count_hint(fields)
    return f"not an EventBridge schedule expression; write e.g. {_EXAMPLES}"


def _checked(suggestion: str) -> str:
    """``write X`` when X parses, else X with what is still wrong in it."""
    try:
        return "write " + render(parse_schedule_expression(suggestion))
    except ScheduleError as exc:
        return f"{suggestion}, which is still wrong: {exc.detail}"


# ---------------------------------------------------------------- rate() and at()


def _parse_rate(expr: str, body: str, body_offset: int) -> Rate:
    words = body.split()
    if len(words) != 2:
        raise ScheduleError(
            expr, "rate() takes a number and a unit, e.g. rate(5 minutes) or rate(1 hour)"
        )
    number, unit_text = words
    unit = unit_text.lower().removesuffix("s")
    position = body_offset + body.index(number)
    if unit in ("second", "sec"):
        raise ScheduleError(
            expr,
            "nothing runs faster than once a minute; the fastest is rate(1 minute)",
            position=body_offset + body.index(unit_text),
            length=len(unit_text),
        )
    weeks = _whole(number)
    if unit == "week" and weeks is not None and weeks < 10**6:
        days = weeks * 7
        raise ScheduleError(
            expr,
            f"the unit must be minute(s), hour(s) or day(s): write rate({days} days)",
            position=body_offset + body.index(unit_text),
            length=len(unit_text),
        )
    if unit not in _UNITS:
        raise ScheduleError(
            expr,
            f'unit "{unit_text}": must be minute(s), hour(s) or day(s)'
            + ("; for months or years use cron()" if unit in ("month", "year") else ""),
            position=body_offset + body.index(unit_text),
            length=len(unit_text),
        )
    value = _whole(number)
    if value is None:
        hint = ""
        if re.fullmatch(r"\d*\.\d+", number) and unit != "minute":
            minutes = float(number) * (60 if unit == "hour" else 1440)
            if minutes.is_integer() and minutes >= 1:
                hint = f": write rate({int(minutes)} minutes)"
        raise ScheduleError(
            expr,
            f'"{number}": the value must be a positive whole number{hint}',
            position=position,
            length=len(number),
        )
    if value == 0:
        raise ScheduleError(
            expr,
            f'"{number}": the value must be at least 1 (the fastest is rate(1 minute))',
            position=position,
            length=len(number),
        )
    right = unit if value == 1 else unit + "s"
    if unit_text != right:
        if unit_text.lower() == right:
            why = "units are lower case"
        else:
            why = "1 takes the singular" if value == 1 else f"{value} takes the plural"
        raise ScheduleError(
            expr,
            f'"{unit_text}": {why}; write rate({value} {right})',
            position=body_offset + body.index(unit_text, len(number)),
            length=len(unit_text),
        )
    rate = Rate(value, _UNITS[unit])
    try:
        datetime(1970, 1, 1, tzinfo=UTC) + rate.interval
    except OverflowError:
        raise ScheduleError(
            expr, f'"{number}": too large', position=position, length=len(number)
        ) from None
    return rate


_AT_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")


def _parse_at(expr: str, body: str, body_offset: int) -> At:
    text = body.strip()
    position = body_offset + body.index(text) if text else body_offset
    fix = "(e.g. at(2026-11-30T17:00:00))"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ tT]\d{2}:\d{2}(:\d{2})?", text):
        fix = f"with a T and seconds: write at({text[:10]}T{text[11:16]}:{text[17:19] or '00'})"
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})", text):
        fix = (
            "without fractions or a UTC offset (it is wall-clock time in the schedule's "
            f"time zone): write at({text[:19]})"
        )
    match = _AT_RE.fullmatch(text)
    if match is None:
        raise ScheduleError(
            expr,
            f'"{text}": at() takes yyyy-mm-ddThh:mm:ss {fix}',
            position=position,
            length=len(text),
        )
    try:
        y, mo, d, h, mi, sec = (int(g) for g in match.groups())
        when = datetime(y, mo, d, h, mi, sec)
    except ValueError as exc:
        raise ScheduleError(expr, f'"{text}": {exc}', position=position, length=len(text)) from None
    return At(when)


# ---------------------------------------------------------------- parse and render


def parse_schedule_expression(text: str) -> Schedule:
    """Parse and fully validate an EventBridge schedule expression.

    Raises :class:`ScheduleError` naming the field (number and name) or position at fault and,
    where one exists, the expression to write instead.
    """
    expr = text.strip()
    if not expr:
        raise ScheduleError(expr, f"empty schedule expression; write e.g. {_EXAMPLES}")
    match = re.fullmatch(r"([A-Za-z]+)\((.*)\)", expr, re.DOTALL)
    if match is None and (tail := re.fullmatch(r"[A-Za-z]+\([^()]*\)(.+)", expr, re.DOTALL)):
        raise ScheduleError(
            expr,
            f'unexpected text after the closing parenthesis: "{tail[1].strip()}"',
            position=tail.start(1),
            length=len(tail[1]),
        )
    if match is None and (opened := re.match(r"([A-Za-z]+)\(([^()]*)$", expr)):
        raise ScheduleError(
            expr,
            f"the closing parenthesis is missing: {_checked(f'{opened[1]}({opened[2].strip()})')}",
            position=len(expr) - 1,
        )
    if match is None:
        raise ScheduleError(expr, _foreign_form(expr))
    keyword, body = match[1], match[2]
    offset = len(keyword) + 1
    if keyword == "cron":
        return _parse_cron(expr, body, offset)
    if keyword == "rate":
        return _parse_rate(expr, body, offset)
    if keyword == "at":
        return _parse_at(expr, body, offset)
    if keyword.lower() in ("cron", "rate", "at"):
        raise ScheduleError(
            expr,
            "the keyword is lower case: " + _checked(f"{keyword.lower()}({body})"),
            position=0,
            length=len(keyword),
        )
    raise ScheduleError(
        expr,
        f'"{keyword}(…)" is not an EventBridge expression; use cron(), rate() or at()',
        position=0,
        length=len(keyword),
    )


def _render_part(part: Part, field: _Field) -> str:
    if part.start is None:
        text = "*"
    elif part.end is None:
        text = field.show(part.start)
    else:
        text = f"{field.show(part.start)}-{field.show(part.end)}"
    return text if part.step is None else f"{text}/{part.step}"


def _render_field(value: Values | DayRule, field: _Field) -> str:
    if isinstance(value, tuple):
        return ",".join(_render_part(p, field) for p in value)
    if value.kind == "W":
        return f"{value.day}W"
    if value.kind == "nL":
        return f"{value.day}L"  # numeric, as AWS documents it (6L = last Friday)
    if value.kind == "#":
        return f"{value.day}#{value.nth}"
    return value.kind


def render(schedule: Schedule) -> str:
    """The canonical text of ``schedule``: one space between fields, day-of-week by name."""
    if isinstance(schedule, Rate):
        return f"rate({schedule.value} {schedule.unit}{'' if schedule.value == 1 else 's'})"
    if isinstance(schedule, At):
        return f"at({schedule.when:%Y-%m-%dT%H:%M:%S})"
    fields = (
        schedule.minutes,
        schedule.hours,
        schedule.day_of_month,
        schedule.month,
        schedule.day_of_week,
        schedule.year,
    )
    return (
        "cron(" + " ".join(_render_field(v, f) for v, f in zip(fields, _FIELDS, strict=True)) + ")"
    )


# ---------------------------------------------------------------- evaluation


def _expand(values: Values, field: _Field) -> frozenset[int]:
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
class _Plan:
    """A cron's fields expanded once for evaluation."""

    cron: Cron
    times: tuple[tuple[int, int], ...]  # (hour, minute), ascending
    months: tuple[int, ...]
    years: tuple[int, ...]
    days: frozenset[int]  # day-of-month values, or weekdays 1-7, when the field is a list

    @classmethod
    def of(cls, cron: Cron) -> _Plan:
        hours = sorted(_expand(cron.hours, _HOURS))
        minutes = sorted(_expand(cron.minutes, _MINUTES))
        if isinstance(cron.day_of_month, tuple):
            days = _expand(cron.day_of_month, _DOM)
        elif isinstance(cron.day_of_week, tuple):
            days = _expand(cron.day_of_week, _DOW)
        else:
            days = frozenset()
        return cls(
            cron,
            tuple((h, m) for h in hours for m in minutes),
            tuple(sorted(_expand(cron.month, _MONTH))),
            tuple(sorted(_expand(cron.year, _YEAR))),
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


def _resolve(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """``wall`` as an aware time in ``zone``: None in a clock gap, else its first occurrence."""
    aware = wall.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return aware


def _cron_walls(plan: _Plan, first_day: date) -> Iterator[datetime]:
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
        when = _resolve(schedule.when, zone)
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
    plan = _Plan.of(schedule)
    for wall in _cron_walls(plan, start_utc.astimezone(zone).date()):
        aware = _resolve(wall, zone)
        # In UTC: two datetimes sharing a tzinfo would compare by wall time, ignoring fold.
        if aware is None or aware.astimezone(UTC) <= start_utc:
            continue
        out.append(aware)
        if len(out) == count:
            break
    return out


# ---------------------------------------------------------------- describe


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


def _part_phrase(part: Part, field: _Field, unit: str, show: Callable[[int], str]) -> str:
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
        else _part_phrase(p, _HOURS, "hour", lambda h: f"{h:02d}:00")
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
    return _part_phrase(part, _MINUTES, "minute", lambda m: f"minute {m}")


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
        listed = sorted(_expand(dom, _DOM))
        if len(listed) > 8:
            shown = ", ".join(str(d) for d in listed[:3]) + f" … {listed[-1]}"
        else:
            shown = _join([str(d) for d in listed])
        return f"on days {shown} of the month"
    if isinstance(dow, DayRule):
        if dow.kind == "L":
            return "on Saturday (the last day of the week)"
        if dow.kind == "nL":
            return f"on the last {_DOW_LONG[dow.day - 1]} of the month"
        return f"on the {_ORDINAL[dow.nth - 1]} {_DOW_LONG[dow.day - 1]} of the month"
    if _expand(dow, _DOW) == frozenset(range(1, 8)):
        return "every day"
    only = dow[0]
    if len(dow) == 1 and only.start is not None and only.end is not None:
        return f"{_DOW_LONG[only.start - 1]} through {_DOW_LONG[only.end - 1]}"
    return "on " + _join([_part_phrase(p, _DOW, "day", lambda d: _DOW_LONG[d - 1]) for p in dow])


def _describe_months(cron: Cron) -> str:
    if cron.month == (Part(None),):
        return ""
    return _in(_part_phrase(p, _MONTH, "month", lambda m: _MONTH_LONG[m - 1]) for p in cron.month)


def _describe_years(cron: Cron) -> str:
    if cron.year == (Part(None),):
        return ""
    return _in(_part_phrase(p, _YEAR, "year", str) for p in cron.year)


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


# ---------------------------------------------------------------- the `offhours schedule` text


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
        plan = _Plan.of(schedule)
        for instant, before, after in _transitions(zone, start_utc, times[-1].astimezone(UTC)):
            shifts.extend(_edge_notes(plan, zone, instant.astimezone(zone).date(), before, after))
    return shifts


def _at_note(schedule: At, zone: ZoneInfo, start: datetime, times: Sequence[datetime]) -> str:
    when = _resolve(schedule.when, zone)
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
    plan: _Plan, zone: ZoneInfo, day: date, before: timedelta, after: timedelta
) -> list[str]:
    """Notes for runs on a change day that the clocks skip or repeat."""
    notes = []
    for wall in _cron_walls(plan, day):
        if wall.date() != day:
            break
        aware = _resolve(wall, zone)
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
