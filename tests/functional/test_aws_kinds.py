"""Every AWS kind read from moto's server: what counts as running, ids and keys, owner and
group from tags, units, sizes, running since, prices asked of the pricer, members reported
under their group (and only once), and pagination."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from offhours.model import Resource, resource_key
from offhours.sources.aws import AwsSource
from offhours.sources.aws.kinds import KINDS, Listing
from offhours.sources.aws.reading import Where, read_kind
from offhours.testing.aws_fleet import (
    seed_all,
    seed_asg,
    seed_ec2,
    seed_ecs,
    seed_rds,
    seed_rds_cluster,
)
from tests.aws import REGION, Aws

ACCOUNT = "123456789012"
WHERE = Where("aws", ACCOUNT, REGION)

#: kind word → (kind name, units of the seeded running one, its size, running since:
#: None unknown / "exact" / "at least")
EXPECTED: dict[str, tuple[str, int, str | None, str | None]] = {
    "ec2": ("aws.ec2.instance", 1, "t3.micro", "exact"),
    "asg": ("aws.autoscaling.group", 2, "t3.small", "at least"),
    "rds": ("aws.rds.instance", 1, "db.t3.micro", None),
    "rds-cluster": ("aws.rds.cluster", 1, "db.r6g.large", None),
    "ecs": ("aws.ecs.service", 2, None, "at least"),
    "eks": ("aws.eks.nodegroup", 2, "m5.large", "at least"),
    "sagemaker": ("aws.sagemaker.notebook", 1, "ml.t3.medium", "at least"),
    "redshift": ("aws.redshift.cluster", 2, "ra3.xlplus", None),
}

#: kind word → what its running resource is billed as (product, size, units)
BILLED: dict[str, list[tuple[str, str | None, int]]] = {
    "ec2": [("ec2", "t3.micro", 1)],
    "asg": [("ec2", "t3.small", 2)],
    "rds": [("rds:postgres", "db.t3.micro", 1)],
    "rds-cluster": [("rds:aurora-postgresql", "db.r6g.large", 1)],
    "ecs": [],
    "eks": [("ec2", "m5.large", 2)],
    "sagemaker": [("sagemaker-notebook", "ml.t3.medium", 1)],
    "redshift": [("redshift", "ra3.xlplus", 2)],
}


class Prices:
    """A pricer from a table: 0.5 per unit of every size but ``unknown``; records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None, int]] = []

    def __call__(
        self, product: str, region: str, size: str | None, units: int
    ) -> tuple[float | None, str | None]:
        self.calls.append((product, region, size, units))
        if size is None or size == "unknown":
            return None, f"price unknown for {size}"
        return 0.5 * units, None


def _read(aws: Aws, word: str, **kwargs: Any) -> list[Resource]:
    spec = KINDS[word]
    return [
        r
        for r, _ in read_kind(
            spec,
            aws.client(spec.service),
            WHERE,
            owner_tags=["Owner", "owner"],
            group_tag="Project",
            clients=aws.client,
            **kwargs,
        )
    ]


def _by_kind(found: list[Resource]) -> dict[str, list[Resource]]:
    out: dict[str, list[Resource]] = {}
    for r in found:
        out.setdefault(r.kind.name, []).append(r)
    return out


def test_every_kind_running_and_idle_with_owner_group_units_size_since_and_prices(
    aws: Aws,
) -> None:
    fleet = seed_all(aws.client, owner="ann", project="atlas")
    for word, (kind_name, units, size, since) in EXPECTED.items():
        prices = Prices()
        found = {r.id: r for r in _read(aws, word, kinds=list(KINDS), pricer=prices)}
        (running_id,) = fleet.running[word]
        r = found[running_id]
        assert r.kind.name == kind_name, word
        assert (r.owner, r.group, r.running, r.size) == ("ann", "atlas", units, size), word
        assert r.key == resource_key("aws", ACCOUNT, REGION, kind_name, running_id), word
        assert r.tags["Project"] == "atlas"
        if since is None:
            assert r.running_since is None, word
        else:
            assert r.running_since is not None, word
            assert r.since_at_least is (since == "at least"), word
        assert [c[:1] + c[2:] for c in prices.calls] == BILLED[word], word
        assert all(c[1] == REGION for c in prices.calls)
        if BILLED[word]:
            assert (r.hourly_cost, r.price_note) == (0.5 * units, None), word
        else:  # not priced, and said why: never $0
            assert r.hourly_cost is None and r.price_note, word
        for idle_id in fleet.idle[word]:
            if word == "ec2":  # stopped instances are not even listed
                assert idle_id not in found
                continue
            idle = found[idle_id]
            assert (idle.running, idle.running_since, idle.hourly_cost) == (0, None, None), word
    assert fleet.running["eks"] == ["fleet-k8s/fleet-nodes"]


def test_without_a_pricer_nothing_is_priced(aws: Aws) -> None:
    seed_rds(aws.client("rds"), "db", owner="ann")
    (r,) = _read(aws, "rds")
    assert (r.hourly_cost, r.price_note, r.owner, r.group) == (None, None, "ann", None)


def test_unknown_price_is_said_not_zero(aws: Aws) -> None:
    seed_rds(aws.client("rds"), "db", instance_class="unknown", multi_az=True)
    prices = Prices()
    (r,) = _read(aws, "rds", pricer=prices)
    assert prices.calls == [("rds:postgres:multi-az", REGION, "unknown", 1)]
    assert (r.hourly_cost, r.price_note) == (None, "price unknown for unknown")


def test_asg_and_eks_members_are_reported_once_under_their_group(aws: Aws) -> None:
    ec2 = aws.client("ec2")
    (alone,) = seed_ec2(ec2, owner="bob", project="hermes")
    seed_asg(aws.client, "web", desired=3, owner="ann", project="atlas")
    # what EKS does to the Auto Scaling group behind a managed node group (moto makes none)
    seed_asg(aws.client, "eks-nodes", desired=2, tags={"eks:nodegroup-name": "nodes"})

    both = _by_kind(AwsSource("aws", regions=[REGION], kinds=["ec2", "asg"]).collect())
    assert [r.id for r in both["aws.ec2.instance"]] == [alone]
    groups = {r.id: r for r in both["aws.autoscaling.group"]}
    assert sorted(groups) == ["eks-nodes", "web"]
    web = groups["web"]
    assert (web.running, web.size, web.owner, web.group) == (3, "t3.small", "ann", "atlas")
    assert web.running_since is not None and web.since_at_least

    with_eks = _by_kind(AwsSource("aws", regions=[REGION], kinds=["ec2", "asg", "eks"]).collect())
    assert [r.id for r in with_eks["aws.autoscaling.group"]] == ["web"]
    assert [r.id for r in with_eks["aws.ec2.instance"]] == [alone]

    alone_read = AwsSource("aws", regions=[REGION], kinds=["ec2"]).collect()
    assert len(alone_read) == 1 + 3 + 2  # without asg, each instance on its own
    assert {r.group for r in alone_read} == {"hermes", "atlas", None}


def test_cluster_members_are_grouped_under_their_cluster(aws: Aws) -> None:
    rds = aws.client("rds")
    seed_rds(rds, "single", project="solo")
    seed_rds_cluster(
        rds, "aurora", classes=("db.r6g.large", "db.r6g.xlarge", "db.r6g.large"), owner="ann"
    )
    seed_rds_cluster(rds, "graph", engine="neptune", classes=("db.r5.large",), owner="bob")
    prices = Prices()

    found = _by_kind(
        _read(aws, "rds", kinds=["rds", "rds-cluster"])
        + _read(aws, "rds-cluster", kinds=["rds", "rds-cluster"], pricer=prices)
    )

    assert [r.id for r in found["aws.rds.instance"]] == ["single"]
    clusters = {r.id: r for r in found["aws.rds.cluster"]}
    aurora, graph = clusters["aurora"], clusters["graph"]
    assert (aurora.kind.noun, aurora.running, aurora.owner) == ("Aurora cluster", 3, "ann")
    assert aurora.size == "db.r6g.large, db.r6g.xlarge"
    assert (graph.kind.noun, graph.running, graph.size) == ("Neptune cluster", 1, "db.r5.large")
    assert aurora.kind.name == graph.kind.name == "aws.rds.cluster"
    assert sorted(prices.calls) == [
        ("rds:aurora-postgresql", REGION, "db.r6g.large", 2),
        ("rds:aurora-postgresql", REGION, "db.r6g.xlarge", 1),
        ("rds:neptune", REGION, "db.r5.large", 1),
    ]
    assert aurora.hourly_cost == 1.5

    # without the cluster kind, its members are DB instances like any other
    alone = _read(aws, "rds", kinds=["rds"])
    assert len(alone) == 1 + 3 + 1


def test_pages_of_reservations_and_batches_of_services_are_all_read(aws: Aws) -> None:
    ec2 = aws.client("ec2")
    made = {i for _ in range(60) for i in seed_ec2(ec2, count=2, owner="ann")}
    spec = KINDS["ec2"]
    small_pages = replace(
        spec,
        listing=replace(
            spec.listing, request={**spec.listing.request, "PaginationConfig": {"PageSize": 10}}
        ),
    )
    calls: list[str] = []
    client = aws.client("ec2")
    client.meta.events.register("after-call.ec2.DescribeInstances", lambda **_: calls.append("p"))
    found = [
        r for r, _ in read_kind(small_pages, client, WHERE, owner_tags=["Owner"], group_tag="P")
    ]
    assert {r.id for r in found} == made and len(found) == 120
    assert len(calls) == 6  # moto pages by reservation: 10 reservations of 2 a page

    ecs = aws.client("ecs")
    arns = {seed_ecs(ecs, "apps", f"svc-{n:02}", desired=1) for n in range(23)}
    described: list[int] = []
    ecs_spec = KINDS["ecs"]
    ecs.meta.events.register(
        "provide-client-params.ecs.DescribeServices",
        lambda params, **_: described.append(len(params["services"])),
    )
    small = replace(
        ecs_spec,
        then=(
            replace(ecs_spec.then[0], request={"PaginationConfig": {"PageSize": 7}}),
            ecs_spec.then[1],
        ),
    )
    services = [r for r, _ in read_kind(small, ecs, WHERE, owner_tags=["Owner"], group_tag="P")]
    assert {r.id for r in services} == arns
    assert sorted(described) == [3, 10, 10]  # batches of at most 10, across listing pages
    assert isinstance(ecs_spec.then[1], Listing) and ecs_spec.then[1].batch == 10
