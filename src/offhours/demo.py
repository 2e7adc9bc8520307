"""``offhours demo``: a real audit over loopback HTTP against the package's own simulators."""

from __future__ import annotations

import secrets as pysecrets
import tomllib
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from importlib.resources import files
from typing import Any

from offhours.audit import AuditResult, run_audit
from offhours.config import parse_config
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from offhours.transport import Deadline

__all__ = ["demo_apps", "run_demo"]

_OWNERS = ("Ada Lovelace", "Grace Hopper", "Linus Torvalds", "Margaret Hamilton", "Alan Turing")
_REGIONS = ("us-east-5", "us-central-1", "eu-west-3")


def demo_apps(now: datetime, running_labs: int) -> list[dict[str, Any]]:
    """Running labs of several owners, plus the cases the policy treats specially."""
    apps = []
    for i in range(running_labs):
        apps.append(
            make_app(
                1000 + i,
                f"training-lab-{i + 1:02d}",
                _OWNERS[i % len(_OWNERS)],
                running=1 + i % 4,
                stopped=i % 2,
                region=_REGIONS[i % len(_REGIONS)],
                publish_start=now - timedelta(hours=2 + 3 * i % 30, minutes=7 * i % 60),
                expires=now + timedelta(hours=1 + i % 5) if i % 3 == 0 else None,
            )
        )
    tomorrow = (now + timedelta(days=2)).date().isoformat()
    apps += [
        make_app(
            2001,
            "night-build-farm",
            "Grace Hopper",
            running=3,
            publish_start=now - timedelta(hours=30),
            description="offhours: always",
        ),
        make_app(
            2002,
            "customer-demo-acme",
            "Alan Turing",
            running=2,
            publish_start=now - timedelta(hours=6),
            description=f"offhours-exempt: until {tomorrow} ACME demo",
        ),
        make_app(
            2003,
            "perf-test",
            "Linus Torvalds",
            running=4,
            publish_start=now - timedelta(hours=9),
            description="offhours: Mon-Fry 08:00-18:00",
        ),
        make_app(
            2004,
            "just-started",
            "Ada Lovelace",
            running=1,
            publish_start=now - timedelta(minutes=10),
        ),
        make_app(
            2005,
            "stopped-lab",
            "Margaret Hamilton",
            running=0,
            stopped=3,
            publish_start=now - timedelta(days=3),
        ),
        make_app(2006, "blueprint-draft", "Ada Lovelace", published=False),
    ]
    return apps


def _demo_now(config_now: datetime | None, cfg: Any) -> tuple[datetime, str]:
    hours = cfg.policy().hours
    now = config_now or datetime.now(hours.zone)
    if config_now is None and hours.is_open(now):
        # During business hours nothing would be flagged: show this evening instead.
        now = datetime.combine(now.astimezone(hours.zone).date(), time(21, 0), hours.zone)
        return now, f"Simulated time {now:%a %Y-%m-%d %H:%M %Z} (it is business hours now)."
    return now, f"Audit time {now.astimezone(hours.zone):%a %Y-%m-%d %H:%M %Z}: {hours.why(now)}."


def run_demo(
    now: datetime | None = None,
    *,
    running_labs: int = 8,
    deadline: Deadline | None = None,
    faults: Sequence[str] = (),
) -> tuple[AuditResult, list[dict[str, Any]], str]:
    """Run the demo; returns the audit result, the Slack payloads the sink received, a note.

    ``deadline`` bounds the audit as ``audit --deadline`` does; ``faults`` are injected into
    the Ravello simulator for good (e.g. ``"hang"``), to show what a failing source looks like."""
    data = tomllib.loads(files("offhours").joinpath("demo.toml").read_text("utf-8"))
    cfg = parse_config(data)
    at, note = _demo_now(now, cfg)
    user, password = "demo-user", pysecrets.token_urlsafe(16)
    with (
        RavelloSimulator(demo_apps(at, running_labs), username=user, password=password) as sim,
        SlackSink() as sink,
    ):
        for fault in faults:
            sim.inject(fault, count=None)
        data["sources"][0]["base_url"] = sim.base_url
        cfg = parse_config(data)
        environ = {
            "OFFHOURS_DEMO_RAVELLO_USER": user,
            "OFFHOURS_DEMO_RAVELLO_PASSWORD": password,
            "OFFHOURS_DEMO_SLACK_WEBHOOK": sink.url,
        }
        result = run_audit(cfg, now=at, environ=environ, deadline=deadline)
        messages = list(sink.messages)
    return result, messages, note
