"""The aws source against moto's server: the skeleton every kind builds on."""

from __future__ import annotations

from offhours.sources.aws import AwsSource
from offhours.testing.aws_fleet import IMAGE
from tests.aws import Aws


def _ami(aws: Aws) -> str:
    return IMAGE


def test_running_ec2_instances_come_with_owner_group_size_and_start(aws: Aws) -> None:
    ec2 = aws.client("ec2")
    tags = [{"Key": "Owner", "Value": "ann"}, {"Key": "Project", "Value": "atlas"}]
    ec2.run_instances(
        ImageId=_ami(aws),
        MinCount=2,
        MaxCount=2,
        InstanceType="m5.large",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    stopped = ec2.run_instances(ImageId=_ami(aws), MinCount=1, MaxCount=1)["Instances"][0]
    ec2.stop_instances(InstanceIds=[stopped["InstanceId"]])

    found = AwsSource("aws", regions=["us-east-1"], kinds=["ec2"]).collect()

    assert len(found) == 2
    for r in found:
        assert (r.owner, r.group, r.size, r.running) == ("ann", "atlas", "m5.large", 1)
        assert r.kind.name == "aws.ec2.instance"
        assert r.account == "123456789012"
        assert r.running_since is not None
        assert r.key.startswith("aws/123456789012/us-east-1/aws.ec2.instance/i-")
