"""The report as Slack Block Kit messages (notifiers/slack/blocks.py; pure, no network)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import offhours
from offhours.model import SourceFailure
from offhours.notifiers.slack import render_slack, slack_messages
from tests.unit.reports import (
    all_text,
    block_texts,
    check_limits,
    decision,
    labs,
    mrkdwn_texts,
    report,
    rich_text,
)

HOSTILE = "a&b<c>d <!channel> <https://evil|x>"
ESCAPED = "a&amp;b&lt;c&gt;d &lt;!channel&gt; &lt;https://evil|x&gt;"


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: report([decision(HOSTILE)]), id="name"),
        pytest.param(lambda: report([decision(owner=HOSTILE)]), id="owner"),
        pytest.param(lambda: report([decision(region=HOSTILE)]), id="region"),
        pytest.param(lambda: report([decision(problems=(HOSTILE,))]), id="problem"),
        pytest.param(
            lambda: report([decision(HOSTILE, flagged=False, problems=("x",))]), id="problem-name"
        ),
        pytest.param(
            lambda: report([], (SourceFailure("ravello", HOSTILE),)), id="failure-message"
        ),
        pytest.param(lambda: report([], (SourceFailure(HOSTILE, "down"),)), id="failure-source"),
        pytest.param(
            lambda: report([decision(source=HOSTILE), decision(source="aws")]), id="source-name"
        ),
    ],
)
def test_slack_keeps_user_data_out_of_mrkdwn_and_escapes_the_fallback(build: Any) -> None:
    messages = render_slack(build())
    for message in messages:
        # The fallback text is mrkdwn: escaped, so no link or mention form survives.
        assert "<" not in message["text"]
        assert ">" not in message["text"]
        assert not re.search(r"&(?!amp;|lt;|gt;)", message["text"]), message["text"]
        assert ESCAPED in message["text"]
        # In the blocks, user data is only in rich_text text elements, exactly as typed.
        assert not any("evil" in t for t in mrkdwn_texts(message))
        assert any(HOSTILE in t for t in block_texts(message))


@pytest.mark.parametrize("n", [1, 10, 40])
def test_slack_up_to_40_labs_is_exactly_one_message(n: int) -> None:
    decisions = [
        decision(
            f"training-lab-{i:02d}-{'x' * 20}",
            owner=f"user.{i}@example.com",
            cost=0.75,
            expires_in=timedelta(hours=2),
        )
        for i in range(n)
    ]
    (message,) = render_slack(report(decisions))
    header = message["blocks"][0]
    assert header["type"] == "header"
    assert (
        header["text"]["text"]
        == f"{n} lab{'s' if n > 1 else ''} running outside business hours — {2 * n} VMs"
    )
    assert "(1/" not in header["text"]["text"]
    text = all_text([message])
    assert all(d.resource.name in text for d in decisions)
    assert f"*Total:* {n} lab" in text
    types = [b["type"] for b in message["blocks"]]
    assert types[:2] == ["header", "context"] and types[-1] == "context"
    assert set(types[2:-1]) == {"rich_text"}


def lab_order(messages: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for message in messages:
        for block in message["blocks"]:
            if block["type"] == "rich_text":
                names += re.findall(r"^• (lab-\d+) — ", rich_text(block), re.MULTILINE)
    return names


@pytest.mark.parametrize(
    ("n", "limits"),
    [
        (500, {}),
        (200, {"max_blocks": 5, "max_section_chars": 500, "max_message_chars": 2000}),
        (200, {"max_blocks": 50, "max_section_chars": 300, "max_message_chars": 900}),
        (60, {"max_blocks": 3, "max_section_chars": 3000, "max_message_chars": 12000}),
    ],
)
def test_slack_splits_within_limits_and_keeps_every_lab_once_in_order(
    n: int, limits: dict[str, int]
) -> None:
    messages = render_slack(report(labs(n)), **limits)
    check_limits(
        messages,
        limits.get("max_blocks", 50),
        limits.get("max_section_chars", 3000),
        limits.get("max_message_chars", 12000),
    )
    assert lab_order(messages) == [f"lab-{i:04d}" for i in range(n)]
    assert len(messages) > 1


@pytest.mark.parametrize("n", [1, 40, 500])
def test_laid_out_messages_know_their_count_and_build_the_same_messages_each_time(n: int) -> None:
    laid_out = slack_messages(report(labs(n)))
    built = list(laid_out)
    assert laid_out.total == len(built) == len(laid_out)
    assert list(laid_out) == built == render_slack(report(labs(n)))
    if laid_out.total > 1:
        assert built[-1]["blocks"][0]["text"]["text"].endswith(
            f"({laid_out.total}/{laid_out.total})"
        )


def test_slack_500_labs_make_a_handful_of_messages() -> None:
    messages = render_slack(report(labs(500)))
    assert 2 <= len(messages) <= 8


def test_slack_fallback_text_lists_the_lines_of_its_own_message() -> None:
    messages = render_slack(report(labs(300)))
    for message in messages:
        in_blocks = lab_order([message])
        assert re.findall(r"lab-\d{4}", message["text"]) == in_blocks


def test_slack_one_absurd_name_is_clipped_not_fatal() -> None:
    messages = render_slack(report([decision("&" * 10_000), decision("x" * 50_000)]))
    check_limits(messages, 50, 3000, 12000)
    assert len(messages) == 1


def test_slack_shows_failures_problems_and_totals() -> None:
    r = report(
        [
            decision("a", cost=1.0),
            decision("b", flagged=False, problems=("tag 'offhours': bad range",)),
        ],
        (SourceFailure("ravello", "HTTP 401: credentials refused"),),
    )
    (message,) = render_slack(r)
    text = all_text([message])
    assert "source 'ravello' failed: HTTP 401: credentials refused" in text
    assert "• b (ravello): tag 'offhours': bad range" in text
    assert "*Total:* 1 lab · 2 running VMs · ~$1.00/h" in text
    context = message["blocks"][1]
    assert context["type"] == "context"
    assert "1 source failed" in context["elements"][0]["text"]


def test_slack_empty_report_is_an_all_clear_message() -> None:
    (message,) = render_slack(report([decision(flagged=False)]))
    assert message["blocks"][0]["text"]["text"] == "No resources running outside business hours"
    assert "1 checked in 1 source" in message["text"]


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=300), min_size=0, max_size=120),
    max_section=st.integers(200, 3000),
    max_total=st.integers(600, 12000),
)
def test_slack_limits_hold_for_any_names(
    names: list[str], max_section: int, max_total: int
) -> None:
    decisions = [decision(name, owner=name[::-1]) for name in names]
    messages = render_slack(
        report(decisions), max_section_chars=max_section, max_message_chars=max_total
    )
    check_limits(messages, 50, max_section, max_total)
    # One line per lab, whatever the name holds (newlines included).
    lines = [
        line
        for m in messages
        for block in m["blocks"]
        if block["type"] == "rich_text"
        for line in rich_text(block).split("\n")
    ]
    assert len(lines) == len(names)
    assert all(line.startswith("• ") for line in lines)


def test_only_the_block_kit_models_of_slack_sdk_are_loaded() -> None:
    # A fresh interpreter: this one may have imported slack_sdk whole already.
    code = (
        "import sys, offhours.notifiers.slack; "
        "print(sorted(m for m in ('asyncio', 'slack_sdk.web', 'slack_sdk.webhook') "
        "if m in sys.modules))"
    )
    src = str(Path(offhours.__file__).resolve().parents[1])
    run = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src}
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"  # before: the WebClient and asyncio came along
    import slack_sdk  # later imports still see the whole package

    assert slack_sdk.WebClient is not None
