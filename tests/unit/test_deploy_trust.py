"""Deploy settings that keep a deployment trustworthy: regions, ARNs, variables, event age."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import pytest

from offhours.aws_region import aws_region
from offhours.config import parse_config
from offhours.deploy.aws import event_age, event_invoke_config
from offhours.errors import ConfigError

BASE: dict[str, Any] = {
    "deploy": {"function_name": "team-a", "region": "us-east-1"},
    "sources": [{"type": "ravello", "username": "env:U", "password": "env:P"}],
}


def deploy(**settings: Any) -> Any:
    data = copy.deepcopy(BASE)
    data["deploy"].update(settings)
    return parse_config(data).deploy


# ---------------------------------------------------------------- regions


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [
        ("eu-west-3", {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-west-2"}, "eu-west-3"),
        (None, {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-west-2"}, "us-east-1"),
        (None, {"AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2"),
        (None, {"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2"),
        (None, {"AWS_REGION": "  ap-south-1 "}, "ap-south-1"),
        (None, {}, None),  # botocore then reads the profile's region
        ("", {}, None),
    ],
)
def test_region_order(given: str | None, environ: dict[str, str], expected: str | None) -> None:
    assert aws_region(given, environ) == expected


def test_the_profile_region_comes_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile lab]\nregion = ca-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "lab")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    assert boto3.session.Session(region_name=aws_region(None)).region_name == "ca-central-1"
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert boto3.session.Session(region_name=aws_region(None)).region_name == "eu-north-1"


# ---------------------------------------------------------------- [deploy] settings


def test_key_alias_defaults_to_one_per_deployment() -> None:
    assert deploy().kms_alias() == "alias/offhours/team-a"
    assert deploy(key_alias="alias/mine").kms_alias() == "alias/mine"


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("on_failure", "arn:aws:sns:us-east-1:123456789012:failures", True),
        ("on_failure", "arn:aws:sqs:eu-west-1:123456789012:failures.fifo", True),
        ("on_failure", "arn:aws:sns:us-east-1:123456789012:*", False),
        ("on_failure", "arn:aws:sns:us-east-1:*:failures", False),
        ("on_failure", "arn:aws:lambda:us-east-1:123456789012:function:x", False),
        ("on_failure", "failures", False),
        ("alarm_topic", "arn:aws:sns:us-east-1:123456789012:alarms", True),
        ("alarm_topic", "arn:aws:sqs:us-east-1:123456789012:alarms", False),
        ("alarm_topic", "arn:aws:sns:us-east-1:123456789012:al?rms", False),
    ],
)
def test_destination_arns_are_checked(key: str, value: str, ok: bool) -> None:
    if ok:
        assert getattr(deploy(**{key: value}), key) == value
        return
    with pytest.raises(ConfigError, match=rf"deploy\.{key}: .*is not the ARN of one SNS topic"):
        deploy(**{key: value})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("SLACK_TOKEN", "its name says it holds a secret"),
        ("DB_PASSWORD", "its name says it holds a secret"),
        ("api_key", "its name says it holds a secret"),
        ("OFFHOURS_CONFIG_SSM", "set by offhours or by Lambda itself"),
        ("OFFHOURS_ENVIRONMENT", "set by offhours or by Lambda itself"),
        ("AWS_REGION", "set by offhours or by Lambda itself"),
        ("1BAD", "not a variable name"),
    ],
)
def test_environment_names_are_checked(name: str, message: str) -> None:
    value = "sentinel-env-value-6c1d"
    with pytest.raises(ConfigError) as info:
        deploy(environment={name: value})
    assert f"deploy.environment: {name}: {message}" in str(info.value)
    assert "secret reference" in str(info.value) or "holds a secret" not in message
    # A value is never shown: it may be the secret.
    assert value not in str(info.value)


def test_plain_environment_variables_are_accepted() -> None:
    assert deploy(environment={"LOG_LEVEL": "DEBUG"}).environment == {"LOG_LEVEL": "DEBUG"}


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        ("cron(0 18-23 ? * MON-FRI *)", 3600),
        ("rate(5 minutes)", 300),
        ("rate(1 minute)", 60),
        ("rate(2 hours)", 3600),
        ("rate(1 day)", 3600),
        ("at(2026-12-24T18:00:00)", 3600),
    ],
)
def test_events_do_not_outlive_the_next_run(schedule: str, seconds: int) -> None:
    assert event_age(schedule) == seconds


def test_invoke_config_never_retries() -> None:
    assert event_invoke_config(deploy()) == {
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 3600,
    }
    queue = "arn:aws:sqs:us-east-1:123456789012:failures"
    assert event_invoke_config(deploy(on_failure=queue))["DestinationConfig"] == {
        "OnFailure": {"Destination": queue}
    }
