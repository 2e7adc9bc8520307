"""The schedule grammar of tags and labels: readable and compact forms, errors, round trips."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Set as AbstractSet
from datetime import date, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.hours import (
    BusinessHours,
    HolidayCalendar,
    Rule,
    TagValueError,
    Window,
    format_days,
    format_schedule,
    parse_days,
    parse_schedule,
)
from offhours.sources.ravello import parse_description_tags, read_description_tags

LONDON = ZoneInfo("Europe/London")
NY = ZoneInfo("America/New_York")
CAL = HolidayCalendar("GB", dates=frozenset({date(2026, 6, 1)}))
WEEK = frozenset(range(5))
COMPACT_RE = re.compile(r"[a-z0-9_-]{0,63}")


def w(text: str) -> Window:
    start, end = text.split("-")
    return Window(time.fromisoformat(start), time.fromisoformat(end.replace("24:00", "00:00")))


def bh(*rules: tuple[AbstractSet[int], tuple[str, ...]], zone: ZoneInfo = LONDON) -> BusinessHours:
    return BusinessHours(
        zone, tuple(Rule(frozenset(d), tuple(w(x) for x in ws)) for d, ws in rules), CAL
    )


def parse(text: str, zone: ZoneInfo = LONDON) -> BusinessHours:
    return parse_schedule(text, zone, CAL)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mon-Fri 07:30-19:00 Europe/London", bh((WEEK, ("07:30-19:00",)))),
        ("Mon-Fri 07:30-19:00", bh((WEEK, ("07:30-19:00",)))),  # default zone
        ("Mon-Fri 07:30-19:00 America/New_York", bh((WEEK, ("07:30-19:00",)), zone=NY)),
        ("Mon-Fri 08:00-12:00,13:00-18:00", bh((WEEK, ("08:00-12:00", "13:00-18:00")))),
        ("Mon-Fri 08:00-12:00 13:00-18:00", bh((WEEK, ("08:00-12:00", "13:00-18:00")))),
        (
            "Mon-Fri 08:00-18:00; Sat 09:00-13:00 Europe/London",
            bh((WEEK, ("08:00-18:00",)), ({5}, ("09:00-13:00",))),
        ),
        ("Mon-Fri 22:00-06:00", bh((WEEK, ("22:00-06:00",)))),
        ("Mon, Wed, Fri 9:00 - 17:00", bh(({0, 2, 4}, ("09:00-17:00",)))),
        ("daily 00:00-24:00 utc", bh((set(range(7)), ("00:00-24:00",)), zone=ZoneInfo("UTC"))),
        ("  Mon-Fri 07:30-19:00 Europe/London;  ", bh((WEEK, ("07:30-19:00",)))),
        # compact form
        ("mon-fri_0730-1900_europe.london", bh((WEEK, ("07:30-19:00",)))),
        ("mon-fri_0730-1900", bh((WEEK, ("07:30-19:00",)))),
        ("mon-fri_0730-1900_america.new_york", bh((WEEK, ("07:30-19:00",)), zone=NY)),
        ("mon_wed_fri_0900-1700", bh(({0, 2, 4}, ("09:00-17:00",)))),
        (
            "mon-fri_0800-1200_1300-1800_sat_0900-1300_europe.london",
            bh((WEEK, ("08:00-12:00", "13:00-18:00")), ({5}, ("09:00-13:00",))),
        ),
        ("fri-mon_2200-0600", bh(({4, 5, 6, 0}, ("22:00-06:00",)))),
        ("mon-fri_0730-1900_america--new_york", bh((WEEK, ("07:30-19:00",)), zone=NY)),
    ],
)
def test_parse_schedule(text: str, expected: BusinessHours) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "always_open", "zone"),
    [
        ("always", True, LONDON),
        ("ALWAYS", True, LONDON),
        ("never", False, LONDON),
        (" Never ", False, LONDON),
        ("always America/New_York", True, NY),
        ("never_america.new_york", False, NY),
    ],
)
def test_always_and_never(text: str, always_open: bool, zone: ZoneInfo) -> None:
    assert parse(text) == BusinessHours(zone, (), CAL, always_open=always_open)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("Mon-Fry 08:00-18:00", "'Mon-Fry' is not a day range (e.g. Mon-Fri)"),
        ("mon-fry_0800-1800", "'mon-fry' is not a day range (e.g. Mon-Fri)"),
        ("Mon-Fri", "'Mon-Fri' needs a time window after it (e.g. Mon-Fri 08:00-18:00)"),
        ("Mon-Fri; Sat 09:00-12:00", "'Mon-Fri' needs a time window after it"),
        ("08:00-18:00", "'08:00-18:00' needs a day range before it (e.g. Mon-Fri 08:00-18:00)"),
        ("Mon-Fri 08:00-18:00; 19:00-20:00", "'19:00-20:00' needs a day range before it"),
        ("Mon-Fri 25:00-18:00", "'25:00-18:00' is not a time window (HH:MM-HH:MM"),
        ("Mon-Fri 8am-6pm", "'8am-6pm' is not a time window (HH:MM-HH:MM"),
        ("Mon-Fri 08:00-12:00,", "'08:00-12:00,' is not a list of time windows"),
        ("Mon-Fri 08:00-18:00 Europe/Lndon", "'Europe/Lndon' is not a known time zone"),
        ("Mon-Fri 08:00-18:00 Europe/Lndon", "did you mean Europe/London?"),
        ("mon-fri_0800-1800_europe.lndon", "'europe.lndon' is not a known time zone"),
        (
            "Mon-Fri 08:00-18:00 Europe/London; Sat 09:00-13:00",
            "the time zone 'Europe/London' goes once, at the end of the schedule",
        ),
        (
            "Mon-Fri 08:00-18:00 lunch 12:00-13:00",
            "'lunch' is not a day range (e.g. Mon-Fri); a time zone goes once, at the end",
        ),
        ("Mon-Fri always", "'always' stands alone"),
        ("always Mon-Fri", "'Mon-Fri' is not a known time zone"),
        ("", "empty schedule; expected e.g. 'Mon-Fri 08:00-18:00 Europe/London'"),
        (" ; ", "empty schedule"),
    ],
)
def test_errors_point_at_the_bad_token(text: str, detail: str) -> None:
    with pytest.raises(TagValueError) as info:
        parse(text)
    assert detail in info.value.detail
    assert str(info.value) == f'"{text}": {info.value.detail}'


def test_the_briefs_example_message() -> None:
    with pytest.raises(ValueError, match="Mon-Fry") as info:
        parse("Mon-Fry 08:00-18:00")
    assert str(info.value) == (
        "\"Mon-Fry 08:00-18:00\": 'Mon-Fry' is not a day range (e.g. Mon-Fri)"
    )


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(TagValueError) as info:
        parse("Mon-Fry " + "08:00-18:00," * 30)
    assert len(str(info.value)) < 160
    assert "…" in str(info.value)


@pytest.mark.parametrize(
    ("hours", "readable", "compact"),
    [
        (
            bh((WEEK, ("07:30-19:00",))),
            "Mon-Fri 07:30-19:00 Europe/London",
            "mon-fri_0730-1900_europe--london",
        ),
        (
            bh((WEEK, ("08:00-12:00", "13:00-18:00")), ({5}, ("09:00-13:00",)), zone=NY),
            "Mon-Fri 08:00-12:00,13:00-18:00; Sat 09:00-13:00 America/New_York",
            "mon-fri_0800-1200_1300-1800_sat_0900-1300_america--new_york",
        ),
        (
            bh(({0, 2, 4}, ("22:00-06:00",))),
            "Mon,Wed,Fri 22:00-06:00 Europe/London",
            "mon_wed_fri_2200-0600_europe--london",
        ),
        (
            bh(({4, 5, 6, 0}, ("00:00-24:00",))),
            "Fri-Mon 00:00-24:00 Europe/London",
            "fri-mon_0000-2400_europe--london",
        ),
        (
            bh((set(range(7)), ("08:00-24:00",))),
            "daily 08:00-24:00 Europe/London",
            "daily_0800-2400_europe--london",
        ),
        (BusinessHours(LONDON, (), CAL, always_open=True), "always", "always"),
        (BusinessHours(LONDON, (), CAL), "never", "never"),
    ],
)
def test_format_schedule(hours: BusinessHours, readable: str, compact: str) -> None:
    assert format_schedule(hours) == readable
    assert format_schedule(hours, compact=True) == compact


@pytest.mark.parametrize(
    ("days", "text"),
    [
        ({0, 1, 2, 3, 4}, "Mon-Fri"),
        ({0, 2, 4}, "Mon,Wed,Fri"),
        ({0, 1, 2, 4}, "Mon-Wed,Fri"),
        ({5, 6}, "Sat-Sun"),
        ({5, 6, 0}, "Sat-Mon"),
        ({0, 2, 5, 6}, "Wed,Sat-Mon"),
        ({6}, "Sun"),
        (set(range(7)), "daily"),
    ],
)
def test_format_days(days: set[int], text: str) -> None:
    assert format_days(frozenset(days)) == text


@given(st.frozensets(st.integers(0, 6), min_size=1))
def test_format_days_round_trips(days: frozenset[int]) -> None:
    assert parse_days(format_days(days)) == days
    assert parse_days(format_days(days, compact=True).replace("_", ",")) == days


# ---------------------------------------------------------------- properties

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "America/Argentina/Buenos_Aires",
    "America/Port-au-Prince",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Etc/GMT-14",
]
OTHER_ZONE = ZoneInfo("Pacific/Chatham")  # never generated: proves the zone is written

times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
# A window that starts and ends at the same time is refused by the grammar (empty), except the
# whole day, 00:00-24:00.
windows = st.builds(Window, times, times).filter(lambda w: w.start != w.end or w.start == time(0))
rules = st.builds(
    Rule,
    st.frozensets(st.integers(0, 6), min_size=1),
    st.lists(windows, min_size=1, max_size=3).map(tuple),
)
zones = st.sampled_from(ZONES).map(ZoneInfo)
timed_hours = st.builds(
    BusinessHours, zones, st.lists(rules, min_size=1, max_size=4).map(tuple), st.just(CAL)
)
special_hours = st.builds(
    lambda zone, always: BusinessHours(zone, (), CAL, always_open=always), zones, st.booleans()
)


@given(timed_hours, st.booleans())
def test_format_then_parse_is_identity(hours: BusinessHours, compact: bool) -> None:
    text = format_schedule(hours, compact=compact)
    assert parse_schedule(text, OTHER_ZONE, CAL) == hours


@given(special_hours, st.booleans())
def test_always_and_never_round_trip_in_their_zone(hours: BusinessHours, compact: bool) -> None:
    assert parse_schedule(format_schedule(hours, compact=compact), hours.zone, CAL) == hours


@given(st.one_of(timed_hours, special_hours))
def test_compact_form_fits_label_rules(hours: BusinessHours) -> None:
    text = format_schedule(hours, compact=True)
    assert re.fullmatch(r"[a-z0-9_+-]+", text), text
    # Zones such as Etc/GMT+5 keep their "+", which no label allows.
    if len(text) <= 63 and "+" not in text:
        assert COMPACT_RE.fullmatch(text)


def test_typical_compact_schedules_fit_in_a_gcp_label() -> None:
    for hours in [
        bh((WEEK, ("07:30-19:00",)), zone=ZoneInfo("America/Argentina/Buenos_Aires")),
        bh((WEEK, ("08:00-12:00", "13:00-18:00")), ({5}, ("09:00-13:00",)), zone=NY),
    ]:
        assert COMPACT_RE.fullmatch(format_schedule(hours, compact=True))


@given(st.text(max_size=60))
def test_parse_raises_only_value_error_on_any_text(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse(text)


GRAMMAR_TOKENS = [
    "Mon",
    "fri",
    "Mon-Fri",
    "Sat-Sun",
    "Fri-Mon",
    "daily",
    "*",
    "Mon,Wed",
    "08:00-18:00",
    "0800-1800",
    "22:00-06:00",
    "24:00",
    "00:00-24:00",
    "08:00",
    "-",
    ",",
    ";",
    "_",
    "always",
    "never",
    "Europe/London",
    "europe.london",
    "america.new_york",
    "UTC",
    "x",
    "25:00-26:00",
    "Mon-",
    "",
    " ",
]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(GRAMMAR_TOKENS), max_size=8), st.sampled_from([" ", "_", ""]))
def test_parse_near_grammar_raises_only_value_error(tokens: list[str], sep: str) -> None:
    text = sep.join(tokens)
    hours: BusinessHours | None = None
    message = ""
    try:
        hours = parse(text)
    except ValueError as exc:
        message = str(exc)
    if hours is None:
        assert message.startswith('"')  # always names the value
    else:
        # whatever parses, formats back to the same schedule
        assert parse_schedule(format_schedule(hours), hours.zone, CAL) == hours


# ---------------------------------------------------------------- tags in a Ravello description
# One line per tag; a tag written twice is a problem and, when the lines disagree, neither wins.


@pytest.mark.parametrize(
    ("description", "tags", "problems"),
    [
        ("offhours: always", {"offhours": "always"}, ()),
        ("offhours: always\nteam=emea", {"offhours": "always", "team": "emea"}, ()),
        # two lines that disagree: neither wins
        (
            "offhours: Mon-Fri 08:00-18:00\nnotes\noffhours: always",
            {},
            (
                "tag offhours is written on 2 lines of the description with different values "
                '("Mon-Fri 08:00-18:00", "always"); neither is used: keep one line',
            ),
        ),
        (
            "offhours-exempt: until 2026-12-01\nteam: a\noffhours-exempt=until 9999-12-30",
            {"team": "a"},
            (
                "tag offhours-exempt is written on 2 lines of the description with different "
                'values ("until 2026-12-01", "until 9999-12-30"); neither is used: keep one line',
            ),
        ),
        # three lines, two values: each value named once
        (
            "k=a\nk=b\nk=a",
            {},
            (
                "tag k is written on 3 lines of the description with different values "
                '("a", "b"); neither is used: keep one line',
            ),
        ),
        # the same value twice: used, still reported
        (
            "offhours: never\noffhours:never",
            {"offhours": "never"},
            ("tag offhours is written on 2 lines of the description; keep one",),
        ),
        # case variants are different keys here; the policy judges them (neither wins there)
        ("Offhours: always\noffhours: never", {"Offhours": "always", "offhours": "never"}, ()),
        # a long value is clipped in the problem, not in the tag
        (
            f"k={'x' * 60}\nk=y",
            {},
            (
                "tag k is written on 2 lines of the description with different values "
                f'("{"x" * 39}…", "y"); neither is used: keep one line',
            ),
        ),
        (None, {}, ()),
    ],
)
def test_read_description_tags(
    description: str | None, tags: dict[str, str], problems: tuple[str, ...]
) -> None:
    assert read_description_tags(description) == (tags, problems)
    assert parse_description_tags(description) == tags


_KEYS = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
_VALUES = st.from_regex(r"[A-Za-z0-9 :-]{1,20}", fullmatch=True).map(str.strip).filter(bool)


@given(_KEYS, st.lists(_VALUES, min_size=2, max_size=5), st.lists(_VALUES, max_size=3))
def test_a_tag_written_twice_never_lets_one_line_win(
    key: str, values: list[str], other: list[str]
) -> None:
    description = "\n".join(
        [f"{key}: {v}" for v in values] + [f"other-{i}: {v}" for i, v in enumerate(other)]
    )
    tags, problems = read_description_tags(description)
    assert len(problems) == 1
    assert problems[0].startswith(f"tag {key} is written on {len(values)} lines")
    if len(set(values)) > 1:
        assert key not in tags
    else:
        assert tags[key] == values[0]
    assert {k: v for k, v in tags.items() if k != key} == {
        f"other-{i}": v for i, v in enumerate(other)
    }
