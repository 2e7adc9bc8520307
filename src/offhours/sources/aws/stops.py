"""What stopping and restoring mean, kind by kind: one :class:`StopSpec` per kind word.

An entry says how to read a resource fresh (it may have changed since collect), what is refused
and why, what its stop and restore calls are, what they save and put back, how to tag it, and
the IAM actions each side needs (``actions_stop``, ``actions_restore``: exactly the calls made,
describes and tags included). The executor that walks an entry is :mod:`.stopping`; nothing
here is code per kind beyond small functions.

Save-to-undo: before its stop call, a resource gets the tag :data:`SAVED_TAG` whose value is
``at=<UTC time> k=v …`` (:func:`saved_value`), e.g. ``at=2026-12-01T04:00:00Z min=1 desired=2
max=4``: letters, digits, spaces, ``=``, ``:`` and ``-`` only, valid under every service's tag
rules (RDS, SageMaker and ECS forbid ``;``, ``,``, quotes and braces) and far below 256
characters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from offhours.sources.aws.reading import tags_of

if TYPE_CHECKING:
    from offhours.sources.aws.source import AwsSource

__all__ = [
    "BY_KIND",
    "SAVED_TAG",
    "STOPS",
    "Place",
    "StopSpec",
    "Tagger",
    "parse_saved",
    "refusal",
    "saved_value",
]

Item = Mapping[str, Any]

#: the tag that marks what offhours stopped, holding what puts it back
SAVED_TAG = "offhours:stopped"
#: AWS starts a stopped RDS instance or cluster again after this
SEVEN_DAYS = "AWS starts a stopped database again after 7 days"


# ---------------------------------------------------------------------------- the saved tag


def saved_value(at: datetime, values: Mapping[str, int]) -> str:
    """``at=2026-11-30T23:00:00Z desired=2 min=1 max=3``: the tag value saved before a stop."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return " ".join([f"at={stamp}", *(f"{k}={v}" for k, v in values.items())])


def parse_saved(value: str) -> dict[str, int]:
    """The numbers a :func:`saved_value` holds (``at`` left out); ValueError when it is not one."""
    out: dict[str, int] = {}
    for part in value.split():
        key, sep, number = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} is not key=value")
        if key != "at":
            out[key] = int(number)
    return out


# ---------------------------------------------------------------------------- the context


@dataclass
class Place:
    """Where one resource is, and clients there (made once per service, shared by threads)."""

    source: AwsSource
    account: str
    region: str

    def client(self, service: str) -> Any:
        # The source keeps one client per account, region and service (thread-safe).
        return self.source.client_for(self.account, self.region, service)

    def arn(self, service: str, resource: str) -> str:
        partition = self.client(service).meta.partition
        return f"arn:{partition}:{service}:{self.region}:{self.account}:{resource}"


# ---------------------------------------------------------------------------- taggers


@dataclass(frozen=True)
class Tagger:
    """How one service writes and removes a tag on a resource (named by id or ARN)."""

    put: Callable[[Any, str, str, str], object]  # client, name, key, value
    remove: Callable[[Any, str, str], object]  # client, name, key
    actions_put: tuple[str, ...]
    actions_remove: tuple[str, ...]


#: how a service spells its tags: ``[{Key, Value}]``, ``[{key, value}]`` (ECS), ``{key: value}``
#: (EKS); the last two name the keys to remove ``tagKeys``
TagStyle = Literal["Upper", "lower", "map"]


def _tagger(
    service: str, put: str, remove: str, style: TagStyle, name: str = "ResourceName"
) -> Tagger:
    """Most services: ``put(name, tags)`` and ``remove(name, [key])``, in the service's style."""

    def put_tag(client: Any, ident: str, key: str, value: str) -> object:
        if style == "lower":
            return getattr(client, put)(**{name: ident, "tags": [{"key": key, "value": value}]})
        if style == "map":
            return getattr(client, put)(**{name: ident, "tags": {key: value}})
        return getattr(client, put)(**{name: ident, "Tags": [{"Key": key, "Value": value}]})

    def remove_tag(client: Any, ident: str, key: str) -> object:
        keys = "tagKeys" if style in ("lower", "map") else "TagKeys"
        return getattr(client, remove)(**{name: ident, keys: [key]})

    def action(call: str) -> str:
        return f"{service}:{''.join(w.title() for w in call.split('_'))}"

    return Tagger(put_tag, remove_tag, (action(put),), (action(remove),))


def _ec2_put(client: Any, ident: str, key: str, value: str) -> object:
    return client.create_tags(Resources=[ident], Tags=[{"Key": key, "Value": value}])


def _ec2_remove(client: Any, ident: str, key: str) -> object:
    return client.delete_tags(Resources=[ident], Tags=[{"Key": key}])


def _asg_tag(ident: str, key: str, value: str | None = None) -> dict[str, Any]:
    tag: dict[str, Any] = {"ResourceId": ident, "ResourceType": "auto-scaling-group", "Key": key}
    if value is not None:
        tag |= {"Value": value, "PropagateAtLaunch": False}
    return tag


EC2_TAGS = Tagger(_ec2_put, _ec2_remove, ("ec2:CreateTags",), ("ec2:DeleteTags",))
ASG_TAGS = Tagger(
    lambda c, i, k, v: c.create_or_update_tags(Tags=[_asg_tag(i, k, v)]),
    lambda c, i, k: c.delete_tags(Tags=[_asg_tag(i, k)]),
    ("autoscaling:CreateOrUpdateTags",),
    ("autoscaling:DeleteTags",),
)
RDS_TAGS = _tagger("rds", "add_tags_to_resource", "remove_tags_from_resource", "Upper")
ECS_TAGS = _tagger("ecs", "tag_resource", "untag_resource", "lower", "resourceArn")
EKS_TAGS = _tagger("eks", "tag_resource", "untag_resource", "map", "resourceArn")
SAGEMAKER_TAGS = _tagger("sagemaker", "add_tags", "delete_tags", "Upper", "ResourceArn")
REDSHIFT_TAGS = _tagger("redshift", "create_tags", "delete_tags", "Upper")


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class StopSpec:
    """What stop and restore mean for one kind word (see the module docstring).

    ``fresh`` reads one resource by id now (None: it is gone); ``tagged`` lists the resources of
    one place carrying :data:`SAVED_TAG`; ``refuse`` says why a fresh item must not be stopped
    (None: go ahead); ``save`` gives the values its stop changes, which ``start`` puts back;
    ``running`` says there is something to stop; ``stopped`` that it is still as offhours left
    it (restore never overrides a change made since).
    """

    word: str
    kind: str  # the Kind name its resources carry
    service: str
    verb: str  # the report's word: stop, scale to 0, pause
    stop_call: str
    start_call: str
    fresh: Callable[[Place, str], Item | None]
    tagged: Callable[[Place], Iterable[Item]]
    ident: Callable[[Item], str]
    arn: Callable[[Place, Item], str]  # what the tagger names
    state: Callable[[Item], str]
    running: Callable[[Item], bool]
    stopped: Callable[[Item], bool]
    stop: Callable[[Place, Item, Mapping[str, int]], object]
    start: Callable[[Place, Item, Mapping[str, int]], object]
    tagger: Tagger
    refuse: Callable[[Place, Item], str | None] = lambda place, item: None
    save: Callable[[Place, Item], dict[str, int]] = lambda place, item: {}
    tags: Callable[[Place, Item], dict[str, str]] = lambda place, item: tags_of(item.get("Tags"))
    note: str = ""  # said on every stop (RDS: the 7 days)
    reads_stop: tuple[str, ...] = ()
    reads_restore: tuple[str, ...] = ()
    writes_stop: tuple[str, ...] = ()
    writes_restore: tuple[str, ...] = ()

    @property
    def actions_stop(self) -> tuple[str, ...]:
        """Every IAM action stopping makes: fresh reads, the stop, the tag (and its undo)."""
        return _sorted(
            self.reads_stop, self.writes_stop, self.tagger.actions_put, self.tagger.actions_remove
        )

    @property
    def actions_restore(self) -> tuple[str, ...]:
        """Every IAM action restoring makes: the search, the start, the tag's removal."""
        return _sorted(self.reads_restore, self.writes_restore, self.tagger.actions_remove)


def _sorted(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({a for g in groups for a in g}))


def _one(items: Sequence[Item] | None) -> Item | None:
    return items[0] if items else None


def _gone(codes: tuple[str, ...], read: Callable[[], Item | None]) -> Item | None:
    """``read()``, or None when AWS answers that the resource does not exist."""
    try:
        return read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in codes:
            return None
        raise


def _pages(client: Any, operation: str, path: str, **request: Any) -> Iterator[Item]:
    for page in client.get_paginator(operation).paginate(**request):
        yield from page.get(path) or ()


def _tag_filter() -> list[dict[str, Any]]:
    return [{"Name": "tag-key", "Values": [SAVED_TAG]}]


def _has_tag(items: Iterable[Item], key: str = "TagList") -> Iterator[Item]:
    return (i for i in items if SAVED_TAG in tags_of(i.get(key)))


# EC2 -----------------------------------------------------------------------------------------


def _ec2_fresh(place: Place, ident: str) -> Item | None:
    ec2 = place.client("ec2")
    answer = _gone(
        ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"),
        lambda: ec2.describe_instances(InstanceIds=[ident]),
    )
    if answer is None:
        return None
    return _one([i for r in answer.get("Reservations", ()) for i in r.get("Instances", ())])


def _ec2_tagged(place: Place) -> Iterator[Item]:
    for r in _pages(
        place.client("ec2"), "describe_instances", "Reservations", Filters=_tag_filter()
    ):
        yield from r.get("Instances", ())


def _ec2_refuse(place: Place, item: Item) -> str | None:
    tags = tags_of(item.get("Tags"))
    if "aws:autoscaling:groupName" in tags:
        return (
            f"a member of Auto Scaling group {tags['aws:autoscaling:groupName']}: left to its group"
        )
    if item.get("RootDeviceType") == "instance-store":
        return "its root device is an instance store, which cannot be stopped"
    if item.get("InstanceLifecycle") == "spot":
        request = item.get("SpotInstanceRequestId")
        kind = None
        if request:
            found = place.client("ec2").describe_spot_instance_requests(
                SpotInstanceRequestIds=[request]
            )
            kind = (_one(found.get("SpotInstanceRequests")) or {}).get("Type")
        if kind != "persistent":
            return "a one-time Spot instance: AWS cannot stop it, only terminate it"
    return None


def _ec2_stop(place: Place, item: Item, saved: Mapping[str, int]) -> object:
    hibernate = bool(saved.get("hibernate"))
    return place.client("ec2").stop_instances(InstanceIds=[item["InstanceId"]], Hibernate=hibernate)


def _ec2_state(item: Item) -> str:
    return str((item.get("State") or {}).get("Name", "unknown"))


# Auto Scaling --------------------------------------------------------------------------------


def _asg_fresh(place: Place, ident: str) -> Item | None:
    answer = place.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[ident])
    return _one(answer.get("AutoScalingGroups"))


def _asg_stop(place: Place, item: Item, saved: Mapping[str, int]) -> object:
    return place.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=item["AutoScalingGroupName"], MinSize=0, DesiredCapacity=0
    )


def _asg_start(place: Place, item: Item, saved: Mapping[str, int]) -> object:
    return place.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=item["AutoScalingGroupName"],
        MinSize=saved["min"],
        DesiredCapacity=saved["desired"],
        MaxSize=max(saved["max"], saved["desired"]),
    )


# RDS instances and clusters ------------------------------------------------------------------


def _rds_fresh(place: Place, ident: str) -> Item | None:
    rds = place.client("rds")
    answer = _gone(
        ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
        lambda: rds.describe_db_instances(DBInstanceIdentifier=ident),
    )
    return _one((answer or {}).get("DBInstances"))


def _rds_refuse(place: Place, item: Item) -> str | None:
    if item.get("DBClusterIdentifier"):
        return f"a member of cluster {item['DBClusterIdentifier']}: stopped with its cluster"
    if item.get("ReadReplicaSourceDBInstanceIdentifier"):
        return "a read replica, which AWS cannot stop"
    if item.get("ReadReplicaDBInstanceIdentifiers"):
        return "the source of read replicas, which AWS cannot stop"
    if str(item.get("Engine", "")).startswith("sqlserver") and item.get("MultiAZ"):
        return "SQL Server Multi-AZ, which AWS cannot stop"
    return None


def _cluster_fresh(place: Place, ident: str) -> Item | None:
    rds = place.client("rds")
    answer = _gone(
        ("DBClusterNotFoundFault", "DBClusterNotFound"),
        lambda: rds.describe_db_clusters(DBClusterIdentifier=ident),
    )
    return _one((answer or {}).get("DBClusters"))


def _cluster_refuse(place: Place, item: Item) -> str | None:
    if item.get("EngineMode") == "serverless":
        return "Aurora Serverless v1, which AWS cannot stop"
    if item.get("ReplicationSourceIdentifier"):
        return "a cross-region replica, which AWS cannot stop"
    arn = item.get("DBClusterArn")
    for page in place.client("rds").get_paginator("describe_global_clusters").paginate():
        for cluster in page.get("GlobalClusters", ()):
            members = {m.get("DBClusterArn") for m in cluster.get("GlobalClusterMembers", ())}
            if arn in members:
                name = cluster.get("GlobalClusterIdentifier")
                return f"a member of global database {name}, which AWS cannot stop"
    return None


# ECS -----------------------------------------------------------------------------------------


def _ecs_where(arn: str) -> tuple[str, str]:
    """``(cluster, service)`` of ``arn:…:service/<cluster>/<service>`` (old ARNs: ``default``)."""
    path = arn.split(":", 5)[-1].split("/")
    return (path[1], path[2]) if len(path) >= 3 else ("default", path[-1])


def _ecs_fresh(place: Place, ident: str) -> Item | None:
    cluster, _ = _ecs_where(ident)
    answer = place.client("ecs").describe_services(
        cluster=cluster, services=[ident], include=["TAGS"]
    )
    return _one([s for s in answer.get("services", ()) if s.get("status") != "INACTIVE"])


def _ecs_tagged(place: Place) -> Iterator[Item]:
    ecs = place.client("ecs")
    for cluster in _pages(ecs, "list_clusters", "clusterArns"):
        arns = list(_pages(ecs, "list_services", "serviceArns", cluster=cluster))
        for i in range(0, len(arns), 10):  # describe_services takes 10 at a time
            answer = ecs.describe_services(
                cluster=cluster, services=arns[i : i + 10], include=["TAGS"]
            )
            yield from _has_tag(answer.get("services", ()), "tags")


def _scalable(place: Place, item: Item) -> Item | None:
    """The service's Application Auto Scaling target, if it has one."""
    cluster, name = _ecs_where(item["serviceArn"])
    answer = place.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs",
        ResourceIds=[f"service/{cluster}/{name}"],
        ScalableDimension="ecs:service:DesiredCount",
    )
    return _one(answer.get("ScalableTargets"))


def _set_scalable_min(place: Place, item: Item, minimum: int) -> None:
    cluster, name = _ecs_where(item["serviceArn"])
    place.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{cluster}/{name}",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=minimum,
    )


def _ecs_save(place: Place, item: Item) -> dict[str, int]:
    saved = {"desired": int(item.get("desiredCount", 0))}
    target = _scalable(place, item)
    if target and int(target.get("MinCapacity", 0)) > 0:
        saved["scalingmin"] = int(target["MinCapacity"])
    return saved


def _ecs_stop(place: Place, item: Item, saved: Mapping[str, int]) -> object:
    # The scaling minimum first: else Application Auto Scaling scales the service back up.
    if "scalingmin" in saved:
        _set_scalable_min(place, item, 0)
    cluster, _ = _ecs_where(item["serviceArn"])
    return place.client("ecs").update_service(
        cluster=cluster, service=item["serviceArn"], desiredCount=0
    )


def _ecs_start(place: Place, item: Item, saved: Mapping[str, int]) -> object:
    cluster, _ = _ecs_where(item["serviceArn"])
    place.client("ecs").update_service(
        cluster=cluster, service=item["serviceArn"], desiredCount=saved["desired"]
    )
    if "scalingmin" in saved:
        _set_scalable_min(place, item, saved["scalingmin"])
    return None


# EKS -----------------------------------------------------------------------------------------


def _eks_fresh(place: Place, ident: str) -> Item | None:
    cluster, _, group = ident.partition("/")
    eks = place.client("eks")
    answer = _gone(
        ("ResourceNotFoundException",),
        lambda: eks.describe_nodegroup(clusterName=cluster, nodegroupName=group),
    )
    return (answer or {}).get("nodegroup")


def _eks_tagged(place: Place) -> Iterator[Item]:
    eks = place.client("eks")
    for cluster in _pages(eks, "list_clusters", "clusters"):
        for group in _pages(eks, "list_nodegroups", "nodegroups", clusterName=cluster):
            item = _eks_fresh(place, f"{cluster}/{group}")
            if item and SAVED_TAG in tags_of(item.get("tags")):
                yield item


def _eks_scaling(item: Item) -> Mapping[str, int]:
    return item.get("scalingConfig") or {}


def _eks_scale(place: Place, item: Item, minimum: int, desired: int, maximum: int) -> None:
    place.client("eks").update_nodegroup_config(
        clusterName=item["clusterName"],
        nodegroupName=item["nodegroupName"],
        scalingConfig={"minSize": minimum, "desiredSize": desired, "maxSize": maximum},
    )


def _eks_stop(place: Place, item: Item, saved: Mapping[str, int]) -> object:
    _eks_scale(place, item, 0, 0, saved["max"])  # AWS wants a maximum of 1 or more
    return None


# SageMaker and Redshift ----------------------------------------------------------------------


def _notebook_fresh(place: Place, ident: str) -> Item | None:
    sm = place.client("sagemaker")
    return _gone(
        ("ValidationException", "ResourceNotFound"),
        lambda: sm.describe_notebook_instance(NotebookInstanceName=ident),
    )


def _notebook_tags(place: Place, item: Item) -> dict[str, str]:
    arn = item["NotebookInstanceArn"]
    return tags_of(list(_pages(place.client("sagemaker"), "list_tags", "Tags", ResourceArn=arn)))


def _notebook_tagged(place: Place) -> Iterator[Item]:
    for item in _pages(place.client("sagemaker"), "list_notebook_instances", "NotebookInstances"):
        if SAVED_TAG in _notebook_tags(place, item):
            yield item


def _redshift_fresh(place: Place, ident: str) -> Item | None:
    rs = place.client("redshift")
    answer = _gone(
        ("ClusterNotFound", "ClusterNotFoundFault"),
        lambda: rs.describe_clusters(ClusterIdentifier=ident),
    )
    return _one((answer or {}).get("Clusters"))


def _scaled(
    field_path: Callable[[Item], Mapping[str, Any]], names: Mapping[str, str]
) -> Callable[[Place, Item], dict[str, int]]:
    """A ``save`` reading ``{saved name: field}`` from ``field_path(item)``."""

    def save(place: Place, item: Item) -> dict[str, int]:
        where = field_path(item)
        return {k: int(where.get(f, 0)) for k, f in names.items()}

    return save


def _hibernate_save(place: Place, item: Item) -> dict[str, int]:
    # Decided on the fresh item: hibernation works only where the instance was launched with it.
    configured = bool((item.get("HibernationOptions") or {}).get("Configured"))
    return {"hibernate": 1} if configured and place.source.settings.hibernate else {}


STOPS: dict[str, StopSpec] = {
    "ec2": StopSpec(
        word="ec2",
        kind="aws.ec2.instance",
        service="ec2",
        verb="stop",
        stop_call="stop_instances",
        start_call="start_instances",
        fresh=_ec2_fresh,
        tagged=_ec2_tagged,
        ident=lambda i: str(i["InstanceId"]),
        arn=lambda p, i: str(i["InstanceId"]),
        state=_ec2_state,
        running=lambda i: _ec2_state(i) == "running",
        stopped=lambda i: _ec2_state(i) in ("stopped", "stopping"),
        refuse=_ec2_refuse,
        save=_hibernate_save,
        stop=_ec2_stop,
        start=lambda p, i, s: p.client("ec2").start_instances(InstanceIds=[i["InstanceId"]]),
        tagger=EC2_TAGS,
        reads_stop=("ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests"),
        reads_restore=("ec2:DescribeInstances",),
        writes_stop=("ec2:StopInstances",),
        writes_restore=("ec2:StartInstances",),
    ),
    "asg": StopSpec(
        word="asg",
        kind="aws.autoscaling.group",
        service="autoscaling",
        verb="scale to 0",
        stop_call="update_auto_scaling_group MinSize=0 DesiredCapacity=0",
        start_call="update_auto_scaling_group",
        fresh=_asg_fresh,
        tagged=lambda p: _pages(
            p.client("autoscaling"),
            "describe_auto_scaling_groups",
            "AutoScalingGroups",
            Filters=_tag_filter(),
        ),
        ident=lambda i: str(i["AutoScalingGroupName"]),
        arn=lambda p, i: str(i["AutoScalingGroupName"]),
        state=lambda i: f"desired {i.get('DesiredCapacity', 0)}",
        running=lambda i: int(i.get("DesiredCapacity", 0)) > 0,
        stopped=lambda i: int(i.get("DesiredCapacity", 0)) == 0,
        save=_scaled(
            lambda i: i, {"min": "MinSize", "desired": "DesiredCapacity", "max": "MaxSize"}
        ),
        stop=_asg_stop,
        start=_asg_start,
        tagger=ASG_TAGS,
        reads_stop=("autoscaling:DescribeAutoScalingGroups",),
        reads_restore=("autoscaling:DescribeAutoScalingGroups",),
        writes_stop=("autoscaling:UpdateAutoScalingGroup",),
        writes_restore=("autoscaling:UpdateAutoScalingGroup",),
    ),
    "rds": StopSpec(
        word="rds",
        kind="aws.rds.instance",
        service="rds",
        verb="stop",
        stop_call="stop_db_instance",
        start_call="start_db_instance",
        fresh=_rds_fresh,
        tagged=lambda p: _has_tag(_pages(p.client("rds"), "describe_db_instances", "DBInstances")),
        ident=lambda i: str(i["DBInstanceIdentifier"]),
        arn=lambda p, i: str(i["DBInstanceArn"]),
        state=lambda i: str(i.get("DBInstanceStatus", "unknown")),
        running=lambda i: i.get("DBInstanceStatus") == "available",
        stopped=lambda i: i.get("DBInstanceStatus") in ("stopped", "stopping"),
        refuse=_rds_refuse,
        stop=lambda p, i, s: p.client("rds").stop_db_instance(
            DBInstanceIdentifier=i["DBInstanceIdentifier"]
        ),
        start=lambda p, i, s: p.client("rds").start_db_instance(
            DBInstanceIdentifier=i["DBInstanceIdentifier"]
        ),
        tagger=RDS_TAGS,
        tags=lambda p, i: tags_of(i.get("TagList")),
        note=SEVEN_DAYS,
        reads_stop=("rds:DescribeDBInstances",),
        reads_restore=("rds:DescribeDBInstances",),
        writes_stop=("rds:StopDBInstance",),
        writes_restore=("rds:StartDBInstance",),
    ),
    "rds-cluster": StopSpec(
        word="rds-cluster",
        kind="aws.rds.cluster",
        service="rds",
        verb="stop",
        stop_call="stop_db_cluster",
        start_call="start_db_cluster",
        fresh=_cluster_fresh,
        tagged=lambda p: _has_tag(_pages(p.client("rds"), "describe_db_clusters", "DBClusters")),
        ident=lambda i: str(i["DBClusterIdentifier"]),
        arn=lambda p, i: str(i["DBClusterArn"]),
        state=lambda i: str(i.get("Status", "unknown")),
        running=lambda i: i.get("Status") == "available",
        stopped=lambda i: i.get("Status") in ("stopped", "stopping"),
        refuse=_cluster_refuse,
        stop=lambda p, i, s: p.client("rds").stop_db_cluster(
            DBClusterIdentifier=i["DBClusterIdentifier"]
        ),
        start=lambda p, i, s: p.client("rds").start_db_cluster(
            DBClusterIdentifier=i["DBClusterIdentifier"]
        ),
        tagger=RDS_TAGS,
        tags=lambda p, i: tags_of(i.get("TagList")),
        note=SEVEN_DAYS,
        reads_stop=("rds:DescribeDBClusters", "rds:DescribeGlobalClusters"),
        reads_restore=("rds:DescribeDBClusters",),
        writes_stop=("rds:StopDBCluster",),
        writes_restore=("rds:StartDBCluster",),
    ),
    "ecs": StopSpec(
        word="ecs",
        kind="aws.ecs.service",
        service="ecs",
        verb="scale to 0",
        stop_call="update_service desiredCount=0",
        start_call="update_service",
        fresh=_ecs_fresh,
        tagged=_ecs_tagged,
        ident=lambda i: str(i["serviceArn"]),
        arn=lambda p, i: str(i["serviceArn"]),
        state=lambda i: f"desired {i.get('desiredCount', 0)}",
        running=lambda i: int(i.get("desiredCount", 0)) > 0,
        stopped=lambda i: int(i.get("desiredCount", 0)) == 0,
        save=_ecs_save,
        stop=_ecs_stop,
        start=_ecs_start,
        tagger=ECS_TAGS,
        tags=lambda p, i: tags_of(i.get("tags")),
        reads_stop=("ecs:DescribeServices", "application-autoscaling:DescribeScalableTargets"),
        reads_restore=("ecs:DescribeServices", "ecs:ListClusters", "ecs:ListServices"),
        writes_stop=("ecs:UpdateService", "application-autoscaling:RegisterScalableTarget"),
        writes_restore=("ecs:UpdateService", "application-autoscaling:RegisterScalableTarget"),
    ),
    "eks": StopSpec(
        word="eks",
        kind="aws.eks.nodegroup",
        service="eks",
        verb="scale to 0",
        stop_call="update_nodegroup_config minSize=0 desiredSize=0",
        start_call="update_nodegroup_config",
        fresh=_eks_fresh,
        tagged=_eks_tagged,
        ident=lambda i: f"{i['clusterName']}/{i['nodegroupName']}",
        arn=lambda p, i: str(i["nodegroupArn"]),
        state=lambda i: f"desired {_eks_scaling(i).get('desiredSize', 0)}",
        running=lambda i: int(_eks_scaling(i).get("desiredSize", 0)) > 0,
        stopped=lambda i: int(_eks_scaling(i).get("desiredSize", 0)) == 0,
        save=_scaled(_eks_scaling, {"min": "minSize", "desired": "desiredSize", "max": "maxSize"}),
        stop=_eks_stop,
        start=lambda p, i, s: _eks_scale(p, i, s["min"], s["desired"], max(s["max"], s["desired"])),
        tagger=EKS_TAGS,
        tags=lambda p, i: tags_of(i.get("tags")),
        reads_stop=("eks:DescribeNodegroup",),
        reads_restore=("eks:DescribeNodegroup", "eks:ListClusters", "eks:ListNodegroups"),
        writes_stop=("eks:UpdateNodegroupConfig",),
        writes_restore=("eks:UpdateNodegroupConfig",),
    ),
    "sagemaker": StopSpec(
        word="sagemaker",
        kind="aws.sagemaker.notebook",
        service="sagemaker",
        verb="stop",
        stop_call="stop_notebook_instance",
        start_call="start_notebook_instance",
        fresh=_notebook_fresh,
        tagged=_notebook_tagged,
        ident=lambda i: str(i["NotebookInstanceName"]),
        arn=lambda p, i: str(i["NotebookInstanceArn"]),
        state=lambda i: str(i.get("NotebookInstanceStatus", "unknown")),
        running=lambda i: i.get("NotebookInstanceStatus") == "InService",
        stopped=lambda i: i.get("NotebookInstanceStatus") in ("Stopped", "Stopping"),
        stop=lambda p, i, s: p.client("sagemaker").stop_notebook_instance(
            NotebookInstanceName=i["NotebookInstanceName"]
        ),
        start=lambda p, i, s: p.client("sagemaker").start_notebook_instance(
            NotebookInstanceName=i["NotebookInstanceName"]
        ),
        tagger=SAGEMAKER_TAGS,
        tags=_notebook_tags,
        reads_stop=("sagemaker:DescribeNotebookInstance",),
        reads_restore=(
            "sagemaker:DescribeNotebookInstance",
            "sagemaker:ListNotebookInstances",
            "sagemaker:ListTags",
        ),
        writes_stop=("sagemaker:StopNotebookInstance",),
        writes_restore=("sagemaker:StartNotebookInstance",),
    ),
    "redshift": StopSpec(
        word="redshift",
        kind="aws.redshift.cluster",
        service="redshift",
        verb="pause",
        stop_call="pause_cluster",
        start_call="resume_cluster",
        fresh=_redshift_fresh,
        tagged=lambda p: _pages(
            p.client("redshift"), "describe_clusters", "Clusters", TagKeys=[SAVED_TAG]
        ),
        ident=lambda i: str(i["ClusterIdentifier"]),
        arn=lambda p, i: p.arn("redshift", f"cluster:{i['ClusterIdentifier']}"),
        state=lambda i: str(i.get("ClusterStatus", "unknown")),
        running=lambda i: i.get("ClusterStatus") == "available",
        stopped=lambda i: i.get("ClusterStatus") in ("paused", "pausing"),
        stop=lambda p, i, s: p.client("redshift").pause_cluster(
            ClusterIdentifier=i["ClusterIdentifier"]
        ),
        start=lambda p, i, s: p.client("redshift").resume_cluster(
            ClusterIdentifier=i["ClusterIdentifier"]
        ),
        tagger=REDSHIFT_TAGS,
        reads_stop=("redshift:DescribeClusters",),
        reads_restore=("redshift:DescribeClusters",),
        writes_stop=("redshift:PauseCluster",),
        writes_restore=("redshift:ResumeCluster",),
    ),
}

#: the entry of each kind name (what a Resource carries)
BY_KIND = {spec.kind: spec for spec in STOPS.values()}


def refusal(spec: StopSpec, place: Place, item: Item) -> str | None:
    """Why the fresh ``item`` must not be stopped (None: it may be)."""
    if not spec.running(item):
        return f"{spec.state(item)} now: nothing to {spec.verb}"
    return spec.refuse(place, item)
