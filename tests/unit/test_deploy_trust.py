"""Deploy settings that keep a deployment trustworthy: regions, ARNs, variables, event age."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.aws_region import aws_region
from offhours.config import parse_config
from offhours.deploy.spec import event_age, event_invoke_config
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
        ("RAVELLO_PASS", "its name says it holds a secret"),
        ("DB_PWD", "its name says it holds a secret"),
        ("AUTH_HEADER", "its name says it holds a secret"),
        ("SIGNING_KEY", "its name says it holds a secret"),
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


@pytest.mark.parametrize(
    "value",
    [
        "https://hooks.slack.com/services/T00000000/B00000000/XXXX-sentinel-6c1e",
        "xoxb-00000000-sentinel-bot-token",
        "http://user:sentinel-proxy-pw@proxy.corp:3128",
        "Bearer sentinel-bearer-6c1f",
        "AKIA" + "0" * 16,  # the shape of an access key id, built so no file holds one
        "-----BEGIN RSA PRIVATE KEY-----",
    ],
)
def test_secret_looking_values_are_refused_whatever_the_name(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        deploy(environment={"SETTING": value})
    assert "SETTING: its value looks like a secret" in str(info.value)
    assert value not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "DEBUG"),
        ("PASSTHROUGH_MODE", "on"),
        ("HOMEPAGE", "https://example.com/docs"),
        ("KEYBOARD", "us"),
        ("AUTHOR_EMAIL", "someone@example.com"),
    ],
)
def test_ordinary_settings_do_not_look_secret(name: str, value: str) -> None:
    from offhours.secrets import secret_looking

    assert secret_looking(name, value) is None


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


# ---------------------------------------------------------------- fingerprints of secrets

WHERE, KEY, CIPHERTEXT = "sources[0].password", "arn:aws:kms:us-east-1:1:key/a", "kms:AQID"
SECRET = "sentinel-fingerprint-secret-5e0d"


def test_a_fingerprint_matches_exactly_what_it_was_made_of() -> None:
    from offhours.deploy.fingerprint import fingerprint, matches

    made = fingerprint(WHERE, KEY, CIPHERTEXT, SECRET)
    scheme, n, r, p, salt, digest = made.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert SECRET not in made
    assert matches(made, WHERE, KEY, CIPHERTEXT, SECRET)
    # Salted: the same secret never gives the same fingerprint twice.
    again = fingerprint(WHERE, KEY, CIPHERTEXT, SECRET)
    assert again != made and matches(again, WHERE, KEY, CIPHERTEXT, SECRET)
    for other in (
        ("sources[0].username", KEY, CIPHERTEXT, SECRET),  # moved to another key path
        (WHERE, KEY + "b", CIPHERTEXT, SECRET),  # another KMS key
        (WHERE, KEY, CIPHERTEXT + "x", SECRET),  # ciphertext edited by hand
        (WHERE, KEY, CIPHERTEXT, SECRET + "x"),  # the secret changed
        ("sources[0].password", KEY, CIPHERTEXT, ""),
    ):
        assert not matches(made, *other), other


@pytest.mark.parametrize(
    "stored",
    [
        None,
        42,
        "",
        "scrypt",
        "bcrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
        "scrypt$16384$8$1$not base64!$" + "A" * 44,
        "scrypt$16384$8$1$AAAA$" + "A" * 44,  # salt too short
        "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # hash too short
        "scrypt$12345$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,  # n not a power of two
        # Costs a hostile document could ask for: refused, not computed.
        f"scrypt${2**30}$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
        "scrypt$16384$1024$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
        "scrypt$16384$8$64$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
    ],
)
def test_a_malformed_or_costly_fingerprint_never_matches(stored: object) -> None:
    from offhours.deploy.fingerprint import matches

    assert matches(stored, WHERE, KEY, CIPHERTEXT, SECRET) is False


def test_a_config_file_cannot_carry_the_deployers_fingerprints() -> None:
    """Only a deployed document holds them (the Lambda handler drops them); `offhours check`
    and every command reading offhours.toml refuse the reserved key as unknown."""
    from offhours.deploy.fingerprint import DEPLOY_STATE_KEY

    with pytest.raises(ConfigError, match=DEPLOY_STATE_KEY):
        parse_config({**BASE, DEPLOY_STATE_KEY: {"fingerprints": {}}})


@settings(max_examples=8, deadline=None)  # scrypt is slow on purpose
@given(secret=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_fingerprint_never_matches_another_secret(secret: str, other: str) -> None:
    from offhours.deploy.fingerprint import fingerprint, matches

    made = fingerprint(WHERE, KEY, CIPHERTEXT, secret)
    assert matches(made, WHERE, KEY, CIPHERTEXT, other) is (secret == other)


# ---------------------------------------------------------------- what deploy reads of the config


def test_deploy_reads_the_config_through_its_accessors() -> None:
    """The function's document leaves out what only the deploying machine reads, and each
    secret's place in it is typed data, not a key path to parse."""
    data = copy.deepcopy(BASE)
    data["allow_plaintext_secrets"] = True
    data["notifiers"] = [{"type": "slack", "webhook_url": "ssm:/offhours/hook"}]
    config = parse_config(data)
    document = config.runtime_document()
    assert set(document) == {"sources", "notifiers"}
    document["sources"][0]["username"] = "changed"  # a copy: the config keeps its own
    assert config.runtime_document()["sources"][0]["username"] == "env:U"
    places = [(s.section, s.index, s.field, s.ref.where) for s in config.secret_slots()]
    assert places == [
        ("sources", 0, "username", "sources[0].username"),
        ("sources", 0, "password", "sources[0].password"),
        ("notifiers", 0, "webhook_url", "notifiers[0].webhook_url"),
    ]
    for slot in config.secret_slots():
        written = config.runtime_document()[slot.section][slot.index][slot.field]
        assert written == f"{slot.ref.scheme}:{slot.ref.target}"


# ---------------------------------------------------------------- incident memory and digest


@pytest.mark.parametrize(
    ("memory", "region", "expected"),
    [
        ({}, "us-east-1", "arn:aws:dynamodb:us-east-1:123456789012:table/team-a-state"),
        (
            {"store": "dynamodb", "table": "shared.memory"},
            "eu-west-1",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/shared.memory",
        ),
        ({}, "cn-north-1", "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/team-a-state"),
        ({"store": "sqlite"}, "us-east-1", None),
        ({"store": "off"}, "us-east-1", None),
    ],
)
def test_the_role_may_use_exactly_its_state_table(
    memory: dict[str, str], region: str, expected: str | None
) -> None:
    from offhours.deploy.spec import MANAGED_TAG, STATE_STATEMENT, describe
    from offhours.state import STATE_TABLE_ENV
    from offhours.state.dynamodb import ITEM_ACTIONS, OPEN_INDEX

    data = copy.deepcopy(BASE)
    # Ours wins over a variable of that name in [deploy.environment]: the role allows no other.
    data["deploy"]["environment"] = {STATE_TABLE_ENV: "someone-elses-table"}
    data["memory"] = memory
    desc = describe(parse_config(data), region, account="123456789012")
    statements = desc["OffhoursRolePolicy"].props["PolicyDocument"]["Statement"]
    granted = [s for s in statements if s["Sid"] == STATE_STATEMENT]
    env = desc["OffhoursFunction"].props["Environment"]["Variables"]
    if expected is None:
        assert granted == []
        assert desc.get("OffhoursStateTable") is None
        assert env[STATE_TABLE_ENV] == "someone-elses-table"
        return
    name = expected.rsplit("/", 1)[1]
    assert granted == [
        {
            "Sid": STATE_STATEMENT,
            "Effect": "Allow",
            "Action": list(ITEM_ACTIONS),
            "Resource": [expected, f"{expected}/index/{OPEN_INDEX}"],
        }
    ]
    assert not [a for a in ITEM_ACTIONS if "*" in a or not a.startswith("dynamodb:")]
    assert env[STATE_TABLE_ENV] == name
    table = desc["OffhoursStateTable"]
    assert (table.kind, table.name, table.props["TableName"]) == ("state_table", name, name)
    assert table.tags is not None and table.tags[MANAGED_TAG] == "offhours"
    assert table.props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert table.props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


@pytest.mark.parametrize(
    "expression", ["cron(0 17 * * MON-FRI *)", "rate(1 hours)", "every monday", ""]
)
def test_digest_schedule_is_checked_as_the_schedule_is(expression: str) -> None:
    with pytest.raises(ConfigError) as audit:
        deploy(schedule=expression)
    with pytest.raises(ConfigError) as digest:
        deploy(digest_schedule=expression)
    assert "deploy.digest_schedule" in str(digest.value)
    said = str(audit.value).split("deploy.schedule", 1)[1]
    assert str(digest.value).split("deploy.digest_schedule", 1)[1] == said


def test_a_digest_at_a_single_time_needs_the_scheduler() -> None:
    at = "at(2026-12-28T09:00:00)"
    assert deploy(digest_schedule=at).digest_schedule == at
    with pytest.raises(ConfigError, match=r"digest_schedule at\(.*needs EventBridge Scheduler"):
        deploy(digest_schedule=at, scheduler="rule")


def test_the_digest_is_named_within_the_limit() -> None:
    from offhours.deploy.spec import digest_name

    assert digest_name("team-a") == "team-a-digest"
    long = "f" * 64
    assert len(digest_name(long)) == 64 and digest_name(long).endswith("-digest")
