"""Slack messages and wall time for N running labs: offhours vs the seed's loop, in one run.

The Slack sink enforces ~1 message/s with 429 + Retry-After, as Slack does. Three contenders:

- seed:        a direct Python 3 rendering of the seed's handler — one POST per lab plus a total,
               errors logged and dropped (as its post_to_slack did);
- seed+wait:   the same loop, but waiting out each 429's Retry-After (what it would take to
               deliver everything one message per lab); only with --polite, it takes ~N seconds;
- offhours:    run_audit with the Ravello source and the Slack notifier.

    python3 dev.py bench slack [--labs 500] [--polite]
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from offhours.audit import run_audit
from offhours.config import parse_config
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink

USER, PASSWORD = "bench-user", "bench-password-0000"
NOW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
SEED_TIMEOUT_S = 30


@dataclass
class Result:
    name: str
    seconds: float
    posts: int
    delivered: int
    rejected_429: int
    labs_shown: int


def labs(n: int) -> list[dict[str, Any]]:
    start = NOW - timedelta(hours=5)
    return [
        make_app(
            10_000 + i, f"lab-{i:04d}", f"Owner {i % 13}", running=1 + i % 4, publish_start=start
        )
        for i in range(n)
    ]


def seed_loop(base_url: str, hook: str, *, wait_on_429: bool) -> None:
    """The seed's handler in Python 3: GET /applications, one Slack POST per running lab."""
    log = logging.getLogger("seed")
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    req = urllib.request.Request(
        f"{base_url}/applications",
        headers={"Accept": "application/json", "Authorization": f"Basic {auth}"},
    )
    with urllib.request.urlopen(req) as resp:
        items = json.loads(resp.read())

    def post_to_slack(msg: str) -> None:
        body = json.dumps({"channel": "#play", "text": msg}).encode()
        while True:
            try:
                with urllib.request.urlopen(urllib.request.Request(hook, body)) as r:
                    r.read()
                return
            except urllib.error.HTTPError as e:
                if wait_on_429 and e.code == 429:
                    time.sleep(float(e.headers.get("Retry-After", "1")))
                    continue
                log.error("Request failed: %d %s", e.code, e.reason)
                return

    total_active = 0
    for item in items:
        if "deployment" in item:
            active = item["deployment"]["totalActiveVms"]
            total_active += active
            if active:
                post_to_slack(f"Lab: {item['name']}, Owner: {item['owner']}, VMs: {active}")
    post_to_slack(f"Ravello total active VMs: {total_active}")


def shown(sink: SlackSink, names: list[str]) -> int:
    text = json.dumps(sink.messages)
    return sum(1 for n in names if f"{n}" in text)


def run_seed(apps: list[dict[str, Any]], sim: RavelloSimulator, *, polite: bool) -> Result:
    with SlackSink(rate_limit=1.0, retry_after="1") as sink:
        t0 = time.perf_counter()
        seed_loop(sim.base_url, sink.url, wait_on_429=polite)
        seconds = time.perf_counter() - t0
        names = [a["name"] for a in apps]
        return Result(
            "seed+wait" if polite else "seed",
            seconds,
            sink.attempts,
            len(sink.messages),
            sink.rejected_429,
            shown(sink, names),
        )


def run_offhours(apps: list[dict[str, Any]], sim: RavelloSimulator) -> Result:
    with SlackSink(rate_limit=1.0, retry_after="1") as sink:
        cfg = parse_config(
            {
                "hours": {"timezone": "America/New_York", "start": "08:00", "end": "18:00"},
                "sources": [
                    {
                        "type": "ravello",
                        "base_url": sim.base_url,
                        "username": "env:B_USER",
                        "password": "env:B_PASSWORD",
                    }
                ],
                "notifiers": [{"type": "slack", "webhook_url": "env:B_HOOK", "max_wait": 120}],
            }
        )
        env = {"B_USER": USER, "B_PASSWORD": PASSWORD, "B_HOOK": sink.url}
        t0 = time.perf_counter()
        result = run_audit(cfg, now=NOW, environ=env)
        seconds = time.perf_counter() - t0
        if result.failures:
            raise SystemExit(f"offhours run failed: {result.failures}")
        names = [a["name"] for a in apps]
        return Result(
            "offhours",
            seconds,
            sink.attempts,
            len(sink.messages),
            sink.rejected_429,
            shown(sink, names),
        )


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", type=int, default=500)
    parser.add_argument("--polite", action="store_true", help="also run seed+wait (~labs seconds)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    apps = labs(args.labs)
    results = []
    with RavelloSimulator(apps, username=USER, password=PASSWORD) as sim:
        results.append(run_seed(apps, sim, polite=False))
        if args.polite:
            results.append(run_seed(apps, sim, polite=True))
        results.append(run_offhours(apps, sim))
    base = results[0]
    print(f"\n{args.labs} running labs; sink enforces 1 message/s with 429 + Retry-After: 1\n")
    print("| run | wall time (s) | vs seed | POSTs | delivered | 429s | labs shown in Slack |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        flag = " (over the seed's 30 s timeout)" if r.seconds > SEED_TIMEOUT_S else ""
        print(
            f"| {r.name} | {r.seconds:.2f}{flag} | {r.seconds / base.seconds:.2f}× | {r.posts} "
            f"| {r.delivered} | {r.rejected_429} | {r.labs_shown} of {args.labs} |"
        )
    return results


if __name__ == "__main__":
    main()
