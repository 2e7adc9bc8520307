"""EventBridge schedule expressions: validation, fire times across DST, description, round trips."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.deploy.schedule import (
    At,
    Cron,
    DayRule,
    Part,
    Rate,
    ScheduleError,
    describe,
    format_fire_times,
    next_fire_times,
    parse_schedule_expression,
    render,
    requires_scheduler,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
STAR = (Part(None),)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def fires(expr: str, start: datetime, count: int, zone: ZoneInfo = NY) -> list[datetime]:
    return next_fire_times(parse_schedule_expression(expr), start, count, zone)


def utc_times(expr: str, start: datetime, count: int, zone: ZoneInfo = NY) -> list[str]:
    return [f"{t.astimezone(UTC):%Y-%m-%d %H:%M}" for t in fires(expr, start, count, zone)]


def local_times(expr: str, start: datetime, count: int, zone: ZoneInfo = NY) -> list[str]:
    return [f"{t:%Y-%m-%d %H:%M %Z}" for t in fires(expr, start, count, zone)]


# ---------------------------------------------------------------- valid expressions


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cron(0 17 ? * MON-FRI *)", "cron(0 17 ? * MON-FRI *)"),
        ("cron(0 17 ? * 2-6 *)", "cron(0 17 ? * MON-FRI *)"),  # 1 = SUN, so 2-6 = MON-FRI
        ("cron(0 17 ? * mon-fri *)", "cron(0 17 ? * MON-FRI *)"),
        ("  cron(0 17 ? * MON-FRI *)\n", "cron(0 17 ? * MON-FRI *)"),
        ("cron(0  17 ?\t* MON-FRI  *)", "cron(0 17 ? * MON-FRI *)"),
        ("cron(0/15 * * * ? *)", "cron(0/15 * * * ? *)"),
        ("cron(*/5 * * * ? *)", "cron(*/5 * * * ? *)"),
        ("cron(10-50/10 9-17 ? * MON-FRI *)", "cron(10-50/10 9-17 ? * MON-FRI *)"),
        ("cron(0,15,30,45 8,12 * * ? *)", "cron(0,15,30,45 8,12 * * ? *)"),
        ("cron(05 09 01 01 ? 2030)", "cron(5 9 1 1 ? 2030)"),
        ("cron(0 0 L * ? *)", "cron(0 0 L * ? *)"),
        ("cron(0 0 lw * ? *)", "cron(0 0 LW * ? *)"),
        ("cron(0 0 15W * ? *)", "cron(0 0 15W * ? *)"),
        ("cron(0 0 1W * ? *)", "cron(0 0 1W * ? *)"),
        ("cron(0 9 ? * 6L *)", "cron(0 9 ? * 6L *)"),
        ("cron(0 9 ? * FRIL *)", "cron(0 9 ? * 6L *)"),
        ("cron(0 9 ? * L *)", "cron(0 9 ? * L *)"),
        ("cron(0 12 ? * 3#2 *)", "cron(0 12 ? * 3#2 *)"),
        ("cron(0 12 ? * tue#2 *)", "cron(0 12 ? * 3#2 *)"),
        ("cron(0 12 ? * 6#5 2030-2035)", "cron(0 12 ? * 6#5 2030-2035)"),
        ("cron(0 0 29 2 ? *)", "cron(0 0 29 2 ? *)"),
        ("cron(0 0 1 JAN,jul ? *)", "cron(0 0 1 1,7 ? *)"),
        ("cron(0 0 1 JAN-MAR/2 ? *)", "cron(0 0 1 1-3/2 ? *)"),
        ("cron(0 0 1 1 ? 1970,2199)", "cron(0 0 1 1 ? 1970,2199)"),
        ("cron(0 0 1 1 ? */4)", "cron(0 0 1 1 ? */4)"),
        ("cron(0 0 ? * 1,7 *)", "cron(0 0 ? * SUN,SAT *)"),
        ("cron(0 0 ? * 1-7 *)", "cron(0 0 ? * SUN-SAT *)"),
        ("cron(0 0 ? * * *)", "cron(0 0 ? * * *)"),
        ("cron(0 0 * * ? *)", "cron(0 0 * * ? *)"),
        ("cron(59 23 31 12 ? 2199)", "cron(59 23 31 12 ? 2199)"),
        ("cron(0/59 0/23 1/30 1/11 ? 1970/229)", "cron(0/59 0/23 1/30 1/11 ? 1970/229)"),
        ("cron(5-5 * * * ? *)", "cron(5-5 * * * ? *)"),
        ("rate(1 minute)", "rate(1 minute)"),
        ("rate(5 minutes)", "rate(5 minutes)"),
        ("rate(1 hour)", "rate(1 hour)"),
        ("rate(12 hours)", "rate(12 hours)"),
        ("rate(1 day)", "rate(1 day)"),
        ("rate( 7  days )", "rate(7 days)"),
        ("at(2026-11-30T17:00:00)", "at(2026-11-30T17:00:00)"),
        ("at( 2028-02-29T00:00:00 )", "at(2028-02-29T00:00:00)"),
    ],
)
def test_valid_expressions_parse_and_render_canonically(text: str, canonical: str) -> None:
    parsed = parse_schedule_expression(text)
    assert render(parsed) == canonical
    assert parse_schedule_expression(canonical) == parsed


def test_parsed_forms() -> None:
    assert parse_schedule_expression("cron(0 17 ? * MON-FRI *)") == Cron(
        minutes=(Part(0),),
        hours=(Part(17),),
        day_of_month=DayRule("?"),
        month=STAR,
        day_of_week=(Part(2, 6),),
        year=STAR,
    )
    assert parse_schedule_expression("cron(10-50/10 */2 15W 4/3 ? 2030)") == Cron(
        (Part(10, 50, 10),),
        (Part(None, None, 2),),
        DayRule("W", 15),
        (Part(4, None, 3),),
        DayRule("?"),
        (Part(2030),),
    )
    assert parse_schedule_expression("cron(0 0 ? * 3#2 *)").day_of_week == DayRule("#", 3, 2)
    assert parse_schedule_expression("rate(5 minutes)") == Rate(5, "minute")
    assert parse_schedule_expression("at(2026-11-30T17:00:00)") == At(datetime(2026, 11, 30, 17))


def test_only_at_requires_scheduler() -> None:
    assert requires_scheduler(parse_schedule_expression("at(2026-11-30T17:00:00)"))
    assert not requires_scheduler(parse_schedule_expression("cron(0 17 ? * MON-FRI *)"))
    assert not requires_scheduler(parse_schedule_expression("rate(1 hour)"))


def test_rate_interval() -> None:
    assert Rate(90, "minute").interval == timedelta(minutes=90)
    assert Rate(2, "day").interval == timedelta(days=2)


# ---------------------------------------------------------------- invalid expressions


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        # the "?" rule
        (
            "cron(0 17 * * MON-FRI *)",
            [
                'day-of-month and day-of-week cannot both be given; one of them must be "?"',
                "e.g. cron(0 17 ? * MON-FRI *)",
            ],
        ),
        (
            "cron(0 17 15 * MON *)",
            ["cannot both be given", "cron(0 17 15 * ? *) or cron(0 17 ? * MON *)"],
        ),
        ("cron(0 17 * * * *)", ["cannot both be given", "e.g. cron(0 17 * * ? *)"]),
        ("cron(0 17 ? * ? *)", ['cannot both be "?"', "cron(0 17 * * ? *) for every day"]),
        # ranges of each field
        ("cron(60 17 ? * * *)", ['field 1 (minutes) "60": out of range 0-59']),
        ("cron(0 24 * * ? *)", ['field 2 (hours) "24": out of range 0-23']),
        ("cron(0 0 0 * ? *)", ['field 3 (day-of-month) "0": out of range 1-31']),
        ("cron(0 0 32 * ? *)", ['field 3 (day-of-month) "32": out of range 1-31']),
        ("cron(0 0 * 13 ? *)", ['field 4 (month) "13": out of range 1-12 or JAN-DEC']),
        ("cron(0 0 * 0 ? *)", ["field 4 (month)", "out of range 1-12"]),
        (
            "cron(0 17 ? * 8 *)",
            ['field 5 (day-of-week) "8": out of range 1-7 (1 = SUN) or SUN-SAT'],
        ),
        ("cron(0 17 ? * 0 *)", ["field 5 (day-of-week)", "unix cron's 0 = SUN is 1 here"]),
        ("cron(0 0 * * ? 1969)", ['field 6 (year) "1969": out of range 1970-2199']),
        ("cron(0 0 * * ? 2200)", ['field 6 (year) "2200": out of range 1970-2199']),
        ("cron(0 0 * * ? 2030-2200)", ['field 6 (year) "2200"']),
        # names
        ("cron(0 0 ? * MONDAY *)", ["field 5 (day-of-week)", "did you mean MON?"]),
        ("cron(0 0 ? * THUR *)", ["field 5 (day-of-week)", "did you mean THU?"]),
        ("cron(0 0 ? JANUARY * *)", ["field 4 (month)", "did you mean JAN?"]),
        ("cron(MON 0 * * ? *)", ['field 1 (minutes) "MON": not a number; use 0-59']),
        ("cron(0 0 * * ? JAN)", ["field 6 (year)", "not a number"]),
        # wrap-around ranges are refused with the list that means them
        ("cron(0 0 ? * FRI-MON *)", ["field 5 (day-of-week)", "write FRI-SAT,SUN-MON"]),
        ("cron(0 22-2 * * ? *)", ["field 2 (hours)", "do not wrap around", "write 22-23,0-2"]),
        ("cron(0 0 1 NOV-FEB ? *)", ["field 4 (month)", "write 11-12,1-2"]),
        ("cron(0 0 ? * SAT-SUN *)", ["write SAT,SUN"]),
        ("cron(0 0 * * ? 2030-2026)", ["field 6 (year)", "runs backwards"]),
        # steps
        ("cron(0/0 * * * ? *)", ["field 1 (minutes)", "step 0 must be 1-59"]),
        ("cron(0/60 * * * ? *)", ["field 1 (minutes)", "step 60 must be 1-59"]),
        ("cron(0 */24 * * ? *)", ["field 2 (hours)", "step 24 must be 1-23"]),
        ("cron(0 0 1/31 * ? *)", ["field 3 (day-of-month)", "must be 1-30"]),
        ("cron(0 0 ? * */2 *)", ['field 5 (day-of-week) "*/2": day-of-week takes no "/" steps']),
        ("cron(0 0 ? * MON/2 *)", ["field 5 (day-of-week)", "list the days instead"]),
        (
            "cron(1-5/x * * * ? *)",
            ["field 1 (minutes)", 'the step after "/" must be a whole number'],
        ),
        ("cron(0/5/2 * * * ? *)", ["field 1 (minutes)", "whole number"]),
        # list syntax
        ("cron(0 0 1,,2 * ? *)", ["field 3 (day-of-month)", "a value is missing"]),
        ("cron(0 0 -1 * ? *)", ["field 3 (day-of-month)", "a value is missing"]),
        ("cron(0 0 1, * ? *)", ["field 3 (day-of-month)", "a value is missing"]),
        ("cron(*-5 0 * * ? *)", ["field 1 (minutes)"]),
        ("cron(0 0 ? * 2;3 *)", ["field 5 (day-of-week)"]),
        # L, W, #, ? in the wrong place or company
        ("cron(L 0 * * ? *)", ['field 1 (minutes) "L" (last) is only allowed in day-of-month']),
        ("cron(0 ? * * ? *)", ["field 2 (hours)", '"?" is only allowed in day-of-month']),
        ("cron(0 0 * * 15W *)", ["field 5 (day-of-week)", '"W" (nearest weekday) is only allowed']),
        ("cron(0 0 3#1 * ? *)", ["field 3 (day-of-month)", '"#" is only allowed in day-of-week']),
        ("cron(0 0 L,15 * ? *)", ['field 3 (day-of-month) "L" stands alone']),
        ("cron(0 0 1-15W * ? *)", ["field 3 (day-of-month)", "stands alone"]),
        ("cron(0 0 0W * ? *)", ["field 3 (day-of-month)", "out of range 1-31"]),
        ("cron(0 0 32W * ? *)", ["field 3 (day-of-month)", "out of range 1-31"]),
        ("cron(0 0 L-3 * ? *)", ["field 3 (day-of-month)", "L-3", "not part of EventBridge cron"]),
        ("cron(0 0 ? * 2,6L *)", ["field 5 (day-of-week)", "stands alone"]),
        ("cron(0 0 ? * 8L *)", ['field 5 (day-of-week) "8": out of range 1-7']),
        ("cron(0 0 ? * 3#6 *)", ['field 5 (day-of-week) "3#6": the week after "#" must be 1-5']),
        ("cron(0 0 ? * 3#0 *)", ["field 5 (day-of-week)", "must be 1-5"]),
        ("cron(0 0 ? * 3# *)", ["field 5 (day-of-week)", "must be 1-5"]),
        ("cron(0 0 ? * 8#2 *)", ['field 5 (day-of-week) "8": out of range 1-7']),
        ("cron(0 0 ? * 3#2,5#1 *)", ['only one "#" value is allowed in an expression']),
        ("cron(0 0 ? * 1,? *)", ["field 5 (day-of-week)", '"?" stands alone']),
        # field counts: unix cron, Quartz seconds
        (
            "cron(0 17 * * 1-5)",
            ["5 fields, like unix cron", "takes six fields", "write cron(0 17 ? * MON-FRI *)"],
        ),
        ("cron(0 17 * * 0)", ["write cron(0 17 ? * SUN *)"]),
        ("cron(0 17 * * 5-7)", ["write cron(0 17 ? * SUN,FRI-SAT *)"]),
        ("cron(0 17 * * */2)", ["write cron(0 17 ? * SUN,TUE,THU,SAT *)"]),
        ("cron(0 3 1 * *)", ["write cron(0 3 1 * ? *)"]),
        ("cron(0 17 1 * 1-5)", ["either day field matches", "use two schedules"]),
        (
            "cron(0 0 0 * * ? *)",
            ["7 fields", "no seconds field", "drop the first, cron(0 0 * * ? *)"],
        ),
        ("cron(0 0 * *)", ["4 fields", "takes six fields"]),
        ("cron()", ["0 fields"]),
        # foreign forms
        ("0 17 * * 1-5", ["5 fields, like unix cron", "write cron(0 17 ? * MON-FRI *)"]),
        ("0 17 ? * MON-FRI *", ["goes in cron(…): write cron(0 17 ? * MON-FRI *)"]),
        ("cron 0 17 * * ? *", ["the fields go in parentheses: write cron(0 17 * * ? *)"]),
        ("cron (0 17 * * ? *)", ["no space between cron and '('"]),
        ("CRON(0 17 * * ? *)", ["the keyword is lower case: write cron(0 17 * * ? *)"]),
        ("@daily", ["unix cron shorthand", "cron(0 0 * * ? *)"]),
        ("@weekly", ["cron(0 0 ? * SUN *)"]),
        ("@reboot", ["not an EventBridge expression"]),
        ("every 5 minutes", ["write it as write rate(5 minutes)"]),
        ("every 1 hour", ["rate(1 hour)"]),
        ("cron(0 17 * * ? *", ["the closing parenthesis is missing: write cron(0 17 * * ? *)"]),
        ("rate(5 minutes", ["write rate(5 minutes)"]),
        ("cron(0 0 1 * ? *) extra", ['unexpected text after the closing parenthesis: "extra"']),
        ("schedule(0 0 1 * ? *)", ['"schedule(…)" is not an EventBridge expression']),
        ("hello", ["not an EventBridge schedule expression"]),
        ("", ["empty schedule expression"]),
        ("   ", ["empty schedule expression"]),
        # rate()
        ("rate(1 hours)", ['"hours": 1 takes the singular; write rate(1 hour)']),
        ("rate(1 minutes)", ["write rate(1 minute)"]),
        ("rate(5 hour)", ['"hour": 5 takes the plural; write rate(5 hours)']),
        ("rate(2 day)", ["write rate(2 days)"]),
        ("rate(0 minutes)", ['"0": the value must be at least 1', "rate(1 minute)"]),
        ("rate(-5 minutes)", ["positive whole number"]),
        ("rate(1.5 hours)", ["positive whole number", "write rate(90 minutes)"]),
        ("rate(30 seconds)", ["nothing runs faster than once a minute", "rate(1 minute)"]),
        ("rate(2 weeks)", ["write rate(14 days)"]),
        ("rate(1 month)", ["must be minute(s), hour(s) or day(s)", "use cron()"]),
        ("rate(5)", ["rate() takes a number and a unit"]),
        ("rate(5 Minutes)", ['"Minutes": units are lower case; write rate(5 minutes)']),
        ("rate(1 Hours)", ["1 takes the singular; write rate(1 hour)"]),
        ("rate(99999999999999999 days)", ["too large"]),
        # at()
        ("at(2026-11-30 17:00)", ["write at(2026-11-30T17:00:00)"]),
        ("at(2026-11-30T17:00)", ["write at(2026-11-30T17:00:00)"]),
        (
            "at(2026-11-30T17:00:00Z)",
            ["without fractions or a UTC offset", "at(2026-11-30T17:00:00)"],
        ),
        ("at(2026-11-30T17:00:00+01:00)", ["write at(2026-11-30T17:00:00)"]),
        ("at(2026-02-30T17:00:00)", ["day is out of range for month"]),
        ("at(2026-11-30T24:00:00)", ["hour must be in 0..23"]),
        ("at(tomorrow)", ["at() takes yyyy-mm-ddThh:mm:ss"]),
    ],
)
def test_invalid_expressions_name_the_problem(text: str, fragments: list[str]) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule_expression(text)
    message = str(info.value)
    assert message.startswith(f"{text.strip()}: " if text.strip() else "empty")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("text", "field", "caret"),
    [
        ("cron(0 17 ? * 8 *)", "day-of-week", "              ^"),
        ("cron(60 17 ? * * *)", "minutes", "     ^^"),
        ("cron(0 0 ? * 3#6 *)", "day-of-week", "               ^"),
        ("cron(0 0 1,,2 * ? *)", "day-of-month", "           ^"),
        ("cron(0 0 ? 5-1 * *)", "month", "           ^^^"),
        ("cron(0 17 * * MON-FRI *)", "day-of-month", "          ^^^^^^^^^^^"),
    ],
)
def test_errors_point_at_the_field(text: str, field: str, caret: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule_expression(text)
    assert info.value.field == field
    assert info.value.pointer() == f"{text}\n{caret}"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cron(" + "9" * 5000 + " 0 * * ? *)", "out of range 0-59"),
        ("cron(0/" + "9" * 5000 + " 0 * * ? *)", "must be 1-59 for minutes"),
        ("cron(0 0 ? * 3#" + "9" * 5000 + " *)", 'the week after "#" must be 1-5'),
        ("rate(" + "9" * 5000 + " minutes)", "too large"),
    ],
)
def test_huge_numbers_are_out_of_range(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(fragment)):
        parse_schedule_expression(text)


def test_schedule_error_is_a_value_error_and_quotes_long_text_shortened() -> None:
    with pytest.raises(ValueError, match="empty schedule expression"):
        parse_schedule_expression("")
    with pytest.raises(ScheduleError) as info:
        parse_schedule_expression("x" * 300)
    assert len(str(info.value)) < 300
    assert info.value.pointer() == "x" * 300  # no position: the expression alone


# ---------------------------------------------------------------- fire times and DST


def test_weekdays_at_17_local_across_us_fall_back() -> None:
    # 2026-11-01: EDT (UTC-4) ends; 17:00 local is 21:00 UTC before and 22:00 UTC after.
    assert local_times("cron(0 17 ? * MON-FRI *)", utc(2026, 10, 29), 4) == [
        "2026-10-29 17:00 EDT",
        "2026-10-30 17:00 EDT",
        "2026-11-02 17:00 EST",
        "2026-11-03 17:00 EST",
    ]
    assert utc_times("cron(0 17 ? * MON-FRI *)", utc(2026, 10, 29), 4) == [
        "2026-10-29 21:00",
        "2026-10-30 21:00",
        "2026-11-02 22:00",
        "2026-11-03 22:00",
    ]


def test_weekdays_at_17_local_across_us_spring_forward() -> None:
    assert utc_times("cron(0 17 ? * MON-FRI *)", utc(2027, 3, 11), 4) == [
        "2027-03-11 22:00",
        "2027-03-12 22:00",
        "2027-03-15 21:00",
        "2027-03-16 21:00",
    ]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # 2026-10-25: CEST (UTC+2) ends
        (utc(2026, 10, 22), ["2026-10-22 07:00", "2026-10-23 07:00", "2026-10-26 08:00"]),
        # 2027-03-28: CEST begins
        (utc(2027, 3, 25), ["2027-03-25 08:00", "2027-03-26 08:00", "2027-03-29 07:00"]),
    ],
)
def test_weekdays_at_9_local_across_eu_changes(start: datetime, expected: list[str]) -> None:
    assert utc_times("cron(0 9 ? * MON-FRI *)", start, 3, BERLIN) == expected


def test_a_time_in_the_spring_forward_gap_is_skipped() -> None:
    # 2027-03-14 02:30 does not exist in New York: clocks go from 02:00 EST to 03:00 EDT.
    assert local_times("cron(30 2 * * ? *)", utc(2027, 3, 13), 3) == [
        "2027-03-13 02:30 EST",
        "2027-03-15 02:30 EDT",
        "2027-03-16 02:30 EDT",
    ]


def test_a_time_in_the_fall_back_hour_runs_once_at_its_first_occurrence() -> None:
    assert utc_times("cron(30 1 * * ? *)", utc(2026, 10, 31, 12), 3) == [
        "2026-11-01 05:30",  # 01:30 EDT; 01:30 EST (06:30 UTC) does not run
        "2026-11-02 06:30",
        "2026-11-03 06:30",
    ]


def test_every_half_hour_through_the_fall_back_hour() -> None:
    assert local_times("cron(*/30 * * * ? *)", utc(2026, 11, 1, 4, 45), 4) == [
        "2026-11-01 01:00 EDT",
        "2026-11-01 01:30 EDT",
        "2026-11-01 02:00 EST",  # the repeated 01:00 and 01:30 EST are not run again
        "2026-11-01 02:30 EST",
    ]
    # From inside the repeated hour (01:10 EST): 01:30 already ran, at 01:30 EDT.
    assert local_times("cron(*/30 * * * ? *)", utc(2026, 11, 1, 6, 10), 1) == [
        "2026-11-01 02:00 EST"
    ]


def test_every_half_hour_through_the_spring_forward_gap() -> None:
    assert local_times("cron(*/30 * * * ? *)", utc(2027, 3, 14, 6, 15), 3) == [
        "2027-03-14 01:30 EST",
        "2027-03-14 03:00 EDT",  # 02:00 and 02:30 do not exist
        "2027-03-14 03:30 EDT",
    ]


@pytest.mark.parametrize(
    ("expr", "start", "expected"),  # the first three fire times (fewer when there are fewer)
    [
        ("cron(0 0 L * ? *)", utc(2027, 1, 15), ["2027-01-31", "2027-02-28", "2027-03-31"]),
        ("cron(0 0 L 2 ? *)", utc(2027, 1, 1), ["2027-02-28", "2028-02-29", "2029-02-28"]),
        ("cron(0 0 LW * ? *)", utc(2026, 1, 1), ["2026-01-30", "2026-02-27", "2026-03-31"]),
        ("cron(0 0 LW 5 ? *)", utc(2026, 1, 1), ["2026-05-29", "2027-05-31", "2028-05-31"]),
        ("cron(0 0 15W 8,11 ? 2026)", utc(2026, 1, 1), ["2026-08-14", "2026-11-16"]),
        ("cron(0 0 1W 8,11 ? 2026)", utc(2026, 1, 1), ["2026-08-03", "2026-11-02"]),
        ("cron(0 0 31W 5 ? 2026)", utc(2026, 1, 1), ["2026-05-29"]),
        ("cron(0 0 31W 4,5 ? 2026)", utc(2026, 1, 1), ["2026-05-29"]),  # April has no 31st
        ("cron(0 12 ? * 3#2 *)", utc(2026, 11, 20), ["2026-12-08", "2027-01-12", "2027-02-09"]),
        ("cron(0 12 ? * 6L *)", utc(2026, 12, 1), ["2026-12-25", "2027-01-29", "2027-02-26"]),
        ("cron(0 12 ? * 5L 2026)", utc(2026, 12, 1), ["2026-12-31"]),  # not the 24th too
        ("cron(0 12 ? * L 2026)", utc(2026, 12, 15), ["2026-12-19", "2026-12-26"]),
        (
            "cron(0 12 ? * 6#5 2030-2035)",
            utc(2026, 1, 1),
            ["2030-03-29", "2030-05-31", "2030-08-30"],
        ),
        ("cron(0 0 29 2 ? *)", utc(2026, 1, 1), ["2028-02-29", "2032-02-29", "2036-02-29"]),
        ("cron(0 0 29 2 ? 2100-2104)", utc(2026, 1, 1), ["2104-02-29"]),  # 2100 is no leap year
        ("cron(0 0 1 1 ? 2027-2028)", utc(2026, 1, 1), ["2027-01-01", "2028-01-01"]),
        ("cron(0 0 1 1 ? 2030/5)", utc(2031, 1, 1), ["2035-01-01", "2040-01-01", "2045-01-01"]),
        ("cron(0 0 31 2 ? *)", utc(2026, 1, 1), []),
        ("cron(0 0 1 1 ? 2199)", utc(2199, 6, 1), []),
        ("cron(0 0 ? 2 1#5 *)", utc(2026, 1, 1), ["2032-02-29", "2060-02-29", "2088-02-29"]),
    ],
)
def test_special_days(expr: str, start: datetime, expected: list[str]) -> None:
    assert [f"{t:%Y-%m-%d}" for t in fires(expr, start, 3, UTC_ZONE)] == expected


def test_fire_times_are_strictly_after_start() -> None:
    assert utc_times("cron(0 17 ? * MON-FRI *)", utc(2026, 11, 30, 22), 1) == ["2026-12-01 22:00"]
    assert utc_times("cron(0 17 ? * MON-FRI *)", utc(2026, 11, 30, 21, 59), 1) == [
        "2026-11-30 22:00"
    ]


def test_classic_rules_evaluate_in_utc() -> None:
    assert utc_times("cron(0 22 ? * MON-FRI *)", utc(2026, 10, 29), 3, UTC_ZONE) == [
        "2026-10-29 22:00",
        "2026-10-30 22:00",
        "2026-11-02 22:00",
    ]


def test_rate_counts_elapsed_time_from_start() -> None:
    start = utc(2026, 10, 30, 21, 7)
    assert utc_times("rate(5 minutes)", start, 3) == [
        "2026-10-30 21:12",
        "2026-10-30 21:17",
        "2026-10-30 21:22",
    ]
    # A day is 24 hours of real time, so the local time moves at a clock change.
    assert local_times("rate(1 day)", start, 2) == ["2026-10-31 17:07 EDT", "2026-11-01 16:07 EST"]
    assert len(fires("rate(1 day)", utc(2199, 12, 29), 10)) == 2  # stops with the year 2199


def test_at_runs_once_if_after_start() -> None:
    expr = "at(2026-11-30T17:00:00)"
    assert utc_times(expr, utc(2026, 11, 1), 3) == ["2026-11-30 22:00"]
    assert utc_times(expr, utc(2026, 11, 30, 22), 3) == []
    assert utc_times(expr, utc(2026, 11, 1), 3, UTC_ZONE) == ["2026-11-30 17:00"]
    assert fires("at(2027-03-14T02:30:00)", utc(2026, 11, 1), 1) == []  # in the gap
    assert local_times("at(2026-11-01T01:30:00)", utc(2026, 10, 1), 1) == ["2026-11-01 01:30 EDT"]


def test_count_and_start_are_checked() -> None:
    schedule = parse_schedule_expression("cron(0 17 ? * MON-FRI *)")
    assert next_fire_times(schedule, utc(2026, 1, 1), 0, NY) == []
    with pytest.raises(ValueError, match="count must be 0 or more"):
        next_fire_times(schedule, utc(2026, 1, 1), -1, NY)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(schedule, datetime(2026, 1, 1), 1, NY)


def test_fire_times_carry_the_zone() -> None:
    (first,) = fires("cron(0 17 ? * MON-FRI *)", utc(2026, 11, 30), 1)
    assert first.tzinfo is NY
    assert first.utcoffset() == timedelta(hours=-5)


# ---------------------------------------------------------------- description


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("cron(0 17 ? * MON-FRI *)", "at 17:00, Monday through Friday"),
        ("cron(30 2 * * ? *)", "at 02:30, every day"),
        ("cron(0 8,12,18 * * ? *)", "at 08:00, 12:00 and 18:00, every day"),
        ("cron(0/15 * * * ? *)", "every 15 minutes, every day"),
        ("cron(5/15 * * * ? *)", "every 15 minutes from minute 5, every day"),
        ("cron(* * * * ? *)", "every minute, every day"),
        ("cron(0 * * * ? *)", "every hour at minute 0, every day"),
        (
            "cron(10-50/10 9-17 ? * MON-FRI *)",
            "every 10 minutes from minute 10 through minute 50, between 09:00 and 17:59, "
            "Monday through Friday",
        ),
        (
            "cron(0 9-17 ? * MON-FRI *)",
            "at minute 0 of every hour between 09:00 and 17:59, Monday through Friday",
        ),
        ("cron(5 */2 * * ? *)", "at minute 5, every 2 hours, every day"),
        (
            "cron(0-4 9 * * ? *)",
            "every minute from minute 0 through minute 4, between 09:00 and 09:59, every day",
        ),
        ("cron(0 0 L * ? *)", "at 00:00, on the last day of the month"),
        ("cron(0 0 LW * ? *)", "at 00:00, on the last weekday (Monday to Friday) of the month"),
        (
            "cron(0 0 15W * ? *)",
            "at 00:00, on the weekday (Monday to Friday) nearest day 15 of the month",
        ),
        ("cron(0 9 ? * 6L *)", "at 09:00, on the last Friday of the month"),
        ("cron(0 9 ? * L *)", "at 09:00, on Saturday (the last day of the week)"),
        ("cron(0 12 ? * 3#2 *)", "at 12:00, on the second Tuesday of the month"),
        (
            "cron(0 12 ? * 6#5 2030-2035)",
            "at 12:00, on the fifth Friday of the month, in 2030 through 2035",
        ),
        ("cron(0 0 29 2 ? *)", "at 00:00, on day 29 of the month, in February"),
        ("cron(0 0 1,15 * ? *)", "at 00:00, on days 1 and 15 of the month"),
        ("cron(0 0 1-7 * ? *)", "at 00:00, on days 1 through 7 of the month"),
        ("cron(0 0 */2 * ? *)", "at 00:00, on days 1, 3, 5 … 31 of the month"),
        ("cron(0 0 1 1/3 ? *)", "at 00:00, on day 1 of the month, every 3 months"),
        ("cron(0 0 1 4/3 ? *)", "at 00:00, on day 1 of the month, every 3 months from April"),
        (
            "cron(0 0 1 JAN,JUL ? 2030/2)",
            "at 00:00, on day 1 of the month, in January and July, every 2 years from 2030",
        ),
        ("cron(0 0 ? * 1 *)", "at 00:00, on Sunday"),
        ("cron(0 0 ? * 2,4,6 *)", "at 00:00, on Monday, Wednesday and Friday"),
        ("cron(0 0 ? * 1-7 *)", "at 00:00, every day"),
        ("rate(1 minute)", "every minute"),
        ("rate(5 minutes)", "every 5 minutes"),
        ("rate(1 hour)", "every hour"),
        ("rate(3 days)", "every 3 days"),
        ("at(2026-11-30T17:00:00)", "once, at 17:00:00 on Monday 2026-11-30"),
    ],
)
def test_describe(text: str, description: str) -> None:
    assert describe(parse_schedule_expression(text)) == description


# ---------------------------------------------------------------- what `offhours schedule` prints


def test_format_lists_local_and_utc_and_notes_the_clock_change() -> None:
    schedule = parse_schedule_expression("cron(0 17 ? * MON-FRI *)")
    assert format_fire_times(schedule, NY, utc(2027, 3, 11), 4) == "\n".join(
        [
            "cron(0 17 ? * MON-FRI *): at 17:00, Monday through Friday (America/New_York)",
            "next 4 fire times:",
            "  Thu 2027-03-11 17:00 EST  =  22:00 UTC",
            "  Fri 2027-03-12 17:00 EST  =  22:00 UTC",
            "  Mon 2027-03-15 17:00 EDT  =  21:00 UTC",
            "  Tue 2027-03-16 17:00 EDT  =  21:00 UTC",
            "note: clocks change on 2027-03-14 (EST → EDT): 17:00 local stays 17:00, "
            "which is 21:00 UTC after (22:00 UTC before)",
        ]
    )


def test_format_without_a_clock_change_has_no_note() -> None:
    schedule = parse_schedule_expression("cron(0 17 ? * MON-FRI *)")
    text = format_fire_times(schedule, NY, utc(2026, 11, 29), 2)
    assert "  Mon 2026-11-30 17:00 EST  =  22:00 UTC" in text
    assert "note" not in text


def test_format_notes_skipped_and_repeated_runs() -> None:
    gap = format_fire_times(
        parse_schedule_expression("cron(30 2 * * ? *)"), NY, utc(2027, 3, 13), 2
    )
    assert "note: 2027-03-14 02:30 does not exist in America/New_York: that run is skipped" in gap
    fold = format_fire_times(
        parse_schedule_expression("cron(30 1 * * ? *)"), NY, utc(2026, 10, 31, 12), 2
    )
    assert (
        "2026-11-01 01:30 happens twice in America/New_York: it runs once, at 01:30 EDT (05:30 UTC)"
        in fold
    )


def test_format_summarises_many_clock_changes() -> None:
    text = format_fire_times(
        parse_schedule_expression("cron(0 12 1 * ? *)"), NY, utc(2026, 1, 1), 30
    )
    assert "note: clocks change 5 times in this range: each run keeps its local time" in text


def test_format_shows_the_utc_date_when_it_differs() -> None:
    text = format_fire_times(
        parse_schedule_expression("cron(0 20 ? * MON *)"), NY, utc(2026, 11, 29), 1
    )
    assert "  Mon 2026-11-30 20:00 EST  =  Tue 2026-12-01 01:00 UTC" in text


def test_format_for_a_classic_rule_warns_of_the_drift() -> None:
    schedule = parse_schedule_expression("cron(0 22 ? * MON-FRI *)")
    text = format_fire_times(schedule, NY, utc(2026, 10, 28), 2, scheduler="rule")
    assert text.splitlines()[:4] == [
        "cron(0 22 ? * MON-FRI *): at 22:00, Monday through Friday (UTC, classic EventBridge rule)",
        "next 2 fire times:",
        "  Wed 2026-10-28 18:00 EDT  =  22:00 UTC",
        "  Thu 2026-10-29 18:00 EDT  =  22:00 UTC",
    ]
    assert (
        "warning: classic EventBridge rules run in UTC: 22:00 UTC is 18:00 EDT, "
        "but 17:00 EST after clocks change on 2026-11-01"
    ) in text
    # No warning where the clocks never change.
    tokyo = format_fire_times(
        schedule, ZoneInfo("Asia/Tokyo"), utc(2026, 10, 28), 2, scheduler="rule"
    )
    assert "warning" not in tokyo


def test_format_refuses_at_for_a_classic_rule() -> None:
    with pytest.raises(ScheduleError, match="needs EventBridge Scheduler"):
        format_fire_times(At(datetime(2026, 11, 30, 17)), NY, utc(2026, 1, 1), 1, scheduler="rule")


@pytest.mark.parametrize(
    ("text", "start", "fragment"),
    [
        ("at(2026-11-30T17:00:00)", utc(2026, 1, 1), "note: a one-time schedule: it runs once"),
        (
            "at(2026-11-30T17:00:00)",
            utc(2027, 1, 1),
            "is not after 2026-12-31 19:00 EST: it does not run",
        ),
        (
            "at(2027-03-14T02:30:00)",
            utc(2027, 1, 1),
            "does not exist in America/New_York (the clocks skip it)",
        ),
        ("at(2026-11-01T01:30:00)", utc(2026, 1, 1), "happens twice that day in America/New_York"),
        ("cron(0 0 31 2 ? *)", utc(2026, 1, 1), "no more fire times up to the end of 2199"),
        (
            "rate(1 day)",
            utc(2026, 10, 31, 21),
            "rate() counts elapsed time, so local times move back an hour",
        ),
    ],
)
def test_format_notes(text: str, start: datetime, fragment: str) -> None:
    assert fragment in format_fire_times(parse_schedule_expression(text), NY, start, 3)


def test_format_in_utc_has_one_column() -> None:
    text = format_fire_times(
        parse_schedule_expression("rate(1 hour)"), UTC_ZONE, utc(2026, 1, 1), 1
    )
    assert text.splitlines()[-1] == "  Thu 2026-01-01 01:00 UTC"


# ---------------------------------------------------------------- properties


@dataclass(frozen=True)
class Spec:
    """A generated cron expression and, independently of the module under test, what it matches."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day: Callable[[date], bool]

    def matches(self, wall: datetime) -> bool:
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and wall.year in self.years
            and self.day(wall.date())
        )


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@st.composite
def values_field(
    draw: st.DrawFn,
    lo: int,
    hi: int,
    names: list[str] | None = None,
    steps: bool = True,
    pick: tuple[int, int] | None = None,
) -> tuple[str, frozenset[int]]:
    """A field's text and the values it selects; values are drawn from ``pick`` (default lo-hi)."""
    low, high = pick or (lo, hi)

    def show(v: int) -> str:
        if names and draw(st.booleans()):
            name = names[v - lo]
            return draw(st.sampled_from([name, name.lower(), name.title()]))
        return str(v)

    items, values = [], set()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["*", "v", "a-b"] + (["*/n", "v/n", "a-b/n"] if steps else [])))
        step = draw(st.integers(1, hi - lo)) if kind.endswith("/n") else 1
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        if kind.startswith("*"):
            first, last, text = lo, hi, "*"
        elif kind.startswith("v"):
            first, last, text = a, hi if step > 1 or kind == "v/n" else a, show(a)
        else:
            first, last, text = a, b, f"{show(a)}-{show(b)}"
        if kind.endswith("/n"):
            text += f"/{step}"
        items.append(text)
        values.update(range(first, last + 1, step))
    return ",".join(items), frozenset(values)


def aws_weekday(d: date) -> int:
    return d.isoweekday() % 7 + 1  # isoweekday: Mon = 1 … Sun = 7  →  1 = SUN … 7 = SAT


def last_day(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1]


def nearest_workday(d: date, n: int) -> bool:
    if n > last_day(d):
        return False
    target = d.replace(day=n)
    if target.weekday() == 5:
        target += timedelta(days=2) if n == 1 else timedelta(days=-1)
    elif target.weekday() == 6:
        target += timedelta(days=-2) if n == last_day(d) else timedelta(days=1)
    return d == target


@st.composite
def day_fields(draw: st.DrawFn) -> tuple[str, str, Callable[[date], bool]]:
    kind = draw(st.sampled_from(["dom", "dow", "L", "LW", "W", "nL", "#", "dowL"]))
    if kind == "dom":
        text, days = draw(values_field(1, 31))
        return text, "?", lambda d: d.day in days
    if kind == "dow":
        text, weekdays = draw(values_field(1, 7, DAYS, steps=False))
        return "?", text, lambda d: aws_weekday(d) in weekdays
    if kind == "L":
        return "L", "?", lambda d: d.day == last_day(d)
    if kind == "LW":
        return (
            "LW",
            "?",
            lambda d: (
                d.weekday() < 5
                and all(d.replace(day=x).weekday() >= 5 for x in range(d.day + 1, last_day(d) + 1))
            ),
        )
    if kind == "W":
        n = draw(st.integers(1, 31))
        return f"{n}W", "?", lambda d: nearest_workday(d, n)
    if kind == "dowL":
        return "?", "L", lambda d: aws_weekday(d) == 7
    weekday = draw(st.integers(1, 7))
    if kind == "nL":
        return "?", f"{weekday}L", lambda d: aws_weekday(d) == weekday and d.day + 7 > last_day(d)
    nth = draw(st.integers(1, 5))
    return "?", f"{weekday}#{nth}", lambda d: aws_weekday(d) == weekday and (d.day + 6) // 7 == nth


@st.composite
def cron_specs(draw: st.DrawFn) -> Spec:
    minutes = draw(values_field(0, 59))
    hours = draw(values_field(0, 23))
    dom, dow, day = draw(day_fields())
    months = draw(values_field(1, 12, MONTHS))
    years = draw(values_field(1970, 2199, pick=(2020, 2060)))
    text = f"cron({minutes[0]} {hours[0]} {dom} {months[0]} {dow} {years[0]})"
    return Spec(text, minutes[1], hours[1], months[1], years[1], day)


@settings(max_examples=300)
@given(cron_specs())
def test_valid_crons_round_trip_through_render(spec: Spec) -> None:
    parsed = parse_schedule_expression(spec.text)
    assert parse_schedule_expression(render(parsed)) == parsed
    assert render(parse_schedule_expression(render(parsed))) == render(parsed)
    assert describe(parsed)  # every valid expression can be described


ZONES = st.sampled_from([UTC_ZONE, NY, BERLIN, ZoneInfo("Australia/Lord_Howe")])
STARTS = st.datetimes(datetime(2024, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(cron_specs(), STARTS, ZONES)
def test_fire_times_match_the_fields_and_increase(
    spec: Spec, start: datetime, zone: ZoneInfo
) -> None:
    times = next_fire_times(parse_schedule_expression(spec.text), start, 8, zone)
    instants = [start, *(t.astimezone(UTC) for t in times)]
    assert all(a < b for a, b in pairwise(instants))
    walls = [t.replace(tzinfo=None) for t in times]
    assert len(set(walls)) == len(walls)  # a repeated wall-clock time runs once
    for t in times:
        assert t.tzinfo is zone
        assert t.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == t.replace(tzinfo=None)
        assert spec.matches(t.replace(tzinfo=None)), (spec.text, t)


@settings(max_examples=150, deadline=None)
@given(cron_specs(), STARTS)
def test_no_fire_time_is_missed_in_utc(spec: Spec, start: datetime) -> None:
    # Minute by minute over two days from start: the first match is the first fire time.
    times = next_fire_times(parse_schedule_expression(spec.text), start, 1, UTC_ZONE)
    minute = start.replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
    horizon = minute + timedelta(days=2)
    while minute < horizon and not spec.matches(minute):
        minute += timedelta(minutes=1)
    if minute < horizon:
        assert [t.replace(tzinfo=None) for t in times] == [minute]
    else:
        assert not times or times[0].replace(tzinfo=None) >= horizon


@settings(max_examples=100)
@given(cron_specs(), st.integers(0, 5), st.sampled_from(["77", "-1", "99", "1970-1969", "x"]))
def test_a_bad_field_is_named(spec: Spec, index: int, bad: str) -> None:
    fields = spec.text[len("cron(") : -1].split()
    if fields[index] == "?":
        return  # replacing the "?" would break the "?" rule instead
    fields[index] = bad
    names = ["minutes", "hours", "day-of-month", "month", "day-of-week", "year"]
    with pytest.raises(ScheduleError) as info:
        parse_schedule_expression("cron(" + " ".join(fields) + ")")
    assert f"field {index + 1} ({names[index]})" in str(info.value)
    assert info.value.field == names[index]


@given(st.text(max_size=60))
def test_any_text_either_parses_or_raises_schedule_error(text: str) -> None:
    try:
        parsed = parse_schedule_expression(text)
    except ScheduleError:
        return  # the only exception the parser raises, for any input
    assert parse_schedule_expression(render(parsed)) == parsed


@given(
    st.sampled_from(["cron(", "rate(", "at(", ""]),
    st.text(alphabet="0123456789*?/-,#LW ?MONFRIJAN", max_size=30),
)
def test_near_misses_either_parse_or_raise_schedule_error(prefix: str, body: str) -> None:
    try:
        parsed = parse_schedule_expression(f"{prefix}{body})")
    except ScheduleError:
        return
    assert parse_schedule_expression(render(parsed)) == parsed


@given(st.integers(1, 10_000), st.sampled_from(["minute", "hour", "day"]))
def test_rates_round_trip(value: int, unit: str) -> None:
    text = f"rate({value} {unit}{'s' if value > 1 else ''})"
    assert render(parse_schedule_expression(text)) == text
    wrong = f"rate({value} {unit}{'' if value > 1 else 's'})"
    with pytest.raises(ScheduleError, match="takes the"):
        parse_schedule_expression(wrong)
