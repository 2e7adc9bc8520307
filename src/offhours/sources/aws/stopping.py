"""Stopping findings, and putting back what was stopped: one executor for every kind.

What stop and restore mean per kind, and the tag that saves what undoes a stop, are the table
in :mod:`.stops` (re-exported here). For each finding whose kind's action is "stop", the
resource is read fresh and judged on that (:func:`~.stops.refusal`); the tag is written first,
so nothing is stopped without what puts it back; a failing resource never stops the others.
Every resource gives one :class:`~offhours.model.Action`: done, would (a dry run: no AWS write
at all), refused with the reason, failed with AWS's own code and message (scrubbed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from offhours.errors import ConfigError, SourceError
from offhours.model import KEY_SEPARATOR, Action, ActionOutcome, Finding, resource_key
from offhours.sources.aws.fleet import describe
from offhours.sources.aws.stops import (
    BY_KIND,
    SAVED_TAG,
    STOPS,
    Item,
    Place,
    StopSpec,
    parse_saved,
    refusal,
    saved_value,
)
from offhours.sources.base import RestoreSelection
from offhours.untrusted import one_line

if TYPE_CHECKING:
    from offhours.sources.aws.source import AwsSource

__all__ = ["SAVED_TAG", "STOPS", "StopSpec", "act", "restore"]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- the executor


class _Run:
    """One act or restore: the source, its places (clients made once), the instant."""

    def __init__(self, source: AwsSource, *, dry_run: bool, now: datetime) -> None:
        self.source = source
        self.dry_run = dry_run
        self.now = now
        self._places: dict[tuple[str, str], Place] = {}
        self._lock = Lock()

    def place(self, account: str, region: str) -> Place:
        with self._lock:
            key = (account, region)
            if key not in self._places:
                self._places[key] = Place(self.source, account, region)
            return self._places[key]

    def action(
        self, key: str, name: str, verb: str, outcome: ActionOutcome, detail: str, call: str = ""
    ) -> Action:
        return Action(self.source.name, key, name, verb, outcome, detail, self.now, call)

    def each(self, work: Callable[[Any], Action], items: Sequence[Any]) -> list[Action]:
        """``work`` on every item on a bounded pool, in order; each item fails on its own."""
        if not items:
            return []
        workers = min(self.source.settings.max_workers, len(items))
        with ThreadPoolExecutor(workers, "offhours-act") as pool:
            return list(pool.map(work, items))


def _stop_one(run: _Run, finding: Finding) -> Action:
    r = finding.resource
    spec = BY_KIND[r.kind.name]
    place = run.place(r.account, r.region or "")
    verb = spec.verb
    try:
        item = spec.fresh(place, r.id)
        if item is None:
            return run.action(r.key, r.name, verb, "refused", "gone since it was read")
        reason = refusal(spec, place, item)
        if reason:
            return run.action(r.key, r.name, verb, "refused", reason)
        saved = spec.save(place, item)
        call = f"{spec.stop_call} {r.id}"
        if saved.get("hibernate"):
            verb, call = "hibernate", f"{call} Hibernate=True"
        value = saved_value(run.now, saved)
        if run.dry_run:
            made = f"{call}, tagging it {SAVED_TAG}={value}"
            return run.action(r.key, r.name, verb, "would", spec.note, made)
        # The tag first: a resource is never stopped or scaled down without what undoes it.
        arn = spec.arn(place, item)
        client = place.client(spec.service)
        spec.tagger.put(client, arn, SAVED_TAG, value)
        try:
            spec.stop(place, item, saved)
        except Exception:
            _quietly(lambda: spec.tagger.remove(client, arn, SAVED_TAG))
            raise
        made = f"{call}; saved {SAVED_TAG}={value}"
        return run.action(r.key, r.name, verb, "done", spec.note, made)
    except (ClientError, BotoCoreError) as exc:
        return run.action(r.key, r.name, verb, "failed", describe(exc))
    except Exception as exc:  # an answer of an unexpected shape: this resource only
        log.error("stopping %s failed unexpectedly", r.key, exc_info=True)
        return run.action(r.key, r.name, verb, "failed", f"unexpected {type(exc).__name__}")


def _quietly(undo: Callable[[], object]) -> None:
    try:
        undo()
    except (ClientError, BotoCoreError):
        log.warning("could not remove the tag %s after a failed stop", SAVED_TAG, exc_info=True)


def act(
    source: AwsSource,
    findings: Sequence[Finding],
    *,
    dry_run: bool,
    now: datetime,
    hours_open: bool,
) -> list[Action]:
    """Stop the findings whose kind's action is "stop"; one Action each. While business hours
    are open and ``restore_at_business_hours`` is set, first put back what offhours stopped."""
    settings = source.settings
    run = _Run(source, dry_run=dry_run, now=now)
    targets = [
        f
        for f in findings
        if (spec := BY_KIND.get(f.resource.kind.name)) is not None
        and settings.action_for(spec.word) == "stop"
    ]
    actions: list[Action] = []
    if hours_open and settings.restore_at_business_hours:
        # A finding while hours are open (its own tag schedule) is not put back only to stop.
        skip = {f.resource.key for f in targets}
        actions += _restore(run, RestoreSelection(everything=True), skip)
    return actions + run.each(lambda f: _stop_one(run, f), targets)


# ---------------------------------------------------------------------------- restore


@dataclass(frozen=True)
class _Found:
    spec: StopSpec
    place: Place
    item: Item


def _restore_one(run: _Run, found: _Found) -> Action:
    spec, place, item = found.spec, found.place, found.item
    ident = spec.ident(item)
    key = resource_key("aws", place.account, place.region, spec.kind, ident)
    verb = "restore"
    try:
        tags = spec.tags(place, item)
        name = tags.get("Name") or ident
        value = tags.get(SAVED_TAG)
        if value is None:
            return run.action(
                key, name, verb, "refused", f"no {SAVED_TAG} tag: not stopped by offhours"
            )
        try:
            saved = parse_saved(value)
        except ValueError:
            shown = one_line(value)[:80]
            detail = f"its {SAVED_TAG} tag reads {shown!r}, not what offhours writes: left as is"
            return run.action(key, name, verb, "refused", detail)
        client = place.client(spec.service)
        arn = spec.arn(place, item)
        if not spec.stopped(item):
            # Changed by someone since: their values win; the stale tag goes.
            if not run.dry_run:
                spec.tagger.remove(client, arn, SAVED_TAG)
            dropped = "its tag would be removed" if run.dry_run else "tag removed"
            detail = f"{spec.state(item)} now, not as offhours left it: left as is, {dropped}"
            return run.action(key, name, verb, "refused", detail)
        values = " ".join(f"{k}={v}" for k, v in saved.items() if k != "hibernate")
        call = f"{spec.start_call} {ident} {values}".strip()
        if run.dry_run:
            made = f"{call}, removing its {SAVED_TAG} tag"
            return run.action(key, name, verb, "would", "", made)
        try:
            spec.start(place, item, saved)
        except KeyError as exc:
            detail = f"its {SAVED_TAG} tag lacks {exc}: left as is"
            return run.action(key, name, verb, "refused", detail)
        spec.tagger.remove(client, arn, SAVED_TAG)
        return run.action(key, name, verb, "done", "", call)
    except (ClientError, BotoCoreError) as exc:
        return run.action(key, ident, verb, "failed", describe(exc))
    except Exception as exc:  # an answer of an unexpected shape: this resource only
        log.error("restoring %s failed unexpectedly", key, exc_info=True)
        return run.action(key, ident, verb, "failed", f"unexpected {type(exc).__name__}")


def _places(run: _Run) -> list[Place]:
    """Every account and region the source reads: the same accounts (current, listed, from
    the file, the Organization's) and regions ("all": the enabled ones) as :meth:`collect`."""
    places = run.source.places
    try:
        accounts, unreached = places.accounts()
        if unreached:
            part, problem = unreached[0]
            raise SourceError(run.source.name, f"{part}: {describe(problem)}")
        found = []
        for account in accounts:
            regions, _ = places.regions(account)
            found += [run.place(account.id, region) for region in regions]
    except (ClientError, BotoCoreError) as exc:
        raise SourceError(
            run.source.name, f"could not list its accounts and regions: {describe(exc)}"
        ) from None
    return found


def _parse_key(key: str) -> tuple[str, str, str, str, str] | None:
    parts = [unquote(p) for p in key.split(KEY_SEPARATOR)]
    if len(parts) != 5:
        return None
    return parts[0], parts[1], parts[2], parts[3], parts[4]


def _restore(run: _Run, selection: RestoreSelection, skip: set[str]) -> list[Action]:
    settings = run.source.settings
    if selection.key is not None:
        parsed = _parse_key(selection.key)
        if parsed is None:
            raise ConfigError(
                f"{selection.key!r} is not a resource key; keys read "
                "aws/<account>/<region>/<kind>/<id>, as the report shows them"
            )
        provider, account, region, kind, ident = parsed
        if provider != "aws":
            return []
        spec = BY_KIND.get(kind)
        if spec is None:
            known = ", ".join(sorted(BY_KIND))
            raise ConfigError(f"{selection.key!r}: unknown kind {kind!r}; one of {known}")
        if not any((p.account, p.region) == (account, region) for p in _places(run)):
            return []  # another source's account or region
        place = run.place(account, region)
        try:
            item = spec.fresh(place, ident)
        except (ClientError, BotoCoreError) as exc:
            return [run.action(selection.key, ident, "restore", "failed", describe(exc))]
        if item is None:
            return [run.action(selection.key, ident, "restore", "refused", "not found")]
        return [_restore_one(run, _Found(spec, place, item))]
    found: list[_Found] = []
    actions: list[Action] = []
    for place in _places(run):
        for word in settings.kinds:
            spec = STOPS[word]
            try:
                items = list(spec.tagged(place))
            except (ClientError, BotoCoreError) as exc:
                where = resource_key("aws", place.account, place.region, spec.kind, "*")
                detail = f"could not list what offhours stopped: {describe(exc)}"
                actions.append(
                    run.action(where, f"{word} in {place.region}", "restore", "failed", detail)
                )
                continue
            found += [_Found(spec, place, i) for i in items]
    if selection.group is not None:
        found = [
            f
            for f in found
            if f.spec.tags(f.place, f.item).get(settings.group_tag) == selection.group
        ]
    chosen = [
        f
        for f in found
        if resource_key("aws", f.place.account, f.place.region, f.spec.kind, f.spec.ident(f.item))
        not in skip
    ]
    return actions + run.each(lambda f: _restore_one(run, f), chosen)


def restore(
    source: AwsSource, selection: RestoreSelection, *, dry_run: bool, now: datetime
) -> list[Action]:
    """Put back what offhours stopped, as ``selection`` says; one Action each."""
    return _restore(_Run(source, dry_run=dry_run, now=now), selection, set())
