"""Decisions → one :class:`Report` → console text, JSON, or Slack Block Kit messages (all pure).

JSON schema (``render_json``, ``version`` 1; times are ISO-8601 with offset, absent ones null)::

    {
      "version": 1,
      "generated_at": "2026-11-26T22:00:00+00:00",
      "sources": ["ravello"],                      # names audited
      "totals": {"checked": 12, "findings": 3, "running_vms": 7,
                 "hourly_cost": 4.2 | null,        # sum over findings with a known cost
                 "failures": 0, "problems": 1},
      "findings": [{                               # sorted by source, owner, name
        "source", "provider", "id", "name", "owner", "region",
        "running", "stopped", "errored", "running_since", "expires_at", "hourly_cost",
        "tags": {…}, "vms": [{"id", "name", "state"}],
        "reason", "schedule", "off_hours_since", "exempt_until", "problems": ["…"]}],
      "exempt": [{                                 # running, kept out of the findings
        "source", "provider", "id", "name", "owner", "region", "running",
        "by": "exemption" | "always" | "schedule",  # schedule: own hours, default closed
        "exempt_until", "reason"}],
      "problems": [{"source", "id", "name", "problem"}],   # from every decision, flagged or not
      "failures": [{"source", "message"}]
    }

``totals`` also counts ``exempt``. Strings are the data exactly as the sources gave it; control,
format (bidi, zero-width) and lone surrogate characters are ``\\uXXXX``-escaped so that the
document is safe to print and reads back to the same text.

External text (names, owners, regions, tags, problems, server messages) is data everywhere:

* text report: cleaned by :func:`offhours.untrusted.one_line` (no control, bidi or zero-width
  characters; one line per field);
* Slack: ``render_slack`` returns the messages to post, in order, each ``{"text", "blocks"}``
  (with ``mrkdwn``, ``unfurl_links`` and ``unfurl_media`` off).
  External text goes only into ``rich_text`` text elements, which Slack shows as typed: no
  ``*bold*``, ``_italic_``, ``~strike~``, backticks, ``<url|label>``, ``<!channel>``/``@here``
  or auto-linked URLs. Our own words use mrkdwn in header/context blocks that hold no external
  text. The ``text`` fallback (notifications) is plain words with ``& < >`` escaped, so no link
  or mention form survives there either, and ``mrkdwn: false`` keeps it from being formatted.
  One message unless Slack's limits force more (50 blocks, 3,000 characters per block of
  lines, a conservative total per message: Slack refuses very long block text with
  ``msg_blocks_too_long``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextSectionElement,
)

from offhours.model import Decision, Resource, SourceFailure
from offhours.untrusted import escape_json
from offhours.untrusted import one_line as _one_line

__all__ = [
    "JSON_VERSION",
    "Problem",
    "Report",
    "build_report",
    "render_json",
    "render_slack",
    "render_text",
]

JSON_VERSION = 1

# Slack's documented limits; the per-message total is our own conservative bound.
_HEADER_MAX = 150
_TEXT_MAX = 40_000
# User data is clipped before escaping so that one absurd name cannot fill a section.
_NAME_MAX = 120
_FIELD_MAX = 80
_MESSAGE_MAX = 500


@dataclass(frozen=True)
class Problem:
    """Something wrong on one resource's configuration (e.g. a malformed tag)."""

    source: str
    id: str
    name: str
    message: str


def _sort_key(decision: Decision) -> tuple[str, str, str, str]:
    r = decision.resource
    return (r.source, (r.owner or "").casefold(), r.name.casefold(), r.id)


@dataclass(frozen=True)
class Report:
    """Everything one run found: every decision, the sources that failed, the names audited."""

    generated_at: datetime
    decisions: tuple[Decision, ...]
    failures: tuple[SourceFailure, ...] = ()
    sources: tuple[str, ...] = ()
    _findings: tuple[Decision, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Sorted once: the renderers and the properties all read it.
        flagged = sorted((d for d in self.decisions if d.flagged), key=_sort_key)
        object.__setattr__(self, "_findings", tuple(flagged))

    @property
    def findings(self) -> tuple[Decision, ...]:
        """Flagged decisions, sorted by source, owner, name."""
        return self._findings

    @property
    def running_vms(self) -> int:
        return sum(d.resource.running for d in self._findings)

    @property
    def hourly_cost(self) -> float | None:
        """Sum over findings whose cost is known; ``None`` when none is."""
        costs = [d.resource.hourly_cost for d in self._findings]
        known = [c for c in costs if c is not None]
        return sum(known) if known else None

    @property
    def exempt(self) -> tuple[Decision, ...]:
        """Running resources an exemption, an ``always`` schedule or their own hours (open while
        the default hours are closed) keep out of the findings,
        sorted like the findings: listed so that they never vanish from the report."""
        kept = (d for d in self.decisions if d.exempt_by and d.resource.is_running)
        return tuple(sorted(kept, key=_sort_key))

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Problems of every decision, flagged or not, in report order."""
        return tuple(
            Problem(d.resource.source, d.resource.id, d.resource.name, p)
            for d in sorted(self.decisions, key=_sort_key)
            for p in d.problems
        )

    @property
    def ok(self) -> bool:
        """Every source could be read."""
        return not self.failures


def build_report(
    decisions: Iterable[Decision],
    failures: Iterable[SourceFailure] = (),
    *,
    now: datetime,
    sources: Sequence[str] = (),
) -> Report:
    return Report(
        generated_at=now,
        decisions=tuple(decisions),
        failures=tuple(failures),
        sources=tuple(sources),
    )


# ---------------------------------------------------------------- shared wording


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _tz(report: Report) -> tzinfo:
    return report.generated_at.tzinfo or UTC


def _local(dt: datetime, tz: tzinfo) -> datetime:
    # Sources give aware UTC times; a naive one is taken as UTC rather than local time.
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(tz)


def _clock(dt: datetime, report: Report) -> str:
    """``17:00`` on the report's day, ``2026-11-25 17:00`` otherwise."""
    tz = _tz(report)
    local = _local(dt, tz)
    same_day = local.date() == _local(report.generated_at, tz).date()
    return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    return f"{mins}m"


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


def _stamp(report: Report) -> str:
    local = _local(report.generated_at, _tz(report))
    return local.strftime("%Y-%m-%d %H:%M %Z").strip()


def _timing(decision: Decision, report: Report) -> list[str]:
    r = decision.resource
    now = report.generated_at
    parts = []
    if r.running_since is not None:
        since = _duration(now - r.running_since)
        parts.append(f"running {since}, since {_clock(r.running_since, report)}")
    elif decision.off_hours_since is not None:
        since = _duration(now - decision.off_hours_since)
        parts.append(f"off hours for {since}, since {_clock(decision.off_hours_since, report)}")
    if r.expires_at is not None:
        parts.append(f"auto-stops {_clock(r.expires_at, report)}")
    if r.hourly_cost is not None:
        parts.append(f"~{_money(r.hourly_cost)}/h")
    return parts


def _headline(report: Report) -> str:
    """``3 labs running outside business hours — 7 VMs`` (no user data: safe anywhere)."""
    n = len(report.findings)
    if not n and report.failures:
        # "Nothing running" would be a guess when a source could not be read.
        if len(report.failures) >= len(report.sources):
            return "Could not check for running resources: every source failed"
        return "No resources running outside business hours in the sources that answered"
    if not n:
        return "No resources running outside business hours"
    verb = "lab running" if n == 1 else "labs running"
    return f"{n} {verb} outside business hours — {_plural(report.running_vms, 'VM')}"


def _checked(report: Report) -> str:
    sources = len(report.sources) or len({d.resource.source for d in report.decisions})
    text = f"{len(report.decisions)} checked in {_plural(sources, 'source')}"
    if report.failures:
        failed = len(report.failures)
        text += f"; {failed} {'source' if failed == 1 else 'sources'} failed"
    return text


def _many_sources(report: Report) -> bool:
    return len({d.resource.source for d in report.findings}) > 1


def _cost_total(report: Report) -> str | None:
    total = report.hourly_cost
    if total is None:
        return None
    priced = sum(1 for d in report.findings if d.resource.hourly_cost is not None)
    note = "" if priced == len(report.findings) else f" ({priced} of {len(report.findings)} priced)"
    return f"~{_money(total)}/h{note}"


# ---------------------------------------------------------------- text


def _text_line(decision: Decision, report: Report, many_sources: bool) -> str:
    r = decision.resource
    parts = [_one_line(r.name), _one_line(r.owner or "no owner"), _plural(r.running, "VM")]
    if r.region:
        parts.append(_one_line(r.region))
    parts += _timing(decision, report)
    prefix = f"[{_one_line(r.source)}] " if many_sources else ""
    return "  • " + prefix + " — ".join(parts)


def render_text(report: Report) -> str:
    """The console report: headline, one line per finding, problems, failed sources."""
    lines = []
    if report.findings:
        lines.append(f"{_headline(report)} — {_stamp(report)}")
        many = _many_sources(report)
        lines += [_text_line(d, report, many) for d in report.findings]
        cost = _cost_total(report)
        if cost:
            lines.append(f"Estimated cost: {cost}")
    else:
        lines.append(f"{_headline(report)} ({_checked(report)}).")
    if report.exempt:
        items = " · ".join(_exempt_item(d, report) for d in report.exempt)
        lines.append(f"{_exempt_title(report)}: {items}")
    problems = report.problems
    if problems:
        lines.append(f"{_plural(len(problems), 'problem')}:")
        lines += [
            f"  • {_one_line(p.name)} ({_one_line(p.source)}): {_one_line(p.message)}"
            for p in problems
        ]
    lines += [
        f"⚠ source '{_one_line(f.source)}' failed: {_one_line(f.message)}" for f in report.failures
    ]
    return "\n".join(lines) + "\n"


def _exempt_title(report: Report) -> str:
    return f"Running but exempt ({len(report.exempt)})"


def _exempt_why(decision: Decision, report: Report) -> str:
    if decision.exempt_by == "always":
        return "always"
    if decision.exempt_by == "schedule":
        # The holidays are the configuration's, not the tag's: not worth the room.
        return f"own hours {decision.schedule.split(', holidays: ')[0]}"
    if decision.exempt_until is not None:
        return f"until {_clock(decision.exempt_until, report)}"
    return "exempt"


def _exempt_item(decision: Decision, report: Report) -> str:
    """``lab-a (alice, 2 VMs, until 2026-12-24 23:59)``, cleaned for a terminal."""
    r = decision.resource
    details = [_one_line(r.owner or "no owner"), _plural(r.running, "VM")]
    details.append(_one_line(_exempt_why(decision, report)))
    return f"{_one_line(r.name)} ({', '.join(details)})"


# ---------------------------------------------------------------- JSON


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _resource_json(r: Resource) -> dict[str, Any]:
    """Who and where a resource is: the fields every JSON entry about one starts with."""
    return {
        "source": r.source,
        "provider": r.provider,
        "id": r.id,
        "name": r.name,
        "owner": r.owner,
        "region": r.region,
        "running": r.running,
    }


def _finding_json(decision: Decision) -> dict[str, Any]:
    r: Resource = decision.resource
    return {
        **_resource_json(r),
        "stopped": r.stopped,
        "errored": r.errored,
        "running_since": _iso(r.running_since),
        "expires_at": _iso(r.expires_at),
        "hourly_cost": r.hourly_cost,
        "tags": dict(r.tags),
        "vms": [{"id": v.id, "name": v.name, "state": v.state} for v in r.vms],
        "reason": decision.reason,
        "schedule": decision.schedule,
        "off_hours_since": _iso(decision.off_hours_since),
        "exempt_until": _iso(decision.exempt_until),
        "problems": list(decision.problems),
    }


def _exempt_json(decision: Decision) -> dict[str, Any]:
    return {
        **_resource_json(decision.resource),
        "by": decision.exempt_by,
        "exempt_until": _iso(decision.exempt_until),
        "reason": decision.reason,
    }


def render_json(report: Report) -> str:
    """The report in the stable schema documented at the top of this module."""
    document = {
        "version": JSON_VERSION,
        "generated_at": report.generated_at.isoformat(),
        "sources": list(report.sources),
        "totals": {
            "checked": len(report.decisions),
            "findings": len(report.findings),
            "running_vms": report.running_vms,
            "hourly_cost": report.hourly_cost,
            "failures": len(report.failures),
            "problems": len(report.problems),
            "exempt": len(report.exempt),
        },
        "findings": [_finding_json(d) for d in report.findings],
        "exempt": [_exempt_json(d) for d in report.exempt],
        "problems": [
            {"source": p.source, "id": p.id, "name": p.name, "problem": p.message}
            for p in report.problems
        ],
        "failures": [{"source": f.source, "message": f.message} for f in report.failures],
    }
    # Exact data, printable: see the module docstring.
    return escape_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


# ---------------------------------------------------------------- Slack

# The fallback ``text`` is not parsed as mrkdwn, and no link in a message is unfurled (a URL in a
# name must not make Slack fetch and show a preview of the page).
_PLAIN_MESSAGE: dict[str, Any] = {"mrkdwn": False, "unfurl_links": False, "unfurl_media": False}

_Element = RichTextElementParts.Text
_BOLD = RichTextElementParts.TextStyle(bold=True)
_ITALIC = RichTextElementParts.TextStyle(italic=True)


def _clip(text: str, limit: int) -> str:
    """External text cleaned to one line and clipped, so one absurd name cannot fill a block."""
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    """For the mrkdwn ``text`` fallback: ``& < >`` escaped, so no ``<url|label>`` or
    ``<!channel>`` form survives."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip_escaped(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # never leave half an &amp; behind
    return cut + "…"


@dataclass(frozen=True)
class _Run:
    """Words of one style inside a rich_text line: ours or external, shown exactly as typed."""

    text: str
    style: str = ""  # "", "bold" or "italic"

    def element(self) -> _Element:
        style = {"bold": _BOLD, "italic": _ITALIC}.get(self.style)
        return _Element(text=self.text, style=style) if style else _Element(text=self.text)


@dataclass(frozen=True)
class _Unit:
    """One line (a finding, a problem...) or one item of an inline list, as styled runs."""

    runs: tuple[_Run, ...]

    @property
    def plain(self) -> str:
        return "".join(r.text for r in self.runs)

    def clipped(self, limit: int) -> _Unit:
        if len(self.plain) <= limit:
            return self
        runs: list[_Run] = []
        room = limit - 1
        for run in self.runs:
            if len(run.text) >= room:
                runs.append(_Run(run.text[:room] + "…", run.style))
                break
            runs.append(run)
            room -= len(run.text)
        return _Unit(tuple(r for r in runs if r.text))


def _finding_unit(decision: Decision, report: Report, many_sources: bool) -> _Unit:
    r = decision.resource
    runs = [_Run("• ")]
    if many_sources:
        runs.append(_Run(f"[{_clip(r.source, _FIELD_MAX)}] "))
    runs.append(_Run(_clip(r.name, _NAME_MAX) or "(no name)", "bold"))
    runs.append(_Run(" — "))
    owner = _clip(r.owner or "", _FIELD_MAX)
    runs.append(_Run(owner) if owner else _Run("no owner", "italic"))
    rest = [_plural(r.running, "VM")]
    if r.region:
        rest.append(_clip(r.region, _FIELD_MAX))
    rest += _timing(decision, report)
    runs.append(_Run(" — " + " — ".join(rest)))
    return _Unit(tuple(runs))


def _exempt_unit(decision: Decision, report: Report) -> _Unit:
    r = decision.resource
    owner = _clip(r.owner or "", _FIELD_MAX) or "no owner"
    why = _clip(_exempt_why(decision, report), _FIELD_MAX)  # own hours can be many clauses
    details = f" ({owner}, {_plural(r.running, 'VM')}, {why})"
    return _Unit((_Run(_clip(r.name, _NAME_MAX) or "(no name)", "bold"), _Run(details)))


def _problem_unit(problem: Problem) -> _Unit:
    return _Unit(
        (
            _Run("• "),
            _Run(_clip(problem.name, _NAME_MAX) or "(no name)", "bold"),
            _Run(f" ({_clip(problem.source, _FIELD_MAX)}): {_clip(problem.message, _MESSAGE_MAX)}"),
        )
    )


def _failure_unit(failure: SourceFailure) -> _Unit:
    text = (
        f"• source '{_clip(failure.source, _FIELD_MAX)}' failed: "
        f"{_clip(failure.message, _MESSAGE_MAX)}"
    )
    return _Unit((_Run(text),))


@dataclass
class _Group:
    """Units packed into rich_text blocks; ``title`` (bold) leads the first of them; ``sep``
    joins units: a line break for lists of lines, `` · `` for an inline list."""

    title: str | None
    units: list[_Unit]
    sep: str = "\n"


@dataclass
class _Fixed:
    """A block that stands alone (totals): the text it shows and its fallback line."""

    block: Block
    text: str
    plain: str


@dataclass
class _Message:
    blocks: list[Block] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    chars: int = 0
    # The block being filled: its runs, length and separator, not yet a block.
    open_runs: list[_Run] = field(default_factory=list)
    open_len: int = 0
    open_sep: str = "\n"

    @property
    def block_count(self) -> int:
        # The header block is added in _Packer.finish(), once the message count is known.
        return 1 + len(self.blocks) + (1 if self.open_runs else 0)

    def close_section(self) -> None:
        if self.open_runs:
            # Slack refuses an empty text element; cleaning may have emptied a field.
            runs = [r.element() for r in self.open_runs if r.text]
            section = RichTextSectionElement(elements=runs)
            self.blocks.append(RichTextBlock(elements=[section]))
            self.open_runs, self.open_len = [], 0


class _Packer:
    """Greedy packing of units into rich_text blocks and blocks into messages within the limits.

    Every message starts with a header (built in :meth:`finish`, once the count is known);
    the first message also carries the context line.
    """

    def __init__(
        self, header_chars: int, context: _Fixed, max_blocks: int, max_section: int, max_total: int
    ) -> None:
        self.header_chars = header_chars
        self.max_blocks = max_blocks
        self.max_section = max_section
        self.max_total = max_total
        self.messages: list[_Message] = []
        self._new_message()
        self._add_fixed_here(context)

    @property
    def current(self) -> _Message:
        return self.messages[-1]

    def _new_message(self) -> None:
        if self.messages:
            self.current.close_section()
        self.messages.append(_Message(chars=self.header_chars))

    def _fits_new_block(self, chars: int) -> bool:
        m = self.current
        return m.block_count + 1 <= self.max_blocks and m.chars + chars <= self.max_total

    def _add_fixed_here(self, item: _Fixed) -> None:
        m = self.current
        m.close_section()
        m.blocks.append(item.block)
        m.lines.append(item.plain)
        m.chars += len(item.text)

    def add_fixed(self, item: _Fixed) -> None:
        if not self._fits_new_block(len(item.text)):
            self._new_message()
        self._add_fixed_here(item)

    def add_group(self, group: _Group) -> None:
        if not group.units:
            return
        self.current.close_section()
        units = list(group.units)
        if group.title:
            first = units[0]
            lead = (
                (_Run(group.title, "bold"), _Run("\n"))
                if group.sep == "\n"
                else (_Run(group.title, "bold"),)
            )
            units[0] = _Unit((*lead, *first.runs))
        # A single unit must fit an empty block and an empty message.
        room = min(self.max_section, self.max_total - self.header_chars)
        for unit in units:
            self._add_unit(unit.clipped(room), group.sep)

    def _add_unit(self, unit: _Unit, sep: str) -> None:
        m = self.current
        size = len(unit.plain)
        if (
            m.open_runs
            and m.open_len + len(sep) + size <= self.max_section
            and m.chars + len(sep) + size <= self.max_total
        ):
            m.open_runs += [_Run(sep), *unit.runs]
            m.open_len += len(sep) + size
            m.chars += len(sep) + size
            if sep == "\n":
                m.lines.append(unit.plain)
            else:
                m.lines[-1] += sep + unit.plain
        else:
            m.close_section()
            if not self._fits_new_block(size):
                self._new_message()
                m = self.current
            m.open_runs, m.open_len, m.open_sep = list(unit.runs), size, sep
            m.chars += size
            m.lines.append(unit.plain)

    def finish(self, headline: str) -> list[dict[str, Any]]:
        self.current.close_section()
        total = len(self.messages)
        out = []
        for i, m in enumerate(self.messages, 1):
            head = headline if total == 1 else f"{headline} ({i}/{total})"
            head = head[:_HEADER_MAX]
            blocks = [HeaderBlock(text=PlainTextObject(text=head, emoji=True)), *m.blocks]
            text = _clip_escaped(_slack_escape("\n".join([head, *m.lines])), _TEXT_MAX)
            out.append({"text": text, "blocks": [b.to_dict() for b in blocks], **_PLAIN_MESSAGE})
        return out


def render_slack(
    report: Report,
    *,
    max_blocks: int = 50,
    max_section_chars: int = 3000,
    max_message_chars: int = 12_000,
) -> list[dict[str, Any]]:
    """The Slack messages for ``report``, in order: normally exactly one.

    Each is ``{"text": <plain fallback>, "blocks": [...]}``; continuation messages are
    labelled ``(2/3)`` in their header.
    """
    if max_blocks < 3 or max_section_chars < 100 or max_message_chars < 300:
        raise ValueError("Slack limits too small to lay out a message")
    headline = _headline(report)
    # Room for the " (12/34)" label added when the report needs several messages.
    header_chars = min(_HEADER_MAX, len(headline) + len(" (999/999)"))

    # Context and totals are our own words and numbers only: mrkdwn is safe there.
    context_parts = [_stamp(report), _checked(report)]
    if report.problems:
        context_parts.append(_plural(len(report.problems), "problem"))
    context_text = " · ".join(context_parts)
    context = _Fixed(
        ContextBlock(elements=[MarkdownTextObject(text=context_text)]), context_text, context_text
    )

    packer = _Packer(header_chars, context, max_blocks, max_section_chars, max_message_chars)
    many = _many_sources(report)
    packer.add_group(_Group(None, [_finding_unit(d, report, many) for d in report.findings]))
    if report.findings:
        totals = f"*Total:* {_plural(len(report.findings), 'lab')} · " + _plural(
            report.running_vms, "running VM"
        )
        cost = _cost_total(report)
        if cost:
            totals += f" · {cost}"
        block = ContextBlock(elements=[MarkdownTextObject(text=totals)])
        packer.add_fixed(_Fixed(block, totals, totals.replace("*", "")))
    exempt = [_exempt_unit(d, report) for d in report.exempt]
    packer.add_group(_Group(f"{_exempt_title(report)}: ", exempt, sep=" · "))
    failures = [_failure_unit(f) for f in report.failures]
    packer.add_group(_Group("⚠ Sources that could not be read", failures))
    problems = [_problem_unit(p) for p in report.problems]
    packer.add_group(_Group("Problems", problems))
    return packer.finish(headline)
