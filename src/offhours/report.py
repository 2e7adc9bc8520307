"""Decisions → one channel-neutral :class:`Report` → console text or JSON (all pure).

Each channel renders the report its own way beside its notifier (Slack's Block Kit lives in
:mod:`offhours.notifiers.slack.blocks`); the wording they share (headline, timing, totals) is
here, and the words for a resource ("lab", "VM") come from its :class:`~offhours.model.Kind`.
This module imports no vendor SDK.

JSON schema (``render_json``, ``version`` 1; times are ISO-8601 with offset, absent ones null)::

    {
      "version": 1,
      "generated_at": "2026-11-26T22:00:00+00:00",
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
      "failures": [{"source", "message"}]
    }

``totals`` also counts ``exempt``. Strings are the data exactly as the sources gave it; control,
format (bidi, zero-width) and lone surrogate characters are ``\\uXXXX``-escaped so that the
document is safe to print and reads back to the same text.

External text (names, owners, regions, tags, problems, server messages) is data everywhere:

* text report: cleaned by :func:`offhours.untrusted.one_line` (no control, bidi or zero-width
  characters; one line per field).

Every channel's renderer treats it the same way (see its module).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from offhours.model import GENERIC, Action, Decision, Finding, Kind, Resource, SourceFailure
from offhours.untrusted import escape_json
from offhours.untrusted import one_line as _one_line

__all__ = [
    "JSON_VERSION",
    "Problem",
    "Report",
    "build_report",
    "checked",
    "cost_total",
    "exempt_title",
    "exempt_why",
    "headline",
    "many_sources",
    "plural",
    "render_json",
    "render_text",
    "stamp",
    "timing",
]

JSON_VERSION = 1


@dataclass(frozen=True)
class Problem:
    """Something wrong on one resource's configuration (e.g. a malformed tag)."""

    source: str
    id: str
    name: str
    message: str


def _sort_key(decision: Decision) -> tuple[str, str, str, str, str]:
    r = decision.resource
    group = r.group if r.group is not None else r.name
    return (r.source, (r.owner or "").casefold(), group.casefold(), r.name.casefold(), r.id)


@dataclass(frozen=True)
class Report:
    """Everything one run found: every decision, the sources that failed, the names audited.

    The derived fields are computed once, when the report is built:

    * ``findings``: flagged decisions as :class:`~offhours.model.Finding` s, sorted by source,
      owner, group, name (so that a group's findings stay together);
    * ``exempt``: running resources an exemption, an ``always`` schedule or their own hours
      (open while the default hours are closed) keep out of the findings, sorted likewise:
      listed so that they never vanish from the report;
    * ``problems``: the problems of every decision, flagged or not, in report order;
    * ``running_vms``: the units (VMs, instances…) billing in the findings;
    * ``hourly_cost``: the sum over findings whose cost is known; ``None`` when none is;
    * ``kind``: the findings' kind when they share one, else the generic kind (its words).
    """

    generated_at: datetime
    decisions: tuple[Decision, ...]
    failures: tuple[SourceFailure, ...] = ()
    sources: tuple[str, ...] = ()
    #: what sources did to findings (or would, in a dry run), in the order they did it
    actions: tuple[Action, ...] = ()
    #: lines stated once (a price table's date, regions skipped and why)
    notes: tuple[str, ...] = ()
    # Computed once in __post_init__ (a report is read by several renderers), not per access.
    findings: tuple[Finding, ...] = field(init=False, repr=False, compare=False)
    exempt: tuple[Decision, ...] = field(init=False, repr=False, compare=False)
    problems: tuple[Problem, ...] = field(init=False, repr=False, compare=False)
    running_vms: int = field(init=False, repr=False, compare=False)
    hourly_cost: float | None = field(init=False, repr=False, compare=False)
    kind: Kind = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = sorted(self.decisions, key=_sort_key)
        findings = tuple(Finding.of(d, self.generated_at) for d in ordered if d.flagged)
        known = [f.resource.hourly_cost for f in findings if f.resource.hourly_cost is not None]
        kinds = {f.resource.kind for f in findings}
        derived: dict[str, object] = {
            "findings": findings,
            "exempt": tuple(d for d in ordered if d.exempt_by and d.resource.is_running),
            "problems": tuple(
                Problem(d.resource.source, d.resource.id, d.resource.name, p)
                for d in ordered
                for p in d.problems
            ),
            "running_vms": sum(f.resource.running for f in findings),
            "hourly_cost": sum(known) if known else None,
            "kind": kinds.pop() if len(kinds) == 1 else GENERIC,
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


def timing(decision: Decision, report: Report) -> list[str]:
    """``running 5h12m, since 16:48``, ``auto-stops …``, ``~$2.00/h``: what applies."""
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


def headline(report: Report) -> str:
    """``3 labs running outside business hours — 7 VMs`` (no user data: safe anywhere)."""
    n = len(report.findings)
    if not n and report.failures:
        # "Nothing running" would be a guess when a source could not be read.
        if len(report.failures) >= len(report.sources):
            return "Could not check for running resources: every source failed"
        return "No resources running outside business hours in the sources that answered"
    if not n:
        return "No resources running outside business hours"
    kind = report.kind
    units = kind.count_units(report.running_vms)
    return f"{kind.count(n)} running outside business hours — {units}"


def checked(report: Report) -> str:
    sources = len(report.sources) or len({d.resource.source for d in report.decisions})
    text = f"{len(report.decisions)} checked in {plural(sources, 'source')}"
    if report.failures:
        failed = len(report.failures)
        text += f"; {failed} {'source' if failed == 1 else 'sources'} failed"
    return text


def many_sources(report: Report) -> bool:
    return len({d.resource.source for d in report.findings}) > 1


def cost_total(report: Report) -> str | None:
    total = report.hourly_cost
    if total is None:
        return None
    priced = sum(1 for d in report.findings if d.resource.hourly_cost is not None)
    note = "" if priced == len(report.findings) else f" ({priced} of {len(report.findings)} priced)"
    return f"~{_money(total)}/h{note}"


# ---------------------------------------------------------------- text


def _text_line(finding: Finding, report: Report, many: bool) -> str:
    decision = finding.decision
    r = decision.resource
    parts = [_one_line(r.name), _one_line(r.owner or "no owner"), r.kind.count_units(r.running)]
    if r.region:
        parts.append(_one_line(r.region))
    parts += timing(decision, report)
    prefix = f"[{_one_line(r.source)}] " if many else ""
    return "  • " + prefix + " — ".join(parts)


def render_text(report: Report) -> str:
    """The console report: headline, one line per finding, problems, failed sources."""
    lines = []
    if report.findings:
        lines.append(f"{headline(report)} — {stamp(report)}")
        many = many_sources(report)
        lines += [_text_line(d, report, many) for d in report.findings]
        cost = cost_total(report)
        if cost:
            lines.append(f"Estimated cost: {cost}")
    else:
        lines.append(f"{headline(report)} ({checked(report)}).")
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
    return "\n".join(lines) + "\n"


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


def _finding_json(finding: Finding) -> dict[str, Any]:
    decision = finding.decision
    r: Resource = decision.resource
    return {
        **_resource_json(r),
        "group": finding.group,
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
