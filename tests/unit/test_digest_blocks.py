"""The weekly digest as Slack Block Kit (notifiers/slack/digest_blocks.py; pure, no network)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from offhours.notifiers.slack.digest_blocks import digest_message
from offhours.testing.slack import block_problem
from tests.unit.reports import mrkdwn_texts
from tests.unit.test_digest import PREV_TUE, digest, incident

HOSTILE = "a&b<c>d <!channel> <https://evil|x> *bold* `code`"


def _inline(element: dict[str, Any]) -> str:
    """The text a rich_text element shows (a list's sections, a section's text elements)."""
    if "text" in element and isinstance(element["text"], str):
        return str(element["text"])
    return "".join(_inline(e) for e in element.get("elements", []))


def _rich_texts(message: dict[str, Any]) -> list[str]:
    return [_inline(b) for b in message["blocks"] if b["type"] == "rich_text"]


def _not_rich(message: dict[str, Any]) -> list[str]:
    """Every text of the message outside rich_text: the header, the context, the fallback."""
    texts = [message["text"]]
    for block in message["blocks"]:
        if block["type"] == "header":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return texts


def _valid(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert block_problem(blocks) is None
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    for text in _rich_texts(message):
        assert len(text) <= 3000
    assert sum(len(t) for t in [*_rich_texts(message), *_not_rich(message)]) <= 12_000
    assert (message["mrkdwn"], message["unfurl_links"], message["unfurl_media"]) == (
        False,
        False,
        False,
    )


def test_the_digest_message_has_header_totals_tables_and_offenders() -> None:
    d = digest(
        incident(1, opened=PREV_TUE, owner="alice", hours=10),
        incident(1, owner="alice", group="lab-a", hours=15),
        incident(2, owner=None, group="lab-b", cost=None, hours=3),
    )
    message = digest_message(d)
    _valid(message)
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "context", "rich_text", "rich_text", "rich_text"]
    assert message["blocks"][0]["text"]["text"] == (
        "Off-hours digest: week of 2026-11-23 (Europe/Paris)"
    )
    context = message["blocks"][1]["elements"][0]["text"]
    assert "Mon 2026-11-23 to Sun 2026-11-29" in context
    assert "18.0 h · $15.00 · 2 incidents · 1 of 2 priced" in context
    assert "up $5.00 (+50%)" in context
    owners, groups, top = _rich_texts(message)
    assert owners.startswith("By owner")
    assert re.search(r"alice\s+15\.0 h · \$15\.00 · 1 incident — up \$5\.00 \(\+50%\)", owners)
    assert "no owner  3.0 h · 1 incident · 0 of 1 priced — new" in owners
    assert groups.startswith("By group")
    assert "lab-b" in groups
    assert top == (
        "Top offenders"
        "lab-1 — alice, lab-a — 15.0 h — $15.00"
        "lab-2 — no owner, lab-b — 3.0 h — price unknown"
    )
    offenders = message["blocks"][4]["elements"][1]
    assert (offenders["type"], offenders["style"]) == ("rich_text_list", "ordered")


@pytest.mark.parametrize("field", ["owner", "group", "name"])
def test_hostile_names_only_in_rich_text_exactly_as_typed(field: str) -> None:
    d = digest(incident(1, hours=5, **{field: HOSTILE}))
    message = digest_message(d)
    _valid(message)
    assert any(HOSTILE in t for t in _rich_texts(message))
    for text in _not_rich(message):
        assert "evil" not in text
        assert "<" not in text
    assert not any("evil" in t for t in mrkdwn_texts(message))


def test_many_owners_and_long_names_stay_within_slacks_limits() -> None:
    d = digest(
        *(
            incident(n, owner=f"owner-{n:04d}-{'x' * 300}", group=f"group-{n}-{'y' * 300}", hours=1)
            for n in range(400)
        )
    )
    message = digest_message(d)
    _valid(message)
    owners, groups, _ = _rich_texts(message)
    assert re.search(r"… and \d+ more$", owners)
    assert re.search(r"… and \d+ more$", groups)
    assert "x" * 100 not in owners  # a name is clipped in its column
    assert len(message["blocks"][4]["elements"][1]["elements"]) == 10


def test_a_quiet_week_says_so() -> None:
    message = digest_message(digest())
    _valid(message)
    assert [b["type"] for b in message["blocks"]] == ["header", "context"]
    assert "Nothing ran off hours this week, nor the week before." in message["text"]
    assert "Total" not in message["text"]
