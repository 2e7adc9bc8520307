"""The SQLite store, on disk: the store contract, and what only a file can do (processes,
WAL, the schema's version, corrupt, locked and newer files, permissions)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from offhours.incidents import Change, Snooze
from offhours.state.base import SCHEMA_VERSION, StateError
from offhours.state.sqlite import SqliteStore
from tests.functional.state_contract import (
    LEASE,
    T0,
    StoreContract,
    make_incident,
    race_processes,
    resolved,
)

RUN_ID = "offhours@2026-03-02T19:00:00Z"


class TestSqliteContract(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Iterator[Callable[[], SqliteStore]]:
        handles: list[SqliteStore] = []

        def make() -> SqliteStore:
            handles.append(SqliteStore(tmp_path / "state" / "offhours.db"))
            return handles[-1]

        yield make
        for h in handles:
            h.close()


def _claim_in_process(path: str) -> str:
    """One process's attempt (spawned: imports this module fresh)."""
    store = SqliteStore(Path(path), busy_timeout=timedelta(seconds=20))
    try:
        return store.claim(RUN_ID, now=T0, lease_until=T0 + LEASE).outcome
    finally:
        store.close()


def test_the_same_run_claimed_from_three_processes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "offhours.db"  # none of them finds a file: they race to make it
    outcomes = race_processes(_claim_in_process, [(str(path),)] * 3)
    assert outcomes == ["busy", "busy", "claimed"]


def test_wal_schema_version_and_private_files(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "offhours.db"
    store = SqliteStore(path)
    assert not path.exists()  # opening touches nothing: first use does
    store.add_snooze(make_snooze())
    try:
        raw = sqlite3.connect(path)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        raw.close()
        for made in (path, path.with_name("offhours.db-wal"), path.with_name("offhours.db-shm")):
            assert stat.S_IMODE(made.stat().st_mode) == 0o600, made
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
        assert store.migrate() == (0, SCHEMA_VERSION)
    finally:
        store.close()
    again = SqliteStore(path)
    assert again.migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert again.check() == []
    again.close()


def make_snooze(until: datetime = T0 + timedelta(hours=1), target: str = "team-a") -> Snooze:
    return Snooze(target, "group", until=until, created_at=T0 - timedelta(days=9))


def test_complete_prunes_what_ended_more_than_keep_ago(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "offhours.db", keep=timedelta(days=1))
    now = T0 + timedelta(days=10)
    long_open = make_incident("open", opened_at=T0)
    old = resolved(make_incident("old", opened_at=T0), now - timedelta(days=2))
    recent = resolved(make_incident("recent", opened_at=T0), now - timedelta(hours=1))
    store.apply([Change(i, None) for i in (long_open, old, recent)], now=now)
    store.add_snooze(make_snooze(now - timedelta(days=2), "old"))
    store.add_snooze(make_snooze(now - timedelta(hours=1), "recent"))
    at = now - timedelta(days=3)
    store.complete(store.claim("offhours@old", now=at, lease_until=at + LEASE), [], now=at, told={})
    store.claim("offhours@dead", now=T0, lease_until=T0 + LEASE)  # never came back
    store.claim(
        "offhours@recent", now=now - timedelta(hours=2), lease_until=now - timedelta(hours=1)
    )
    assert len(store.export()["runs"]) == 3
    claim = store.claim(RUN_ID, now=now, lease_until=now + LEASE)
    store.complete(claim, [], now=now, told={})
    kept = store.export()
    store.close()
    assert {i["name"].split()[1] for i in kept["incidents"]} == {"open", "recent"}
    assert [s["target"] for s in kept["snoozes"]] == ["recent"]
    assert {r["run_id"] for r in kept["runs"]} == {RUN_ID, "offhours@recent"}


def test_migrate_an_empty_version_0_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # a database with no tables, user_version 0
    store = SqliteStore(path)
    assert store.migrate() == (0, SCHEMA_VERSION)
    assert store.load([], now=T0).incidents == {}
    store.close()


def _fails(path: Path, *, problem: str, fix: str, **options: object) -> StateError:
    store = SqliteStore(path, **options)  # type: ignore[arg-type]
    try:
        with pytest.raises(StateError) as caught:
            store.claim(RUN_ID, now=T0, lease_until=T0 + LEASE)
    finally:
        store.close()
    error = caught.value
    assert str(path) in str(error) and error.store == f"sqlite {path}"
    assert problem in error.problem and fix in error.fix
    assert not isinstance(error.__cause__, StateError)
    return error


FIX_CORRUPT = "mv {p} {p}.bad; a new one is made on the next run — its incident history is lost"


def test_a_file_of_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(16384))
    _fails(path, problem="not a usable database", fix=FIX_CORRUPT.format(p=path))


def test_a_truncated_database(tmp_path: Path) -> None:
    path = tmp_path / "offhours.db"
    store = SqliteStore(path)
    store.apply([_change(i) for i in range(200)], now=T0)
    store.close()
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 3)
    store = SqliteStore(path)
    try:
        with pytest.raises(StateError) as caught:
            store.load([], now=T0)
        assert str(path) in str(caught.value) and FIX_CORRUPT.format(p=path) in caught.value.fix
        with pytest.raises(StateError, match="mv "):
            store.check()
    finally:
        store.close()


def _change(i: int) -> Change:
    return Change(make_incident(f"vm-{i}"), None)


def test_a_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "offhours.db"
    SqliteStore(path).migrate()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _fails(
            path,
            problem="locked by another process",
            fix="another offhours run, or a tool holding it open; try again",
            busy_timeout=timedelta(milliseconds=50),
        )
        assert "0.05 s" in error.problem
    finally:
        holder.rollback()
        holder.close()


def test_a_database_from_a_newer_offhours(tmp_path: Path) -> None:
    path = tmp_path / "offhours.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    _fails(
        path,
        problem=f"written by a newer offhours (schema 99, this one reads up to {SCHEMA_VERSION})",
        fix="upgrade offhours, or point [memory] path elsewhere",
    )
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone() == (99,)  # never downgraded
    raw.close()


def test_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = SqliteStore(blocker / "offhours.db")
    with pytest.raises(StateError, match="point \\[memory\\] path elsewhere"):
        store.runs()
