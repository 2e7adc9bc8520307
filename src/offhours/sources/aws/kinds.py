"""Every AWS kind offhours reads, as one table: a :class:`KindSpec` per config word.

An entry says which service to call and how to page it (a listing, then calls per item or per
batch of items of the step before), the further calls made per running item (tags the listing
lacks, its members), where the id, name, size (what it is billed as), unit count, start time
and tags are in each item, what "running" means, what it is billed as, which other kind
reports it instead (an instance of an Auto Scaling group, an Aurora member), and the IAM
actions reading it needs. Stopping and restoring are in :mod:`.stopping`. The engine that
walks an entry is :mod:`.reading`; nothing here is code per kind beyond small field readers.

A field is a JMESPath expression over the item, or a function of the item.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jmespath

from offhours.model import Kind

if TYPE_CHECKING:
    from offhours.sources.aws.stops import StopSpec

__all__ = ["KINDS", "Bill", "Field", "Item", "KindSpec", "Listing", "Lookup", "read_field"]

Item = Mapping[str, Any]

#: where a value is in an item: a JMESPath expression, or a reader
Field = str | Callable[[Item], Any]

#: one billed part of a resource: (product, size, units), as the pricer takes them; the product
#: names the price list ("ec2", "rds:<engine>[:multi-az]", "redshift", "sagemaker-notebook")
Bill = tuple[str, str | None, int]


def read_field(where: Field | None, item: Any) -> Any:
    """The value at ``where`` in ``item``; None when absent or of a shape the path cannot walk
    (hostile data never raises here)."""
    if where is None:
        return None
    if isinstance(where, str):
        return _path(where)(item)
    return where(item)


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@lru_cache(maxsize=256)
def _path(path: str) -> Callable[[Any], Any]:
    """A reader of the JMESPath ``path``: a plain ``a.b.c`` walked directly (read for every
    item of large fleets, where interpreting it costs more than the rest of the reading)."""
    if _DOTTED.fullmatch(path):
        keys = path.split(".")

        def walk(value: Any) -> Any:
            for key in keys:
                if not isinstance(value, Mapping):
                    return None
                value = value.get(key)
            return value

        return walk
    expression = jmespath.compile(path)

    def search(value: Any) -> Any:
        try:
            return expression.search(value)
        except jmespath.exceptions.JMESPathError:
            return None

    return search


@dataclass(frozen=True)
class Listing:
    """One call: ``operation`` (paged with its boto3 paginator when it has one), with the
    static ``request`` parameters plus those ``using`` builds from the values above it (the
    items of the earlier steps, the last being this call's input: one item, or a list of up
    to ``batch`` of them). Its answers hold values at the JMESPath ``items``."""

    operation: str
    items: str
    request: Mapping[str, Any] = field(default_factory=dict)
    using: Callable[[Sequence[Any]], Mapping[str, Any]] | None = None
    batch: int = 0  # > 0: this call takes the values of the step before this many at a time


@dataclass(frozen=True)
class Lookup:
    """A further call for each running item, whose answer (the JMESPath ``items`` over every
    page) is kept in the item under ``key``. ``request`` builds its parameters from the item;
    None skips the call. ``service``: another service's client, in the same account and region."""

    key: str
    operation: str
    items: str
    request: Callable[[Item], Mapping[str, Any] | None]
    service: str | None = None


@dataclass(frozen=True)
class KindSpec:
    """One kind of AWS resource, declaratively (see the module docstring)."""

    word: str
    kind: Kind
    service: str
    listing: Listing
    id: Field
    running: Callable[[Item], bool]
    then: tuple[Listing, ...] = ()  # calls per value (or batch) of the step before
    lookups: tuple[Lookup, ...] = ()  # calls per running item
    name: Field | None = None  # None: the ``Name`` tag, else the id
    size: Field | None = None  # the instance type / class / node type
    count: Field | None = None  # the units running; None: 1
    since: Field | None = None  # when it started
    since_at_least: bool = False  # ``since`` is a last change: running since then at least
    tags: str = "Tags"  # JMESPath of the [{Key, Value}] list (or {key: value} map)
    #: kind word → a field that, when set, says the item is reported by that kind instead
    #: (when that kind is read too)
    left_to: Mapping[str, Field] = field(default_factory=dict)
    #: the kind words of a resource that vary with the item (the engine of a cluster)
    kind_of: Callable[[Item], Kind] | None = None
    #: what it is billed as; None: not priced, for the reason ``unpriced`` gives
    billing: Callable[[Item], Sequence[Bill]] | None = None
    unpriced: str | None = None
    read_actions: tuple[str, ...] = ()

    @property
    def stop(self) -> StopSpec:
        """What stopping and restoring this kind means, and the IAM actions each takes: its
        entry in :data:`.stops.STOPS` (a table of its own, loaded only when a run acts)."""
        from offhours.sources.aws.stops import STOPS

        return STOPS[self.word]


# ------------------------------------------------------------------------- field readers


def _equals(path: str, value: str) -> Callable[[Item], bool]:
    return lambda item: read_field(path, item) == value


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _positive(path: str) -> Callable[[Item], bool]:
    return lambda item: (_int(read_field(path, item)) or 0) > 0


def _tag(key: str) -> Callable[[Item], str | None]:
    """The value of the tag ``key`` in the item's ``Tags`` list."""

    def value(item: Item) -> str | None:
        for tag in _listed(item.get("Tags")):
            if isinstance(tag, Mapping) and tag.get("Key") == key:
                return _text(tag.get("Value"))
        return None

    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _listed(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _bill(
    product: str | Callable[[Item], str], size: str, units: str | None = None
) -> Callable[[Item], list[Bill]]:
    def bill(item: Item) -> list[Bill]:
        name = product if isinstance(product, str) else product(item)
        n = _int(read_field(units, item)) if units else 1
        return [(name, _text(read_field(size, item)), max(n or 0, 1))]

    return bill


def _rds_product(item: Item) -> str:
    engine = _text(item.get("Engine")) or "unknown"
    return f"rds:{engine}" + (":multi-az" if item.get("MultiAZ") is True else "")


def _types(members: object) -> Counter[str]:
    """How many members of each instance type (or class) a list of members holds."""
    out: Counter[str] = Counter()
    for m in _listed(members):
        kind = (
            _text(m.get("InstanceType") or m.get("DBInstanceClass"))
            if isinstance(m, Mapping)
            else None
        )
        if kind:
            out[kind] += 1
    return out


def _uniform(members: object) -> str | None:
    types = _types(members)
    return next(iter(types)) if len(types) == 1 else None


def _earliest(path: str) -> Callable[[Item], datetime | None]:
    def earliest(item: Item) -> datetime | None:
        times = [t for t in _listed(read_field(path, item)) if isinstance(t, datetime)]
        return min(times, default=None)

    return earliest


# Auto Scaling: the group's instance type is its members' when they agree, else its launch
# template's (or launch configuration's), looked up only then.


def _asg_size(group: Item) -> str | None:
    return _uniform(group.get("Instances")) or _text(
        group.get("OffhoursTemplateType") or group.get("OffhoursConfigType")
    )


def _asg_template(group: Item) -> Mapping[str, Any] | None:
    if _uniform(group.get("Instances")):
        return None
    spec = read_field(
        "LaunchTemplate || MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification", group
    )
    if not isinstance(spec, Mapping):
        return None
    version = _text(spec.get("Version")) or "$Default"
    if _text(spec.get("LaunchTemplateId")):
        return {"LaunchTemplateId": spec["LaunchTemplateId"], "Versions": [version]}
    if _text(spec.get("LaunchTemplateName")):
        return {"LaunchTemplateName": spec["LaunchTemplateName"], "Versions": [version]}
    return None


def _asg_config(group: Item) -> Mapping[str, Any] | None:
    name = _text(group.get("LaunchConfigurationName"))
    if name is None or _uniform(group.get("Instances")):
        return None
    return {"LaunchConfigurationNames": [name]}


def _asg_members(group: Item) -> Mapping[str, Any] | None:
    name = _text(group.get("AutoScalingGroupName"))
    if name is None:
        return None
    return {
        "Filters": [
            {"Name": "tag:aws:autoscaling:groupName", "Values": [name]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    }


def _asg_billing(group: Item) -> list[Bill]:
    desired = max(_int(group.get("DesiredCapacity")) or 0, 1)
    size = _asg_size(group)
    types = _types(group.get("Instances"))
    if size is None and types:  # mixed instance types: each as many times as it runs
        return [("ec2", t, n) for t, n in sorted(types.items())]
    return [("ec2", size, desired)]


# RDS clusters: the engine names the kind ("Aurora cluster"); the members' classes bill.

_ENGINE_NOUNS = (
    ("aurora", "Aurora cluster"),
    ("neptune", "Neptune cluster"),
    ("docdb", "DocumentDB cluster"),
)


def _cluster_kind(cluster: Item) -> Kind:
    engine = _text(cluster.get("Engine")) or ""
    noun = next((n for prefix, n in _ENGINE_NOUNS if engine.startswith(prefix)), "DB cluster")
    return Kind("aws.rds.cluster", noun=noun, unit="instance")


def _cluster_members(cluster: Item) -> Mapping[str, Any] | None:
    ident = _text(cluster.get("DBClusterIdentifier"))
    if ident is None or not _listed(cluster.get("DBClusterMembers")):
        return None
    return {"Filters": [{"Name": "db-cluster-id", "Values": [ident]}]}


def _cluster_size(cluster: Item) -> str | None:
    types = _types(cluster.get("OffhoursMembers"))
    return ", ".join(sorted(types)) or None


def _cluster_units(cluster: Item) -> int:
    return len(_listed(cluster.get("DBClusterMembers")))


def _cluster_billing(cluster: Item) -> list[Bill]:
    product = f"rds:{_text(cluster.get('Engine')) or 'unknown'}"
    types = _types(cluster.get("OffhoursMembers"))
    if types:
        return [(product, t, n) for t, n in sorted(types.items())]
    return [(product, None, max(_cluster_units(cluster), 1))]


def _eks_size(group: Item) -> str | None:
    types = [t for t in _listed(group.get("instanceTypes")) if isinstance(t, str)]
    return types[0] if len(types) == 1 else ", ".join(types) or None


def _eks_billing(group: Item) -> list[Bill]:
    types = [t for t in _listed(group.get("instanceTypes")) if isinstance(t, str)]
    units = max(_int(read_field("scalingConfig.desiredSize", group)) or 0, 1)
    # Several types: which run is not said here, so the price is unknown rather than guessed.
    return [("ec2", types[0] if len(types) == 1 else None, units)]


# ------------------------------------------------------------------------------ the table

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
        running=_equals("State.Name", "running"),
        size="InstanceType",
        # running since: LaunchTime, the last start of an EBS-backed instance (exact).
        since="LaunchTime",
        left_to={"asg": _tag("aws:autoscaling:groupName"), "eks": _tag("eks:nodegroup-name")},
        billing=_bill("ec2", "InstanceType"),
        read_actions=("ec2:DescribeInstances",),
    ),
    "asg": KindSpec(
        word="asg",
        kind=Kind("aws.autoscaling.group", noun="Auto Scaling group", unit="instance"),
        service="autoscaling",
        listing=Listing("describe_auto_scaling_groups", "AutoScalingGroups[]"),
        id="AutoScalingGroupName",
        name="AutoScalingGroupName",
        running=_positive("DesiredCapacity"),
        lookups=(
            Lookup(
                "OffhoursMembers",
                "describe_instances",
                "Reservations[].Instances[]",
                _asg_members,
                "ec2",
            ),
            Lookup(
                "OffhoursTemplateType",
                "describe_launch_template_versions",
                "LaunchTemplateVersions[0].LaunchTemplateData.InstanceType",
                _asg_template,
                "ec2",
            ),
            Lookup(
                "OffhoursConfigType",
                "describe_launch_configurations",
                "LaunchConfigurations[0].InstanceType",
                _asg_config,
            ),
        ),
        size=_asg_size,
        count="DesiredCapacity",
        # running since at least: the earliest LaunchTime of its running members.
        since=_earliest("OffhoursMembers[].LaunchTime"),
        since_at_least=True,
        left_to={"eks": _tag("eks:nodegroup-name")},
        billing=_asg_billing,
        read_actions=(
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeLaunchConfigurations",
            "ec2:DescribeInstances",
            "ec2:DescribeLaunchTemplateVersions",
        ),
    ),
    "rds": KindSpec(
        word="rds",
        kind=Kind("aws.rds.instance", noun="DB instance", unit="DB instance"),
        service="rds",
        listing=Listing("describe_db_instances", "DBInstances[]"),
        id="DBInstanceIdentifier",
        name="DBInstanceIdentifier",
        running=_equals("DBInstanceStatus", "available"),
        size="DBInstanceClass",
        # running since: unknown (InstanceCreateTime is its creation, not its last start).
        tags="TagList",
        left_to={"rds-cluster": "DBClusterIdentifier"},
        billing=_bill(_rds_product, "DBInstanceClass"),
        read_actions=("rds:DescribeDBInstances",),
    ),
    "rds-cluster": KindSpec(
        word="rds-cluster",
        kind=Kind("aws.rds.cluster", noun="DB cluster", unit="instance"),
        service="rds",
        listing=Listing("describe_db_clusters", "DBClusters[]"),
        id="DBClusterIdentifier",
        name="DBClusterIdentifier",
        running=_equals("Status", "available"),
        lookups=(
            Lookup("OffhoursMembers", "describe_db_instances", "DBInstances[]", _cluster_members),
        ),
        size=_cluster_size,
        count=_cluster_units,
        # running since: unknown (ClusterCreateTime is its creation, not its last start).
        tags="TagList",
        kind_of=_cluster_kind,
        billing=_cluster_billing,
        read_actions=("rds:DescribeDBClusters", "rds:DescribeDBInstances"),
    ),
    "ecs": KindSpec(
        word="ecs",
        kind=Kind("aws.ecs.service", noun="ECS service", unit="task"),
        service="ecs",
        listing=Listing("list_clusters", "clusterArns[]"),
        then=(
            Listing("list_services", "serviceArns[]", using=lambda up: {"cluster": up[-1]}),
            Listing(
                "describe_services",
                "services[]",
                {"include": ["TAGS"]},
                using=lambda up: {"cluster": up[-2], "services": list(up[-1])},
                batch=10,
            ),
        ),
        id="serviceArn",
        name="serviceName",
        running=lambda s: _positive("desiredCount")(s) and s.get("status") == "ACTIVE",
        count="desiredCount",
        # running since at least: its primary deployment's last update (a scale-up updates it).
        since="deployments[?status=='PRIMARY'] | [0].updatedAt",
        since_at_least=True,
        tags="tags",
        unpriced="ECS tasks bill as their cluster's EC2 instances or as Fargate vCPU and memory",
        read_actions=("ecs:DescribeServices", "ecs:ListClusters", "ecs:ListServices"),
    ),
    "eks": KindSpec(
        word="eks",
        kind=Kind("aws.eks.nodegroup", noun="node group", unit="node"),
        service="eks",
        listing=Listing("list_clusters", "clusters[]"),
        then=(
            Listing("list_nodegroups", "nodegroups[]", using=lambda up: {"clusterName": up[-1]}),
            Listing(
                "describe_nodegroup",
                "nodegroup",
                using=lambda up: {"clusterName": up[-2], "nodegroupName": up[-1]},
            ),
        ),
        id="join('/', [clusterName, nodegroupName])",
        name="join('/', [clusterName, nodegroupName])",
        running=_positive("scalingConfig.desiredSize"),
        size=_eks_size,
        count="scalingConfig.desiredSize",
        # running since at least: modifiedAt, its last change (a scale-up is one).
        since="modifiedAt",
        since_at_least=True,
        tags="tags",
        billing=_eks_billing,
        read_actions=("eks:DescribeNodegroup", "eks:ListClusters", "eks:ListNodegroups"),
    ),
    "sagemaker": KindSpec(
        word="sagemaker",
        kind=Kind("aws.sagemaker.notebook", noun="notebook instance", unit="instance"),
        service="sagemaker",
        listing=Listing("list_notebook_instances", "NotebookInstances[]"),
        lookups=(
            Lookup(
                "Tags",
                "list_tags",
                "Tags[]",
                lambda nb: (
                    {"ResourceArn": nb["NotebookInstanceArn"]}
                    if _text(nb.get("NotebookInstanceArn"))
                    else None
                ),
            ),
        ),
        id="NotebookInstanceName",
        name="NotebookInstanceName",
        running=_equals("NotebookInstanceStatus", "InService"),
        size="InstanceType",
        # running since at least: LastModifiedTime (a start modifies it).
        since="LastModifiedTime",
        since_at_least=True,
        billing=_bill("sagemaker-notebook", "InstanceType"),
        read_actions=("sagemaker:ListNotebookInstances", "sagemaker:ListTags"),
    ),
    "redshift": KindSpec(
        word="redshift",
        kind=Kind("aws.redshift.cluster", noun="Redshift cluster", unit="node"),
        service="redshift",
        listing=Listing("describe_clusters", "Clusters[]"),
        id="ClusterIdentifier",
        name="ClusterIdentifier",
        running=_equals("ClusterStatus", "available"),
        size="NodeType",
        count="NumberOfNodes",
        # running since: unknown (ClusterCreateTime is its creation; a resume is not recorded).
        billing=_bill("redshift", "NodeType", "NumberOfNodes"),
        read_actions=("redshift:DescribeClusters",),
    ),
}
