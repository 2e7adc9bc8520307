"""Incident memory's inputs at the command line, as a newcomer meets them: each row the
arguments → exit code and a fragment of the message (stderr), against a SQLite store on disk
holding one open incident of a lab in a region whose name has spaces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offhours.incidents import Change, Incident, incident_key
from offhours.model import resource_key
from offhours.state.sqlite import SqliteStore
from tests.conftest import Run

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]

NOW = "2026-12-01T04:00:00Z"
PERIOD = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
KEY = resource_key("ravello", "ravello", "EU West 1", "ravello.application", "3604511622")
TYPED = "ravello/ravello/EU West 1/ravello.application/3604511622"
UNKNOWN = TYPED.replace("622", "623")

CONFIG = """
[hours]
timezone = "America/New_York"

[memory]
path = "state.db"

[[sources]]
type = "ravello"
base_url = "http://127.0.0.1:9/api/v1"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
"""

ROWS = [
    # keys as reports, JSON and `offhours incidents` show them, or as typed with spaces
    (["snooze", KEY, "--until", "2d"], 0, ""),
    (["snooze", TYPED, "--until", "2d"], 0, ""),
    (["resolve", TYPED], 0, ""),
    (["resolve", f"{TYPED}@2026-11-30T23:00:00Z"], 0, ""),
    # a key no incident has: a snooze is kept (the resource may not be flagged yet), and said
    (
        ["snooze", UNKNOWN, "--until", "2d"],
        0,
        "warning: no incident is known for "
        "'ravello/ravello/EU%20West%201/ravello.application/3604511623'",
    ),
    (["snooze", UNKNOWN, "--until", "2d"], 0, f"did you mean {KEY!r}?"),
    # resolve refuses it, with the closest known key
    (["resolve", UNKNOWN], 2, "offhours: error: no incident of "),
    (["resolve", UNKNOWN], 2, f"did you mean {KEY!r}?"),
    (["resolve", "lab-001"], 2, "'lab-001' is not a resource or incident key: keys read "),
    (["snooze", "lab-001", "--until", "2d"], 2, "is not a resource or incident key"),
    # a run identity must be something
    (["audit", "--run-id", " "], 2, "offhours: error: --run-id must be 1 to 200 characters"),
]


def seed(path: Path) -> None:
    at = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    made = Incident(
        key=incident_key(KEY, PERIOD),
        resource_key=KEY,
        period_start=PERIOD,
        source="ravello",
        name="training-lab",
        owner="Ada",
        group="training-lab",
        kind="ravello.application",
        noun="lab",
        opened_at=at,
        last_seen_at=at,
        last_told_at=at,
        told_by="offhours-audit@2026-12-01T00:00:00Z",
    )
    store = SqliteStore(path)
    try:
        claim = store.claim(made.told_by or "", now=at, lease_until=at + timedelta(minutes=5))
        store.apply([Change(made, None)], now=at, claim=claim, posting=("slack",))
        store.complete(claim, [], now=at, told={"new": 1})
    finally:
        store.close()


@pytest.mark.parametrize(("args", "code", "message"), ROWS)
def test_memory_rows(cli: CliRun, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG)
    seed(tmp_path / "state.db")
    run = cli(*args, "--now", NOW)
    assert run.code == code, (run.stdout, run.stderr)
    assert message in run.stderr
    if not message:
        assert "warning" not in run.stderr and "error" not in run.stderr
    assert "Traceback" not in run.stderr
