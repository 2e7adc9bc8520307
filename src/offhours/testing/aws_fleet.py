"""A small fleet of every AWS kind offhours reads, created through boto3 in an AWS-compatible
endpoint (moto's server), with owner and project tags: for the tests, the AWS demo and benches.

    fleet = seed_all(lambda service: boto3.client(service, endpoint_url=url, ...))
    assert fleet.running["ecs"] == [service_arn]

One function per kind creates one resource (running, or left idle: stopped, paused or scaled
to zero) and returns its id as offhours reports it (:mod:`offhours.sources.aws.kinds`).
Passwords here are obviously fake; nothing is ever created in a real account by the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

__all__ = [
    "Fleet",
    "seed_all",
    "seed_asg",
    "seed_ec2",
    "seed_ecs",
    "seed_eks",
    "seed_rds",
    "seed_rds_cluster",
    "seed_redshift",
    "seed_sagemaker",
    "tag_list",
]

#: a boto3 client of a service (``"ec2"``), pointed at the endpoint and region to seed
ClientFactory = Callable[[str], Any]

_PASSWORD = "XXXXXXXX1x"  # a fake master password, as the create calls require one
_ROLE = "arn:aws:iam::123456789012:role/offhours-fleet"


def tag_list(
    owner: str | None = None, project: str | None = None, **extra: str
) -> list[dict[str, str]]:
    """``[{Key, Value}]`` with ``Owner`` and ``Project`` when given, and any other tags."""
    tags = {"Owner": owner, "Project": project, **extra}
    return [{"Key": k, "Value": v} for k, v in tags.items() if v is not None]


def _tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


#: an image id of moto's default set (listing images takes moto seconds; it does not check ids)
IMAGE = "ami-03cf127a"


def seed_ec2(
    ec2: Any,
    *,
    count: int = 1,
    owner: str | None = None,
    project: str | None = None,
    instance_type: str = "t3.micro",
    running: bool = True,
    tags: Mapping[str, str] | None = None,
) -> list[str]:
    """``count`` instances in one reservation; stopped unless ``running``. Their ids."""
    tagged = tag_list(owner, project, **(tags or {}))
    made = ec2.run_instances(
        ImageId=IMAGE,
        MinCount=count,
        MaxCount=count,
        InstanceType=instance_type,
        **({"TagSpecifications": [{"ResourceType": "instance", "Tags": tagged}]} if tagged else {}),
    )
    ids = [str(i["InstanceId"]) for i in made["Instances"]]
    if not running:
        ec2.stop_instances(InstanceIds=ids)
    return ids


def seed_asg(
    clients: ClientFactory,
    name: str,
    *,
    desired: int = 2,
    owner: str | None = None,
    project: str | None = None,
    instance_type: str = "t3.small",
    tags: Mapping[str, str] | None = None,
) -> str:
    """An Auto Scaling group of ``desired`` instances (its tags propagated to them), from a
    launch template of its own. Its name."""
    ec2, autoscaling = clients("ec2"), clients("autoscaling")
    template = f"lt-{name}"  # Auto Scaling wants a template name of 3 characters or more
    ec2.create_launch_template(
        LaunchTemplateName=template,
        LaunchTemplateData={"ImageId": IMAGE, "InstanceType": instance_type},
    )
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=max(desired, 1),
        DesiredCapacity=desired,
        VPCZoneIdentifier=subnet,
        Tags=[
            {
                **t,
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
                "PropagateAtLaunch": True,
            }
            for t in tag_list(owner, project, **(tags or {}))
        ],
    )
    return name


def seed_rds(
    rds: Any,
    ident: str,
    *,
    owner: str | None = None,
    project: str | None = None,
    instance_class: str = "db.t3.micro",
    engine: str = "postgres",
    multi_az: bool = False,
    running: bool = True,
) -> str:
    """A DB instance (stopped unless ``running``). Its identifier."""
    rds.create_db_instance(
        DBInstanceIdentifier=ident,
        Engine=engine,
        DBInstanceClass=instance_class,
        AllocatedStorage=20,
        MasterUsername="offhours",
        MasterUserPassword=_PASSWORD,
        MultiAZ=multi_az,
        Tags=tag_list(owner, project),
    )
    if not running:
        rds.stop_db_instance(DBInstanceIdentifier=ident)
    return ident


def seed_rds_cluster(
    rds: Any,
    ident: str,
    *,
    engine: str = "aurora-postgresql",
    classes: tuple[str, ...] = ("db.r6g.large",),
    owner: str | None = None,
    project: str | None = None,
    running: bool = True,
) -> str:
    """A DB cluster (Aurora, or Neptune with ``engine="neptune"``) with one member instance
    per class in ``classes``, stopped unless ``running``. Its identifier."""
    rds.create_db_cluster(
        DBClusterIdentifier=ident,
        Engine=engine,
        MasterUsername="offhours",
        MasterUserPassword=_PASSWORD,
        Tags=tag_list(owner, project),
    )
    for n, instance_class in enumerate(classes, 1):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{ident}-{n}",
            DBClusterIdentifier=ident,
            Engine=engine,
            DBInstanceClass=instance_class,
        )
    if not running:
        rds.stop_db_cluster(DBClusterIdentifier=ident)
    return ident


def seed_ecs(
    ecs: Any,
    cluster: str,
    service: str,
    *,
    desired: int = 2,
    owner: str | None = None,
    project: str | None = None,
) -> str:
    """A service of ``desired`` tasks in ``cluster`` (created if need be). Its ARN."""
    ecs.create_cluster(clusterName=cluster)
    family = f"{cluster}-{service}"
    ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": service, "image": "nginx", "memory": 128}]
    )
    made = ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=family,
        desiredCount=desired,
        tags=[{"key": t["Key"], "value": t["Value"]} for t in tag_list(owner, project)],
    )
    return str(made["service"]["serviceArn"])


def seed_eks(
    eks: Any,
    cluster: str,
    nodegroup: str,
    *,
    desired: int = 2,
    instance_type: str = "m5.large",
    owner: str | None = None,
    project: str | None = None,
) -> str:
    """A managed node group of ``desired`` nodes in ``cluster`` (created if need be). Its id,
    ``cluster/nodegroup``."""
    if cluster not in eks.list_clusters()["clusters"]:
        eks.create_cluster(
            name=cluster, roleArn=_ROLE, resourcesVpcConfig={"subnetIds": ["subnet-fleet"]}
        )
    eks.create_nodegroup(
        clusterName=cluster,
        nodegroupName=nodegroup,
        nodeRole=_ROLE,
        subnets=["subnet-fleet"],
        scalingConfig={"minSize": 0, "maxSize": max(desired, 1), "desiredSize": desired},
        instanceTypes=[instance_type],
        tags=_tag_map(tag_list(owner, project)),
    )
    return f"{cluster}/{nodegroup}"


def seed_sagemaker(
    sagemaker: Any,
    name: str,
    *,
    instance_type: str = "ml.t3.medium",
    owner: str | None = None,
    project: str | None = None,
    running: bool = True,
) -> str:
    """A notebook instance (stopped unless ``running``). Its name."""
    sagemaker.create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType=instance_type,
        RoleArn=_ROLE,
        **({"Tags": tags} if (tags := tag_list(owner, project)) else {}),
    )
    if not running:
        sagemaker.stop_notebook_instance(NotebookInstanceName=name)
    return name


def seed_redshift(
    redshift: Any,
    ident: str,
    *,
    node_type: str = "ra3.xlplus",
    nodes: int = 2,
    owner: str | None = None,
    project: str | None = None,
    running: bool = True,
) -> str:
    """A provisioned cluster of ``nodes`` nodes (paused unless ``running``). Its identifier."""
    redshift.create_cluster(
        ClusterIdentifier=ident,
        NodeType=node_type,
        NumberOfNodes=nodes,
        ClusterType="multi-node" if nodes > 1 else "single-node",
        MasterUsername="offhours",
        MasterUserPassword=_PASSWORD,
        Tags=tag_list(owner, project),
    )
    if not running:
        redshift.pause_cluster(ClusterIdentifier=ident)
    return ident


class _Who(TypedDict):
    owner: str
    project: str


@dataclass
class Fleet:
    """What :func:`seed_all` made, by kind word: the ids of what runs, and of what is idle."""

    running: dict[str, list[str]] = field(default_factory=dict)
    idle: dict[str, list[str]] = field(default_factory=dict)

    def add(self, word: str, ids: str | list[str], *, running: bool = True) -> None:
        where = self.running if running else self.idle
        where.setdefault(word, []).extend([ids] if isinstance(ids, str) else ids)


def seed_all(
    clients: ClientFactory, *, owner: str = "ann", project: str = "atlas", prefix: str = "fleet"
) -> Fleet:
    """One running and one idle resource of every kind, tagged ``owner`` and ``project``;
    names start with ``prefix`` (idle ones with ``<prefix>-idle``)."""
    fleet = Fleet()
    ec2, rds, ecs, eks = clients("ec2"), clients("rds"), clients("ecs"), clients("eks")
    sagemaker, redshift = clients("sagemaker"), clients("redshift")
    tags = _Who(owner=owner, project=project)
    seeders: dict[str, Callable[[bool, str], str | list[str]]] = {
        "ec2": lambda on, _: seed_ec2(ec2, running=on, **tags),
        "asg": lambda on, n: seed_asg(clients, f"{n}-asg", desired=2 if on else 0, **tags),
        "rds": lambda on, n: seed_rds(rds, f"{n}-db", running=on, **tags),
        "rds-cluster": lambda on, n: seed_rds_cluster(rds, f"{n}-aurora", running=on, **tags),
        "ecs": lambda on, n: seed_ecs(ecs, f"{prefix}-apps", f"{n}-web", desired=2 * on, **tags),
        "eks": lambda on, n: seed_eks(eks, f"{prefix}-k8s", f"{n}-nodes", desired=2 * on, **tags),
        "sagemaker": lambda on, n: seed_sagemaker(sagemaker, f"{n}-notebook", running=on, **tags),
        "redshift": lambda on, n: seed_redshift(redshift, f"{n}-dw", running=on, **tags),
    }
    for word, seed in seeders.items():
        fleet.add(word, seed(True, prefix))
        fleet.add(word, seed(False, f"{prefix}-idle"), running=False)
    return fleet
