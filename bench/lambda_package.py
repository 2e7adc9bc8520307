"""The Lambda zip: cold import and "ready to run" against a bare `import boto3`, zip size, and
peak memory of a run on the handler path — side by side, in one run.

    python3 dev.py bench package [--runs 7] [--apps 1000,10000,50000] [--wheelhouse DIR]

The zip is built as `offhours deploy` builds it, for this machine's Python (so its bytecode can
be compiled here and the handler imported here) and x86_64, with a small `offhours.toml`
(Ravello, Slack, US holidays), and unpacked. Every figure comes from a fresh interpreter whose
`sys.path` is the unpacked zip plus a stand-in for the runtime's /var/runtime (boto3 and its
dependencies, symlinked from this venv, with the bytecode pip compiled), started with
`PYTHONDONTWRITEBYTECODE=1` (Lambda's /var/task is read-only) and `-S` (no site-packages).
The interpreter's own start-up is not counted: each child times its imports with
`time.perf_counter`. The contenders run interleaved — one of each per round, in a rotating
order — so a busy machine slows them alike; the figure is the median of the rounds.

- `import boto3`: the baseline (targets: handler ≤ 1.5×, ready to run ≤ 2×);
- `import offhours.lambda_handler`, from the zip as shipped (bytecode in it);
- "ready to run": that import, loading the configuration and importing its plugins;
- both again from the same zip with its bytecode removed: what a cold start costs when no
  interpreter of the runtime's version was at hand to compile it.

Zip size: bytes and files (target ≤ 8 MB). Peak RSS (`--apps`, comma-separated; 0 to skip): the
handler, run from the zip in a fresh interpreter, audits N running Ravello applications served
by the package's simulator (in this process) and posts to its Slack sink: the child's own
`VmHWM` (target ≤ 96 MB at 10,000) and its run time. The cost per application is the child's
CPU time (its own work, not the wait for the simulator to serialize the list) beyond that of a
run with one application (the configuration, the imports of the plugins and of the holiday
calendar, the first message: paid once), so the sizes compare: linear when it stays flat from
1,000 to 50,000. The read alone (the Ravello source's `collect`: the request, the parse, the
resources) is shown too: its thread's CPU time per application and the peak RSS when it ends.
`--runs 0` skips the import timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from offhours.deploy.package import PackageResult, build_package, default_runtime
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = default_runtime()
CONFIG = """\
[hours]
timezone = "America/New_York"
[hours.holidays]
country = "US"
[[sources]]
type = "ravello"
base_url = "{base_url}"
username = "env:RAVELLO_USER"
password = "env:RAVELLO_PASSWORD"
retries = 0
max_response_bytes = 1073741824
# The simulator, in the bench's process, takes seconds to serialize 50,000 applications.
read_timeout = 300
request_timeout = 600
[[notifiers]]
type = "slack"
webhook_url = "env:SLACK_WEBHOOK_URL"
pace = 0  # the sink has no rate limit: time the run, not Slack's one message a second
"""
# What the Lambda runtime has on its path besides the standard library: boto3 and its deps.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
NIGHT = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 23:00 in New York: closed
MB = 1_000_000

CHILD = """
import json, os, sys, time
zip_dir, runtime, what = sys.argv[1:4]
sys.path[:0] = [zip_dir, runtime]
start = time.perf_counter()
if what == "boto3":
    import boto3
elif what == "handler":
    import offhours.lambda_handler
else:  # ready to run: the import, the configuration, its plugins
    from offhours.lambda_handler import load_lambda_config
    from offhours.registry import load_plugin
    config = load_lambda_config({"OFFHOURS_CONFIG": os.path.join(zip_dir, "offhours.toml")})
    for section in ("sources", "notifiers"):
        for table in getattr(config, section):
            load_plugin(section, table.type)
print(json.dumps({"us": round((time.perf_counter() - start) * 1e6)}))
"""

RUN = """
import json, sys, time
zip_dir, runtime, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [zip_dir, runtime]
def hwm():
    # VmHWM: this interpreter's own peak (ru_maxrss would carry the forking parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from offhours.lambda_handler import handler
from offhours.sources.ravello import RavelloSource
read = {}
def timed_collect(self, _collect=RavelloSource.collect):
    # The read alone: its own thread's CPU (the request, the parse, the resources) and the
    # process's peak once it is done.
    cpu = time.thread_time()
    try:
        return _collect(self)
    finally:
        read.update(cpu=time.thread_time() - cpu, rss_kib=hwm())
RavelloSource.collect = timed_collect
start, cpu = time.perf_counter(), time.process_time()
try:
    outcome = handler(event, None)
except Exception as exc:
    outcome = {"error": f"{type(exc).__name__}: {exc}"[:300]}
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
seen = {"outcome": outcome, "seconds": seconds, "cpu": cpu, "rss_kib": hwm(), "read": read}
print(json.dumps(seen))
"""


def child_env(**extra: str) -> dict[str, str]:
    """A clean environment: nothing from this venv's PYTHON* variables leaks in."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **extra}


def run_child(code: str, *args: str, env: dict[str, str], cwd: Path) -> dict[str, object]:
    proc = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
        check=False,
    )
    if proc.returncode:
        sys.exit(f"the child failed ({args[2:3]}):\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def runtime_stand_in(dest: Path) -> Path:
    import boto3

    packages = Path(boto3.__file__).parents[1]
    dest.mkdir()
    for name in RUNTIME_PROVIDED:
        (dest / name).symlink_to(packages / name)
    return dest


def without_bytecode(unpacked: Path, dest: Path) -> Path:
    shutil.copytree(unpacked, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# --------------------------------------------------------------------------- import time


def import_times(
    contenders: dict[str, tuple[str, Path]], runtime: Path, runs: int, cwd: Path
) -> dict[str, int]:
    """Median µs per contender; one of each per round, the order rotating from round to round."""
    samples: dict[str, list[int]] = {label: [] for label in contenders}
    labels = list(contenders)
    for round_ in range(runs):
        shift = round_ % len(labels)
        for label in labels[shift:] + labels[:shift]:
            what, place = contenders[label]
            seen = run_child(CHILD, str(place), str(runtime), what, env=child_env(), cwd=cwd)
            samples[label].append(int(str(seen["us"])))
    return {label: int(statistics.median(values)) for label, values in samples.items()}


# ----------------------------------------------------------------------------- peak RSS


def peak_rss(unpacked: Path, runtime: Path, apps: int, cwd: Path) -> dict[str, object]:
    """One handler run from the zip against ``apps`` running applications."""
    start = NIGHT - timedelta(hours=3)
    labs = [make_app(i, f"lab-{i}", f"owner-{i % 50}", publish_start=start) for i in range(apps)]
    with RavelloSimulator(labs) as ravello, SlackSink() as slack:
        config = cwd / f"offhours-{apps}.toml"
        config.write_text(CONFIG.format(base_url=ravello.base_url), encoding="utf-8")
        env = child_env(
            OFFHOURS_CONFIG=str(config),
            RAVELLO_USER="sim-user",
            RAVELLO_PASSWORD="sim-password",
            SLACK_WEBHOOK_URL=slack.url,
        )
        event = json.dumps({"time": NIGHT.isoformat()})
        return run_child(RUN, str(unpacked), str(runtime), event, env=env, cwd=cwd)


# --------------------------------------------------------------------------------- main


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="dev.py bench package", description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--apps", default="1000,10000,50000", help="comma-separated; 0 skips")
    parser.add_argument("--wheelhouse", type=Path, default=ROOT / ".wheelhouse")
    args = parser.parse_args(argv)
    wheels = args.wheelhouse if args.wheelhouse.is_dir() else None
    sizes = [int(n) for n in args.apps.split(",") if int(n) > 0]
    with tempfile.TemporaryDirectory(prefix="offhours-bench-") as tmp:
        work = Path(tmp)
        ours: PackageResult = build_package(
            work / "offhours.zip",
            runtime=RUNTIME,
            architecture="x86_64",
            find_links=[wheels] if wheels else [],
            no_index=wheels is not None,
            project_root=ROOT,
            extra_files={"offhours.toml": CONFIG.format(base_url="http://127.0.0.1:9").encode()},
            holiday_countries=["US"],
        )
        unpacked = work / "unpacked"
        with zipfile.ZipFile(ours.path) as archive:
            archive.extractall(unpacked)
        bare = without_bytecode(unpacked, work / "no-bytecode")
        runtime = runtime_stand_in(work / "runtime")
        cwd = work / "cwd"
        cwd.mkdir()
        contenders = {
            "`import boto3` (runtime stand-in, bytecode compiled)": ("boto3", unpacked),
            "`import offhours.lambda_handler`, zip as shipped (bytecode)": ("handler", unpacked),
            "ready to run, zip as shipped (bytecode)": ("ready", unpacked),
            "`import offhours.lambda_handler`, zip without bytecode": ("handler", bare),
            "ready to run, zip without bytecode": ("ready", bare),
        }
        if args.runs > 0:
            print_import_times(import_times(contenders, runtime, args.runs, cwd), args.runs)

        with zipfile.ZipFile(ours.path) as archive:
            infos = archive.infolist()
        unzipped = sum(i.file_size for i in infos)
        print(f"\n## zip ({RUNTIME}, x86_64)\n")
        print("| size (bytes) | vs 8 MB | files | unzipped (bytes) | bytecode |")
        print("|---:|---:|---:|---:|---|")
        print(
            f"| {ours.size:,} | {ours.size / (8 * 2**20):.2f}× | {len(infos):,} "
            f"| {unzipped:,} | {'yes' if ours.bytecode else 'no'} |"
        )
        print(f"\nsha256 {ours.sha256}; bundles: {', '.join(ours.distributions)}")

        if sizes:
            print_peak_rss(unpacked, runtime, sizes, cwd)


def print_import_times(times: dict[str, int], runs: int) -> None:
    boto3_us = next(iter(times.values()))
    print(f"## cold import, median of {runs} interleaved rounds ({RUNTIME}, x86_64)\n")
    print("| what | µs | vs `import boto3` |")
    print("|---|---:|---:|")
    for label, value in times.items():
        print(f"| {label} | {value:,} | {value / boto3_us:.2f}× |")


def print_peak_rss(unpacked: Path, runtime: Path, sizes: list[int], cwd: Path) -> None:
    print("\n## peak RSS on the handler path\n")
    print(
        "| applications | peak RSS (MB) | run (s) | CPU (s) "
        "| CPU µs per application, beyond a run with one "
        "| the read: peak RSS (MB) | the read: CPU µs per application | outcome |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    one_cpu = 0.0
    for apps in [1, *sizes]:
        seen = peak_rss(unpacked, runtime, apps, cwd)
        seconds, cpu = float(str(seen["seconds"])), float(str(seen["cpu"]))
        rss = int(str(seen["rss_kib"])) * 1024 / MB
        outcome = seen["outcome"]
        failed = not isinstance(outcome, dict) or "error" in outcome
        shown = str(outcome)
        if isinstance(outcome, dict) and not failed:
            shown = f"flagged {outcome.get('flagged')}, notified {outcome.get('notified')}"
        if apps == 1:
            one_cpu = cpu
            per_app = "(the fixed cost)"
        else:
            per_app = "—" if failed else f"{(cpu - one_cpu) / (apps - 1) * 1e6:.0f}"
        read = seen["read"] if isinstance(seen["read"], dict) else {}
        read_rss = int(str(read.get("rss_kib", 0))) * 1024 / MB
        read_us = float(str(read.get("cpu", 0))) / apps * 1e6
        print(
            f"| {apps:,} | {rss:.0f} | {seconds:.2f} | {cpu:.2f} | {per_app} "
            f"| {read_rss:.0f} | {read_us:.0f} | {shown} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
