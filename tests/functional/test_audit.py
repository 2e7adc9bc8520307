"""run_audit in-process against the simulators over loopback HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from offhours.audit import run_audit
from offhours.config import parse_config
from offhours.errors import ConfigError, SecretError
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER

NIGHT = datetime.fromisoformat("2026-11-30T23:00:00-05:00")


def labs(prefix: str, n: int) -> list[dict[str, Any]]:
    start = NIGHT - timedelta(hours=4)
    return [make_app(i + 1, f"{prefix}-{i}", "Ada", publish_start=start) for i in range(n)]


def config(*sims: RavelloSimulator, **source: Any) -> dict[str, Any]:
    return {
        "hours": {"timezone": "America/New_York", "start": "08:00", "end": "18:00"},
        "sources": [
            {
                "type": "ravello",
                "name": f"ravello-{i}",
                "base_url": sim.base_url,
                "username": "env:RU",
                "password": "env:RP",
                "retries": 0,
                **source,
            }
            for i, sim in enumerate(sims)
        ],
        "notifiers": [{"type": "slack", "webhook_url": "env:HOOK"}],
    }


def env(sink: SlackSink) -> dict[str, str]:
    return {"RU": RAVELLO_USER, "RP": RAVELLO_PASSWORD, "HOOK": sink.url}


def test_session_auth_logs_in_once_and_out_at_the_end(
    ravello: RavelloSimulator, slack: SlackSink
) -> None:
    ravello.set_apps(labs("lab", 5))
    cfg = parse_config(config(ravello, auth="session", list_vms=True))
    result = run_audit(cfg, now=NIGHT, environ=env(slack))
    assert result.status == "success"
    paths = [r.path for r in ravello.requests]
    assert paths.count("/login") == 1
    assert paths[-1] == "/logout"
    assert ravello.active_sessions == 0
    assert len(slack.messages) == 1
    assert result.report.running_vms == 10


def test_one_failing_source_does_not_hide_the_other(slack: SlackSink) -> None:
    with (
        RavelloSimulator(labs("good", 3), username=RAVELLO_USER, password=RAVELLO_PASSWORD) as ok,
        RavelloSimulator(labs("bad", 3), username=RAVELLO_USER, password=RAVELLO_PASSWORD) as bad,
    ):
        bad.inject("500", count=5)
        result = run_audit(parse_config(config(ok, bad)), now=NIGHT, environ=env(slack))
    assert result.status == "partial"
    assert [f.source for f in result.report.failures] == ["ravello-1"]
    assert len(result.report.findings) == 3
    sent = json.dumps(slack.messages)
    assert "good-0" in sent
    assert "ravello-1" in sent  # the failure is in the message too
    assert result.failures == [f"source 'ravello-1': {result.report.failures[0].message}"]


def test_a_failing_notifier_does_not_stop_the_next(ravello: RavelloSimulator) -> None:
    ravello.set_apps(labs("lab", 2))
    with SlackSink() as first, SlackSink() as second:
        data = config(ravello)
        data["notifiers"] = [
            {"type": "slack", "name": "first", "webhook_url": "env:H1"},
            {"type": "slack", "name": "second", "webhook_url": "env:H2"},
        ]
        first.inject(body="channel_is_archived", status=410)
        environ = {"RU": RAVELLO_USER, "RP": RAVELLO_PASSWORD, "H1": first.url, "H2": second.url}
        result = run_audit(parse_config(data), now=NIGHT, environ=environ)
        assert [(n.name, n.sent, bool(n.error)) for n in result.notifiers] == [
            ("first", 0, True),
            ("second", 1, False),
        ]
        assert "channel_is_archived" in (result.notifiers[0].error or "")
        assert result.status == "partial"


def test_cost_per_vm_hour_is_applied(ravello: RavelloSimulator, slack: SlackSink) -> None:
    ravello.set_apps(labs("lab", 3))
    cfg = parse_config(config(ravello, cost_per_vm_hour=0.5))
    result = run_audit(cfg, now=NIGHT, environ=env(slack))
    assert [d.resource.hourly_cost for d in result.report.findings] == [1.0, 1.0, 1.0]


def test_dry_run_previews_and_sends_nothing(ravello: RavelloSimulator, slack: SlackSink) -> None:
    ravello.set_apps(labs("lab", 2))
    result = run_audit(parse_config(config(ravello)), now=NIGHT, environ=env(slack), dry_run=True)
    assert slack.messages == []
    [(name, preview)] = result.previews
    assert name == "slack"
    assert "lab-1" in preview
    assert slack.token not in preview


def test_secrets_fail_before_any_source_is_read(
    ravello: RavelloSimulator, slack: SlackSink
) -> None:
    with pytest.raises(SecretError) as info:
        run_audit(parse_config(config(ravello)), now=NIGHT, environ={"HOOK": slack.url})
    assert len(info.value.problems) == 2
    assert ravello.requests == []


def test_a_naive_now_is_refused(ravello: RavelloSimulator, slack: SlackSink) -> None:
    with pytest.raises(ConfigError, match="no time zone"):
        run_audit(parse_config(config(ravello)), now=NIGHT.replace(tzinfo=None))


def test_a_non_slack_webhook_host_is_refused_before_reading(ravello: RavelloSimulator) -> None:
    with pytest.raises(ConfigError, match=r"notifiers\[0\]"):
        run_audit(
            parse_config(config(ravello)),
            now=NIGHT,
            environ={"RU": "u", "RP": "p", "HOOK": "https://example.com/services/T0/B0/XXXX"},
        )
    assert ravello.requests == []
