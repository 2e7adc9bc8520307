"""Valid expressions that never run: no such date (February 30th), a year or an at() that has
passed, an at() in the hour the clocks skip."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.deploy.schedule import (
    MAX_YEAR,
    fires_no_more,
    never_fires,
    next_fire_times,
    parse_schedule_expression,
)

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("cron(0 0 30 2 ? *)", "never fires: February has no 30th"),
        ("cron(0 0 30-31 FEB ? *)", "never fires: February has no 30th or 31st"),
        ("cron(0 0 31 4 ? *)", "never fires: April has no 31st"),
        ("cron(0 0 31 4,6,9,11 ? *)", "never fires: April, June, September and November have no"),
        ("cron(0 0 31W 2 ? *)", "never fires: February has no 31st"),
        ("cron(0 0 29 2 ? 2100)", "never fires: none of the dates it names is in 2100"),
        ("cron(0 0 29 2 ? 2097-2099)", "none of the dates it names is in 2097, 2098, 2099"),
        # they run
        ("cron(0 0 29 2 ? *)", None),  # leap years
        ("cron(0 0 31 1-4 ? *)", None),
        ("cron(0 0 L 2 ? *)", None),
        ("cron(0 0 ? 2 5#5 *)", None),  # a fifth Thursday in February: 2024, 2052, …
        ("cron(0 0 ? * MON 2020)", None),  # past, but that needs a clock: fires_no_more
        ("rate(1 hour)", None),
        ("at(2020-01-01T00:00:00)", None),
    ],
)
def test_never_fires(text: str, why: str | None) -> None:
    found = never_fires(parse_schedule_expression(text))
    if why is None:
        assert found is None
    else:
        assert found is not None
        assert why in found


@given(st.integers(1, 31), st.sets(st.integers(1, 12), min_size=1))
def test_a_day_of_month_never_fires_only_when_no_month_has_it(day: int, months: set[int]) -> None:
    text = f"cron(0 12 {day} {','.join(map(str, sorted(months)))} ? *)"
    exists = any(day <= calendar.monthrange(2024, m)[1] for m in months)  # 2024: a leap year
    assert (never_fires(parse_schedule_expression(text)) is None) is exists


@pytest.mark.parametrize(
    ("text", "now", "zone", "why"),
    [
        ("cron(0 0 30 2 ? *)", NOW, NY, "never fires: February has no 30th"),
        ("at(2020-01-01T00:00:00)", NOW, NY, "is in the past (now is 2026-11-30 10:00 America/"),
        ("at(2026-11-30T10:00:00)", NOW, NY, "is in the past"),  # now: not after it
        ("at(2026-11-30T10:01:00)", NOW, NY, None),
        ("at(2027-03-14T02:30:00)", NOW, NY, "2027-03-14 02:30 does not exist in America/New"),
        ("cron(0 0 ? * MON 2020)", NOW, NY, "never fires again: its last year, 2020, has passed"),
        ("cron(0 0 1 1 ? 2026)", NOW, NY, "never fires again: its last time is before now"),
        ("cron(30 2 ? 3 SUN#2 2027)", NOW, NY, "never fires in America/New_York: the clocks skip"),
        ("cron(30 2 ? 3 SUN#2 2027)", NOW, ZoneInfo("UTC"), None),
        ("cron(0 0 1 1 ? 2026-2027)", NOW, NY, None),
        ("cron(0 18-23 ? * MON-FRI *)", NOW, NY, None),
        ("rate(5 minutes)", NOW, NY, None),
        ("at(2026-12-24T18:00:00)", NOW, NY, None),
    ],
)
def test_fires_no_more(text: str, now: datetime, zone: ZoneInfo, why: str | None) -> None:
    found = fires_no_more(parse_schedule_expression(text), now, zone)
    if why is None:
        assert found is None
    else:
        assert found is not None
        assert why in found


@given(
    st.sampled_from(
        [
            "cron(0 0 30 2 ? *)",
            "cron(0 0 1 1 ? 2026)",
            "cron(0 12 ? * MON 2026-2027)",
            "cron(30 2 ? 3 SUN#2 2027)",  # only in the hour New York skips
            "at(2027-01-01T00:00:00)",
            "rate(1 day)",
        ]
    ),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1)),
)
def test_fires_no_more_exactly_when_there_is_no_next_fire_time(text: str, now: datetime) -> None:
    schedule = parse_schedule_expression(text)
    at = now.replace(tzinfo=UTC)
    assert (fires_no_more(schedule, at, NY) is None) is bool(next_fire_times(schedule, at, 1, NY))


def test_the_search_ends_with_the_last_year_a_cron_can_name() -> None:
    late = datetime(MAX_YEAR, 12, 31, 23, 59, tzinfo=UTC)
    assert "never fires again" in (
        fires_no_more(parse_schedule_expression("rate(1 day)"), late, NY) or ""
    )
