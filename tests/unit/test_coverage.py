"""A deployment's schedule against business hours: runs inside them, off-hours no run falls in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.deploy.schedule import coverage_warnings, parse_schedule_expression
from offhours.deploy.schedule._coverage import sample
from offhours.hours import BusinessHours, HolidayCalendar, parse_schedule

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
UTC_ZONE = ZoneInfo("UTC")
MONDAY = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 10:00 in New York
DEFAULT = "cron(0 18-23 ? * MON-FRI *)"  # [deploy] schedule's default


def hours(
    text: str = "Mon-Fri 08:00-18:00", zone: ZoneInfo = NY, country: str = "US"
) -> BusinessHours:
    return parse_schedule(text, zone, HolidayCalendar(country))


def warnings(
    expression: str, zone: ZoneInfo, bh: BusinessHours, now: datetime = MONDAY
) -> list[str]:
    return coverage_warnings(parse_schedule_expression(expression), zone, bh, now)


@pytest.mark.parametrize(
    ("expression", "zone", "fragments"),
    [
        # the default, in the hours' zone (EventBridge Scheduler): nothing to say
        (DEFAULT, NY, []),
        # the classic mistake: the same cron as a classic rule, in UTC, fires 13:00-18:00 EST
        (
            DEFAULT,
            UTC_ZONE,
            [
                "90 of 120 runs (the next 14 days, and 14 from the clock change on 2027-03-14) "
                "fall inside business hours (Mon-Fri 08:00-18:00 America/New_York), when nothing "
                "is flagged: at 13:00, 14:00, 15:00, 16:00 and 17:00 America/New_York"
            ],
        ),
        # one hour earlier, and winter's nights are never checked
        (
            "cron(0 18-22 ? * MON-FRI *)",
            UTC_ZONE,
            [
                "of 100 runs",
                "no run falls in the off-hours Mon-Thu 18:00 – 08:00; Fri 18:00 – Mon 08:00 "
                "(America/New_York; the next 14 days",
            ],
        ),
        ("cron(0 22 ? * MON-THU *)", NY, ["no run falls in the off-hours Fri 18:00 – Mon 08:00 ("]),
        (
            "cron(0 12 ? * MON-FRI *)",
            NY,
            [
                "20 of 20 runs",
                "no run (the next 14 days, and 14 from the clock change on 2027-03-14) falls "
                "outside business hours: nothing is checked",
            ],
        ),
        # around the clock: runs inside business hours are meant
        ("rate(1 hour)", NY, []),
        ("rate(30 minutes)", UTC_ZONE, []),
        ("cron(0 * ? * * *)", NY, []),
        ("cron(*/20 * ? * MON-FRI *)", UTC_ZONE, []),
        # rate() counts from now (10:00): a daily run at 10:00 never sees a weekday night
        ("rate(1 day)", NY, ["no run falls in the off-hours Mon-Thu 18:00 – 08:00 ("]),
        (
            "at(2026-12-01T13:00:00)",
            NY,
            ["its one run, 2026-12-01 13:00 America/New_York, falls inside business hours"],
        ),
        ("at(2026-12-01T20:00:00)", NY, []),
        ("cron(0 20 1 JAN ? *)", NY, ["it does not run in the next 14 days"]),
    ],
)
def test_a_schedule_against_new_york_hours(
    expression: str, zone: ZoneInfo, fragments: list[str]
) -> None:
    found = warnings(expression, zone, hours())
    text = "\n".join(found)
    for fragment in fragments:
        assert fragment in text
    if not fragments:
        assert found == []


@pytest.mark.parametrize(
    ("expression", "hours_text", "expected"),
    [
        # a lunch break between two windows needs no run of its own
        (DEFAULT, "Mon-Fri 08:00-12:00,13:00-18:00", []),
        # hours where nothing is ever off-hours, or everything always is
        ("cron(0 12 ? * MON-FRI *)", "always", []),
        ("cron(0 12 ? * MON-FRI *)", "never", []),
        ("cron(0 12 ? * MON-FRI *)", "daily 00:00-24:00", []),
        # a weekend check fits a weekend-only schedule
        ("cron(0 20 ? * SAT *)", "Sun 10:00-16:00", []),
    ],
)
def test_hours_that_leave_nothing_to_say(
    expression: str, hours_text: str, expected: list[str]
) -> None:
    assert warnings(expression, NY, hours(hours_text)) == expected


def test_both_sides_of_a_clock_change_are_sampled() -> None:
    # 17:00 UTC is 17:00 in a London winter (inside 08:00-18:00), 18:00 in summer (closed).
    found = warnings("cron(0 17 ? * MON-FRI *)", UTC_ZONE, hours(zone=LONDON, country="GB"))
    assert found == [
        "10 of 20 runs (the next 14 days, and 14 from the clock change on 2027-03-28) fall "
        "inside business hours (Mon-Fri 08:00-18:00 Europe/London), when nothing is flagged: "
        "at 17:00 Europe/London",
        # in winter no run is outside business hours
        "no run falls in the off-hours Mon-Thu 18:00 – 08:00; Fri 18:00 – Mon 08:00 "
        "(Europe/London; the next 14 days, and 14 from the clock change on 2027-03-28): what "
        "runs only then is never reported",
    ]


def test_a_holiday_that_lengthens_off_hours_is_dated() -> None:
    before_thanksgiving = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    found = warnings("cron(0 20 1 * ? *)", NY, hours(), before_thanksgiving)
    assert found and "Wed 2026-11-25 18:00 – Fri 2026-11-27 08:00" in found[-1]


def test_a_run_on_a_holiday_checks_the_off_hours_around_it() -> None:
    # Thanksgiving Thursday: a 12:00 run that day falls in off-hours (Wed 18:00 - Fri 08:00).
    before = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    got = sample(
        parse_schedule_expression("cron(0 12 26 NOV ? *)"),
        NY,
        hours(),
        before,
        before + timedelta(days=7),
    )
    thanksgiving = [p for p in got.periods if p[0].astimezone(NY).date() == date(2026, 11, 25)]
    assert [checked for _, _, checked in thanksgiving] == [True]
    assert got.inside == ()


HOURS_TEXTS = [
    "Mon-Fri 08:00-18:00",
    "Mon-Fri 08:00-12:00,13:00-18:00; Sat 09:00-13:00",
    "Sun-Thu 22:00-06:00",
    "Mon-Fri 07:30-19:00",
]
ZONES = [NY, LONDON, UTC_ZONE, ZoneInfo("Australia/Lord_Howe")]
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1)).map(
    lambda t: t.replace(tzinfo=UTC)
)


@settings(max_examples=40)
@given(
    st.sampled_from(HOURS_TEXTS),
    st.sampled_from(ZONES),
    st.sampled_from(ZONES),
    st.one_of(
        st.integers(0, 59).map(lambda m: f"cron({m} * ? * * *)"),
        st.sampled_from(["rate(1 hour)", "rate(15 minutes)", "rate(1 minute)"]),
    ),
    instants,
)
def test_a_schedule_that_runs_every_hour_has_nothing_to_say(
    text: str, hours_zone: ZoneInfo, zone: ZoneInfo, expression: str, now: datetime
) -> None:
    assert warnings(expression, zone, hours(text, hours_zone), now) == []


@settings(max_examples=40)
@given(
    st.sampled_from(HOURS_TEXTS),
    st.sampled_from(ZONES),
    st.sampled_from(
        [DEFAULT, "cron(0 22 ? * MON-THU *)", "cron(15 9,21 ? * * *)", "rate(7 hours)"]
    ),
    instants,
)
def test_a_sample_agrees_with_is_open(
    text: str, zone: ZoneInfo, expression: str, now: datetime
) -> None:
    bh = hours(text, zone)
    got = sample(parse_schedule_expression(expression), zone, bh, now, now + timedelta(days=7))
    assert [t for t in got.runs if bh.is_open(t)] == list(got.inside)
    for start, end, checked in got.periods:
        assert not bh.is_open(start)
        assert bh.is_open(end)
        assert checked is any(start <= t < end for t in got.runs)
