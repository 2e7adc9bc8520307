"""Peak memory and time against hostile servers: an unbounded read vs offhours, in one run.

Each contender runs in a fresh interpreter, so its peak RSS (``VmHWM``) is its own; the
simulator runs in this process, so what it costs to build the bomb is not counted:

- gzip bomb: the Ravello simulator answers ``GET /applications`` with a small gzip body that
  inflates to 64 MiB of valid JSON.
  - unbounded: what the source did before, ``urllib3`` reading and decoding the whole body,
    then ``json.loads``;
  - offhours:  the Ravello source, which decodes in chunks up to ``max_response_bytes``
    (the default 8 MiB, and ``--cap``, default 1 MB) and fails the source with a clear
    message.
- hung source: the simulator never answers; a run with a deadline (``--deadline``, default
  10 s) against the Slack sink: how long until the failure is posted. The old defaults waited
  4 attempts x 30 s of read timeout (120 s) and posted nothing past a 60 s Lambda timeout; that
  figure is arithmetic, not run here.

    python3 dev.py bench hostile [--cap BYTES] [--deadline SECONDS]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

UNBOUNDED = """
import json, sys, time
def hwm():
    # VmHWM: this interpreter's own peak (ru_maxrss would carry the forking parent's over exec)
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
import urllib3
base_url = sys.argv[1]
start = time.monotonic()
answer = urllib3.PoolManager().request(
    "GET", base_url + "/applications", headers=urllib3.make_headers(basic_auth="u:p")
)
outcome = f"read {len(answer.data):,} decoded bytes, {len(json.loads(answer.data))} apps"
seconds = time.monotonic() - start
print(json.dumps({"outcome": outcome, "seconds": seconds,
                  "rss_kib": hwm()}))
"""

OFFHOURS = """
import json, sys, time
def hwm():
    # VmHWM: this interpreter's own peak (ru_maxrss would carry the forking parent's over exec)
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
from offhours.errors import SourceError
from offhours.secrets import Secret
from offhours.sources.ravello import RavelloSource
base_url, cap = sys.argv[1], int(sys.argv[2])
source = RavelloSource("lab", base_url=base_url, username=Secret("u"),
                       password=Secret("p"), retries=0, max_response_bytes=cap)
start = time.monotonic()
try:
    outcome = f"read {len(source.collect())} apps"
except SourceError as exc:
    outcome = "failed: " + exc.detail.split(" but ")[-1][:70]
seconds = time.monotonic() - start
print(json.dumps({"outcome": outcome, "seconds": seconds,
                  "rss_kib": hwm()}))
"""

HUNG = """
import json, sys, time
def hwm():
    # VmHWM: this interpreter's own peak (ru_maxrss would carry the forking parent's over exec)
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
from datetime import UTC, datetime
from offhours.audit import run_audit
from offhours.config import parse_config
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from offhours.transport import Deadline
deadline = float(sys.argv[1])
with RavelloSimulator([make_app(1, "lab", "Ada")], username="u", password="p") as sim, \\
        SlackSink() as sink:
    sim.inject("hang", count=None)
    config = parse_config({
        "allow_plaintext_secrets": True,
        "hours": {"timezone": "UTC", "start": "08:00", "end": "18:00"},
        "sources": [{"type": "ravello", "base_url": sim.base_url, "username": "u",
                     "password": "p"}],
        "notifiers": [{"type": "slack", "webhook_url": sink.url}],
    })
    start = time.monotonic()
    result = run_audit(config, now=datetime(2026, 11, 30, 23, tzinfo=UTC),
                       deadline=Deadline.after(deadline))
    seconds = time.monotonic() - start
    posted = len(sink.messages)
    timed_out = any("timed out" in f for f in result.failures)
    outcome = f"{posted} message posted; " + (
        "the source reported timed out" if timed_out else "; ".join(result.failures)[:70]
    )
print(json.dumps({"outcome": outcome, "seconds": seconds,
                  "rss_kib": hwm()}))
"""


def _run(code: str, *args: str) -> dict[str, object]:
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        return {"outcome": f"crashed: {proc.stderr.strip().splitlines()[-1][:90]}", "seconds": 0}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> None:
    from offhours.testing.ravello import RavelloSimulator, make_app

    parser = argparse.ArgumentParser(prog="bench hostile", description=__doc__.split("\n")[0])
    parser.add_argument("--cap", type=int, default=1_000_000)
    parser.add_argument("--deadline", type=float, default=10.0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    default_cap = 8 * 1024 * 1024
    with RavelloSimulator([make_app(1, "lab", "Ada")], username="u", password="p") as sim:
        sim.inject("gzip_bomb", count=None)
        url = sim.base_url
        rows = [
            ("gzip bomb", "unbounded read", _run(UNBOUNDED, url)),
            (
                "gzip bomb",
                f"offhours, cap {default_cap:,} B",
                _run(OFFHOURS, url, str(default_cap)),
            ),
            ("gzip bomb", f"offhours, cap {args.cap:,} B", _run(OFFHOURS, url, str(args.cap))),
        ]
    hung = _run(HUNG, str(args.deadline))
    rows.append(("hung Ravello", f"offhours, deadline {args.deadline:g} s", hung))
    print("| attack | contender | peak RSS | time | outcome |")
    print("|---|---|---:|---:|---|")
    for attack, who, r in rows:
        rss = r.get("rss_kib")
        shown = f"{int(str(rss)) / 1024:,.0f} MiB" if rss is not None else "-"
        seconds = float(str(r["seconds"]))
        print(f"| {attack} | {who} | {shown} | {seconds:.2f} s | {r['outcome']} |")
    base = rows[0][2].get("rss_kib")
    for _, who, r in rows[1:3]:
        if base and r.get("rss_kib"):
            ratio = int(str(base)) / int(str(r["rss_kib"]))
            print(f"peak RSS, unbounded / {who}: {ratio:.1f}x")
    print(f"(bench took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
