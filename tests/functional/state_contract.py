"""The contract every state store passes (:mod:`offhours.state.base`), written once.

A store's test module subclasses :class:`StoreContract` and gives it one fixture,
``make_store``: a factory that opens a *new handle on the same store* each call (another
connection, another client), so the concurrency tests race real handles. ``store`` is one
such handle, closed after the test; the factory's handles are the subclass's to close.

Versions: a store writes a change's incident with ``version = expected_version + 1`` (1 when
new), whatever the incident's own ``version`` says: the store, not the planner, counts writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from offhours.incidents import Change, Incident, Snooze, incident_key
from offhours.model import MessageReceipt, Receipt
from offhours.state.base import Claim, StateError, Store, receipt_record

__all__ = ["LEASE", "T0", "StoreContract", "make_incident", "race", "receipt", "resolved"]

#: a night's start: every test's clock is this plus something
T0 = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
PARIS = ZoneInfo("Europe/Paris")

MakeStore = Callable[[], Store]


def make_incident(
    resource: str = "vm-1", *, period: datetime | None = T0, **fields: object
) -> Incident:
    """An open incident with every field set to something other than its default."""
    resource_key = f"aws/123456789012/eu-west-1/ec2.instance/{resource}"
    values: dict[str, object] = {
        "key": incident_key(resource_key, period),
        "resource_key": resource_key,
        "period_start": period,
        "source": "aws-prod",
        "name": f"lab {resource} — ünïcode",
        "owner": "alice@example.com",
        "group": "team-a",
        "kind": "aws.ec2.instance",
        "noun": "instance",
        "opened_at": T0 + timedelta(minutes=5),
        "last_seen_at": T0 + timedelta(hours=3),
        "hourly_cost": 0.192,
        "cost_so_far": 0.576,
        "cost_at_least": True,
        "last_told_at": T0 + timedelta(hours=2),
        "told_by": "offhours@2026-03-02T21:00:00Z",
        "reminders": 2,
        "action": "stopped by offhours at 02:00",
        "note": "left on <b>for</b> *the* demo",
        "version": 0,
    }
    values.update(fields)
    return Incident(**values)  # type: ignore[arg-type]


def resolved(incident: Incident, at: datetime, **fields: object) -> Incident:
    values: dict[str, object] = {"resolution": "hours", "still_running": True, **fields}
    return replace(incident, state="resolved", resolved_at=at, **values)  # type: ignore[arg-type]


def race(count: int, work: Callable[[int], object]) -> list[object]:
    """``work(i)`` in ``count`` threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test as a result
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return results


def _one_process(
    target: Callable[..., str], args: tuple[object, ...], start: object, out: object
) -> None:
    start.wait(timeout=60)  # type: ignore[attr-defined]
    try:
        out.put(target(*args))  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        out.put(f"error: {type(exc).__name__}: {exc}")  # type: ignore[attr-defined]


def race_processes(
    target: Callable[..., str], args: list[tuple[object, ...]], timeout: float = 120
) -> list[str]:
    """``target(*a)`` for each ``a`` in a spawned process of its own, released together by a
    barrier; their answers, sorted. Plain processes with a deadline, not a Pool: a Pool whose
    worker dies waits for its task for ever."""
    import multiprocessing
    import queue
    import time

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(args))
    out = context.Queue()
    procs = [
        context.Process(target=_one_process, args=(target, a, start, out), daemon=True)
        for a in args
    ]
    for proc in procs:
        proc.start()
    end = time.monotonic() + timeout
    answers: list[str] = []
    try:
        while len(answers) < len(args):
            left = end - time.monotonic()
            if left <= 0:
                pytest.fail(f"only {len(answers)} of {len(args)} processes answered in {timeout} s")
            try:
                answers.append(out.get(timeout=min(left, 1.0)))
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    pytest.fail(f"a process died (exit codes {dead}) before answering")
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    return sorted(answers)


def receipt(notifier: str = "team-slack") -> Receipt:
    return Receipt(
        notifier=notifier,
        channel="slack",
        destination="#labs",
        messages=(
            MessageReceipt(1, id="1700000000.000100", timestamp="1700000000.000100"),
            MessageReceipt(2, no_id="webhooks give no message id"),
        ),
        planned=2,
    )


class StoreContract:
    """Every store's behaviour; subclasses provide the ``make_store`` fixture."""

    @pytest.fixture
    def store(self, make_store: MakeStore) -> Iterator[Store]:
        handle = make_store()
        yield handle
        handle.close()

    # -- helpers
    def write(self, store: Store, *incidents: Incident) -> None:
        changes = [Change(i, None) for i in incidents]
        assert store.apply(changes, now=T0) == {i.key for i in incidents}

    def claimed(self, store: Store, run_id: str = "offhours@2026-03-02T19:00:00Z") -> Claim:
        claim = store.claim(run_id, now=T0, lease_until=T0 + LEASE)
        assert claim.outcome == "claimed"
        return claim

    # -- round trips
    def test_an_incident_round_trips_every_field(self, store: Store) -> None:
        paris = make_incident(
            period=T0.astimezone(PARIS),
            opened_at=(T0 + timedelta(minutes=5)).astimezone(PARIS),
        )
        always = make_incident("vm-2", period=None, owner=None, hourly_cost=None, cost_so_far=None)
        closed = resolved(make_incident("vm-3"), T0 + timedelta(hours=13), resolution="stopped")
        self.write(store, paris, always, closed)
        loaded = store.load([paris.key, always.key, closed.key], now=T0).incidents
        assert loaded == {
            paris.key: replace(paris, version=1),
            always.key: replace(always, version=1),
            closed.key: replace(closed, version=1),
        }
        # aware datetimes, in UTC
        back = loaded[paris.key]
        assert back.period_start is not None and back.period_start.utcoffset() == timedelta(0)
        assert back.opened_at.tzinfo is not None

    def test_the_version_is_counted_by_the_store(self, store: Store) -> None:
        first = make_incident(version=7)
        assert store.apply([Change(first, None)], now=T0) == {first.key}
        assert store.find(first.key)[0].version == 1
        seen = replace(first, last_seen_at=T0 + timedelta(hours=4), reminders=3)
        assert store.apply([Change(seen, 1)], now=T0) == {first.key}
        assert store.find(first.key) == [replace(seen, version=2)]

    def test_a_snooze_round_trips_every_field(self, store: Store) -> None:
        by_key = Snooze(
            target=make_incident().resource_key,
            scope="key",
            until=(T0 + timedelta(days=2)).astimezone(PARIS),
            created_at=T0,
            reason="demo on Tuesday: «keep»",
            by="alice",
        )
        by_group = Snooze(
            target="team-b", scope="group", until=T0 + timedelta(hours=1), created_at=T0
        )
        store.add_snooze(by_key)
        store.add_snooze(by_group)
        assert sorted(store.snoozes(now=T0), key=lambda s: s.scope) == [by_group, by_key]

    def test_a_run_round_trips_every_field(self, store: Store) -> None:
        claim = self.claimed(store)
        assert claim.run.token and claim.run.state == "claimed"
        assert (claim.run.started_at, claim.run.lease_until) == (T0, T0 + LEASE)
        store.apply(
            [], now=T0 + timedelta(seconds=1), claim=claim, posting=("team-slack", "console")
        )
        (posting,) = store.runs()
        assert posting.state == "posting"
        assert posting.posting_at == T0 + timedelta(seconds=1)
        assert posting.pending == ("team-slack", "console")
        assert posting.token == claim.run.token
        done_at = T0 + timedelta(seconds=2)
        store.complete(
            claim, [receipt()], now=done_at, told={"new": 3, "reminders": 1, "resolved": 2}
        )
        (run,) = store.runs()
        assert run == replace(
            posting,
            state="done",
            done_at=done_at,
            receipts=(receipt_record(receipt()),),
            told={"new": 3, "reminders": 1, "resolved": 2},
        )
        assert run.started_at == T0 and run.lease_until == T0 + LEASE

    # -- claim
    def test_claim_outcomes(self, store: Store) -> None:
        run_id = "offhours@2026-03-02T19:00:00Z"
        first = self.claimed(store, run_id)
        assert not first.taken_over
        busy = store.claim(run_id, now=T0 + timedelta(minutes=1), lease_until=T0 + LEASE)
        assert busy.outcome == "busy" and not busy.ours
        assert busy.run.token == first.run.token
        store.apply([], now=T0, claim=first, posting=("team-slack",))
        assert store.claim(
            run_id, now=T0 + timedelta(hours=1), lease_until=T0 + 2 * LEASE
        ).outcome == ("posting")
        store.complete(first, [receipt()], now=T0, told={})
        again = store.claim(run_id, now=T0 + timedelta(hours=1), lease_until=T0 + 2 * LEASE)
        assert again.outcome == "done" and again.run.state == "done"

    def test_an_expired_claim_is_taken_over(self, store: Store) -> None:
        run_id = "offhours@2026-03-02T19:00:00Z"
        first = self.claimed(store, run_id)
        later = T0 + LEASE + timedelta(seconds=1)
        second = store.claim(run_id, now=later, lease_until=later + LEASE)
        assert second.outcome == "claimed" and second.taken_over
        assert second.run.token != first.run.token
        assert second.run.lease_until == later + LEASE
        # the first attempt is no longer the run's: it can neither post nor complete
        with pytest.raises(StateError):
            store.apply([], now=later, claim=first, posting=("team-slack",))
        with pytest.raises(StateError):
            store.complete(first, [], now=later, told={})
        store.apply([], now=later, claim=second, posting=("team-slack",))

    def test_a_released_run_is_claimed_again(self, store: Store) -> None:
        run_id = "offhours@2026-03-02T19:00:00Z"
        first = self.claimed(store, run_id)
        store.release(first, now=T0)
        second = self.claimed(store, run_id)
        assert second.run.token != first.run.token and not second.taken_over
        # releasing someone else's claim changes nothing
        store.release(first, now=T0)
        assert store.claim(run_id, now=T0, lease_until=T0 + LEASE).outcome == "busy"

    def test_the_same_run_claimed_three_times_in_a_row(self, store: Store) -> None:
        run_id = "offhours@2026-03-02T19:00:00Z"
        outcomes = [store.claim(run_id, now=T0, lease_until=T0 + LEASE).outcome for _ in range(3)]
        assert outcomes == ["claimed", "busy", "busy"]

    def test_the_same_run_claimed_from_three_threads(self, make_store: MakeStore) -> None:
        handles = [make_store() for _ in range(3)]
        try:
            results = race(
                3, lambda i: handles[i].claim("offhours@x", now=T0, lease_until=T0 + LEASE)
            )
        finally:
            for h in handles:
                h.close()
        assert all(isinstance(r, Claim) for r in results), results
        outcomes = sorted(r.outcome for r in results if isinstance(r, Claim))
        assert outcomes == ["busy", "busy", "claimed"]

    # -- apply
    def test_apply_checks_each_version(self, store: Store) -> None:
        present = make_incident("vm-1")
        self.write(store, present)
        absent = make_incident("vm-2")
        seen = replace(present, last_seen_at=T0 + timedelta(hours=5))
        accepted = store.apply(
            [
                Change(absent, None),  # absent, expected absent: written
                Change(seen, 1),  # present at version 1: written
                Change(replace(present, reminders=9), None),  # expected absent, is present: not
                Change(make_incident("vm-3"), 4),  # expected present, is absent: not
            ],
            now=T0,
        )
        assert accepted == {absent.key, present.key}
        assert store.find(present.key) == [replace(seen, version=2)]
        assert store.find(make_incident("vm-3").key) == []

    def test_a_stale_change_writes_nothing(self, store: Store) -> None:
        first = make_incident()
        self.write(store, first)
        store.apply([Change(replace(first, reminders=3), 1)], now=T0)
        stale = replace(first, reminders=7, note="stale")
        assert store.apply([Change(stale, 1)], now=T0) == set()
        (kept,) = store.find(first.key)
        assert (kept.reminders, kept.note, kept.version) == (3, first.note, 2)

    def test_two_handles_applying_the_same_change_one_is_accepted(
        self, make_store: MakeStore
    ) -> None:
        handles = [make_store() for _ in range(2)]
        new = make_incident()
        try:
            results = race(2, lambda i: handles[i].apply([Change(new, None)], now=T0))
            assert sorted(results, key=len) == [set(), {new.key}]  # type: ignore[arg-type]
            told = replace(new, reminders=1)
            results = race(2, lambda i: handles[i].apply([Change(told, 1)], now=T0))
            assert sorted(results, key=len) == [set(), {new.key}]  # type: ignore[arg-type]
        finally:
            for h in handles:
                h.close()

    # -- load
    def test_load_gives_open_incidents_requested_keys_snoozes_and_gaps(self, store: Store) -> None:
        night = T0 - timedelta(days=1)
        open_old = make_incident("vm-1", period=night, opened_at=night)
        closed_asked = resolved(make_incident("vm-2"), T0 + timedelta(hours=1))
        closed_other = resolved(make_incident("vm-3"), T0 + timedelta(hours=1))
        self.write(store, open_old, closed_asked, closed_other)
        active = Snooze("team-a", "group", until=T0 + timedelta(hours=2), created_at=T0)
        expired = Snooze("team-b", "group", until=T0, created_at=T0 - timedelta(days=1))
        store.add_snooze(active)
        store.add_snooze(expired)
        # a run that died posting (lease passed), one still posting, one whose gap was told
        dead = self.claimed(store, "offhours@dead")
        store.apply([], now=T0, claim=dead, posting=("team-slack",))
        told = self.claimed(store, "offhours@told")
        store.apply([], now=T0, claim=told, posting=("team-slack",))
        later = T0 + LEASE + timedelta(minutes=1)
        live = store.claim("offhours@live", now=later, lease_until=later + LEASE)
        store.apply([], now=later, claim=live, posting=("team-slack",))
        reporter = store.claim("offhours@reporter", now=later, lease_until=later + LEASE)
        store.apply(
            [], now=later, claim=reporter, posting=("team-slack",), gaps_reported=["offhours@told"]
        )

        loaded = store.load([closed_asked.key, "aws/1/r/k/none@always"], now=later)
        assert set(loaded.incidents) == {open_old.key, closed_asked.key}
        assert loaded.snoozes == (active,)
        assert [g.run_id for g in loaded.gaps] == ["offhours@dead"]
        assert loaded.gaps[0].pending == ("team-slack",)
        assert store.claim("offhours@told", now=later, lease_until=later).outcome == "posting"
        assert {r.run_id: r.state for r in store.runs()}["offhours@told"] == "gap-reported"

    # -- complete and inspection
    def test_complete_stores_the_receipts(self, store: Store) -> None:
        claim = self.claimed(store)
        store.apply([], now=T0, claim=claim, posting=("team-slack", "backup"))
        failed = replace(receipt("backup"), messages=(), error="HTTP 500 from Slack")
        store.complete(claim, [receipt(), failed], now=T0, told={"new": 1})
        (run,) = store.runs()
        assert run.receipts == (receipt_record(receipt()), receipt_record(failed))
        assert run.receipts[0]["messages"][0]["id"] == "1700000000.000100"

    def test_incidents_find_and_history(self, store: Store) -> None:
        monday = make_incident("vm-1", opened_at=T0, last_seen_at=T0 + timedelta(hours=12))
        tuesday_start = T0 + timedelta(days=1)
        tuesday = make_incident(
            "vm-1",
            period=tuesday_start,
            opened_at=tuesday_start,
            last_seen_at=tuesday_start + timedelta(hours=2),
        )
        other = resolved(
            make_incident("vm-2", opened_at=T0, last_seen_at=T0 + timedelta(hours=1)),
            T0 + timedelta(hours=2),
        )
        self.write(store, monday, tuesday, other)
        assert [i.key for i in store.find(monday.resource_key)] == [tuesday.key, monday.key]
        assert [i.key for i in store.find(other.key)] == [other.key]
        assert store.find("aws/nothing/here@always") == []
        assert {i.key for i in store.incidents(open_only=True)} == {monday.key, tuesday.key}
        assert {i.key for i in store.incidents()} == {monday.key, tuesday.key, other.key}
        assert {i.key for i in store.incidents(since=T0 + timedelta(hours=3))} == {
            monday.key,
            tuesday.key,
        }
        assert len(store.incidents(limit=1)) == 1
        # history: running that overlaps [start, end)
        assert {i.key for i in store.history(T0 + timedelta(hours=6), T0 + timedelta(days=1))} == {
            monday.key
        }
        assert {i.key for i in store.history(T0 - timedelta(days=1), T0)} == set()
        assert {i.key for i in store.history(T0, T0 + timedelta(days=7))} == {
            monday.key,
            tuesday.key,
            other.key,
        }

    def test_export_is_json_and_has_everything(self, store: Store) -> None:
        self.write(store, make_incident(), make_incident("vm-2", period=None))
        store.add_snooze(
            Snooze("team-a", "group", until=T0 + timedelta(hours=1), created_at=T0, reason="r")
        )
        claim = self.claimed(store)
        store.apply([], now=T0, claim=claim, posting=("team-slack",))
        store.complete(claim, [receipt()], now=T0, told={"new": 2})
        document = json.loads(json.dumps(store.export()))
        assert document["schema"] == 1
        assert len(document["incidents"]) == 2 and len(document["snoozes"]) == 1
        assert len(document["runs"]) == 1
        (run,) = document["runs"]
        assert run["run_id"] == claim.run.run_id and run["state"] == "done"
        assert run["receipts"] == [receipt_record(receipt())]
        incident = next(i for i in document["incidents"] if i["period_start"])
        assert incident["opened_at"].startswith("2026-03-02T19:05:00")
        assert incident["note"] == make_incident().note
        assert store.check() == []
