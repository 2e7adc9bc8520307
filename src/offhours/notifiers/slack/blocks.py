"""The report as Slack Block Kit messages (pure): what the Slack notifiers post.

``render_slack`` returns the messages to post, in order, each ``{"text", "blocks"}`` (with
``mrkdwn``, ``unfurl_links`` and ``unfurl_media`` off). ``slack_messages`` lays out the same
messages but builds each only when it is reached, so a notifier holds one message at a time
(a large report runs to dozens: all of them at once, as Block Kit objects and as dicts, were
most of a run's peak memory).

External text (names, owners, regions, tags, problems, server messages) goes only into
``rich_text`` text elements, which Slack shows as typed: no ``*bold*``, ``_italic_``,
``~strike~``, backticks, ``<url|label>``, ``<!channel>``/``@here`` or auto-linked URLs. Our own
words use mrkdwn in header/context blocks that hold no external text. The ``text`` fallback
(notifications) is plain words with ``& < >`` escaped, so no link or mention form survives there
either, and ``mrkdwn: false`` keeps it from being formatted. One message unless Slack's limits
force more (50 blocks, 3,000 characters per block of lines, a conservative total per message:
Slack refuses very long block text with ``msg_blocks_too_long``).

Above ``rollup_above`` findings (:data:`ROLLUP_ABOVE` by default; 0: never) the findings roll
up: one section per owner, or per group when they carry groups (:func:`offhours.report.rollups`),
each with its count, cost and top lines, so 2,000 findings are one message, not 19; any other
list longer than that shows its first lines and "+N more".

With incident memory, its warnings come first (a failed store, a run that may not have
delivered), each finding is marked new or still running, and after the totals come what is not
repeated (our words: a context line) and the resolved incidents (names: rich_text).

Only ``slack_sdk.models.blocks`` is imported: never the package root, which loads the Web API
client and asyncio.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


def _import_skipping_package_init(package: str, module: str) -> None:
    """Import ``module`` without running ``package``'s ``__init__`` when nothing has yet.

    slack_sdk's ``__init__`` loads the Web API and webhook clients, and asyncio with them:
    about 100 ms of every cold start, for classes offhours never uses. The package stands in
    bare while ``module`` loads, and is taken out again, so a later ``import slack_sdk`` runs
    its ``__init__`` as usual (and finds the modules loaded here)."""
    if package in sys.modules or module in sys.modules:
        return
    spec = importlib.util.find_spec(package)
    if spec is None:  # not installed: the ordinary import below says so
        return
    sys.modules[package] = importlib.util.module_from_spec(spec)
    try:
        importlib.import_module(module)
    finally:
        del sys.modules[package]


_import_skipping_package_init("slack_sdk", "slack_sdk.models.blocks")

from slack_sdk.models.blocks import (  # noqa: E402 - after the lean import above
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextSectionElement,
)

from offhours.incidents import Incident  # noqa: E402
from offhours.model import Action, Decision, Finding, SourceFailure  # noqa: E402
from offhours.report import (  # noqa: E402
    Problem,
    Report,
    Rollup,
    action_text,
    checked,
    cost_total,
    exempt_title,
    exempt_why,
    group_sections,
    grouped,
    headline,
    incident_mark,
    many_sources,
    memory_notices,
    owner_costs,
    plural,
    quiet_text,
    resolved_text,
    resolved_title,
    rollup_by,
    rollup_title,
    rollups,
    stamp,
    timing,
    unmatched_actions,
    vm_names,
)
from offhours.untrusted import one_line as _one_line  # noqa: E402

__all__ = ["ROLLUP_ABOVE", "SlackMessages", "render_slack", "slack_messages"]

# Slack's documented limits; the per-message total is our own conservative bound.
_HEADER_MAX = 150
_TEXT_MAX = 40_000
# User data is clipped before escaping so that one absurd name cannot fill a section.
_NAME_MAX = 120
_FIELD_MAX = 80
_MESSAGE_MAX = 500
#: VM names a finding's line shows (the rest as "+N more")
_VM_NAMES = 5

#: Above this many findings a message rolls up per owner (or group): 1,000 lines would be
#: about 11 messages, 2,000 about 19. 0: never.
ROLLUP_ABOVE = 1000
#: per owner or group in a rollup: the findings shown in full; owners or groups shown (the rest
#: summed in one line); and the lines of any other list longer than the threshold
_ROLLUP_TOP = 3
_ROLLUP_SECTIONS = 15
_ROLLUP_LIST = 10

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


@dataclass(frozen=True, slots=True)
class _Run:
    """Words of one style inside a rich_text line: ours or external, shown exactly as typed."""

    text: str
    style: str = ""  # "", "bold" or "italic"

    def element(self) -> _Element:
        style = {"bold": _BOLD, "italic": _ITALIC}.get(self.style)
        return _Element(text=self.text, style=style) if style else _Element(text=self.text)


# Runs every line repeats, made once: a large report has tens of thousands of lines.
_BULLET = _Run("• ")
_DASH = _Run(" — ")
_SEPARATORS = {sep: _Run(sep) for sep in ("\n", " · ")}


@dataclass(frozen=True, slots=True)
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


def _finding_unit(finding: Finding, report: Report, many: bool) -> _Unit:
    r = finding.resource
    runs = [_BULLET]
    mark = incident_mark(finding, report)
    if mark is not None:
        runs.append(_Run(f"{mark[0]}: ", "bold"))
    if many:
        runs.append(_Run(f"[{_clip(r.source, _FIELD_MAX)}] "))
    runs.append(_Run(_clip(r.name, _NAME_MAX) or "(no name)", "bold"))
    runs.append(_DASH)
    owner = _clip(r.owner or "", _FIELD_MAX)
    runs.append(_Run(owner) if owner else _Run("no owner", "italic"))
    rest = [r.kind.count_units(r.running)]
    names = vm_names(r, _VM_NAMES, _FIELD_MAX)
    if names:
        rest[0] += f": {names}"
    if r.region:
        rest.append(_clip(r.region, _FIELD_MAX))
    if r.size:
        rest.append(_clip(r.size, _FIELD_MAX))
    rest += timing(finding, report)
    if mark is not None and mark[1]:
        rest.append(mark[1])
    runs.append(_Run(" — " + " — ".join(rest)))
    return _Unit(tuple(runs))


def _resolved_unit(incident: Incident, report: Report) -> _Unit:
    owner = _clip(incident.owner or "", _FIELD_MAX)
    return _Unit(
        (
            _BULLET,
            _Run(_clip(incident.name, _NAME_MAX) or "(no name)", "bold"),
            _DASH,
            _Run(owner) if owner else _Run("no owner", "italic"),
            _Run(" — " + _clip(resolved_text(incident, report), _MESSAGE_MAX)),
        )
    )


def _exempt_unit(decision: Decision, report: Report) -> _Unit:
    r = decision.resource
    owner = _clip(r.owner or "", _FIELD_MAX) or "no owner"
    why = _clip(exempt_why(decision, report), _FIELD_MAX)  # own hours can be many clauses
    details = f" ({owner}, {r.kind.count_units(r.running)}, {why})"
    return _Unit((_Run(_clip(r.name, _NAME_MAX) or "(no name)", "bold"), _Run(details)))


def _action_unit(action: Action, report: Report) -> _Unit:
    name = _Run(_clip(action.name, _NAME_MAX) or "(no name)", "bold")
    return _Unit((_BULLET, name, _Run(f": {action_text(action, report)}")))


def _problem_unit(problem: Problem) -> _Unit:
    return _Unit(
        (
            _BULLET,
            _Run(_clip(problem.name, _NAME_MAX) or "(no name)", "bold"),
            _Run(f" ({_clip(problem.source, _FIELD_MAX)}): {_clip(problem.message, _MESSAGE_MAX)}"),
        )
    )


def _more_unit(n: int, what: str) -> _Unit:
    return _Unit((_Run(f"+{n} more {what}".rstrip(), "italic"),))


def _capped(units: Iterable[_Unit], total: int, rollup_above: int, what: str) -> Iterator[_Unit]:
    """``units``, or only the first few and ``+N more`` when there are more than
    ``rollup_above`` (0: never cut)."""
    if not rollup_above or total <= rollup_above:
        yield from units
        return
    for i, unit in enumerate(units):
        if i == _ROLLUP_LIST:
            break
        yield unit
    yield _more_unit(total - _ROLLUP_LIST, what)


def _rollup_groups(report: Report, many: bool) -> Iterator[_Group]:
    """The findings per owner (or group): each with its count, cost and top lines; past
    ``_ROLLUP_SECTIONS`` owners, one line sums up the rest."""
    by = rollup_by(report)
    sections = rollups(report, _ROLLUP_TOP)
    for section in sections[:_ROLLUP_SECTIONS]:
        label = _clip(section.label, _NAME_MAX) or "(no owner)"
        units = [_finding_unit(f, report, many) for f in section.top]
        hidden = len(section.findings) - len(section.top)
        if hidden:
            units.append(_more_unit(hidden, ""))
        yield _Group(f"{label} — {rollup_title(section)}", units)
    rest = sections[_ROLLUP_SECTIONS:]
    if rest:
        summed = Rollup.of("", [f for r in rest for f in r.findings], report, 0)
        text = f"+{len(rest)} more {by}s: {rollup_title(summed)}"
        yield _Group(None, [_Unit((_Run(text, "italic"),))])


def _failure_unit(failure: SourceFailure) -> _Unit:
    text = (
        f"• source '{_clip(failure.source, _FIELD_MAX)}' failed: "
        f"{_clip(failure.message, _MESSAGE_MAX)}"
    )
    return _Unit((_Run(text),))


@dataclass
class _Group:
    """Units packed into rich_text blocks; ``title`` (bold) leads the first of them; ``sep``
    joins units: a line break for lists of lines, `` · `` for an inline list. ``units`` is
    read once, as it is packed: a generator keeps only one unit alive at a time."""

    title: str | None
    units: Iterable[_Unit]
    sep: str = "\n"


@dataclass
class _Fixed:
    """A block that stands alone (totals): the text it shows and its fallback line."""

    block: Block
    text: str
    plain: str


def _section_block(runs: list[_Run]) -> RichTextBlock:
    # Slack refuses an empty text element; cleaning may have emptied a field.
    elements = [r.element() for r in runs if r.text]
    return RichTextBlock(elements=[RichTextSectionElement(elements=elements)])


@dataclass
class _Message:
    """One message as laid out: its blocks stay runs (a fixed block stays what it is) until
    :meth:`to_dict` builds them, so only the message being sent exists as Block Kit."""

    blocks: list[Block | list[_Run]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    chars: int = 0
    # The block being filled: its runs, length and separator, not yet a block.
    open_runs: list[_Run] = field(default_factory=list)
    open_len: int = 0

    @property
    def block_count(self) -> int:
        # The header block is added in _Packer.finish(), once the message count is known.
        return 1 + len(self.blocks) + (1 if self.open_runs else 0)

    def close_section(self) -> None:
        if self.open_runs:
            self.blocks.append(self.open_runs)
            self.open_runs, self.open_len = [], 0

    def to_dict(self, head: str) -> dict[str, Any]:
        """The message to post, under the header ``head``."""
        blocks = [HeaderBlock(text=PlainTextObject(text=head, emoji=True)).to_dict()]
        for b in self.blocks:
            blocks.append((_section_block(b) if isinstance(b, list) else b).to_dict())
        text = _clip_escaped(_slack_escape("\n".join([head, *self.lines])), _TEXT_MAX)
        return {"text": text, "blocks": blocks, **_PLAIN_MESSAGE}


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
        # A single unit must fit an empty block and an empty message.
        room = min(self.max_section, self.max_total - self.header_chars)
        lead: tuple[_Run, ...] = ()
        if group.title:
            lead = (
                (_Run(group.title, "bold"), _Run("\n"))
                if group.sep == "\n"
                else (_Run(group.title, "bold"),)
            )
        first = True
        for unit in group.units:
            if first:
                self.current.close_section()
                unit = _Unit((*lead, *unit.runs)) if lead else unit
                first = False
            self._add_unit(unit.clipped(room), group.sep)

    def _add_unit(self, unit: _Unit, sep: str) -> None:
        m = self.current
        size = len(unit.plain)
        if (
            m.open_runs
            and m.open_len + len(sep) + size <= self.max_section
            and m.chars + len(sep) + size <= self.max_total
        ):
            m.open_runs += [_SEPARATORS.get(sep) or _Run(sep), *unit.runs]
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
            m.open_runs, m.open_len = list(unit.runs), size
            m.chars += size
            m.lines.append(unit.plain)

    def finish(self, headline: str) -> SlackMessages:
        self.current.close_section()
        return SlackMessages(headline, self.messages)


class SlackMessages:
    """The messages of one report, laid out: ``total`` is known, and iterating builds each
    message's dict only when it is reached (a message already handed out is not kept)."""

    def __init__(self, headline: str, messages: list[_Message]) -> None:
        self._headline = headline
        self._messages = messages

    @property
    def total(self) -> int:
        return len(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        total = len(self._messages)
        for i, m in enumerate(self._messages, 1):
            head = self._headline if total == 1 else f"{self._headline} ({i}/{total})"
            yield m.to_dict(head[:_HEADER_MAX])


def render_slack(
    report: Report,
    *,
    max_blocks: int = 50,
    max_section_chars: int = 3000,
    max_message_chars: int = 12_000,
    rollup_above: int = ROLLUP_ABOVE,
) -> list[dict[str, Any]]:
    """The Slack messages for ``report``, in order: normally exactly one.

    Each is ``{"text": <plain fallback>, "blocks": [...]}``; continuation messages are
    labelled ``(2/3)`` in their header. Above ``rollup_above`` findings (0: never), they are
    rolled up per owner, or per group when the findings carry groups.
    """
    return list(
        slack_messages(
            report,
            max_blocks=max_blocks,
            max_section_chars=max_section_chars,
            max_message_chars=max_message_chars,
            rollup_above=rollup_above,
        )
    )


def slack_messages(
    report: Report,
    *,
    max_blocks: int = 50,
    max_section_chars: int = 3000,
    max_message_chars: int = 12_000,
    rollup_above: int = ROLLUP_ABOVE,
) -> SlackMessages:
    """What :func:`render_slack` returns, laid out but not yet built: iterate to build each
    message in turn (what a notifier posting one message at a time wants)."""
    if max_blocks < 3 or max_section_chars < 100 or max_message_chars < 300:
        raise ValueError("Slack limits too small to lay out a message")
    head = headline(report)
    # Room for the " (12/34)" label added when the report needs several messages.
    header_chars = min(_HEADER_MAX, len(head) + len(" (999/999)"))

    # Context and totals are our own words and numbers only: mrkdwn is safe there.
    context_parts = [stamp(report), checked(report)]
    if report.problems:
        context_parts.append(plural(len(report.problems), "problem"))
    context_text = " · ".join(context_parts)
    context = _Fixed(
        ContextBlock(elements=[MarkdownTextObject(text=context_text)]), context_text, context_text
    )

    packer = _Packer(header_chars, context, max_blocks, max_section_chars, max_message_chars)
    # Memory's warnings may quote a store's path or a run id: rich_text, like every datum.
    notices = (_Unit((_Run(_clip(n, _MESSAGE_MAX)),)) for n in memory_notices(report))
    packer.add_group(_Group(None, notices))
    many = many_sources(report)
    rolled = bool(rollup_above) and len(report.findings) > rollup_above
    if rolled:
        for group in _rollup_groups(report, many):
            packer.add_group(group)
    elif grouped(report):
        # Grouped by project: each group's title (its name is external text, so it goes into
        # rich_text like every name) carries its count and cost.
        for label, found, title in group_sections(report):
            head = f"{_clip(label, _NAME_MAX)} — {title}"
            packer.add_group(_Group(head, (_finding_unit(f, report, many) for f in found)))
    else:
        packer.add_group(_Group(None, (_finding_unit(d, report, many) for d in report.findings)))
    if report.findings:
        kind = report.kind
        totals = f"*Total:* {kind.count(len(report.findings))} · " + kind.count_units(
            report.running_vms, "running"
        )
        cost = cost_total(report)
        if cost:
            totals += f" · {cost}"
        block = ContextBlock(elements=[MarkdownTextObject(text=totals)])
        packer.add_fixed(_Fixed(block, totals, totals.replace("*", "")))
    if rolled:
        # Our words and numbers only: mrkdwn is safe.
        by = rollup_by(report)
        note = (
            f"Rolled up by {by}: {report.kind.count(len(report.findings))} is more than the "
            f"notifier's rollup_above ({rollup_above:,}); each {by}'s {_ROLLUP_TOP} costliest "
            "or longest-running shown; the text and JSON reports list every one"
        )
        block = ContextBlock(elements=[MarkdownTextObject(text=note)])
        packer.add_fixed(_Fixed(block, note, note))
    quiet = quiet_text(report)
    if quiet:
        # Our words and numbers only: mrkdwn is safe (the command shows as code).
        block = ContextBlock(elements=[MarkdownTextObject(text=quiet)])
        packer.add_fixed(_Fixed(block, quiet, quiet.replace("`", "")))
    memory = report.memory
    told = memory.resolved if memory else ()
    resolved = _capped((_resolved_unit(i, report) for i in told), len(told), rollup_above, "")
    packer.add_group(_Group(resolved_title(report), resolved))
    if not (rolled and rollup_by(report) == "owner"):  # else the sections are the owners
        costs = owner_costs(report)
        owners = _capped(
            (_Unit((_Run(_clip(o, _FIELD_MAX)), _Run(f" {c}"))) for o, c in costs),
            len(costs),
            rollup_above,
            "owners",
        )
        packer.add_group(_Group("By owner: ", owners, sep=" · "))
    extra = unmatched_actions(report)
    actions = (_action_unit(a, report) for a in extra)
    packer.add_group(_Group("Actions", _capped(actions, len(extra), rollup_above, "actions")))
    exempt = _capped(
        (_exempt_unit(d, report) for d in report.exempt), len(report.exempt), rollup_above, ""
    )
    packer.add_group(_Group(f"{exempt_title(report)}: ", exempt, sep=" · "))
    failures = (_failure_unit(f) for f in report.failures)
    packer.add_group(_Group("⚠ Sources that could not be read", failures))
    problems = _capped(
        (_problem_unit(p) for p in report.problems), len(report.problems), rollup_above, ""
    )
    packer.add_group(_Group("Problems", problems))
    notes = (_Unit((_Run(_clip(n, _MESSAGE_MAX)),)) for n in report.notes)
    packer.add_group(_Group("Notes", notes))
    return packer.finish(head)
