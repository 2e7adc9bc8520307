"""SlackNotifier against the local Slack sink, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gc
import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offhours.errors import ConfigError, NotifierError
from offhours.model import Decision, Resource, SourceFailure
from offhours.notifiers.slack import SLACK_ERRORS, SlackNotifier, render_slack
from offhours.report import Report, build_report
from offhours.secrets import Secret
from offhours.testing.slack import SlackSink

NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
TOKEN = "XXXXXXXXXXXXXXXXXXXXc3Jd"  # obviously fake; unique enough to find in any output


def lab(i: int, *, flagged: bool = True, problems: tuple[str, ...] = ()) -> Decision:
    resource = Resource(
        provider="ravello",
        source="ravello",
        id=str(i),
        name=f"lab-{i:04d}",
        running=2,
        owner=f"user{i % 9}@example.com",
        region="us-east-1",
        running_since=NOW - timedelta(hours=5),
    )
    return Decision(resource, flagged, "outside business hours", "Mon-Fri 08-18", problems=problems)


def report_of(n: int, **kwargs: Any) -> Report:
    return build_report([lab(i, **kwargs) for i in range(n)], now=NOW, sources=("ravello",))


QUIET = build_report([lab(1, flagged=False)], now=NOW, sources=("ravello",))


@pytest.fixture
def sink() -> Iterator[SlackSink]:
    with SlackSink() as s:
        yield s


def notifier(sink: SlackSink, **kwargs: Any) -> SlackNotifier:
    return SlackNotifier("team", webhook_url=Secret(sink.url), **kwargs)


# ---------------------------------------------------------------- delivery


def test_40_labs_are_one_message(sink: SlackSink) -> None:
    r = report_of(40)
    assert notifier(sink).send(r).sent == 1
    (payload,) = sink.messages
    assert payload == render_slack(r)[0]
    assert all(f"lab-{i:04d}" in payload["text"] for i in range(40))
    assert sink.answers == [(200, "ok")]


def test_500_labs_are_posted_in_order(sink: SlackSink) -> None:
    r = report_of(500)
    expected = render_slack(r)
    assert notifier(sink).send(r).sent == len(expected) > 1
    assert sink.messages == expected


def test_2000_labs_roll_up_per_owner_into_one_valid_message(sink: SlackSink) -> None:
    # Before: 19 messages of lines. Above rollup_above (1,000 by default) the message has a
    # section per owner: its count, cost and top lines; the totals stay the report's.
    r = report_of(2000)
    receipt = notifier(sink).send(r)
    assert receipt.sent == 1
    assert sink.answers == [(200, "ok")]  # the sink checks the blocks as Slack does
    [payload] = sink.messages
    text = json.dumps(payload, ensure_ascii=False)
    assert payload["blocks"][0]["text"]["text"] == (
        "2000 resources running outside business hours — 4000 machines"
    )
    assert "*Total:* 2000 resources · 4000 running machines" in text
    found = re.findall(r"user\d@example.com — (\d+) resources", payload["text"])
    counts = [int(n) for n in found]
    assert len(counts) == 9
    assert sum(counts) == 2000


def test_below_rollup_above_every_lab_has_its_line(sink: SlackSink) -> None:
    r = report_of(600)
    assert notifier(sink, rollup_above=600, pace=0).send(r).sent == len(render_slack(r)) > 1
    assert sink.messages == render_slack(r, rollup_above=0)
    assert all(f"lab-{i:04d}" in json.dumps(sink.messages) for i in range(600))


def test_rollup_above_0_never_rolls_up(sink: SlackSink) -> None:
    r = report_of(1200)
    sent = notifier(sink, rollup_above=0, pace=0).send(r).sent
    assert sent == len(render_slack(r, rollup_above=0)) > 8
    assert "Rolled up" not in json.dumps(sink.messages)


def _messages_alive(sink: SlackSink) -> int:
    """Message dicts in this process other than those the sink received."""
    received = {id(m) for m in sink.messages}
    keys = {"text", "blocks", "mrkdwn", "unfurl_links", "unfurl_media"}
    return sum(
        1
        for o in gc.get_objects()
        if type(o) is dict and o.keys() == keys and id(o) not in received
    )


def test_messages_are_built_one_at_a_time_as_they_are_posted(sink: SlackSink) -> None:
    # A large report runs to dozens of messages: all of them at once were most of a run's
    # peak memory. Between two posts (the pace's wait), only the next message exists.
    r = report_of(500)
    total = len(render_slack(r))
    assert total >= 4
    alive: list[int] = []

    def sleep(_: float) -> None:
        alive.append(_messages_alive(sink))

    assert notifier(sink, sleep=sleep, clock=lambda: 0.0).send(r).sent == total
    assert alive == [1] * (total - 1)
    assert sink.messages == render_slack(r)


def test_a_rate_limited_burst_is_retried_until_everything_is_delivered() -> None:
    r = report_of(500)
    # Each retry waits at least 0.2 s: more than the 0.1 s the sink needs between messages.
    with SlackSink(rate_limit=10, retry_after="0.2") as sink:
        sent = notifier(sink).send(r).sent
    assert sink.messages == render_slack(r)
    assert sink.attempts == sent + sink.rejected_429


def test_429_with_retry_after_then_delivered(sink: SlackSink) -> None:
    sink.inject_429(retry_after="0", count=2)
    assert notifier(sink).send(report_of(3)).sent == 1
    assert sink.rejected_429 == 2
    assert sink.attempts == 3
    assert len(sink.messages) == 1


@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [
        ("soon", [1.0]),
        ("", [1.0]),
        ("Wed, 21 Oct 2015 07:28:00 GMT", []),  # an HTTP date, already past: retry at once
    ],
)
def test_a_non_numeric_retry_after_waits_one_second_instead_of_failing(
    sink: SlackSink, retry_after: str, waits: list[float]
) -> None:
    sink.inject_429(retry_after=retry_after)
    slept: list[float] = []
    assert notifier(sink, max_wait=5, sleep=slept.append).send(report_of(1)).sent == 1
    assert slept == waits
    assert sink.rejected_429 == 1
    assert len(sink.messages) == 1


def test_wait_budget_exhausted(sink: SlackSink) -> None:
    sink.inject_429(retry_after="30")
    with pytest.raises(NotifierError) as info:
        notifier(sink, max_wait=1).send(report_of(1))
    message = str(info.value)
    assert "delivered 0 of 1 message" in message
    assert "HTTP 429" in message
    assert "max_wait = 1 s" in message
    assert sink.attempts == 1  # it did not wait 30 s to try again


def test_retries_exhausted(sink: SlackSink) -> None:
    sink.inject_429(retry_after="0", count=10)
    with pytest.raises(NotifierError, match=r"after 2 retries.*delivered 0 of 1 message"):
        notifier(sink, max_retries=2).send(report_of(1))
    assert sink.attempts == 3


def test_the_budget_covers_the_whole_run_not_each_message() -> None:
    r = report_of(300)
    total = len(render_slack(r))
    assert total >= 3
    # One message per 1000 s: the first goes through, the second is told to wait 100 s.
    with (
        SlackSink(rate_limit=0.001, retry_after="100") as sink,
        pytest.raises(NotifierError) as info,
    ):
        notifier(sink, max_wait=2).send(r)
    assert f"delivered 1 of {total} messages" in str(info.value)
    assert len(sink.messages) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("invalid_payload", 400),
        ("user_not_found", 400),
        ("action_prohibited", 403),
        ("channel_not_found", 404),
        ("channel_is_archived", 410),
        ("rollup_error", 500),
        ("posting_to_general_channel_denied", 403),
        ("no_service", 404),
        ("no_service_id", 400),
        ("no_team", 400),
        ("team_disabled", 403),
        ("invalid_token", 403),
        ("no_active_hooks", 410),
        ("no_text", 400),
        ("too_many_attachments", 400),
        ("msg_blocks_too_long", 400),
    ],
)
def test_each_slack_error_body_is_explained(sink: SlackSink, body: str, status: int) -> None:
    sink.inject(body=body, status=status, count=3)  # a 5xx is retried twice
    n = notifier(sink)
    with pytest.raises(NotifierError) as info:
        n.send(report_of(2))
    message = str(info.value)
    assert f"HTTP {status} {body}" in message
    assert SLACK_ERRORS[body] in message
    assert sink.attempts == (3 if status >= 500 else 1)
    assert "delivered 0 of 1 message" in message
    assert n.destination in message
    assert sink.token not in message


@pytest.mark.parametrize(
    ("body", "status", "shown"),
    [
        ("something_new", 400, "unexpected answer 'something_new'"),
        ("<html>" + "x" * 5000, 502, "unexpected answer '<html>xxx"),
        ("", 503, "empty answer"),
        ("not ok", 200, "unexpected answer 'not ok'"),
    ],
)
def test_unknown_answers_are_shown_verbatim_but_truncated(
    sink: SlackSink, body: str, status: int, shown: str
) -> None:
    sink.inject(body=body, status=status, count=3)  # a 5xx is retried twice
    with pytest.raises(NotifierError) as info:
        notifier(sink, sleep=lambda _: None).send(report_of(1))
    message = str(info.value)
    assert shown in message
    assert f"HTTP {status}" in message
    assert len(message) < 600


def test_an_error_on_message_2_says_1_was_delivered(sink: SlackSink) -> None:
    r = report_of(300)
    total = len(render_slack(r))
    sink.inject(body="channel_is_archived", status=410, after=1)
    with pytest.raises(NotifierError) as info:
        notifier(sink).send(r)
    assert f"refused message 2 of {total}" in str(info.value)
    assert f"delivered 1 of {total} messages" in str(info.value)
    assert len(sink.messages) == 1


def test_a_delivery_cut_short_is_a_receipt_of_what_went_out_and_why_not(sink: SlackSink) -> None:
    r = report_of(300)
    total = len(render_slack(r))
    sink.inject(body="channel_is_archived", status=410, after=1)
    receipt = notifier(sink).deliver(r)
    # Before: an exception, and the one message that did go out was a count nobody kept.
    assert len(sink.messages) == 1
    assert [m.index for m in receipt.messages] == [1]
    assert receipt.error is not None and f"delivered 1 of {total} messages" in receipt.error
    assert sink.token not in receipt.error and sink.token not in receipt.destination


def test_a_delivery_receipt_lists_every_message_in_order(sink: SlackSink) -> None:
    r = report_of(300)
    receipt = notifier(sink, sleep=lambda _: None).deliver(r)
    assert receipt.ok and receipt.planned == len(sink.messages) == receipt.sent >= 3
    assert [m.index for m in receipt.messages] == list(range(1, receipt.sent + 1))
    assert all(m.id is None and m.no_id for m in receipt.messages)


def test_a_dry_run_delivery_previews_and_posts_nothing(sink: SlackSink) -> None:
    n = notifier(sink)
    receipt = n.deliver(report_of(3), dry_run=True)
    assert (receipt.dry_run, receipt.sent, receipt.preview) == (True, 0, n.preview(report_of(3)))
    assert sink.attempts == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_names_the_host_not_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/{TOKEN}"
    n = SlackNotifier("team", webhook_url=Secret(url), allow_hosts=["127.0.0.1"])
    with pytest.raises(NotifierError) as info:
        n.send(report_of(1))
    message = str(info.value)
    assert "127.0.0.1 cannot be reached" in message
    assert "delivered 0 of 1 message" in message
    assert TOKEN not in message


def test_a_timeout_is_reported(sink: SlackSink) -> None:
    sink.inject_slow(5)
    with pytest.raises(NotifierError, match=r"did not answer within 0\.3 s; delivered 0 of 1"):
        notifier(sink, timeout=0.3).send(report_of(1))


# ---------------------------------------------------------------- when to post


def test_nothing_flagged_posts_nothing(sink: SlackSink) -> None:
    assert notifier(sink).send(QUIET).sent == 0
    assert sink.attempts == 0


def test_nothing_flagged_posts_an_all_clear_when_asked(sink: SlackSink) -> None:
    assert notifier(sink, notify_when_empty=True).send(QUIET).sent == 1
    (payload,) = sink.messages
    assert payload["text"].startswith("No resources running outside business hours")


@pytest.mark.parametrize(
    "r",
    [
        pytest.param(
            build_report([], [SourceFailure("ravello", "HTTP 401")], now=NOW, sources=("ravello",)),
            id="failure",
        ),
        pytest.param(
            build_report([lab(1, flagged=False, problems=("bad tag",))], now=NOW), id="problem"
        ),
    ],
)
def test_a_failure_or_a_problem_is_posted_even_when_nothing_is_flagged(
    sink: SlackSink, r: Report
) -> None:
    assert notifier(sink).send(r).sent == 1
    assert len(sink.messages) == 1


# ---------------------------------------------------------------- URL policy


SLACK_URL = f"https://hooks.slack.com/services/T0/B0/{TOKEN}"


@pytest.mark.parametrize(
    ("url", "allow", "refused"),
    [
        (SLACK_URL, [], None),
        (f"  {SLACK_URL}\n", [], None),
        (f"hooks.slack.com/services/T0/B0/{TOKEN}", [], None),
        (f"https://HOOKS.slack.com/services/T0/B0/{TOKEN}", [], None),
        (f"https://evil.example.com/services/{TOKEN}", [], "is not hooks.slack.com"),
        (f"https://slack-proxy.corp.example/services/{TOKEN}", ["slack-proxy.corp.example"], None),
        (f"http://hooks.slack.com/services/T0/B0/{TOKEN}", [], "plain http"),
        (f"http://proxy.example/services/{TOKEN}", ["proxy.example"], "plain http"),
        (f"https://10.0.0.1/services/{TOKEN}", [], "add it to allow_hosts"),
        (f"http://127.0.0.1:9/services/{TOKEN}", [], None),
        (f"http://127.0.0.1:9/services/{TOKEN}", ["127.0.0.1"], None),
        (f"http://127.9.9.9:9/services/{TOKEN}", ["127.9.9.9"], None),
        (f"http://[::1]:9/services/{TOKEN}", ["::1"], None),
        (f"http://localhost:9/services/{TOKEN}", ["localhost"], None),
        (f"ftp://hooks.slack.com/services/{TOKEN}", [], "scheme 'ftp'"),
        (f"https:///services/{TOKEN}", [], "has no host"),
    ],
)
def test_url_policy(url: str, allow: list[str], refused: str | None) -> None:
    if refused is None:
        n = SlackNotifier("team", webhook_url=Secret(url), allow_hosts=allow)
        assert TOKEN not in repr(n)
        return
    with pytest.raises(ConfigError, match=refused) as info:
        SlackNotifier("team", webhook_url=Secret(url), allow_hosts=allow)
    assert TOKEN not in str(info.value)
    assert "webhook_url (" in str(info.value)


def test_a_url_without_scheme_is_taken_as_https(sink: SlackSink) -> None:
    # The sink speaks plain http: an https client fails the TLS handshake and posts nothing.
    scheme_less = sink.url.removeprefix("http://")
    n = SlackNotifier("team", webhook_url=Secret(scheme_less), allow_hosts=["127.0.0.1"])
    with pytest.raises(NotifierError):
        n.send(report_of(1))
    assert sink.messages == []


def test_the_webhook_must_be_a_secret() -> None:
    with pytest.raises(ConfigError, match="secret reference"):
        SlackNotifier("team", webhook_url=SLACK_URL)  # type: ignore[arg-type]


# ---------------------------------------------------------------- no secret leaks


def test_preview_shows_the_payload_and_a_redacted_destination(sink: SlackSink) -> None:
    r = report_of(3)
    n = notifier(sink)
    text = n.preview(r)
    assert sink.token not in text
    assert n.destination in text
    body = text.split("--- message 1 of 1 ---\n", 1)[1]
    assert json.loads(body) == render_slack(r)[0]
    assert sink.attempts == 0
    assert "nothing to send" in n.preview(QUIET)


def test_the_token_never_reaches_errors_or_logs(
    sink: SlackSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    n = notifier(sink, max_wait=0.5)
    n.send(report_of(2))
    sink.inject_429(retry_after="0")
    n.send(report_of(2))
    errors: list[BaseException] = []
    trouble: list[Callable[[], None]] = [
        lambda: sink.inject(body="invalid_token", status=403),
        lambda: sink.inject_429(retry_after="9"),
    ]
    for inject in trouble:
        inject()
        with pytest.raises(NotifierError) as info:
            n.send(report_of(2))
        errors.append(info.value)
    dead = f"http://127.0.0.1:{free_port()}/services/T0/B0/{sink.token}"
    with pytest.raises(NotifierError) as refused:
        SlackNotifier("x", webhook_url=Secret(dead), allow_hosts=["127.0.0.1"]).send(report_of(1))
    errors.append(refused.value)

    # urllib3 spoke (it logs each request line), and was scrubbed.
    assert any(r.name.startswith("urllib3") and "POST" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert sink.token not in record.getMessage()
    assert sink.token not in caplog.text
    for error in errors:
        chain: BaseException | None = error
        while chain is not None:
            assert sink.token not in f"{chain!s} {chain!r}"
            chain = chain.__cause__
    assert sink.token not in repr(n)
