"""The policy: running, tags (schedule overrides, exemptions), grace, off-hours at any instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.hours import HolidayCalendar, parse_schedule
from offhours.model import Decision, Resource
from offhours.policy import MAX_TAG_LENGTH, Policy, decide, evaluate

LONDON = ZoneInfo("Europe/London")
NY = ZoneInfo("America/New_York")
CAL = HolidayCalendar("GB")
HOURS = parse_schedule("Mon-Fri 08:00-18:00", LONDON, CAL)
POLICY = Policy(HOURS, grace=timedelta(minutes=30))
SCHEDULE = "Mon-Fri 08:00-18:00 Europe/London, holidays: GB"

TUE_NOON = datetime(2026, 6, 2, 12, 0, tzinfo=LONDON)
TUE_EVENING = datetime(2026, 6, 2, 20, 0, tzinfo=LONDON)
TUE_CLOSE = datetime(2026, 6, 2, 18, 0, tzinfo=LONDON)


def res(running: int = 1, tags: dict[str, str] | None = None, **kw: object) -> Resource:
    return Resource(
        provider="ravello",
        source="lab",
        id="app-1",
        name="training-lab",
        running=running,
        tags=tags or {},
        **kw,  # type: ignore[arg-type]
    )


def test_not_running_is_never_flagged() -> None:
    d = decide(res(running=0, stopped=3), POLICY, TUE_EVENING)
    assert (d.flagged, d.reason, d.schedule, d.problems) == (False, "not running", SCHEDULE, ())


@pytest.mark.parametrize(
    ("now", "flagged", "reason", "since"),
    [
        (TUE_NOON, False, "inside business hours (Mon-Fri 08:00-18:00 Europe/London)", None),
        (TUE_EVENING, True, "outside business hours (closed since Tue 18:00)", TUE_CLOSE),
        # any instant of off-hours counts, not only one exact hour
        (
            datetime(2026, 6, 2, 18, 0, 1, tzinfo=LONDON),
            True,
            "outside business hours (closed since Tue 18:00)",
            TUE_CLOSE,
        ),
        (
            datetime(2026, 6, 2, 23, 37, tzinfo=LONDON),
            True,
            "outside business hours (closed since Tue 18:00)",
            TUE_CLOSE,
        ),
        (
            datetime(2026, 6, 3, 3, 12, tzinfo=LONDON),
            True,
            "outside business hours (closed since Tue 18:00)",
            TUE_CLOSE,
        ),
        (
            datetime(2026, 6, 3, 7, 59, tzinfo=LONDON),
            True,
            "outside business hours (closed since Tue 18:00)",
            TUE_CLOSE,
        ),
        (
            datetime(2026, 6, 6, 12, 0, tzinfo=LONDON),
            True,
            "non-working day (Sat)",
            datetime(2026, 6, 5, 18, 0, tzinfo=LONDON),
        ),
        (
            datetime(2026, 12, 25, 10, 0, tzinfo=LONDON),
            True,
            "public holiday: Christmas Day",
            datetime(2026, 12, 24, 18, 0, tzinfo=LONDON),
        ),
        # the same instant written in UTC
        (
            datetime(2026, 6, 2, 19, 0, tzinfo=UTC),
            True,
            "outside business hours (closed since Tue 18:00)",
            TUE_CLOSE,
        ),
    ],
)
def test_default_hours(now: datetime, flagged: bool, reason: str, since: datetime | None) -> None:
    d = decide(res(), POLICY, now)
    assert (d.flagged, d.reason, d.off_hours_since) == (flagged, reason, since)
    assert d.schedule == SCHEDULE
    assert d.problems == ()
    assert d.exempt_until is None


@pytest.mark.parametrize(
    ("tags", "now", "flagged", "schedule"),
    [
        (
            {"offhours": "Mon-Fri 07:30-19:00 Europe/London"},
            TUE_CLOSE,
            False,
            "Mon-Fri 07:30-19:00 Europe/London, holidays: GB",
        ),
        (
            {"offhours": "mon-fri_0730-1900_europe.london"},
            TUE_CLOSE,
            False,
            "Mon-Fri 07:30-19:00 Europe/London, holidays: GB",
        ),
        (
            {"OffHours": "Mon-Fri 07:30-19:00"},
            TUE_CLOSE,
            False,
            "Mon-Fri 07:30-19:00 Europe/London, holidays: GB",
        ),  # key case, policy's zone
        (
            {"offhours": "mon-fri_0730-1900"},
            datetime(2026, 6, 2, 19, 0, tzinfo=LONDON),
            True,
            "Mon-Fri 07:30-19:00 Europe/London, holidays: GB",
        ),
        # New York hours: 13:00-22:00 London time in June
        (
            {"offhours": "Mon-Fri 08:00-17:00 America/New_York"},
            TUE_EVENING,
            False,
            "Mon-Fri 08:00-17:00 America/New_York, holidays: US",  # its zone's country's
        ),
        (
            {"offhours": "mon-fri_0800-1700_america.new_york"},
            TUE_NOON,
            True,
            "Mon-Fri 08:00-17:00 America/New_York, holidays: US",
        ),
        (
            {"offhours": "always"},
            datetime(2026, 12, 25, 3, 0, tzinfo=LONDON),
            False,
            "always (24x7)",
        ),
        ({"offhours": "never"}, TUE_NOON, True, "never (off-hours at all times)"),
        (
            {"offhours": "Mon-Fri 22:00-06:00"},
            datetime(2026, 6, 3, 3, 0, tzinfo=LONDON),
            False,
            "Mon-Fri 22:00-06:00 Europe/London, holidays: GB",
        ),
    ],
)
def test_schedule_tag_overrides_the_default(
    tags: dict[str, str], now: datetime, flagged: bool, schedule: str
) -> None:
    d = decide(res(tags=tags), POLICY, now)
    assert (d.flagged, d.schedule, d.problems) == (flagged, schedule, ())


def test_never_says_why_and_has_no_start() -> None:
    d = decide(res(tags={"offhours": "never"}), POLICY, TUE_NOON)
    assert d.reason == "outside business hours (never: off-hours at all times)"
    assert d.off_hours_since is None


@pytest.mark.parametrize(("now", "flagged"), [(TUE_NOON, False), (TUE_EVENING, True)])
def test_a_malformed_schedule_tag_is_reported_and_the_default_applies(
    now: datetime, flagged: bool
) -> None:
    d = decide(res(tags={"offhours": "Mon-Fry 08:00-18:00"}), POLICY, now)
    assert d.flagged is flagged
    assert d.schedule == SCHEDULE
    assert d.problems == (
        "tag offhours=\"Mon-Fry 08:00-18:00\": 'Mon-Fry' is not a day range (e.g. Mon-Fri); "
        "using the default hours",
    )


@pytest.mark.parametrize(
    ("tags", "now", "flagged", "reason", "until", "problem"),
    [
        # valid and not expired
        (
            {"offhours-exempt": "until 2026-06-24 customer demo"},
            TUE_EVENING,
            False,
            "exempt until 2026-06-24 23:59 (customer demo)",
            datetime(2026, 6, 24, 23, 59, 59, 999999, tzinfo=LONDON),
            None,
        ),
        (
            {"Offhours-Exempt": "until_2026-06-02t2100"},
            TUE_EVENING,
            False,
            "exempt until 2026-06-02 21:00",
            datetime(2026, 6, 2, 21, 0, tzinfo=LONDON),
            None,
        ),
        # the date is read in the zone of the tag's own schedule
        (
            {
                "offhours": "Mon-Fri 08:00-17:00 America/New_York",
                "offhours-exempt": "until 2026-06-02 18:00",
            },
            datetime(2026, 6, 2, 22, 30, tzinfo=LONDON),
            False,
            "exempt until 2026-06-02 18:00",
            datetime(2026, 6, 2, 18, 0, tzinfo=NY),
            None,
        ),
        # expired: reported, judged normally
        (
            {"offhours-exempt": "until 2026-06-01 demo"},
            TUE_EVENING,
            True,
            "outside business hours (closed since Tue 18:00)",
            None,
            'tag offhours-exempt="until 2026-06-01 demo": exemption expired on 2026-06-01 23:59; '
            "remove the tag or set a later date",
        ),
        (
            {"offhours-exempt": "2026-06-02 19:00"},
            TUE_EVENING,
            True,
            "outside business hours (closed since Tue 18:00)",
            None,
            "exemption expired on 2026-06-02 19:00",
        ),
        # malformed: reported, judged normally
        (
            {"offhours-exempt": "yes"},
            TUE_EVENING,
            True,
            "outside business hours (closed since Tue 18:00)",
            None,
            'tag offhours-exempt="yes": an exemption needs an expiry date (e.g. '
            "'until 2026-12-24'); permanent exemptions are not honoured",
        ),
        (
            {"offhours-exempt": "until 2026-13-01"},
            TUE_NOON,
            False,
            "inside business hours (Mon-Fri 08:00-18:00 Europe/London)",
            None,
            "'2026-13-01' is not a date (YYYY-MM-DD)",
        ),
    ],
)
def test_exemptions(
    tags: dict[str, str],
    now: datetime,
    flagged: bool,
    reason: str,
    until: datetime | None,
    problem: str | None,
) -> None:
    d = decide(res(tags=tags), POLICY, now)
    assert (d.flagged, d.reason, d.exempt_until) == (flagged, reason, until)
    if problem is None:
        assert d.problems == ()
    else:
        assert len(d.problems) == 1
        assert problem in d.problems[0]


def test_an_exemption_does_not_make_a_stopped_resource_anything_but_stopped() -> None:
    d = decide(res(running=0, tags={"offhours-exempt": "until 2026-12-24"}), POLICY, TUE_EVENING)
    assert (d.flagged, d.reason) == (False, "not running")


def test_problems_are_reported_even_when_not_running() -> None:
    d = decide(res(running=0, tags={"offhours-exempt": "forever"}), POLICY, TUE_EVENING)
    assert d.reason == "not running"
    assert len(d.problems) == 1
    assert "permanent exemptions are not honoured" in d.problems[0]


@pytest.mark.parametrize(
    ("grace", "age", "flagged", "reason"),
    [
        (
            timedelta(minutes=30),
            timedelta(minutes=12),
            False,
            "started 12 min ago, within the 30-min grace period",
        ),
        (
            timedelta(minutes=30),
            timedelta(seconds=20),
            False,
            "started less than a minute ago, within the 30-min grace period",
        ),
        (
            timedelta(hours=2),
            timedelta(minutes=75),
            False,
            "started 1 h 15 min ago, within the 2-hour grace period",
        ),
        (
            timedelta(minutes=90),
            timedelta(minutes=60),
            False,
            "started 1 h ago, within the 90-min grace period",
        ),
        (
            timedelta(minutes=30),
            timedelta(minutes=30),
            True,
            "outside business hours (closed since Tue 18:00)",
        ),
        (
            timedelta(minutes=30),
            timedelta(minutes=31),
            True,
            "outside business hours (closed since Tue 18:00)",
        ),
        (
            timedelta(0),
            timedelta(minutes=1),
            True,
            "outside business hours (closed since Tue 18:00)",
        ),
    ],
)
def test_grace(grace: timedelta, age: timedelta, flagged: bool, reason: str) -> None:
    resource = res(running_since=(TUE_EVENING - age).astimezone(UTC))
    d = decide(resource, replace(POLICY, grace=grace), TUE_EVENING)
    assert (d.flagged, d.reason) == (flagged, reason)


def test_no_start_time_means_no_grace() -> None:
    assert decide(res(running_since=None), POLICY, TUE_EVENING).flagged


def test_a_naive_start_time_is_read_as_utc_and_reported() -> None:
    d = decide(res(running_since=datetime(2026, 6, 2, 18, 50)), POLICY, TUE_EVENING)
    assert (d.flagged, d.reason) == (False, "started 10 min ago, within the 30-min grace period")
    assert d.problems == ("running_since has no time zone; read as UTC",)


def test_tags_that_differ_only_in_case_are_reported_and_neither_wins() -> None:
    tags = {"offhours": "always", "OFFHOURS": "never"}
    d = decide(res(tags=tags), POLICY, TUE_EVENING)
    assert d.problems == (
        "tags OFFHOURS, offhours differ only in case and disagree; neither is used; "
        "keep one of them",
    )
    # Neither "always" nor "never": the default hours judge it.
    assert (d.flagged, d.schedule, d.exempt_by) == (True, SCHEDULE, None)


def test_tags_that_differ_only_in_case_but_agree_are_used_and_reported() -> None:
    d = decide(res(tags={"offhours": "never", "OffHours": "never"}), POLICY, TUE_NOON)
    assert (d.flagged, d.problems) == (
        True,
        ("tags OffHours, offhours differ only in case; keep one of them",),
    )


def test_custom_tag_names() -> None:
    policy = Policy(HOURS, schedule_tag="Schedule", exempt_tag="keep-until")
    d = decide(res(tags={"schedule": "always", "offhours": "never"}), policy, TUE_EVENING)
    assert not d.flagged
    d = decide(res(tags={"KEEP-UNTIL": "until 2026-06-24"}), policy, TUE_EVENING)
    assert d.exempt_until is not None


def test_evaluate_keeps_input_order_and_matches_decide() -> None:
    resources = [
        replace(res(running=i % 3, tags={"offhours": t} if t else {}), id=f"app-{i}")
        for i, t in enumerate(["", "always", "Mon-Fry 1", "never", "", "mon-fri_0730-1900"] * 5)
    ]
    decisions = evaluate(resources, POLICY, TUE_EVENING)
    assert [d.resource.id for d in decisions] == [r.id for r in resources]
    assert decisions == [decide(r, POLICY, TUE_EVENING) for r in resources]
    assert evaluate(iter(resources), POLICY, TUE_EVENING) == decisions  # any iterable


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate([res()], POLICY, datetime(2026, 6, 2, 20, 0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grace": timedelta(minutes=-1)}, "grace must not be negative"),
        ({"schedule_tag": "x", "exempt_tag": "X"}, "must differ"),
        ({"schedule_tag": " "}, "must not be empty"),
    ],
)
def test_policy_refuses_impossible_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(HOURS, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
schedules = st.sampled_from(
    [
        "",
        "always",
        "never",
        "Mon-Fri 07:30-19:00",
        "mon-fri_2200-0600_america.new_york",
        "Sat-Sun 00:00-24:00 Asia/Tokyo",
        "Mon-Fry 08:00-18:00",
        "daily 09:00-09:00",
    ]
)
tag_values = st.one_of(schedules, st.text(max_size=20))
tag_maps = st.dictionaries(
    st.sampled_from(["offhours", "OffHours", "owner", "env", "offhours-exempt"]),
    tag_values,
    max_size=4,
)
policies = st.builds(
    Policy,
    st.sampled_from(["Mon-Fri 08:00-18:00", "never", "always", "Mon-Thu 22:00-06:00"]).map(
        lambda text: parse_schedule(text, LONDON, CAL)
    ),
    st.integers(0, 120).map(lambda m: timedelta(minutes=m)),
)
resources = st.builds(
    res,
    running=st.integers(0, 5),
    tags=tag_maps,
    running_since=st.none() | instants,
)


@given(resources, policies, instants)
def test_a_stopped_resource_is_never_flagged(
    resource: Resource, policy: Policy, now: datetime
) -> None:
    d = decide(replace(resource, running=0), policy, now)
    assert not d.flagged
    assert d.reason == "not running"


# 28 days ahead at most: the date's end, read in a tag schedule's own zone, stays within 30 days.
@given(resources, policies, instants, st.integers(2, 28), st.text(max_size=15))
def test_a_valid_future_exemption_is_never_flagged(
    resource: Resource, policy: Policy, now: datetime, days_ahead: int, reason: str
) -> None:
    tags = {k: v for k, v in resource.tags.items() if k.casefold() != "offhours-exempt"}
    until = (now + timedelta(days=days_ahead)).date()
    tags["offhours-exempt"] = f"until {until.isoformat()} {reason}".strip()
    d = decide(replace(resource, tags=tags), policy, now)
    assert not d.flagged
    if resource.running:
        assert d.exempt_until is not None
        assert d.exempt_until > now
        assert d.reason.startswith(f"exempt until {until.isoformat()} 23:59")


@given(policies, instants, st.integers(1, 5), st.none() | st.integers(0, 3000))
def test_flagged_is_exactly_off_hours_for_plain_running_resources(
    policy: Policy, now: datetime, running: int, minutes_ago: int | None
) -> None:
    since = None if minutes_ago is None else now - timedelta(minutes=minutes_ago)
    d = decide(res(running=running, running_since=since), policy, now)
    in_grace = since is not None and now - since < policy.grace
    if not in_grace:
        assert d.flagged is (not policy.hours.is_open(now))
        assert d.reason == policy.hours.why(now)
    else:
        assert not d.flagged
    if d.flagged and d.off_hours_since is not None:
        assert d.off_hours_since <= now


@given(st.lists(resources, max_size=12), policies, instants)
def test_evaluate_never_raises_and_reports_every_resource(
    batch: list[Resource], policy: Policy, now: datetime
) -> None:
    decisions = evaluate(batch, policy, now)
    assert [d.resource for d in decisions] == batch
    assert all(isinstance(d, Decision) for d in decisions)


def test_holidays_of_the_policy_apply_to_tag_schedules() -> None:
    policy = Policy(
        parse_schedule("never", LONDON, HolidayCalendar("US", dates=frozenset({date(2026, 6, 2)})))
    )
    d = decide(res(tags={"offhours": "Mon-Fri 08:00-18:00"}), policy, TUE_NOON)
    assert (d.flagged, d.reason) == (True, "custom holiday: 2026-06-02")


# ---------------------------------------------------------------- exemptions cannot hide waste


@pytest.mark.parametrize(
    ("value", "max_days", "honoured"),
    [
        ("until 9999-12-30", 30, False),  # permanent in all but name
        ("until 2026-07-02 12:00", 30, True),  # 30 days to the minute
        ("until 2026-07-02 20:00", 30, True),
        ("until 2026-07-02 20:01", 30, False),
        ("until 2026-07-03", 30, False),
        ("until 2027-06-01 audit", 365, True),
        ("until 2027-06-03 audit", 365, False),
        ("2026-06-03 19:00", 1, True),
        ("2026-06-03", 1, False),  # the end of that day is 28 hours away
    ],
)
def test_an_exemption_longer_than_the_maximum_is_a_problem_and_not_honoured(
    value: str, max_days: int, honoured: bool
) -> None:
    policy = replace(POLICY, max_exemption=timedelta(days=max_days))
    d = decide(res(tags={"offhours-exempt": value}), policy, TUE_EVENING)
    assert d.flagged is not honoured
    assert (d.exempt_by == "exemption") is honoured
    if honoured:
        assert d.problems == ()
    else:
        (problem,) = d.problems
        assert problem.startswith(f'tag offhours-exempt="{value}": exemption ends ')
        days = "1 day" if max_days == 1 else f"{max_days} days"
        assert f"more than {days} away (max_exemption_days = {max_days})" in problem
        limit = (TUE_EVENING + timedelta(days=max_days)).date().isoformat()
        assert problem.endswith(f"not honoured: set a date before {limit}")


def test_the_default_maximum_exemption_is_30_days() -> None:
    assert Policy(HOURS).max_exemption == timedelta(days=30)
    d = decide(res(tags={"offhours-exempt": "until 9999-12-30"}), Policy(HOURS), TUE_EVENING)
    assert d.flagged
    assert "max_exemption_days = 30" in d.problems[0]


@given(instants, st.integers(31, 3000))
def test_an_exemption_beyond_the_maximum_never_keeps_a_resource_out(
    now: datetime, days_ahead: int
) -> None:
    until = (now + timedelta(days=days_ahead)).date().isoformat()
    d = decide(res(tags={"offhours-exempt": f"until {until}"}), POLICY, now)
    assert d.exempt_by is None
    assert d.exempt_until is None
    assert len(d.problems) == 1


@pytest.mark.parametrize(
    ("value", "allow", "flagged", "exempt_by", "problem"),
    [
        ("always", True, False, "always", None),
        ("ALWAYS Europe/Paris", True, False, "always", None),
        ("Mon-Sun 00:00-24:00", True, False, "always", None),
        ("always", False, True, None, "tag offhours=\"always\" is 'always'"),
        ("always_europe--paris", False, True, None, "is 'always', which this configuration"),
        # the same thing spelled as windows around the clock
        ("Mon-Sun 00:00-24:00", False, True, None, "is open 23+ hours every day, like 'always'"),
        ("daily 00:00-12:00,12:00-00:00", False, True, None, "open 23+ hours every day"),
        ("daily 06:00-12:00,12:00-06:00", False, True, None, "open 23+ hours every day"),
        # near-always: at least 23 h on each of the 7 days counts as 'always'
        ("Mon-Sun 00:00-23:59", False, True, None, "open 23+ hours every day"),
        ("Mon-Sun 00:01-24:00", False, True, None, "open 23+ hours every day"),
        ("Mon-Sun 01:00-24:00", False, True, None, "open 23+ hours every day"),
        ("Mon-Sun 23:00-22:00", False, True, None, "open 23+ hours every day"),
        ("Mon-Sun 00:00-23:59", True, False, "schedule", None),
        # below the threshold: allowed either way, and listed as an override (default closed)
        ("Mon-Sun 01:01-24:00", False, False, "schedule", None),
        ("Mon-Sat 00:00-24:00", False, False, "schedule", None),
        ("Mon-Fri 08:00-21:00", False, False, "schedule", None),
        ("never", False, True, None, None),
    ],
)
def test_always_can_be_forbidden(
    value: str, allow: bool, flagged: bool, exempt_by: str | None, problem: str | None
) -> None:
    policy = replace(POLICY, allow_always=allow)
    d = decide(res(tags={"offhours": value}), policy, TUE_EVENING)
    assert (d.flagged, d.exempt_by) == (flagged, exempt_by)
    if problem is None:
        assert d.problems == ()
    else:
        (found,) = d.problems
        assert problem in found
        assert found.endswith("forbids ([tags] allow_always = false); using the default hours")
        assert d.schedule == SCHEDULE


@pytest.mark.parametrize(
    ("tags", "running", "now", "exempt_by"),
    [
        ({"offhours-exempt": "until 2026-06-20"}, 1, TUE_EVENING, "exemption"),
        ({"offhours-exempt": "until 2026-06-20"}, 1, TUE_NOON, "exemption"),
        ({"offhours-exempt": "until 2026-06-20"}, 0, TUE_EVENING, None),  # not running
        ({"offhours": "always"}, 2, TUE_EVENING, "always"),
        ({"offhours": "always"}, 0, TUE_EVENING, None),
        ({"offhours": "Mon-Fri 08:00-21:00"}, 1, TUE_EVENING, "schedule"),  # default closed
        ({"offhours": "Mon-Fri 08:00-21:00"}, 1, TUE_NOON, None),  # both open: no override
        ({"offhours": "never"}, 1, TUE_EVENING, None),
        ({}, 1, TUE_NOON, None),
    ],
)
def test_what_keeps_a_running_resource_out_is_recorded(
    tags: dict[str, str], running: int, now: datetime, exempt_by: str | None
) -> None:
    d = decide(res(running=running, tags=tags), POLICY, now)
    assert d.exempt_by == exempt_by
    assert not d.flagged or exempt_by is None


WED_NIGHT = datetime(2026, 6, 3, 21, 0, tzinfo=LONDON)
WED_NOON = datetime(2026, 6, 3, 12, 0, tzinfo=LONDON)
BANK_HOLIDAY_NOON = datetime(2026, 5, 25, 12, 0, tzinfo=LONDON)  # GB spring bank holiday


@pytest.mark.parametrize(
    ("tags", "running", "now", "flagged", "exempt_by"),
    [
        # own hours open while the default (Mon-Fri 08-18) is closed: an override, listed
        ({"offhours": "Mon-Sun 00:00-23:59"}, 3, WED_NIGHT, False, "schedule"),
        ({"offhours": "Mon-Fri 00:00-24:00"}, 1, WED_NIGHT, False, "schedule"),
        ({"offhours": "Mon-Fri 07:00-23:00"}, 1, WED_NIGHT, False, "schedule"),
        ({"offhours": "mon-fri_0700-2300"}, 1, WED_NIGHT, False, "schedule"),
        ({"offhours": "Mon-Fri 08:00-17:00 America/New_York"}, 1, WED_NIGHT, False, "schedule"),
        ({"offhours": "Wed 20:00-02:00"}, 1, WED_NIGHT, False, "schedule"),
        # own hours closed too: flagged as usual
        ({"offhours": "Mon-Fri 07:00-20:00"}, 1, WED_NIGHT, True, None),
        ({"offhours": "Mon-Fri 07:00-23:00"}, 1, BANK_HOLIDAY_NOON, True, None),
        ({"offhours": "never"}, 1, WED_NIGHT, True, None),
        # both open: nothing overridden, not listed
        ({"offhours": "Mon-Fri 07:00-23:00"}, 1, WED_NOON, False, None),
        ({"offhours": "Mon-Sun 00:00-23:59"}, 1, WED_NOON, False, None),
        # exact 'always' keeps its own label, open or not by default
        ({"offhours": "Mon-Sun 00:00-24:00"}, 1, WED_NIGHT, False, "always"),
        ({"offhours": "always"}, 1, WED_NOON, False, "always"),
        # an exemption wins; stopped resources are never listed; a bad tag overrides nothing
        (
            {"offhours": "Mon-Fri 07:00-23:00", "offhours-exempt": "until 2026-06-20"},
            1,
            WED_NIGHT,
            False,
            "exemption",
        ),
        ({"offhours": "Mon-Fri 07:00-23:00"}, 0, WED_NIGHT, False, None),
        ({"offhours": "Mon-Fry 07:00-23:00"}, 1, WED_NIGHT, True, None),
    ],
)
def test_own_hours_that_override_closed_default_hours_are_listed(
    tags: dict[str, str], running: int, now: datetime, flagged: bool, exempt_by: str | None
) -> None:
    d = decide(res(running=running, tags=tags), POLICY, now)
    assert (d.flagged, d.exempt_by) == (flagged, exempt_by)


def test_an_override_within_the_grace_period_is_still_listed() -> None:
    resource = res(tags={"offhours": "Mon-Fri 07:00-23:00"}, running_since=WED_NIGHT)
    d = decide(resource, POLICY, WED_NIGHT + timedelta(minutes=5))
    assert (d.flagged, d.exempt_by) == (False, "schedule")
    assert d.reason == "inside business hours (Mon-Fri 07:00-23:00 Europe/London)"


@given(
    st.sampled_from(
        [
            "Mon-Fri 07:00-23:00",
            "Mon-Sun 00:00-23:59",
            "Mon-Thu 22:00-06:00",
            "never",
            "Sat 10:00-12:00",
        ]
    ),
    st.integers(0, 7 * 24 * 4 - 1),
)
def test_a_running_resource_is_flagged_or_accounted_for(text: str, quarter: int) -> None:
    # Whatever its own hours, a running resource the default hours would flag never vanishes.
    now = datetime(2026, 6, 1, tzinfo=LONDON) + timedelta(minutes=15 * quarter)
    d = decide(res(tags={"offhours": text}), POLICY, now)
    if not HOURS.is_open(now):
        assert d.flagged or d.exempt_by is not None


def test_a_schedule_open_around_the_clock_is_not_exempt_on_a_holiday() -> None:
    # 2026-05-25 is a GB bank holiday: a schedule's windows do not open on holidays.
    d = decide(
        res(tags={"offhours": "Mon-Sun 00:00-24:00"}),
        POLICY,
        datetime(2026, 5, 25, 12, 0, tzinfo=LONDON),
    )
    assert (d.flagged, d.exempt_by) == (True, None)


# ---------------------------------------------------------------- start times


@pytest.mark.parametrize(
    ("ahead", "grace", "flagged", "problem"),
    [
        (timedelta(hours=3), timedelta(minutes=30), True, True),
        (timedelta(days=400), timedelta(hours=2), True, True),
        (timedelta(minutes=6), timedelta(minutes=30), True, True),
        (timedelta(hours=3), timedelta(0), True, True),  # reported even without a grace period
        # within the allowance for clock skew: just started
        (timedelta(minutes=4), timedelta(minutes=30), False, False),
        (timedelta(seconds=1), timedelta(minutes=30), False, False),
    ],
)
def test_a_start_time_in_the_future_is_a_problem_not_grace(
    ahead: timedelta, grace: timedelta, flagged: bool, problem: bool
) -> None:
    resource = res(running_since=(TUE_EVENING + ahead).astimezone(UTC))
    d = decide(resource, replace(POLICY, grace=grace), TUE_EVENING)
    assert d.flagged is flagged
    if problem:
        (found,) = d.problems
        assert "is in the future" in found
        assert found.endswith("no grace period applied")
        assert d.reason == "outside business hours (closed since Tue 18:00)"
    else:
        assert d.problems == ()
        assert d.reason == "started less than a minute ago, within the 30-min grace period"


# ---------------------------------------------------------------- problems from the source


def test_tag_problems_from_the_source_come_first_on_the_decision() -> None:
    resource = res(
        tags={"offhours-exempt": "forever"},
        tag_problems=("tag offhours appears 2 times in the description",),
    )
    d = decide(resource, POLICY, TUE_EVENING)
    assert d.problems[0] == "tag offhours appears 2 times in the description"
    assert "permanent exemptions are not honoured" in d.problems[1]
    assert d.flagged


@pytest.mark.parametrize("tag", ["offhours", "offhours-exempt"])
def test_a_tag_longer_than_anyone_writes_is_a_problem_and_not_read(tag: str) -> None:
    """A 100 KB tag on every resource used to cost seconds of parsing each."""
    value = "Mon-Fri 08:00-18:00" + " " * MAX_TAG_LENGTH
    d = decide(res(tags={tag: value}), POLICY, TUE_EVENING)
    assert d.problems == (
        f"tag {tag} is {len(value):,} characters long, more than the {MAX_TAG_LENGTH} "
        "offhours reads; not used",
    )
    assert (d.flagged, d.schedule) == (True, SCHEDULE)
