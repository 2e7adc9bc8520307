"""The AWS kind table and its reading engine on page-shaped data: tags, field readers, running
since per kind, DocumentDB clusters (moto cannot create them), hostile items, and each kind's
read actions against the calls it makes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import jmespath
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.model import Resource
from offhours.sources.aws.kinds import KINDS, KindSpec, read_field
from offhours.sources.aws.reading import MAX_TAG_TEXT, MAX_TAGS, Where, read_kind, tags_of

WHERE = Where("aws", "123456789012", "eu-west-1")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class Pages:
    """Stands in for a boto3 client where moto cannot (hostile or unusual answers): each
    operation answers its fixed pages; an operation not given answers one empty page."""

    def __init__(self, answers: Mapping[str, list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def can_paginate(self, operation: str) -> bool:
        return True

    def get_paginator(self, operation: str) -> Pages.Paginator:
        return Pages.Paginator(self, operation)

    class Paginator:
        def __init__(self, client: Pages, operation: str) -> None:
            self.client, self.operation = client, operation

        def paginate(self, **request: Any) -> Iterator[dict[str, Any]]:
            self.client.calls.append((self.operation, request))
            yield from self.client.answers.get(self.operation, [{}])


def _page(path: str, values: list[Any]) -> dict[str, Any]:
    """A page holding ``values`` where the JMESPath ``path`` (``A[].B[]``, ``A[]`` or ``A``)
    finds them."""
    parts = path.replace("[]", "").split(".")
    if not path.endswith("[]"):
        return {parts[0]: values[0]} if values else {}
    inner: Any = values
    for key in reversed(parts[1:]):
        inner = [{key: inner}]
    return {parts[0]: inner}


def _client(spec: KindSpec, items: list[Any], **more: list[dict[str, Any]]) -> Pages:
    """A client whose listing of ``spec`` ends in ``items`` (one parent at each step above)."""
    steps = (spec.listing, *spec.then)
    answers = {s.operation: [_page(s.items, ["parent"])] for s in steps[:-1]}
    answers[steps[-1].operation] = [_page(steps[-1].items, items)]
    return Pages({**answers, **more})


def _read(word: str, items: list[Any], **kwargs: Any) -> list[Resource]:
    spec = KINDS[word]
    client = kwargs.pop("client", None) or _client(spec, items)
    return [
        r
        for r, _ in read_kind(
            spec,
            client,
            WHERE,
            owner_tags=["Owner", "owner", "CreatedBy"],
            group_tag="Project",
            **kwargs,
        )
    ]


# ------------------------------------------------------------------------------------ tags


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([{"Key": "Owner", "Value": "ann"}], {"Owner": "ann"}),
        ([{"key": "Owner", "value": "ann"}], {"Owner": "ann"}),  # ECS
        ({"Owner": "ann", "Project": "x"}, {"Owner": "ann", "Project": "x"}),  # EKS
        ([{"Key": "Owner"}, {"Key": 3, "Value": "x"}, "Owner=ann", None], {}),
        ([{"Key": "Owner", "Value": ""}], {"Owner": ""}),
        (None, {}),
        ("Owner=ann", {}),
        ([{"Key": "k" * 300, "Value": "v" * 300}], {"k" * MAX_TAG_TEXT: "v" * MAX_TAG_TEXT}),
    ],
)
def test_tags_are_read_from_every_form_and_bounded(raw: object, expected: dict[str, str]) -> None:
    assert tags_of(raw) == expected


def test_tags_beyond_the_bound_are_dropped() -> None:
    raw = [{"Key": f"k{n}", "Value": "v"} for n in range(MAX_TAGS + 10)]
    assert len(tags_of(raw)) == MAX_TAGS


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["running", "available", "InService", "ACTIVE", "PRIMARY", "aurora", "docdb"])
    | st.datetimes(timezones=st.just(UTC) | st.none())
)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(json_values)
def test_tags_of_anything_is_text_to_text(raw: object) -> None:
    tags = tags_of(raw)
    assert len(tags) <= MAX_TAGS
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())


@pytest.mark.parametrize(
    ("where", "item", "expected"),
    [
        ("a.b", {"a": {"b": 1}}, 1),
        ("a.b", {"a": "text"}, None),
        ("join('/', [a, b])", {"a": "x", "b": "y"}, "x/y"),
        ("join('/', [a, b])", {"a": "x"}, None),  # a type error in the path reads as absent
        (None, {"a": 1}, None),
        (lambda item: item.get("a"), {"a": 2}, 2),
    ],
)
def test_a_field_reads_a_path_or_a_reader(where: Any, item: dict[str, Any], expected: Any) -> None:
    assert read_field(where, item) == expected


@given(
    st.lists(st.sampled_from(["a", "b", "State", "Name"]), min_size=1, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "State", "Name"]), json_values, max_size=4),
)
def test_a_plain_path_reads_as_jmespath_does(keys: list[str], item: dict[str, Any]) -> None:
    path = ".".join(keys)  # walked directly, not interpreted: the same answer
    assert read_field(path, item) is jmespath.search(path, item)


# --------------------------------------------------------------------- running, units, size

LATER = T0 + timedelta(hours=3)


@pytest.mark.parametrize(
    ("word", "item", "running", "size"),
    [
        (
            "ec2",
            {"InstanceId": "i-1", "State": {"Name": "running"}, "InstanceType": "m5.large"},
            1,
            "m5.large",
        ),
        ("ec2", {"InstanceId": "i-1", "State": {"Name": "stopping"}}, 0, None),
        ("asg", {"AutoScalingGroupName": "g", "DesiredCapacity": 0}, 0, None),
        (
            "asg",
            {
                "AutoScalingGroupName": "g",
                "DesiredCapacity": 3,
                "Instances": [{"InstanceType": "m5.large"}, {"InstanceType": "c5.large"}],
            },
            3,
            None,  # mixed members, no template to say: unknown, never one of them
        ),
        ("rds", {"DBInstanceIdentifier": "d", "DBInstanceStatus": "stopped"}, 0, None),
        ("rds-cluster", {"DBClusterIdentifier": "c", "Status": "available"}, 1, None),  # serverless
        ("ecs", {"serviceArn": "s", "desiredCount": 2, "status": "DRAINING"}, 0, None),
        ("ecs", {"serviceArn": "s", "desiredCount": True, "status": "ACTIVE"}, 0, None),
        (
            "eks",
            {
                "clusterName": "k",
                "nodegroupName": "n",
                "scalingConfig": {"desiredSize": 4},
                "instanceTypes": ["m5.large", "m5.xlarge"],
            },
            4,
            "m5.large, m5.xlarge",
        ),
        ("sagemaker", {"NotebookInstanceName": "nb", "NotebookInstanceStatus": "Stopped"}, 0, None),
        (
            "redshift",
            {"ClusterIdentifier": "dw", "ClusterStatus": "paused", "NumberOfNodes": 4},
            0,
            None,
        ),
        (
            "redshift",
            {"ClusterIdentifier": "dw", "ClusterStatus": "available", "NumberOfNodes": 4},
            4,
            None,
        ),
    ],
)
def test_what_counts_as_running_and_how_many_units(
    word: str, item: dict[str, Any], running: int, size: str | None
) -> None:
    (r,) = _read(word, [item])
    assert (r.running, r.size) == (running, size)
    assert r.stopped == (0 if running else 1)


@pytest.mark.parametrize(
    ("word", "item", "since", "at_least"),
    [
        # EC2: LaunchTime is the last start (AWS resets it on each start)
        (
            "ec2",
            {"InstanceId": "i-1", "State": {"Name": "running"}, "LaunchTime": LATER},
            LATER,
            False,
        ),
        # ASG: the earliest running member (from EC2)
        (
            "asg",
            {
                "AutoScalingGroupName": "g",
                "DesiredCapacity": 2,
                "OffhoursMembers": [{"LaunchTime": LATER}, {"LaunchTime": T0}],
            },
            T0,
            True,
        ),
        # RDS, Redshift: creation times are not starts
        (
            "rds",
            {
                "DBInstanceIdentifier": "d",
                "DBInstanceStatus": "available",
                "InstanceCreateTime": T0,
            },
            None,
            False,
        ),
        (
            "rds-cluster",
            {"DBClusterIdentifier": "c", "Status": "available", "ClusterCreateTime": T0},
            None,
            False,
        ),
        (
            "redshift",
            {"ClusterIdentifier": "dw", "ClusterStatus": "available", "ClusterCreateTime": T0},
            None,
            False,
        ),
        # ECS: the primary deployment's last update, not an older deployment's
        (
            "ecs",
            {
                "serviceArn": "s",
                "desiredCount": 1,
                "status": "ACTIVE",
                "createdAt": T0,
                "deployments": [
                    {"status": "ACTIVE", "updatedAt": T0},
                    {"status": "PRIMARY", "updatedAt": LATER},
                ],
            },
            LATER,
            True,
        ),
        # EKS: modifiedAt, not createdAt
        (
            "eks",
            {
                "clusterName": "k",
                "nodegroupName": "n",
                "scalingConfig": {"desiredSize": 1},
                "createdAt": T0,
                "modifiedAt": LATER,
            },
            LATER,
            True,
        ),
        # SageMaker: LastModifiedTime, not CreationTime
        (
            "sagemaker",
            {
                "NotebookInstanceName": "nb",
                "NotebookInstanceStatus": "InService",
                "CreationTime": T0,
                "LastModifiedTime": LATER,
            },
            LATER,
            True,
        ),
        # a naive time is taken as UTC; a time of another type is no time
        (
            "ec2",
            {
                "InstanceId": "i-1",
                "State": {"Name": "running"},
                "LaunchTime": LATER.replace(tzinfo=None),
            },
            LATER,
            False,
        ),
        (
            "ec2",
            {"InstanceId": "i-1", "State": {"Name": "running"}, "LaunchTime": "2026-11-30"},
            None,
            False,
        ),
    ],
)
def test_running_since_per_kind(
    word: str, item: dict[str, Any], since: datetime | None, at_least: bool
) -> None:
    (r,) = _read(word, [item])
    assert (r.running_since, r.since_at_least) == (since, at_least)


def test_owner_first_present_wins_and_group_and_name_tag() -> None:
    item = {
        "InstanceId": "i-1",
        "State": {"Name": "running"},
        "Tags": [
            {"Key": "CreatedBy", "Value": "ci"},
            {"Key": "owner", "Value": "bob"},
            {"Key": "Owner", "Value": ""},
            {"Key": "Project", "Value": "atlas"},
            {"Key": "Name", "Value": "build box"},
            {"Key": "offhours", "Value": "always"},
        ],
    }
    (r,) = _read("ec2", [item])
    assert (r.owner, r.group, r.name) == ("bob", "atlas", "build box")
    assert r.tags["offhours"] == "always"  # the core's schedule tag reaches the policy


def test_items_without_an_id_are_skipped_and_said_once() -> None:
    notes: list[str] = []
    items = [{"State": {"Name": "running"}}, {"InstanceId": 7}, "junk", {"InstanceId": "i-1"}]
    found = _read("ec2", items, note=notes.append)
    assert [r.id for r in found] == ["i-1"]
    assert len(notes) == 1 and "3 instances (ec2)" in notes[0] and "eu-west-1" in notes[0]


def test_without_clients_lookups_in_other_services_are_left_unknown() -> None:
    group = {"AutoScalingGroupName": "g", "DesiredCapacity": 2}
    client = _client(KINDS["asg"], [group])
    (r,) = _read("asg", [], client=client)
    assert (r.running, r.running_since, r.size) == (2, None, None)
    assert [op for op, _ in client.calls] == ["describe_auto_scaling_groups"]


def test_lookups_run_for_running_items_only() -> None:
    spec = KINDS["sagemaker"]
    notebooks = [
        {
            "NotebookInstanceName": "on",
            "NotebookInstanceStatus": "InService",
            "NotebookInstanceArn": "arn:on",
        },
        {
            "NotebookInstanceName": "off",
            "NotebookInstanceStatus": "Stopped",
            "NotebookInstanceArn": "arn:off",
        },
    ]
    client = _client(spec, notebooks, list_tags=[{"Tags": [{"Key": "Owner", "Value": "ann"}]}])
    found = {r.id: r for r in _read("sagemaker", [], client=client)}
    assert found["on"].owner == "ann" and found["off"].owner is None
    assert [(op, req) for op, req in client.calls if op == "list_tags"] == [
        ("list_tags", {"ResourceArn": "arn:on"})
    ]


# -------------------------------------------------------------- DocumentDB (not in moto)


def test_documentdb_clusters_are_read_through_rds() -> None:
    """moto refuses the docdb engine, so the AWS answers are stubbed with botocore's Stubber
    (which checks them against the RDS API's own model)."""
    rds = boto3.client(
        "rds", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    cluster = {
        "DBClusterIdentifier": "docs",
        "Engine": "docdb",
        "Status": "available",
        "DBClusterMembers": [
            {"DBInstanceIdentifier": "docs-1"},
            {"DBInstanceIdentifier": "docs-2"},
        ],
        "TagList": [{"Key": "Owner", "Value": "eve"}, {"Key": "Project", "Value": "ledger"}],
        "ClusterCreateTime": T0,
    }
    members = [
        {
            "DBInstanceIdentifier": "docs-1",
            "DBInstanceClass": "db.r5.large",
            "DBClusterIdentifier": "docs",
        },
        {
            "DBInstanceIdentifier": "docs-2",
            "DBInstanceClass": "db.r5.large",
            "DBClusterIdentifier": "docs",
        },
    ]
    calls: list[tuple[str, str, str | None, int]] = []

    def pricer(product: str, region: str, size: str | None, units: int) -> tuple[float, None]:
        calls.append((product, region, size, units))
        return 0.3 * units, None

    with Stubber(rds) as stub:
        stub.add_response(
            "describe_db_clusters", {"DBClusters": [cluster, {"Engine": "docdb"}]}, {}
        )
        stub.add_response(
            "describe_db_instances",
            {"DBInstances": members},
            {"Filters": [{"Name": "db-cluster-id", "Values": ["docs"]}]},
        )
        notes: list[str] = []
        (r,) = _read("rds-cluster", [], client=rds, pricer=pricer, note=notes.append)
        stub.assert_no_pending_responses()

    assert (r.kind.name, r.kind.noun, r.id, r.running) == (
        "aws.rds.cluster",
        "DocumentDB cluster",
        "docs",
        2,
    )
    assert (r.owner, r.group, r.size, r.running_since) == ("eve", "ledger", "db.r5.large", None)
    assert calls == [("rds:docdb", "eu-west-1", "db.r5.large", 2)]
    assert r.hourly_cost == pytest.approx(0.6)
    assert len(notes) == 1  # the cluster without an identifier


# ------------------------------------------------------------------------- hostile items

_FIELDS = sorted(
    {
        "InstanceId",
        "State",
        "Name",
        "InstanceType",
        "LaunchTime",
        "Tags",
        "TagList",
        "tags",
        "AutoScalingGroupName",
        "DesiredCapacity",
        "Instances",
        "LaunchTemplate",
        "LaunchConfigurationName",
        "MixedInstancesPolicy",
        "DBInstanceIdentifier",
        "DBInstanceStatus",
        "DBInstanceClass",
        "DBClusterIdentifier",
        "Engine",
        "MultiAZ",
        "Status",
        "DBClusterMembers",
        "serviceArn",
        "serviceName",
        "desiredCount",
        "status",
        "deployments",
        "clusterName",
        "nodegroupName",
        "scalingConfig",
        "instanceTypes",
        "modifiedAt",
        "NotebookInstanceName",
        "NotebookInstanceStatus",
        "NotebookInstanceArn",
        "LastModifiedTime",
        "ClusterIdentifier",
        "ClusterStatus",
        "NodeType",
        "NumberOfNodes",
        "OffhoursMembers",
        "OffhoursTemplateType",
        "OffhoursConfigType",
    }
)
hostile_items = st.lists(
    st.dictionaries(st.sampled_from(_FIELDS), json_values, max_size=10) | json_leaf, max_size=4
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(KINDS)), hostile_items)
def test_hostile_items_never_crash_the_reading(word: str, items: list[Any]) -> None:
    notes: list[str] = []
    found = _read(word, items, pricer=lambda *_: (1.0, None), kinds=list(KINDS), note=notes.append)
    for r in found:
        assert isinstance(r.id, str) and r.id and isinstance(r.name, str)
        assert r.running >= 0 and r.stopped in (0, 1)
        assert r.size is None or isinstance(r.size, str)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in r.tags.items())
        assert r.running_since is None or r.running_since.tzinfo is not None
    assert len(notes) <= 1


# ----------------------------------------------------------------------- read permissions


@pytest.mark.parametrize("word", sorted(KINDS))
def test_read_actions_are_exactly_the_calls_made(word: str) -> None:
    spec = KINDS[word]
    calls = [(spec.service, s.operation) for s in (spec.listing, *spec.then)]
    calls += [(lk.service or spec.service, lk.operation) for lk in spec.lookups]
    actions = set()
    for service, operation in calls:
        client = boto3.client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        actions.add(f"{service}:{client.meta.method_to_api_mapping[operation]}")
    assert actions == set(spec.read_actions)
    assert spec.word == word
