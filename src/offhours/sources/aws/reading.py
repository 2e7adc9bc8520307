"""Walks one :class:`~.kinds.KindSpec` in one account and region: every page, each item a
:class:`~offhours.model.Resource` (owner and group from tags, size, units, start time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jmespath

from offhours.model import Resource
from offhours.sources.aws.kinds import Item, KindSpec

__all__ = ["Pricer", "Where", "read_kind", "tags_of"]

#: (product, region, size, units) → (hourly USD, None) or (None, why it is unknown). The
#: product says which price list: "ec2", "rds:<engine>", "redshift", "sagemaker-notebook"…
Pricer = Callable[[str, str, str | None, int], tuple[float | None, str | None]]

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


def _search(path: str | None, item: Item) -> Any:
    return None if path is None else jmespath.search(path, item)


def read_kind(
    spec: KindSpec,
    client: Any,
    where: Where,
    *,
    owner_tags: Sequence[str],
    group_tag: str,
    pricer: Pricer | None = None,
) -> Iterator[tuple[Resource, Item]]:
    """Every item of ``spec`` that ``client`` lists, as a resource and the item it came from."""
    paginator = client.get_paginator(spec.listing.operation)
    for page in paginator.paginate(**spec.listing.request):
        for item in jmespath.search(spec.listing.items, page) or ():
            yield _resource(spec, item, where, owner_tags, group_tag), item


def _resource(
    spec: KindSpec, item: Item, where: Where, owner_tags: Sequence[str], group_tag: str
) -> Resource:
    tags = tags_of(_search(spec.tags, item))
    ident = str(_search(spec.id, item))
    name = _search(spec.name, item) if spec.name else tags.get("Name")
    running = spec.running(item)
    count = _search(spec.count, item) if spec.count else 1
    units = count if isinstance(count, int) and count >= 0 else 1
    size = _search(spec.size, item)
    return Resource(
        provider="aws",
        source=where.source,
        id=ident,
        name=str(name or ident),
        running=units if running else 0,
        stopped=0 if running else 1,
        owner=_first(tags, owner_tags),
        region=where.region,
        running_since=_time(_search(spec.since, item)) if running else None,
        since_at_least=spec.since_at_least,
        tags=tags,
        kind=spec.kind,
        account=where.account,
        group=tags.get(group_tag) or None,
        size=str(size) if size else None,
    )
