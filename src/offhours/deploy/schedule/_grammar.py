"""Parse and render EventBridge expressions; errors name the field and the fix."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from types import MappingProxyType

from offhours.deploy.schedule._forms import (
    DOM,
    DOW,
    DOW_ABBR,
    EXAMPLES,
    FIELD_NAMES,
    FIELDS,
    NO_VALUE,
    UNITS,
    At,
    Cron,
    DayRule,
    Field,
    Part,
    Rate,
    Schedule,
    ScheduleError,
    Values,
)


class _FieldError(Exception):
    """A problem inside one field; turned into a ScheduleError with the field's position."""

    def __init__(self, detail: str, offset: int = 0, length: int = 0) -> None:
        super().__init__(detail)
        self.detail = detail
        self.offset = offset
        self.length = length


def _wrapped_list(field: Field, start: int, end: int) -> str:
    def span(a: int, b: int) -> str:
        return field.show(a) if a == b else f"{field.show(a)}-{field.show(b)}"

    return f"{span(start, field.hi)},{span(field.lo, end)}"


def _misplaced(text: str, field: Field) -> str | None:
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


def _value(text: str, field: Field, offset: int) -> int:
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


def _item(text: str, field: Field, offset: int) -> Part:
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


def _values(text: str, field: Field) -> Values:
    parts: list[Part] = []
    offset = 0
    for piece in text.split(","):
        parts.append(_item(piece, field, offset))
        offset += len(piece) + 1
    return tuple(parts)


def _day_of_month(text: str) -> Values | DayRule:
    upper = text.upper()
    if upper == "?":
        return NO_VALUE
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
        return DayRule("W", _value(text[:-1], DOM, 0))
    return _values(text, DOM)


def _day_of_week(text: str) -> Values | DayRule:
    upper = text.upper()
    if upper == "?":
        return NO_VALUE
    if upper == "L":
        return DayRule("L")
    if "," in text and upper.count("#") > 1:
        raise _FieldError(f'"{text}": only one "#" value is allowed in an expression', 0, len(text))
    if match := re.fullmatch(r"(\w+?)#(\w*)", text):
        day = _value(match[1], DOW, 0)
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
        return DayRule("nL", _value(text[: len(match[1])], DOW, 0))
    return _values(text, DOW)


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
    for field, (text, offset) in zip(FIELDS, tokens, strict=True):
        try:
            if field is DOM:
                parsed.append(_day_of_month(text))
            elif field is DOW:
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
    dom_free, dow_free = dom == NO_VALUE, dow == NO_VALUE
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
    names = {n: i for i, n in enumerate(DOW_ABBR)}
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
        DOW_ABBR[a - 1] if a == b else f"{DOW_ABBR[a - 1]}-{DOW_ABBR[b - 1]}" for a, b in runs
    )


def _field_count_hint(fields: Sequence[str]) -> str:
    count = len(fields)
    need = f"EventBridge cron() takes six fields ({FIELD_NAMES})"
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
        return f"{expr} is not an EventBridge expression; write e.g. {EXAMPLES}"
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
    return f"not an EventBridge schedule expression; write e.g. {EXAMPLES}"


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
    if unit not in UNITS:
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
    rate = Rate(value, UNITS[unit])
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
        raise ScheduleError(expr, f"empty schedule expression; write e.g. {EXAMPLES}")
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


def _render_part(part: Part, field: Field) -> str:
    if part.start is None:
        text = "*"
    elif part.end is None:
        text = field.show(part.start)
    else:
        text = f"{field.show(part.start)}-{field.show(part.end)}"
    return text if part.step is None else f"{text}/{part.step}"


def _render_field(value: Values | DayRule, field: Field) -> str:
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
        "cron(" + " ".join(_render_field(v, f) for v, f in zip(fields, FIELDS, strict=True)) + ")"
    )
