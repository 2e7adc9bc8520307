"""The policy: is a resource left running outside business hours at ``now``, and why (pure).

For each resource, in order:

1. tags are read (keys case-insensitive): a schedule tag replaces the default hours (with the
   holidays it names, or its zone's country's: see :mod:`offhours.hours`), an exemption tag may
   apply. A schedule in a fixed-offset zone (``EST``) applies, with a problem naming the
   region. A tag that cannot be trusted becomes a *problem* on the decision
   (never silently ignored) and the resource is judged as if the tag were absent: malformed,
   expired, an exemption longer than ``max_exemption`` from ``now``, ``always`` (or a schedule
   open at least 23 hours on each day of the week, ``near_always``) when ``allow_always`` is
   off, or one tag given twice with different values (neither wins). Problems the source
   found reading the tags come first;
2. not running → not flagged;
3. a valid, unexpired exemption → not flagged (``exempt_by="exemption"``);
4. an ``always`` schedule tag (or one open every minute of the week) → not flagged
   (``exempt_by="always"``): the report still lists it;
5. a schedule tag open at ``now`` while the default hours are closed → not flagged
   (``exempt_by="schedule"``): it overrides the default, so the report lists it too;
6. started within the grace period → not flagged; a start time more than ``_CLOCK_SKEW`` in the
   future is a problem and gets no grace;
7. otherwise flagged iff the hours are closed at ``now`` — at any instant of off-hours, so a
   missed or extra run still sees what is running.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from offhours.hours import (
    NEAR_ALWAYS_HOURS,
    BusinessHours,
    Exemption,
    TagValueError,
    parse_exemption,
    parse_schedule,
    zone_warning,
)
from offhours.model import Decision, ExemptBy, Resource

__all__ = ["DEFAULT_MAX_EXEMPTION", "MAX_TAG_LENGTH", "Policy", "decide", "evaluate"]

DEFAULT_MAX_EXEMPTION = timedelta(days=30)
#: the longest tag value read (AWS allows 256 characters, GCP labels 63; a description line
#: could be any length)
MAX_TAG_LENGTH = 512
# A start this little in the future is clock skew between the provider and us, not bad data.
_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Policy:
    """Default business hours and the per-resource rules read from tags."""

    hours: BusinessHours
    grace: timedelta = timedelta(0)
    schedule_tag: str = "offhours"
    exempt_tag: str = "offhours-exempt"
    #: the longest exemption honoured, counted from the instant judged
    max_exemption: timedelta = DEFAULT_MAX_EXEMPTION
    #: whether a schedule tag may say ``always``, or be open 23+ hours on every day (near-always)
    allow_always: bool = True

    def __post_init__(self) -> None:
        if self.grace < timedelta(0):
            raise ValueError(f"grace must not be negative, got {self.grace}")
        if self.max_exemption <= timedelta(0):
            raise ValueError(f"max_exemption must be positive, got {self.max_exemption}")
        if not self.schedule_tag.strip() or not self.exempt_tag.strip():
            raise ValueError("the schedule and exemption tag names must not be empty")
        if self.schedule_tag.casefold() == self.exempt_tag.casefold():
            raise ValueError(
                f"the schedule and exemption tags must differ, both are '{self.schedule_tag}'"
            )


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def _period(grace: timedelta) -> str:
    seconds = int(grace.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    if seconds % 60 == 0:
        return f"{seconds // 60}-min"
    return f"{seconds}-s"


class _Facts:
    """What one set of hours says at ``now``; shared by every resource that uses them."""

    def __init__(self, hours: BusinessHours, now: datetime) -> None:
        self.hours = hours
        self.now = now
        self.schedule = hours.describe()
        self.is_open = hours.is_open(now)
        self._why: str | None = None
        self._since: tuple[datetime | None] | None = None

    @property
    def why(self) -> str:
        if self._why is None:
            self._why = self.hours.why(self.now)
        return self._why

    @property
    def closed_since(self) -> datetime | None:
        if self._since is None:
            self._since = (self.hours.closed_since(self.now),)
        return self._since[0]


class _Evaluator:
    """Judges resources against one policy at one instant, parsing each tag value once."""

    def __init__(self, policy: Policy, now: datetime) -> None:
        self.policy = policy
        self.now = _aware(now, "now")
        self._schedules: dict[str, BusinessHours | TagValueError] = {}
        self._exemptions: dict[tuple[str, object], Exemption | TagValueError] = {}
        self._facts: dict[BusinessHours, _Facts] = {}

    def _tag(self, resource: Resource, name: str, problems: list[str]) -> tuple[str, str] | None:
        wanted = name.casefold()
        found = sorted((k, v) for k, v in resource.tags.items() if k.casefold() == wanted)
        if not found:
            return None
        if len({v for _, v in found}) > 1:
            # Neither wins: picking one would let whoever adds the other variant decide.
            keys = ", ".join(k for k, _ in found)
            problems.append(
                f"tags {keys} differ only in case and disagree; neither is used; keep one of them"
            )
            return None
        if len(found) > 1:
            # The same tag twice: a problem even when they agree, as for a description's lines.
            keys = ", ".join(k for k, _ in found)
            problems.append(f"tags {keys} differ only in case; keep one of them")
        key, value = found[0]
        if len(value) > MAX_TAG_LENGTH:
            # Parsing is linear in the text, but a 100 KB tag on every resource is a way to make
            # a run slow; no real schedule or exemption comes near this.
            problems.append(
                f"tag {key} is {len(value):,} characters long, more than the {MAX_TAG_LENGTH} "
                "offhours reads; not used"
            )
            return None
        return key, value

    def _schedule(self, value: str) -> BusinessHours | TagValueError:
        if value not in self._schedules:
            try:
                hours = self.policy.hours
                self._schedules[value] = parse_schedule(
                    value, hours.zone, hours.holidays, local_holidays=True
                )
            except TagValueError as exc:
                self._schedules[value] = exc
        return self._schedules[value]

    def _exemption(self, value: str, hours: BusinessHours) -> Exemption | TagValueError:
        key = (value, hours.zone)
        if key not in self._exemptions:
            try:
                self._exemptions[key] = parse_exemption(value, hours.zone)
            except TagValueError as exc:
                self._exemptions[key] = exc
        return self._exemptions[key]

    def _facts_of(self, hours: BusinessHours) -> _Facts:
        facts = self._facts.get(hours)
        if facts is None:
            facts = self._facts[hours] = _Facts(hours, self.now)
        return facts

    def decide(self, resource: Resource) -> Decision:
        policy = self.policy
        problems: list[str] = list(resource.tag_problems)

        hours = policy.hours
        tagged = self._tag(resource, policy.schedule_tag, problems)
        if tagged is not None:
            key, value = tagged
            parsed = self._schedule(value)
            if isinstance(parsed, TagValueError):
                problems.append(f"tag {key}={parsed}; using the default hours")
            elif not policy.allow_always and parsed.near_always:
                word = (
                    "is"
                    if parsed.always_open
                    else f"is open {NEAR_ALWAYS_HOURS}+ hours every day, like"
                )
                problems.append(
                    f"tag {key}=\"{_shown(value)}\" {word} 'always', which this configuration "
                    "forbids ([tags] allow_always = false); using the default hours"
                )
            else:
                hours = parsed
                # The configuration's own zone is warned about once, by check and audit.
                own_zone = parsed.rules and parsed.zone.key != policy.hours.zone.key
                warning = zone_warning(parsed.zone) if own_zone else None
                if warning is not None:
                    # Valid, so the tag applies; the problem says what to write instead.
                    problems.append(f'tag {key}="{_shown(value)}": {warning}; the tag applies')

        exemption: Exemption | None = None
        tagged = self._tag(resource, policy.exempt_tag, problems)
        if tagged is not None:
            key, value = tagged
            found = self._exemption(value, hours)
            if isinstance(found, TagValueError):
                problems.append(f"tag {key}={found}")
            elif not found.active(self.now):
                problems.append(
                    f'tag {key}="{_shown(value)}": exemption expired on '
                    f"{found.until:%Y-%m-%d %H:%M}; remove the tag or set a later date"
                )
            elif found.until - self.now > policy.max_exemption:
                days = policy.max_exemption / timedelta(days=1)
                problems.append(
                    f'tag {key}="{_shown(value)}": exemption ends {found.until:%Y-%m-%d}, more '
                    f"than {days:g} day{'' if days == 1 else 's'} away "
                    f"(max_exemption_days = {days:g}); not honoured: "
                    f"set a date before {(self.now + policy.max_exemption):%Y-%m-%d}"
                )
            else:
                exemption = found

        facts = self._facts_of(hours)

        def decision(
            flagged: bool,
            reason: str,
            exempt_until: datetime | None = None,
            off_hours_since: datetime | None = None,
            exempt_by: ExemptBy | None = None,
        ) -> Decision:
            return Decision(
                resource,
                flagged,
                reason,
                facts.schedule,
                exempt_until=exempt_until,
                off_hours_since=off_hours_since,
                problems=tuple(problems),
                exempt_by=exempt_by,
            )

        if not resource.is_running:
            return decision(False, "not running")
        if exemption is not None:
            return decision(
                False,
                f"exempt {exemption.describe()}",
                exempt_until=exemption.until,
                exempt_by="exemption",
            )
        tag_hours = hours is not policy.hours
        if hours.always_open or (tag_hours and facts.is_open and hours.open_all_week):
            return decision(False, facts.why, exempt_by="always")
        if tag_hours and facts.is_open and not self._facts_of(policy.hours).is_open:
            # The tag keeps it running while the default hours are closed: an override.
            return decision(False, facts.why, exempt_by="schedule")
        if resource.running_since is not None:
            since = resource.running_since
            if since.tzinfo is None or since.utcoffset() is None:
                problems.append("running_since has no time zone; read as UTC")
                since = since.replace(tzinfo=UTC)
            age = self.now - since
            if -age > _CLOCK_SKEW:
                problems.append(
                    f"start time {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC is in the future "
                    f"(now {self.now:%Y-%m-%d %H:%M} UTC): the source's data or a clock is wrong; "
                    "no grace period applied"
                )
            elif age < policy.grace:
                age = max(age, timedelta(0))
                return decision(
                    False,
                    f"started {_ago(age)} ago, within the {_period(policy.grace)} grace period",
                )
        if facts.is_open:
            return decision(False, facts.why)
        return decision(True, facts.why, off_hours_since=facts.closed_since)


def _shown(value: str) -> str:
    """A tag value quoted in a problem: long ones clipped (the renderers clean the rest)."""
    return value if len(value) <= 80 else value[:79] + "…"


def decide(resource: Resource, policy: Policy, now: datetime) -> Decision:
    """Whether ``resource`` is left running outside business hours at ``now``, and why."""
    return _Evaluator(policy, now).decide(resource)


def evaluate(resources: Iterable[Resource], policy: Policy, now: datetime) -> list[Decision]:
    """One decision per resource, in input order (each distinct tag value is parsed once)."""
    evaluator = _Evaluator(policy, now)
    return [evaluator.decide(resource) for resource in resources]
