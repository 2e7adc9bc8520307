"""Reading a large AWS fleet: offhours, Cloud Custodian and a plain boto3 loop, in one run.

One moto server (its own process) holds the fleet; every contender runs in a fresh
interpreter, so its peak RSS (``VmHWM``, read by the interpreter itself as it exits) is its
own; the wall time is the parent's, from start to exit (imports included, alike for all); CPU
is the child's (user + sys) and moto's, since moto renders every answer's XML in one process.

Part 1, one account: ``--instances`` EC2 instances (default 10,000) across ``--regions``
(default 4), created once in reservations of 10 (moto pages ``describe_instances`` at 100
reservations: about 1,000 instances a page, as AWS does), some tagged Owner and Project.

- ``loop``:      a plain boto3 ``describe_instances`` paginator per region, counting;
- ``custodian``: ``custodian run`` with a policy ``resource: ec2, filters: [State.Name:
  running]``, one ``-r`` per region, its cache off (``--cache-period 0``);
- ``offhours``:  the CLI, ``offhours audit --dry-run --format json`` with an ``aws`` source
  (``kinds = ["ec2"]``) at an off-hours instant: read, evaluate, report;
- ``collect``:   ``AwsSource(...).collect()`` alone: the read without the run (``--collect``).

Part 2, many accounts far away: ``--accounts`` member accounts (default 100) x the same
regions, every call delayed ``--latency-ms`` (default 50) by a loopback proxy in front of moto
(:mod:`latency_proxy`); moto keeps each assumed role's account apart. Each account holds
``--per-account`` instances (default 4) in one of the regions, in turn; all are read.

- ``serial``:    one loop: per account ``sts:AssumeRole``, then per region the paginator;
- ``offhours``:  the CLI with those accounts as ``accounts = [...]`` (``current_account =
  false``, ``max_workers``).

Each row states how many running instances it found (the fleet's count is known) and, in
part 2, how many calls reached the proxy.

    python3 dev.py bench aws                               # the full size: minutes
    python3 dev.py bench aws --instances 400 --accounts 3  # a quick look while developing
    python3 dev.py bench aws --instances 0 --src OTHER/src # part 2 alone, another tree

Cloud Custodian pins exact versions of boto3 and others, so it gets its own venv
(``python3 dev.py bench aws`` makes ``.venv-custodian`` from the ``bench`` extra's list); or
name one with ``--custodian PATH/bin/custodian``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from offhours.testing.moto_process import moto_process

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
RESERVATION = 10
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
ROLE = "offhours-audit"
FIRST_MEMBER = 200_000_000_000  # member account ids: 200000000000, 200000000001, …
TICKS = os.sysconf("SC_CLK_TCK")
# moto checks no AMI (MOTO_ENABLE_AMI_VALIDATION is off) and loads none of its ~1,300 default
# ones: loading them took seconds for each new (account, region) of part 2.
AMI = "ami-12c6146b"

# Runs MODULE:FUNCTION (sys.argv[1]) with the rest as its argv, and writes this interpreter's
# own peak RSS on the way out (ru_maxrss would carry the forking parent's over exec).
PEAK = """
import atexit, importlib, os, sys
def _peak():
    with open('/proc/self/status') as status:
        kib = next(line.split()[1] for line in status if line.startswith('VmHWM:'))
    with open(os.environ['BENCH_PEAK_FILE'], 'w') as out:
        out.write(kib)
atexit.register(_peak)
module, _, function = sys.argv[1].partition(':')
sys.argv = sys.argv[1:]
sys.exit(getattr(importlib.import_module(module), function)())
"""

POLICY = """\
policies:
  - name: running-instances
    resource: ec2
    filters:
      - State.Name: running
"""


# ------------------------------------------------------------------ contenders' own code


def plain_loop() -> None:
    """argv: REGION…; prints how many running instances a describe paginator lists."""
    import boto3

    found = 0
    for region in sys.argv[1:]:
        ec2 = boto3.client("ec2", region_name=region)
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
        )
        for page in pages:
            found += sum(len(r["Instances"]) for r in page["Reservations"])
    print(found)


def serial_accounts_loop() -> None:
    """argv: ACCOUNTS REGION…; per member account AssumeRole, then each region's paginator."""
    import boto3

    accounts, regions = int(sys.argv[1]), sys.argv[2:]
    # One session: its loader reads the EC2 model once, not once per account.
    session = boto3.session.Session()
    sts = session.client("sts")
    found = 0
    for account in member_ids(accounts):
        creds = sts.assume_role(RoleArn=role_arn(account), RoleSessionName="offhours-bench")
        keys = {
            "aws_access_key_id": creds["Credentials"]["AccessKeyId"],
            "aws_secret_access_key": creds["Credentials"]["SecretAccessKey"],
            "aws_session_token": creds["Credentials"]["SessionToken"],
        }
        for region in regions:
            pages = (
                session.client("ec2", region_name=region, **keys)
                .get_paginator("describe_instances")
                .paginate(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
            )
            for page in pages:
                found += sum(len(r["Instances"]) for r in page["Reservations"])
    print(found)


def offhours_collect() -> None:
    """argv: REGION…; ``AwsSource(...).collect()`` and how many resources it returned."""
    from offhours.sources.aws import AwsSource

    print(len(AwsSource("aws", regions=sys.argv[1:], kinds=["ec2"]).collect()))


# ------------------------------------------------------------------ the fleet


def member_ids(count: int) -> list[str]:
    return [f"{FIRST_MEMBER + i:012d}" for i in range(count)]


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{ROLE}"


@contextmanager
def moto_server() -> Iterator[tuple[str, int]]:
    """moto's server in its own process: its URL and pid."""
    with moto_process() as (endpoint, pid):
        yield endpoint, pid


_CLIENTS = threading.Lock()  # a boto3 session makes clients one thread at a time


def _client(service: str, endpoint: str, region: str, creds: dict[str, str] | None = None) -> Any:
    import boto3

    keys = creds or {
        "aws_access_key_id": KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": KEYS["AWS_SECRET_ACCESS_KEY"],
    }
    with _CLIENTS:
        return boto3.client(service, region_name=region, endpoint_url=endpoint, **keys)


def _launch(ec2: Any, count: int, serial: int) -> None:
    tags = [{"Key": "Name", "Value": f"bench-{serial:05d}"}]
    if serial % 3:  # two reservations in three have an owner and a project
        tags += [
            {"Key": "Owner", "Value": f"owner-{serial % 17:02d}@example.com"},
            {"Key": "Project", "Value": f"project-{serial % 7}"},
        ]
    ec2.run_instances(
        ImageId=AMI,
        InstanceType=("t3.micro", "m5.large", "c5.xlarge")[serial % 3],
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )


def make_fleet(endpoint: str, instances: int, regions: Sequence[str]) -> None:
    """``instances`` running instances, in reservations of 10, spread over ``regions``."""
    jobs: list[tuple[str, int, int]] = []  # region, count, serial
    for serial, start in enumerate(range(0, instances, RESERVATION)):
        jobs.append((regions[serial % len(regions)], min(RESERVATION, instances - start), serial))
    clients = {region: _client("ec2", endpoint, region) for region in regions}
    # moto serves one request at a time in effect (one process, the GIL): 2 threads keep it busy
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda j: _launch(clients[j[0]], j[1], j[2]), jobs))


def make_member_fleet(endpoint: str, accounts: int, regions: Sequence[str], each: int) -> None:
    """``each`` running instances in every member account, in one of ``regions`` (in turn):
    every (account, region) is read, and creating fewer reservations keeps the set-up short."""
    sts = _client("sts", endpoint, regions[0])

    def fill(serial: int, account: str) -> None:
        got = sts.assume_role(RoleArn=role_arn(account), RoleSessionName="bench-setup")
        creds = {
            "aws_access_key_id": got["Credentials"]["AccessKeyId"],
            "aws_secret_access_key": got["Credentials"]["SecretAccessKey"],
            "aws_session_token": got["Credentials"]["SessionToken"],
        }
        _launch(_client("ec2", endpoint, regions[serial % len(regions)], creds), each, serial)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(fill, range(accounts), member_ids(accounts)))


# ------------------------------------------------------------------ measuring


@dataclass
class Result:
    name: str
    seconds: float
    cpu: float  # the contender's user + sys
    moto_cpu: float  # moto's user + sys meanwhile
    rss_kib: int | None
    found: int | None
    calls: int | None = None
    note: str = ""


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)


def _watch(proc: subprocess.Popen[bytes], cap_kib: int) -> str:
    """Waits for ``proc``; kills it past ``cap_kib`` of RSS (the machine is shared)."""
    while True:
        try:
            proc.wait(timeout=0.2)
            return ""
        except subprocess.TimeoutExpired:
            rss = _rss_kib(proc.pid)
            if rss > cap_kib:
                proc.kill()
                proc.wait()
                return f"killed at {rss // 1024:,} MB of RSS (--rss-cap)"


def measure(
    name: str,
    python: str,
    target: str,
    args: Sequence[str],
    *,
    env: dict[str, str],
    moto_pid: int,
    found: Callable[[str], int | None],
    calls: Callable[[], int] | None = None,
    cap_mb: int = 2048,
) -> Result:
    """Runs ``target`` (MODULE:FUNCTION) under ``python`` with ``args``; ``found`` reads the
    count from its stdout."""
    with tempfile.TemporaryDirectory(prefix="offhours-bench-") as tmp:
        peak, out, err = (Path(tmp) / part for part in ("peak", "stdout", "stderr"))
        before, moto_before = resource.getrusage(resource.RUSAGE_CHILDREN), _cpu_of(moto_pid)
        calls_before = calls() if calls else 0
        started = time.monotonic()
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(  # noqa: S603 - this bench's own contenders
                [python, "-c", PEAK, target, *args],
                env={**env, "BENCH_PEAK_FILE": str(peak), "HOME": tmp},
                cwd=tmp,
                stdout=stdout,
                stderr=stderr,
            )
            note = _watch(proc, cap_mb * 1024)
        seconds = time.monotonic() - started
        after, moto_after = resource.getrusage(resource.RUSAGE_CHILDREN), _cpu_of(moto_pid)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode and not note:
            last = (err.read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
            note = f"exit {proc.returncode}: {last[:120]}"
        try:
            count = found(out.read_text(errors="replace"))
        except (ValueError, KeyError, IndexError, json.JSONDecodeError) as exc:
            count, note = None, note or f"no count: {exc}"
        return Result(
            name,
            seconds,
            cpu,
            moto_after - moto_before,
            int(peak.read_text()) if peak.is_file() else None,
            count,
            (calls() - calls_before) if calls else None,
            note,
        )


def _last_int(text: str) -> int:
    return int(text.strip().splitlines()[-1])


def _findings(text: str) -> int:
    report = json.loads(text)
    return len(report["findings"])


def off_hours_now() -> str:
    """Tomorrow 23:00 UTC: outside 08:00-18:00 UTC, and after every launch."""
    day = datetime.now(UTC) + timedelta(days=1)
    return day.replace(hour=23, minute=0, second=0, microsecond=0).isoformat()


def audit_args(config: Path) -> list[str]:
    """The run as the CLI does it, sending nothing: read, evaluate, report as JSON."""
    return ["audit", "-c", str(config), "--dry-run", "--format", "json", "--now", off_hours_now()]


def offhours_config(path: Path, regions: Sequence[str], extra: str = "") -> Path:
    listed = ", ".join(json.dumps(r) for r in regions)
    path.write_text(
        "[hours]\n"
        'timezone = "UTC"\ndays = "Mon-Sun"\nstart = "08:00"\nend = "18:00"\n\n'
        "[[sources]]\n"
        'type = "aws"\nname = "aws"\nkinds = ["ec2"]\n'
        # botocore's default, as the loop and Custodian have: moto renders a page of 1,000
        # instances in seconds, and slower still with the pool's pages in flight at once.
        "read_timeout = 60\n"
        f"regions = [{listed}]\n{extra}",
        encoding="utf-8",
    )
    return path


def custodian_found(out_dir: Path) -> Callable[[str], int]:
    def count(_: str) -> int:
        files = list(out_dir.rglob("resources.json"))
        if not files:
            raise ValueError(f"no resources.json under {out_dir}")
        return sum(len(json.loads(f.read_text())) for f in files)

    return count


def find_custodian(given: str | None) -> str | None:
    """The Python of the venv holding Cloud Custodian, or None."""
    for candidate in (given, ROOT / ".venv-custodian" / "bin" / "custodian"):
        if candidate and Path(candidate).is_file():
            return str(Path(candidate).parent / "python")
    on_path = shutil.which("custodian")
    return str(Path(on_path).parent / "python") if on_path else None


# ------------------------------------------------------------------ the table


def table(title: str, rows: Sequence[Result], expected: int, base: str, memory_base: str) -> str:
    by_name = {r.name: r for r in rows}
    wall_base = by_name.get(base)
    rss_base = by_name.get(memory_base)
    lines = [
        f"{title} ({expected:,} running instances)",
        "",
        f"| contender | wall s | vs {base} | peak RSS MB | vs {memory_base} | CPU s | moto CPU s"
        " | found | calls | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        wall_ratio = f"{r.seconds / wall_base.seconds:.2f}×" if wall_base else "-"
        mb = r.rss_kib / 1024 if r.rss_kib else None
        mem_ratio = (
            f"{r.rss_kib / rss_base.rss_kib:.2f}×"
            if rss_base and rss_base.rss_kib and r.rss_kib
            else "-"
        )
        found = "-" if r.found is None else f"{r.found:,}" + ("" if r.found == expected else " ✗")
        lines.append(
            f"| {r.name} | {r.seconds:.1f} | {wall_ratio} | "
            f"{'-' if mb is None else f'{mb:.0f}'} | {mem_ratio} | {r.cpu:.1f} | "
            f"{r.moto_cpu:.1f} | {found} | {'-' if r.calls is None else r.calls} | {r.note} |"
        )
    return "\n".join(lines)


@dataclass
class Runner:
    """Runs contenders one after the other against one endpoint, keeping their results."""

    env: dict[str, str]
    moto_pid: int
    skip: Sequence[str]
    cap_mb: int
    calls: Callable[[], int] | None = None
    rows: list[Result] = field(default_factory=list)

    def run(
        self,
        name: str,
        python: str,
        target: str,
        args: Sequence[str],
        found: Callable[[str], int | None],
    ) -> None:
        if name in self.skip:
            return
        print(f"running {name} …", flush=True)
        self.rows.append(
            measure(
                name,
                python,
                target,
                args,
                env=self.env,
                moto_pid=self.moto_pid,
                found=found,
                calls=self.calls,
                cap_mb=self.cap_mb,
            )
        )
        print(f"  {self.rows[-1].seconds:.1f} s", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench aws", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--instances", type=int, default=10_000, help="part 1's fleet; 0: skip part 1"
    )
    parser.add_argument("--regions", type=int, default=len(REGIONS), choices=range(1, 5))
    parser.add_argument("--accounts", type=int, default=100, help="part 2's; 0: skip part 2")
    parser.add_argument(
        "--per-account", type=int, default=4, help="instances per member account (part 2)"
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=16, help="offhours' max_workers")
    parser.add_argument("--custodian", help="the custodian script (default: .venv-custodian's)")
    parser.add_argument(
        "--src", default=str(ROOT / "src"), help="the offhours tree to measure (default: src/)"
    )
    parser.add_argument(
        "--collect", action="store_true", help="also time AwsSource.collect() alone in part 1"
    )
    parser.add_argument(
        "--skip", action="append", default=[], help="a contender to leave out (repeatable)"
    )
    parser.add_argument(
        "--rss-cap", type=int, default=2048, help="kill a contender past this many MB of RSS"
    )
    args = parser.parse_args(argv)
    regions = REGIONS[: args.regions]
    started = time.monotonic()
    first_load = ", ".join(f"{x:.1f}" for x in os.getloadavg())  # others share the machine?
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([args.src, str(BENCH)]),
        "AWS_REGION": regions[0],
        "AWS_DEFAULT_REGION": regions[0],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **KEYS,
    }
    skip = [*args.skip, *([] if args.collect else ["collect"])]
    with moto_server() as (moto, moto_pid), tempfile.TemporaryDirectory() as tmp:
        one = Runner({**env, "AWS_ENDPOINT_URL": moto}, moto_pid, skip, args.rss_cap)
        if args.instances:
            one_account(args, one, moto, regions, Path(tmp))
        if args.accounts:
            print()
            many = Runner(env, moto_pid, skip, args.rss_cap)
            many_accounts(args, many, moto, regions, Path(tmp))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n(bench took {time.monotonic() - started:.0f} s on {os.cpu_count()} cores; "
        f"load average at the start {first_load}, at the end {load})"
    )


def _timed(what: str, make: Callable[[], None]) -> None:
    print(f"creating {what} …", flush=True)
    started = time.monotonic()
    make()
    print(f"  {time.monotonic() - started:.0f} s", flush=True)


def one_account(
    args: argparse.Namespace, runner: Runner, moto: str, regions: Sequence[str], work: Path
) -> None:
    """Part 1: the loop, Custodian and offhours over one account's large fleet."""
    _timed(
        f"{args.instances:,} instances in {len(regions)} regions",
        lambda: make_fleet(moto, args.instances, regions),
    )
    runner.run("loop", sys.executable, "aws_fleet:plain_loop", regions, _last_int)
    custodian_python = find_custodian(args.custodian)
    if custodian_python:
        out_dir = work / "custodian"
        policy = work / "policy.yml"
        policy.write_text(POLICY, encoding="utf-8")
        where = [a for r in regions for a in ("-r", r)]
        command = ["run", "--cache-period", "0", "-s", str(out_dir), *where, str(policy)]
        runner.run("custodian", custodian_python, "c7n.cli:main", command, custodian_found(out_dir))
    else:
        print("Cloud Custodian not found: pass --custodian PATH", file=sys.stderr)
    config = offhours_config(work / "one.toml", regions)
    runner.run("offhours", sys.executable, "offhours.cli:main", audit_args(config), _findings)
    runner.run("collect", sys.executable, "aws_fleet:offhours_collect", regions, _last_int)
    print()
    print(table("One account", runner.rows, args.instances, "loop", "custodian"))


def many_accounts(
    args: argparse.Namespace, runner: Runner, moto: str, regions: Sequence[str], work: Path
) -> None:
    """Part 2: member accounts far away, pooled (offhours) against serial."""
    from latency_proxy import LatencyProxy

    _timed(
        f"{args.per_account} instances in each of {args.accounts} accounts",
        lambda: make_member_fleet(moto, args.accounts, regions, args.per_account),
    )
    entries = ",\n".join(
        f'  {{ id = "{a}", role_arn = "{role_arn(a)}" }}' for a in member_ids(args.accounts)
    )
    config = offhours_config(
        work / "many.toml",
        regions,
        f"current_account = false\nmax_workers = {args.workers}\naccounts = [\n{entries}\n]\n",
    )
    with LatencyProxy(moto, delay=args.latency_ms / 1000) as proxy:
        runner.env = {**runner.env, "AWS_ENDPOINT_URL": proxy.url}
        runner.calls = lambda: proxy.calls
        loop_args = [str(args.accounts), *regions]
        runner.run("serial", sys.executable, "aws_fleet:serial_accounts_loop", loop_args, _last_int)
        runner.run("offhours", sys.executable, "offhours.cli:main", audit_args(config), _findings)
    title = (
        f"{args.accounts} accounts × {len(regions)} regions, {args.latency_ms:g} ms a call, "
        f"max_workers = {args.workers}"
    )
    expected = args.accounts * args.per_account
    print(table(title, runner.rows, expected, "serial", "serial"))


if __name__ == "__main__":
    main(sys.argv[1:])
