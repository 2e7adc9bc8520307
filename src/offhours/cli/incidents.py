"""``incidents``, ``snooze`` and ``resolve``: look at and steer what the incident memory holds.

Each works on the local store ``[memory]`` names, or with ``--deployment NAME`` on the deployed
function's table (:mod:`offhours.cli.deployment`). A key is a resource key as reports show it,
or an incident key (``<resource key>@<period start>``, as ``offhours incidents`` shows it).
Exit 0 done, 1 the store failed (its error names the fix), 2 bad usage or an unknown key.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from offhours.amounts import rounded
from offhours.cli import EXIT_FAILED, EXIT_OK
from offhours.cli.deployment import DeploymentOpt, RegionOpt, memory_store
from offhours.cli.exits import guarded
from offhours.cli.options import (
    ConfigOpt,
    Format,
    FormatOpt,
    NowOpt,
    VerboseOpt,
    load_config,
    parse_now,
    setup_logging,
)
from offhours.cli.output import err, out
from offhours.errors import ConfigError, UsageError
from offhours.untrusted import one_line

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from offhours.config import Config
    from offhours.incidents import Incident, Snooze
    from offhours.state import Store

__all__ = [
    "incident_json",
    "incidents",
    "key_forms",
    "parse_when",
    "resolve",
    "snooze",
    "snoozed_until",
]

#: a resource key reads provider/account/region/kind/id (offhours.model.resource_key)
_KEY_PARTS = 5
#: ``2h``, ``3d``: a whole number (small enough never to overflow a timedelta) and a unit
_RELATIVE = re.compile(r"(\d{1,5})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: a reason is a note for people, not a document
_MAX_REASON = 500
#: what a key looks like, for messages
_KEY_SHAPE = "provider/account/region/kind/id"
_KEY_EXAMPLE = "ravello/ravello/EU%20West%201/ravello.application/3604511622"
#: how far back resolved incidents count as known keys (for "did you mean")
_RECENT = timedelta(days=30)

KeyArg = typer.Argument(
    metavar="KEY", help="A resource or incident key, as reports show it", show_default=False
)
ReasonOpt = Annotated[
    str | None,
    typer.Option("--reason", metavar="TEXT", help="Why (kept with it, shown as plain text)"),
]


def parse_when(text: str, option: str, *, now: datetime, zone: tzinfo, ahead: bool) -> datetime:
    """An aware instant from the command line: ISO-8601 (without a zone, in the business-hours
    zone ``zone``), a date (its midnight there), or a span from ``now``
    (``30m``, ``2h``, ``3d``, ``1w``: ``ahead`` of it, or back from it)."""
    given = text.strip()
    span = _RELATIVE.fullmatch(given.lower())
    if span:
        delta = timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
        return now + delta if ahead else now - delta
    try:
        # the same times --now takes: a zone, or none (read in the hours zone), or a date
        return parse_now(given, zone, option)
    except ConfigError:
        raise UsageError(
            f"{option} {text!r} is not a time; write an ISO-8601 time (2026-12-01T08:00Z, or "
            "2026-12-01T08:00 in the business-hours zone), a date (2026-12-01), or a span "
            "such as 2h or 3d"
        ) from None


def _zone(cfg: Config) -> tzinfo:
    from offhours.hours import parse_zone

    return parse_zone(cfg.hours.timezone)


def _at(value: datetime | None, zone: tzinfo) -> str:
    return "—" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z").strip()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _split_key(key: str) -> tuple[str, str]:
    """``(resource key, "@<period>")`` of an incident key, ``(key, "")`` of a resource key. A
    key typed unencoded may hold an ``@`` of its own: only a period (``always``, a time) after
    the last one makes it an incident key."""
    from offhours.incidents import ALWAYS_PERIOD

    given = key.strip()
    head, at, tail = given.rpartition("@")
    if at and (tail == ALWAYS_PERIOD or _is_time(tail)):
        return head, at + tail
    return given, ""


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _resource_key(key: str) -> str:
    """The resource key of a resource or incident key (the part before the period)."""
    resource = _split_key(key)[0]
    if len(resource.split("/")) != _KEY_PARTS:
        raise ConfigError(
            f"{one_line(key)!r} is not a resource or incident key: keys read "
            f"{_KEY_SHAPE}, optionally followed by @<period start>, as reports and "
            "`offhours incidents` show them"
        )
    return resource


def key_forms(key: str) -> list[str]:
    """The stored forms ``key`` may stand for, likeliest first: a key as reports, JSON and
    ``offhours incidents`` show it (each part percent-encoded, :func:`offhours.model.resource_key`)
    or as a person types it (``EU West 1``). Each part already encoded is kept and any other
    encoded; then every part encoded whole (a part may hold a literal ``%``), then every
    part decoded and encoded again. Raises ConfigError when it cannot be a key."""
    from urllib.parse import quote, unquote

    def encoded(part: str) -> str:
        return quote(part, safe="", errors="surrogatepass")

    def kept(part: str) -> str:
        # already in the encoded form resource_key writes: as is
        return part if encoded(unquote(part)) == part else encoded(part)

    parts = _resource_key(key).split("/")
    period = _split_key(key)[1]
    forms = (
        [kept(p) for p in parts],
        [encoded(p) for p in parts],
        [encoded(unquote(p)) for p in parts],
    )
    return list(dict.fromkeys("/".join(f) + period for f in forms))


def _lookup(store: Store, key: str) -> tuple[str, list[Incident]]:
    """The stored form of ``key`` and its incidents (newest first): the first of
    :func:`key_forms` the store knows, else the likeliest form and none."""
    forms = key_forms(key)
    for form in forms:
        found = store.find(form)
        if found:
            return form, found
    return forms[0], []


def _known_keys(store: Store, now: datetime) -> list[str]:
    """The incident and resource keys of the open incidents and of those resolved lately."""
    known: set[str] = set()
    for i in store.incidents(since=now - _RECENT):
        known.update((i.key, i.resource_key))
    return sorted(known)


def _closest(key: str, known: Sequence[str]) -> list[str]:
    """The known keys most like ``key`` (a stored form), of its kind: incident keys for an
    incident key, resource keys for a resource key (a stored resource key has no ``@``)."""
    import difflib

    alike = [k for k in known if ("@" in k) == ("@" in key)]
    return difflib.get_close_matches(key, alike, n=3, cutoff=0.5)


def _reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    if len(reason) > _MAX_REASON:
        raise ConfigError(f"--reason is {len(reason)} characters long; keep it under {_MAX_REASON}")
    return reason.strip()


# ------------------------------------------------------------------ incidents


def incidents(
    everything: Annotated[
        bool, typer.Option("--all", help="Also the resolved incidents the store keeps")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Also the incidents resolved since TIME (ISO-8601, a date, or a span: 3d)",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, metavar="N", help="At most N, newest first")
    ] = None,
    now: NowOpt = None,
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.text,
    deployment: DeploymentOpt = None,
    region: RegionOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """List the open incidents (and resolved ones with --all or --since), newest first."""
    setup_logging(verbose)

    def body() -> int:
        cfg = load_config(config)
        at = parse_now(now, cfg.hours.timezone)
        zone = _zone(cfg)
        after = parse_when(since, "--since", now=at, zone=zone, ahead=False) if since else None
        open_only = not everything and after is None
        with memory_store(cfg, deployment=deployment, region=region) as store:
            found = store.incidents(open_only=open_only, since=after, limit=limit)
            if fmt is Format.json:
                document = {"store": store.name, "incidents": [incident_json(i) for i in found]}
                # ensure_ascii: every control, bidi or zero-width character is \u-escaped;
                # money and hours without float noise.
                out.print(json.dumps(rounded(document), indent=2), markup=False)
            elif found:
                snoozed = snoozed_until(found, store.snoozes(now=at), at)
                _listing(found, store, zone, open_only=open_only, snoozed=snoozed)
            else:
                what = "open incidents" if open_only else "incidents"
                out.print(f"No {what} in {store.name}", markup=False)
        return EXIT_OK

    guarded(body)


def incident_json(incident: Incident) -> dict[str, Any]:
    """Every field of an incident, times as ISO-8601."""
    return {f.name: _jsonable(getattr(incident, f.name)) for f in dataclasses.fields(incident)}


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def snoozed_until(
    found: Sequence[Incident], snoozes: Sequence[Snooze], now: datetime
) -> dict[str, datetime]:
    """When the snoozes active at ``now`` stop keeping each open incident quiet (the latest,
    by its resource's key or its group), by incident key."""
    until: dict[str, datetime] = {}
    for i in found:
        ends = [s.until for s in snoozes if i.open and s.covers(i.resource_key, i.group, now)]
        if ends:
            until[i.key] = max(ends)
    return until


#: the indent of an incident's lines under its key
_INDENT = "    "


def _listing(
    found: Sequence[Incident],
    store: Store,
    zone: tzinfo,
    *,
    open_only: bool,
    snoozed: Mapping[str, datetime],
) -> None:
    """One entry per incident, wrapped to the terminal (80 columns in a pipe): its key alone
    on a line, never broken (what snooze and resolve are given, to be copied whole), then who,
    when, and its state and cost, indented."""
    import textwrap

    from rich.text import Text

    from offhours.report import plural
    from offhours.untrusted import one_line

    width = max(40, out.width)
    opened = sum(1 for i in found if i.open)
    head = plural(opened, "open incident")
    if not open_only:
        head += f", {len(found) - opened} resolved"
    for line in textwrap.wrap(f"{head} in {store.name}", width, break_long_words=False):
        out.print(line, markup=False)  # a long path on a line of its own, whole
    for i in found:
        # External text is cleaned, and printed as Text: never parsed as markup.
        out.print(Text(one_line(i.key), style="bold"))
        who = [one_line(i.name) or "(no name)", one_line(i.owner or "no owner")]
        if i.group:
            who.append(f"group {one_line(i.group)}")
        told = f"last told {_at(i.last_told_at, zone)}" if i.last_told_at else "not told yet"
        fields = [
            " — ".join(who),
            f"opened {_at(i.opened_at, zone)}; {told}; {plural(i.reminders, 'reminder')}",
            f"{one_line(_state(i, zone, snoozed.get(i.key)))}; cost so far {_cost(i)}",
        ]
        for field in fields:
            for line in textwrap.wrap(
                field,
                width,
                initial_indent=_INDENT,
                subsequent_indent=_INDENT,
                break_on_hyphens=False,
            ):
                out.print(Text(line))


def _state(incident: Incident, zone: tzinfo, snoozed: datetime | None = None) -> str:
    if incident.open:
        state = f"snoozed until {_at(snoozed, zone)}" if snoozed else "open"
        return state + (f" ({incident.action})" if incident.action else "")
    said = f"resolved {_at(incident.resolved_at, zone)}: {incident.resolution or '?'}"
    if incident.still_running:
        said += ", still running"
    return said + (f" ({incident.note})" if incident.note else "")


def _cost(incident: Incident) -> str:
    if incident.cost_so_far is None:
        return "—"
    return ("≥" if incident.cost_at_least else "") + f"${incident.cost_so_far:,.2f}"


# ------------------------------------------------------------------ snooze


def snooze(
    key: Annotated[str | None, KeyArg] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", metavar="GROUP", help="Every resource of this group (its group tag)"
        ),
    ] = None,
    until: Annotated[
        str,
        typer.Option(
            "--until",
            metavar="TIME",
            help="Until when (ISO-8601 with a zone, a date, or a span: 2h, 3d); at most "
            "[tags] max_exemption_days ahead",
            show_default=False,
        ),
    ] = "",
    reason: ReasonOpt = None,
    now: NowOpt = None,
    config: ConfigOpt = None,
    deployment: DeploymentOpt = None,
    region: RegionOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Keep quiet about KEY (or --group G) until --until: not told, not reminded."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.incidents import Snooze

        cfg = load_config(config)
        at = parse_now(now, cfg.hours.timezone)
        target, scope = _target(key, group)
        zone = _zone(cfg)
        if not until.strip():
            raise UsageError("say until when: --until TIME (e.g. 2026-12-01T08:00Z, 2d)")
        end = _bounded(parse_when(until, "--until", now=at, zone=zone, ahead=True), at, cfg)
        made = Snooze(
            target=target,
            scope=scope,
            until=end,
            created_at=at,
            reason=_reason(reason),
            by=_user(),
        )
        with memory_store(cfg, deployment=deployment, region=region) as store:
            if scope == "key":
                # the stored form of the key, however it was written
                form, found = _lookup(store, target)
                made = dataclasses.replace(made, target=_resource_key(form))
                if not found:
                    _warn_unknown(store, made.target, at)
            store.add_snooze(made)
            what = "group" if scope == "group" else "resource"
            out.print(
                f"Snoozed {what} {one_line(made.target)!r} until {_at(end, zone)} "
                f"({_iso(end)}) in {store.name}",
                markup=False,
            )
        return EXIT_OK

    guarded(body)


def _target(key: str | None, group: str | None) -> tuple[str, Literal["key", "group"]]:
    if (key is None) == (group is None):
        raise UsageError("say what to snooze: one KEY or --group GROUP (exactly one)")
    if group is not None:
        if not group.strip():
            raise ConfigError("--group needs a group name (the value of the source's group tag)")
        return group.strip(), "group"
    key_forms(key or "")  # refuse what cannot be a key before asking the store
    return (key or "").strip(), "key"


def _warn_unknown(store: Store, key: str, now: datetime) -> None:
    """A snooze of a key no incident has: kept (the resource may not be flagged yet), but
    said, with the closest known keys, as a typo would otherwise go unnoticed."""
    known = _known_keys(store, now)
    close = _closest(key, known)
    if close:
        hint = "did you mean " + " or ".join(repr(one_line(k)) for k in close) + "?"
    else:
        shape = repr(one_line(known[0])) if known else f"{_KEY_SHAPE}, e.g. {_KEY_EXAMPLE}"
        hint = f"keys look like {shape}, as `offhours incidents` and JSON reports show them"
    err.print(
        f"warning: no incident is known for {one_line(key)!r} in {store.name}; the snooze "
        f"applies when a resource with this key is flagged; {hint}",
        markup=False,
    )


def _bounded(end: datetime, now: datetime, cfg: Config) -> datetime:
    """``end``, when it is ahead of ``now`` and within ``[tags] max_exemption_days``: a snooze
    always ends, and never later than an exemption tag could."""
    if end <= now:
        raise ConfigError(
            f"--until {_iso(end)} is not in the future (now is {_iso(now)}); give a later time"
        )
    days = cfg.tags.max_exemption_days
    latest = now + timedelta(days=days)
    if end > latest:
        raise ConfigError(
            f"--until {_iso(end)} is more than [tags] max_exemption_days = {days} days "
            f"from now; the latest allowed is {_iso(latest)}"
        )
    return end


def _user() -> str | None:
    """Who snoozed it, as this machine names them (a note, not an identity)."""
    import getpass

    try:
        return getpass.getuser() or None
    except (OSError, KeyError):
        return None


# ------------------------------------------------------------------ resolve


def resolve(
    key: Annotated[str, KeyArg],
    reason: ReasonOpt = None,
    now: NowOpt = None,
    config: ConfigOpt = None,
    deployment: DeploymentOpt = None,
    region: RegionOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Close KEY's open incident by hand: the next run that sees it running opens a new one."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.incidents import Change

        cfg = load_config(config)
        at = parse_now(now, cfg.hours.timezone)
        key_forms(key)  # refuse what cannot be a key before asking the store
        zone = _zone(cfg)
        with memory_store(cfg, deployment=deployment, region=region) as store:
            wanted, found = _lookup(store, key)
            if not found:
                raise ConfigError(_unknown(wanted, store, at))
            still = [i for i in found if i.open]
            if not still:
                last = found[0]
                out.print(
                    f"Already resolved: {last.key} at {_at(last.resolved_at, zone)} "
                    f"({last.resolution or '?'})",
                    markup=False,
                )
                return EXIT_OK
            note = _reason(reason)
            changes = [
                Change(
                    dataclasses.replace(
                        i,
                        state="resolved",
                        resolved_at=at,
                        resolution="by hand",
                        note=note,
                        version=i.version + 1,
                    ),
                    expected_version=i.version,
                )
                for i in still
            ]
            written = store.apply(changes, now=at)
            for i in still:
                if i.key in written:
                    out.print(f"Resolved {i.key} by hand in {store.name}", markup=False)
            missed = [i.key for i in still if i.key not in written]
            if missed:
                err.print(
                    f"offhours: {', '.join(missed)} changed while being resolved (a run "
                    "wrote it meanwhile); run `offhours resolve` again",
                    markup=False,
                )
                return EXIT_FAILED
        return EXIT_OK

    guarded(body)


def _unknown(key: str, store: Store, now: datetime) -> str:
    """No incident of ``key``: the message names the closest known keys."""
    known = _known_keys(store, now)
    close = _closest(key, known)
    said = f"no incident of {one_line(key)!r} in {store.name}"
    if close:
        return said + "; did you mean " + " or ".join(repr(one_line(k)) for k in close) + "?"
    if not known:
        return said + "; it has no open incidents (nor any resolved lately)"
    return said + "; `offhours incidents --all` lists the keys it knows"
