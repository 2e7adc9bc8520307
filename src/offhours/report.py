"""Decisions → one channel-neutral :class:`Report` → console text or JSON (all pure).

Each channel renders the report its own way beside its notifier (Slack's Block Kit lives in
:mod:`offhours.notifiers.slack.blocks`); the wording they share (headline, timing, totals) is
here, and the words for a resource ("lab", "VM") come from its :class:`~offhours.model.Kind`.
This module imports no vendor SDK.

JSON schema (``render_json``, ``version`` 1; times are ISO-8601 with offset, absent ones null)::

    {
      "version": 1,
      "generated_at": "2026-11-26T22:00:00+00:00",
      "status": "success" | "partial" | "error",   # error: no source could be read
      "sources": ["ravello"],                      # names audited
      "totals": {"checked": 12, "findings": 3, "running_vms": 7,   # units: VMs, instances…
                 "hourly_cost": 4.2 | null,        # sum over findings with a known cost
                 "failures": 0, "problems": 1},
      "findings": [{                               # sorted by source, owner, group, name
        "source", "provider", "kind", "account", "key", "id", "name", "owner", "region",
        "running", "group", "stopped", "errored", "running_since", "expires_at", "hourly_cost",
        "tags": {…}, "vms": [{"id", "name", "state"}],
        "reason", "schedule", "off_hours_since", "exempt_until", "problems": ["…"]}],
      "exempt": [{                                 # running, kept out of the findings
        "source", "provider", "kind", "account", "key", "id", "name", "owner", "region",
        "running",
        "by": "exemption" | "always" | "schedule",  # schedule: own hours, default closed
        "exempt_until", "reason"}],
      "problems": [{"source", "id", "name", "problem"}],   # from every decision, flagged or not
      "failures": [{"source", "message"}],       # a failed source, or part of one
      "cost_by_group": {"<group>": {"count", "priced", "hourly_cost", "cost_so_far",
                                     "cost_so_far_at_least"}},
      "cost_by_owner": {"<owner or empty>": {…the same…}},
      "actions": [{"source", "key", "name", "verb", "outcome", "detail", "call", "at"}],
      "notes": ["…"],                              # e.g. the price table's date
      "memory": null | {                           # incident memory (null: none this run)
        "store", "run_id",                         # the store, as safe to show; this run's id
        "deduplicated": true,                      # false: the store failed, all findings told
        "problem": null | "…", "skipped": null | "…",   # why nothing was sent (a retry)
        "gaps": ["<run id>"],                      # runs that may not have delivered
        "new": ["<resource key>"], "reminders": ["<resource key>"],   # the told findings
        "quiet": 3, "snoozed": 1,                  # open incidents not repeated
        "quiet_cost": {"count", "priced", "hourly_cost", "cost_so_far", "cost_so_far_at_least"},
        "resolved": [{"key", "resource_key", "name", "owner", "group", "source", "kind",
                      "opened_at", "resolved_at",
                      "resolution": "stopped" | "gone" | "exempt" | "hours" | "by hand",
                      "still_running", "running_hours", "hourly_cost", "cost_so_far",
                      "cost_so_far_at_least", "action", "reminders",
                      "note"}]}                    # note: why it was resolved by hand
    }

With memory, ``findings`` (and ``totals``, ``cost_by_*``) are the findings told this run (new,
or due a reminder); each finding has ``incident``: null (no memory, or not marked) or
``{"status": "new" | "reminder", "opened_at"}``.

Each finding also has ``size``, ``price_note`` (why ``hourly_cost`` is null when the source
prices: shown as "price unknown"), ``since_at_least`` (``running_since`` is a lower bound),
``first_seen``, ``cost_so_far`` (this off-hours period; null when the price or the start is
unknown) with ``cost_so_far_at_least``, and ``action`` (what a source did to it, or null);
``totals`` has ``cost_so_far`` and ``cost_so_far_at_least``. ``outcome`` is ``done``,
``would`` (a dry run), ``refused`` or ``failed``.

``offhours audit --format json`` adds ``receipts`` once delivery is over, one per notifier that
delivers elsewhere than stdout: ``{"notifier", "type", "sent", "planned", "dry_run",
"error": null | "…", "messages": [{"index", "id", "timestamp"}]}`` (:func:`receipt_json`).

``totals`` also counts ``exempt``. Strings are the data exactly as the sources gave it; control,
format (bidi, zero-width) and lone surrogate characters are ``\\uXXXX``-escaped so that the
document is safe to print and reads back to the same text. Money has at most 4 decimals, hours
2 (:mod:`offhours.amounts`).

External text (names, owners, regions, tags, problems, server messages) is data everywhere:

* text report: cleaned by :func:`offhours.untrusted.one_line` (no control, bidi or zero-width
  characters; one line per field).

Every channel's renderer treats it the same way (see its module).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal

from offhours.amounts import rounded
from offhours.incidents import Incident, Recall
from offhours.model import (
    GENERIC,
    Action,
    Decision,
    Finding,
    Kind,
    Receipt,
    Resource,
    SourceFailure,
)
from offhours.untrusted import escape_json
from offhours.untrusted import one_line as _one_line

__all__ = [
    "JSON_VERSION",
    "UNGROUPED",
    "Cost",
    "Problem",
    "Report",
    "Rollup",
    "action_json",
    "action_text",
    "build_report",
    "checked",
    "cost_phrase",
    "cost_total",
    "exempt_title",
    "exempt_why",
    "group_sections",
    "grouped",
    "headline",
    "incident_mark",
    "many_sources",
    "memory_notices",
    "natural",
    "owner_costs",
    "plural",
    "quiet_text",
    "receipt_json",
    "render_json",
    "render_text",
    "resolved_text",
    "resolved_title",
    "rollup_by",
    "rollup_title",
    "rollups",
    "so_far",
    "stamp",
    "timing",
    "unmatched_actions",
    "vm_names",
]

JSON_VERSION = 1


@dataclass(frozen=True)
class Problem:
    """Something wrong on one resource's configuration (e.g. a malformed tag)."""

    source: str
    id: str
    name: str
    message: str


_DIGITS = re.compile(r"(\d+)")
#: a name in natural order: text and numbers alternate, so lab-2 sorts before lab-10
Natural = tuple[tuple[int, str], ...]


def natural(text: str) -> Natural:
    """``text``'s natural sort key, case-insensitive: ``lab-2`` before ``lab-10``."""
    return tuple(
        (1, part.zfill(40)) if i % 2 else (0, part)
        for i, part in enumerate(_DIGITS.split(text.casefold()))
    )


def _sort_key(decision: Decision) -> tuple[str, Natural, Natural, Natural, str]:
    r = decision.resource
    group = r.group if r.group is not None else r.name
    return (r.source, natural(r.owner or ""), natural(group), natural(r.name), r.id)


def so_far(finding: Finding) -> tuple[float | None, bool]:
    """The estimated cost of ``finding`` over this off-hours period, up to its instant: the
    hourly price × the time since it started or since the hours closed, whichever is later.
    ``None`` when either the price or the start is unknown (never a guess); the flag is true
    when the start is only a lower bound, so the figure is too ("at least")."""
    r = finding.resource
    if r.hourly_cost is None or r.running_since is None:
        return None, False
    since = r.running_since if r.running_since.tzinfo else r.running_since.replace(tzinfo=UTC)
    closed = finding.decision.off_hours_since
    start = max(since, closed) if closed is not None else since
    hours = max(0.0, (finding.at - start).total_seconds() / 3600)
    value = r.hourly_cost * hours
    return (value if math.isfinite(value) else None), r.since_at_least


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of some findings: ``hourly`` and ``so_far`` sum the known figures (``None``
    when none is known), ``priced`` and ``counted`` say how many were known of ``count``;
    ``at_least`` marks a so-far figure that is a lower bound."""

    count: int = 0
    priced: int = 0
    hourly: float | None = None
    counted: int = 0
    so_far: float | None = None
    at_least: bool = False

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> Cost:
        count = priced = counted = 0
        hourly = spent = 0.0
        at_least = False
        for f in findings:
            count += 1
            if f.resource.hourly_cost is not None:
                priced += 1
                hourly += f.resource.hourly_cost
            value, lower = so_far(f)
            if value is not None:
                counted += 1
                spent += value
                at_least = at_least or lower
        return cls(
            count,
            priced,
            hourly if priced else None,
            counted,
            spent if counted else None,
            at_least or counted < priced,
        )


def _costs_by(findings: Sequence[Finding], key: Callable[[Finding], str]) -> dict[str, Cost]:
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(key(f), []).append(f)
    return {k: Cost.of(fs) for k, fs in grouped.items()}


@dataclass(frozen=True)
class Report:
    """Everything one run found: every decision, the sources that failed, the names audited.

    The derived fields are computed once, when the report is built:

    * ``flagged``: flagged decisions as :class:`~offhours.model.Finding` s, sorted by source,
      owner, group, name (so that a group's findings stay together);
    * ``findings``: the flagged ones this run tells: all of them without ``memory`` (or when
      the store failed), else only those memory marks new or due a reminder; ``quiet_cost``
      is the cost of the others (still running, told before, or snoozed);
    * ``exempt``: running resources an exemption, an ``always`` schedule or their own hours
      (open while the default hours are closed) keep out of the findings, sorted likewise:
      listed so that they never vanish from the report;
    * ``problems``: the problems of every decision, flagged or not, in report order;
    * ``running_vms``: the units (VMs, instances…) billing in the findings;
    * ``hourly_cost``: the sum over findings whose cost is known; ``None`` when none is;
    * ``kind``: the findings' kind when they share one, else the generic kind (its words);
    * ``cost``, ``cost_by_group``, ``cost_by_owner`` (owner ``""``: none): hourly and so far,
      over all findings and per group and owner (see :class:`Cost`);
    * ``actions_by_key``: what a source did to each resource (the last action on it).
    """

    generated_at: datetime
    decisions: tuple[Decision, ...]
    failures: tuple[SourceFailure, ...] = ()
    sources: tuple[str, ...] = ()
    #: what sources did to findings (or would, in a dry run), in the order they did it
    actions: tuple[Action, ...] = ()
    #: lines stated once (a price table's date, regions skipped and why)
    notes: tuple[str, ...] = ()
    #: what incident memory says this run (``None``: no memory, every finding is told)
    memory: Recall | None = None
    # Computed once in __post_init__ (a report is read by several renderers), not per access.
    findings: tuple[Finding, ...] = field(init=False, repr=False, compare=False)
    flagged: tuple[Finding, ...] = field(init=False, repr=False, compare=False)
    quiet_cost: Cost = field(init=False, repr=False, compare=False)
    exempt: tuple[Decision, ...] = field(init=False, repr=False, compare=False)
    problems: tuple[Problem, ...] = field(init=False, repr=False, compare=False)
    running_vms: int = field(init=False, repr=False, compare=False)
    hourly_cost: float | None = field(init=False, repr=False, compare=False)
    kind: Kind = field(init=False, repr=False, compare=False)
    cost: Cost = field(init=False, repr=False, compare=False)
    cost_by_group: dict[str, Cost] = field(init=False, repr=False, compare=False)
    cost_by_owner: dict[str, Cost] = field(init=False, repr=False, compare=False)
    actions_by_key: dict[str, Action] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = sorted(self.decisions, key=_sort_key)
        flagged = tuple(Finding.of(d, self.generated_at) for d in ordered if d.flagged)
        memory = self.memory
        if memory is not None and memory.told:
            # When memory first saw it: what a source that gives no start time can only say.
            first = {k: i.opened_at for k, i in memory.told.items()}
            flagged = tuple(
                replace(f, first_seen=first[f.resource.key]) if f.resource.key in first else f
                for f in flagged
            )
        findings: tuple[Finding, ...] = flagged
        quiet: tuple[Finding, ...] = ()
        if memory is not None and memory.deduplicated:
            # Memory tells only what is new or due a reminder; the rest was told before.
            findings = tuple(f for f in flagged if f.resource.key in memory.status)
            quiet = tuple(f for f in flagged if f.resource.key not in memory.status)
        cost = Cost.of(findings)
        kinds = {f.resource.kind for f in findings}
        derived: dict[str, object] = {
            "findings": findings,
            "flagged": flagged,
            "quiet_cost": Cost.of(quiet),
            "exempt": tuple(d for d in ordered if d.exempt_by and d.resource.is_running),
            "problems": tuple(
                Problem(d.resource.source, d.resource.id, d.resource.name, p)
                for d in ordered
                for p in d.problems
            ),
            "running_vms": sum(f.resource.running for f in findings),
            "hourly_cost": cost.hourly,
            "kind": kinds.pop() if len(kinds) == 1 else GENERIC,
            "cost": cost,
            "cost_by_group": _costs_by(findings, lambda f: f.group),
            "cost_by_owner": _costs_by(findings, lambda f: f.resource.owner or ""),
            # The last action on a resource is what became of it (a restore after a stop).
            "actions_by_key": {a.key: a for a in self.actions},
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @property
    def groups(self) -> dict[str, tuple[Finding, ...]]:
        """The findings by their group, in report order."""
        grouped: dict[str, list[Finding]] = {}
        for f in self.findings:
            grouped.setdefault(f.group, []).append(f)
        return {g: tuple(fs) for g, fs in grouped.items()}

    @property
    def ok(self) -> bool:
        """Every source could be read."""
        return not self.failures

    @property
    def failed_sources(self) -> set[str]:
        """The sources that failed as a whole (not one region or account of theirs)."""
        return {f.source for f in self.failures} & set(self.sources)

    @property
    def status(self) -> Literal["success", "partial", "error"]:
        """What reading came to: ``success`` (every source read), ``partial`` (a source, or
        a part of one, failed), ``error`` (no source could be read: "nothing running" would
        be a guess). The Lambda summary's status says the same, and the CLI exits 1 for both."""
        if not self.failures:
            return "success"
        return "partial" if self.sources_read else "error"

    @property
    def sources_read(self) -> bool:
        """Whether any source was read, if only in part. Without names of sources (a report
        built by hand), any failure counts as one source lost."""
        if not self.sources:
            return not self.failures
        return len(self.failed_sources) < len(self.sources)


def build_report(
    decisions: Iterable[Decision],
    failures: Iterable[SourceFailure] = (),
    *,
    now: datetime,
    sources: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Report:
    return Report(
        generated_at=now,
        decisions=tuple(decisions),
        failures=tuple(failures),
        sources=tuple(sources),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- shared wording
# Used by every channel's renderer: our own words and numbers, no external text.


def plural(n: int, word: str) -> str:
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


def stamp(report: Report) -> str:
    local = _local(report.generated_at, _tz(report))
    return local.strftime("%Y-%m-%d %H:%M %Z").strip()


def timing(finding: Finding, report: Report) -> list[str]:
    """``running 5h12m, since 16:48``, ``auto-stops …`` (or that it did not), ``~$2.00/h``,
    ``~$10.40 so far``, what was done to it: what applies, in our own words (an action's
    detail is cleaned)."""
    decision = finding.decision
    r = decision.resource
    now = report.generated_at
    parts = []
    if r.running_since is not None:
        since = _duration(now - r.running_since)
        clock = _clock(r.running_since, report)
        if r.since_at_least:
            parts.append(f"running at least {since}, since {clock} or earlier")
        else:
            parts.append(f"running {since}, since {clock}")
    else:
        # No start time from the source: say what is known, never invent one.
        first = finding.first_seen or finding.at
        parts.append(f"running since at least {_clock(first, report)} (first seen)")
        if decision.off_hours_since is not None:
            since = _duration(now - decision.off_hours_since)
            parts.append(f"off hours for {since}, since {_clock(decision.off_hours_since, report)}")
    if r.expires_at is not None:
        parts.append(_auto_stop(r.expires_at, report))
    if r.hourly_cost is not None:
        parts.append(f"~{_money(r.hourly_cost)}/h")
        spent, at_least = so_far(finding)
        if spent is not None:
            parts.append(f"{'at least ' if at_least else ''}~{_money(spent)} so far")
    elif r.price_note is not None:
        parts.append("price unknown")
    action = report.actions_by_key.get(r.key)
    if action is not None:
        parts.append(action_text(action, report))
    return parts


def _auto_stop(expires_at: datetime, report: Report) -> str:
    """``auto-stops 23:00``; a time already passed is no promise: ``auto-stop was due at
    21:00, 1h00m ago — it did not stop`` (the resource is still running)."""
    now = report.generated_at
    if _local(expires_at, UTC) > _local(now, UTC):
        return f"auto-stops {_clock(expires_at, report)}"
    late = _duration(now - _local(expires_at, UTC))
    ago = "just now" if late == "0m" else f"{late} ago"
    return f"auto-stop was due at {_clock(expires_at, report)}, {ago} — it did not stop"


_DONE = {
    "stop": "stopped",
    "hibernate": "hibernated",
    "pause": "paused",
    "scale to 0": "scaled to 0",
    "restore": "restored",
}
_DETAIL_MAX = 300


def action_text(action: Action, report: Report) -> str:
    """``stopped by offhours at 02:00``, ``would stop (dry run)``, ``stop refused: …``; the
    detail (a reason, the provider's message) is external text, cleaned and clipped."""
    detail = _one_line(action.detail)
    if len(detail) > _DETAIL_MAX:
        detail = detail[: _DETAIL_MAX - 1] + "…"
    verb = _one_line(action.verb)
    if action.outcome == "done":
        when = f" at {_clock(action.at, report)}" if action.at is not None else ""
        text = f"{_DONE.get(action.verb, verb + ': done')} by offhours{when}"
        return f"{text} ({detail})" if detail else text
    if action.outcome == "would":
        call = _one_line(action.call)
        if len(call) > _DETAIL_MAX:
            call = call[: _DETAIL_MAX - 1] + "…"
        said = "; ".join(p for p in (call, detail) if p)
        return f"would {verb} (dry run{': ' + said if said else ''})"
    return f"{verb} {action.outcome}: {detail or 'no reason given'}"


def cost_phrase(cost: Cost) -> str | None:
    """``~$0.19/h, ~$0.95 so far (2 of 3 priced)``; ``None`` when nothing is priced."""
    if cost.hourly is None:
        return "price unknown" if cost.count else None
    text = f"~{_money(cost.hourly)}/h"
    if cost.so_far is not None:
        text += f", {'at least ' if cost.at_least else ''}~{_money(cost.so_far)} so far"
    if cost.priced < cost.count:
        text += f" ({cost.priced} of {cost.count} priced)"
    return text


def grouped(report: Report) -> bool:
    """Whether the findings have groups of their own (a project tag), not just their names:
    then the report shows them under group headings, with totals per group and owner."""
    return any(
        f.resource.group is not None and f.resource.group != f.resource.name
        for f in report.findings
    )


#: the heading of findings that carry no group (no project tag)
UNGROUPED = "(no group)"


def group_sections(report: Report) -> list[tuple[str, tuple[Finding, ...], str]]:
    """The findings under their group headings, for a grouped report: ``(label, findings,
    title)`` per group, by name, the findings without a group last. The title —
    ``2 instances — ~$0.19/h, ~$0.95 so far`` — is the section's own count and cost; the label
    is external text, the caller's to clean."""
    by_label: dict[str, list[Finding]] = {}
    for f in report.findings:
        label = UNGROUPED if f.resource.group is None else f.group
        by_label.setdefault(label, []).append(f)
    sections = []
    for label in sorted(by_label, key=lambda g: (g == UNGROUPED, natural(g))):
        found = tuple(by_label[label])
        kinds = {f.resource.kind for f in found}
        kind = kinds.pop() if len(kinds) == 1 else GENERIC
        cost = cost_phrase(Cost.of(found))
        title = " — ".join([kind.count(len(found)), *([cost] if cost else [])])
        sections.append((label, found, title))
    return sections


# ---------------------------------------------------------------- rollup
# A report too long to list line by line (a channel's own threshold): per owner, or per group
# when the findings carry groups, its count, cost and the few that matter most.


@dataclass(frozen=True, slots=True)
class Rollup:
    """One owner's (or group's) findings, summed up: ``label`` is external text (the caller
    cleans it; ``""``: no owner), ``cost`` their cost, ``new`` and ``reminders`` how many of them
    memory tells as new and as still running, ``top`` the few shown in full: the costliest so
    far, then the longest running."""

    label: str
    findings: tuple[Finding, ...]
    kind: Kind
    cost: Cost
    new: int
    reminders: int
    top: tuple[Finding, ...]

    @classmethod
    def of(cls, label: str, findings: Sequence[Finding], report: Report, top: int) -> Rollup:
        memory = report.memory
        told = [memory.status.get(f.resource.key) for f in findings] if memory else []
        kinds = {f.resource.kind for f in findings}
        return cls(
            label,
            tuple(findings),
            kinds.pop() if len(kinds) == 1 else GENERIC,
            Cost.of(findings),
            told.count("new"),
            told.count("reminder"),
            tuple(sorted(findings, key=_weight)[:top]),
        )


def _weight(finding: Finding) -> tuple[bool, float, datetime, Natural]:
    """Costliest so far first (unknown costs after), then the longest running."""
    spent, _ = so_far(finding)
    r = finding.resource
    start = r.running_since or finding.first_seen or finding.at
    return (spent is None, -(spent or 0.0), _local(start, UTC), natural(r.name))


def rollup_by(report: Report) -> str:
    """What a rolled-up report sums by: ``group`` when the findings carry groups (as the
    report's sections do), else ``owner``."""
    return "group" if grouped(report) else "owner"


def rollups(report: Report, top: int = 3) -> list[Rollup]:
    """The findings per owner (or group: :func:`rollup_by`), costliest first, then the
    largest; each with its ``top`` findings. Every finding is in exactly one."""
    by_group = rollup_by(report) == "group"
    sections: dict[str, list[Finding]] = {}
    for f in report.findings:
        if by_group:
            label = UNGROUPED if f.resource.group is None else f.group
        else:
            label = f.resource.owner or ""
        sections.setdefault(label, []).append(f)
    built = [Rollup.of(label, found, report, top) for label, found in sections.items()]
    return sorted(
        built,
        key=lambda r: (
            -(r.cost.hourly or 0.0),
            -len(r.findings),
            r.label in ("", UNGROUPED),
            natural(r.label),
        ),
    )


def rollup_title(rollup: Rollup) -> str:
    """``240 labs (12 new · 228 still running) — ~$84.00/h, ~$420.00 so far (200 of 240
    priced)``: our words and numbers only."""
    told = [
        f"{n} {word}" for n, word in ((rollup.new, "new"), (rollup.reminders, "still running")) if n
    ]
    count = rollup.kind.count(len(rollup.findings)) + (f" ({' · '.join(told)})" if told else "")
    cost = cost_phrase(rollup.cost)
    return " — ".join([count, *([cost] if cost else [])])


# ---------------------------------------------------------------- VMs

#: states in which a VM is not worth naming as such (it is what "running" means)
_RUNNING_STATES = frozenset({"started", "running"})


def vm_names(resource: Resource, limit: int, clip: int = 60) -> str | None:
    """``web, db (stopped), +3 more``: the VMs a source listed (Ravello's ``list_vms``), a
    state shown only when it is not running, at most ``limit`` names, each cleaned and clipped
    to ``clip`` characters; ``None`` when none was listed. External text, for the caller to
    keep out of markup."""
    if not resource.vms:
        return None
    names = []
    for vm in resource.vms[:limit]:
        name = _one_line(vm.name) or "(no name)"
        name = name if len(name) <= clip else name[: clip - 1] + "…"
        state = _one_line(vm.state)[:20]
        names.append(name if state.casefold() in _RUNNING_STATES else f"{name} ({state.lower()})")
    more = len(resource.vms) - limit
    return ", ".join(names) + (f", +{more} more" if more > 0 else "")


def owner_costs(report: Report) -> list[tuple[str, str]]:
    """``(owner, cost phrase)`` per owner, costliest first, when at least two owners share
    the findings, one of them has several, and some price is known (otherwise the lines say
    it all already); owner ``""`` reads "no owner"."""
    owners = report.cost_by_owner
    if len(owners) < 2 or report.cost.hourly is None or len(owners) == len(report.findings):
        return []
    ranked = sorted(
        report.cost_by_owner.items(), key=lambda kv: (-(kv[1].hourly or 0.0), kv[0].casefold())
    )
    return [(owner or "no owner", cost_phrase(cost) or "") for owner, cost in ranked]


def headline(report: Report) -> str:
    """``3 labs running outside business hours — 7 VMs``; with memory, what is new, still
    running and resolved first: ``2 new · 1 still running · 1 resolved — 3 labs …`` (no user
    data: safe anywhere)."""
    base = _base_headline(report)
    memory = report.memory
    if memory is None or not memory.deduplicated:
        return base
    told = list(memory.status.values())
    counts = [
        f"{n} {word}"
        for n, word in (
            (told.count("new"), "new"),
            (told.count("reminder"), "still running"),
            (len(memory.resolved), "resolved"),
        )
        if n
    ]
    if not counts:
        return base
    return f"{' · '.join(counts)} — {base[0].lower()}{base[1:]}"


def _base_headline(report: Report) -> str:
    n = len(report.findings)
    if not n and report.failures:
        # "Nothing running" would be a guess when a source could not be read.
        if not report.sources_read:
            return "Could not check for running resources: every source failed"
        return "No resources running outside business hours in the sources that answered"
    if not n and report.flagged:
        # Memory keeps the ones told before quiet: they are still running.
        return "Nothing new running outside business hours"
    if not n:
        return "No resources running outside business hours"
    kind = report.kind
    units = kind.count_units(report.running_vms)
    return f"{kind.count(n)} running outside business hours — {units}"


# ---------------------------------------------------------------- memory wording
# What incident memory adds, in our words; the external parts (names, owners, a store's path,
# run ids, a user's note) are cleaned here, and each channel keeps them out of markup.

_RESOLVED_BY = {
    "stopped": "stopped",
    "gone": "no longer running or listed",
    "exempt": "exempted",
    "hours": "business hours began",
    "by hand": "resolved by hand",
}


def incident_mark(finding: Finding, report: Report) -> tuple[str, str | None] | None:
    """``("NEW", None)`` or ``("STILL RUNNING", "first reported 22:00")`` for a finding memory
    tells; ``None`` without memory or for a finding it does not mark."""
    memory = report.memory
    if memory is None:
        return None
    status = memory.status.get(finding.resource.key)
    if status is None:
        return None
    if status == "new":
        return "NEW", None
    incident = memory.told.get(finding.resource.key)
    first = f"first reported {_clock(incident.opened_at, report)}" if incident else None
    return "STILL RUNNING", first


def memory_notices(report: Report) -> list[str]:
    """What memory says about itself, for the top of a message: the store failed, nothing was
    sent (this run was delivered already), an earlier run may not have delivered. Cleaned: a
    problem may quote a path."""
    memory = report.memory
    if memory is None:
        return []
    lines = []
    if memory.problem is not None:
        lines.append(
            "⚠ Memory unavailable — every finding is told, not deduplicated: "
            + _one_line(memory.problem)
        )
    if memory.skipped is not None:
        lines.append(f"Nothing sent: {_one_line(memory.skipped)}")
    lines += [
        f"⚠ The run {_run_when(run_id, report)} stopped between posting and recording: "
        "its message may not have arrived"
        for run_id in memory.gaps
    ]
    return lines


def _run_when(gap: str, report: Report) -> str:
    """``at 02:00`` from ``<function>@<scheduled time>``, and what follows the id (``(posting
    began …)``); the whole of it, cleaned, when the id has no time."""
    run_id, _, more = gap.strip().partition(" ")
    try:
        when = datetime.fromisoformat(run_id.rpartition("@")[2])
    except ValueError:
        return _one_line(gap)
    return " ".join(["at", _clock(when, report), *([_one_line(more)] if more else [])])


def quiet_text(report: Report) -> str | None:
    """``3 more still running, reported earlier · 1 snoozed (~$2.00/h, ~$9.00 so far) —
    `offhours incidents` lists them``: what memory does not repeat, and its cost."""
    memory = report.memory
    if memory is None or not memory.deduplicated:
        return None
    parts = []
    if memory.quiet:
        more = "more " if report.findings else ""
        parts.append(f"{len(memory.quiet)} {more}still running, reported earlier")
    if memory.snoozed:
        parts.append(f"{len(memory.snoozed)} snoozed")
    if not parts:
        return None
    cost = cost_phrase(report.quiet_cost) if report.quiet_cost.hourly is not None else None
    text = " · ".join(parts) + (f" ({cost})" if cost else "")
    return text + " — `offhours incidents` lists them"


def resolved_title(report: Report) -> str:
    memory = report.memory
    return f"Resolved ({len(memory.resolved) if memory else 0})"


def _incident_cost(incident: Incident) -> str | None:
    if incident.cost_so_far is not None and math.isfinite(incident.cost_so_far):
        at_least = "at least " if incident.cost_at_least else ""
        return f"{at_least}~{_money(incident.cost_so_far)} so far"
    if incident.hourly_cost is not None:
        return f"~{_money(incident.hourly_cost)}/h"
    return "price unknown"


def resolved_text(incident: Incident, report: Report) -> str:
    """What ended an incident, how long it ran off hours and what it cost: ``stopped by
    offhours at 02:00 — ran 4h00m off hours, ~$3.00 so far``; one still running when business
    hours began reads as the morning reminder: ``still running at 08:00 after 14h00m, ~$23.00
    so far``. Cleaned (an action's words and a user's note are kept data)."""
    ran = _duration(timedelta(hours=incident.running_hours))
    cost = _incident_cost(incident)
    if incident.resolution == "hours" and incident.still_running:
        at = incident.resolved_at or incident.last_seen_at
        return f"still running at {_clock(at, report)} after {ran}, {cost}"
    ended = _RESOLVED_BY.get(incident.resolution or "", "resolved")
    if incident.resolution == "stopped" and incident.action:
        ended = _one_line(incident.action)[:_DETAIL_MAX]
    if incident.resolution == "by hand" and incident.note:
        ended += f" ({_one_line(incident.note)[:_DETAIL_MAX]})"
    return f"{ended} — ran {ran} off hours, {cost}"


def checked(report: Report) -> str:
    sources = len(report.sources) or len({d.resource.source for d in report.decisions})
    text = f"{len(report.decisions)} checked in {plural(sources, 'source')}"
    failed = len(report.failed_sources)
    if failed:
        text += f"; {failed} {'source' if failed == 1 else 'sources'} failed"
    parts = len(report.failures) - failed
    if parts:
        # A region or an account of a source that was otherwise read.
        text += f"; {parts} {'part' if parts == 1 else 'parts'} could not be read"
    return text


def many_sources(report: Report) -> bool:
    return len({d.resource.source for d in report.findings}) > 1


def cost_total(report: Report) -> str | None:
    """The findings' cost in all: ``~$4.20/h, ~$21.00 so far (3 of 4 priced)``."""
    if report.hourly_cost is None:
        return None
    return cost_phrase(report.cost)


# ---------------------------------------------------------------- text


def _text_line(finding: Finding, report: Report, many: bool, indent: str = "  ") -> str:
    r = finding.resource
    parts = [_one_line(r.name), _one_line(r.owner or "no owner"), _units(r, _TEXT_VMS)]
    if r.region:
        parts.append(_one_line(r.region))
    if r.size:
        parts.append(_one_line(r.size))
    parts += timing(finding, report)
    prefix = f"[{_one_line(r.source)}] " if many else ""
    mark = incident_mark(finding, report)
    if mark is not None:
        prefix = f"{mark[0]}: {prefix}"
        parts += [mark[1]] if mark[1] else []
    return f"{indent}• " + prefix + " — ".join(parts)


#: VM names a text line shows (the rest as "+N more")
_TEXT_VMS = 10


def _units(resource: Resource, limit: int) -> str:
    """``2 VMs``, or with the VMs a source listed: ``2 VMs: web, db (stopped)`` (cleaned)."""
    units = resource.kind.count_units(resource.running)
    names = vm_names(resource, limit)
    return f"{units}: {names}" if names else units


def _text_resolved(incident: Incident, report: Report) -> str:
    who = [_one_line(incident.name), _one_line(incident.owner or "no owner")]
    return "  • " + " — ".join([*who, resolved_text(incident, report)])


def _text_findings(report: Report) -> list[str]:
    many = many_sources(report)
    if not grouped(report):
        return [_text_line(f, report, many) for f in report.findings]
    lines = []
    for label, findings, title in group_sections(report):
        lines.append(f"  {_one_line(label)} — {title}")
        lines += [_text_line(f, report, many, "    ") for f in findings]
    return lines


def render_text(report: Report) -> str:
    """The console report: memory's warnings, headline, one line per finding, what memory
    did not repeat, resolved incidents, problems, failed sources."""
    lines = memory_notices(report)
    if report.memory is not None and report.memory.skipped is not None:
        return "\n".join(lines) + "\n"  # a retry of a delivered run: nothing else to say
    if report.findings:
        lines.append(f"{headline(report)} — {stamp(report)}")
        lines += _text_findings(report)
        cost = cost_total(report)
        if cost:
            lines.append(f"Estimated cost: {cost}")
        owners = owner_costs(report)
        if owners:
            lines.append("By owner: " + " · ".join(f"{_one_line(o)} {c}" for o, c in owners))
    else:
        lines.append(f"{headline(report)} ({checked(report)}).")
    quiet = quiet_text(report)
    if quiet:
        lines.append(quiet)
    if report.memory is not None and report.memory.resolved:
        lines.append(f"{resolved_title(report)}:")
        lines += [_text_resolved(i, report) for i in report.memory.resolved]
    if report.exempt:
        items = " · ".join(_exempt_item(d, report) for d in report.exempt)
        lines.append(f"{exempt_title(report)}: {items}")
    problems = report.problems
    if problems:
        lines.append(f"{plural(len(problems), 'problem')}:")
        lines += [
            f"  • {_one_line(p.name)} ({_one_line(p.source)}): {_one_line(p.message)}"
            for p in problems
        ]
    lines += [
        f"⚠ source '{_one_line(f.source)}' failed: {_one_line(f.message)}" for f in report.failures
    ]
    extra = unmatched_actions(report)
    if extra:
        lines.append("Actions:")
        lines += [f"  • {_one_line(a.name)}: {action_text(a, report)}" for a in extra]
    lines += [f"Note: {_one_line(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"


def unmatched_actions(report: Report) -> list[Action]:
    """Actions on resources that are not among the findings (a restore when hours open)."""
    flagged = {f.resource.key for f in report.findings}
    return [a for a in report.actions if a.key not in flagged]


def exempt_title(report: Report) -> str:
    return f"Running but exempt ({len(report.exempt)})"


def exempt_why(decision: Decision, report: Report) -> str:
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
    details = [_one_line(r.owner or "no owner"), r.kind.count_units(r.running)]
    details.append(_one_line(exempt_why(decision, report)))
    return f"{_one_line(r.name)} ({', '.join(details)})"


# ---------------------------------------------------------------- JSON


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _resource_json(r: Resource) -> dict[str, Any]:
    """Who and where a resource is: the fields every JSON entry about one starts with."""
    return {
        "source": r.source,
        "provider": r.provider,
        "kind": r.kind.name,
        "account": r.account,
        "key": r.key,
        "id": r.id,
        "name": r.name,
        "owner": r.owner,
        "region": r.region,
        "running": r.running,
    }


def action_json(action: Action) -> dict[str, Any]:
    return {
        "source": action.source,
        "key": action.key,
        "name": action.name,
        "verb": action.verb,
        "outcome": action.outcome,
        "detail": action.detail,
        "call": action.call,
        "at": _iso(action.at),
    }


def _cost_json(cost: Cost) -> dict[str, Any]:
    return {
        "count": cost.count,
        "priced": cost.priced,
        "hourly_cost": cost.hourly,
        "cost_so_far": cost.so_far,
        "cost_so_far_at_least": cost.at_least,
    }


def _finding_json(finding: Finding, report: Report) -> dict[str, Any]:
    decision = finding.decision
    r: Resource = decision.resource
    spent, at_least = so_far(finding)
    action = report.actions_by_key.get(r.key)
    return {
        **_resource_json(r),
        "group": finding.group,
        "stopped": r.stopped,
        "errored": r.errored,
        "running_since": _iso(r.running_since),
        "expires_at": _iso(r.expires_at),
        "hourly_cost": r.hourly_cost,
        "price_note": r.price_note,
        "size": r.size,
        "since_at_least": r.since_at_least,
        "first_seen": _iso(finding.first_seen or finding.at),
        "cost_so_far": spent,
        "cost_so_far_at_least": at_least,
        "action": action_json(action) if action is not None else None,
        "tags": dict(r.tags),
        "vms": [{"id": v.id, "name": v.name, "state": v.state} for v in r.vms],
        "reason": decision.reason,
        "schedule": decision.schedule,
        "off_hours_since": _iso(decision.off_hours_since),
        "exempt_until": _iso(decision.exempt_until),
        "problems": list(decision.problems),
        "incident": _incident_json(finding, report),
    }


def _incident_json(finding: Finding, report: Report) -> dict[str, Any] | None:
    memory = report.memory
    status = memory.status.get(finding.resource.key) if memory is not None else None
    if memory is None or status is None:
        return None
    incident = memory.told.get(finding.resource.key)
    return {"status": status, "opened_at": _iso(incident.opened_at) if incident else None}


def _resolved_json(incident: Incident) -> dict[str, Any]:
    return {
        "key": incident.key,
        "resource_key": incident.resource_key,
        "name": incident.name,
        "owner": incident.owner,
        "group": incident.group,
        "source": incident.source,
        "kind": incident.kind,
        "opened_at": _iso(incident.opened_at),
        "resolved_at": _iso(incident.resolved_at),
        "resolution": incident.resolution,
        "still_running": incident.still_running,
        "running_hours": incident.running_hours,
        "hourly_cost": incident.hourly_cost,
        "cost_so_far": incident.cost_so_far,
        "cost_so_far_at_least": incident.cost_at_least,
        "action": incident.action,
        "reminders": incident.reminders,
        "note": incident.note,
    }


def _memory_json(report: Report) -> dict[str, Any] | None:
    memory = report.memory
    if memory is None:
        return None
    # Report order first (the findings'), then any key memory told that is not among them.
    order = {f.resource.key: i for i, f in enumerate(report.flagged)}
    keys = sorted(memory.status, key=lambda k: (order.get(k, len(order)), k))
    return {
        "store": memory.store,
        "run_id": memory.run_id,
        "deduplicated": memory.deduplicated,
        "problem": memory.problem,
        "skipped": memory.skipped,
        "gaps": list(memory.gaps),
        "new": [k for k in keys if memory.status[k] == "new"],
        "reminders": [k for k in keys if memory.status[k] == "reminder"],
        "quiet": len(memory.quiet),
        "snoozed": len(memory.snoozed),
        "quiet_cost": _cost_json(report.quiet_cost),
        "resolved": [_resolved_json(i) for i in memory.resolved],
    }


def _exempt_json(decision: Decision) -> dict[str, Any]:
    return {
        **_resource_json(decision.resource),
        "by": decision.exempt_by,
        "exempt_until": _iso(decision.exempt_until),
        "reason": decision.reason,
    }


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """What a notifier did, for ``offhours audit --format json``'s ``receipts``: never where
    it delivered (a webhook's URL is a secret; its redacted form is of no use to a script)."""
    return {
        "notifier": receipt.notifier,
        "type": receipt.channel,
        "sent": receipt.sent,
        "planned": receipt.planned,
        "dry_run": receipt.dry_run,
        "error": receipt.error,
        "messages": [
            {"index": m.index, "id": m.id, "timestamp": m.timestamp} for m in receipt.messages
        ],
    }


def render_json(report: Report) -> str:
    """The report in the stable schema documented at the top of this module."""
    document = {
        "version": JSON_VERSION,
        "generated_at": report.generated_at.isoformat(),
        "status": report.status,
        "sources": list(report.sources),
        "totals": {
            "checked": len(report.decisions),
            "findings": len(report.findings),
            "running_vms": report.running_vms,
            "hourly_cost": report.hourly_cost,
            "cost_so_far": report.cost.so_far,
            "cost_so_far_at_least": report.cost.at_least,
            "failures": len(report.failures),
            "problems": len(report.problems),
            "exempt": len(report.exempt),
        },
        "findings": [_finding_json(f, report) for f in report.findings],
        "cost_by_group": {g: _cost_json(c) for g, c in report.cost_by_group.items()},
        "cost_by_owner": {o: _cost_json(c) for o, c in report.cost_by_owner.items()},
        "actions": [action_json(a) for a in report.actions],
        "notes": list(report.notes),
        "exempt": [_exempt_json(d) for d in report.exempt],
        "problems": [
            {"source": p.source, "id": p.id, "name": p.name, "problem": p.message}
            for p in report.problems
        ],
        "failures": [{"source": f.source, "message": f.message} for f in report.failures],
        "memory": _memory_json(report),
    }
    # Exact data, printable: see the module docstring; money and hours without float noise.
    return escape_json(json.dumps(rounded(document), indent=2, ensure_ascii=False)) + "\n"
