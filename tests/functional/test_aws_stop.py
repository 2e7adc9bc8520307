"""The aws source's optional stop, and restore, against moto's server: every kind moto has.

moto stands in for AWS with two gaps this file works around openly: it cannot tag an EKS node
group (``_eks_nodegroup_tags`` teaches the in-process server to, as AWS does), and it cannot
launch an instance-store root (that refusal is tested on a describe-shaped item).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.audit import run_audit
from offhours.config import parse_config
from offhours.model import Action, Decision, Finding, Kind, Resource
from offhours.sources.aws import AwsSource
from offhours.sources.aws.stops import (
    SAVED_TAG,
    STOPS,
    Place,
    parse_saved,
    refusal,
    saved_value,
)
from offhours.sources.base import RestoreSelection
from tests.aws import REGION, Aws

NIGHT = datetime.fromisoformat("2026-11-30T23:00:00-05:00")
MORNING = datetime.fromisoformat("2026-12-01T09:00:00-05:00")
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/offhours-test"
FAKE_PASSWORD = "XXXXXXXXXXXX1"


@pytest.fixture
def _eks_nodegroup_tags(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto tags EKS clusters only; AWS tags node groups too. The server runs in this process:
    teach it node groups (the emulator's gap, not offhours' code)."""
    from moto.eks.models import EKSBackend

    tag, untag = EKSBackend.tag_resource, EKSBackend.untag_resource

    def groups(backend: EKSBackend) -> Iterator[Any]:
        for cluster in backend.clusters.values():
            yield from cluster.nodegroups.values()

    def tag_resource(self: EKSBackend, resource_arn: str, tags: dict[str, str]) -> None:
        group = next((g for g in groups(self) if g.arn == resource_arn), None)
        if group is None:
            tag(self, resource_arn, tags)
        else:
            group.tags.update(tags)

    def untag_resource(self: EKSBackend, resource_arn: str, tag_keys: list[str]) -> None:
        group = next((g for g in groups(self) if g.arn == resource_arn), None)
        if group is None:
            untag(self, resource_arn, tag_keys)
            return
        for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
            group.tags.pop(key, None)

    monkeypatch.setattr(EKSBackend, "tag_resource", tag_resource)
    monkeypatch.setattr(EKSBackend, "untag_resource", untag_resource)


# ---------------------------------------------------------------------------- fleet makers


def _tags(owner: str = "ann", project: str = "atlas", **more: str) -> list[dict[str, str]]:
    pairs = {"Owner": owner, "Project": project, **more}
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def _ami(aws: Aws) -> str:
    # One of moto's bundled images (EBS root), named: listing them all takes seconds.
    return "ami-03cf127a"


def ec2_instance(aws: Aws, project: str = "atlas", **launch: Any) -> str:
    answer = aws.client("ec2").run_instances(
        ImageId=_ami(aws),
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(project=project)}],
        **launch,
    )
    return str(answer["Instances"][0]["InstanceId"])


def asg(aws: Aws, name: str = "web") -> str:
    aws.client("ec2").create_launch_template(
        LaunchTemplateName=f"lt-{name}",
        LaunchTemplateData={"ImageId": _ami(aws), "InstanceType": "t3.micro"},
    )
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"lt-{name}"},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
        Tags=[{**t, "PropagateAtLaunch": True} for t in _tags(project="beta")],
    )
    return name


def rds_instance(aws: Aws, name: str = "db1", **more: Any) -> str:
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine=more.pop("Engine", "postgres"),
        MasterUsername="admin",
        MasterUserPassword=FAKE_PASSWORD,
        AllocatedStorage=20,
        Tags=_tags(),
        **more,
    )
    return name


def rds_cluster(aws: Aws, name: str = "aurora1", **more: Any) -> str:
    aws.client("rds").create_db_cluster(
        DBClusterIdentifier=name,
        Engine=more.pop("Engine", "aurora-postgresql"),
        MasterUsername="admin",
        MasterUserPassword=FAKE_PASSWORD,
        Tags=_tags(),
        **more,
    )
    return name


def ecs_service(aws: Aws, *, scaling_min: int | None = None) -> str:
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="c1")
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )
    service = ecs.create_service(
        cluster="c1",
        serviceName="web",
        taskDefinition="web",
        desiredCount=3,
        tags=[{"key": t["Key"], "value": t["Value"]} for t in _tags()],
    )["service"]
    if scaling_min is not None:
        aws.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId="service/c1/web",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=scaling_min,
            MaxCapacity=6,
        )
    return str(service["serviceArn"])


def eks_nodegroup(aws: Aws) -> str:
    eks = aws.client("eks")
    eks.create_cluster(
        name="k1", roleArn=ROLE, resourcesVpcConfig={"subnetIds": ["subnet-00000000"]}
    )
    eks.create_nodegroup(
        clusterName="k1",
        nodegroupName="ng1",
        scalingConfig={"minSize": 1, "maxSize": 5, "desiredSize": 2},
        subnets=["subnet-00000000"],
        nodeRole=ROLE,
        tags={"Owner": "ann", "Project": "atlas"},
    )
    return "k1/ng1"


def notebook(aws: Aws) -> str:
    aws.client("sagemaker").create_notebook_instance(
        NotebookInstanceName="nb1", InstanceType="ml.t3.medium", RoleArn=ROLE, Tags=_tags()
    )
    return "nb1"


def redshift(aws: Aws) -> str:
    aws.client("redshift").create_cluster(
        ClusterIdentifier="rs1",
        NodeType="dc2.large",
        MasterUsername="admin",
        MasterUserPassword=FAKE_PASSWORD,
        ClusterType="single-node",
        Tags=_tags(),
    )
    return "rs1"


# ---------------------------------------------------------------------------- helpers


def finding(word: str, ident: str, name: str | None = None) -> Finding:
    """A flagged resource as collect reads it (only the fields act() uses matter)."""
    resource = Resource(
        provider="aws",
        source="aws",
        id=ident,
        name=name or ident,
        running=1,
        region=REGION,
        kind=Kind(STOPS[word].kind),
        account=ACCOUNT,
    )
    return Finding.of(Decision(resource, True, "running after hours", "default"), NIGHT)


def source(*kinds: str, **settings: Any) -> AwsSource:
    return AwsSource("aws", regions=[REGION], kinds=list(kinds), action="stop", **settings)


@pytest.fixture
def place(aws: Aws) -> Place:
    """Reads resources as the executor does, with clients made once for the whole test."""
    return Place(source(*STOPS), ACCOUNT, REGION)


def fresh(place: Place, word: str, ident: str) -> Any:
    return STOPS[word].fresh(place, ident)


def saved_tag(place: Place, word: str, ident: str) -> str | None:
    item = STOPS[word].fresh(place, ident)
    assert item is not None
    return STOPS[word].tags(place, item).get(SAVED_TAG)


def one(actions: list[Action]) -> Action:
    assert len(actions) == 1, actions
    return actions[0]


#: what each kind's resource reads as, running then stopped (moto's states)
STATE = {
    "ec2": lambda i: i["State"]["Name"],
    "asg": lambda i: (i["MinSize"], i["DesiredCapacity"], i["MaxSize"]),
    "rds": lambda i: i["DBInstanceStatus"],
    "rds-cluster": lambda i: i["Status"],
    "ecs": lambda i: i["desiredCount"],
    "eks": lambda i: (
        i["scalingConfig"]["minSize"],
        i["scalingConfig"]["desiredSize"],
        i["scalingConfig"]["maxSize"],
    ),
    "sagemaker": lambda i: i["NotebookInstanceStatus"],
    "redshift": lambda i: i["ClusterStatus"],
}
MAKERS = {
    "ec2": ec2_instance,
    "asg": asg,
    "rds": rds_instance,
    "rds-cluster": rds_cluster,
    "ecs": ecs_service,
    "eks": eks_nodegroup,
    "sagemaker": notebook,
    "redshift": redshift,
}
#: (running, stopped by offhours, saved values)
EXPECTED: dict[str, tuple[Any, Any, dict[str, int]]] = {
    "ec2": ("running", "stopped", {}),
    "asg": ((1, 2, 4), (0, 0, 4), {"min": 1, "desired": 2, "max": 4}),
    "rds": ("available", "stopped", {}),
    "rds-cluster": ("available", "stopped", {}),
    "ecs": (3, 0, {"desired": 3}),
    "eks": ((1, 2, 5), (0, 0, 5), {"min": 1, "desired": 2, "max": 5}),
    "sagemaker": ("InService", "Stopped", {}),
    "redshift": ("available", "paused", {}),
}


# ---------------------------------------------------------------------------- stop and restore


@pytest.mark.usefixtures("_eks_nodegroup_tags")
@pytest.mark.parametrize("word", list(STOPS))
def test_each_kind_stops_with_its_values_saved_and_restore_puts_them_back(
    aws: Aws, place: Place, word: str
) -> None:
    ident = MAKERS[word](aws)
    running, stopped, saved = EXPECTED[word]
    assert STATE[word](fresh(place, word, ident)) == running

    done = one(source(word).act([finding(word, ident)], dry_run=False, now=NIGHT, hours_open=False))

    assert (done.outcome, done.verb) == ("done", STOPS[word].verb), done
    assert STATE[word](fresh(place, word, ident)) == stopped
    tag = saved_tag(place, word, ident)
    assert tag is not None and tag.startswith("at=2026-12-01T04:00:00Z")
    assert parse_saved(tag) == saved
    if word in ("rds", "rds-cluster"):
        assert "7 days" in done.detail

    back = one(source(word).restore(RestoreSelection(everything=True), dry_run=False, now=MORNING))

    assert (back.outcome, back.verb) == ("done", "restore"), back
    assert back.key == finding(word, ident).resource.key
    assert STATE[word](fresh(place, word, ident)) in (running, "pending")
    assert saved_tag(place, word, ident) is None


@pytest.mark.usefixtures("_eks_nodegroup_tags")
@pytest.mark.parametrize("word", list(STOPS))
def test_a_dry_run_says_the_exact_call_and_writes_nothing(
    aws: Aws, place: Place, word: str
) -> None:
    ident = MAKERS[word](aws)
    before = STATE[word](fresh(place, word, ident))

    would = one(source(word).act([finding(word, ident)], dry_run=True, now=NIGHT, hours_open=False))

    assert would.outcome == "would"
    assert would.call.startswith(f"{STOPS[word].stop_call} {ident}")
    assert f"tagging it {SAVED_TAG}=at=" in would.call
    assert STATE[word](fresh(place, word, ident)) == before
    assert saved_tag(place, word, ident) is None


def test_restore_dry_run_changes_nothing(aws: Aws, place: Place) -> None:
    name = asg(aws)
    source("asg").act([finding("asg", name)], dry_run=False, now=NIGHT, hours_open=False)

    would = one(
        source("asg").restore(
            RestoreSelection(key=finding("asg", name).resource.key), dry_run=True, now=MORNING
        )
    )

    assert would.outcome == "would"
    assert would.call == (
        f"update_auto_scaling_group web min=1 desired=2 max=4, removing its {SAVED_TAG} tag"
    )
    assert STATE["asg"](fresh(place, "asg", name)) == (0, 0, 4)
    assert saved_tag(place, "asg", name) is not None


def test_ecs_scaling_minimum_is_zeroed_and_put_back(aws: Aws, place: Place) -> None:
    arn = ecs_service(aws, scaling_min=2)
    scaling = aws.client("application-autoscaling")

    def minimum() -> int:
        targets = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
        return int(targets[0]["MinCapacity"])

    source("ecs").act([finding("ecs", arn)], dry_run=False, now=NIGHT, hours_open=False)
    assert (minimum(), STATE["ecs"](fresh(place, "ecs", arn))) == (0, 0)
    assert parse_saved(saved_tag(place, "ecs", arn) or "") == {"desired": 3, "scalingmin": 2}

    source("ecs").restore(RestoreSelection(everything=True), dry_run=False, now=MORNING)
    assert (minimum(), STATE["ecs"](fresh(place, "ecs", arn))) == (2, 3)


def test_ec2_hibernates_where_launched_with_it_and_configured(aws: Aws, place: Place) -> None:
    sleepy = ec2_instance(aws, HibernationOptions={"Configured": True})
    plain = ec2_instance(aws)

    actions = source("ec2", hibernate=True).act(
        [finding("ec2", sleepy), finding("ec2", plain)], dry_run=False, now=NIGHT, hours_open=False
    )

    assert [(a.verb, a.outcome) for a in actions] == [("hibernate", "done"), ("stop", "done")]
    assert actions[0].call.startswith(f"stop_instances {sleepy} Hibernate=True;")
    assert parse_saved(saved_tag(place, "ec2", sleepy) or "") == {"hibernate": 1}
    restored = source("ec2").restore(RestoreSelection(everything=True), dry_run=False, now=MORNING)
    assert sorted(a.outcome for a in restored) == ["done", "done"]


# ---------------------------------------------------------------------------- refusals


def test_ec2_refusals_asg_member_and_one_time_spot(aws: Aws, place: Place) -> None:
    asg(aws)
    member = aws.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"][0][
        "Instances"
    ][0]["InstanceId"]
    spot = ec2_instance(
        aws,
        InstanceMarketOptions={
            "MarketType": "spot",
            "SpotOptions": {"SpotInstanceType": "one-time"},
        },
    )

    actions = source("ec2").act(
        [finding("ec2", member), finding("ec2", spot)], dry_run=False, now=NIGHT, hours_open=False
    )

    assert [a.outcome for a in actions] == ["refused", "refused"]
    assert "left to its group" in actions[0].detail
    assert "one-time Spot" in actions[1].detail
    assert STATE["ec2"](fresh(place, "ec2", member)) == "running"
    assert STATE["ec2"](fresh(place, "ec2", spot)) == "running"
    assert saved_tag(place, "ec2", spot) is None


def test_instance_store_root_is_refused_on_its_fresh_state(place: Place) -> None:
    # moto cannot launch an instance-store root: the refusal is decided on a describe-shaped item.
    item = {
        "InstanceId": "i-00000000",
        "State": {"Name": "running"},
        "RootDeviceType": "instance-store",
    }
    reason = refusal(STOPS["ec2"], place, item)
    assert reason is not None and "instance store" in reason


@pytest.mark.parametrize(
    ("item", "why"),
    [
        (
            {"DBInstanceStatus": "available", "ReadReplicaSourceDBInstanceIdentifier": "db1"},
            "read replica",
        ),
        (
            {"DBInstanceStatus": "available", "ReadReplicaDBInstanceIdentifiers": ["db2"]},
            "source of read replicas",
        ),
        (
            {"DBInstanceStatus": "available", "Engine": "sqlserver-se", "MultiAZ": True},
            "SQL Server Multi-AZ",
        ),
        (
            {"DBInstanceStatus": "available", "DBClusterIdentifier": "aurora1"},
            "stopped with its cluster",
        ),
        ({"DBInstanceStatus": "stopped"}, "stopped now: nothing to stop"),
    ],
)
def test_rds_refusal_table(place: Place, item: dict[str, Any], why: str) -> None:
    reason = refusal(STOPS["rds"], place, item)
    assert reason is not None and why in reason


def test_rds_replicas_and_their_source_are_refused_in_moto(aws: Aws, place: Place) -> None:
    rds_instance(aws, "db1")
    aws.client("rds").create_db_instance_read_replica(
        DBInstanceIdentifier="db1-replica", SourceDBInstanceIdentifier="db1"
    )
    rds_instance(aws, "mssql", Engine="sqlserver-se", MultiAZ=True, LicenseModel="license-included")

    actions = source("rds").act(
        [finding("rds", "db1"), finding("rds", "db1-replica"), finding("rds", "mssql")],
        dry_run=False,
        now=NIGHT,
        hours_open=False,
    )

    assert [a.outcome for a in actions] == ["refused"] * 3
    assert "source of read replicas" in actions[0].detail
    assert "read replica" in actions[1].detail
    assert "SQL Server Multi-AZ" in actions[2].detail
    assert {STATE["rds"](fresh(place, "rds", n)) for n in ("db1", "db1-replica", "mssql")} == {
        "available"
    }


def test_serverless_v1_and_global_clusters_are_refused(aws: Aws) -> None:
    rds_cluster(aws, "sls", EngineMode="serverless", Engine="aurora-mysql")
    arn = aws.client("rds").describe_db_clusters(DBClusterIdentifier=rds_cluster(aws, "member"))[
        "DBClusters"
    ][0]["DBClusterArn"]
    aws.client("rds").create_global_cluster(
        GlobalClusterIdentifier="world", SourceDBClusterIdentifier=arn
    )

    actions = source("rds-cluster").act(
        [finding("rds-cluster", "sls"), finding("rds-cluster", "member")],
        dry_run=False,
        now=NIGHT,
        hours_open=False,
    )

    assert [a.outcome for a in actions] == ["refused", "refused"]
    assert "Serverless v1" in actions[0].detail
    assert "global database world" in actions[1].detail


def test_a_resource_gone_or_changed_since_collect_is_refused(aws: Aws) -> None:
    stopped = ec2_instance(aws)
    aws.client("ec2").stop_instances(InstanceIds=[stopped])

    actions = source("ec2").act(
        [finding("ec2", stopped), finding("ec2", "i-0000000000000dead")],
        dry_run=False,
        now=NIGHT,
        hours_open=False,
    )

    assert [(a.outcome, a.detail) for a in actions] == [
        ("refused", "stopped now: nothing to stop"),
        ("refused", "gone since it was read"),
    ]


def test_one_failing_resource_is_reported_and_the_others_proceed(aws: Aws, place: Place) -> None:
    locked = ec2_instance(aws, DisableApiStop=True)
    first, last = ec2_instance(aws), ec2_instance(aws)

    actions = source("ec2").act(
        [finding("ec2", i) for i in (first, locked, last)],
        dry_run=False,
        now=NIGHT,
        hours_open=False,
    )

    assert [a.outcome for a in actions] == ["done", "failed", "done"]
    assert actions[1].detail.startswith("OperationNotPermitted")
    assert STATE["ec2"](fresh(place, "ec2", locked)) == "running"
    # The tag written first is taken back: restore must not find a resource it never stopped.
    assert saved_tag(place, "ec2", locked) is None


def test_kinds_whose_action_is_none_are_not_touched(aws: Aws, place: Place) -> None:
    ident = ec2_instance(aws)
    src = AwsSource(
        "aws", regions=[REGION], kinds=["ec2", "asg"], action="stop", actions={"ec2": "none"}
    )
    assert src.act([finding("ec2", ident)], dry_run=False, now=NIGHT, hours_open=False) == []
    assert STATE["ec2"](fresh(place, "ec2", ident)) == "running"


# ---------------------------------------------------------------------------- restore selections


def test_restore_by_key_by_group_and_everything(aws: Aws, place: Place) -> None:
    atlas = [ec2_instance(aws, project="atlas") for _ in range(2)]
    beta = ec2_instance(aws, project="beta")
    src = source("ec2")
    src.act([finding("ec2", i) for i in (*atlas, beta)], dry_run=False, now=NIGHT, hours_open=False)

    by_key = src.restore(
        RestoreSelection(key=finding("ec2", atlas[0]).resource.key), dry_run=False, now=MORNING
    )
    assert [(a.outcome, a.name) for a in by_key] == [("done", atlas[0])]
    assert STATE["ec2"](fresh(place, "ec2", atlas[1])) == "stopped"

    by_group = src.restore(RestoreSelection(group="atlas"), dry_run=False, now=MORNING)
    assert [a.key for a in by_group] == [finding("ec2", atlas[1]).resource.key]
    assert STATE["ec2"](fresh(place, "ec2", beta)) == "stopped"

    rest = src.restore(RestoreSelection(everything=True), dry_run=False, now=MORNING)
    assert [a.key for a in rest] == [finding("ec2", beta).resource.key]
    assert src.restore(RestoreSelection(everything=True), dry_run=False, now=MORNING) == []


def test_restore_refuses_a_resource_changed_since_and_drops_its_tag(aws: Aws, place: Place) -> None:
    name = asg(aws)
    source("asg").act([finding("asg", name)], dry_run=False, now=NIGHT, hours_open=False)
    aws.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=name, DesiredCapacity=1
    )

    action = one(
        source("asg").restore(RestoreSelection(everything=True), dry_run=False, now=MORNING)
    )

    assert action.outcome == "refused"
    assert action.detail == "desired 1 now, not as offhours left it: left as is, tag removed"
    assert STATE["asg"](fresh(place, "asg", name)) == (0, 1, 4)
    assert saved_tag(place, "asg", name) is None


def test_restore_of_a_key_offhours_never_stopped_is_refused(aws: Aws) -> None:
    ident = ec2_instance(aws)
    action = one(
        source("ec2").restore(
            RestoreSelection(key=finding("ec2", ident).resource.key), dry_run=False, now=MORNING
        )
    )
    assert (action.outcome, action.detail) == (
        "refused",
        f"no {SAVED_TAG} tag: not stopped by offhours",
    )


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ({}, "at=2026-12-01T04:00:00Z"),
        ({"min": 1, "desired": 20, "max": 300}, "at=2026-12-01T04:00:00Z min=1 desired=20 max=300"),
    ],
)
def test_saved_value_reads_back_and_uses_only_characters_every_service_allows(
    values: dict[str, int], text: str
) -> None:
    value = saved_value(NIGHT, values)
    assert value == text
    assert parse_saved(value) == values
    # RDS, SageMaker and ECS: letters, digits, spaces and _ . : / = + - @ only; 256 at most.
    assert re.fullmatch(r"[\w\s.:/=+\-@]{1,256}", value)


@given(
    st.datetimes(datetime(2000, 1, 1), datetime(2200, 1, 1), timezones=st.timezones()),
    st.dictionaries(
        st.sampled_from(["min", "desired", "max", "scalingmin", "hibernate"]),
        st.integers(min_value=0, max_value=10**9),
    ),
)
def test_any_saved_value_reads_back_within_the_tag_rules(
    at: datetime, values: dict[str, int]
) -> None:
    value = saved_value(at, values)
    assert parse_saved(value) == values
    assert re.fullmatch(r"[\w\s.:/=+\-@]{1,256}", value)


# ---------------------------------------------------------------------------- the whole audit


def _config(**aws_source: Any) -> Any:
    return parse_config(
        {
            "hours": {"timezone": "America/New_York", "start": "08:00", "end": "18:00"},
            "sources": [
                {
                    "type": "aws",
                    "regions": [REGION],
                    "kinds": ["ec2"],
                    "action": "stop",
                    **aws_source,
                }
            ],
        }
    )


def test_an_audit_stops_exactly_the_non_exempt_and_restores_at_business_hours(
    aws: Aws, place: Place
) -> None:
    exempt = ec2_instance(aws)
    aws.client("ec2").create_tags(
        Resources=[exempt], Tags=[{"Key": "offhours-exempt", "Value": "until 2026-12-05 demo"}]
    )
    others = [ec2_instance(aws) for _ in range(2)]
    cfg = _config(restore_at_business_hours=True)

    night = run_audit(cfg, now=NIGHT)

    actions = night.report.actions
    assert sorted(a.key.rsplit("/", 1)[1] for a in actions) == sorted(others)
    assert {a.outcome for a in actions} == {"done"}
    assert STATE["ec2"](fresh(place, "ec2", exempt)) == "running"
    assert saved_tag(place, "ec2", exempt) is None
    assert {STATE["ec2"](fresh(place, "ec2", i)) for i in others} == {"stopped"}

    morning = run_audit(cfg, now=MORNING)

    assert sorted((a.verb, a.outcome) for a in morning.report.actions) == [("restore", "done")] * 2
    assert {STATE["ec2"](fresh(place, "ec2", i)) for i in others} <= {"running", "pending"}


def test_an_audit_dry_run_stops_nothing(aws: Aws, place: Place) -> None:
    ident = ec2_instance(aws)
    result = run_audit(_config(), now=NIGHT, dry_run=True)
    assert [a.outcome for a in result.report.actions] == ["would"]
    assert STATE["ec2"](fresh(place, "ec2", ident)) == "running"
    assert saved_tag(place, "ec2", ident) is None


# ---------------------------------------------------------------------------- permissions


def test_the_declared_iam_actions_are_all_that_stop_and_restore_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under moto's IAM enforcement, a user allowed exactly ``actions_stop`` and
    ``actions_restore`` of the kinds stops and restores them; without the tagging call, nothing
    is stopped (the tag comes first)."""
    import json

    from tests.aws import enforce_iam, env_for, moto_subprocess

    words = ("ec2", "asg", "rds")
    with moto_subprocess() as endpoint:
        aws = Aws(endpoint)
        made = {"ec2": ec2_instance(aws), "asg": asg(aws), "rds": rds_instance(aws)}
        iam = aws.client("iam")
        keys = {}
        needed = {a for w in words for a in (*STOPS[w].actions_stop, *STOPS[w].actions_restore)}
        for user, allowed in (
            ("exact", needed),
            ("untagging", needed - {"ec2:CreateTags"}),
            ("blind", needed - {"autoscaling:DescribeAutoScalingGroups"}),
        ):
            iam.create_user(UserName=user)
            statement = {"Effect": "Allow", "Action": sorted(allowed), "Resource": "*"}
            policy = {"Version": "2012-10-17", "Statement": [statement]}
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        enforce_iam(endpoint)
        for name, value in env_for(endpoint).items():
            monkeypatch.setenv(name, value)

        def as_user(user: str) -> None:
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys[user]["AccessKeyId"])
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys[user]["SecretAccessKey"])

        as_user("untagging")
        denied = one(
            source("ec2").act(
                [finding("ec2", made["ec2"])], dry_run=False, now=NIGHT, hours_open=False
            )
        )
        assert denied.outcome == "failed" and "CreateTags" in denied.detail, denied

        as_user("exact")
        stopped = source(*words).act(
            [finding(w, made[w]) for w in words], dry_run=False, now=NIGHT, hours_open=False
        )
        assert [a.outcome for a in stopped] == ["done"] * 3, stopped

        # A kind that cannot be listed is one failed action; the others are still put back.
        as_user("blind")
        partial = source(*words).restore(
            RestoreSelection(everything=True), dry_run=False, now=MORNING
        )
        failed = [a for a in partial if a.outcome == "failed"]
        assert [a.key for a in failed] == [f"aws/{ACCOUNT}/{REGION}/aws.autoscaling.group/%2A"]
        assert "AccessDenied" in failed[0].detail
        assert sorted(a.outcome for a in partial if a not in failed) == ["done", "done"]

        as_user("exact")
        restored = source(*words).restore(
            RestoreSelection(everything=True), dry_run=False, now=MORNING
        )
        assert [a.key for a in restored] == [finding("asg", made["asg"]).resource.key]
        assert restored[0].outcome == "done", restored


def test_a_stop_is_part_of_the_incident_and_its_resolution(aws: Aws, tmp_path: Any) -> None:
    """With memory, the night's message tells the instance as new and stopped by offhours; the
    next run tells it resolved, "stopped by offhours at 23:00", and nothing after that."""
    from datetime import timedelta

    from offhours.audit import Memory, run_id
    from offhours.state.sqlite import SqliteStore

    ident = ec2_instance(aws)
    cfg = _config()

    def audit(at: datetime) -> Any:
        store = SqliteStore(tmp_path / "state.db")
        try:
            return run_audit(
                cfg, now=at, memory=Memory(store, run_id("t", at), cfg.memory.settings())
            )
        finally:
            store.close()

    night = audit(NIGHT)
    memory = night.report.memory
    assert memory is not None and list(memory.status.values()) == ["new"]
    assert [a.outcome for a in night.report.actions] == ["done"]
    later = audit(NIGHT + timedelta(hours=1))
    resolved = later.report.memory.resolved if later.report.memory else ()
    assert [(i.resource_key.rsplit("/", 1)[1], i.resolution) for i in resolved] == [
        (ident, "stopped")
    ]
    assert resolved[0].action == "stopped by offhours at 23:00"
    again = audit(NIGHT + timedelta(hours=2))
    assert again.report.memory is not None and not again.report.memory.resolved
