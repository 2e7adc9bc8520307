"""The Slack sink answers like an incoming webhook, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from offhours.testing.slack import SlackSink


@pytest.fixture
def sink() -> Iterator[SlackSink]:
    with SlackSink() as s:
        yield s


def post(
    url: str, body: bytes | dict[str, Any], *, timeout: float = 5, path: str | None = None
) -> tuple[int, str, dict[str, str]]:
    parts = urlsplit(url)
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("POST", path or parts.path, raw, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        conn.close()


def test_url_looks_like_a_webhook_with_a_fresh_secret(sink: SlackSink) -> None:
    assert re.fullmatch(
        r"http://127\.0\.0\.1:\d+/services/T00000000/B00000000/[A-Za-z0-9]{24}", sink.url
    )
    with SlackSink() as other:
        assert other.token != sink.token


def test_accepts_a_message_and_records_it(sink: SlackSink) -> None:
    payload = {
        "text": "hello",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    assert post(sink.url, payload)[:2] == (200, "ok")
    assert post(sink.url, {"text": "again"})[:2] == (200, "ok")
    assert sink.messages == [payload, {"text": "again"}]
    (t1, p1), (t2, _) = sink.received
    assert p1 == payload
    assert t1 <= t2


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (b"{not json", 400, "invalid_payload"),
        (b"\xff\xfe", 400, "invalid_payload"),
        (b"[1, 2]", 400, "invalid_payload"),
        ({}, 400, "no_text"),
        ({"text": ""}, 400, "no_text"),
        ({"blocks": []}, 400, "no_text"),
        ({"text": "x", "blocks": [{"type": "divider"}] * 51}, 400, "invalid_blocks"),
        ({"text": "x", "blocks": [{"type": "divider"}] * 50}, 200, "ok"),
        (
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
            400,
            "invalid_blocks",
        ),
        (
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]},
            400,
            "invalid_blocks",
        ),
        ({"blocks": "nope"}, 400, "invalid_blocks"),
        ({"blocks": [{"text": "no type"}]}, 400, "invalid_blocks"),
    ],
)
def test_validates_like_slack(sink: SlackSink, body: Any, status: int, answer: str) -> None:
    assert post(sink.url, body)[:2] == (status, answer)
    assert len(sink.messages) == (1 if status == 200 else 0)
    assert sink.attempts == 1


@pytest.mark.parametrize(
    "path", ["/", "/services/T00000000/B00000000/wrongtoken", "/services/T00000000/B00000000/"]
)
def test_any_other_path_is_no_service(sink: SlackSink, path: str) -> None:
    assert post(sink.url, {"text": "hi"}, path=path)[:2] == (404, "no_service")
    assert sink.messages == []
    assert sink.attempts == 0


def test_rate_limit_answers_429_with_retry_after() -> None:
    # One message per 1000 s: the second post is always over the limit.
    with SlackSink(rate_limit=0.001, retry_after="7") as sink:
        assert post(sink.url, {"text": "1"})[:2] == (200, "ok")
        status, body, headers = post(sink.url, {"text": "2"})
    assert (status, body) == (429, "rate_limited")
    assert headers["Retry-After"] == "7"
    assert sink.rejected_429 == 1
    assert sink.messages == [{"text": "1"}]
    assert sink.attempts == 2


def test_injected_errors_are_answered_in_turn(sink: SlackSink) -> None:
    sink.inject(body="channel_is_archived", status=410, count=2)
    sink.inject(body="rollup_error", status=500, after=1)
    answers = [post(sink.url, {"text": str(i)})[:2] for i in range(5)]
    assert answers == [
        (410, "channel_is_archived"),
        (410, "channel_is_archived"),
        (200, "ok"),
        (500, "rollup_error"),
        (200, "ok"),
    ]
    assert sink.messages == [{"text": "2"}, {"text": "4"}]
    assert sink.answers == answers


def test_injected_429_carries_its_retry_after(sink: SlackSink) -> None:
    sink.inject_429(retry_after="soon")
    status, _, headers = post(sink.url, {"text": "x"})
    assert (status, headers["Retry-After"]) == (429, "soon")
    assert sink.rejected_429 == 1
    assert post(sink.url, {"text": "x"})[:2] == (200, "ok")


def test_injected_slowness_makes_a_client_time_out(sink: SlackSink) -> None:
    sink.inject_slow(30)
    with pytest.raises(TimeoutError):
        post(sink.url, {"text": "slow"}, timeout=0.2)
    # The slowness was used up; leaving the block below stops the sink without waiting 30 s.
    assert post(sink.url, {"text": "fast"})[:2] == (200, "ok")


def test_stops_by_itself() -> None:
    with SlackSink() as sink:
        url = sink.url
    with pytest.raises(ConnectionRefusedError):
        post(url, {"text": "late"}, timeout=1)


def test_an_injected_redirect_points_elsewhere(sink: SlackSink) -> None:
    sink.inject_redirect("http://localhost:9/services/elsewhere")
    status, _, headers = post(sink.url, {"text": "hi"})
    assert (status, headers["Location"]) == (302, "http://localhost:9/services/elsewhere")
    assert sink.messages == []
    assert post(sink.url, {"text": "hi"})[0] == 200


def _rich(*inlines: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": "x",
        "blocks": [
            {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": inlines}]}
        ],
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (
            _rich(
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b", "style": {"bold": True}},
            ),
            200,
        ),
        (_rich({"type": "text", "text": ""}), 400),  # an empty text element
        (_rich({"type": "text"}), 400),
        (_rich({"type": "text", "text": 3}), 400),
        (_rich({"type": "txet", "text": "a"}), 400),  # an unknown element type
        (_rich({"type": "text", "text": "a", "style": {"blink": True}}), 400),
        (_rich({"type": "text", "text": "a", "style": {"bold": "yes"}}), 400),
        (_rich({"type": "link", "url": "https://example.com"}), 200),
        (_rich({"type": "link"}), 400),
        (_rich(), 400),  # a section with no elements
        (_rich({"type": "text", "text": "x" * 3000}), 200),
        (_rich({"type": "text", "text": "x" * 2000}, {"type": "text", "text": "x" * 1001}), 400),
        ({"text": "x", "blocks": [{"type": "rich_text", "elements": []}]}, 400),
        (
            {"text": "x", "blocks": [{"type": "rich_text", "elements": [{"type": "paragraph"}]}]},
            400,
        ),
        (
            {
                "text": "x",
                "blocks": [
                    {
                        "type": "rich_text",
                        "elements": [
                            {
                                "type": "rich_text_list",
                                "style": "bullet",
                                "elements": [
                                    {
                                        "type": "rich_text_section",
                                        "elements": [{"type": "text", "text": "i"}],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            },
            200,
        ),
        ({"text": "x", "blocks": [{"type": "tabel"}]}, 400),  # an unknown block type
        ({"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]}, 400),
        ({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": ""}}]}, 400),
        ({"blocks": [{"type": "context", "elements": []}]}, 400),
        (
            {"blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}]},
            400,
        ),
        ({"blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": ""}]}]}, 400),
        ({"blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}]}]}, 200),
        (
            {
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "s", "emoji": True}}
                ]
            },
            400,
        ),
        ({"blocks": [{"type": "section"}]}, 400),
        ({"blocks": [{"type": "divider", "block_id": "b" * 256}]}, 400),
    ],
)
def test_validates_rich_text_header_and_context_like_slack(
    sink: SlackSink, body: dict[str, Any], status: int
) -> None:
    assert post(sink.url, body)[:2] == (status, "ok" if status == 200 else "invalid_blocks")


def test_every_message_the_report_renders_is_valid() -> None:
    # The demo's report (findings, exempt, problems) as render_slack lays it out, packed small.
    from datetime import datetime

    from offhours.demo import run_demo
    from offhours.notifiers.slack import render_slack
    from offhours.testing.slack import block_problem

    result, messages, _ = run_demo(datetime.fromisoformat("2026-11-30T23:00:00-05:00"))
    assert messages
    for limits in ({}, {"max_blocks": 3, "max_section_chars": 100, "max_message_chars": 300}):
        for message in render_slack(result.report, **limits):
            assert block_problem(message["blocks"]) is None, message
