"""The SQLite store: the command line's memory, one file (see :mod:`offhours.state.base`).

The file and its directory are private (0600/0700); WAL lets runs read while one writes, and
every write that must be atomic (a claim, a batch of changes with the run's state) is one
``BEGIN IMMEDIATE`` transaction, so two processes on the same file serialise on SQLite's own
lock, waiting at most ``busy_timeout``. Times are UTC ISO text of fixed width (so text order
is time order); receipts, pending notifiers and counts are JSON text. The schema's version is
``PRAGMA user_version``; :data:`MIGRATIONS` are the steps from each version to the next.

Nothing leaves as a bare ``sqlite3`` error: corrupt, locked and newer files raise
:class:`StateError` naming the file and the fix.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from offhours.incidents import Change, Incident, Snooze
from offhours.model import Receipt
from offhours.state.base import SCHEMA_VERSION, Claim, Loaded, Run, StateError, receipt_record
from offhours.transport import Deadline

__all__ = ["MIGRATIONS", "SqliteStore"]

#: each step takes the schema from its index to the next version (step 0: 0 → 1)
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE incidents (
        key TEXT PRIMARY KEY,
        resource_key TEXT NOT NULL,
        period_start TEXT,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT,
        "group" TEXT NOT NULL,
        kind TEXT NOT NULL,
        noun TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        hourly_cost REAL,
        cost_so_far REAL,
        cost_at_least INTEGER NOT NULL,
        last_told_at TEXT,
        told_by TEXT,
        reminders INTEGER NOT NULL,
        action TEXT,
        state TEXT NOT NULL,
        resolved_at TEXT,
        resolution TEXT,
        still_running INTEGER NOT NULL,
        note TEXT,
        version INTEGER NOT NULL
    );
    CREATE INDEX incidents_open ON incidents (state) WHERE state = 'open';
    CREATE INDEX incidents_resource ON incidents (resource_key, opened_at);
    CREATE INDEX incidents_time ON incidents (opened_at, last_seen_at);
    CREATE TABLE snoozes (
        scope TEXT NOT NULL,
        target TEXT NOT NULL,
        created_at TEXT NOT NULL,
        until TEXT NOT NULL,
        reason TEXT,
        by TEXT,
        PRIMARY KEY (scope, target, created_at)
    );
    CREATE INDEX snoozes_until ON snoozes (until);
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        token TEXT NOT NULL,
        started_at TEXT NOT NULL,
        lease_until TEXT NOT NULL,
        posting_at TEXT,
        done_at TEXT,
        pending TEXT NOT NULL,
        receipts TEXT NOT NULL,
        told TEXT NOT NULL
    );
    CREATE INDEX runs_state ON runs (state, lease_until);
    CREATE INDEX runs_started ON runs (started_at);
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION

_INCIDENT_COLUMNS = tuple(f.name for f in fields(Incident))
# written only where it is absent, or where its version is the one read: the version check
# (the columns are Incident's own field names; every value is bound)
_NAMES = ", ".join(f'"{c}"' for c in _INCIDENT_COLUMNS)
_MARKS = ", ".join("?" * len(_INCIDENT_COLUMNS))
_SETS = ", ".join(f'"{c}" = ?' for c in _INCIDENT_COLUMNS)
_INSERT_NEW = f"INSERT OR IGNORE INTO incidents ({_NAMES}) VALUES ({_MARKS})"  # noqa: S608
_UPDATE_SAME = f"UPDATE incidents SET {_SETS} WHERE key = ? AND version = ?"  # noqa: S608
_TIMES = frozenset({"period_start", "opened_at", "last_seen_at", "last_told_at", "resolved_at"})
_FLAGS = frozenset({"cost_at_least", "still_running"})
# SQLite's primary result codes (the low byte of an extended code)
_BUSY, _LOCKED, _CORRUPT, _CANTOPEN, _NOTADB = 5, 6, 11, 14, 26


def _text(at: datetime) -> str:
    """UTC ISO text of fixed width: compared as text, it compares as time."""
    if at.tzinfo is None:
        raise ValueError(f"a naive datetime cannot be stored: {at!r}")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class SqliteStore:
    """One handle on one SQLite file; the connection opens (and the schema migrates) on first
    use. A handle belongs to one thread at a time: open another for another thread."""

    def __init__(
        self,
        path: Path,
        *,
        keep: timedelta = timedelta(days=90),
        busy_timeout: timedelta = timedelta(seconds=2),
    ) -> None:
        self.path = Path(path)
        self.keep = keep
        self.busy_timeout = busy_timeout
        self.name = f"sqlite {self.path}"
        # Local: bounded by busy_timeout, not by the run's deadline.
        self.deadline: Deadline | None = None
        self._db: sqlite3.Connection | None = None
        self._opened_at_version: int | None = None

    # -- errors
    def _error(self, problem: str, fix: str) -> StateError:
        return StateError(self.name, problem, fix)

    def _translate(self, exc: sqlite3.Error) -> StateError:
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code in (_BUSY, _LOCKED) or "locked" in str(exc):
            return self._error(
                f"locked by another process for more than {self.busy_timeout.total_seconds():g} s",
                "another offhours run, or a tool holding it open; try again",
            )
        if code in (_CORRUPT, _NOTADB):
            return self._error(
                f"not a usable database ({exc})",
                f"move it aside: mv {self.path} {self.path}.bad; a new one is made on the next "
                "run — its incident history is lost",
            )
        if code == _CANTOPEN:
            return self._error(
                f"cannot be opened ({exc})",
                "check that its directory exists and is writable, or point [memory] path elsewhere",
            )
        return self._error(f"{exc}", "check the file, or point [memory] path elsewhere")

    @contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Connection]:
        """The connection, with any sqlite3 error turned into a StateError."""
        try:
            yield self._connect()
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error."""
        with self._sqlite() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.commit()
            except BaseException:
                db.rollback()  # a failed commit too: the handle stays usable
                raise

    # -- opening and the schema
    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        self._create_private()
        db = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout.total_seconds(),
            isolation_level=None,  # transactions are ours: BEGIN IMMEDIATE … COMMIT
            check_same_thread=False,
        )
        try:
            self._opened_at_version = self._upgrade(db)
            self._wal(db)
            db.row_factory = sqlite3.Row
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _wal(self, db: sqlite3.Connection) -> None:
        """WAL, once per file (it stays). Switching needs the file to itself, and SQLite answers
        "locked" at once, without its busy handler, when another connection opening a new file
        is there too: that other one is switching it, so wait (within busy_timeout) to see it
        done."""
        end = time.monotonic() + self.busy_timeout.total_seconds()
        while True:
            try:
                (mode,) = db.execute("PRAGMA journal_mode = wal").fetchone()
                if str(mode).lower() == "wal":
                    return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > end:
                    raise
            (mode,) = db.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() == "wal" or time.monotonic() > end:
                return
            time.sleep(0.01)

    def _create_private(self) -> None:
        """The file (0600) and its missing directories (0700), before SQLite makes them with
        the process's umask."""
        missing = [p for p in (self.path.parent, *self.path.parent.parents) if not p.exists()]
        try:
            for directory in reversed(missing):
                directory.mkdir(mode=0o700, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise self._error(
                f"cannot be made or opened ({exc.strerror})",
                "check that its directory is writable, or point [memory] path elsewhere",
            ) from exc

    def _upgrade(self, db: sqlite3.Connection) -> int:
        """Refuse a newer schema; apply the pending steps (re-read under the write lock: two
        processes opening a new file migrate it once). The version found."""
        found = self._version(db)
        if found < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                found = self._version(db)
                for step in range(found, SCHEMA_VERSION):
                    for statement in MIGRATIONS[step].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {step + 1}")
                db.commit()
            except BaseException:
                db.rollback()
                raise
        return found

    def _version(self, db: sqlite3.Connection) -> int:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise self._error(
                f"written by a newer offhours (schema {version}, this one reads up to "
                f"{SCHEMA_VERSION})",
                "upgrade offhours, or point [memory] path elsewhere",
            )
        return int(version)

    def migrate(self) -> tuple[int, int]:
        with self._sqlite():
            pass
        assert self._opened_at_version is not None
        return self._opened_at_version, SCHEMA_VERSION

    def check(self) -> list[str]:
        with self._sqlite() as db:
            rows = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
        return [] if rows == ["ok"] else [f"{self.path}: {r}" for r in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- a run
    def claim(self, run_id: str, *, now: datetime, lease_until: datetime) -> Claim:
        with self._write() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            found = None if row is None else self._run(row)
            if found is not None and found.state == "claimed" and found.lease_until > now:
                return Claim("busy", found)
            if found is not None and found.state == "done":
                return Claim("done", found)
            if found is not None and found.state in ("posting", "gap-reported"):
                return Claim("posting", found)
            run = Run(run_id, "claimed", secrets.token_hex(16), now, lease_until)
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, state, token, started_at, lease_until, "
                "pending, receipts, told) VALUES (?, ?, ?, ?, ?, '[]', '[]', '{}')",
                (run_id, run.state, run.token, _text(now), _text(lease_until)),
            )
            return Claim("claimed", run, taken_over=found is not None and found.state == "claimed")

    def release(self, claim: Claim, *, now: datetime) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = 'released' "
                "WHERE run_id = ? AND token = ? AND state = 'claimed'",
                (claim.run.run_id, claim.run.token),
            )

    def _ours(self, db: sqlite3.Connection, claim: Claim) -> None:
        row = db.execute(
            "SELECT 1 FROM runs WHERE run_id = ? AND token = ? AND state IN ('claimed', 'posting')",
            (claim.run.run_id, claim.run.token),
        ).fetchone()
        if row is None:
            raise self._error(
                f"run {claim.run.run_id} was taken over by another attempt",
                "nothing to do: that attempt reports this run",
            )

    def load(self, keys: Iterable[str], *, now: datetime) -> Loaded:
        wanted = json.dumps(sorted(set(keys)))
        with self._sqlite() as db:
            rows = db.execute(
                "SELECT * FROM incidents WHERE state = 'open' "
                "OR key IN (SELECT value FROM json_each(?))",
                (wanted,),
            ).fetchall()
            gaps = db.execute(
                "SELECT * FROM runs WHERE state = 'posting' AND lease_until < ? "
                "ORDER BY started_at",
                (_text(now),),
            ).fetchall()
            return Loaded(
                incidents={i.key: i for i in map(self._incident, rows)},
                snoozes=tuple(self._active_snoozes(db, now)),
                gaps=tuple(self._run(r) for r in gaps),
            )

    def apply(
        self,
        changes: Sequence[Change],
        *,
        now: datetime,
        claim: Claim | None = None,
        posting: Sequence[str] = (),
        gaps_reported: Sequence[str] = (),
    ) -> set[str]:
        written: set[str] = set()
        with self._write() as db:
            if claim is not None:
                self._ours(db, claim)
            for change in changes:
                if self._apply_one(db, change):
                    written.add(change.incident.key)
            if claim is not None:
                db.execute(
                    "UPDATE runs SET state = 'posting', posting_at = ?, pending = ? "
                    "WHERE run_id = ? AND token = ?",
                    (_text(now), json.dumps(list(posting)), claim.run.run_id, claim.run.token),
                )
                db.executemany(
                    "UPDATE runs SET state = 'gap-reported' WHERE run_id = ? AND state = 'posting'",
                    [(r,) for r in gaps_reported],
                )
        return written

    def _apply_one(self, db: sqlite3.Connection, change: Change) -> bool:
        row = self._incident_row(change.incident)
        expected = change.expected_version
        row["version"] = 1 if expected is None else expected + 1
        if expected is None:
            cursor = db.execute(_INSERT_NEW, tuple(row.values()))
        else:
            cursor = db.execute(_UPDATE_SAME, (*row.values(), change.incident.key, expected))
        return cursor.rowcount == 1

    def complete(
        self,
        claim: Claim,
        receipts: Sequence[Receipt],
        *,
        now: datetime,
        told: Mapping[str, int],
    ) -> None:
        with self._write() as db:
            self._ours(db, claim)
            db.execute(
                "UPDATE runs SET state = 'done', done_at = ?, receipts = ?, told = ? "
                "WHERE run_id = ? AND token = ?",
                (
                    _text(now),
                    json.dumps([receipt_record(r) for r in receipts]),
                    json.dumps(dict(told)),
                    claim.run.run_id,
                    claim.run.token,
                ),
            )
            self._prune(db, now)

    def _prune(self, db: sqlite3.Connection, now: datetime) -> None:
        """What ended more than ``keep`` ago (each through an index: cheap on every run)."""
        before = _text(now - self.keep)
        db.execute(
            "DELETE FROM incidents WHERE state = 'resolved' AND opened_at < ? AND resolved_at < ?",
            (before, before),
        )
        # any state: a claim or a gap that old is long dead, its lease long passed
        db.execute("DELETE FROM runs WHERE started_at < ? AND lease_until < ?", (before, before))
        db.execute("DELETE FROM snoozes WHERE until < ?", (before,))

    # -- inspection and administration
    def incidents(
        self, *, open_only: bool = False, since: datetime | None = None, limit: int | None = None
    ) -> list[Incident]:
        where = "state = 'open'"
        args: list[object] = []
        if not open_only:
            where += " OR resolved_at >= ?" if since is not None else " OR state = 'resolved'"
            args += [_text(since)] if since is not None else []
        return self._incidents(f"WHERE {where}", args, limit)

    def find(self, key: str) -> list[Incident]:
        column = "key" if "@" in key else "resource_key"
        return self._incidents(f"WHERE {column} = ?", [key], None)

    def history(self, start: datetime, end: datetime) -> list[Incident]:
        return self._incidents(
            "WHERE opened_at < ? AND last_seen_at >= ?", [_text(end), _text(start)], None
        )

    def _incidents(self, where: str, args: list[object], limit: int | None) -> list[Incident]:
        # ``where`` is one of this module's fixed clauses; every value is bound
        query = f"SELECT * FROM incidents {where} ORDER BY opened_at DESC, key DESC"  # noqa: S608
        if limit is not None:
            query += " LIMIT ?"
            args = [*args, limit]
        with self._sqlite() as db:
            return [self._incident(r) for r in db.execute(query, args).fetchall()]

    def add_snooze(self, snooze: Snooze) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO snoozes (scope, target, created_at, until, reason, by) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    snooze.scope,
                    snooze.target,
                    _text(snooze.created_at),
                    _text(snooze.until),
                    snooze.reason,
                    snooze.by,
                ),
            )

    def snoozes(self, *, now: datetime) -> list[Snooze]:
        with self._sqlite() as db:
            return self._active_snoozes(db, now)

    def _active_snoozes(self, db: sqlite3.Connection, now: datetime) -> list[Snooze]:
        rows = db.execute(
            "SELECT * FROM snoozes WHERE until > ? ORDER BY created_at, scope, target",
            (_text(now),),
        ).fetchall()
        return [self._snooze(r) for r in rows]

    def runs(self, *, since: datetime | None = None, limit: int | None = None) -> list[Run]:
        query = "SELECT * FROM runs"
        args: list[object] = []
        if since is not None:
            query += " WHERE started_at >= ?"
            args.append(_text(since))
        query += " ORDER BY started_at DESC, run_id DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._sqlite() as db:
            return [self._run(r) for r in db.execute(query, args).fetchall()]

    def export(self) -> dict[str, Any]:
        with self._sqlite() as db:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            incidents = db.execute("SELECT * FROM incidents ORDER BY opened_at, key").fetchall()
            everything = db.execute("SELECT * FROM snoozes ORDER BY created_at").fetchall()
            runs = db.execute("SELECT * FROM runs ORDER BY started_at, run_id").fetchall()
            return {
                "schema": int(version),
                "incidents": [_jsonable(asdict(self._incident(r))) for r in incidents],
                "snoozes": [_jsonable(asdict(self._snooze(r))) for r in everything],
                "runs": [_jsonable(asdict(self._run(r))) for r in runs],
            }

    # -- rows
    @staticmethod
    def _incident_row(incident: Incident) -> dict[str, object]:
        row: dict[str, object] = {}
        for column in _INCIDENT_COLUMNS:
            value = getattr(incident, column)
            if column in _TIMES:
                value = None if value is None else _text(value)
            elif column in _FLAGS:
                value = int(value)
            row[column] = value
        return row

    @staticmethod
    def _incident(row: sqlite3.Row) -> Incident:
        values = {column: row[column] for column in _INCIDENT_COLUMNS}
        for column in _TIMES:
            values[column] = _time(values[column])
        for column in _FLAGS:
            values[column] = bool(values[column])
        return Incident(**values)

    @staticmethod
    def _snooze(row: sqlite3.Row) -> Snooze:
        return Snooze(
            row["target"],
            row["scope"],
            until=_at(row["until"]),
            created_at=_at(row["created_at"]),
            reason=row["reason"],
            by=row["by"],
        )

    @staticmethod
    def _run(v: sqlite3.Row) -> Run:
        return Run(
            run_id=v["run_id"],
            state=v["state"],
            token=v["token"],
            started_at=_at(v["started_at"]),
            lease_until=_at(v["lease_until"]),
            posting_at=_time(v["posting_at"]),
            done_at=_time(v["done_at"]),
            pending=tuple(json.loads(v["pending"])),
            receipts=tuple(json.loads(v["receipts"])),
            told=json.loads(v["told"]),
        )


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
