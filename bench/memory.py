"""What incident memory costs a run: ``run_audit`` with and without it, side by side, in one run.

N running resources come from a source of this bench's own (``FleetSource``, registered as
third-party sources are, by an entry point: no network, no parsing), so what differs between
the two contenders is memory alone. No notifier is configured: the report is delivered to
nothing, so no channel's pacing is measured. The night, in UTC, business hours 08:00-18:00 every
day, every resource running since 17:00:

- ``first``    23:00, every resource new (an incident opened and told each);
- ``quiet``    00:00, nothing told (each incident's sighting still written);
- ``reminder`` 03:00, every reminder due (``remind_every`` 4 h, less its 5 minutes of slack);
- ``morning``  08:00, business hours began: every incident resolved (a last "still running").

Contenders, one run of each step after the other (baseline, then memory), so a busy machine
slows both alike:

- ``no memory``: ``run_audit(config, now=…)``, every finding told every run;
- ``SQLite``:    ``run_audit(…, memory=Memory(SqliteStore(tmp), run_id, settings))``, a store
  opened afresh each run as the command line does (schema check, WAL), closed after it;
- ``DynamoDB``:  the same with ``DynamoStore`` on moto's server (its own process), a table made
  from ``table_definition``, at ``--dynamo`` resources only (a call to moto takes 13-20 ms on
  this machine: AWS's latency differs), one timed night by default
  (``--dynamo-repeat``). Calls are counted per operation with a botocore ``before-call`` hook
  on the store's client.

The night is run ``--repeat`` times timed (``time.perf_counter``; the median is shown, and the
first night's SQLite file size) and once more under ``tracemalloc`` (the peak of Python
allocations during each run above what was allocated before it; SQLite's own page cache, ~2 MB
at most, is not Python's and not counted), each night from an empty store.

    python3 dev.py bench memory                          # N = 100, 1,000, 10,000; DynamoDB 1,000
    python3 dev.py bench memory --sizes 100 --dynamo 100 # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from offhours.audit import Memory, run_audit, run_id
from offhours.config import Config, parse_config
from offhours.incidents import MemorySettings, Recall
from offhours.model import Kind, Resource
from offhours.plugin import SourceConfig
from offhours.sources.base import Source
from offhours.state.base import Store
from offhours.state.dynamodb import DynamoStore, table_definition
from offhours.state.sqlite import SqliteStore

FLEET = "bench-fleet"
MACHINE = Kind("bench.machine", noun="machine", unit="machine")
OWNERS = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Radia Perlman", "Barbara Liskov")
EVENING = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # a Monday; every resource running since
NIGHT = (
    ("first", datetime(2026, 11, 30, 23, 0, tzinfo=UTC)),
    ("quiet", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),
    ("reminder", datetime(2026, 12, 1, 3, 0, tzinfo=UTC)),
    ("morning", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
)
DEPLOYMENT = "offhours-bench"
SETTINGS = MemorySettings()  # remind every 4 h, a last line at opening, resolved told
REGION = "us-east-1"


# ------------------------------------------------------------------ the source


class FleetSourceConfig(SourceConfig):
    """``count`` running machines, each running since ``since``."""

    type: Literal["bench-fleet"]
    count: int = Field(ge=0)
    since: AwareDatetime


class FleetSource(Source):
    """``count`` machines made in memory: a source with no network and no parsing."""

    type = FLEET
    config_model = FleetSourceConfig

    def __init__(self, name: str, *, count: int, since: datetime) -> None:
        super().__init__(name)
        self.count = count
        self.since = since

    def collect(self) -> list[Resource]:
        return [
            Resource(
                provider="bench",
                source=self.name,
                id=f"m-{i:06d}",
                name=f"machine-{i:06d}",
                running=1 + i % 3,
                owner=OWNERS[i % len(OWNERS)],
                running_since=self.since,
                hourly_cost=0.1 * (1 + i % 3),
                kind=MACHINE,
                account="bench",
                group=f"team-{i % 40:02d}",
            )
            for i in range(self.count)
        ]


def register_fleet(where: Path) -> None:
    """Make ``type = "bench-fleet"`` known as a third-party source is: an entry point in the
    group ``offhours.sources``, in a distribution's metadata on ``sys.path``."""
    info = where / "offhours_bench_fleet-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: offhours-bench-fleet\nVersion: 0\n", encoding="utf-8"
    )
    module = __name__  # "memory" through bench/run.py, "__main__" when run directly
    (info / "entry_points.txt").write_text(
        f"[offhours.sources]\n{FLEET} = {module}:FleetSource\n", encoding="utf-8"
    )
    sys.path.append(str(where))


def fleet_config(count: int) -> Config:
    return parse_config(
        {
            "hours": {"timezone": "UTC", "days": "Mon-Sun", "start": "08:00", "end": "18:00"},
            "sources": [{"type": FLEET, "name": "fleet", "count": count, "since": EVENING}],
        }
    )


# ------------------------------------------------------------------ one night


@dataclass
class Step:
    """One run of the night for one contender."""

    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's: not moto's
    peak_bytes: int = 0
    told: str = ""
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_s(self) -> float:
        return statistics.median(self.cpu)


@dataclass
class Night:
    """A contender's four runs."""

    name: str
    steps: dict[str, Step] = field(default_factory=lambda: {label: Step() for label, _ in NIGHT})


def paths(recall: Recall) -> dict[str, int]:
    """How many incidents took each path in one run."""
    new = sum(1 for s in recall.status.values() if s == "new")
    return {
        "new": new,
        "reminded": len(recall.status) - new,
        "quiet": len(recall.quiet),
        "resolved": len(recall.resolved),
    }


#: the path every incident must take in each step (else the figures mean nothing)
EXPECTED = {"first": "new", "quiet": "quiet", "reminder": "reminded", "morning": "resolved"}


def told(label: str, recall: Recall | None, n: int, flagged: int) -> str:
    """What the run said, in a few words, checked against what the step is there to measure."""
    if recall is None:
        return f"{flagged:,} flagged, all told"
    if recall.problem:
        raise SystemExit(f"the store failed: {recall.problem}")
    counts = paths(recall)
    if counts[EXPECTED[label]] != n:
        want = EXPECTED[label]
        raise SystemExit(f"{label} run: {counts} of {n:,} incidents; expected all {want}")
    return ", ".join(f"{c:,} {path}" for path, c in counts.items())


StoreFactory = Callable[[], Store]


def run_step(
    config: Config, n: int, label: str, at: datetime, store: StoreFactory | None, traced: bool
) -> tuple[float, float, int, str]:
    """One run: its seconds, its CPU seconds, its peak of Python allocations (traced only),
    what it told."""
    memory = None
    if store is not None:
        memory = Memory(store(), run_id(DEPLOYMENT, at), SETTINGS, wall=lambda: at)
    if traced:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    started, cpu = time.perf_counter(), time.process_time()
    try:
        result = run_audit(config, now=at, memory=memory)
    finally:
        if memory is not None:
            memory.store.close()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] - before if traced else 0
    if result.failures:
        raise SystemExit(f"{label} run failed: {result.failures}")
    return seconds, cpu, peak, told(label, result.report.memory, n, len(result.report.flagged))


@contextmanager
def tracing(on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def nights(
    n: int,
    contenders: dict[str, Callable[[str], StoreFactory | None]],
    repeat: int,
) -> list[Night]:
    """``repeat`` timed nights and one traced night of each contender, run step by step side by
    side. ``contenders`` map a name to a maker of a fresh store (per night) or ``None``."""
    config = fleet_config(n)
    results = {name: Night(name) for name in contenders}
    passes = [f"timed-{i}" for i in range(repeat)] + ["traced"]
    for which in passes:
        traced = which == "traced"
        stores = {name: make(which) for name, make in contenders.items()}
        with tracing(traced):
            for label, at in NIGHT:
                for name, store in stores.items():
                    seconds, cpu, peak, said = run_step(config, n, label, at, store, traced)
                    step = results[name].steps[label]
                    step.told = said
                    if traced:
                        step.peak_bytes = peak
                    else:
                        step.seconds.append(seconds)
                        step.cpu.append(cpu)
                    if isinstance(store, CallCounter):
                        step.calls = store.take()
        print(f"  {n:,}: {which} night done", flush=True)
    return list(results.values())


# ------------------------------------------------------------------ the stores


class SqliteNights:
    """A fresh SQLite file per night (``memory-N-timed-0.db``: the one whose size is shown)."""

    def __init__(self, work: Path, n: int) -> None:
        self.work = work
        self.n = n

    def __call__(self, which: str) -> StoreFactory:
        path = self.work / f"memory-{self.n}-{which}.db"
        return lambda: SqliteStore(path)


class CountingDynamoStore(DynamoStore):
    """The DynamoDB store, counting its calls by operation (a botocore ``before-call`` hook on
    every client it makes: it makes one on first use, and again nearer a deadline)."""

    def __init__(self, table: str, endpoint: str, counts: dict[str, int]) -> None:
        super().__init__(table, region=REGION, endpoint_url=endpoint)
        self.counts = counts
        self._hooked: Any = None
        self._counting = threading.Lock()

    def _dynamodb(self) -> Any:
        client = super()._dynamodb()
        if client is not self._hooked:
            client.meta.events.register("before-call.dynamodb", self._count)
            self._hooked = client
        return client

    def _count(self, model: Any, **_: Any) -> None:
        with self._counting:  # the store writes from a few threads
            self.counts[model.name] = self.counts.get(model.name, 0) + 1


class CallCounter:
    """Makes each run's DynamoDB store on one table; ``take`` gives the run's calls."""

    def __init__(self, table: str, endpoint: str) -> None:
        self.table = table
        self.endpoint = endpoint
        self.counts: dict[str, int] = {}

    def __call__(self) -> Store:
        return CountingDynamoStore(self.table, self.endpoint, self.counts)

    def take(self) -> dict[str, int]:
        taken, self.counts = self.counts, {}
        return taken


class DynamoNights:
    """A fresh table per night, on one moto server."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def __call__(self, which: str) -> CallCounter:
        import boto3

        name = f"offhours-bench-{which}"
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=self.endpoint)
        client.create_table(**table_definition(name))
        client.get_waiter("table_exists").wait(TableName=name)
        return CallCounter(name, self.endpoint)


@contextmanager
def moto_dynamodb() -> Iterator[str]:
    """moto's server in its own process (as ``bench aws`` starts it), boto3 pointed at it with
    obviously fake keys and no profile, file or instance metadata."""
    from aws_fleet import KEYS, moto_server

    os.environ.update(
        {
            **KEYS,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    with moto_server() as (endpoint, _pid):
        yield endpoint


# ------------------------------------------------------------------ the tables


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f}"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base else "-"


def table(n: int, base: Night, mem: Night, dynamo: bool = False) -> str:
    """One row per run and one for the night: wall time and peak against the baseline; on
    DynamoDB also this process's CPU (the rest of the wall time is waiting on moto) and the
    calls made."""
    extra = f" {mem.name} CPU s |" if dynamo else ""
    lines = [
        f"| N | run | told ({mem.name}) | {base.name} s | {mem.name} s | vs |{extra} "
        f"{base.name} peak MB | {mem.name} peak MB | vs |" + (" calls |" if dynamo else ""),
        "|---:|---|---|---:|---:|---:|" + ("---:|" * 4 + "---|" if dynamo else "---:|" * 3),
    ]
    for label, _ in NIGHT:
        b, m = base.steps[label], mem.steps[label]
        cells = [f"{n:,}", label, m.told, f"{b.wall:.3f}", f"{m.wall:.3f}", _ratio(m.wall, b.wall)]
        cells += [f"{m.cpu_s:.3f}"] if dynamo else []
        cells += [_mb(b.peak_bytes), _mb(m.peak_bytes), _ratio(m.peak_bytes, b.peak_bytes)]
        if dynamo:
            ops = sorted(m.calls.items(), key=lambda x: -x[1])
            cells.append(f"{sum(m.calls.values()):,}: " + ", ".join(f"{op} {c:,}" for op, c in ops))
        lines.append("| " + " | ".join(cells) + " |")
    b_night = sum(s.wall for s in base.steps.values())
    m_night = sum(s.wall for s in mem.steps.values())
    cells = [f"{n:,}", "**night**", "", f"{b_night:.3f}", f"{m_night:.3f}"]
    cells.append(_ratio(m_night, b_night))
    cells += [f"{sum(s.cpu_s for s in mem.steps.values()):.3f}"] if dynamo else []
    cells += ["", "", ""]
    cells += [f"{sum(sum(s.calls.values()) for s in mem.steps.values()):,}"] if dynamo else []
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench memory", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="100,1000,10000", help="flagged resources, comma-separated"
    )
    parser.add_argument(
        "--dynamo", type=int, default=1000, help="N for the DynamoDB store on moto; 0: skip it"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed nights (the median is shown)")
    parser.add_argument(
        "--dynamo-repeat", type=int, default=1, help="timed nights on DynamoDB (moto is slow)"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.monotonic()
    first_load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{__doc__.splitlines()[0]}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="offhours-bench-memory-") as tmp:
        work = Path(tmp)
        register_fleet(work)
        tables: list[str] = []
        for n in sizes:
            sqlite = SqliteNights(work, n)
            base, kept = nights(n, {"no memory": lambda _: None, "SQLite": sqlite}, args.repeat)
            db = work / f"memory-{n}-timed-0.db"
            tables.append(table(n, base, kept))
            wal = Path(f"{db}-wal")
            tables.append(
                f"SQLite file after the night ({n:,} incidents resolved, 4 runs): "
                f"{_size(db) or 0:,} bytes"
                + (f", WAL {_size(wal):,} bytes" if _size(wal) else " (WAL checkpointed)")
            )
        if args.dynamo:
            with moto_dynamodb() as endpoint:
                base, dynamo = nights(
                    args.dynamo,
                    {"no memory": lambda _: None, "DynamoDB": DynamoNights(endpoint)},
                    args.dynamo_repeat,
                )
            tables.append(
                "DynamoDB on moto's server (loopback; moto's latency is not AWS's):\n\n"
                + table(args.dynamo, base, dynamo, dynamo=True)
            )
    print()
    print("\n\n".join(tables))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n(bench took {time.monotonic() - started:.0f} s on {os.cpu_count()} cores; "
        f"load average at the start {first_load}, at the end {load})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
