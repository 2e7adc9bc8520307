"""What the Slack webhook posts with incident memory, against the local Slack sink (real HTTP on
127.0.0.1): the resolved ones alone are news; a run that already delivered posts nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from offhours.notifiers.slack import SlackNotifier, render_slack
from offhours.secrets import Secret
from offhours.testing.slack import SlackSink
from tests.unit.reports import decision
from tests.unit.test_report_memory import incident, remembered


@pytest.fixture
def sink() -> Iterator[SlackSink]:
    with SlackSink() as s:
        yield s


def test_resolved_alone_is_posted_as_slack_accepts_it(sink: SlackSink) -> None:
    r = remembered([], resolved=(incident("lab-a", resolution="stopped"),))
    receipt = SlackNotifier("team", webhook_url=Secret(sink.url)).send(r)
    assert receipt.sent == 1
    assert sink.messages == render_slack(r)
    assert sink.answers == [(200, "ok")]


def test_a_run_already_delivered_posts_nothing_even_when_empty_is_wanted(sink: SlackSink) -> None:
    r = remembered([decision("lab-a")], new=("lab-a",), skipped="delivered already")
    slack = SlackNotifier("team", webhook_url=Secret(sink.url), notify_when_empty=True)
    assert slack.send(r).sent == 0
    assert sink.attempts == 0
