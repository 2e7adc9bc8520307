"""`offhours restore` end to end: an audit with ``action = "stop"`` against moto's server, then
the CLI puts back one resource, a group, or everything."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from offhours.sources.aws.stops import SAVED_TAG
from tests.aws import REGION, Aws
from tests.conftest import Run

CliRun = Callable[..., Run]
NIGHT = "2026-11-30T23:00:00-05:00"
AMI = "ami-03cf127a"  # one of moto's bundled images
KEY = "aws/123456789012/us-east-1/aws.ec2.instance/{}"

CONFIG = f"""
[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"

[[sources]]
type = "aws"
regions = ["{REGION}"]
kinds = ["ec2", "asg"]
action = "stop"
"""

pytestmark = pytest.mark.cli_in_process


def _instance(aws: Aws, project: str) -> str:
    tags = [{"Key": "Project", "Value": project}, {"Key": "Owner", "Value": "ann"}]
    answer = aws.client("ec2").run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return str(answer["Instances"][0]["InstanceId"])


def _state(aws: Aws, ident: str) -> str:
    answer = aws.client("ec2").describe_instances(InstanceIds=[ident])
    return str(answer["Reservations"][0]["Instances"][0]["State"]["Name"])


@pytest.fixture
def stopped(cli: CliRun, tmp_path: Path, aws: Aws) -> dict[str, str]:
    """Three instances (two of project atlas) that an audit at night stopped."""
    (tmp_path / "offhours.toml").write_text(CONFIG)
    made = {
        "a1": _instance(aws, "atlas"),
        "a2": _instance(aws, "atlas"),
        "b": _instance(aws, "beta"),
    }
    audit = cli("audit", "--now", NIGHT)
    assert audit.code == 0, audit.stderr
    assert {_state(aws, i) for i in made.values()} == {"stopped"}
    return made


def test_restore_one_key_a_group_then_everything(
    cli: CliRun, aws: Aws, stopped: dict[str, str]
) -> None:
    one = cli("restore", KEY.format(stopped["a1"]))
    assert one.code == 0, one.stderr
    assert one.stdout.startswith(f"done     restore {stopped['a1']} (")
    assert [_state(aws, stopped[n]) for n in ("a1", "a2", "b")] == ["running", "stopped", "stopped"]

    group = cli("restore", "--group", "atlas")
    assert group.code == 0, group.stderr
    assert stopped["a2"] in group.stdout and stopped["b"] not in group.stdout

    rest = cli("restore", "--all", "--format", "json")
    assert rest.code == 0, rest.stderr
    document = json.loads(rest.stdout)
    assert [(a["key"], a["outcome"]) for a in document["actions"]] == [
        (KEY.format(stopped["b"]), "done")
    ]
    assert document["failures"] == []

    again = cli("restore", "--all")
    assert (again.code, again.stdout) == (0, "")
    assert "nothing to restore" in again.stderr


def test_restore_dry_run_changes_nothing(cli: CliRun, aws: Aws, stopped: dict[str, str]) -> None:
    run = cli("restore", "--all", "--dry-run")
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("would    restore ") for line in lines)
    assert f"removing its {SAVED_TAG} tag" in lines[0]
    assert {_state(aws, i) for i in stopped.values()} == {"stopped"}


def test_a_key_never_stopped_is_refused_with_exit_1(cli: CliRun, tmp_path: Path, aws: Aws) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG)
    ident = _instance(aws, "atlas")
    run = cli("restore", KEY.format(ident))
    assert run.code == 1
    assert f"refused  restore {ident}" in run.stdout
    assert f"no {SAVED_TAG} tag" in run.stdout
    assert _state(aws, ident) == "running"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "one KEY, --group GROUP or --all"),
        (["--all", "--group", "atlas"], "one KEY, --group GROUP or --all"),
        (["i-0abc"], "is not a resource key"),
        (["aws/123456789012/us-east-1/aws.nothing/x"], "unknown kind 'aws.nothing'"),
    ],
)
def test_a_bad_selection_is_a_usage_error(
    cli: CliRun, tmp_path: Path, aws: Aws, args: list[str], says: str
) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG)
    run = cli("restore", *args)
    assert run.code == 2, (run.stdout, run.stderr)
    assert says in run.stderr


def test_a_key_of_an_account_no_source_reads_is_nothing_to_restore(
    cli: CliRun, tmp_path: Path, aws: Aws
) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG)
    run = cli("restore", "aws/210987654321/us-east-1/aws.ec2.instance/i-0abc")
    assert (run.code, run.stdout) == (1, "")
    assert "no configured source has 'aws/210987654321/" in run.stderr
