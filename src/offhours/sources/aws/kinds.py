"""Every AWS kind offhours reads, as one table: a :class:`KindSpec` per config word.

An entry says which service to call and how to page it, where the id, name, size (what it is
billed as), unit count, start time and tags are in each item, what "running" means, and the
IAM actions reading it needs. Stopping and restoring are in its ``stop`` entry
(:mod:`.stopping`). The engine that walks an entry is :mod:`.reading`; nothing here is code
per kind beyond small field readers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from offhours.model import Kind

__all__ = ["KINDS", "KindSpec", "Listing"]

Item = Mapping[str, Any]


@dataclass(frozen=True)
class Listing:
    """One paged call: ``operation`` (a boto3 paginator name) with ``request`` parameters,
    whose pages hold items at the JMESPath ``items``."""

    operation: str
    items: str
    request: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KindSpec:
    """One kind of AWS resource, declaratively (see the module docstring)."""

    word: str
    kind: Kind
    service: str
    listing: Listing
    id: str  # JMESPath of the id in an item
    running: Callable[[Item], bool]
    name: str | None = None  # JMESPath; None: the ``Name`` tag, else the id
    size: str | None = None  # JMESPath of the instance type / class
    count: str | None = None  # JMESPath of the units running; None: 1
    since: str | None = None  # JMESPath of when it started (exact)
    since_at_least: bool = False  # ``since`` is a lower bound (a last modification)
    tags: str = "Tags"  # JMESPath of the [{Key, Value}] list
    read_actions: tuple[str, ...] = ()


KINDS: dict[str, KindSpec] = {
    "ec2": KindSpec(
        word="ec2",
        kind=Kind("aws.ec2.instance", noun="instance", unit="instance"),
        service="ec2",
        listing=Listing(
            "describe_instances",
            "Reservations[].Instances[]",
            {"Filters": [{"Name": "instance-state-name", "Values": ["running"]}]},
        ),
        id="InstanceId",
        running=lambda item: (item.get("State") or {}).get("Name") == "running",
        size="InstanceType",
        # LaunchTime is the last start of an EBS-backed instance, not its first launch.
        since="LaunchTime",
        read_actions=("ec2:DescribeInstances",),
    ),
}
