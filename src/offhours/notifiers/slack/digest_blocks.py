"""The weekly digest as one Slack Block Kit message (pure): what the Slack notifiers post.

A header and a context line carry our own words and numbers only (the title, the days, the
totals and the trend). Owners, groups and resource names are external text: they go only into
``rich_text`` elements, shown as typed (the per-owner and per-group tables as preformatted
text, so the columns line up; the top offenders as an ordered list). Each table is cut to what
fits one rich_text block (3,000 characters), saying how many rows were left out; the message
stays far below Slack's 50 blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# The package's __init__ loads blocks.py first, which imports slack_sdk.models.blocks without
# the rest of slack_sdk.
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    PlainTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextListElement,
    RichTextPreformattedElement,
    RichTextSectionElement,
)

from offhours.digest import (
    NO_GROUP,
    NO_OWNER,
    Digest,
    Row,
    group_label,
    offender_detail,
    owner_label,
    row_line,
    span,
    title,
    totals_line,
)
from offhours.notifiers.slack.blocks import _PLAIN_MESSAGE, _clip, _clip_escaped, _slack_escape

__all__ = ["digest_message"]

_HEADER_MAX = 150
_RICH_MAX = 3000
_TEXT_MAX = 40_000
#: a table's label column: longer names are clipped so the columns stay readable
_LABEL_MAX = 40
_NAME_MAX = 80
_FIELD_MAX = 60

_Text = RichTextElementParts.Text
_BOLD = RichTextElementParts.TextStyle(bold=True)


def _title_section(text: str) -> RichTextSectionElement:
    return RichTextSectionElement(elements=[_Text(text=text, style=_BOLD)])


def _fitting(lines: Sequence[str], room: int) -> list[str]:
    """As many of ``lines`` as fit ``room`` characters, the last saying how many did not."""
    kept: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        left = len(lines) - i
        more = f"… and {left} more"
        # Keep room for the "and N more" line unless this is the last line.
        need = len(line) + 1 + (0 if left == 1 else len(more) + 1)
        if used + need > room:
            kept.append(more)
            break
        kept.append(line)
        used += len(line) + 1
    return kept


def _table(heading: str, rows: Sequence[Row], label: Callable[[str | None], str]) -> Block:
    labels = [_clip(label(r.key), _LABEL_MAX) or label(None) for r in rows]
    width = max((len(x) for x in labels), default=0)
    lines = [row_line(r, x, width) for r, x in zip(rows, labels, strict=True)]
    text = "\n".join(_fitting(lines, _RICH_MAX - len(heading) - 1))
    return RichTextBlock(
        elements=[
            _title_section(heading),
            RichTextPreformattedElement(elements=[_Text(text=text)]),
        ]
    )


def _offenders(digest: Digest) -> Block:
    heading = "Top offenders"
    items = []
    used = len(heading)
    for o in digest.top_offenders:
        # Slack's ordered list numbers the items.
        name = _clip(o.latest.name, _NAME_MAX) or "(no name)"
        owner = _clip(o.latest.owner or "", _FIELD_MAX) or NO_OWNER
        group = _clip(o.latest.group, _FIELD_MAX) or NO_GROUP
        rest = f" — {offender_detail(o, owner, group)}"
        used += len(name) + len(rest)
        if used > _RICH_MAX:
            break
        items.append(
            RichTextSectionElement(elements=[_Text(text=name, style=_BOLD), _Text(text=rest)])
        )
    return RichTextBlock(
        elements=[_title_section(heading), RichTextListElement(style="ordered", elements=items)]
    )


def digest_message(digest: Digest) -> dict[str, Any]:
    """The digest as one message to post: ``{"text", "blocks", ...}`` (the plain ``text``
    fallback is our words only, escaped all the same)."""
    head = title(digest)[:_HEADER_MAX]
    summary = f"{span(digest)} · {totals_line(digest)}"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=head, emoji=False)),
        ContextBlock(elements=[PlainTextObject(text=summary, emoji=False)]),
    ]
    week = digest.week
    if week.total.incidents:  # else the summary says nothing ran
        blocks.append(_table("By owner", week.by_owner, owner_label))
        blocks.append(_table("By group", week.by_group, group_label))
        blocks.append(_offenders(digest))
    text = _clip_escaped(_slack_escape(f"{head}\n{summary}"), _TEXT_MAX)
    return {"text": text, "blocks": [b.to_dict() for b in blocks], **_PLAIN_MESSAGE}
