"""Incident memory, pure: findings × what earlier runs said × ``now`` → what is worth saying.

An *incident* is one resource running through one off-hours period: its key is the resource's
key and the start of that period (:func:`incident_key`). For each run:

* a finding with no incident yet opens one and is told as **new**;
* a finding whose incident is open is **quiet**, unless a reminder is due: every
  ``remind_every`` since it was last told (a few minutes early counts: schedulers fire late);
* an open incident whose resource is no longer flagged is **resolved**: it stopped (by hand, or
  by offhours' own stop action), was exempted, vanished, or business hours began. Resolved
  incidents are told in the next message when ``report_resolved``; one still running when
  business hours begin is told as a last reminder when ``remind_at_open`` ("still running at
  08:00 after 14 h, ~$23 so far") instead;
* an incident whose source (or a part of it) failed this run, and whose resource was not seen,
  is left as it is: not seeing a resource is not knowing it stopped;
* an incident of a source this run does not have (another configuration sharing the store) is
  not this run's to judge: neither resolved nor told;
* a snoozed resource (by key, or by group) is neither told nor reminded while the snooze lasts;
  its incident still opens and resolves, so the digest counts it.

Every change is a :class:`Change`: the incident as it should be, and the version it must still
have (``None``: it must not exist yet). A store applies each change only if that holds, so two
runs that overlap never both tell the same incident, and neither loses one.

Nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from offhours.model import Action, Decision, Finding

__all__ = [
    "ALWAYS_PERIOD",
    "REMINDER_SLACK",
    "Change",
    "Incident",
    "IncidentState",
    "MemorySettings",
    "Plan",
    "Recall",
    "Resolution",
    "Snooze",
    "incident_key",
    "plan",
    "untell",
]

#: the period of a resource that is off hours at all times (a ``never`` schedule): one
#: incident for as long as it runs
ALWAYS_PERIOD = "always"
#: how early a reminder may be told: a run fired a little early or the last one a little late
#: must not push a 4-hour reminder to the next run, 5 hours on
REMINDER_SLACK = timedelta(minutes=5)

#: the one action verb that starts a resource rather than stopping it
_RESTORE = "restore"

IncidentState = Literal["open", "resolved"]
#: why an incident was resolved
Resolution = Literal[
    "stopped",  # the resource is no longer running (stopped by hand, or by offhours: see action)
    "gone",  # the source no longer lists it
    "exempt",  # an exemption or schedule tag keeps it out of the findings now
    "hours",  # business hours began (it may still be running: see still_running)
    "by hand",  # `offhours resolve KEY`
]


def incident_key(resource_key: str, period_start: datetime | None) -> str:
    """``<resource key>@<period start, UTC ISO>`` (``@always`` with no period start).

    A resource key's parts are percent-encoded, so ``@`` never occurs in one: the key splits
    back unambiguously."""
    if period_start is None:
        return f"{resource_key}@{ALWAYS_PERIOD}"
    at = period_start.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{resource_key}@{at}"


@dataclass(frozen=True)
class Incident:
    """One resource running through one off-hours period, as the store keeps it.

    ``name``, ``owner``, ``group``, ``source``, ``noun`` and ``hourly_cost`` are the latest the
    resource showed (for messages, ``offhours incidents`` and the digest); ``cost_so_far`` is
    this period's estimate at ``last_seen_at`` (``None``: unknown). ``told_by`` is the run that
    last told it (a run that dies before posting leaves it to its retry). ``version`` counts
    writes: a store applies a :class:`Change` only when the version it read is still there.
    """

    key: str
    resource_key: str
    period_start: datetime | None
    source: str
    name: str
    owner: str | None
    group: str
    kind: str
    noun: str
    opened_at: datetime
    last_seen_at: datetime
    hourly_cost: float | None = None
    cost_so_far: float | None = None
    cost_at_least: bool = False
    last_told_at: datetime | None = None
    told_by: str | None = None
    reminders: int = 0
    #: what offhours did to it, in the report's words ("stopped by offhours at 02:00")
    action: str | None = None
    state: IncidentState = "open"
    resolved_at: datetime | None = None
    resolution: Resolution | None = None
    #: running when resolved (business hours began with it still on)
    still_running: bool = False
    #: why it was resolved by hand, or snoozed: the user's words (data, never markup)
    note: str | None = None
    version: int = 0

    @property
    def open(self) -> bool:
        return self.state == "open"

    @property
    def running_hours(self) -> float:
        """Off-hours hours it was seen running: from opening to the last sighting."""
        return max(0.0, (self.last_seen_at - self.opened_at).total_seconds() / 3600)


@dataclass(frozen=True)
class Snooze:
    """Quiet for one resource (``key``: a resource key) or every resource of a group
    (``group``) until ``until``; always ends (capped by ``max_exemption_days`` when made)."""

    target: str
    scope: Literal["key", "group"]
    until: datetime
    created_at: datetime
    reason: str | None = None
    by: str | None = None

    def covers(self, resource_key: str, group: str, now: datetime) -> bool:
        if now >= self.until:
            return False
        return self.target == (resource_key if self.scope == "key" else group)


@dataclass(frozen=True)
class MemorySettings:
    """When to speak again: ``remind_every`` (``None``: never), one last reminder when business
    hours begin with the resource still running (``remind_at_open``), resolved incidents in the
    next message (``report_resolved``)."""

    remind_every: timedelta | None = timedelta(hours=4)
    remind_at_open: bool = True
    report_resolved: bool = True


@dataclass(frozen=True)
class Change:
    """An incident as it should be after this run, and the version the store must still hold
    for it (``None``: the incident must not exist yet)."""

    incident: Incident
    expected_version: int | None


@dataclass(frozen=True)
class Plan:
    """What one run says, and the changes that record it.

    ``new`` and ``reminders`` are findings' incidents to tell (their keys map to the findings
    through ``resource_key``); ``resolved`` are incidents closed now and to be told (a last
    reminder at opening time among them when ``remind_at_open``: ``still_running``);
    ``quiet`` and ``snoozed`` are open incidents not repeated. ``changes`` are every write,
    told or not (a quiet incident's sighting too)."""

    new: tuple[Incident, ...] = ()
    reminders: tuple[Incident, ...] = ()
    resolved: tuple[Incident, ...] = ()
    quiet: tuple[Incident, ...] = ()
    snoozed: tuple[Incident, ...] = ()
    changes: tuple[Change, ...] = ()

    @property
    def told(self) -> tuple[Incident, ...]:
        return (*self.new, *self.reminders, *self.resolved)

    def keeping(self, accepted: Iterable[str]) -> Plan:
        """This plan with only the changes a store accepted (by incident key): an incident
        another run wrote first is not told here (that run tells it)."""
        ok = set(accepted)

        def kept(items: tuple[Incident, ...]) -> tuple[Incident, ...]:
            return tuple(i for i in items if i.key in ok)

        return Plan(
            new=kept(self.new),
            reminders=kept(self.reminders),
            resolved=kept(self.resolved),
            quiet=self.quiet,
            snoozed=self.snoozed,
            changes=tuple(c for c in self.changes if c.incident.key in ok),
        )


@dataclass(frozen=True)
class Recall:
    """What memory adds to one run's report (the channels render it).

    ``status`` maps a told finding's resource key to ``new`` or ``reminder``; findings not in it
    are quiet (told before) or snoozed, counted in ``quiet``/``snoozed``. ``store`` names the
    store as safe to show. ``problem`` is set when the store failed: the run's findings are then
    all told, marked as not deduplicated. ``skipped`` says why nothing was delivered (this run's
    identity was delivered already, or another attempt of it is under way). ``gaps`` are earlier
    runs that stopped between posting and recording: their message may not have arrived.
    ``told`` maps a told finding's resource key to its incident (when it was first reported)."""

    store: str
    run_id: str
    status: Mapping[str, Literal["new", "reminder"]] = field(default_factory=dict)
    resolved: tuple[Incident, ...] = ()
    quiet: tuple[Incident, ...] = ()
    snoozed: tuple[Incident, ...] = ()
    problem: str | None = None
    skipped: str | None = None
    gaps: tuple[str, ...] = ()
    told: Mapping[str, Incident] = field(default_factory=dict)

    @property
    def deduplicated(self) -> bool:
        return self.problem is None


def plan(
    findings: Sequence[Finding],
    decisions: Sequence[Decision],
    incidents: Mapping[str, Incident],
    snoozes: Sequence[Snooze],
    *,
    now: datetime,
    run_id: str,
    settings: MemorySettings,
    failed_sources: Iterable[str] = (),
    sources: Iterable[str] | None = None,
    actions: Mapping[str, Action] | None = None,
    action_text: Mapping[str, str] | None = None,
) -> Plan:
    """What this run says, given every incident the store holds for the findings' periods and
    every open one (``incidents``, by incident key), and the snoozes.

    ``decisions`` are every resource decided this run (to tell stopped from exempt from
    business hours); ``failed_sources`` are the names of sources with any failure this run (the
    whole source, or a part: an account, a region), whose incidents with no decision this run
    are left as they are (not seen is not gone); ``sources`` are the names of the sources this
    run has (``None``: every incident is this run's): an incident of another source is left
    alone, as another configuration sharing the store keeps it;
    ``action_text`` is each resource key's action in the report's words ("stopped by offhours
    at 02:00"), kept on the incident. ``actions`` (by resource key) says which resources a
    source stopped this run (any verb but ``restore``, done): an unmatched one is resolved as
    ``stopped`` even where its decision, made before the stop, saw it running."""
    texts = action_text or {}
    stops = {k for k, a in (actions or {}).items() if a.outcome == "done" and a.verb != _RESTORE}
    failed = set(failed_sources)
    ours = None if sources is None else set(sources)
    out = _Lists()
    seen: set[str] = set()
    for finding in findings:
        resource = finding.resource
        key = incident_key(resource.key, finding.decision.off_hours_since)
        seen.add(key)
        quiet = any(s.covers(resource.key, finding.group, now) for s in snoozes)
        known = incidents.get(key)
        if known is None:
            opened = _opened(finding, key, now, run_id, texts.get(resource.key), quiet)
            out.write(opened, None)
            (out.snoozed if quiet else out.new).append(opened)
        elif known.open:
            _sighted(out, known, finding, now, run_id, settings, texts.get(resource.key), quiet)
        # resolved (by hand, or earlier in this period): a hand resolve holds for the period
    by_resource = {d.resource.key: d for d in decisions}
    for incident in incidents.values():
        if not incident.open or incident.key in seen:
            continue
        if ours is not None and incident.source not in ours:
            # Another configuration's (one store, two configs): only its own runs judge it.
            continue
        rk = incident.resource_key
        decision = by_resource.get(rk)
        if decision is None and incident.source in failed:
            # Not seen while (a part of) its source failed: not knowing it is gone. One that
            # was seen is judged as usual, so a lasting partial failure (one region denied)
            # does not keep the rest of the source's incidents open forever.
            continue
        closed = _resolved(incident, decision, rk in stops, texts.get(rk), now)
        out.write(closed, incident.version)
        told = incident.last_told_at is not None and (
            settings.report_resolved
            or (settings.remind_at_open and closed.still_running and closed.resolution == "hours")
        )
        if told:
            out.resolved.append(closed)
    return out.plan()


@dataclass
class _Lists:
    """A plan being built: appended to in any order, sorted once at the end."""

    new: list[Incident] = field(default_factory=list)
    reminders: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)
    quiet: list[Incident] = field(default_factory=list)
    snoozed: list[Incident] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def write(self, incident: Incident, expected_version: int | None) -> None:
        self.changes.append(Change(incident, expected_version))

    def plan(self) -> Plan:
        def ordered(items: list[Incident]) -> tuple[Incident, ...]:
            return tuple(sorted(items, key=_order))

        return Plan(
            new=ordered(self.new),
            reminders=ordered(self.reminders),
            resolved=ordered(self.resolved),
            quiet=ordered(self.quiet),
            snoozed=ordered(self.snoozed),
            changes=tuple(sorted(self.changes, key=lambda c: _order(c.incident))),
        )


def _order(incident: Incident) -> tuple[object, ...]:
    # The report's order (source, owner, group, name; natural: lab-2 before lab-10), so each
    # message reads the same way.
    from offhours.report import natural  # report.py imports this module

    return (
        incident.source,
        natural(incident.owner or ""),
        natural(incident.group),
        natural(incident.name),
        incident.key,
    )


def _utc(moment: datetime) -> datetime:
    # Sources give aware times; a naive one is taken as UTC, as the report does.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _opened(
    finding: Finding, key: str, now: datetime, run_id: str, action: str | None, snoozed: bool
) -> Incident:
    """The incident a first sighting opens: told now unless snoozed."""
    from offhours.report import so_far  # report imports this module

    resource = finding.resource
    period = finding.decision.off_hours_since
    opened = now
    if resource.running_since is not None:
        # when its off-hours running began: it may have started before the hours closed
        began = _utc(resource.running_since)
        opened = min(now, max(began, period) if period is not None else began)
    cost, at_least = so_far(finding)
    return Incident(
        key=key,
        resource_key=resource.key,
        period_start=period,
        source=resource.source,
        name=resource.name,
        owner=resource.owner,
        group=finding.group,
        kind=resource.kind.name,
        noun=resource.kind.noun,
        opened_at=opened,
        last_seen_at=now,
        hourly_cost=resource.hourly_cost,
        cost_so_far=cost,
        cost_at_least=at_least,
        last_told_at=None if snoozed else now,
        told_by=None if snoozed else run_id,
        action=action,
        version=1,
    )


def _sighted(
    out: _Lists,
    known: Incident,
    finding: Finding,
    now: datetime,
    run_id: str,
    settings: MemorySettings,
    action: str | None,
    snoozed: bool,
) -> None:
    """An open incident seen again: its sighting is written, and it is told when it never was,
    when a reminder is due, or when an earlier attempt of this very run told it unposted."""
    from offhours.report import so_far  # report imports this module

    resource = finding.resource
    cost, at_least = so_far(finding)
    seen = _replace(
        known,
        last_seen_at=now,
        name=resource.name,
        owner=resource.owner,
        group=finding.group,
        hourly_cost=resource.hourly_cost,
        cost_so_far=cost,
        cost_at_least=at_least,
        action=action if action is not None else known.action,
        version=known.version + 1,
    )
    every = settings.remind_every
    if snoozed:
        out.snoozed.append(seen)
    elif known.told_by == run_id:
        # This identity's earlier attempt recorded it but never posted (its claim was taken
        # over): tell it as that attempt would have, without counting a second reminder.
        (out.new if known.reminders == 0 else out.reminders).append(seen)
    elif known.last_told_at is None:  # opened while snoozed
        seen = _replace(seen, last_told_at=now, told_by=run_id)
        out.new.append(seen)
    elif every is not None and now - known.last_told_at >= every - REMINDER_SLACK:
        seen = _replace(seen, last_told_at=now, told_by=run_id, reminders=known.reminders + 1)
        out.reminders.append(seen)
    else:
        out.quiet.append(seen)
    out.write(seen, known.version)


def _resolved(
    incident: Incident, decision: Decision | None, stopped: bool, action: str | None, now: datetime
) -> Incident:
    """An open incident no finding of this run matches, closed with the reason its decision
    gives (none: the source no longer lists the resource)."""
    still = False
    resolution: Resolution
    if decision is None:
        # Not listed (an AWS source lists only what runs): stopped, if offhours stopped it.
        resolution = "stopped" if (action or incident.action) else "gone"
    elif stopped or not decision.resource.is_running:
        resolution = "stopped"
    elif decision.exempt_by is not None:
        resolution = "exempt"
    else:
        # running, and not flagged (business hours began) or flagged in a later period
        resolution, still = "hours", True
    return _replace(
        incident,
        state="resolved",
        resolved_at=now,
        resolution=resolution,
        still_running=still,
        action=action if action is not None else incident.action,
        version=incident.version + 1,
    )


#: what telling changes on an incident, put back by :func:`untell`
_TOLD_FIELDS = (
    "last_told_at",
    "told_by",
    "reminders",
    "state",
    "resolved_at",
    "resolution",
    "still_running",
)


def untell(done: Plan, prior: Mapping[str, Incident]) -> tuple[Change, ...]:
    """Changes that undo the telling of ``done`` when no message went out at all (every
    notifier failed): each told incident back to what it was told before (``prior``, by
    incident key; absent: opened but never told), so the next run tells it again.

    The sighting ``done`` wrote (last seen, cost, action) is kept: it is still true."""
    changes = []
    for incident in done.told:
        before = prior.get(incident.key)
        if before is None:
            back = _replace(incident, last_told_at=None, told_by=None)
        else:
            back = _replace(incident, **{f: getattr(before, f) for f in _TOLD_FIELDS})
        changes.append(Change(_replace(back, version=incident.version + 1), incident.version))
    return tuple(changes)


def _replace(incident: Incident, **changes: object) -> Incident:
    return replace(incident, **changes)  # type: ignore[arg-type]
