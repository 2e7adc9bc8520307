"""Incident memory end to end: run_audit and the CLI against the simulators, with a real store
(SQLite on disk, DynamoDB on moto's server): what a night of hourly runs says, and that one
scheduled event delivered several times posts once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offhours.audit import AuditResult, Memory, run_audit, run_id
from offhours.config import parse_config
from offhours.state.sqlite import SqliteStore
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.aws import Aws
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER

NY = "America/New_York"
#: Monday 30 November 2026, 18:00 in New York: the hours (08:00-18:00) have just closed
EVENING = datetime.fromisoformat("2026-11-30T18:00:00-05:00")
FUNCTION = "offhours-test"


def document(ravello: RavelloSimulator, **memory: Any) -> dict[str, Any]:
    return {
        "hours": {"timezone": NY, "start": "08:00", "end": "18:00"},
        "deploy": {"function_name": FUNCTION},
        "memory": {"remind_every_hours": 4, **memory},
        "sources": [
            {
                "type": "ravello",
                "base_url": ravello.base_url,
                "username": "env:RU",
                "password": "env:RP",
                "retries": 0,
            }
        ],
        "notifiers": [{"type": "slack", "webhook_url": "env:HOOK"}],
    }


def environ(sink: SlackSink) -> dict[str, str]:
    return {"RU": RAVELLO_USER, "RP": RAVELLO_PASSWORD, "HOOK": sink.url}


def lab(running: bool = True, name: str = "lab-1") -> dict[str, Any]:
    return make_app(
        1,
        name,
        "Ada",
        running=2 if running else 0,
        stopped=0 if running else 2,
        publish_start=EVENING - timedelta(hours=1),
    )


def audit_at(
    now: datetime,
    ravello: RavelloSimulator,
    sink: SlackSink,
    db: Path,
    *,
    identity: str | None = None,
    **memory: Any,
) -> AuditResult:
    cfg = parse_config(document(ravello, **memory))
    store = SqliteStore(db)
    try:
        mem = Memory(store, identity or run_id(FUNCTION, now), cfg.memory.settings())
        return run_audit(cfg, now=now, environ=environ(sink), memory=mem)
    finally:
        store.close()


def night() -> Iterator[datetime]:
    """Twenty hourly runs: 18:00 Monday to 13:00 Tuesday, New York time."""
    for hour in range(20):
        yield EVENING + timedelta(hours=hour)


def test_a_night_of_hourly_runs_tells_once_reminds_and_resolves_in_the_morning(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    said: dict[str, list[str]] = {}
    for now in night():
        before = len(slack.messages)
        result = audit_at(now, ravello, slack, tmp_path / "state.db")
        assert result.status == "success", result.failures
        memory = result.report.memory
        assert memory is not None and memory.deduplicated
        clock = now.strftime("%H:%M")
        told = [f"{s}" for s in memory.status.values()]
        told += ["resolved" for _ in memory.resolved]
        if told:
            said[clock] = told
            assert len(slack.messages) == before + 1, clock
        else:
            assert len(slack.messages) == before, f"{clock}: posted with nothing to tell"
    assert said == {
        "18:00": ["new"],
        "22:00": ["reminder"],
        "02:00": ["reminder"],
        "06:00": ["reminder"],
        "08:00": ["resolved"],
    }


def test_without_reminders_the_night_is_one_new_and_one_resolved(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    for now in night():
        audit_at(now, ravello, slack, tmp_path / "state.db", remind_every_hours=0)
    assert len(slack.messages) == 2


def test_a_lab_stopped_in_the_night_is_resolved_at_the_next_run(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    db = tmp_path / "state.db"
    audit_at(EVENING, ravello, slack, db)
    ravello.set_apps([lab(running=False)])
    result = audit_at(EVENING + timedelta(hours=1), ravello, slack, db)
    memory = result.report.memory
    assert memory is not None
    assert [(i.name, i.resolution) for i in memory.resolved] == [("lab-1", "stopped")]
    assert len(slack.messages) == 2
    # Nothing more to say: the lab stays stopped.
    audit_at(EVENING + timedelta(hours=2), ravello, slack, db)
    assert len(slack.messages) == 2


def test_the_same_scheduled_run_three_times_in_a_row_posts_once(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    results = [audit_at(EVENING, ravello, slack, tmp_path / "state.db") for _ in range(3)]
    assert len(slack.messages) == 1
    assert [r.skipped is None for r in results] == [True, False, False]
    assert "delivered already" in (results[1].skipped or "")
    # A skipped run reads no source at all.
    assert sum(1 for r in ravello.requests if r.path.endswith("/applications")) == 1


def test_the_same_scheduled_run_three_times_at_once_in_threads_posts_once(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    start = threading.Barrier(3)
    results: list[AuditResult] = []

    def one() -> None:
        start.wait()
        results.append(audit_at(EVENING, ravello, slack, tmp_path / "state.db"))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3
    assert len(slack.messages) == 1
    assert sum(r.skipped is None for r in results) == 1


def test_two_different_runs_at_once_tell_each_incident_once(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    """Overlapping runs with different identities (a slow run and the next one): every
    incident is told once between them, none is lost."""
    ravello.set_apps([make_app(i, f"lab-{i}", "Ada", publish_start=EVENING) for i in range(6)])
    start = threading.Barrier(2)
    results: list[AuditResult] = []

    def one(identity: str) -> None:
        start.wait()
        results.append(
            audit_at(
                EVENING + timedelta(minutes=5), ravello, slack, tmp_path / "s.db", identity=identity
            )
        )

    threads = [threading.Thread(target=one, args=(f"run-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    told = [k for r in results for k in (r.report.memory.status if r.report.memory else {})]
    assert sorted(told) == sorted(set(told))
    assert len(told) == 6


def test_a_store_that_cannot_be_used_still_delivers_every_finding_marked(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not a database, it is a very corrupt file " * 100)
    result = audit_at(EVENING, ravello, slack, db)
    assert len(slack.messages) == 1
    assert result.memory_problem is not None
    assert str(db) in result.memory_problem
    assert len(result.report.findings) == 1  # told, not deduplicated
    text = json.dumps(slack.messages[0])
    assert "not deduplicated" in text


def test_two_configs_sharing_one_store_leave_each_others_incidents_open(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    """Two configurations on one machine, one SQLite file (both default to the same path):
    config B, whose only source fails, then reads another source, never closes A's lab."""
    ravello.set_apps([lab()])
    db = tmp_path / "state.db"

    def audit(name: str, base_url: str, now: datetime) -> AuditResult:
        doc = document(ravello)
        doc["sources"][0].update(name=name, base_url=base_url)
        cfg = parse_config(doc)
        store = SqliteStore(db)
        try:
            mem = Memory(store, run_id(f"{FUNCTION}-{name}", now), cfg.memory.settings())
            return run_audit(cfg, now=now, environ=environ(slack), memory=mem)
        finally:
            store.close()

    first = audit("lab-a", ravello.base_url, EVENING)
    assert first.report.memory is not None and list(first.report.memory.status.values()) == ["new"]
    # B's only source cannot be read (nothing listens on port 9)
    failed = audit("lab-b", "https://127.0.0.1:9/api/v1", EVENING + timedelta(minutes=20))
    assert failed.failures and failed.report.memory is not None
    assert failed.report.memory.resolved == ()
    # B reads a source of its own (the same simulator under another name: other keys)
    other = audit("lab-b", ravello.base_url, EVENING + timedelta(minutes=40))
    assert other.report.memory is not None and other.report.memory.resolved == ()
    store = SqliteStore(db)
    try:
        still = {i.source for i in store.incidents(open_only=True)}
    finally:
        store.close()
    assert still == {"lab-a", "lab-b"}
    # A's next run: its lab is the incident it told already (quiet, not new again)
    later = audit("lab-a", ravello.base_url, EVENING + timedelta(hours=1))
    assert later.report.memory is not None and later.report.memory.status == {}
    assert len(later.report.memory.quiet) == 1


# ---------------------------------------------------------------- the CLI: processes, kills


def cli_config(tmp_path: Path, ravello: RavelloSimulator, **memory: Any) -> Path:
    doc = document(ravello, path=str(tmp_path / "state.db"), **memory)
    lines = [
        "[hours]",
        f'timezone = "{NY}"',
        'start = "08:00"',
        'end = "18:00"',
        "[deploy]",
        f'function_name = "{FUNCTION}"',
        "[memory]",
        *(f"{k} = {json.dumps(v)}" for k, v in doc["memory"].items()),
        "[[sources]]",
        'type = "ravello"',
        f'base_url = "{ravello.base_url}"',
        'username = "env:RU"',
        'password = "env:RP"',
        "retries = 0",
        "[[notifiers]]",
        'type = "slack"',
        'webhook_url = "env:HOOK"',
    ]
    path = tmp_path / "offhours.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def offhours(tmp_path: Path, sink: SlackSink, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFHOURS_")}
    env.update(environ(sink))
    return subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        [sys.executable, "-m", "offhours", "audit", "-c", str(tmp_path / "offhours.toml"), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


NOW = "2026-11-30T22:10:00-05:00"  # the hourly slot of 22:00


def test_the_same_run_from_three_processes_at_once_posts_once(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    cli_config(tmp_path, ravello)
    procs = [offhours(tmp_path, slack, "--now", NOW, "--run-id", "nightly-22") for _ in range(3)]
    codes = [finish(p) for p in procs]
    assert [c for c, _, _ in codes] == [0, 0, 0], codes
    assert len(slack.messages) == 1
    assert sum("nothing sent" in err for _, _, err in codes) == 2


def test_the_cli_run_identity_is_the_schedule_slot(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    """Two runs within SLOT_TOLERANCE after a slot of `[deploy] schedule` (hourly here) are the
    same run: the second sends nothing, and says why and how to run anyway."""
    ravello.set_apps([lab()])
    cli_config(tmp_path, ravello)
    first = finish(offhours(tmp_path, slack, "--now", "2026-11-30T22:01:00-05:00"))
    again = finish(offhours(tmp_path, slack, "--now", "2026-11-30T22:15:00-05:00"))
    assert first[0] == 0 and again[0] == 0
    assert "nothing sent" in again[2]
    assert f"this run ({FUNCTION}@2026-12-01T03:00:00Z) was delivered already" in again[2]
    assert "to run again now, pass --run-id NAME" in again[2]
    assert again[1] == ""  # on stderr only
    assert len(slack.messages) == 1


def test_a_cli_run_past_the_slot_tolerance_is_a_run_of_its_own(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    """A run that failed (Ravello refused the login) and its re-run 20 minutes later, after the
    fix: the re-run is not the slot's, so it reads and tells."""
    ravello.set_apps([lab()])
    cli_config(tmp_path, ravello)
    ravello.inject("401", count=None)
    code, _, err = finish(offhours(tmp_path, slack, "--now", "2026-11-30T22:00:00-05:00"))
    assert code == 1 and "nothing sent" not in err
    ravello.clear_faults()
    code, _, err = finish(offhours(tmp_path, slack, "--now", "2026-11-30T22:20:00-05:00"))
    assert code == 0 and "nothing sent" not in err, err
    db = tmp_path / "state.db"
    assert _run_state(db, f"{FUNCTION}@2026-12-01T03:00:00Z") == "done"
    assert _run_state(db, f"{FUNCTION}@2026-12-01T03:20:00Z") == "done"
    assert "lab-1" in json.dumps(slack.messages[-1])


def test_hourly_weekend_cli_runs_are_not_fridays_last_slot(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    """The default schedule (weekday evenings) last fired Friday 23:00: each hourly cron run
    on Saturday is a run of its own, so the lab is told, then reminded."""
    ravello.set_apps([lab()])
    cli_config(tmp_path, ravello, remind_every_hours=1)
    for at in ("2026-12-05T10:00:00-05:00", "2026-12-05T11:00:00-05:00"):
        code, _, err = finish(offhours(tmp_path, slack, "--now", at))
        assert code == 0 and "nothing sent" not in err, err
    assert len(slack.messages) == 2
    db = tmp_path / "state.db"
    assert _run_state(db, f"{FUNCTION}@2026-12-05T16:00:00Z") == "done"


def _run_state(db: Path, identity: str) -> str:
    store = SqliteStore(db)
    try:
        runs = {r.run_id: r.state for r in store.runs()}
    finally:
        store.close()
    return runs.get(identity, "absent")


def _wait_for(predicate: Any, what: str, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_killed_after_slack_took_the_message_its_retry_posts_nothing_and_the_next_run_says_so(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    cli_config(tmp_path, ravello)
    slack.inject_slow(30, accept_first=True)
    proc = offhours(tmp_path, slack, "--now", NOW, "--run-id", "killed")
    _wait_for(lambda: len(slack.messages) == 1, "Slack to take the message")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    db = tmp_path / "state.db"
    assert _run_state(db, "killed") == "posting"
    # The retry of the same run: it may have posted, so it posts nothing (at most once).
    code, _, err = finish(offhours(tmp_path, slack, "--now", NOW, "--run-id", "killed"))
    assert code == 0 and "nothing sent" in err
    assert len(slack.messages) == 1
    # The next run reports the gap (and only it: the lab was told already).
    later = "2026-11-30T23:10:00-05:00"
    code, _, err = finish(offhours(tmp_path, slack, "--now", later, "--run-id", "next"))
    assert code == 0, err
    assert len(slack.messages) == 2
    assert "killed" in json.dumps(slack.messages[1])
    assert _run_state(db, "killed") == "gap-reported"
    # Reported once.
    finish(offhours(tmp_path, slack, "--now", "2026-11-30T23:20:00-05:00", "--run-id", "third"))
    assert len(slack.messages) == 2


def test_killed_before_anything_was_posted_its_retry_runs_once_the_lease_has_passed(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    cli_config(tmp_path, ravello)
    ravello.inject("hang", path_prefix="/applications")
    # --deadline 2: the claim's lease is the run's deadline.
    proc = offhours(tmp_path, slack, "--now", NOW, "--run-id", "early", "--deadline", "2")
    _wait_for(
        lambda: any(r.path.endswith("/applications") for r in ravello.requests),
        "the run to read Ravello",
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    db = tmp_path / "state.db"
    assert _run_state(db, "early") == "claimed"
    _wait_for(lambda: _lease_passed(db, "early"), "the lease to pass", seconds=10)
    code, _, err = finish(offhours(tmp_path, slack, "--now", NOW, "--run-id", "early"))
    assert code == 0, err
    assert len(slack.messages) == 1
    assert _run_state(db, "early") == "done"


def _lease_passed(db: Path, identity: str) -> bool:
    from datetime import UTC

    store = SqliteStore(db)
    try:
        run = next(r for r in store.runs() if r.run_id == identity)
    finally:
        store.close()
    return run.lease_until < datetime.now(UTC)


def test_when_no_message_went_out_the_next_run_tells_again(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    db = tmp_path / "state.db"
    slack.inject("channel_not_found", status=404, count=1)
    failed = audit_at(EVENING, ravello, slack, db)
    assert failed.failures and not slack.messages
    later = audit_at(EVENING + timedelta(hours=1), ravello, slack, db)
    assert later.report.memory is not None
    assert dict(later.report.memory.status) == {later.report.flagged[0].resource.key: "new"}
    assert len(slack.messages) == 1


def test_a_night_in_the_store_is_in_next_weeks_digest_in_every_format(
    ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    ravello.set_apps([lab()])
    cli_config(tmp_path, ravello)
    for hour in range(4):
        at = (EVENING + timedelta(hours=hour)).isoformat()
        assert finish(offhours(tmp_path, slack, "--now", at))[0] == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFHOURS_")}
    env.update(environ(slack))

    def digest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
            [
                sys.executable,
                "-m",
                "offhours",
                "digest",
                "--week",
                "-c",
                "offhours.toml",
                "--now",
                "2026-12-07T09:00:00-05:00",
                *args,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    as_json = json.loads(digest("--format", "json").stdout)
    assert as_json["week"]["totals"]["hours"] == pytest.approx(3.0)
    assert "lab-1" in digest().stdout
    assert "lab-1" in digest("--format", "slack").stdout
    chart = tmp_path / "week.png"
    assert digest("--output", str(chart)).returncode == 0
    assert chart.read_bytes().startswith(b"\x89PNG")
    before = len(slack.messages)
    assert digest("--send").returncode == 0
    assert len(slack.messages) == before + 1


def test_a_hung_state_store_still_leaves_the_delivery_its_time(
    aws: Aws, ravello: RavelloSimulator, slack: SlackSink
) -> None:
    """The table's endpoint takes the connection and never answers: the store's calls end
    before the delivery's reserve, and every finding is delivered, marked."""
    import socket

    from offhours.state.dynamodb import DynamoStore
    from offhours.transport import Deadline

    ravello.set_apps([lab()])
    cfg = parse_config(document(ravello))
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        store = DynamoStore(
            "state", region="us-east-1", endpoint_url=f"http://127.0.0.1:{hung.getsockname()[1]}"
        )
        memory = Memory(store, run_id(FUNCTION, EVENING), cfg.memory.settings())
        result = run_audit(
            cfg,
            now=EVENING,
            environ=environ(slack),
            memory=memory,
            deadline=Deadline.after(8),
        )
    assert len(slack.messages) == 1
    assert result.memory_problem is not None and "deadline" in result.memory_problem
    assert "not deduplicated" in json.dumps(slack.messages[0])
