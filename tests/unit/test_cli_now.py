"""``--now``: what each written form means, and what is refused with an example that works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.cli.options import parse_now
from offhours.errors import ConfigError

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T23:00:00-05:00", datetime(2026, 11, 30, 23, tzinfo=NEW_YORK)),
        ("2026-12-01T04:00Z", datetime(2026, 12, 1, 4, tzinfo=UTC)),
        ("2026-11-30T23:00", datetime(2026, 11, 30, 23, tzinfo=NEW_YORK)),
        ("2026-11-30 23:00", datetime(2026, 11, 30, 23, tzinfo=NEW_YORK)),
        ("2026-07-01T23:00", datetime(2026, 7, 1, 23, tzinfo=NEW_YORK)),  # EDT, not EST
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=NEW_YORK)),
        ("2026-11-30Z", datetime(2026, 11, 30, tzinfo=UTC)),
        ("2026-11-30z", datetime(2026, 11, 30, tzinfo=UTC)),
        ("2026-11-30+01:00", datetime(2026, 11, 30, tzinfo=timezone(timedelta(hours=1)))),
        ("2026-11-30-0500", datetime(2026, 11, 30, tzinfo=timezone(timedelta(hours=-5)))),
        (" 2026-11-30T23:00Z ", datetime(2026, 11, 30, 23, tzinfo=UTC)),
    ],
)
def test_forms_of_now(text: str, expected: datetime) -> None:
    got = parse_now(text, NEW_YORK)
    assert got == expected
    assert got.utcoffset() == expected.utcoffset()


def test_the_zone_may_be_given_by_name() -> None:
    assert parse_now("2026-11-30T23:00", "America/New_York") == datetime(
        2026, 11, 30, 23, tzinfo=NEW_YORK
    )


def test_no_now_is_the_current_time() -> None:
    before = datetime.now(UTC)
    assert before <= parse_now(None, NEW_YORK) <= datetime.now(UTC)


@pytest.mark.parametrize(
    "text", ["yesterday", "", "2026-11-30x23:00", "2026-13-01", "2026-11-30T25:00", "23:00"]
)
def test_refusals_give_forms_that_work(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_now(text, NEW_YORK)
    message = str(info.value)
    assert message.startswith(f"--now {text!r} is not an ISO-8601 time; write e.g. ")
    assert "(read in America/New_York)" in message
    for example in ("2026-11-26T22:00Z", "2026-11-26T17:00-05:00", "2026-11-26T22:00"):
        assert parse_now(example, NEW_YORK).tzinfo is not None  # each example works


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(instants, st.integers(-14 * 60, 14 * 60))
def test_an_aware_time_means_itself(instant: datetime, minutes: int) -> None:
    local = instant.astimezone(timezone(timedelta(minutes=minutes)))
    assert parse_now(local.isoformat(), NEW_YORK) == instant


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_a_naive_time_is_that_wall_time_in_the_zone(wall: datetime) -> None:
    got = parse_now(wall.isoformat(), NEW_YORK)
    assert got.tzinfo is NEW_YORK
    assert got.replace(tzinfo=None) == wall
