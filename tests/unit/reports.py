"""Builders shared by the report's tests and the Slack rendering's: decisions, reports, and
the text a Block Kit message shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from offhours.model import VM, Decision, Resource, SourceFailure
from offhours.report import Report, build_report
from offhours.sources.ravello import APPLICATION
from offhours.testing.slack import block_problem

NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)


def decision(
    name: str = "lab",
    *,
    owner: str | None = "alice@example.com",
    source: str = "ravello",
    running: int = 2,
    region: str | None = "us-east-1",
    since: timedelta | None = timedelta(hours=5, minutes=12),
    expires_in: timedelta | None = None,
    cost: float | None = None,
    flagged: bool = True,
    problems: tuple[str, ...] = (),
) -> Decision:
    resource = Resource(
        provider="ravello",
        kind=APPLICATION,
        account=source,
        source=source,
        id=f"id-{name}",
        name=name,
        running=running,
        owner=owner,
        region=region,
        running_since=NOW - since if since is not None else None,
        expires_at=NOW + expires_in if expires_in is not None else None,
        hourly_cost=cost,
        vms=(VM("vm-1", "web", "STARTED"),),
    )
    return Decision(
        resource=resource,
        flagged=flagged,
        reason="outside business hours" if flagged else "within business hours",
        schedule="Mon-Fri 08:00-18:00 UTC",
        off_hours_since=NOW - timedelta(hours=4) if flagged else None,
        problems=problems,
    )


def report(
    decisions: list[Decision],
    failures: tuple[SourceFailure, ...] = (),
    sources: tuple[str, ...] = ("ravello",),
) -> Report:
    return build_report(decisions, failures, now=NOW, sources=sources)


def labs(n: int) -> list[Decision]:
    return [decision(f"lab-{i:04d}", owner="owner@example.com", running=1) for i in range(n)]


def rich_text(block: dict[str, Any]) -> str:
    """The text a rich_text block shows: its text elements, in order."""
    assert block["type"] == "rich_text"
    return "".join(e["text"] for section in block["elements"] for e in section["elements"])


def block_texts(message: dict[str, Any]) -> list[str]:
    """Every piece of text a message's blocks carry."""
    texts = []
    for block in message["blocks"]:
        if block["type"] == "rich_text":
            texts.append(rich_text(block))
            continue
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [e["text"] for e in block.get("elements", [])]
    return texts


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """Text Slack interprets (mrkdwn objects), as opposed to rich_text shown as typed."""
    texts = []
    for block in message["blocks"]:
        for obj in [block.get("text"), *block.get("elements", [])]:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                texts.append(obj["text"])
    return texts


def all_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(t for m in messages for t in [m["text"], *block_texts(m)])


def check_limits(
    messages: list[dict[str, Any]], max_blocks: int, max_section: int, max_total: int
) -> None:
    total = len(messages)
    for i, message in enumerate(messages, 1):
        assert len(message["blocks"]) <= max_blocks
        header = message["blocks"][0]["text"]["text"]
        assert len(header) <= 150
        if total > 1:
            assert header.endswith(f"({i}/{total})")
        assert sum(len(t) for t in block_texts(message)) <= max_total
        for block in message["blocks"]:
            if block["type"] == "rich_text":
                assert len(rich_text(block)) <= max_section
        assert message["text"].startswith(header)
        assert len(message["text"]) <= 40_000
        # What the Slack sink (Slack's own checks) would refuse: empty text, unknown types...
        assert block_problem(message["blocks"]) is None
