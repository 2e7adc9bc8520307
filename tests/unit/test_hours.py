"""Business hours: parsers, holidays, DST, midnight-crossing windows, reasons, exemptions."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.hours import (
    DAY_ABBR,
    NEAR_ALWAYS_HOURS,
    BusinessHours,
    HolidayCalendar,
    Rule,
    TagValueError,
    Window,
    local_instant,
    parse_days,
    parse_exemption,
    parse_schedule,
    parse_time,
    parse_window,
    parse_zone,
    validate_country,
    zone_country,
    zone_warning,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
NO_HOLIDAYS = HolidayCalendar()


def utc(text: str) -> datetime:
    """``2026-03-09 20:30`` in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(zone: ZoneInfo, text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


def hours(text: str, zone: ZoneInfo = LONDON, cal: HolidayCalendar = NO_HOLIDAYS) -> BusinessHours:
    return parse_schedule(text, zone, cal)


# ---------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00", time(8, 0)),
        ("8:00", time(8, 0)),
        (" 23:59 ", time(23, 59)),
        ("00:00", time(0, 0)),
        ("24:00", time(0, 0)),  # midnight at the end of the day
    ],
)
def test_parse_time_accepts(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["25:00", "12:60", "24:01", "8", "noon", "", "12:5", "１２:００", "-1:00", "8:00pm", "0730"],
)
def test_parse_time_refuses_with_a_message_that_follows_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=r"^is not a time \(HH:MM\)$"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "start", "end", "next_day"),
    [
        ("08:00-18:00", time(8), time(18), False),
        ("0800-1800", time(8), time(18), False),
        ("2200-2400", time(22), time(0), True),
        ("8:00-9:30", time(8), time(9, 30), False),
        ("08:00 - 18:00", time(8), time(18), False),
        ("22:00-06:00", time(22), time(6), True),
        ("08:00-24:00", time(8), time(0), True),
        ("00:00-24:00", time(0), time(0), True),
        ("0000-2400", time(0), time(0), True),
        ("09:00-08:59", time(9), time(8, 59), True),  # 23 h 59 min from 09:00
    ],
)
def test_parse_window(text: str, start: time, end: time, next_day: bool) -> None:
    window = parse_window(text)
    assert (window.start, window.end, window.ends_next_day) == (start, end, next_day)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("08:00", ""),
        ("24:00-06:00", "a window cannot start at 24:00"),
        ("08:00-25:00", "'25:00' is not a time (HH:MM)"),
        ("8am-6pm", "'8am' is not a time (HH:MM)"),
        ("08:00-18:00-19:00", "'18:00-19:00' is not a time (HH:MM)"),
        ("08:00-1800", "'1800' is not a time (HH:MM)"),
        ("0800-18:00", "'0800' is not a time (HH:MM)"),
        ("800-1800", "'800' is not a time (HHMM in the compact form, e.g. 0800)"),
        ("0800-2500", "'2500' is not a time (HHMM in the compact form"),
        ("2400-0600", "a window cannot start at 24:00"),
    ],
)
def test_parse_window_refuses(text: str, detail: str) -> None:
    with pytest.raises(ValueError, match=r"^is not a time window \(HH:MM-HH:MM") as info:
        parse_window(text)
    assert detail in str(info.value)


@pytest.mark.parametrize(
    ("text", "whole_day"),
    [
        ("08:00-08:00", "00:00-24:00"),
        ("8:00-08:00", "00:00-24:00"),
        ("00:00-00:00", "00:00-24:00"),
        ("23:59-23:59", "00:00-24:00"),
        ("0900-0900", "0000-2400"),
    ],
)
def test_a_window_that_starts_where_it_ends_is_refused(text: str, whole_day: str) -> None:
    # Once read as 24 hours from the start: a typo looked like a schedule. The whole day is
    # written 00:00-24:00.
    with pytest.raises(ValueError, match=r"^is an empty window \(it starts and ends at ") as info:
        parse_window(text)
    assert f"for the whole day write {whole_day}" in str(info.value)


def test_window_refuses_seconds_and_time_zones() -> None:
    with pytest.raises(ValueError, match="without seconds"):
        Window(time(8, 0, 30), time(18))
    with pytest.raises(ValueError, match="without seconds"):
        Window(time(8, tzinfo=UTC), time(18))


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("Mon,Wed,Fri", {0, 2, 4}),
        ("Mon, Wed ,Fri", {0, 2, 4}),
        ("Fri-Mon", {4, 5, 6, 0}),
        ("Sat-Sun", {5, 6}),
        ("Sun", {6}),
        ("daily", set(range(7))),
        ("*", set(range(7))),
        ("Monday-Thursday", {0, 1, 2, 3}),
        ("TUESDAY,thu", {1, 3}),
        ("Mon-Wed,Sat", {0, 1, 2, 5}),
        ("Wed-Wed", {2}),
    ],
)
def test_parse_days(text: str, days: set[int]) -> None:
    assert parse_days(text) == frozenset(days)


@pytest.mark.parametrize("text", ["Mon-Fry", "", "Mo-Fr", "Mon-", "Mon,,Fri", "weekdays", "1-5"])
def test_parse_days_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"^is not a day range \(e\.g\. Mon-Fri\)$"):
        parse_days(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Europe/London", "Europe/London"),
        ("europe/london", "Europe/London"),
        ("europe.london", "Europe/London"),
        ("EUROPE.LONDON", "Europe/London"),
        ("america.new_york", "America/New_York"),
        ("america.argentina.buenos_aires", "America/Argentina/Buenos_Aires"),
        ("europe--london", "Europe/London"),
        ("america--port-au-prince", "America/Port-au-Prince"),
        ("etc--gmt-14", "Etc/GMT-14"),
        (" UTC ", "UTC"),
        ("utc", "UTC"),
    ],
)
def test_parse_zone(text: str, key: str) -> None:
    assert parse_zone(text) == ZoneInfo(key)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("Europe/Lndon", "did you mean Europe/London?"),
        ("Mars/Olympus_Mons", ""),
        ("", ""),
        ("../../etc/passwd", ""),
    ],
)
def test_parse_zone_refuses(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match=r"^is not a known time zone") as info:
        parse_zone(text)
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("text", "start", "hint"),
    [
        # abbreviations tzdata does not name: the region they usually mean
        ("PST", "is not a known time zone", "did you mean America/Los_Angeles?"),
        ("edt", "is not a known time zone", "did you mean America/New_York?"),
        ("BST", "is not a known time zone", "did you mean Europe/London?"),
        ("CEST", "is not a known time zone", "did you mean Europe/Paris?"),
        # UTC offsets: the region, or the Etc/ zone with its inverted sign
        ("UTC-5", "is a UTC offset, not a time zone", "for a fixed offset, Etc/GMT+5"),
        ("GMT+3", "is a UTC offset, not a time zone", "for a fixed offset, Etc/GMT-3"),
        ("utc+05:30", "is a UTC offset, not a time zone", "(e.g. America/New_York)"),
        ("+02:00", "is a UTC offset, not a time zone", "Etc/GMT-2"),
    ],
)
def test_parse_zone_points_abbreviations_and_offsets_at_a_region(
    text: str, start: str, hint: str
) -> None:
    with pytest.raises(ValueError, match=f"^{start}") as info:
        parse_zone(text)
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("EST", '"EST" is a fixed offset, UTC-05:00 all year, with no daylight saving time'),
        ("EST", "e.g. America/New_York"),
        ("MST", "e.g. America/Denver (or America/Phoenix, on standard time all year)"),
        ("HST", "e.g. Pacific/Honolulu"),
        ("EST5EDT", '"EST5EDT" is a legacy POSIX-style zone'),
        ("EST5EDT", "e.g. America/New_York"),
        ("CST6CDT", "e.g. America/Chicago"),
        ("MST7MDT", "e.g. America/Denver"),
        ("PST8PDT", "e.g. America/Los_Angeles"),
        ("CET", "e.g. Europe/Paris"),
        ("Etc/GMT+5", "UTC-05:00 all year (Etc/ names invert the sign)"),
        ("Etc/GMT+5", "e.g. America/New_York"),
        ("Etc/GMT-9", "UTC+09:00 all year"),
        ("Etc/GMT-9", "e.g. Asia/Tokyo"),
        ("Etc/GMT+11", "e.g. Europe/London or America/New_York"),
    ],
)
def test_zone_warning_names_the_region(name: str, fragment: str) -> None:
    warning = zone_warning(ZoneInfo(name))
    assert warning is not None
    assert fragment in warning


@pytest.mark.parametrize(
    "name",
    [
        "UTC",
        "Etc/UTC",
        "GMT",
        "Etc/GMT",
        "Etc/GMT+0",
        "Zulu",
        "America/New_York",
        "America/Phoenix",  # no DST, but a region: its clocks are the law's
        "Asia/Tokyo",
        "Pacific/Honolulu",
        "Europe/London",
    ],
)
def test_zone_warning_is_quiet_for_regions_and_utc(name: str) -> None:
    assert zone_warning(ZoneInfo(name)) is None


@pytest.mark.parametrize(
    ("name", "country"),
    [
        ("Europe/London", "GB"),
        ("America/New_York", "US"),
        ("America/Chicago", "US"),
        ("Europe/Berlin", "DE"),
        ("Asia/Kolkata", "IN"),
        ("UTC", None),
        ("EST", None),
        ("Etc/GMT+5", None),
    ],
)
def test_zone_country(name: str, country: str | None) -> None:
    assert zone_country(ZoneInfo(name)) == country


@given(st.text(max_size=30))
def test_parsers_raise_only_value_error(text: str) -> None:
    for parse in (parse_time, parse_window, parse_days, parse_zone):
        with contextlib.suppress(ValueError):
            parse(text)


@given(st.integers(0, 23), st.integers(0, 59))
def test_parse_time_reads_what_it_is_given(hh: int, mm: int) -> None:
    assert parse_time(f"{hh:02d}:{mm:02d}") == parse_time(f"{hh}:{mm:02d}") == time(hh, mm)
    compact = parse_window(f"{hh:02d}{mm:02d}-2400")
    assert compact == parse_window(f"{hh:02d}:{mm:02d}-24:00")
    assert compact.start == time(hh, mm)


# ---------------------------------------------------------------- holiday calendar


@pytest.mark.parametrize(
    ("country", "subdivision", "message"),
    [
        ("XX", None, "unknown country 'XX'; use an ISO 3166-1 alpha-2 code such as US, GB, DE"),
        ("US", "ZZ", "unknown subdivision 'ZZ' for US; known: AK, AL, AR,"),
        ("UK", "ZZ", "unknown subdivision 'ZZ' for UK; known: ENG, NIR, SCT, WLS"),
        ("AL", "ZZ", "unknown subdivision 'ZZ' for AL; it has none"),
    ],
)
def test_validate_country_says_what_to_use(
    country: str, subdivision: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match="unknown") as info:
        validate_country(country, subdivision)
    assert str(info.value).startswith(message)
    assert len(str(info.value)) < 200  # long subdivision lists are cut


def test_long_subdivision_lists_are_truncated() -> None:
    with pytest.raises(ValueError, match=r", …$"):
        validate_country("US", "ZZ")


@pytest.mark.parametrize(
    ("country", "subdivision"),
    [("US", None), ("gb", "sct"), ("GB", "England"), ("de", "BY"), ("UK", "Scotland")],
)
def test_validate_country_accepts(country: str, subdivision: str | None) -> None:
    validate_country(country, subdivision)


def test_calendar_normalises_codes() -> None:
    assert HolidayCalendar("gb", "england") == HolidayCalendar("GB", "ENG")


def test_calendar_refuses_bad_regions() -> None:
    with pytest.raises(ValueError, match="unknown country 'XX'"):
        HolidayCalendar("XX")
    with pytest.raises(ValueError, match="needs a country"):
        HolidayCalendar(None, "NY")


@pytest.mark.parametrize(
    ("cal", "day", "name"),
    [
        (HolidayCalendar("US"), date(2026, 11, 26), "Thanksgiving Day"),
        (HolidayCalendar("US"), date(2026, 7, 3), "Independence Day (observed)"),
        (HolidayCalendar("US"), date(2026, 2, 12), None),
        (HolidayCalendar("US", "NY"), date(2026, 2, 12), "Lincoln's Birthday"),
        (HolidayCalendar("GB"), date(2025, 12, 26), "Boxing Day"),
        (HolidayCalendar("GB"), date(2026, 12, 28), "Boxing Day (observed)"),
        (HolidayCalendar("GB", "ENG"), date(2026, 11, 30), None),
        (HolidayCalendar("GB", "SCT"), date(2026, 11, 30), "Saint Andrew's Day"),
        (HolidayCalendar("DE"), date(2026, 1, 6), None),
        (HolidayCalendar("DE", "BY"), date(2026, 1, 6), "Epiphany"),
        (HolidayCalendar(dates=frozenset({date(2026, 6, 1)})), date(2026, 6, 1), "custom holiday"),
        (HolidayCalendar(dates=frozenset({date(2026, 6, 1)})), date(2026, 6, 2), None),
        (
            HolidayCalendar("US", dates=frozenset({date(2026, 12, 25)})),
            date(2026, 12, 25),
            "Christmas Day",
        ),
        (HolidayCalendar("US"), date(2041, 11, 28), "Thanksgiving Day"),  # any year, on demand
    ],
)
def test_holiday_name(cal: HolidayCalendar, day: date, name: str | None) -> None:
    assert cal.holiday_name(day) == name


@pytest.mark.parametrize(
    ("cal", "text"),
    [
        (HolidayCalendar(), ""),
        (HolidayCalendar("GB"), "GB"),
        (
            HolidayCalendar("US", "NY", frozenset({date(2026, 6, 1), date(2026, 6, 2)})),
            "US-NY + 2 dates",
        ),
        (HolidayCalendar(dates=frozenset({date(2026, 6, 1)})), "1 date"),
    ],
)
def test_calendar_describe(cal: HolidayCalendar, text: str) -> None:
    assert cal.describe() == text


# ---------------------------------------------------------------- DST

# (schedule zone, UTC instant, local wall clock it must be, open?)
DST_CASES = [
    # US spring forward, Sunday 2026-03-08: EST (-5) before, EDT (-4) after.
    (NY, "2026-03-07 21:30", "Sat 16:30", True),
    (NY, "2026-03-07 21:59", "Sat 16:59", True),
    (NY, "2026-03-07 22:00", "Sat 17:00", False),
    (NY, "2026-03-07 22:30", "Sat 17:30", False),
    (NY, "2026-03-08 20:30", "Sun 16:30", True),
    (NY, "2026-03-08 21:30", "Sun 17:30", False),
    (NY, "2026-03-09 20:30", "Mon 16:30", True),
    (NY, "2026-03-09 20:59", "Mon 16:59", True),
    (NY, "2026-03-09 21:00", "Mon 17:00", False),
    (NY, "2026-03-09 21:30", "Mon 17:30", False),
    # US fall back, Sunday 2026-11-01: EDT before, EST after.
    (NY, "2026-10-31 20:30", "Sat 16:30", True),
    (NY, "2026-10-31 21:30", "Sat 17:30", False),
    (NY, "2026-11-01 21:30", "Sun 16:30", True),
    (NY, "2026-11-01 22:00", "Sun 17:00", False),
    (NY, "2026-11-01 22:30", "Sun 17:30", False),
    (NY, "2026-11-02 21:30", "Mon 16:30", True),
    (NY, "2026-11-02 22:30", "Mon 17:30", False),
    # EU spring forward, Sunday 2026-03-29 (Berlin: CET +1 → CEST +2).
    (BERLIN, "2026-03-28 15:30", "Sat 16:30", True),
    (BERLIN, "2026-03-28 16:30", "Sat 17:30", False),
    (BERLIN, "2026-03-29 14:30", "Sun 16:30", True),
    (BERLIN, "2026-03-29 15:00", "Sun 17:00", False),
    (BERLIN, "2026-03-29 15:30", "Sun 17:30", False),
    (BERLIN, "2026-03-30 14:30", "Mon 16:30", True),
    (BERLIN, "2026-03-30 15:30", "Mon 17:30", False),
    # EU fall back, Sunday 2026-10-25 (London: BST +1 → GMT).
    (LONDON, "2026-10-24 15:30", "Sat 16:30", True),
    (LONDON, "2026-10-24 16:30", "Sat 17:30", False),
    (LONDON, "2026-10-25 16:30", "Sun 16:30", True),
    (LONDON, "2026-10-25 17:00", "Sun 17:00", False),
    (LONDON, "2026-10-25 17:30", "Sun 17:30", False),
    (LONDON, "2026-10-26 16:30", "Mon 16:30", True),
    (LONDON, "2026-10-26 17:30", "Mon 17:30", False),
]


@pytest.mark.parametrize(("zone", "instant", "wall", "is_open"), DST_CASES)
def test_a_17_00_close_stays_17_00_local_across_dst(
    zone: ZoneInfo, instant: str, wall: str, is_open: bool
) -> None:
    now = utc(instant)
    assert now.astimezone(zone).strftime("%a %H:%M") == wall  # the table itself is right
    assert hours("daily 09:00-17:00", zone).is_open(now) is is_open


@pytest.mark.parametrize(
    ("zone", "instant", "is_open"),
    [
        # 08:00-18:00 on the change day itself is the wall-clock interval: 08:00 EDT-18:00 EDT.
        (NY, "2026-03-08 11:59", False),
        (NY, "2026-03-08 12:00", True),
        (NY, "2026-03-08 21:59", True),
        (NY, "2026-03-08 22:00", False),
        # … and 08:00 EST-18:00 EST after falling back.
        (NY, "2026-11-01 12:59", False),
        (NY, "2026-11-01 13:00", True),
        (NY, "2026-11-01 22:59", True),
        (NY, "2026-11-01 23:00", False),
        (BERLIN, "2026-03-29 05:59", False),
        (BERLIN, "2026-03-29 06:00", True),
        (BERLIN, "2026-03-29 15:59", True),
        (BERLIN, "2026-03-29 16:00", False),
        (LONDON, "2026-10-25 07:59", False),
        (LONDON, "2026-10-25 08:00", True),
        (LONDON, "2026-10-25 17:59", True),
        (LONDON, "2026-10-25 18:00", False),
    ],
)
def test_window_on_a_dst_sunday_covers_the_wall_clock_interval(
    zone: ZoneInfo, instant: str, is_open: bool
) -> None:
    assert hours("Sun 08:00-18:00", zone).is_open(utc(instant)) is is_open


@pytest.mark.parametrize(
    ("zone", "day", "at", "instant"),
    [
        (NY, date(2026, 3, 8), time(1, 59), "2026-03-08 06:59"),
        (NY, date(2026, 3, 8), time(2, 0), "2026-03-08 07:00"),  # skipped: the jump itself
        (NY, date(2026, 3, 8), time(2, 30), "2026-03-08 07:00"),
        (NY, date(2026, 3, 8), time(3, 0), "2026-03-08 07:00"),
        (NY, date(2026, 11, 1), time(1, 30), "2026-11-01 05:30"),  # ambiguous: first occurrence
        (NY, date(2026, 11, 1), time(2, 0), "2026-11-01 07:00"),
        (BERLIN, date(2026, 3, 29), time(2, 30), "2026-03-29 01:00"),
        (BERLIN, date(2026, 10, 25), time(2, 30), "2026-10-25 00:30"),
        # Cuba springs forward at midnight: that day starts at 01:00.
        (ZoneInfo("America/Havana"), date(2026, 3, 8), time(0, 0), "2026-03-08 05:00"),
    ],
)
def test_local_instant(zone: ZoneInfo, day: date, at: time, instant: str) -> None:
    assert local_instant(zone, day, at) == utc(instant)


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2026-11-01 04:59", False),
        ("2026-11-01 05:30", True),  # 01:30 EDT
        ("2026-11-01 06:30", True),  # 01:30 EST, the same wall-clock time an hour later
        ("2026-11-01 07:00", False),  # 02:00 EST
        ("2026-03-08 06:30", True),  # 01:30 EST
        ("2026-03-08 07:00", False),  # 03:00 EDT: 02:00-03:00 never showed on the clock
    ],
)
def test_windows_around_the_skipped_and_repeated_hour(instant: str, is_open: bool) -> None:
    assert hours("Sun 01:00-02:00", NY).is_open(utc(instant)) is is_open


def test_a_window_entirely_in_the_skipped_hour_never_opens() -> None:
    h = hours("Sun 02:10-02:50", NY)
    assert not any(
        h.is_open(utc("2026-03-08 05:00") + timedelta(minutes=m)) for m in range(0, 180, 5)
    )


@pytest.mark.parametrize(
    ("instant", "since"),
    [
        # Monday 08:00 after spring forward: closed since Friday 17:00 EST.
        ("2026-03-09 12:00", local(NY, "2026-03-06 17:00")),
        # Monday 08:00 after fall back: closed since Friday 17:00 EDT.
        ("2026-11-02 13:00", local(NY, "2026-10-30 17:00")),
        # Thanksgiving: closed since Wednesday 17:00.
        ("2026-11-26 15:00", local(NY, "2026-11-25 17:00")),
    ],
)
def test_closed_since_across_dst_and_holidays(instant: str, since: datetime) -> None:
    h = hours("Mon-Fri 09:00-17:00", NY, HolidayCalendar("US"))
    found = h.closed_since(utc(instant))
    assert found == since
    assert found is not None
    assert found.utcoffset() == since.utcoffset()  # reported in the schedule's zone


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        hours("always").is_open(datetime(2026, 1, 1, 12, 0))


# ---------------------------------------------------------------- holidays in hours

GB_WEEK = "Mon-Fri 08:00-18:00"


@pytest.mark.parametrize(
    ("schedule", "cal", "now", "is_open", "why"),
    [
        (
            "Mon-Fri 09:00-17:00",
            HolidayCalendar("US"),
            local(NY, "2026-11-26 10:00"),
            False,
            "public holiday: Thanksgiving Day",
        ),
        (
            "Mon-Fri 09:00-17:00",
            HolidayCalendar("US"),
            local(NY, "2026-11-27 10:00"),
            True,
            "inside business hours (Mon-Fri 09:00-17:00 America/New_York)",
        ),
        (
            GB_WEEK,
            HolidayCalendar("GB"),
            local(LONDON, "2025-12-26 10:00"),
            False,
            "public holiday: Boxing Day",
        ),
        (
            GB_WEEK,
            HolidayCalendar("GB"),
            local(LONDON, "2026-12-28 10:00"),
            False,
            "public holiday: Boxing Day (observed)",
        ),
        # Boxing Day 2026 is a Saturday: it is the weekend that closes it.
        (
            GB_WEEK,
            HolidayCalendar("GB"),
            local(LONDON, "2026-12-26 10:00"),
            False,
            "non-working day (Sat)",
        ),
        (
            GB_WEEK,
            HolidayCalendar("GB", "SCT"),
            local(LONDON, "2026-11-30 10:00"),
            False,
            "public holiday: Saint Andrew's Day",
        ),
        (
            GB_WEEK,
            HolidayCalendar("GB", "ENG"),
            local(LONDON, "2026-11-30 10:00"),
            True,
            "inside business hours (Mon-Fri 08:00-18:00 Europe/London)",
        ),
        (
            "Mon-Fri 09:00-17:00",
            HolidayCalendar("US", "NY"),
            local(NY, "2026-02-12 10:00"),
            False,
            "public holiday: Lincoln's Birthday",
        ),
        (
            "Mon-Fri 09:00-17:00",
            HolidayCalendar("US"),
            local(NY, "2026-02-12 10:00"),
            True,
            "inside business hours (Mon-Fri 09:00-17:00 America/New_York)",
        ),
        (
            GB_WEEK,
            HolidayCalendar(dates=frozenset({date(2026, 6, 1)})),
            local(LONDON, "2026-06-01 10:00"),
            False,
            "custom holiday: 2026-06-01",
        ),
        (
            GB_WEEK,
            HolidayCalendar(dates=frozenset({date(2026, 6, 1)})),
            local(LONDON, "2026-06-02 10:00"),
            True,
            "inside business hours (Mon-Fri 08:00-18:00 Europe/London)",
        ),
    ],
)
def test_holidays_close_working_days(
    schedule: str, cal: HolidayCalendar, now: datetime, is_open: bool, why: str
) -> None:
    assert isinstance(now.tzinfo, ZoneInfo)
    h = hours(schedule, now.tzinfo, cal)
    assert h.is_open(now) is is_open
    assert h.why(now) == why


# ---------------------------------------------------------------- midnight-crossing windows

NIGHT = "Mon-Thu 22:00-06:00"


@pytest.mark.parametrize(
    ("now", "cal", "is_open"),
    [
        ("2026-06-01 23:00", NO_HOLIDAYS, True),  # Mon night
        ("2026-06-02 03:00", NO_HOLIDAYS, True),  # Tue 03:00: Monday's window
        ("2026-06-02 06:00", NO_HOLIDAYS, False),  # the window's end is exclusive
        ("2026-06-01 03:00", NO_HOLIDAYS, False),  # Mon 03:00 would be Sunday's window
        ("2026-06-05 03:00", NO_HOLIDAYS, True),  # Fri 03:00: Thursday's window
        ("2026-06-05 23:00", NO_HOLIDAYS, False),  # Fri is not a working day
        ("2026-06-06 03:00", NO_HOLIDAYS, False),  # … so Sat 03:00 is closed
        # A holiday Monday has no window, so Tuesday 03:00 is closed …
        ("2026-06-02 03:00", HolidayCalendar(dates=frozenset({date(2026, 6, 1)})), False),
        # … while a holiday Tuesday does not touch Monday's window that runs into it.
        ("2026-06-02 03:00", HolidayCalendar(dates=frozenset({date(2026, 6, 2)})), True),
        ("2026-06-02 23:00", HolidayCalendar(dates=frozenset({date(2026, 6, 2)})), False),
    ],
)
def test_a_window_belongs_to_the_day_it_starts(
    now: str, cal: HolidayCalendar, is_open: bool
) -> None:
    assert hours(NIGHT, LONDON, cal).is_open(local(LONDON, now)) is is_open


@pytest.mark.parametrize(
    ("schedule", "now", "is_open"),
    [
        ("Mon-Fri 00:00-24:00", "2026-06-05 23:59", True),
        ("Mon-Fri 00:00-24:00", "2026-06-06 00:00", False),
        ("Mon-Fri 08:00-24:00", "2026-06-05 23:59", True),
        ("Mon-Fri 08:00-24:00", "2026-06-02 00:30", False),
        ("Fri-Mon 00:00-24:00", "2026-06-07 12:00", True),
        ("Fri-Mon 00:00-24:00", "2026-06-03 12:00", False),
        ("Sun 12:00-11:00", "2026-06-08 10:59", True),  # 23 h from Sunday noon
        ("Sun 12:00-11:00", "2026-06-08 11:00", False),
        ("Mon-Fri 08:00-12:00,13:00-18:00", "2026-06-02 12:30", False),
        ("Mon-Fri 08:00-12:00,13:00-18:00", "2026-06-02 13:00", True),
        ("Mon-Fri 08:00-18:00; Sat 09:00-13:00", "2026-06-06 10:00", True),
        ("Mon-Fri 08:00-18:00; Sat 09:00-13:00", "2026-06-06 13:00", False),
    ],
)
def test_is_open(schedule: str, now: str, is_open: bool) -> None:
    assert hours(schedule).is_open(local(LONDON, now)) is is_open


def test_always_and_never_ignore_holidays() -> None:
    cal = HolidayCalendar("GB")
    christmas = local(LONDON, "2026-12-25 10:00")
    assert hours("always", LONDON, cal).is_open(christmas)
    assert not hours("never", LONDON, cal).is_open(local(LONDON, "2026-06-02 10:00"))


# ---------------------------------------------------------------- why / closed_since / describe


@pytest.mark.parametrize(
    ("schedule", "cal", "now", "why"),
    [
        (
            GB_WEEK,
            NO_HOLIDAYS,
            "2026-06-02 10:00",
            "inside business hours (Mon-Fri 08:00-18:00 Europe/London)",
        ),
        (
            GB_WEEK,
            NO_HOLIDAYS,
            "2026-06-05 20:00",
            "outside business hours (closed since Fri 18:00)",
        ),
        (GB_WEEK, NO_HOLIDAYS, "2026-06-06 10:00", "non-working day (Sat)"),
        (
            GB_WEEK,
            NO_HOLIDAYS,
            "2026-06-08 07:00",
            "outside business hours (closed since Fri 18:00)",
        ),
        (GB_WEEK, HolidayCalendar("GB"), "2026-12-25 10:00", "public holiday: Christmas Day"),
        (
            "Mon 08:00-09:00",
            NO_HOLIDAYS,
            "2026-06-08 07:00",
            "outside business hours (closed since Mon 2026-06-01 09:00)",
        ),
        (
            "Mon 08:00-09:00",
            HolidayCalendar(dates=frozenset({date(2026, 6, 1), date(2026, 5, 25)})),
            "2026-06-08 07:00",
            "outside business hours (not open in the last 14 days)",
        ),
        ("always", NO_HOLIDAYS, "2026-06-06 03:00", "inside business hours (always: 24x7)"),
        (
            "never",
            NO_HOLIDAYS,
            "2026-06-02 10:00",
            "outside business hours (never: off-hours at all times)",
        ),
    ],
)
def test_why(schedule: str, cal: HolidayCalendar, now: str, why: str) -> None:
    assert hours(schedule, LONDON, cal).why(local(LONDON, now)) == why


@pytest.mark.parametrize(
    ("schedule", "now", "since"),
    [
        (GB_WEEK, "2026-06-02 10:00", None),  # open
        (GB_WEEK, "2026-06-02 18:00", "2026-06-02 18:00"),
        (GB_WEEK, "2026-06-06 10:00", "2026-06-05 18:00"),
        ("Mon-Fri 00:00-24:00", "2026-06-06 10:00", "2026-06-06 00:00"),  # start of the weekend
        (NIGHT, "2026-06-05 12:00", "2026-06-05 06:00"),
        ("Mon-Fri 08:00-12:00,13:00-18:00", "2026-06-02 12:30", "2026-06-02 12:00"),
        ("never", "2026-06-02 10:00", None),
        ("always", "2026-06-02 10:00", None),
    ],
)
def test_closed_since(schedule: str, now: str, since: str | None) -> None:
    found = hours(schedule).closed_since(local(LONDON, now))
    assert found == (None if since is None else local(LONDON, since))


@pytest.mark.parametrize(
    ("schedule", "cal", "text"),
    [
        (
            GB_WEEK,
            HolidayCalendar("US", "NY", frozenset({date(2026, 6, 1), date(2026, 6, 2)})),
            "Mon-Fri 08:00-18:00 Europe/London, holidays: US-NY + 2 dates",
        ),
        (GB_WEEK, NO_HOLIDAYS, "Mon-Fri 08:00-18:00 Europe/London"),
        (
            "Mon-Fri 08:00-18:00; Sat 09:00-13:00",
            HolidayCalendar("GB"),
            "Mon-Fri 08:00-18:00; Sat 09:00-13:00 Europe/London, holidays: GB",
        ),
        ("always", HolidayCalendar("GB"), "always (24x7)"),
        ("never", HolidayCalendar("GB"), "never (off-hours at all times)"),
    ],
)
def test_describe(schedule: str, cal: HolidayCalendar, text: str) -> None:
    assert hours(schedule, LONDON, cal).describe() == text


def test_rules_and_hours_refuse_impossible_shapes() -> None:
    with pytest.raises(ValueError, match="days between 0"):
        Rule(frozenset({7}), (Window(time(8), time(18)),))
    with pytest.raises(ValueError, match="at least one window"):
        Rule(frozenset({0}), ())
    with pytest.raises(ValueError, match="always-open"):
        BusinessHours(
            LONDON, (Rule(frozenset({0}), (Window(time(8), time(18)),)),), always_open=True
        )


# ---------------------------------------------------------------- exemptions


@pytest.mark.parametrize(
    ("text", "until", "reason"),
    [
        ("until 2026-12-24", "2026-12-24 23:59:59.999999", ""),
        ("2026-12-24", "2026-12-24 23:59:59.999999", ""),
        ("Until 2026-12-24", "2026-12-24 23:59:59.999999", ""),
        ("until: 2026-12-24", "2026-12-24 23:59:59.999999", ""),
        ("2026-12-24T18:00", "2026-12-24 18:00", ""),
        ("2026-12-24 18:00", "2026-12-24 18:00", ""),
        ("until 2026-12-24 customer demo", "2026-12-24 23:59:59.999999", "customer demo"),
        ("until 2026-12-24 18:00 customer demo", "2026-12-24 18:00", "customer demo"),
        ("until 2026-12-24 2 demos", "2026-12-24 23:59:59.999999", "2 demos"),
        ("until_2026-12-24", "2026-12-24 23:59:59.999999", ""),
        ("until_2026-12-24_customer_demo", "2026-12-24 23:59:59.999999", "customer demo"),
        ("until_2026-12-24t1800", "2026-12-24 18:00", ""),
        ("until 2026-12-24 JIRA-12_ops", "2026-12-24 23:59:59.999999", "JIRA-12_ops"),
    ],
)
def test_parse_exemption(text: str, until: str, reason: str) -> None:
    found = parse_exemption(text, LONDON)
    assert found.until == local(LONDON, until)
    assert found.reason == reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "yes",
            "an exemption needs an expiry date (e.g. 'until 2026-12-24'); "
            "permanent exemptions are not honoured",
        ),
        ("true", "an exemption needs an expiry date"),
        ("forever", "an exemption needs an expiry date"),
        ("", "an exemption needs an expiry date"),
        ("until tomorrow", "an exemption needs an expiry date"),
        ("until 24/12/2026", "'24/12/2026' is not an expiry date (YYYY-MM-DD"),
        ("until 2026-13-01", "'2026-13-01' is not a date (YYYY-MM-DD)"),
        ("until 2026-02-30", "'2026-02-30' is not a date (YYYY-MM-DD)"),
        ("until 2026-12-24 25:00", "'25:00' is not a time (HH:MM)"),
        ("until 9999-12-31", "'9999-12-31' is out of range"),
    ],
)
def test_parse_exemption_refuses(text: str, message: str) -> None:
    with pytest.raises(TagValueError) as info:
        parse_exemption(text, LONDON)
    assert isinstance(info.value, ValueError)
    assert info.value.detail.startswith(message)
    assert str(info.value) == f'"{text}": {info.value.detail}'


def test_a_date_only_exemption_lasts_to_the_end_of_that_day_in_the_zone() -> None:
    exemption = parse_exemption("until 2026-12-24", NY)
    assert exemption.active(local(NY, "2026-12-24 23:59:59"))
    assert not exemption.active(local(NY, "2026-12-25 00:00"))
    assert exemption.describe() == "until 2026-12-24 23:59"
    assert (
        parse_exemption("2026-12-24 18:00 demo", NY).describe() == "until 2026-12-24 18:00 (demo)"
    )


@given(st.text(max_size=40))
def test_parse_exemption_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_exemption(text, LONDON)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2999, 12, 30)),
    st.sampled_from([LONDON, NY, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")]),
)
def test_a_date_only_exemption_covers_exactly_that_local_day(day: date, zone: ZoneInfo) -> None:
    exemption = parse_exemption(f"until {day.isoformat()}", zone)
    last = local_instant(zone, day + timedelta(days=1), time(0)) - timedelta(microseconds=1)
    assert exemption.active(last)
    assert not exemption.active(last + timedelta(microseconds=1))


# ---------------------------------------------------------------- always in all but name


@pytest.mark.parametrize(
    ("text", "around_the_clock"),
    [
        ("always", True),
        ("always Asia/Tokyo", True),
        ("Mon-Sun 00:00-24:00", True),
        ("daily 00:00-12:00,12:00-24:00", True),
        ("daily 06:00-12:00,12:00-06:00", True),  # each day's windows run into the next day's
        ("Mon-Fri 00:00-24:00; Sat-Sun 00:00-24:00", True),
        ("Mon-Sun 22:00-10:00; Mon-Sun 10:00-22:00", True),
        ("Sun-Sat 12:00-13:00,13:00-12:00", True),  # Sunday's window wraps into Monday
        ("Mon-Sat 00:00-24:00", False),
        ("Mon-Sun 00:00-23:59", False),
        ("Mon-Sun 00:01-24:00", False),
        ("Mon-Fri 08:00-18:00", False),
        ("Tue-Sun 00:00-24:00", False),
        ("never", False),
    ],
)
def test_open_all_week(text: str, around_the_clock: bool) -> None:
    assert parse_schedule(text, NY, HolidayCalendar()).open_all_week is around_the_clock


@given(st.sampled_from(["Mon-Fri 08:00-18:00", "daily 06:00-12:00,12:00-06:00", "always", "never"]))
def test_a_schedule_open_all_week_is_open_at_every_hour_of_a_plain_week(text: str) -> None:
    hours = parse_schedule(text, UTC_ZONE, HolidayCalendar())
    start = datetime(2026, 6, 1, 0, 30, tzinfo=UTC)
    all_open = all(hours.is_open(start + timedelta(hours=h)) for h in range(7 * 24))
    assert hours.open_all_week is all_open


UTC_ZONE = ZoneInfo("UTC")


# ---------------------------------------------------------------- near-always (allow_always)


@pytest.mark.parametrize(
    ("text", "near"),
    [
        ("always", True),
        ("Mon-Sun 00:00-24:00", True),
        ("Mon-Sun 00:00-23:59", True),
        ("Mon-Sun 00:01-24:00", True),
        ("Mon-Sun 01:00-24:00", True),  # exactly 23 h a day
        ("Mon-Sun 00:00-23:00", True),
        ("Mon-Sun 23:00-22:00", True),  # crosses midnight: 23 h on every calendar day
        ("Sun-Sat 12:00-11:00", True),  # Sunday's window wraps into Monday
        ("Mon-Sun 00:00-11:30,12:30-24:00", True),
        ("Mon-Fri 00:00-24:00; Sat-Sun 00:30-24:00", True),
        ("Mon-Sun 01:01-24:00", False),  # 22 h 59 a day
        ("Mon-Sun 00:00-22:59", False),
        ("Mon-Sun 22:00-21:00", True),  # 00:00-21:00 (from the day before) + 22:00-24:00
        ("Mon-Sat 23:00-22:00", False),  # no Sunday window: Monday has 23:00-24:00 only
        ("Mon-Sat 00:00-24:00", False),  # Sunday closed
        ("Mon-Sun 00:00-12:00", False),
        ("Mon-Fri 08:00-18:00", False),
        ("never", False),
    ],
)
def test_near_always(text: str, near: bool) -> None:
    assert parse_schedule(text, NY, HolidayCalendar()).near_always is near


def test_near_always_ignores_holidays() -> None:
    # Decided on the weekly pattern: a holiday calendar does not make a 24x7 tag less always-like.
    assert parse_schedule("Mon-Sun 00:00-23:59", LONDON, HolidayCalendar("GB")).near_always


_QUARTER = 15  # windows on quarter hours, so sampling each quarter hour is exact


@st.composite
def _schedules(draw: st.DrawFn) -> str:
    clauses = []
    for _ in range(draw(st.integers(1, 3))):
        days = draw(st.sets(st.integers(0, 6), min_size=1))
        windows = []
        for _ in range(draw(st.integers(1, 2))):
            start = draw(st.integers(0, 95))
            end = draw(st.integers(1, 96).filter(lambda e, s=start: e != s))
            windows.append(f"{_hhmm(start)}-{_hhmm(end)}")
        clauses.append(f"{','.join(DAY_ABBR[d] for d in sorted(days))} {','.join(windows)}")
    return "; ".join(clauses)


def _hhmm(quarters: int) -> str:
    return f"{quarters * _QUARTER // 60:02d}:{quarters * _QUARTER % 60:02d}"


@given(_schedules())
def test_near_always_is_23_open_hours_on_each_day_of_a_plain_week(text: str) -> None:
    try:
        schedule = parse_schedule(text, UTC_ZONE, HolidayCalendar())
    except TagValueError:
        return  # overlapping windows and the like are refused; nothing to judge
    monday = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday, no DST in UTC
    open_hours = [
        sum(
            schedule.is_open(monday + timedelta(days=day, minutes=q * _QUARTER))
            for q in range(24 * 60 // _QUARTER)
        )
        * _QUARTER
        / 60
        for day in range(7)
    ]
    assert schedule.near_always is all(h >= NEAR_ALWAYS_HOURS for h in open_hours)
    if schedule.near_always:
        assert sum(open_hours) >= NEAR_ALWAYS_HOURS * 7


# ---------------------------------------------------------------- open intervals


@given(
    st.sampled_from(
        [
            "Mon-Fri 08:00-18:00",
            "Mon-Fri 08:00-12:00,13:00-18:00; Sat 09:00-13:00",
            "Mon-Thu 22:00-06:00",
            "daily 06:00-12:00,12:00-06:00",
            "Sun 01:30-03:00",  # the skipped and repeated hours of both zones
            "always",
            "never",
        ]
    ),
    st.sampled_from([NY, LONDON, ZoneInfo("Australia/Lord_Howe")]),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    st.lists(st.integers(0, 4 * 24 * 60), min_size=1, max_size=20),
)
def test_open_intervals_are_exactly_where_is_open_is_true(
    text: str, zone: ZoneInfo, start: datetime, minutes: list[int]
) -> None:
    schedule = parse_schedule(text, zone, HolidayCalendar("US"))
    lo = start.replace(tzinfo=UTC)
    hi = lo + timedelta(days=4)
    spans = schedule.open_intervals(lo, hi)
    assert all(a < b for a, b in spans)
    assert all(b < c for (_, b), (c, _) in pairwise(spans))  # merged
    for m in minutes:
        t = lo + timedelta(minutes=m)
        if t < hi:
            assert schedule.is_open(t) == any(a <= t < b for a, b in spans), t


# ---------------------------------------------------------------- holidays of a tag schedule

DATES = frozenset({date(2026, 12, 24)})
US_NY = HolidayCalendar("US", "NY", DATES)


@pytest.mark.parametrize(
    ("text", "local_holidays", "calendar"),
    [
        # named: that region's public holidays, the configuration's own dates kept
        (
            "Mon-Fri 08:00-18:00 Europe/London holidays=GB",
            False,
            HolidayCalendar("GB", None, DATES),
        ),
        (
            "Mon-Fri 08:00-18:00 Europe/London holidays=gb-eng",
            True,
            HolidayCalendar("GB", "ENG", DATES),
        ),
        ("Mon-Fri 08:00-18:00 holidays=DE", False, HolidayCalendar("DE", None, DATES)),
        (
            "Mon-Fri 08:00-18:00 Europe/London holidays: GB;",
            False,
            HolidayCalendar("GB", None, DATES),
        ),
        ("Mon-Fri 08:00-18:00 Europe/London holidays=none", True, HolidayCalendar(dates=DATES)),
        ("mon-fri_0800-1800_europe--london_holidays-gb", False, HolidayCalendar("GB", None, DATES)),
        ("mon-fri_0800-1800_holidays-none", False, HolidayCalendar(dates=DATES)),
        ("always holidays=GB", False, HolidayCalendar("GB", None, DATES)),
        # not named: a zone of another country brings its own (with local_holidays: tags)
        ("Mon-Fri 08:00-18:00 Europe/London", True, HolidayCalendar("GB", None, DATES)),
        ("mon-fri_0800-1800_europe--berlin", True, HolidayCalendar("DE", None, DATES)),
        ("Mon-Fri 08:00-18:00 Europe/London", False, US_NY),
        ("Mon-Fri 08:00-18:00 America/Chicago", True, US_NY),  # the same country: as configured
        ("Mon-Fri 08:00-18:00", True, US_NY),  # the configuration's zone
        ("Mon-Fri 08:00-18:00 UTC", True, US_NY),  # a zone of no country
    ],
)
def test_a_tag_schedule_names_or_derives_its_holidays(
    text: str, local_holidays: bool, calendar: HolidayCalendar
) -> None:
    parsed = parse_schedule(text, NY, US_NY, local_holidays=local_holidays)
    assert parsed.holidays == calendar


def test_a_configuration_without_a_country_gets_none_invented() -> None:
    mine = HolidayCalendar(dates=DATES)
    parsed = parse_schedule("Mon-Fri 08:00-18:00 Europe/London", NY, mine, local_holidays=True)
    assert parsed.holidays == mine


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("Mon-Fri 08:00-18:00 holidays=XX", "holidays=XX: unknown country 'XX'"),
        ("Mon-Fri 08:00-18:00 holidays=GB-XYZ", "holidays=GB-XYZ: unknown subdivision 'XYZ'"),
        ("Mon-Fri 08:00-18:00 holidays=GB Europe/London", "'holidays=GB' goes at the end"),
        ("Mon-Fri 08:00-18:00 holidays=", "holidays needs a country code or none"),
        ("Mon-Fri 08:00-18:00 holidays=GB holidays=US", "holidays is given 2 times"),
        ("holidays=GB", "empty schedule"),
    ],
)
def test_a_tag_holidays_word_that_cannot_be_read(text: str, detail: str) -> None:
    with pytest.raises(TagValueError) as info:
        parse_schedule(text, NY, US_NY, local_holidays=True)
    assert str(info.value).startswith(f'"{text}": ')
    assert detail in str(info.value)


def test_a_london_lab_is_not_closed_for_us_thanksgiving() -> None:
    thanksgiving = local(LONDON, "2026-11-26 10:00")
    for text in (
        "Mon-Fri 08:00-18:00 Europe/London",
        "Mon-Fri 08:00-18:00 Europe/London holidays=GB",
    ):
        lab = parse_schedule(text, NY, HolidayCalendar("US"), local_holidays=True)
        assert lab.is_open(thanksgiving)
        assert not lab.is_open(local(LONDON, "2026-11-26 22:00"))  # its nights stay off-hours
        assert not lab.is_open(local(LONDON, "2026-12-28 10:00"))  # Boxing Day (observed)
    # Named, the US calendar closes it on Thanksgiving all day
    us = parse_schedule(
        "Mon-Fri 08:00-18:00 Europe/London holidays=US",
        NY,
        HolidayCalendar("GB"),
        local_holidays=True,
    )
    assert not us.is_open(thanksgiving)
