"""``offhours demo``: a real audit over loopback HTTP against the package's own simulators
(Ravello), or against moto's AWS emulator with a small fleet of every kind (``--source aws``)."""

from __future__ import annotations

import os
import secrets as pysecrets
import tomllib
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from importlib.resources import files
from typing import Any

from offhours.audit import AuditResult, run_audit
from offhours.config import parse_config
from offhours.errors import ConfigError
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from offhours.transport import Deadline

__all__ = ["demo_apps", "run_aws_demo", "run_demo"]

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


# ---------------------------------------------------------------- AWS, on moto's emulator

#: the member account of demo-aws.toml, reached with an assumed role
_MEMBER = "210987654321"
_MEMBER_ROLE = f"arn:aws:iam::{_MEMBER}:role/offhours-member"
#: moto accepts any keys; these are obviously not real ones
_FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}

MOTO_MISSING = (
    "offhours demo --source aws runs against moto, a local AWS emulator, which is not "
    "installed: install the development extras (pip install -e '.[dev]', or "
    "pip install 'moto[server]') and run it again"
)


def _aws_now(config_now: datetime | None, cfg: Any) -> tuple[datetime, str]:
    """The audit's instant: the resources are created now, so it is a few hours later (and
    outside business hours), where they have visibly been left running."""
    hours = cfg.policy().hours
    if config_now is not None:
        return config_now, f"Audit time {config_now.astimezone(hours.zone):%a %Y-%m-%d %H:%M %Z}."
    at = datetime.now(hours.zone).replace(second=0, microsecond=0) + timedelta(hours=3)
    if hours.is_open(at):
        # Business hours then: show this evening instead, a few hours after closing.
        at = datetime.combine(at.date(), time(21, 0), hours.zone)
    while hours.is_open(at):  # a late closing (or a holiday's eve): step past it
        at += timedelta(hours=1)
    return at, (
        f"Simulated time {at:%a %Y-%m-%d %H:%M %Z}: the fleet was created just now, and the "
        "audit looks at it some hours later, outside business hours."
    )


def _seed_aws_fleet(endpoint: str, at: datetime) -> None:
    import boto3

    from offhours.testing.aws_fleet import seed_all, seed_ec2

    def factory(region: str, **creds: str) -> Callable[[str], Any]:
        keys = creds or {
            "aws_access_key_id": _FAKE_KEYS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": _FAKE_KEYS["AWS_SECRET_ACCESS_KEY"],
        }
        return lambda service: boto3.client(
            service, region_name=region, endpoint_url=endpoint, **keys
        )

    east, west = factory("us-east-1"), factory("eu-west-1")
    until = (at + timedelta(days=2)).date().isoformat()
    seed_all(east, owner="Ada Lovelace", project="atlas", prefix="atlas")
    seed_all(west, owner="Grace Hopper", project="zeus", prefix="zeus")
    ec2 = east("ec2")
    seed_ec2(ec2, count=2, owner="Alan Turing", project="atlas", instance_type="m5.large")
    seed_ec2(ec2, owner="Linus Torvalds", instance_type="c5.xlarge")  # no project
    seed_ec2(ec2, owner="Margaret Hamilton", instance_type="x9.demo")  # no price
    seed_ec2(
        ec2,
        owner="Alan Turing",
        project="atlas",
        tags={"Name": "customer-demo", "offhours-exempt": f"until {until} ACME demo"},
    )
    seed_ec2(
        ec2, owner="Grace Hopper", project="zeus", tags={"Name": "ci-runner", "offhours": "always"}
    )
    sts = east("sts")
    creds = sts.assume_role(RoleArn=_MEMBER_ROLE, RoleSessionName="offhours-demo")["Credentials"]
    member = factory(
        "us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    seed_ec2(
        member("ec2"),
        count=3,
        owner="Margaret Hamilton",
        project="hermes",
        instance_type="g5.xlarge",
    )


def run_aws_demo(
    now: datetime | None = None, *, deadline: Deadline | None = None
) -> tuple[AuditResult, list[dict[str, Any]], str]:
    """The AWS demo: moto's server on loopback, a fleet of every kind in two regions and two
    accounts, a real audit; returns what :func:`run_demo` returns. Raises ``ConfigError``
    (saying how to install it) when moto is not installed."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ConfigError(MOTO_MISSING) from None
    data = tomllib.loads(files("offhours").joinpath("demo-aws.toml").read_text("utf-8"))
    cfg = parse_config(data)
    at, note = _aws_now(now, cfg)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in (*_AWS_ENV, *_FAKE_KEYS)}
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # boto3 reads these from the environment: the run, like the seeding, talks to moto only.
        region = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, **region, **_FAKE_KEYS})
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        _seed_aws_fleet(endpoint, at)
        with SlackSink() as sink:
            environ = {"OFFHOURS_DEMO_SLACK_WEBHOOK": sink.url}
            result = run_audit(cfg, now=at, environ=environ, deadline=deadline)
            messages = list(sink.messages)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
    return result, messages, note


_AWS_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
)
