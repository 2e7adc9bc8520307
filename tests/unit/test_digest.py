"""The weekly digest's numbers and its text and JSON (digest.py; pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.digest import (
    DIGEST_JSON_VERSION,
    TOP_OFFENDERS,
    Digest,
    Tally,
    build_digest,
    collect_digest,
    render_digest_json,
    render_digest_text,
    week_of,
)
from offhours.incidents import Incident, incident_key
from offhours.untrusted import is_unsafe

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
# The week of Monday 2026-11-23 in Paris (UTC+1): 2026-11-22 23:00Z to 2026-11-29 23:00Z.
START = datetime(2026, 11, 23, tzinfo=PARIS)
END = datetime(2026, 11, 30, tzinfo=PARIS)
MONDAY = datetime(2026, 11, 30, 9, tzinfo=PARIS)  # when the digest of that week is made
# Tuesday 20:00 Paris of that week, and of the week before.
TUE = datetime(2026, 11, 24, 19, tzinfo=UTC)
PREV_TUE = TUE - timedelta(days=7)


def incident(
    n: int = 1,
    *,
    opened: datetime = TUE,
    hours: float = 10,
    owner: str | None = "alice",
    group: str = "lab-a",
    cost: float | None = 1.0,
    name: str | None = None,
) -> Incident:
    resource = f"ravello/acct/region/application/{n}"
    return Incident(
        key=incident_key(resource, opened),
        resource_key=resource,
        period_start=opened,
        source="ravello",
        name=name or f"lab-{n}",
        owner=owner,
        group=group,
        kind="application",
        noun="lab",
        opened_at=opened,
        last_seen_at=opened + timedelta(hours=hours),
        hourly_cost=cost,
    )


def digest(*incidents: Incident) -> Digest:
    return build_digest(incidents, start=START, end=END, zone=PARIS)


# ---------------------------------------------------------------- the week


@pytest.mark.parametrize(
    ("now", "zone", "weeks_ago", "start", "end"),
    [
        pytest.param(MONDAY, PARIS, 0, "2026-11-23", "2026-11-30", id="monday-morning"),
        pytest.param(
            datetime(2026, 11, 30, tzinfo=PARIS), PARIS, 0, "2026-11-23", "2026-11-30", id="at-0h"
        ),
        pytest.param(
            datetime(2026, 11, 29, 23, 59, tzinfo=PARIS),
            PARIS,
            0,
            "2026-11-16",
            "2026-11-23",
            id="sunday-night-week-not-over",
        ),
        pytest.param(MONDAY, PARIS, 2, "2026-11-09", "2026-11-16", id="two-weeks-ago"),
        # 2026-11-30 02:00Z is still Sunday evening in New York: its week is not over.
        pytest.param(
            datetime(2026, 11, 30, 2, tzinfo=UTC),
            NEW_YORK,
            0,
            "2026-11-16",
            "2026-11-23",
            id="zone-decides-the-day",
        ),
    ],
)
def test_week_of_is_the_last_complete_monday_to_monday_week(
    now: datetime, zone: ZoneInfo, weeks_ago: int, start: str, end: str
) -> None:
    first, last = week_of(now, zone, weeks_ago)
    assert (first.date().isoformat(), last.date().isoformat()) == (start, end)
    for bound in (first, last):
        assert bound.tzinfo is zone
        assert (bound.weekday(), bound.hour, bound.minute) == (0, 0, 0)


def test_week_of_across_a_dst_change_is_still_monday_to_monday() -> None:
    # Paris leaves summer time on Sunday 2026-10-25: that week has 169 hours.
    start, end = week_of(datetime(2026, 10, 27, tzinfo=PARIS), PARIS)
    assert start == datetime(2026, 10, 19, tzinfo=PARIS)
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=169)


@pytest.mark.parametrize(
    ("now", "weeks_ago", "words"),
    [(datetime(2026, 11, 30), 0, "aware"), (MONDAY, -1, "0 or more")],
    ids=["naive", "negative"],
)
def test_week_of_refuses_what_has_no_answer(now: datetime, weeks_ago: int, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        week_of(now, PARIS, weeks_ago)


# ---------------------------------------------------------------- clipping to the week


@pytest.mark.parametrize(
    ("opened", "hours", "counted", "in_previous"),
    [
        pytest.param(TUE, 10, 10.0, 0.0, id="inside"),
        # Opened Sunday 2026-11-22 21:00 Paris, three hours before the week begins.
        pytest.param(datetime(2026, 11, 22, 20, tzinfo=UTC), 13, 10.0, 3.0, id="from-before"),
        # Sunday 2026-11-29 20:00 Paris, running into the next week.
        pytest.param(datetime(2026, 11, 29, 19, tzinfo=UTC), 14, 4.0, 0.0, id="into-next"),
        pytest.param(START - timedelta(days=1), 24 * 9, 168.0, 24.0, id="whole-week"),
        pytest.param(PREV_TUE, 10, None, 10.0, id="previous-week-only"),
        pytest.param(END.astimezone(UTC), 5, None, 0.0, id="starts-at-the-end"),
        pytest.param(START.astimezone(UTC) - timedelta(hours=2), 2, None, 2.0, id="ends-at-start"),
        pytest.param(TUE, 0, 0.0, 0.0, id="seen-once"),
    ],
)
def test_hours_are_the_part_of_the_running_inside_the_week(
    opened: datetime, hours: float, counted: float | None, in_previous: float
) -> None:
    d = digest(incident(opened=opened, hours=hours, cost=2.0))
    week = d.week.total
    if counted is None:
        assert week == Tally()
    else:
        assert week.hours == pytest.approx(counted)
        assert week.cost == pytest.approx(2.0 * counted)
        assert week.incidents == 1
    assert d.previous.total.hours == pytest.approx(in_previous)


# ---------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("costs", "cost", "priced"),
    [
        pytest.param([1.0, 0.5], 15.0, 2, id="all-priced"),
        pytest.param([1.0, None], 10.0, 1, id="some-priced"),
        pytest.param([None, None], None, 0, id="none-priced-is-unknown-not-zero"),
        pytest.param([0.0, None], 0.0, 1, id="free-is-zero"),
    ],
)
def test_cost_is_hourly_cost_times_hours_and_unknown_is_never_zero(
    costs: list[float | None], cost: float | None, priced: int
) -> None:
    d = digest(incident(1, cost=costs[0], hours=10), incident(2, cost=costs[1], hours=10))
    total = d.week.total
    assert total.cost == (pytest.approx(cost) if cost is not None else None)
    assert (total.priced, total.incidents) == (priced, 2)
    text = render_digest_text(d)
    if priced < 2:
        assert f"{priced} of 2 priced" in text
    else:
        assert "priced" not in text


# ---------------------------------------------------------------- owners and groups


def test_per_owner_and_group_rows_largest_cost_first_then_hours() -> None:
    d = digest(
        incident(1, owner="alice", group="g1", cost=1.0, hours=10),  # $10
        incident(2, owner="bob", group="g2", cost=3.0, hours=5),  # $15
        incident(3, owner=None, group="g2", cost=None, hours=50),  # unknown: after priced
        incident(4, owner="carol", group="g3", cost=1.0, hours=10),  # $10, as alice
        incident(5, owner="alice", group="g1", cost=None, hours=2),
    )
    owners = [(r.key, r.tally.hours, r.tally.cost, r.tally.incidents) for r in d.week.by_owner]
    assert owners == [
        ("bob", 5.0, 15.0, 1),
        ("alice", 12.0, 10.0, 2),  # $10 as carol, more hours
        ("carol", 10.0, 10.0, 1),
        (None, 50.0, None, 1),
    ]
    groups = [(r.key, r.tally.hours, r.tally.cost) for r in d.week.by_group]
    assert groups == [("g2", 55.0, 15.0), ("g1", 12.0, 10.0), ("g3", 10.0, 10.0)]
    text = render_digest_text(d)
    assert "no owner" in text
    assert "1 of 2 priced" in text  # alice's row


# ---------------------------------------------------------------- trend


@pytest.mark.parametrize(
    ("before", "now", "direction", "measure", "change", "percent", "words"),
    [
        pytest.param([], [(1.0, 10)], "new", "cost", 10.0, None, "1 incident — new", id="new"),
        pytest.param([(1.0, 10)], [(1.0, 15)], "up", "cost", 5.0, 50.0, "up $5.00 (+50%)", id="up"),
        pytest.param(
            [(2.0, 10)], [(1.0, 5)], "down", "cost", -15.0, -75.0, "down $15.00 (-75%)", id="down"
        ),
        pytest.param([(1.0, 10)], [(1.0, 10)], "same", "cost", 0.0, 0.0, "same", id="same"),
        pytest.param(
            [(None, 10)], [(1.0, 12)], "up", "hours", 2.0, 20.0, "up 2.0 h (+20%)", id="hours"
        ),
    ],
)
def test_trend_against_the_week_before(
    before: list[tuple[float | None, float]],
    now: list[tuple[float | None, float]],
    direction: str,
    measure: str,
    change: float,
    percent: float | None,
    words: str,
) -> None:
    items = [incident(1, opened=PREV_TUE, cost=c, hours=h) for c, h in before]
    items += [incident(1, cost=c, hours=h) for c, h in now]
    d = digest(*items)
    for trend in (d.trend, d.week.by_owner[0].trend, d.week.by_group[0].trend):
        assert trend is not None
        assert (trend.direction, trend.measure) == (direction, measure)
        assert trend.change == pytest.approx(change)
        assert trend.percent == (pytest.approx(percent) if percent is not None else None)
    assert words in render_digest_text(d)


def test_an_owner_new_this_week_is_new_while_the_total_goes_up() -> None:
    d = digest(
        incident(1, opened=PREV_TUE, owner="alice", hours=10),
        incident(1, owner="alice", hours=10),
        incident(2, owner="bob", hours=10),
    )
    trends = {r.key: r.trend.direction for r in d.week.by_owner if r.trend}
    assert trends == {"alice": "same", "bob": "new"}
    assert d.trend.direction == "up"
    assert d.trend.percent == pytest.approx(100.0)


# ---------------------------------------------------------------- top offenders


def test_top_offenders_by_cost_then_hours_one_line_per_resource() -> None:
    items = [incident(n, cost=1.0, hours=n) for n in range(1, 13)]  # $1 … $12
    items += [
        incident(20, cost=None, hours=100),  # unknown cost: after every priced one
        # resource 5 again, on Thursday and renamed: one offender, latest name, summed
        incident(5, opened=TUE + timedelta(days=2), cost=1.0, hours=4, name="lab-5-renamed"),
    ]
    d = digest(*items)
    top = d.top_offenders
    assert len(top) == TOP_OFFENDERS
    assert [o.latest.resource_key.rsplit("/", 1)[1] for o in top] == [
        "12", "11", "10", "5", "9", "8", "7", "6", "4", "3",
    ]  # fmt: skip
    five = top[3]
    assert (five.latest.name, five.tally.hours, five.tally.incidents) == ("lab-5-renamed", 9.0, 2)
    # The unknown-cost resource is still in the week, after every priced one.
    assert d.week.resources[-1].latest.resource_key.endswith("/20")


def test_equal_cost_goes_by_hours() -> None:
    d = digest(incident(1, cost=2.0, hours=5), incident(2, cost=1.0, hours=10))
    assert [o.latest.resource_key[-1] for o in d.top_offenders] == ["2", "1"]


# ---------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),  # resource
            st.sampled_from([None, "alice", "bob"]),
            st.integers(-24 * 9, 24 * 8),  # opened, hours from START
            st.integers(0, 24 * 10),  # hours running
            st.one_of(st.none(), st.floats(0, 10)),
        ),
        max_size=20,
    )
)
def test_rows_add_up_to_the_total(
    items: list[tuple[int, str | None, int, int, float | None]],
) -> None:
    start = START.astimezone(UTC)
    d = digest(
        *(
            incident(n, owner=o, opened=start + timedelta(hours=at), hours=h, cost=c)
            for n, o, at, h, c in items
        )
    )
    for week in (d.week, d.previous):
        total = week.total
        assert total.hours <= 169 * max(1, total.incidents)
        for rows in (week.by_owner, week.by_group, week.resources):
            assert sum(r.tally.hours for r in rows) == pytest.approx(total.hours)
            assert sum(r.tally.incidents for r in rows) == total.incidents
            costs = [r.tally.cost for r in rows if r.tally.cost is not None]
            assert (sum(costs) if costs else None) == (
                pytest.approx(total.cost) if total.cost is not None else None
            )


# ---------------------------------------------------------------- the store


class _History:
    """A store as far as the digest uses one: ``history`` (the stores are tested by the
    store contract tests)."""

    def __init__(self, incidents: list[Incident]) -> None:
        self.incidents = incidents
        self.asked: list[tuple[datetime, datetime]] = []

    def history(self, start: datetime, end: datetime) -> list[Incident]:
        self.asked.append((start, end))
        return self.incidents


def test_collect_digest_reads_both_weeks_once() -> None:
    store = _History([incident(1, opened=PREV_TUE, hours=4), incident(1, hours=8)])
    d = collect_digest(store, now=MONDAY, zone=PARIS)  # type: ignore[arg-type]
    assert store.asked == [(datetime(2026, 11, 16, tzinfo=PARIS), END)]
    assert (d.week.start, d.week.end) == (START, END)
    assert (d.previous.total.hours, d.week.total.hours) == (4.0, 8.0)


# ---------------------------------------------------------------- rendering

HOSTILE = "evil\x1b[31m\u202e<!channel> *bold* $x$\x07\nnext"


def test_text_is_the_numbers_with_hostile_names_inert() -> None:
    d = digest(
        incident(1, owner=HOSTILE, group=HOSTILE, name=HOSTILE, hours=10),
        incident(2, owner="bob", cost=None, hours=3),
    )
    text = render_digest_text(d)
    assert text.startswith("Off-hours digest: week of 2026-11-23 (Europe/Paris)\n")
    assert "Mon 2026-11-23 to Sun 2026-11-29" in text
    assert (
        "Total: 13.0 h · $10.00 · 2 incidents · 1 of 2 priced — "
        "nothing ran off hours the week before"
    ) in text
    assert not any(is_unsafe(c) for c in text if c != "\n")
    assert "evil[31m<!channel> *bold* $x$ next" in text
    assert " 1. evil" in text
    assert " 2. lab-2 — bob, lab-a — 3.0 h — price unknown" in text


def test_text_of_a_quiet_week() -> None:
    d = digest()
    assert d.trend.direction == "same"
    text = render_digest_text(d)
    # said once: not a total of nothing and then that nothing ran
    assert text.count("Nothing ran off hours") == 1 and "Total:" not in text
    assert "Nothing ran off hours this week, nor the week before." in text
    later = digest(incident(1, opened=TUE - timedelta(days=7), hours=4, cost=0.5))
    assert (
        "Nothing ran off hours this week (the week before: 4.0 h · $2.00 · 1 incident)."
        in render_digest_text(later)
    )
    assert "Top offenders" not in text


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_json_is_versioned_exact_and_safe_to_print() -> None:
    d = digest(
        incident(1, owner=HOSTILE, group=HOSTILE, name=HOSTILE, hours=10),
        incident(2, owner=None, cost=None, opened=PREV_TUE, hours=3),
    )
    raw = render_digest_json(d)
    assert not any(is_unsafe(c) for c in raw if c != "\n")
    doc = json.loads(raw)
    assert doc["version"] == DIGEST_JSON_VERSION
    assert (doc["kind"], doc["zone"]) == ("digest", "Europe/Paris")
    assert doc["week"]["start"] == "2026-11-23T00:00:00+01:00"
    assert doc["week"]["totals"] == {"hours": 10.0, "cost": 10.0, "incidents": 1, "priced": 1}
    assert doc["previous"]["totals"] == {"hours": 3.0, "cost": None, "incidents": 1, "priced": 0}
    (owner,) = doc["week"]["by_owner"]
    assert owner["owner"] == HOSTILE  # the data, exactly
    assert owner["trend"]["direction"] == "new"
    assert doc["previous"]["by_owner"][0]["owner"] is None
    (top,) = doc["week"]["top_offenders"]
    assert (top["name"], top["hours"], top["cost"], top["hourly_cost"]) == (HOSTILE, 10, 10, 1)
    assert doc["trend"] == {
        "measure": "hours",
        "current": 10.0,
        "previous": 3.0,
        "change": 7.0,
        "percent": pytest.approx(233.33, abs=0.01),
        "direction": "up",
    }
    assert HOSTILE in _strings(doc)
