"""The composed AWS permissions on moto's server: `deploy` puts exactly them in the function's
role, and with moto enforcing IAM they suffice to read (and stop) every kind, while one action
less makes that kind fail, reported.

moto checks actions against the resource "*" only, so the users standing in for the role get
each statement with Resource "*" (and no Condition): this proves the actions suffice and that
each is needed; the exact ARNs are checked in tests/unit/test_aws_permissions.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from offhours.audit import assess
from offhours.config import Config, load_config, parse_config
from offhours.deploy.aws import Deployment
from offhours.sources.aws import AwsSource, stopping
from offhours.sources.aws.kinds import KINDS
from offhours.sources.aws.permissions import statements
from offhours.sources.aws.settings import AwsSourceConfig
from offhours.sources.base import RestoreSelection
from offhours.testing import aws_fleet
from tests.aws import REGION, Aws, enforce_iam, env_for, moto_subprocess
from tests.functional.test_deploy import tiny_zip

ACCOUNT = "123456789012"
FN = "offhours-audit"
NIGHT = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 23:00 in New York, a Monday
MORNING = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
HOURS = {"timezone": "America/New_York", "start": "08:00", "end": "18:00"}


# ---------------------------------------------------------------- seeding, per kind

# The module's moto is shared by every test: each seeding takes names of its own.
_SEEDINGS = itertools.count()
WHO: dict[str, str] = {"owner": "ann", "project": "atlas"}


def _other_type_attached(client: Callable[[str], Any], group: str) -> None:
    """An instance of another type attached to ``group``: its members' types then differ, so
    reading it looks its instance type up in its launch template or configuration."""
    client("autoscaling").update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=4)
    (other,) = aws_fleet.seed_ec2(client("ec2"), instance_type="m5.large")
    client("autoscaling").attach_instances(AutoScalingGroupName=group, InstanceIds=[other])


def _seed_asgs(client: Callable[[str], Any], name: str) -> None:
    # One group from a launch template, one from a launch configuration, each of mixed types:
    # every lookup an Auto Scaling group's reading may make is made.
    _other_type_attached(client, aws_fleet.seed_asg(client, name, desired=1, **WHO))
    autoscaling = client("autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=f"lc-{name}", ImageId=aws_fleet.IMAGE, InstanceType="t3.small"
    )
    subnet = client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=f"{name}-lc",
        LaunchConfigurationName=f"lc-{name}",
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=1,
        VPCZoneIdentifier=subnet,
        Tags=[
            {**t, "ResourceId": f"{name}-lc", "ResourceType": "auto-scaling-group"}
            for t in aws_fleet.tag_list(**WHO)
        ],
    )
    _other_type_attached(client, f"{name}-lc")


SEEDS: dict[str, Callable[[Callable[[str], Any], str], object]] = {
    "ec2": lambda c, n: aws_fleet.seed_ec2(c("ec2"), instance_type="m5.large", **WHO),
    "asg": _seed_asgs,
    "rds": lambda c, n: aws_fleet.seed_rds(c("rds"), n, **WHO),
    # with a member, so that reading the cluster looks its members up
    "rds-cluster": lambda c, n: aws_fleet.seed_rds_cluster(c("rds"), n, **WHO),
    "ecs": lambda c, n: aws_fleet.seed_ecs(c("ecs"), n, "web", desired=1, **WHO),
    "eks": lambda c, n: aws_fleet.seed_eks(c("eks"), n, "workers", desired=1, **WHO),
    "sagemaker": lambda c, n: aws_fleet.seed_sagemaker(c("sagemaker"), n, **WHO),
    "redshift": lambda c, n: aws_fleet.seed_redshift(c("redshift"), n, nodes=1, **WHO),
}

# moto 5.2.5 verifies the signature of a request without a body (a GET) of a REST-JSON service
# against the request's query string or, without one, its headers, taken for its body
# (moto/iam/access_control.py, IAMRequestBase._create_aws_request: ``data=self._body or
# self._data``; moto/core/responses.py, setup_class): every such EKS call (ListClusters,
# ListNodegroups, DescribeNodegroup) is refused with SignatureDoesNotMatch, even to a user
# allowed "*" (verified: signing an empty body there instead makes ListClusters pass). EKS's
# reading is checked by recording its calls instead (test_eks_reading_calls_…); its stop and
# restore are not checked against the policy.
MOTO_CANNOT_ENFORCE = {
    "eks": "moto 5.2.5 answers every EKS GET with SignatureDoesNotMatch under IAM enforcement "
    "(it signs the query string or headers as the body), even for an administrator",
}


def seed(word: str, client: Callable[[str], Any]) -> None:
    """Resources of ``word``, running, tagged ``WHO``, under names no other seeding took."""
    if word in MOTO_CANNOT_ENFORCE:
        pytest.skip(MOTO_CANNOT_ENFORCE[word])
    SEEDS[word](client, f"{word}-{next(_SEEDINGS)}")


def in_table(word: str) -> str:
    if word not in KINDS:
        pytest.skip(f"{word}: not in the kinds table yet (nothing to read or grant)")
    return word


# ---------------------------------------------------------------- deploy


CONFIG = f"""
[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"

[deploy]
function_name = "{FN}"
region = "{REGION}"
schedule = "cron(0 18-23 ? * MON-FRI *)"

[[sources]]
type = "aws"
regions = {{regions}}
action = "{{action}}"
accounts = [
  {{{{ id = "111111111111", role_arn = "arn:aws:iam::111111111111:role/offhours-member" }}}},
]

[[notifiers]]
type = "console"
"""


def deploy_config(
    tmp_path: Path, *, regions: str = '["us-east-1"]', action: str = "none"
) -> Config:
    path = tmp_path / "offhours.toml"
    path.write_text(CONFIG.format(regions=regions, action=action))
    return load_config(path)


def ours(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if str(s.get("Sid", "")).startswith("Aws")]


def test_deploy_grants_exactly_the_composed_statements(aws: Aws, tmp_path: Path) -> None:
    cfg = deploy_config(tmp_path)
    settings = cfg.sources[0]
    assert isinstance(settings, AwsSourceConfig)
    expected = statements(settings, REGION, ACCOUNT)

    planned = "\n".join(str(c) for c in Deployment(cfg, code=tiny_zip()).plan())
    for statement in expected:
        assert statement["Sid"] in planned
    assert "arn:aws:iam::111111111111:role/offhours-member" in planned

    Deployment(cfg, code=tiny_zip()).apply()
    iam = aws.client("iam")
    document = iam.get_role_policy(RoleName=f"{FN}-role", PolicyName="offhours")["PolicyDocument"]
    assert ours(document) == expected
    # Nothing else of the source's: the rest is the function's own (logs, config, key, memory).
    others = {s["Sid"] for s in document["Statement"]} - {s["Sid"] for s in expected}
    assert others == {
        "OwnLogGroup",
        "ReadConfigAndParameters",
        "DecryptOwnSecrets",
        "StateTableItems",
    }
    assert {c.action for c in Deployment(cfg, code=tiny_zip()).plan()} == {"unchanged"}

    # A change of what the source needs is a change of the policy, shown by plan.
    wider = deploy_config(tmp_path, regions='"all"')
    changes = [c for c in Deployment(wider, code=tiny_zip()).plan() if c.action != "unchanged"]
    assert [(c.kind, c.action) for c in changes if c.kind.startswith("iam")] == [
        ("iam role", "update")
    ]
    assert "ec2:DescribeRegions" in "\n".join(str(c) for c in changes)


# ---------------------------------------------------------------- least privilege, enforced


@dataclass
class Enforced:
    """A moto server enforcing IAM, and an administrator made before it did."""

    endpoint: str
    admin: dict[str, str]

    def client(self, service: str, keys: dict[str, str] | None = None) -> Any:
        keys = keys or self.admin
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=keys["id"],
            aws_secret_access_key=keys["secret"],
        )

    def user(self, name: str, document: dict[str, Any]) -> dict[str, str]:
        """A user holding ``document`` (Resource "*", no Condition: what moto can check)."""
        iam = self.client("iam")
        loose = [
            {k: v for k, v in s.items() if k != "Condition"} | {"Resource": "*"}
            for s in document["Statement"]
        ]
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name,
            PolicyName="offhours",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": loose}),
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def enforced() -> Iterator[Enforced]:
    with moto_subprocess() as endpoint:
        iam = boto3.client(
            "iam",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        iam.create_user(UserName="seeder")
        everything = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="seeder", PolicyName="all", PolicyDocument=json.dumps(everything)
        )
        key = iam.create_access_key(UserName="seeder")["AccessKey"]
        enforce_iam(endpoint)
        yield Enforced(endpoint, {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]})


def as_user(monkeypatch: pytest.MonkeyPatch, endpoint: str, keys: dict[str, str]) -> None:
    for name, value in env_for(endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["secret"])
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def audit_config(word: str, action: str = "none") -> Config:
    source = {"type": "aws", "kinds": [word], "regions": [REGION], "action": action}
    return parse_config({"hours": HOURS, "sources": [source]})


def policy(word: str, action: str = "none", *, without: str | None = None) -> dict[str, Any]:
    settings = audit_config(word, action).sources[0]
    assert isinstance(settings, AwsSourceConfig)
    found = []
    for statement in statements(settings, REGION, ACCOUNT):
        kept = [a for a in statement["Action"] if a != without]
        if kept:
            found.append({**statement, "Action": kept})
    return {"Version": "2012-10-17", "Statement": found}


def findings_of(report: Any, word: str) -> list[Any]:
    return [f for f in report.findings if f.resource.kind.name == KINDS[word].kind.name]


@pytest.mark.parametrize("word", list(SEEDS))
def test_the_composed_policy_reads_each_kind_and_each_action_is_needed(
    word: str,
    enforced: Enforced,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    in_table(word)
    seed(word, enforced.client)
    user = enforced.user(f"reader-{word}", policy(word))
    as_user(monkeypatch, enforced.endpoint, user)
    report = assess(audit_config(word), now=NIGHT)
    assert report.failures == ()
    assert findings_of(report, word), f"{word}: nothing read"

    for action in KINDS[word].read_actions:
        short = enforced.user(f"no-{action.replace(':', '-')}-{word}", policy(word, without=action))
        as_user(monkeypatch, enforced.endpoint, short)
        caplog.clear()
        denied = assess(audit_config(word), now=NIGHT)
        assert denied.failures, f"{word} read without {action}"
        assert not findings_of(denied, word)
        # AWS's answer, in the failure reported or in the log beside it.
        said = " ".join(f.message for f in denied.failures) + caplog.text
        assert "AccessDenied" in said, said


@pytest.mark.parametrize("word", list(SEEDS))
def test_the_composed_policy_stops_and_restores_each_kind(
    word: str, enforced: Enforced, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_table(word)
    if word not in getattr(stopping, "STOPS", {}):
        pytest.skip(f"{word}: no stop entry yet (nothing to grant for stop)")
    seed(word, enforced.client)
    user = enforced.user(f"stopper-{word}", policy(word, "stop"))
    as_user(monkeypatch, enforced.endpoint, user)
    source = AwsSource("aws", **audit_config(word, "stop").sources[0].plugin_kwargs())
    findings = findings_of(assess(audit_config(word, "stop"), now=NIGHT), word)
    assert findings
    done = source.act(findings, dry_run=False, now=NIGHT, hours_open=False)
    assert done
    assert not [a for a in done if a.outcome == "failed"], done
    restored = source.restore(RestoreSelection(everything=True), dry_run=False, now=MORNING)
    assert not [a for a in restored if a.outcome == "failed"], restored


def test_eks_reading_calls_exactly_its_read_actions(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto cannot enforce IAM on EKS (MOTO_CANNOT_ENFORCE): every call that reading node groups
    # makes is recorded instead, and must be exactly the actions its policy grants.
    seed_name = f"eks-{next(_SEEDINGS)}"
    SEEDS["eks"](aws.client, seed_name)
    called: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        called.add(f"{model.service_model.signing_name}:{model.name}")

    make = boto3.session.Session.client

    def recorded(self: boto3.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = make(self, *args, **kwargs)
        client.meta.events.register("before-call", record)
        return client

    monkeypatch.setattr(boto3.session.Session, "client", recorded)
    report = assess(audit_config("eks"), now=NIGHT)

    assert report.failures == ()
    assert [f.resource.id for f in findings_of(report, "eks")] == [f"{seed_name}/workers"]
    # What it calls is what it is granted (its read actions, and who it is), no more, no less.
    granted = {a for s in policy("eks")["Statement"] for a in s["Action"]}
    assert called == granted
    assert set(KINDS["eks"].read_actions) < called
