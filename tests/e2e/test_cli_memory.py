"""`offhours incidents`, `snooze`, `resolve` and `state …` end to end: a SQLite store on disk,
seeded through the store's own API (a run's claim, apply and complete), then the real CLI.

``--deployment`` is tested as far as it goes without a DynamoDB store: the lookup of the
deployed function's table on moto's server, and its errors through the CLI.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.cli.deployment import deployed_table
from offhours.cli.incidents import incident_json, key_forms, parse_when, snoozed_until
from offhours.errors import ConfigError
from offhours.incidents import Change, Incident, Snooze, incident_key
from offhours.model import resource_key
from offhours.state import STATE_TABLE_ENV, Store
from offhours.state.sqlite import SqliteStore
from tests.aws import REGION, Aws
from tests.conftest import Run

CliRun = Callable[..., Run]

pytestmark = pytest.mark.cli_in_process

#: 23:00 in New York on Monday 2026-11-30: the period began at 18:00 (23:00Z)
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
NOW_ISO = "2026-12-01T04:00:00Z"
PERIOD = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
FN = "offhours-audit"
#: a terminal wide enough that no cell of the table folds
#: the consoles read COLUMNS when made: tests that set it run in a process of their own
WIDE = {"COLUMNS": "250"}

CONFIG = """
[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"

[memory]
path = "state.db"
{memory}

[[sources]]
type = "ravello"
base_url = "https://127.0.0.1:9/api/v1"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
"""

#: a name that tries everything a terminal or rich would act on: colour, title, a link, bidi,
#: rich markup and an emoji code
HOSTILE = (
    "\x1b[31mred\x1b[0m \x1b]0;pwned\x07[bold]lab[/bold] [link=https://x.test]x[/link] "
    "\u202egnp.exe :smile:"
)


def rkey(n: int) -> str:
    return resource_key("ravello", "acme", None, "ravello.application", str(n))


def incident(n: int, *, name: str | None = None, **changes: object) -> Incident:
    made = Incident(
        key=incident_key(rkey(n), PERIOD),
        resource_key=rkey(n),
        period_start=PERIOD,
        source="ravello",
        name=name or f"lab-{n:03d}",
        owner=f"Owner {n}",
        group=f"team-{n % 2}",
        kind="ravello.application",
        noun="lab",
        opened_at=PERIOD + timedelta(minutes=5),
        last_seen_at=NOW,
        hourly_cost=1.5,
        cost_so_far=7.5,
        last_told_at=PERIOD + timedelta(minutes=5),
        told_by=f"{FN}@2026-11-30T23:05:00Z",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(memory=""))
    return tmp_path / "state.db"


def seed(path: Path, incidents: Sequence[Incident], *, at: datetime = NOW) -> None:
    """What a run that told these incidents leaves in the store."""
    store = SqliteStore(path)
    try:
        run_id = f"{FN}@{at.isoformat().replace('+00:00', 'Z')}"
        claim = store.claim(run_id, now=at, lease_until=at + timedelta(minutes=5))
        assert claim.ours
        written = store.apply(
            [Change(i, None) for i in incidents], now=at, claim=claim, posting=("slack",)
        )
        assert written == {i.key for i in incidents}
        store.complete(claim, [], now=at, told={"new": len(incidents)})
    finally:
        store.close()


@pytest.fixture
def stored(db: Path) -> Iterator[Callable[[], SqliteStore]]:
    """Opens the store the CLI used, to check what it wrote (closed after the test)."""
    opened: list[SqliteStore] = []

    def store() -> SqliteStore:
        opened.append(SqliteStore(db))
        return opened[-1]

    yield store
    for s in opened:
        s.close()


def resolved(n: int) -> Incident:
    return incident(n, state="resolved", resolved_at=NOW - timedelta(hours=1), resolution="stopped")


# ------------------------------------------------------------------ incidents


@pytest.mark.cli_in_process(False)  # the width is read when the console is made
def test_incidents_lists_the_open_ones(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1), incident(2, reminders=2), resolved(3)])
    run = cli("incidents", "--now", NOW_ISO, env=WIDE)
    assert run.code == 0, run.stderr
    assert f"2 open incidents in sqlite {db}" in run.stdout
    assert "lab-001" in run.stdout and "lab-002" in run.stdout
    assert "lab-003" not in run.stdout
    # times in the business-hours zone, cost so far
    assert "2026-11-30 18:05 EST" in run.stdout
    assert "$7.50" in run.stdout


@pytest.mark.cli_in_process(False)  # the width is read when the console is made
def test_a_snoozed_incident_shows_until_when(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1), incident(2), incident(3)])
    assert cli("snooze", rkey(1), "--until", "2026-12-03T13:00Z", "--now", NOW_ISO).code == 0
    # incident 3's group (team-1) is snoozed too, and a snooze already over changes nothing
    assert cli("snooze", "--group", "team-1", "--until", "1d", "--now", NOW_ISO).code == 0
    run = cli("incidents", "--now", NOW_ISO, env=WIDE)
    assert run.code == 0, run.stderr
    # one entry per incident: its key alone on a line, then its indented lines
    rows: dict[str, str] = {}
    key = ""
    for line in run.stdout.splitlines():
        if line and not line.startswith(" "):
            key = line.strip()
        rows[key] = rows.get(key, "") + line + "\n"
    assert "snoozed until 2026-12-03 08:00 EST" in rows[incident_key(rkey(1), PERIOD)]
    assert "snoozed until 2026-12-01 23:00 EST" in rows[incident_key(rkey(3), PERIOD)]
    assert "snoozed" not in rows[incident_key(rkey(2), PERIOD)]
    # after the snooze ends: open again
    later = cli("incidents", "--now", "2026-12-03T13:00Z", env=WIDE)
    assert "snoozed until 2026-12-03" not in later.stdout


def _snooze(target: str, scope: Literal["key", "group"], hours: int) -> Snooze:
    return Snooze(target, scope, NOW + timedelta(hours=hours), NOW)


@pytest.mark.parametrize(
    ("snoozes", "expected"),
    [
        ([], {}),
        ([_snooze(rkey(1), "key", 5)], {1: 5}),
        ([_snooze("team-1", "group", 5)], {1: 5, 3: 5}),  # odd numbers are team-1
        ([_snooze(rkey(1), "key", 5), _snooze("team-1", "group", 9)], {1: 9, 3: 9}),
        ([_snooze(rkey(2), "key", -1)], {}),  # over
        ([_snooze(rkey(9), "key", 5)], {}),
    ],
)
def test_snoozed_until_is_the_latest_active_snooze_of_each_open_incident(
    snoozes: list[Snooze], expected: dict[int, int]
) -> None:
    found = [incident(1), incident(2), incident(3), resolved(5)]
    got = snoozed_until(found, snoozes, NOW)
    assert got == {
        incident_key(rkey(n), PERIOD): NOW + timedelta(hours=h) for n, h in expected.items()
    }


@pytest.mark.cli_in_process(False)  # the width is read when the console is made
def test_keys_stay_whole_in_a_narrow_table(cli: CliRun, db: Path) -> None:
    # what snooze and resolve are given must be copyable from the table in one piece
    seed(db, [incident(1), incident(2)])
    run = cli("incidents", "--now", NOW_ISO, env={"COLUMNS": "100"})
    assert run.code == 0, run.stderr
    assert incident_key(rkey(1), PERIOD) in run.stdout
    assert incident_key(rkey(2), PERIOD) in run.stdout


@pytest.mark.cli_in_process(False)  # the width is read when the console is made
def test_incidents_all_and_since_add_the_resolved_ones(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1), resolved(3)])
    everything = cli("incidents", "--all", "--now", NOW_ISO, env=WIDE)
    assert everything.code == 0, everything.stderr
    assert "1 open incident, 1 resolved" in everything.stdout
    assert "lab-003" in everything.stdout and "stopped" in everything.stdout
    recent = cli("incidents", "--since", "2h", "--now", NOW_ISO, "--format", "json")
    assert {i["name"] for i in json.loads(recent.stdout)["incidents"]} == {"lab-001", "lab-003"}
    later = cli("incidents", "--since", "30m", "--now", NOW_ISO, "--format", "json")
    assert {i["name"] for i in json.loads(later.stdout)["incidents"]} == {"lab-001"}


def test_incidents_json_has_every_field_with_iso_times(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore]
) -> None:
    seed(db, [incident(1, action="stopped by offhours at 23:30"), resolved(3)])
    run = cli("incidents", "--all", "--format", "json", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["store"] == f"sqlite {db}"
    by_key = {i["key"]: i for i in document["incidents"]}
    assert by_key == {i.key: incident_json(i) for i in stored().incidents()}
    first = by_key[incident_key(rkey(1), PERIOD)]
    assert first["period_start"] == "2026-11-30T23:00:00+00:00"
    assert first["opened_at"] == "2026-11-30T23:05:00+00:00"
    assert first["action"] == "stopped by offhours at 23:30"
    assert first["state"] == "open" and first["cost_so_far"] == 7.5
    assert by_key[incident_key(rkey(3), PERIOD)]["resolution"] == "stopped"


def test_incidents_limit(cli: CliRun, db: Path) -> None:
    seed(db, [incident(n) for n in range(1, 6)])
    run = cli("incidents", "--limit", "2", "--format", "json", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert len(json.loads(run.stdout)["incidents"]) == 2


def test_incidents_on_an_empty_store_say_so(cli: CliRun, db: Path) -> None:
    run = cli("incidents", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert run.stdout.strip() == f"No open incidents in sqlite {db}"
    run = cli("incidents", "--all", "--now", NOW_ISO)
    assert run.stdout.strip() == f"No incidents in sqlite {db}"


@pytest.mark.cli_in_process(False)  # the width is read when the console is made
def test_hostile_names_stay_inert_in_the_table(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1, name=HOSTILE, owner=HOSTILE, group="[red]g[/red]")])
    run = cli("incidents", "--now", NOW_ISO, env=WIDE)
    assert run.code == 0, run.stderr
    for char in ("\x1b", "\x07", "\u202e"):
        assert char not in run.stdout
    # markup and emoji codes shown as written, never interpreted
    assert "[bold]lab[/bold]" in run.stdout
    assert ":smile:" in run.stdout
    assert "[red]g[/red]" in run.stdout
    as_json = cli("incidents", "--format", "json", "--now", NOW_ISO)
    assert "\x1b" not in as_json.stdout and "\u202e" not in as_json.stdout
    assert json.loads(as_json.stdout)["incidents"][0]["name"] == HOSTILE


# ------------------------------------------------------------------ snooze


def test_snooze_an_incident_key_snoozes_its_resource(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore]
) -> None:
    seed(db, [incident(1)])
    key = incident_key(rkey(1), PERIOD)
    run = cli("snooze", key, "--until", "2026-12-03T13:00Z", "--reason", "demo", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert f"Snoozed resource {rkey(1)!r} until 2026-12-03 08:00 EST" in run.stdout
    (snooze,) = stored().snoozes(now=NOW)
    assert (snooze.target, snooze.scope) == (rkey(1), "key")
    assert snooze.until == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    assert snooze.reason == "demo" and snooze.created_at == NOW


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("2d", NOW + timedelta(days=2)),
        ("90m", NOW + timedelta(minutes=90)),
        ("1w", NOW + timedelta(weeks=1)),
        # a date: its midnight where business hours are kept
        ("2026-12-05", datetime(2026, 12, 5, 5, 0, tzinfo=UTC)),
        ("2026-12-02T09:00:00+01:00", datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),
        # no zone: read where business hours are kept, as --now is
        ("2026-12-05T08:00", datetime(2026, 12, 5, 13, 0, tzinfo=UTC)),
        ("2026-12-05Z", datetime(2026, 12, 5, 0, 0, tzinfo=UTC)),
    ],
)
def test_snooze_a_group_until(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore], until: str, expected: datetime
) -> None:
    run = cli("snooze", "--group", "team-1", "--until", until, "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert "Snoozed group 'team-1'" in run.stdout
    (snooze,) = stored().snoozes(now=NOW)
    assert (snooze.target, snooze.scope, snooze.until) == ("team-1", "group", expected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "2026-11-30T00:00Z"], "is not in the future"),
        (["--until", NOW_ISO], "is not in the future"),
        (
            ["--until", "31d"],
            "more than [tags] max_exemption_days = 30 days from now; "
            "the latest allowed is 2026-12-31T04:00:00+00:00",
        ),
        (["--until", "tomorrow"], "is not a time"),
        (["--until", ""], "say until when"),
        ([], "say until when"),
    ],
)
def test_snooze_refuses_a_time_outside_the_limits(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore], args: list[str], message: str
) -> None:
    run = cli("snooze", rkey(1), *args, "--now", NOW_ISO)
    assert run.code == 2
    assert message in run.stderr
    assert run.stderr.startswith("offhours: error: ")
    assert not db.exists() or stored().snoozes(now=NOW) == []


def test_snooze_cap_follows_the_config(cli: CliRun, tmp_path: Path) -> None:
    (tmp_path / "offhours.toml").write_text(
        CONFIG.format(memory="") + "\n[tags]\nmax_exemption_days = 3\n"
    )
    run = cli("snooze", rkey(1), "--until", "4d", "--now", NOW_ISO)
    assert run.code == 2
    assert "max_exemption_days = 3 days" in run.stderr
    assert "2026-12-04T04:00:00+00:00" in run.stderr
    assert cli("snooze", rkey(1), "--until", "3d", "--now", NOW_ISO).code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "2d"], "one KEY or --group GROUP"),
        ([rkey(1), "--group", "g", "--until", "2d"], "one KEY or --group GROUP"),
        (["lab-001", "--until", "2d"], "is not a resource or incident key"),
        (["--group", " ", "--until", "2d"], "--group needs a group name"),
        ([rkey(1), "--until", "2d", "--reason", "x" * 501], "keep it under 500"),
    ],
)
def test_snooze_usage_errors(cli: CliRun, db: Path, args: list[str], message: str) -> None:
    run = cli("snooze", *args, "--now", NOW_ISO)
    assert run.code == 2
    assert message in run.stderr


# ------------------------------------------------------------------ resolve


@pytest.mark.parametrize("by", ["incident", "resource"])
def test_resolve_by_incident_or_resource_key(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore], by: str
) -> None:
    seed(db, [incident(1), incident(2)])
    key = incident_key(rkey(1), PERIOD) if by == "incident" else rkey(1)
    run = cli("resolve", key, "--reason", "moved to day shift", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert f"Resolved {incident_key(rkey(1), PERIOD)} by hand" in run.stdout
    (done,) = stored().find(rkey(1))
    assert (done.state, done.resolution, done.note) == ("resolved", "by hand", "moved to day shift")
    assert done.resolved_at == NOW
    # the other one is untouched
    assert [i.resource_key for i in stored().incidents(open_only=True)] == [rkey(2)]


def test_resolve_twice_says_it_is_resolved_already(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1)])
    assert cli("resolve", rkey(1), "--now", NOW_ISO).code == 0
    again = cli("resolve", rkey(1), "--now", NOW_ISO)
    assert again.code == 0, again.stderr
    assert "Already resolved" in again.stdout and "by hand" in again.stdout


def test_resolve_an_unknown_key_names_the_closest_open_ones(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1), incident(2)])
    run = cli("resolve", rkey(7), "--now", NOW_ISO)
    assert run.code == 2
    assert f"no incident of {rkey(7)!r} in sqlite {db}" in run.stderr
    assert "did you mean " in run.stderr and repr(rkey(1)) in run.stderr


def test_resolve_in_an_empty_store(cli: CliRun, db: Path) -> None:
    run = cli("resolve", rkey(1), "--now", NOW_ISO)
    assert run.code == 2
    assert "it has no open incidents" in run.stderr


def test_resolve_refuses_what_is_not_a_key(cli: CliRun, db: Path) -> None:
    run = cli("resolve", "lab-001", "--now", NOW_ISO)
    assert run.code == 2
    assert "is not a resource or incident key" in run.stderr


# ------------------------------------------------------------------ keys as people write them

#: a Ravello lab in a region whose name has spaces: its key holds EU%20West%201
SPACED = resource_key("ravello", "ravello", "EU West 1", "ravello.application", "3604511622")
TYPED = "ravello/ravello/EU West 1/ravello.application/3604511622"


def spaced() -> Incident:
    return incident(1, key=incident_key(SPACED, PERIOD), resource_key=SPACED)


@pytest.mark.parametrize(
    "typed",
    [
        SPACED,  # as JSON reports and `offhours incidents` show it
        TYPED,  # as a person writes it
        f"  {TYPED}  ",
        incident_key(SPACED, PERIOD),
        TYPED + "@" + incident_key(SPACED, PERIOD).rpartition("@")[2],
    ],
)
def test_snooze_takes_a_key_as_shown_or_as_typed(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore], typed: str
) -> None:
    seed(db, [spaced()])
    run = cli("snooze", typed, "--until", "2d", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert "warning" not in run.stderr
    assert f"Snoozed resource {SPACED!r}" in run.stdout
    (snooze,) = stored().snoozes(now=NOW)
    assert snooze.target == SPACED  # what a run's findings are matched with
    assert snooze.covers(SPACED, "any", NOW)


@pytest.mark.parametrize("typed", [TYPED, incident_key(SPACED, PERIOD).replace(SPACED, TYPED)])
def test_resolve_takes_a_key_as_typed(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore], typed: str
) -> None:
    seed(db, [spaced()])
    run = cli("resolve", typed, "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert f"Resolved {incident_key(SPACED, PERIOD)} by hand" in run.stdout
    assert stored().incidents(open_only=True) == []


def test_a_literal_percent_in_a_part_is_matched_as_stored(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore]
) -> None:
    """An id holding ``%20`` itself is stored as ``%2520``: typed raw, it is still found."""
    odd = resource_key("ravello", "acme", None, "ravello.application", "a%20b")
    seed(db, [incident(1, key=incident_key(odd, PERIOD), resource_key=odd)])
    run = cli("resolve", "ravello/acme//ravello.application/a%20b", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    assert stored().incidents(open_only=True) == []


def test_snooze_of_an_unknown_key_is_kept_with_a_warning_and_a_did_you_mean(
    cli: CliRun, db: Path, stored: Callable[[], SqliteStore]
) -> None:
    seed(db, [spaced()])
    typo = TYPED.replace("3604511622", "3604511623")
    run = cli("snooze", typo, "--until", "2d", "--now", NOW_ISO)
    assert run.code == 0, run.stderr
    wanted = SPACED.replace("3604511622", "3604511623")
    assert run.stderr.startswith(f"warning: no incident is known for {wanted!r} in sqlite ")
    assert "the snooze applies when a resource with this key is flagged" in run.stderr
    assert f"did you mean {SPACED!r}?" in run.stderr
    assert [s.target for s in stored().snoozes(now=NOW)] == [wanted]


def test_snooze_in_an_empty_store_says_what_keys_look_like(cli: CliRun, db: Path) -> None:
    run = cli("snooze", rkey(1), "--until", "2d", "--now", NOW_ISO)
    assert run.code == 0
    assert "keys look like provider/account/region/kind/id, e.g. ravello/" in run.stderr


@pytest.mark.parametrize(
    ("typed", "first", "also"),
    [
        (SPACED, SPACED, ()),
        (TYPED, SPACED, ()),
        ("a/b/c/d/50%off", "a/b/c/d/50%25off", ()),
        ("a/b/c/d/a%20b", "a/b/c/d/a%20b", ("a/b/c/d/a%2520b",)),
        ("a/b/c/d/e@always", "a/b/c/d/e@always", ()),
        ("a/b/c/d/e@2026-11-30T23:00:00Z", "a/b/c/d/e@2026-11-30T23:00:00Z", ()),
        ("a/b/c/d/me@example", "a/b/c/d/me%40example", ()),  # an @ that is no period
    ],
)
def test_key_forms(typed: str, first: str, also: tuple[str, ...]) -> None:
    forms = key_forms(typed)
    assert forms[0] == first
    assert set(also) <= set(forms)


@pytest.mark.parametrize("typed", ["lab-001", "a/b/c/d", "a/b/c/d/e/f", "", "a/b/c/d@always"])
def test_key_forms_refuse_what_is_not_a_key(typed: str) -> None:
    with pytest.raises(ConfigError, match="is not a resource or incident key"):
        key_forms(typed)


#: a part of a key (no surrogate: command lines are text)
_PART = st.text(
    st.characters(blacklist_characters="/@").filter(lambda c: not 0xD800 <= ord(c) <= 0xDFFF),
    max_size=8,
)


@given(st.tuples(_PART, _PART, _PART, _PART, _PART))
def test_a_key_as_stored_or_as_typed_finds_the_stored_form(
    parts: tuple[str, str, str, str, str],
) -> None:
    stored_key = resource_key(*parts)
    assert key_forms(stored_key)[0] == stored_key
    typed = "/".join(parts)
    if typed == typed.strip():
        assert stored_key in key_forms(typed)


# ------------------------------------------------------------------ state


def test_state_check_summarises_the_store(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1), resolved(3)])
    run = cli("state", "check")
    assert run.code == 0, run.stderr
    assert f"store:     sqlite {db}" in run.stdout
    assert "incidents: 2 (1 open, 1 resolved)" in run.stdout
    assert "runs:      1 (1 done)" in run.stdout
    assert run.stdout.rstrip().endswith("OK")


def test_state_check_on_a_corrupt_file_exits_1_with_the_fix(cli: CliRun, db: Path) -> None:
    db.write_bytes(b"this is not a database, just some bytes " * 200)
    run = cli("state", "check")
    assert run.code == 1
    assert run.stderr.startswith(f"offhours: error: state store sqlite {db}: ")
    assert "; " in run.stderr  # the problem, then the fix


def test_state_check_on_a_future_schema_exits_1_with_the_fix(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1)])
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    run = cli("state", "check")
    assert run.code == 1
    assert f"state store sqlite {db}" in run.stderr
    assert "99" in run.stderr


def test_state_migrate_says_from_and_to(cli: CliRun, db: Path) -> None:
    seed(db, [incident(1)])
    run = cli("state", "migrate")
    assert run.code == 0, run.stderr
    assert f"sqlite {db}: schema 1, nothing to migrate" in run.stdout


def test_state_export_round_trips(
    cli: CliRun, db: Path, tmp_path: Path, stored: Callable[[], SqliteStore]
) -> None:
    seed(db, [incident(1, name=HOSTILE), resolved(3)])
    run = cli("state", "export")
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    assert "\x1b" not in run.stdout
    assert document == json.loads(json.dumps(stored().export(), default=str))
    names = {i["name"] for i in document["incidents"]}
    assert names == {HOSTILE, "lab-003"}

    target = tmp_path / "out" / "export.json"
    target.parent.mkdir()
    to_file = cli("state", "export", "--output", str(target))
    assert to_file.code == 0, to_file.stderr
    assert to_file.stdout == ""
    assert "exported 2 incidents, 0 snoozes, 1 runs" in to_file.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert json.loads(target.read_text()) == document


def test_state_export_keeps_an_existing_file_private(cli: CliRun, db: Path, tmp_path: Path) -> None:
    seed(db, [incident(1)])
    target = tmp_path / "export.json"
    target.write_text("old")
    target.chmod(0o644)
    assert cli("state", "export", "-o", str(target)).code == 0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert json.loads(target.read_text())["incidents"][0]["name"] == "lab-001"


# ------------------------------------------------------------------ every command


EVERY = [
    ["incidents"],
    ["snooze", rkey(1), "--until", "2d"],
    ["resolve", rkey(1)],
    ["state", "check"],
    ["state", "migrate"],
    ["state", "export"],
]


def _named(args: list[str]) -> str:
    return " ".join(args[:2]) if args[0] == "state" else args[0]


@pytest.mark.parametrize("args", EVERY, ids=_named)
def test_memory_off_is_a_usage_error(cli: CliRun, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(memory='store = "off"'))
    run = cli(*args)
    assert run.code == 2
    assert "memory is off in offhours.toml ([memory] store)" in run.stderr
    assert not (tmp_path / "state.db").exists()


@pytest.mark.parametrize("args", EVERY, ids=_named)
def test_a_corrupt_store_fails_every_command_with_exit_1(
    cli: CliRun, db: Path, args: list[str]
) -> None:
    db.write_bytes(b"\x00garbage" * 512)
    run = cli(*args, "--now", NOW_ISO) if args[0] != "state" else cli(*args)
    assert run.code == 1
    assert run.stderr.startswith(f"offhours: error: state store sqlite {db}: ")
    assert "Traceback" not in run.stderr


# ------------------------------------------------------------------ --deployment


def _function(aws: Aws, variables: dict[str, str] | None) -> None:
    iam = aws.client("iam")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({}))["Role"]
    extra = {"Environment": {"Variables": variables}} if variables is not None else {}
    aws.client("lambda").create_function(
        FunctionName=FN,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="offhours.lambda_handler.handler",
        Code={"ZipFile": _zip()},
        **extra,
    )


def _zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("offhours/__init__.py", "# v1\n")
    return buffer.getvalue()


def test_deployed_table_is_the_functions_variable(aws: Aws) -> None:
    _function(aws, {STATE_TABLE_ENV: "offhours-audit-state", "OTHER": "x"})
    assert deployed_table(FN, REGION) == "offhours-audit-state"


def test_deployed_table_without_the_variable_or_the_function(aws: Aws) -> None:
    with pytest.raises(ConfigError, match="no Lambda function of that name in us-east-1"):
        deployed_table(FN, REGION)
    _function(aws, {"OTHER": "x"})
    with pytest.raises(ConfigError, match=f"has no {STATE_TABLE_ENV} variable"):
        deployed_table(FN, REGION)


@pytest.mark.parametrize("args", EVERY, ids=_named)
def test_deployment_that_does_not_exist_is_a_usage_error(
    cli: CliRun, aws: Aws, db: Path, args: list[str]
) -> None:
    run = cli(*args, "--deployment", "nope", "--region", REGION)
    assert run.code == 2
    assert "--deployment 'nope': no Lambda function of that name in us-east-1" in run.stderr
    assert not db.exists()


def test_deployment_without_a_region_is_a_usage_error(
    cli: CliRun, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    run = cli("incidents", "--deployment", FN)
    assert run.code == 2
    assert "no AWS region for --deployment; give --region" in run.stderr


def test_deployment_lookup_that_cannot_reach_aws_is_a_store_error(cli: CliRun, db: Path) -> None:
    from tests.aws import TEST_KEYS, free_port

    closed = f"http://127.0.0.1:{free_port()}"
    run = cli(
        "incidents",
        "--deployment",
        FN,
        "--region",
        REGION,
        env={"AWS_ENDPOINT_URL": closed, **TEST_KEYS},
    )
    assert run.code == 1
    assert run.stderr.startswith(f"offhours: error: state store lambda function {FN} ({REGION}): ")
    assert "cannot reach AWS" in run.stderr
    assert not db.exists()


# ------------------------------------------------------------------ times


@given(
    n=st.integers(min_value=0, max_value=99_999),
    unit=st.sampled_from(["m", "h", "d", "w"]),
    ahead=st.booleans(),
)
def test_a_span_is_counted_from_now(n: int, unit: str, ahead: bool) -> None:
    delta = timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})
    got = parse_when(
        f" {n}{unit.upper() if n % 2 else unit} ", "--until", now=NOW, zone=UTC, ahead=ahead
    )
    assert got == (NOW + delta if ahead else NOW - delta)


@pytest.mark.parametrize(
    "text", ["999999d", "2 days", "-2d", "2.5h", "2026-13-01", "now", "2026-12-01T25:00"]
)
def test_what_is_not_a_time_is_a_usage_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--until"):
        parse_when(text, "--until", now=NOW, zone=UTC, ahead=True)


def test_deployment_reaches_the_deployed_table(cli: CliRun, aws: Aws, db: Path) -> None:
    from offhours.state.dynamodb import DynamoStore, table_definition

    table = "offhours-audit-state"
    try:
        # cast: the store stub of a tree without it has none of the interface
        store = cast("Store", DynamoStore(table, region=REGION))
    except NotImplementedError:
        pytest.skip("the DynamoDB store is not in this tree yet")
    aws.client("dynamodb").create_table(**table_definition(table))
    _function(aws, {STATE_TABLE_ENV: table})
    try:
        claim = store.claim(f"{FN}@{NOW_ISO}", now=NOW, lease_until=NOW + timedelta(minutes=5))
        store.apply([Change(incident(1), None), Change(incident(2), None)], now=NOW, claim=claim)
        store.complete(claim, [], now=NOW, told={"new": 2})
        deployed = ("--deployment", FN, "--now", NOW_ISO)
        listed = cli("incidents", "--format", "json", *deployed)
        assert listed.code == 0, listed.stderr
        document = json.loads(listed.stdout)
        assert document["store"] == f"dynamodb {table} ({REGION})"
        assert {i["name"] for i in document["incidents"]} == {"lab-001", "lab-002"}
        assert cli("resolve", rkey(2), *deployed).code == 0
        assert cli("snooze", "--group", "team-1", "--until", "1d", *deployed).code == 0
        (done,) = store.find(rkey(2))
        assert (done.state, done.resolution) == ("resolved", "by hand")
        assert [s.target for s in store.snoozes(now=NOW)] == ["team-1"]
    finally:
        store.close()
    assert not db.exists()  # the local store was never touched
