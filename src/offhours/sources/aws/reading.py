"""Walks one :class:`~.kinds.KindSpec` in one account and region: every page of its listing and
of the calls chained to it (per item or per batch), the further calls per running item, and
each item as a :class:`~offhours.model.Resource` (owner and group from tags, size, units, start
time, and a price when a pricer is given).

Items come from AWS, so they are data of any shape: one without a usable id is skipped and
counted in a note, a field of the wrong type reads as absent, and nothing here raises on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from offhours.model import Resource
from offhours.sources.aws.kinds import Item, KindSpec, Listing, Lookup, read_field

__all__ = ["Pricer", "Where", "read_kind", "tags_of"]

#: (product, region, size, units) → (hourly USD for those units, None) or (None, why it is
#: unknown). The product says which price list: "ec2", "rds:<engine>", "redshift"…
Pricer = Callable[[str, str, str | None, int], tuple[float | None, str | None]]

#: a client of another service in the same account and region (``service`` → client)
Clients = Callable[[str], Any]

#: tags kept per resource (AWS allows 50); values clipped, as any external text
MAX_TAGS = 64
MAX_TAG_TEXT = 256


@dataclass(frozen=True)
class Where:
    """The account and region a read happens in, and how the source names them."""

    source: str
    account: str
    region: str
    account_name: str | None = None


def tags_of(raw: object) -> dict[str, str]:
    """``[{Key, Value}]`` (or ``{key: value}``, as EKS gives) as a dict, bounded."""
    out: dict[str, str] = {}
    pairs: list[tuple[object, object]]
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [
            (t.get("Key", t.get("key")), t.get("Value", t.get("value")))
            for t in raw
            if isinstance(t, Mapping)
        ]
    else:
        return out
    for key, value in pairs[:MAX_TAGS]:
        if isinstance(key, str) and isinstance(value, str):
            out[key[:MAX_TAG_TEXT]] = value[:MAX_TAG_TEXT]
    return out


def _first(tags: Mapping[str, str], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = tags.get(key)
        if value:
            return value
    return None


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


# ------------------------------------------------------------------------------- calling


def _answers(client: Any, operation: str, items: str, request: Mapping[str, Any]) -> Iterator[Any]:
    """The values at ``items`` in every page of ``operation`` (one call when it has no
    paginator); a list is yielded item by item, a single value as it is."""
    if client.can_paginate(operation):
        pages: Iterable[Any] = client.get_paginator(operation).paginate(**request)
    else:
        pages = (getattr(client, operation)(**request),)
    for page in pages:
        found = read_field(items, page)
        if isinstance(found, list):
            yield from found
        elif found is not None:
            yield found


def _batches(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(values)
    while chunk := list(islice(it, size)):
        yield chunk


def _walk(client: Any, steps: Sequence[Listing], above: tuple[Any, ...]) -> Iterator[Any]:
    """The items of ``steps[0]`` called with the values ``above`` it, each walked through the
    rest of the steps (per value, or per batch where the next step says so)."""
    step, rest = steps[0], steps[1:]
    request = {**step.request, **(step.using(above) if step.using else {})}
    values = _answers(client, step.operation, step.items, request)
    if not rest:
        yield from values
        return
    if rest[0].batch > 0:
        for chunk in _batches(values, rest[0].batch):
            yield from _walk(client, rest, (*above, chunk))
    else:
        for value in values:
            yield from _walk(client, rest, (*above, value))


def _looked_up(spec: KindSpec, item: Item, client: Any, clients: Clients | None) -> Item:
    """``item`` with the answers of the kind's lookups added (those that apply to it)."""
    added: dict[str, Any] = {}
    for lookup in spec.lookups:
        value = _lookup(lookup, {**item, **added}, spec, client, clients)
        if value is not None:
            added[lookup.key] = value
    return {**item, **added} if added else item


def _lookup(
    lookup: Lookup, item: Item, spec: KindSpec, client: Any, clients: Clients | None
) -> Any:
    request = lookup.request(item)
    if request is None:
        return None
    if lookup.service is not None and lookup.service != spec.service:
        if clients is None:  # no way to reach that service: the field stays unknown
            return None
        client = clients(lookup.service)
    found = list(_answers(client, lookup.operation, lookup.items, request))
    if lookup.items.endswith("[]"):
        return found
    return found[0] if found else None


# ------------------------------------------------------------------------------- reading


def read_kind(
    spec: KindSpec,
    client: Any,
    where: Where,
    *,
    owner_tags: Sequence[str],
    group_tag: str,
    pricer: Pricer | None = None,
    kinds: Collection[str] = (),
    clients: Clients | None = None,
    note: Callable[[str], None] | None = None,
) -> Iterator[tuple[Resource, Item]]:
    """Every item of ``spec`` that ``client`` lists, as a resource and the item it came from
    (with what the kind's lookups added, for running items).

    ``kinds`` are the kind words read in the same place: an item another of them reports (an
    instance of an Auto Scaling group when ``asg`` is read) is left to it. ``clients`` reaches
    the other services some lookups call (without it, what they give stays unknown).
    ``note`` is told once how many items were skipped for want of an id.
    """
    skipped = 0
    for raw in _walk(client, (spec.listing, *spec.then), ()):
        if not isinstance(raw, Mapping) or _text(read_field(spec.id, raw)) is None:
            skipped += 1
            continue
        if any(w in kinds and read_field(path, raw) for w, path in spec.left_to.items()):
            continue
        running = bool(spec.running(raw))
        item = _looked_up(spec, raw, client, clients) if running else raw
        price = _price(spec, item, where.region, pricer) if running and pricer else (None, None)
        yield _resource(spec, item, running, where, owner_tags, group_tag, price), item
    if skipped and note is not None:
        noun = spec.kind.nouns or spec.kind.noun + "s"
        note(
            f"{where.source}: {skipped} {noun} ({spec.word}) listed in account {where.account}, "
            f"{where.region} had no usable id and were skipped"
        )


def _resource(
    spec: KindSpec,
    item: Item,
    running: bool,
    where: Where,
    owner_tags: Sequence[str],
    group_tag: str,
    price: tuple[float | None, str | None],
) -> Resource:
    tags = tags_of(read_field(spec.tags, item))
    ident = str(read_field(spec.id, item))
    name = _text(read_field(spec.name, item)) if spec.name else tags.get("Name")
    units = _count(read_field(spec.count, item)) if spec.count else 1
    size = read_field(spec.size, item)
    return Resource(
        provider="aws",
        source=where.source,
        id=ident,
        name=name or ident,
        # A running resource counts at least one unit (an Aurora Serverless cluster has none).
        running=max(units or 0, 1) if running else 0,
        stopped=0 if running else 1,
        owner=_first(tags, owner_tags),
        region=where.region,
        running_since=_time(read_field(spec.since, item)) if running else None,
        since_at_least=spec.since_at_least,
        tags=tags,
        kind=spec.kind_of(item) if spec.kind_of else spec.kind,
        account=where.account,
        group=tags.get(group_tag) or None,
        size=_text(size),
        hourly_cost=price[0],
        price_note=price[1],
    )


def _price(
    spec: KindSpec, item: Item, region: str, pricer: Pricer
) -> tuple[float | None, str | None]:
    """The hourly cost, the sum over what the item bills as; or none, and why."""
    if spec.billing is None:
        return None, spec.unpriced or "price unknown"
    total = 0.0
    for product, size, units in spec.billing(item):
        hourly, why = pricer(product, region, size, units)
        if hourly is None:
            return None, why or "price unknown"
        total += hourly
    if not math.isfinite(total):
        return None, "price unknown: the estimate overflows"
    return total, None
