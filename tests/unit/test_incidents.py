"""Incident memory, pure: what each run tells (new, reminder, resolved), what it keeps quiet,
and the versioned changes that record it, over real resources judged by a real policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.audit import SLOT_TOLERANCE, run_time
from offhours.hours import HolidayCalendar, parse_schedule
from offhours.incidents import (
    REMINDER_SLACK,
    Change,
    Incident,
    MemorySettings,
    Plan,
    Snooze,
    incident_key,
    plan,
    untell,
)
from offhours.model import Action, Kind, Resource
from offhours.policy import Policy, evaluate
from offhours.report import build_report

LONDON = ZoneInfo("Europe/London")
POLICY = Policy(parse_schedule("Mon-Fri 08:00-18:00", LONDON, HolidayCalendar("GB")))
LAB = Kind("ravello.application", "lab", "VM")
EVERY_4H = MemorySettings(remind_every=timedelta(hours=4))
NEVER_REMIND = MemorySettings(remind_every=None)

#: Tuesday 2 June 2026, 18:00 in London: the hours close
TUE_CLOSE = datetime(2026, 6, 2, 18, 0, tzinfo=LONDON)
#: Wednesday 08:00: they open
WED_OPEN = datetime(2026, 6, 3, 8, 0, tzinfo=LONDON)
#: Tuesday 09:00: when the lab was started
STARTED = datetime(2026, 6, 2, 9, 0, tzinfo=LONDON)


def lab(
    running: int = 3,
    *,
    id: str = "app-1",
    name: str = "training-lab",
    owner: str | None = "ana",
    group: str | None = None,
    tags: Mapping[str, str] | None = None,
    source: str = "lab",
    running_since: datetime | None = STARTED,
) -> Resource:
    return Resource(
        provider="ravello",
        source=source,
        id=id,
        name=name,
        running=running,
        stopped=3 - running if running < 3 else 0,
        owner=owner,
        group=group,
        tags=tags or {},
        running_since=running_since if running else None,
        hourly_cost=1.5,
        kind=LAB,
    )


KEY = lab().key
TUE_KEY = incident_key(KEY, TUE_CLOSE)


@dataclass
class Store:
    """A dict of incidents that applies changes as a real store must: each only when the
    version it expects is still there (``None``: when the incident does not exist yet)."""

    incidents: dict[str, Incident] = field(default_factory=dict)

    def load(self, findings_keys: Sequence[str]) -> dict[str, Incident]:
        wanted = set(findings_keys)
        return {k: i for k, i in self.incidents.items() if i.open or k in wanted}

    def apply(self, changes: Sequence[Change]) -> set[str]:
        accepted = set()
        for change in changes:
            key = change.incident.key
            held = self.incidents.get(key)
            if (held.version if held is not None else None) != change.expected_version:
                continue
            self.incidents[key] = change.incident
            accepted.add(key)
        return accepted


@dataclass(frozen=True)
class Told:
    """What one run said, in a form a table can compare."""

    at: datetime
    new: tuple[str, ...]
    reminders: tuple[str, ...]
    resolved: tuple[str, ...]


def decide_and_plan(
    store: Store,
    resources: Sequence[Resource],
    now: datetime,
    *,
    memory: MemorySettings = EVERY_4H,
    snoozes: Sequence[Snooze] = (),
    run_id: str | None = None,
    failed: Sequence[str] = (),
    sources: Sequence[str] | None = None,
    action_text: Mapping[str, str] | None = None,
    actions: Mapping[str, Action] | None = None,
) -> tuple[Plan, dict[str, Incident]]:
    """One run's plan, as the pipeline computes it, and what it loaded."""
    decisions = evaluate(resources, POLICY, now)
    flagged = build_report(decisions, now=now).flagged
    loaded = store.load([incident_key(f.resource.key, f.decision.off_hours_since) for f in flagged])
    done = plan(
        flagged,
        decisions,
        loaded,
        snoozes,
        now=now,
        run_id=run_id or f"offhours@{now.astimezone(UTC).isoformat()}",
        settings=memory,
        failed_sources=failed,
        sources=sources,
        actions=actions,
        action_text=action_text,
    )
    return done, loaded


def run(store: Store, resources: Sequence[Resource], now: datetime, **kw: object) -> Plan:
    """One run: plan, apply, keep what the store accepted."""
    done, _ = decide_and_plan(store, resources, now, **kw)  # type: ignore[arg-type]
    return done.keeping(store.apply(done.changes))


def hourly(start: datetime, count: int) -> list[datetime]:
    # Hours counted in UTC, shown in London: a run every real hour across any DST change.
    first = start.astimezone(UTC)
    return [(first + timedelta(hours=n)).astimezone(LONDON) for n in range(count)]


def said(p: Plan, at: datetime) -> Told:
    return Told(
        at,
        tuple(i.key for i in p.new),
        tuple(i.key for i in p.reminders),
        tuple(i.key for i in p.resolved),
    )


def at(hour: int, minute: int = 0) -> datetime:
    """Tuesday from 18:00, Wednesday before."""
    day = 2 if hour >= 18 else 3
    return datetime(2026, 6, day, hour, minute, tzinfo=LONDON)


# ---------------------------------------------------------------- the night


def night(
    memory: MemorySettings, *, stop_at: datetime | None = None
) -> tuple[list[Told], Store, list[Plan]]:
    """Twenty hourly runs, 18:00 → 13:00 next day, one lab running (stopped by offhours at
    ``stop_at``, if given: the stop is that run's action, the lab is off from the next run)."""
    store = Store()
    told: list[Told] = []
    plans: list[Plan] = []
    for now in hourly(TUE_CLOSE, 20):
        stopped = stop_at is not None and now > stop_at
        texts = {KEY: "stopped by offhours at 02:00"} if now == stop_at else None
        p = run(store, [lab(0 if stopped else 3)], now, memory=memory, action_text=texts)
        told.append(said(p, now))
        plans.append(p)
    return told, store, plans


def told_hours(told: list[Told], what: str) -> list[int]:
    return [t.at.hour for t in told if getattr(t, what)]


@pytest.mark.parametrize(
    ("memory", "reminders"),
    [
        (EVERY_4H, [22, 2, 6]),
        (NEVER_REMIND, []),
        (MemorySettings(remind_every=timedelta(hours=6)), [0, 6]),
        (MemorySettings(remind_every=timedelta(hours=1)), [*range(19, 24), *range(0, 8)]),
    ],
)
def test_a_night_of_hourly_runs_tells_once_reminds_and_resolves_in_the_morning(
    memory: MemorySettings, reminders: list[int]
) -> None:
    told, store, plans = night(memory)
    assert told_hours(told, "new") == [18]
    assert told_hours(told, "reminders") == reminders
    assert told_hours(told, "resolved") == [8]
    morning = plans[14].resolved[0]
    assert (morning.resolution, morning.still_running, morning.state) == ("hours", True, "resolved")
    assert morning.reminders == len(reminders)
    # one incident for the whole night, opened when the hours closed (the lab ran since 09:00)
    assert list(store.incidents) == [TUE_KEY]
    assert store.incidents[TUE_KEY].opened_at == TUE_CLOSE
    assert store.incidents[TUE_KEY].last_seen_at == at(7)
    assert store.incidents[TUE_KEY].cost_so_far == pytest.approx(13 * 1.5)
    # business hours: nothing more is said, nothing more is written
    assert all(not p.changes for p in plans[15:])


def test_a_lab_stopped_by_offhours_at_two_is_resolved_as_stopped_with_its_action() -> None:
    told, store, plans = night(EVERY_4H, stop_at=at(2))
    assert told_hours(told, "new") == [18]
    assert told_hours(told, "reminders") == [22, 2]
    assert told_hours(told, "resolved") == [3]
    assert plans[8].reminders[0].action == "stopped by offhours at 02:00"
    closed = plans[9].resolved[0]
    assert (closed.resolution, closed.still_running) == ("stopped", False)
    assert closed.action == "stopped by offhours at 02:00"
    assert store.incidents[TUE_KEY] == closed
    assert all(not p.changes for p in plans[10:])


@pytest.mark.parametrize(
    ("second_run", "reminded"),
    [
        (at(22), True),
        (at(22) - REMINDER_SLACK, True),  # a run a few minutes early still reminds
        (at(21, 57), True),
        (at(21, 54), False),  # too early: the next run reminds
        (at(19), False),
    ],
)
def test_a_reminder_is_due_every_remind_every_with_a_little_slack(
    second_run: datetime, reminded: bool
) -> None:
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    p = run(store, [lab()], second_run)
    assert [i.key for i in p.reminders] == ([TUE_KEY] if reminded else [])
    assert [i.key for i in p.quiet] == ([] if reminded else [TUE_KEY])
    held = store.incidents[TUE_KEY]
    assert held.reminders == (1 if reminded else 0)
    assert held.last_told_at == (second_run if reminded else TUE_CLOSE)
    assert held.last_seen_at == second_run  # a quiet sighting is written too
    assert held.version == 2


# ---------------------------------------------------------------- snoozes


@pytest.mark.parametrize(
    "snooze",
    [
        Snooze(KEY, "key", at(23), created_at=at(17)),
        Snooze("demo-week", "group", at(23), created_at=at(17), reason="demo"),
    ],
)
def test_a_snooze_keeps_quiet_until_it_expires_then_the_incident_is_new(snooze: Snooze) -> None:
    store = Store()
    told: list[Told] = []
    snoozed: list[int] = []
    for now in hourly(TUE_CLOSE, 7):
        p = run(store, [lab(group="demo-week")], now, snoozes=[snooze])
        told.append(said(p, now))
        snoozed += [now.hour for _ in p.snoozed]
    assert told_hours(told, "new") == [23]  # the first run after it ended
    assert told_hours(told, "reminders") == []
    assert snoozed == [18, 19, 20, 21, 22]


def test_a_snooze_of_another_resource_or_group_does_not_quiet_this_one() -> None:
    store = Store()
    others = [
        Snooze("ravello/x/x/x/other", "key", at(23), created_at=at(17)),
        Snooze("training-lab", "key", at(23), created_at=at(17)),  # a name is not a key
        Snooze("other-group", "group", at(23), created_at=at(17)),
    ]
    p = run(store, [lab(group="demo-week")], TUE_CLOSE, snoozes=others)
    assert [i.key for i in p.new] == [TUE_KEY]


def test_an_incident_snoozed_all_night_is_closed_silently() -> None:
    store = Store()
    snooze = Snooze(KEY, "key", WED_OPEN + timedelta(days=1), created_at=at(17))
    for now in hourly(TUE_CLOSE, 15):
        p = run(store, [lab()], now, snoozes=[snooze])
        assert p.told == ()
    closed = store.incidents[TUE_KEY]
    assert (closed.state, closed.resolution, closed.last_told_at) == ("resolved", "hours", None)


# ---------------------------------------------------------------- how incidents end


def exempt_lab() -> Resource:
    return lab(tags={"offhours-exempt": "until 2026-06-24 customer demo"})


@pytest.mark.parametrize(
    ("later", "now", "resolution", "still_running", "opens"),
    [
        ([lab(0)], at(20), "stopped", False, False),
        ([], at(20), "gone", False, False),
        ([lab(0, id="app-2")], at(20), "gone", False, False),  # the source lists others
        ([exempt_lab()], at(20), "exempt", False, False),
        ([lab()], WED_OPEN, "hours", True, False),
        # flagged again, in the next off-hours period (the morning's runs were missed)
        ([lab()], WED_OPEN + timedelta(hours=11), "hours", True, True),
    ],
)
def test_an_open_incident_no_finding_matches_is_resolved_with_the_reason(
    later: list[Resource], now: datetime, resolution: str, still_running: bool, opens: bool
) -> None:
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    p = run(store, later, now)
    closed = store.incidents[TUE_KEY]
    assert p.resolved == (closed,)
    assert (closed.state, closed.resolution, closed.still_running) == (
        "resolved",
        resolution,
        still_running,
    )
    assert (closed.resolved_at, closed.version) == (now, 2)
    wed_key = incident_key(KEY, datetime(2026, 6, 3, 18, 0, tzinfo=LONDON))
    assert [i.key for i in p.new] == ([wed_key] if opens else [])
    # a run with the same resources later says nothing more
    assert run(store, later, now + timedelta(minutes=1)).told == ()


@pytest.mark.parametrize(
    ("memory", "morning_told", "stopped_told"),
    [
        (MemorySettings(report_resolved=True, remind_at_open=True), True, True),
        (MemorySettings(report_resolved=True, remind_at_open=False), True, True),
        (MemorySettings(report_resolved=False, remind_at_open=True), True, False),
        (MemorySettings(report_resolved=False, remind_at_open=False), False, False),
    ],
)
def test_resolved_incidents_are_told_as_configured_and_always_recorded(
    memory: MemorySettings, morning_told: bool, stopped_told: bool
) -> None:
    for later, now, told in ((lab(), WED_OPEN, morning_told), (lab(0), at(20), stopped_told)):
        store = Store()
        run(store, [lab()], TUE_CLOSE, memory=memory)
        p = run(store, [later], now, memory=memory)
        assert bool(p.resolved) is told
        assert store.incidents[TUE_KEY].state == "resolved"
        assert [c.incident.key for c in p.changes] == [TUE_KEY]


@pytest.mark.parametrize(
    ("verb", "outcome", "resolution"),
    [
        ("stop", "done", "stopped"),
        ("hibernate", "done", "stopped"),
        ("stop", "would", "hours"),  # a dry run stopped nothing
        ("stop", "failed", "hours"),
        ("restore", "done", "hours"),  # started, not stopped
    ],
)
def test_an_offhours_stop_done_this_run_resolves_as_stopped(
    verb: str, outcome: str, resolution: str
) -> None:
    # the decision (made before the stop) still saw it running, in another period
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    later = WED_OPEN + timedelta(hours=11)
    action = Action("lab", KEY, "training-lab", verb, outcome, at=later)  # type: ignore[arg-type]
    p = run(store, [lab()], later, actions={KEY: action}, action_text={KEY: "what it did"})
    closed = store.incidents[TUE_KEY]
    assert (closed.resolution, closed.still_running, closed.action) == (
        resolution,
        resolution == "hours",
        "what it did",
    )
    assert p.resolved == (closed,)


def test_a_failed_source_leaves_its_incidents_open() -> None:
    store = Store()
    other = lab(source="aws", id="i-1", name="builder")
    run(store, [lab(), other], TUE_CLOSE)
    p = run(store, [other], at(19), failed=["lab"])
    assert store.incidents[TUE_KEY].open
    assert p.resolved == ()
    assert [c.incident.key for c in p.changes] == [incident_key(other.key, TUE_CLOSE)]
    # back the next hour: the same incident, quiet, not new
    p = run(store, [lab(), other], at(20), failed=[])
    assert p.new == () and TUE_KEY in {i.key for i in p.quiet}
    # a part of the source failed, but this lab was seen stopped: that is known
    p = run(store, [lab(0), other], at(21), failed=["lab"])
    assert [(i.key, i.resolution) for i in p.resolved] == [(TUE_KEY, "stopped")]


def test_an_incident_resolved_by_hand_stays_quiet_for_its_period() -> None:
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    held = store.incidents[TUE_KEY]
    store.incidents[TUE_KEY] = replace(
        held, state="resolved", resolution="by hand", resolved_at=at(19), version=held.version + 1
    )
    for now in hourly(at(20), 12):
        p = run(store, [lab()], now)
        assert p.told == () and p.changes == ()
    assert store.incidents[TUE_KEY].resolution == "by hand"


# ---------------------------------------------------------------- opening


@pytest.mark.parametrize(
    ("running_since", "now", "opened"),
    [
        (STARTED, at(20), TUE_CLOSE),  # running before the hours closed: from the closing
        (at(19, 30), at(20), at(19, 30)),  # started off hours: from its start
        (None, at(20), at(20)),  # unknown: from now
        (at(21), at(20), at(20)),  # a clock ahead of ours: never later than now
    ],
)
def test_an_incident_opens_when_its_off_hours_running_began(
    running_since: datetime | None, now: datetime, opened: datetime
) -> None:
    store = Store()
    p = run(store, [lab(running_since=running_since)], now, run_id="fn@x")
    (new,) = p.new
    assert new == store.incidents[TUE_KEY]
    assert (new.opened_at, new.last_seen_at, new.last_told_at, new.told_by) == (
        opened,
        now,
        now,
        "fn@x",
    )
    assert (new.resource_key, new.period_start, new.source, new.name, new.owner) == (
        KEY,
        TUE_CLOSE,
        "lab",
        "training-lab",
        "ana",
    )
    assert (new.group, new.kind, new.noun, new.hourly_cost, new.version) == (
        "training-lab",
        "ravello.application",
        "lab",
        1.5,
        1,
    )
    assert p.changes == (Change(new, None),)


def test_a_sighting_keeps_the_latest_name_owner_group_and_cost() -> None:
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    run(store, [lab(name="lab-2", owner="bo", group="g")], at(19))
    held = store.incidents[TUE_KEY]
    assert (held.name, held.owner, held.group, held.cost_so_far) == ("lab-2", "bo", "g", 1.5)


def test_a_resource_off_hours_at_all_times_has_one_always_incident() -> None:
    store = Store()
    never = lab(tags={"offhours": "never"})
    p = run(store, [never], at(12))
    assert [i.key for i in p.new] == [f"{KEY}@always"]
    assert run(store, [never], at(13)).quiet[0].key == f"{KEY}@always"


def test_everything_is_told_in_the_reports_order() -> None:
    names = [("b", "zed"), ("a", "Beta"), ("a", "alpha"), (None, "x")]
    resources = [lab(id=f"id-{n}", name=n, owner=o) for o, n in names]
    p = run(Store(), resources, TUE_CLOSE)
    assert [(i.owner, i.name) for i in p.new] == [
        (None, "x"),
        ("a", "alpha"),
        ("a", "Beta"),
        ("b", "zed"),
    ]
    assert [c.incident for c in p.changes] == list(p.new)


# ---------------------------------------------------------------- exactly once


def test_two_plans_from_the_same_state_tell_each_incident_once() -> None:
    store = Store()
    a, _ = decide_and_plan(store, [lab()], TUE_CLOSE, run_id="a")
    b, _ = decide_and_plan(store, [lab()], TUE_CLOSE + timedelta(seconds=1), run_id="b")
    first = a.keeping(store.apply(a.changes))
    second = b.keeping(store.apply(b.changes))
    assert [i.key for i in first.new] == [TUE_KEY]
    assert second.told == () and second.changes == ()


def test_a_retry_of_the_same_run_identity_tells_what_its_dead_attempt_recorded() -> None:
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    first = run(store, [lab()], at(22), run_id="fn@22")
    assert [i.key for i in first.reminders] == [TUE_KEY]
    # the attempt died before posting; its claim was taken over by a retry a little later
    retry = run(store, [lab()], at(22, 10), run_id="fn@22")
    assert [i.key for i in retry.reminders] == [TUE_KEY]
    assert store.incidents[TUE_KEY].reminders == 1  # not counted twice
    # the same for a new incident
    store = Store()
    run(store, [lab()], TUE_CLOSE, run_id="fn@18")
    assert [i.key for i in run(store, [lab()], at(18, 5), run_id="fn@18").new] == [TUE_KEY]
    # another run identity is quiet
    assert run(store, [lab()], at(18, 10), run_id="fn@19").told == ()


# ---------------------------------------------------------------- untell


def untold(store: Store, resources: list[Resource], now: datetime, **kw: object) -> Plan:
    """A run whose message never went out: applied, then put back."""
    done, loaded = decide_and_plan(store, resources, now, **kw)  # type: ignore[arg-type]
    kept = done.keeping(store.apply(done.changes))
    back = untell(kept, loaded)
    assert store.apply(back) == {i.key for i in kept.told}
    return kept


def test_untell_puts_a_new_incident_back_so_the_next_run_tells_it() -> None:
    store = Store()
    assert untold(store, [lab()], TUE_CLOSE).new
    held = store.incidents[TUE_KEY]
    assert (held.last_told_at, held.told_by, held.version, held.open) == (None, None, 2, True)
    assert [i.key for i in run(store, [lab()], at(19)).new] == [TUE_KEY]


def test_untell_puts_a_reminder_back_so_the_next_run_reminds() -> None:
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    assert untold(store, [lab()], at(22)).reminders
    held = store.incidents[TUE_KEY]
    assert (held.last_told_at, held.reminders, held.last_seen_at) == (TUE_CLOSE, 0, at(22))
    p = run(store, [lab()], at(23))
    assert [i.key for i in p.reminders] == [TUE_KEY]
    assert store.incidents[TUE_KEY].reminders == 1


def test_untell_reopens_a_resolved_incident_so_the_next_run_resolves_it() -> None:
    store = Store()
    run(store, [lab()], TUE_CLOSE)
    assert untold(store, [lab(0)], at(20)).resolved
    assert store.incidents[TUE_KEY].open
    p = run(store, [lab(0)], at(21))
    assert [(i.key, i.resolution) for i in p.resolved] == [(TUE_KEY, "stopped")]


def test_untell_of_a_plan_another_run_overtook_changes_nothing() -> None:
    store = Store()
    done, loaded = decide_and_plan(store, [lab()], TUE_CLOSE)
    kept = done.keeping(store.apply(done.changes))
    run(store, [lab()], at(19))  # written since: the version moved on
    assert store.apply(untell(kept, loaded)) == set()


# ---------------------------------------------------------------- properties


WEEK_START = datetime(2026, 6, 1, 0, 0, tzinfo=LONDON)  # a Monday


@settings(max_examples=40, deadline=None)
@given(
    pattern=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.booleans(), st.sampled_from([0, 1, 4, 6])),
        min_size=24,
        max_size=168,
    ),
    remind_hours=st.sampled_from([None, 1, 3, 4]),
)
def test_over_a_week_each_incident_is_new_once_reminded_apart_and_resolved_once(
    pattern: list[tuple[bool, bool, bool, int]], remind_hours: int | None
) -> None:
    """Each hour: whether a run happens, whether lab 1 and lab 2 are running, and the minutes
    the run is late (or, with 4 and 6, early: the run before's scheduler was late)."""
    every = timedelta(hours=remind_hours) if remind_hours is not None else None
    memory = MemorySettings(remind_every=every)
    store = Store()
    news: dict[str, int] = {}
    told_at: dict[str, list[datetime]] = {}
    resolved: dict[str, int] = {}
    for hour, (runs, one, two, skew) in zip(hourly(WEEK_START, len(pattern)), pattern, strict=True):
        if not runs:
            continue
        now = hour + timedelta(minutes=skew if skew < 4 else -skew)
        resources = [lab(3 if one else 0), lab(3 if two else 0, id="app-2", name="other")]
        p = run(store, resources, now, memory=memory)
        for i in p.new:
            news[i.key] = news.get(i.key, 0) + 1
            told_at.setdefault(i.key, []).append(now)
        for i in p.reminders:
            told_at[i.key].append(now)
        for i in p.resolved:
            resolved[i.key] = resolved.get(i.key, 0) + 1
    assert all(n == 1 for n in news.values())
    assert all(n == 1 for n in resolved.values())
    for times in told_at.values():
        if every is None:
            assert len(times) == 1
        for before, after in pairwise(times):
            assert every is not None and after - before >= every - REMINDER_SLACK
    for incident in store.incidents.values():
        assert incident.version >= 1
        assert (incident.resolved_at is None) is incident.open


@settings(max_examples=40, deadline=None)
@given(
    pattern=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=60),
    gap=st.integers(min_value=0, max_value=30),
)
def test_two_overlapping_runs_tell_each_incident_once_between_them(
    pattern: list[tuple[bool, bool]], gap: int
) -> None:
    """Before each hour's run a second run with another identity plans from the same loaded
    state; both apply (the version check decides): nothing is told by both."""
    store = Store()
    for n, (one, two) in enumerate(pattern):
        now = TUE_CLOSE + timedelta(hours=n)
        resources = [lab(3 if one else 0), lab(3 if two else 0, id="app-2", name="other")]
        a, _ = decide_and_plan(store, resources, now, run_id=f"a{n}")
        b, _ = decide_and_plan(store, resources, now + timedelta(minutes=gap), run_id=f"b{n}")
        told_a = {i.key for i in a.keeping(store.apply(a.changes)).told}
        told_b = {i.key for i in b.keeping(store.apply(b.changes)).told}
        assert not told_a & told_b
        assert store.apply(a.changes) == set()  # a replay changes nothing


def test_a_resource_offhours_stopped_and_no_longer_listed_is_resolved_as_stopped() -> None:
    """A source that lists only what runs (AWS) drops a stopped instance: the incident knows
    offhours stopped it, so it is "stopped", not "gone"."""
    store = Store()
    stop = {KEY: "stopped by offhours at 18:00"}
    run(store, [lab()], TUE_CLOSE, action_text=stop)
    p = run(store, [], at(19))
    assert [(i.resolution, i.action) for i in p.resolved] == [
        ("stopped", "stopped by offhours at 18:00")
    ]


# ---------------------------------------------------------------- two configs, one store


@pytest.mark.parametrize(
    ("b_sees", "b_failed"),
    [
        ([], ["farm"]),  # B's only source failed: A's lab is not B's to judge
        ([lab(source="farm", id="f-1", name="farm-lab")], []),  # B reads another source
        ([], []),  # B's source lists nothing at all
    ],
)
def test_a_run_leaves_the_incidents_of_sources_it_does_not_have_alone(
    b_sees: list[Resource], b_failed: list[str]
) -> None:
    """Config A (source "lab") and config B (source "farm") share one store."""
    store = Store()
    run(store, [lab()], TUE_CLOSE, sources=["lab"])
    p = run(store, b_sees, at(19), sources=["farm"], failed=b_failed)
    assert store.incidents[TUE_KEY].open
    assert TUE_KEY not in {c.incident.key for c in p.changes}
    assert TUE_KEY not in {i.key for i in (*p.resolved, *p.quiet, *p.snoozed)}
    # A's next run still sees its lab as the incident it told: quiet, not new
    p = run(store, [lab()], at(20), sources=["lab"])
    assert p.new == () and TUE_KEY in {i.key for i in p.quiet}
    # and A's own run resolves it when it stops
    p = run(store, [lab(0)], at(21), sources=["lab"])
    assert [(i.key, i.resolution) for i in p.resolved] == [(TUE_KEY, "stopped")]


@settings(max_examples=40, deadline=None)
@given(
    pattern=st.lists(
        st.tuples(st.sampled_from("ab"), st.booleans(), st.booleans()), min_size=1, max_size=40
    )
)
def test_two_configs_sharing_a_store_only_ever_change_their_own_incidents(
    pattern: list[tuple[str, bool, bool]],
) -> None:
    """Each hour config A or B runs (its lab running or not, its source failed or not): no
    run writes an incident of the other's source."""
    store = Store()
    names = {"a": "lab", "b": "farm"}
    for n, (who, running, failed) in enumerate(pattern):
        source = names[who]
        resources = [] if failed else [lab(3 if running else 0, source=source, id=f"{who}-1")]
        p = run(
            store,
            resources,
            TUE_CLOSE + timedelta(hours=n),
            sources=[source],
            failed=[source] if failed else [],
        )
        assert {c.incident.source for c in p.changes} <= {source}
        assert {i.source for i in p.told} <= {source}


# ---------------------------------------------------------------- a command-line run's identity

SLOT = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "slot", "stands_for"),
    [
        (SLOT, SLOT, SLOT),  # fired on time
        (SLOT + timedelta(seconds=40), SLOT, SLOT),  # cron a little late
        (SLOT + SLOT_TOLERANCE, SLOT, SLOT),  # a retry at the edge of the tolerance
        (SLOT + timedelta(minutes=15, seconds=30), SLOT, SLOT + timedelta(minutes=15)),
        (SLOT + timedelta(minutes=20, seconds=5), SLOT, SLOT + timedelta(minutes=20)),  # re-run
        (SLOT + timedelta(days=1, hours=12), SLOT, SLOT + timedelta(days=1, hours=12)),  # weekend
        (SLOT + timedelta(seconds=59), None, SLOT),  # the schedule has not fired lately
        (SLOT - timedelta(minutes=1), SLOT, SLOT - timedelta(minutes=1)),  # a slot ahead: not it
    ],
)
def test_a_cli_run_stands_for_its_slot_only_shortly_after_it(
    at: datetime, slot: datetime | None, stands_for: datetime
) -> None:
    assert run_time(at, slot) == stands_for


@given(
    late=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    tolerance=st.sampled_from([timedelta(0), timedelta(minutes=5), SLOT_TOLERANCE]),
)
def test_a_cli_run_is_its_slot_or_its_own_minute(late: timedelta, tolerance: timedelta) -> None:
    at = SLOT + late
    got = run_time(at, SLOT, tolerance)
    if late <= tolerance:
        assert got == SLOT
    else:
        assert got == at.replace(second=0, microsecond=0) and got.second == 0
