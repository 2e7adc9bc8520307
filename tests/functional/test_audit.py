"""run_audit in-process against the simulators over loopback HTTP."""

from __future__ import annotations

import base64
import json
import threading
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from offhours.audit import collect, deliver, resolve_secrets, run_audit
from offhours.config import parse_config
from offhours.errors import ConfigError, NotifierError, SecretError
from offhours.model import Decision, MessageReceipt, Receipt, Resource, hourly_cost
from offhours.notifiers.base import Notifier
from offhours.report import Report, build_report, headline, render_text
from offhours.sources.base import Source
from offhours.testing._http import LoopbackHandler, LoopbackServer, read_body
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from offhours.transport import Deadline
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER
from tests.leakguard import leaks

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
        assert [(r.notifier, r.sent, bool(r.error)) for r in result.receipts] == [
            ("first", 0, True),
            ("second", 1, False),
        ]
        assert "channel_is_archived" in (result.receipts[0].error or "")
        assert result.status == "partial"
        # A webhook gives no message id: the receipt says so rather than leaving a blank.
        [message] = result.receipts[1].messages
        assert (message.index, message.id, message.timestamp) == (1, None, None)
        assert "no message id" in (message.no_id or "")
        assert result.receipts[1].channel == "slack"
        assert second.token not in result.receipts[1].destination


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
    [receipt] = result.receipts
    assert (receipt.dry_run, receipt.sent, receipt.error) == (True, 0, None)


def test_dry_run_is_honoured_by_every_notifier_with_no_special_case(
    ravello: RavelloSimulator, slack: SlackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the run singled out type == "console" in a dry run; now each notifier decides.
    ravello.set_apps(labs("lab", 2))
    data = config(ravello)
    data["notifiers"] = [
        {"type": "console", "format": "json"},
        {"type": "slack", "webhook_url": "env:HOOK"},
    ]
    result = run_audit(parse_config(data), now=NIGHT, environ=env(slack), dry_run=True)
    assert slack.messages == []
    console, hook = result.receipts
    assert (console.notifier, console.dry_run, console.sent, console.preview) == (
        "console",
        True,
        1,
        None,
    )
    assert json.loads(capsys.readouterr().out)["totals"]["findings"] == 2  # printed as usual
    assert (hook.dry_run, hook.sent) == (True, 0)
    assert result.previews == (("slack", hook.preview),)


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


# ---------------------------------------------------------------- the run's deadline


def test_a_hung_source_is_reported_to_slack_before_the_deadline(slack: SlackSink) -> None:
    with ExitStack() as stack:
        hung, healthy = (
            stack.enter_context(
                RavelloSimulator(
                    labs(f"lab{i}", 3), username=RAVELLO_USER, password=RAVELLO_PASSWORD
                )
            )
            for i in range(2)
        )
        hung.inject("hang", count=None)
        # Default timeouts: before the deadline existed, this run took 3 × 9 s and more.
        cfg = parse_config(config(hung, healthy, retries=2))
        result = run_audit(cfg, now=NIGHT, environ=env(slack), deadline=Deadline.after(3))
    assert result.status == "partial"
    [failure] = result.report.failures
    assert failure.source == "ravello-0"
    assert "timed out" in failure.message
    [message] = slack.messages
    sent = json.dumps(message)
    assert "ravello-0" in sent and "timed out" in sent  # the hung source is named
    assert "lab1-0" in sent  # and the healthy one still reported


def test_an_absurd_count_fails_its_source_only(slack: SlackSink) -> None:
    with (
        RavelloSimulator(labs("good", 2), username=RAVELLO_USER, password=RAVELLO_PASSWORD) as ok,
        RavelloSimulator([], username=RAVELLO_USER, password=RAVELLO_PASSWORD) as bad,
    ):
        app = make_app(9, "huge", "Eve", publish_start=NIGHT - timedelta(hours=3))
        app["deployment"]["totalActiveVms"] = 10**400
        bad.set_apps([app])
        # Before: the cost multiplication raised OverflowError outside any boundary: no report.
        cfg = parse_config(config(ok, bad, cost_per_vm_hour=0.5))
        result = run_audit(cfg, now=NIGHT, environ=env(slack))
    assert result.status == "partial"
    assert [f.source for f in result.report.failures] == ["ravello-1"]
    assert "expected a count" in result.report.failures[0].message
    assert [d.resource.hourly_cost for d in result.report.findings] == [1.0, 1.0]
    assert len(slack.messages) == 1


class _Stuck(Source):
    """A source that ignores its deadline (a third-party plugin, say) and hangs."""

    type = "stuck"

    def __init__(self, name: str, release: threading.Event) -> None:
        super().__init__(name)
        self.release = release

    def collect(self) -> list[Resource]:
        self.release.wait(30)
        return []


class _Quick(Source):
    type = "quick"

    def collect(self) -> list[Resource]:
        return [Resource(provider="x", source=self.name, id="1", name="one", running=1)]


def test_a_source_that_ignores_the_deadline_is_abandoned() -> None:
    release = threading.Event()
    try:
        resources, failures = collect(
            [_Stuck("stuck", release), _Quick("quick")], deadline=Deadline.after(0.5)
        )
    finally:
        release.set()
    assert [r.name for r in resources] == ["one"]
    [failure] = failures
    assert failure.source == "stuck"
    assert failure.message.startswith("timed out: still reading when the run's deadline came")


def test_a_cost_that_overflows_fails_its_source_only() -> None:
    class Many(_Quick):
        def collect(self) -> list[Resource]:
            # The source prices its resources inside collect(): its own failure boundary.
            cost = hourly_cost("n", 10**400, 1e300)
            r = Resource(provider="x", source=self.name, id="1", name="n", running=10**400)
            return [replace(r, hourly_cost=cost)]

    resources, failures = collect([Many("many"), _Quick("quick")])
    assert [r.name for r in resources] == ["one"]
    assert [f.source for f in failures] == ["many"]


class _EchoingRavello(LoopbackHandler):
    """Refuses the login, quoting in ERROR-MESSAGE what it was sent (user and Authorization)."""

    def do_GET(self) -> None:
        read_body(self)
        self.send_response(401)
        echoed = f"Invalid credentials for {RAVELLO_USER} ({self.headers.get('Authorization')})"
        self.send_header("ERROR-MESSAGE", echoed)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_server_that_echoes_the_credentials_does_not_put_them_in_the_report(
    slack: SlackSink,
) -> None:
    """What the server says is quoted in the failure, scrubbed before the report, Slack and
    the Lambda error message see it."""
    with LoopbackServer(_EchoingRavello) as server:
        cfg = config()
        cfg["sources"] = [
            {
                "type": "ravello",
                "base_url": f"http://127.0.0.1:{server.port}/api/v1",
                "username": "env:RU",
                "password": "env:RP",
                "retries": 0,
            }
        ]
        result = run_audit(parse_config(cfg), now=NIGHT, environ=env(slack))
    token = base64.b64encode(f"{RAVELLO_USER}:{RAVELLO_PASSWORD}".encode()).decode()
    [failure] = result.failures
    [message] = slack.messages
    for shown in (failure, json.dumps(message), render_text(result.report)):
        assert "Invalid credentials for" in shown  # the server's words are kept
        assert RAVELLO_USER not in shown
        assert token not in shown
        assert leaks(shown) == []


def test_resolved_secrets_are_keyed_by_plugin_and_field(
    ravello: RavelloSimulator, slack: SlackSink
) -> None:
    # Before: keyed by id() of a config object, which names nothing once that object is gone.
    secrets = resolve_secrets(parse_config(config(ravello)), env(slack))
    assert {k: v.reveal() for k, v in secrets.items()} == {
        ("sources", "ravello-0", "username"): RAVELLO_USER,
        ("sources", "ravello-0", "password"): RAVELLO_PASSWORD,
        ("notifiers", "slack", "webhook_url"): slack.url,
    }


class _Mailbox(Notifier):
    """A second channel as a third party would write it: one module, its own rendering."""

    type = "mailbox"

    def __init__(self, name: str, fail: bool = False) -> None:
        super().__init__(name)
        self.destination = "inbox"
        self.fail = fail
        self.sent: list[str] = []

    def preview(self, report: Report) -> str:
        return f"Subject: {headline(report)}"

    def send(self, report: Report) -> Receipt:
        if self.fail:
            raise NotifierError(self.name, "mailbox full")
        self.sent.append(self.preview(report))
        return self.receipt((MessageReceipt(1, id="<msg-1@inbox>"),), planned=1)


def test_deliver_takes_any_channel_and_records_each_outcome() -> None:
    resource = Resource(provider="x", source="s", id="1", name="lab", running=1)
    decision = Decision(resource, flagged=True, reason="outside business hours", schedule="-")
    report = build_report([decision], now=NIGHT)
    ok, full = _Mailbox("ok"), _Mailbox("full", fail=True)
    receipts = deliver([full, ok], report)
    assert [(r.notifier, r.channel, r.destination, r.sent, r.error) for r in receipts] == [
        ("full", "mailbox", "inbox", 0, "mailbox full"),
        ("ok", "mailbox", "inbox", 1, None),
    ]
    assert receipts[1].messages[0].id == "<msg-1@inbox>"
    assert ok.sent == ["Subject: 1 resource running outside business hours — 1 machine"]
    previews = deliver([ok], report, dry_run=True)
    assert previews[0].preview == ok.sent[0] and len(ok.sent) == 1  # nothing sent again
