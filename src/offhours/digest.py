"""The weekly digest, pure: the incidents of two weeks → hours and cost per owner and group,
the top offenders, and the trend against the week before.

An incident's share of a week is the part of its off-hours running (``opened_at`` to
``last_seen_at``) inside ``[start, end)``; its cost there is ``hourly_cost`` × those hours, or
unknown (``None``, never 0) when it has no price: totals say how many were priced ("4 of 5
priced"). The trend compares cost when both weeks have one, hours otherwise.

JSON schema (``render_digest_json``, ``version`` 1; times ISO-8601 with offset)::

    {
      "version": 1, "kind": "digest", "zone": "Europe/Paris",
      "week":     {"start", "end", "totals": TALLY, "by_owner": [ROW], "by_group": [ROW],
                   "top_offenders": [{"resource_key", "source", "name", "owner", "group",
                                      "kind", "noun", "hours", "cost", "hourly_cost",
                                      "incidents"}]},
      "previous": {"start", "end", "totals": TALLY, "by_owner": [ROW], "by_group": [ROW]},
      "trend": TREND
    }
    TALLY = {"hours", "cost" | null, "incidents", "priced"}
    ROW   = {"owner" | "group": str | null, **TALLY, "trend": TREND | null}   # trend: this week's
    TREND = {"measure": "cost" | "hours", "current", "previous", "change",
             "percent" | null, "direction": "new" | "up" | "down" | "same"}

Strings are the data as the sources gave it, ``\\u``-escaped where unsafe to print (as the
report's JSON); the text form cleans them with :mod:`offhours.untrusted`. Money has at most
4 decimals and hours 2 (:mod:`offhours.amounts`).

Nothing here reads a clock, a file or the network (:func:`collect_digest` reads the store
it is given).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal

from offhours import amounts
from offhours.amounts import rounded
from offhours.untrusted import escape_json, one_line

if TYPE_CHECKING:
    from offhours.incidents import Incident
    from offhours.state.base import Store

__all__ = [
    "DIGEST_JSON_VERSION",
    "NO_GROUP",
    "NO_OWNER",
    "TOP_OFFENDERS",
    "Digest",
    "Offender",
    "Row",
    "Tally",
    "Trend",
    "Week",
    "build_digest",
    "collect_digest",
    "group_label",
    "hours_text",
    "money",
    "offender_detail",
    "owner_label",
    "render_digest_json",
    "render_digest_text",
    "row_line",
    "span",
    "tally_text",
    "title",
    "totals_line",
    "trend_text",
    "week_of",
]

DIGEST_JSON_VERSION = 1
TOP_OFFENDERS = 10
#: how rows without an owner or a group are shown (the JSON says null)
NO_OWNER = "no owner"
NO_GROUP = "(no group)"

Direction = Literal["new", "up", "down", "same"]
_HOUR = 3600.0


@dataclass(frozen=True)
class Tally:
    """Off-hours running hours, estimated cost (``None``: no incident priced), incidents, and
    how many of them were priced (the cost is a lower bound when ``priced < incidents``)."""

    hours: float = 0.0
    cost: float | None = None
    incidents: int = 0
    priced: int = 0

    def plus(self, hours: float, cost: float | None) -> Tally:
        total = self.cost if cost is None else (self.cost or 0.0) + cost
        priced = self.priced + (cost is not None)
        return Tally(self.hours + hours, total, self.incidents + 1, priced)

    @property
    def fully_priced(self) -> bool:
        return self.priced == self.incidents


@dataclass(frozen=True)
class Trend:
    """This week against the week before, in cost when both have one, else in hours.
    ``direction`` is ``new`` when the week before had nothing (two quiet weeks are ``same``);
    ``percent`` is ``None`` when the week before counts 0."""

    measure: Literal["cost", "hours"]
    current: float
    previous: float
    direction: Direction

    @property
    def change(self) -> float:
        return self.current - self.previous

    @property
    def percent(self) -> float | None:
        return None if self.previous == 0 else self.change / self.previous * 100


def _trend(current: Tally, previous: Tally | None) -> Trend:
    before = previous or Tally()
    # Nothing the week before costs nothing; an unpriced week before is no cost to compare.
    by_cost = current.cost is not None and (before.cost is not None or not before.incidents)
    now_v, then_v = (
        (current.cost or 0.0, before.cost or 0.0) if by_cost else (current.hours, before.hours)
    )
    direction: Direction
    if before.incidents == 0:
        direction = "new" if current.incidents else "same"
    elif math.isclose(now_v, then_v, rel_tol=1e-9, abs_tol=1e-9):
        direction = "same"
    else:
        direction = "up" if now_v > then_v else "down"
    return Trend("cost" if by_cost else "hours", now_v, then_v, direction)


@dataclass(frozen=True)
class Row:
    """One owner's or group's week (``key`` ``None``: no owner); ``trend`` against the week
    before (this week's rows only)."""

    key: str | None
    tally: Tally
    trend: Trend | None = None


@dataclass(frozen=True)
class Offender:
    """One resource's week over all its incidents; ``latest`` is the last seen of them (its
    name, owner, group and price as the resource last showed them)."""

    latest: Incident
    tally: Tally


@dataclass(frozen=True)
class Week:
    """One week ``[start, end)`` (in the digest's zone): totals, rows per owner and per group
    (largest first), and every resource seen (largest first: cost, then hours)."""

    start: datetime
    end: datetime
    total: Tally
    by_owner: tuple[Row, ...]
    by_group: tuple[Row, ...]
    resources: tuple[Offender, ...]


@dataclass(frozen=True)
class Digest:
    """The week and the week before (their bounds in ``zone``, where days are counted)."""

    zone: tzinfo
    week: Week
    previous: Week
    trend: Trend

    @property
    def zone_name(self) -> str:
        return str(getattr(self.zone, "key", None) or self.zone)

    @property
    def top_offenders(self) -> tuple[Offender, ...]:
        return self.week.resources[:TOP_OFFENDERS]

    @property
    def priced_everywhere(self) -> bool:
        """Every incident of both weeks priced: costs can stand for the whole picture."""
        return self.week.total.fully_priced and self.previous.total.fully_priced


def _largest_first(tally: Tally, label: str) -> tuple[bool, float, float, str]:
    # Known costs first (largest first), then hours; the label keeps the order stable.
    return (tally.cost is None, -(tally.cost or 0.0), -tally.hours, label)


def _utc(dt: datetime) -> datetime:
    # Naive times are UTC (as the stores keep them); aware ones compared in UTC, never by wall
    # clock (Python compares two datetimes of the same tzinfo by their wall clocks).
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _inside(incident: Incident, start: datetime, end: datetime) -> float:
    """Hours of ``incident``'s off-hours running inside ``[start, end)``."""
    begin = max(_utc(incident.opened_at), start)
    stop = min(_utc(incident.last_seen_at), end)
    return max(0.0, (stop - begin).total_seconds() / _HOUR)


def _overlaps(incident: Incident, start: datetime, end: datetime) -> bool:
    # An incident seen once (opened and last seen at the same instant) counts in its week.
    opened, seen = _utc(incident.opened_at), _utc(incident.last_seen_at)
    return opened < end and seen >= start and (seen > start or opened == seen)


def _rows(
    tallies: dict[str | None, Tally],
    label: Callable[[str | None], str],
    before: dict[str | None, Tally] | None,
) -> tuple[Row, ...]:
    rows = [
        Row(k, t, _trend(t, before.get(k)) if before is not None else None)
        for k, t in tallies.items()
    ]
    return tuple(sorted(rows, key=lambda r: _largest_first(r.tally, label(r.key))))


def owner_label(key: str | None) -> str:
    return NO_OWNER if key is None else key


def group_label(key: str | None) -> str:
    return key or NO_GROUP


def _week(
    incidents: Iterable[Incident],
    start: datetime,
    end: datetime,
    before: Week | None = None,
) -> Week:
    begin, finish = _utc(start), _utc(end)
    total = Tally()
    owners: dict[str | None, Tally] = defaultdict(Tally)
    groups: dict[str | None, Tally] = defaultdict(Tally)
    tallies: dict[str, Tally] = defaultdict(Tally)
    latest: dict[str, Incident] = {}
    for incident in incidents:
        if not _overlaps(incident, begin, finish):
            continue
        hours = _inside(incident, begin, finish)
        cost = None if incident.hourly_cost is None else incident.hourly_cost * hours
        total = total.plus(hours, cost)
        owners[incident.owner] = owners[incident.owner].plus(hours, cost)
        groups[incident.group or None] = groups[incident.group or None].plus(hours, cost)
        key = incident.resource_key
        tallies[key] = tallies[key].plus(hours, cost)
        seen = latest.get(key)
        if seen is None or _utc(incident.last_seen_at) >= _utc(seen.last_seen_at):
            latest[key] = incident
    resources = tuple(
        sorted(
            (Offender(i, tallies[key]) for key, i in latest.items()),
            key=lambda o: _largest_first(o.tally, o.latest.resource_key),
        )
    )
    prior_owners = {r.key: r.tally for r in before.by_owner} if before else None
    prior_groups = {r.key: r.tally for r in before.by_group} if before else None
    return Week(
        start,
        end,
        total,
        _rows(owners, owner_label, prior_owners),
        _rows(groups, group_label, prior_groups),
        resources,
    )


def week_of(now: datetime, zone: tzinfo, weeks_ago: int = 0) -> tuple[datetime, datetime]:
    """The last complete week before ``now`` (``weeks_ago`` further back), Monday 00:00 to
    Monday 00:00 in ``zone``: on Monday 09:00 the week that just ended."""
    if now.tzinfo is None:
        raise ValueError("now must be aware (give it a time zone)")
    if weeks_ago < 0:
        raise ValueError("weeks_ago must be 0 or more")
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday() + 7 * (weeks_ago + 1))
    # Built from the calendar date, so a week across a DST change is still Monday to Monday.
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    return start, end


def build_digest(
    incidents: Iterable[Incident], *, start: datetime, end: datetime, zone: tzinfo
) -> Digest:
    """The digest of ``[start, end)`` and, for the trend, of the week before it
    (``[start - 7 days, start)`` on the calendar of ``zone``) from the same ``incidents``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware")
    if end <= start:
        raise ValueError("end must be after start")
    start, end = start.astimezone(zone), end.astimezone(zone)
    prev_start = datetime.combine(start.date() - timedelta(days=7), start.timetz())
    items = list(incidents)
    previous = _week(items, prev_start, start)
    week = _week(items, start, end, before=previous)
    return Digest(zone, week, previous, _trend(week.total, previous.total))


def collect_digest(store: Store, *, now: datetime, zone: tzinfo, weeks_ago: int = 0) -> Digest:
    """The digest of the last complete week before ``now`` (``weeks_ago`` further back),
    from one read of the store covering it and the week before."""
    start, end = week_of(now, zone, weeks_ago)
    prev_start, _ = week_of(now, zone, weeks_ago + 1)
    return build_digest(store.history(prev_start, end), start=start, end=end, zone=zone)


# ---------------------------------------------------------------- wording (every channel's)


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def hours_text(hours: float) -> str:
    return f"{hours:,.1f} h"


def tally_text(tally: Tally) -> str:
    """``12.5 h · $40.00 · 3 incidents`` (``2 of 3 priced`` when some had no price)."""
    parts = [hours_text(tally.hours)]
    if tally.cost is not None:
        parts.append(money(tally.cost))
    parts.append(f"{tally.incidents} incident{'s' if tally.incidents != 1 else ''}")
    if not tally.fully_priced:
        parts.append(f"{tally.priced} of {tally.incidents} priced")
    return " · ".join(parts)


def trend_text(trend: Trend) -> str:
    """``up $12.00 (+25%)``, ``down 3.0 h (-10%)``, ``same``, ``new``."""
    if trend.direction in ("new", "same"):
        return trend.direction
    amount = abs(trend.change)
    shown = money(amount) if trend.measure == "cost" else hours_text(amount)
    percent = trend.percent
    rate = f" ({percent:+.0f}%)" if percent is not None else ""
    return f"{trend.direction} {shown}{rate}"


def title(digest: Digest) -> str:
    """``Off-hours digest: week of 2026-11-23 (Europe/Paris)``."""
    return f"Off-hours digest: week of {digest.week.start:%Y-%m-%d} ({digest.zone_name})"


def span(digest: Digest) -> str:
    """``Mon 2026-11-23 to Sun 2026-11-29``: the days the week covers."""
    last = digest.week.end.date() - timedelta(days=1)
    return f"{digest.week.start:%a %Y-%m-%d} to {last:%a %Y-%m-%d}"


def totals_line(digest: Digest) -> str:
    previous = digest.previous.total
    if not digest.week.total.incidents:  # said once, with the week before for comparison
        if not previous.incidents:
            return "Nothing ran off hours this week, nor the week before."
        return f"Nothing ran off hours this week (the week before: {tally_text(previous)})."
    total = f"Total: {tally_text(digest.week.total)}"
    if not previous.incidents:
        return f"{total} — nothing ran off hours the week before"
    return f"{total} — {trend_text(digest.trend)} against the week before ({tally_text(previous)})"


def row_line(row: Row, label: str, width: int = 0) -> str:
    trend = f" — {trend_text(row.trend)}" if row.trend is not None else ""
    return f"{label.ljust(width)}  {tally_text(row.tally)}{trend}"


def offender_detail(offender: Offender, owner: str, group: str) -> str:
    """``alice, lab-7 — 12.0 h — $9.00``: what follows an offender's name."""
    t = offender.tally
    cost = money(t.cost) if t.cost is not None else "price unknown"
    return f"{owner}, {group} — {hours_text(t.hours)} — {cost}"


# ---------------------------------------------------------------- text


def _clean(text: str | None, fallback: str) -> str:
    return one_line(text or "") or fallback


def _table(rows: Sequence[Row], label: Callable[[str | None], str]) -> list[str]:
    labels = [one_line(label(r.key)) or label(None) for r in rows]
    width = min(40, max((len(x) for x in labels), default=0))
    return [f"  {row_line(r, x, width)}" for r, x in zip(rows, labels, strict=True)]


def render_digest_text(digest: Digest) -> str:
    """The digest for a terminal: external text cleaned to one line per field."""
    out = [title(digest), span(digest), "", totals_line(digest)]
    if not digest.week.total.incidents:
        return "\n".join(out) + "\n"
    out += ["", "By owner:", *_table(digest.week.by_owner, owner_label)]
    out += ["", "By group:", *_table(digest.week.by_group, group_label)]
    out += ["", "Top offenders:"]
    for rank, o in enumerate(digest.top_offenders, 1):
        i = o.latest
        detail = offender_detail(o, _clean(i.owner, NO_OWNER), _clean(i.group, NO_GROUP))
        out.append(f"  {rank:>2}. {_clean(i.name, '(no name)')} — {detail}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- JSON


def _tally_json(tally: Tally) -> dict[str, Any]:
    return {
        "hours": tally.hours,
        "cost": tally.cost,
        "incidents": tally.incidents,
        "priced": tally.priced,
    }


def _trend_json(trend: Trend | None) -> dict[str, Any] | None:
    if trend is None:
        return None
    # Hours to 2 decimals where the trend is in hours (money keeps 4: amounts.rounded).
    figure = amounts.hours if trend.measure == "hours" else amounts.money
    return {
        "measure": trend.measure,
        "current": figure(trend.current),
        "previous": figure(trend.previous),
        "change": figure(trend.change),
        "percent": trend.percent,
        "direction": trend.direction,
    }


def _rows_json(rows: Sequence[Row], field: str) -> list[dict[str, Any]]:
    return [{field: r.key, **_tally_json(r.tally), "trend": _trend_json(r.trend)} for r in rows]


def _week_json(week: Week) -> dict[str, Any]:
    return {
        "start": week.start.isoformat(),
        "end": week.end.isoformat(),
        "totals": _tally_json(week.total),
        "by_owner": _rows_json(week.by_owner, "owner"),
        "by_group": _rows_json(week.by_group, "group"),
    }


def render_digest_json(digest: Digest) -> str:
    """The digest in the schema documented at the top of this module."""
    week = _week_json(digest.week)
    week["top_offenders"] = [
        {
            "resource_key": o.latest.resource_key,
            "source": o.latest.source,
            "name": o.latest.name,
            "owner": o.latest.owner,
            "group": o.latest.group,
            "kind": o.latest.kind,
            "noun": o.latest.noun,
            "hours": o.tally.hours,
            "cost": o.tally.cost,
            "hourly_cost": o.latest.hourly_cost,
            "incidents": o.tally.incidents,
        }
        for o in digest.top_offenders
    ]
    document = {
        "version": DIGEST_JSON_VERSION,
        "kind": "digest",
        "zone": digest.zone_name,
        "week": week,
        "previous": _week_json(digest.previous),
        "trend": _trend_json(digest.trend),
    }
    # Money and hours without float noise (40.83, not 40.833333333333336).
    return escape_json(json.dumps(rounded(document), indent=2, ensure_ascii=False)) + "\n"
