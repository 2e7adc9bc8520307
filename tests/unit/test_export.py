"""`offhours deploy export`: SAM and Terraform (JSON) equivalent to what `deploy apply` creates."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from offhours.config import Config, parse_config
from offhours.deploy.export import export
from offhours.deploy.spec import (
    DIGEST_INPUT,
    FUNCTION_CONTEXT,
    FUNCTION_TAG,
    HANDLER,
    MANAGED_TAG,
    SCHEDULE_GROUP,
    SCHEDULER_INPUT,
    STATE_STATEMENT,
    role_policy,
)
from offhours.deploy.spec import key_policy as policy_of_key
from offhours.errors import ConfigError

FN = "offhours-audit"
ACCOUNT = "123456789012"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0f3e8c1a-1111-2222-3333-444455556666"
ROLE_ARN = "arn:aws:iam::123456789012:role/existing-offhours"
# Not a secret: ciphertext that only the key in KEY_ARN can open.
CIPHERTEXT = "kms:AQICAHh0ZXN0LWNpcGhlcnRleHQtbm90LWEtc2VjcmV0"
INLINE = "sentinel-inline-password-5b7e"
VPC = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}

BASE: dict[str, Any] = {
    "hours": {"timezone": "America/New_York", "start": "08:00", "end": "18:00"},
    "deploy": {
        "function_name": FN,
        "region": "us-east-1",
        "memory": 256,
        "timeout": 120,
        "architecture": "arm64",
        "runtime": "python3.13",
        "schedule": "cron(0 18-23 ? * MON-FRI *)",
        "alias": "prod",
        "log_retention_days": 14,
        "environment": {"LOG_LEVEL": "INFO"},
        "tags": {"team": "platform", "cost-center": "42"},
    },
    "sources": [
        {
            "type": "ravello",
            "username": "ssm:/offhours/ravello-user",
            "password": "secretsmanager:offhours/ravello#password",
        }
    ],
    "notifiers": [{"type": "slack", "webhook_url": "ssm:/offhours/slack-hook"}],
}

FORMATS = ("sam", "terraform")
SCHEDULERS = ("scheduler", "rule")

# The same resource in each format.
KIND: dict[str, dict[str, str | None]] = {
    "sam": {
        "key": "AWS::KMS::Key",
        "key_alias": "AWS::KMS::Alias",
        "role": "AWS::IAM::Role",
        # The function role's policy stands apart: the key's policy names the role.
        "role_policy": "AWS::IAM::RolePolicy",
        "invoke_config": None,  # EventInvokeConfig on the function
        "alarm": "AWS::CloudWatch::Alarm",
        "log_group": "AWS::Logs::LogGroup",
        "parameter": "AWS::SSM::Parameter",
        "function": "AWS::Serverless::Function",
        "alias": None,  # AutoPublishAlias on the function
        "group": "AWS::Scheduler::ScheduleGroup",
        "schedule": "AWS::Scheduler::Schedule",
        "rule": "AWS::Events::Rule",
        "rule_target": None,  # inline in the rule
        "permission": "AWS::Lambda::Permission",
        "state_table": "AWS::DynamoDB::Table",
    },
    "terraform": {
        "key": "aws_kms_key",
        "key_alias": "aws_kms_alias",
        "role": "aws_iam_role",
        "role_policy": "aws_iam_role_policy",
        "invoke_config": "aws_lambda_function_event_invoke_config",
        "alarm": "aws_cloudwatch_metric_alarm",
        "log_group": "aws_cloudwatch_log_group",
        "parameter": "aws_ssm_parameter",
        "function": "aws_lambda_function",
        "alias": "aws_lambda_alias",
        "group": "aws_scheduler_schedule_group",
        "schedule": "aws_scheduler_schedule",
        "rule": "aws_cloudwatch_event_rule",
        "rule_target": "aws_cloudwatch_event_target",
        "permission": "aws_lambda_permission",
        "state_table": "aws_dynamodb_table",
    },
}
COMMON = {
    "key",
    "key_alias",
    "role",
    "role_policy",
    "log_group",
    "parameter",
    "function",
    "alias",
    "invoke_config",
    "state_table",
}
BY_SCHEDULER = {"scheduler": {"group", "schedule"}, "rule": {"rule", "rule_target", "permission"}}

# References to what exists only once deployed, as each format writes them, and a stand-in.
SAM_ATTRS = {
    ("OffhoursKey", "Arn"): "<key-arn>",
    ("OffhoursRole", "Arn"): "<role-arn>",
    ("OffhoursFunction", "Arn"): "<function-arn>",
    ("OffhoursSchedulerRole", "Arn"): "<scheduler-role-arn>",
    ("OffhoursRule", "Arn"): "<rule-arn>",
    ("OffhoursDigestRule", "Arn"): "<digest-rule-arn>",
}
SAM_REFS = {
    "AWS::AccountId": ACCOUNT,
    "OffhoursKey": "<key-id>",
    "OffhoursFunction.Alias": "<alias-arn>",
    "OffhoursScheduleGroup": SCHEDULE_GROUP,
    "OffhoursConfig": f"/offhours/{FN}/config",
    "OffhoursRole": f"{FN}-role",
}
TF_REFS = {
    "data.aws_caller_identity.current.account_id": ACCOUNT,
    "aws_kms_key.offhours.arn": "<key-arn>",
    "aws_kms_key.offhours.key_id": "<key-id>",
    "aws_iam_role.function.arn": "<role-arn>",
    "aws_lambda_function.offhours.arn": "<function-arn>",
    "aws_lambda_alias.offhours.arn": "<alias-arn>",
    "aws_iam_role.scheduler.arn": "<scheduler-role-arn>",
    "aws_cloudwatch_event_rule.offhours.arn": "<rule-arn>",
    "aws_cloudwatch_event_rule.digest.arn": "<digest-rule-arn>",
    "aws_cloudwatch_event_rule.digest.name": f"{FN}-digest",
    "aws_scheduler_schedule_group.offhours.name": SCHEDULE_GROUP,
    'filebase64sha256("offhours-lambda.zip")': "<code-hash>",
    "aws_lambda_function.offhours.function_name": FN,
    "aws_lambda_alias.offhours.name": "prod",
    "aws_cloudwatch_event_rule.offhours.name": FN,
    "aws_ssm_parameter.config.name": f"/offhours/{FN}/config",
    "aws_ssm_parameter.config.version": "1",
    "aws_iam_role.function.name": f"{FN}-role",
    "aws_iam_role.scheduler.name": f"{FN}-scheduler",
}


def make(**deploy: Any) -> Config:
    data = copy.deepcopy(BASE)
    data["deploy"].update(deploy)
    return parse_config(data)


def with_secrets(config: dict[str, Any], **deploy: Any) -> Config:
    data = copy.deepcopy(BASE)
    data.update(config)
    data["deploy"].update(deploy)
    return parse_config(data)


def resources(fmt: str, doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Resource bodies by their kind in ``KIND`` (absent kinds left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    names = {v: k for k, v in KIND[fmt].items() if v}
    if fmt == "sam":
        for res in doc["Resources"].values():
            found.setdefault(names[res["Type"]], []).append(res["Properties"])
    else:
        for kind, items in doc["resource"].items():
            found[names[kind]] = list(items.values())
    return found


def one(fmt: str, doc: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources(fmt, doc)[kind]
    assert len(found) == 1, found
    return found[0]


def resolve(fmt: str, value: Any) -> Any:
    """Replace each format's references with the stand-ins above, to compare plain values."""
    if fmt == "sam":
        if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
            return SAM_ATTRS[tuple(value["Fn::GetAtt"])]
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return SAM_REFS[value["Ref"]]
        if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}!]+)\}", lambda m: SAM_REFS[m[1]], value["Fn::Sub"])
    elif isinstance(value, str):
        return re.sub(r"(?<!\$)\$\{([^}]+)\}", lambda m: TF_REFS[m[1]], value)
    if isinstance(value, dict):
        return {k: resolve(fmt, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(fmt, v) for v in value]
    return value


def exported(config: Config, fmt: str, **kwargs: Any) -> dict[str, Any]:
    doc = json.loads(export(config, format=fmt, **kwargs))  # type: ignore[arg-type]
    assert isinstance(doc, dict)
    return doc


def policies(fmt: str, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The inline policy of each role, by role name, references resolved."""
    out = {}
    if fmt == "sam":
        for role in resources(fmt, doc).get("role", []):
            for policy in role.get("Policies", []):
                assert policy["PolicyName"] == "offhours"
                out[role["RoleName"]] = resolve(fmt, policy["PolicyDocument"])
        for policy in resources(fmt, doc).get("role_policy", []):
            assert policy["PolicyName"] == "offhours"
            assert policy["RoleName"] == {"Ref": "OffhoursRole"}
            out[f"{FN}-role"] = resolve(fmt, policy["PolicyDocument"])
    else:
        roles = doc["resource"].get("aws_iam_role", {})
        for name, attached in doc["resource"].get("aws_iam_role_policy", {}).items():
            assert attached["name"] == "offhours"
            assert attached["role"] == f"${{aws_iam_role.{name}.name}}"
            out[roles[name]["name"]] = resolve(fmt, json.loads(attached["policy"]))
    return out


def trust(fmt: str, role: dict[str, Any]) -> Any:
    text = role["AssumeRolePolicyDocument"] if fmt == "sam" else role["assume_role_policy"]
    document = text if fmt == "sam" else json.loads(text)
    return [s["Principal"]["Service"] for s in document["Statement"]]


def tags_of(fmt: str, body: dict[str, Any]) -> dict[str, str]:
    tags = body["Tags"] if fmt == "sam" else body["tags"]
    if isinstance(tags, list):
        return {t["Key"]: t["Value"] for t in tags}
    return dict(tags)


# ---------------------------------------------------------------- what is exported


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_resource_apply_creates_is_there(fmt: str, scheduler: str) -> None:
    doc = exported(make(scheduler=scheduler), fmt)
    wanted = {k for k in COMMON | BY_SCHEDULER[scheduler] if KIND[fmt][k]}
    assert set(resources(fmt, doc)) == wanted
    if fmt == "sam":
        assert doc["Transform"] == "AWS::Serverless-2016-10-31"
    else:
        assert doc["provider"]["aws"]["region"] == "us-east-1"


@pytest.mark.parametrize("fmt", FORMATS)
def test_function_matches_the_deploy_section(fmt: str) -> None:
    doc = exported(make(), fmt)
    fn = resolve(fmt, one(fmt, doc, "function"))
    if fmt == "sam":
        got = {
            "name": fn["FunctionName"],
            "handler": fn["Handler"],
            "runtime": fn["Runtime"],
            "architectures": fn["Architectures"],
            "memory": fn["MemorySize"],
            "timeout": fn["Timeout"],
            "code": fn["CodeUri"],
            "key": fn["KmsKeyArn"],
            "role": fn["Role"],
            "env": fn["Environment"]["Variables"],
            "tracing": fn["Tracing"],
            "alias": fn["AutoPublishAlias"],
        }
        # any change publishes a version, as apply's does; a config change changes the digest
        assert fn["AutoPublishAliasAllProperties"] is True
        assert re.fullmatch(
            r"[0-9a-f]{64}", fn["Environment"]["Variables"].pop("OFFHOURS_CONFIG_DIGEST")
        )
    else:
        alias = one(fmt, doc, "alias")
        assert alias["function_version"] == "${aws_lambda_function.offhours.version}"
        assert fn["publish"] is True
        assert fn["source_code_hash"] == "<code-hash>"
        got = {
            "name": fn["function_name"],
            "handler": fn["handler"],
            "runtime": fn["runtime"],
            "architectures": fn["architectures"],
            "memory": fn["memory_size"],
            "timeout": fn["timeout"],
            "code": fn["filename"],
            "key": fn["kms_key_arn"],
            "role": fn["role"],
            "env": fn["environment"]["variables"],
            "tracing": fn["tracing_config"]["mode"],
            "alias": alias["name"],
        }
    assert got == {
        "name": FN,
        "handler": HANDLER,
        "runtime": "python3.13",
        "architectures": ["arm64"],
        "memory": 256,
        "timeout": 120,
        "code": "offhours-lambda.zip",
        "key": "<key-arn>",
        "role": "<role-arn>",
        # Terraform pins the parameter's version as apply does; SAM cannot (the digest above).
        "env": {
            "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config" + (":1" if fmt == "terraform" else ""),
            "LOG_LEVEL": "INFO",
            "OFFHOURS_ENVIRONMENT": "LOG_LEVEL",
            "OFFHOURS_STATE_TABLE": f"{FN}-state",
        },
        "tracing": "PassThrough",
        "alias": "prod",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_key_log_group_and_parameter(fmt: str) -> None:
    doc = exported(make(), fmt)
    key, key_alias = one(fmt, doc, "key"), one(fmt, doc, "key_alias")
    log_group, param = one(fmt, doc, "log_group"), one(fmt, doc, "parameter")
    if fmt == "sam":
        key_policy = resolve(fmt, key["KeyPolicy"])
        got = (
            key_alias["AliasName"],
            resolve(fmt, key_alias["TargetKeyId"]),
            log_group["LogGroupName"],
            log_group["RetentionInDays"],
            param["Name"],
            param["Type"],
            param["Value"],
        )
    else:
        key_policy = resolve(fmt, json.loads(key["policy"]))
        got = (
            key_alias["name"],
            resolve(fmt, key_alias["target_key_id"]),
            log_group["name"],
            log_group["retention_in_days"],
            param["name"],
            param["type"],
            param["value"],
        )
    # apply's policy: only the function's role decrypts, and only its own context
    assert key_policy == policy_of_key(account=ACCOUNT, function=FN, role_arn="<role-arn>")
    decrypting = [
        s
        for s in key_policy["Statement"]
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if fnmatchcase("kms:Decrypt", action) or fnmatchcase("kms:CreateGrant", action)
    ]
    # The account neither decrypts nor grants decryption (save to AWS services).
    assert [(s["Sid"], s["Principal"]) for s in decrypting] == [
        ("AccountGrantsOnlyToAwsServices", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
        ("FunctionDecryptsItsSecrets", {"AWS": "<role-arn>"}),
    ]
    assert "_offhours_deploy" not in (param["Value"] if fmt == "sam" else param["value"])
    assert (key["EnableKeyRotation"] if fmt == "sam" else key["enable_key_rotation"]) is True
    assert got[:6] == (
        f"alias/offhours/{FN}",
        "<key-id>",
        f"/aws/lambda/{FN}",
        14,
        f"/offhours/{FN}/config",
        "String",
    )
    # The deployed configuration: [deploy] dropped, secrets read with the function's context.
    document = json.loads(got[6])
    expected = {k: v for k, v in BASE.items() if k != "deploy"}
    expected["secrets"] = {"region": "us-east-1", "kms": {"context": FUNCTION_CONTEXT}}
    assert document == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_scheduler_schedule_in_the_time_zone_on_the_alias(fmt: str) -> None:
    doc = exported(make(), fmt)
    schedule = resolve(fmt, one(fmt, doc, "schedule"))
    group = one(fmt, doc, "group")
    if fmt == "sam":
        got = (
            schedule["Name"],
            schedule["GroupName"],
            schedule["ScheduleExpression"],
            schedule["ScheduleExpressionTimezone"],
            schedule["FlexibleTimeWindow"],
            schedule["Target"],
            group["Name"],
        )
        window, target = (
            {"Mode": "OFF"},
            {
                "Arn": "<alias-arn>",
                "RoleArn": "<scheduler-role-arn>",
                "Input": SCHEDULER_INPUT,
            },
        )
    else:
        got = (
            schedule["name"],
            schedule["group_name"],
            schedule["schedule_expression"],
            schedule["schedule_expression_timezone"],
            schedule["flexible_time_window"],
            schedule["target"],
            group["name"],
        )
        window, target = (
            {"mode": "OFF"},
            {
                "arn": "<alias-arn>",
                "role_arn": "<scheduler-role-arn>",
                "input": SCHEDULER_INPUT,
            },
        )
    assert got == (
        FN,
        SCHEDULE_GROUP,
        "cron(0 18-23 ? * MON-FRI *)",
        "America/New_York",
        window,
        target,
        SCHEDULE_GROUP,
    )
    roles = {
        (r["RoleName"] if fmt == "sam" else r["name"]): trust(fmt, r)
        for r in resources(fmt, doc)["role"]
    }
    assert roles == {
        f"{FN}-role": ["lambda.amazonaws.com"],
        f"{FN}-scheduler": ["scheduler.amazonaws.com"],
    }
    assert policies(fmt, doc)[f"{FN}-scheduler"]["Statement"] == [
        {
            "Sid": "InvokeOwnFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": "<alias-arn>",
        }
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_classic_rule_in_utc_with_invoke_permission(fmt: str) -> None:
    doc = exported(make(scheduler="rule", schedule="cron(0 22 ? * MON-FRI *)"), fmt)
    rule = resolve(fmt, one(fmt, doc, "rule"))
    permission = resolve(fmt, one(fmt, doc, "permission"))
    if fmt == "sam":
        got = (
            rule["Name"],
            rule["ScheduleExpression"],
            rule["Targets"][0]["Arn"],
            permission["FunctionName"],
            permission["Principal"],
            permission["SourceArn"],
        )
    else:
        target = resolve(fmt, one(fmt, doc, "rule_target"))
        assert target["rule"] == FN
        # function name + qualifier: the alias, as apply's FunctionName=<alias ARN>
        assert (permission["function_name"], permission["qualifier"]) == (FN, "prod")
        got = (
            rule["name"],
            rule["schedule_expression"],
            target["arn"],
            "<alias-arn>",
            permission["principal"],
            permission["source_arn"],
        )
    assert got == (
        FN,
        "cron(0 22 ? * MON-FRI *)",
        "<alias-arn>",
        "<alias-arn>",
        "events.amazonaws.com",
        "<rule-arn>",
    )
    assert "Timezone" not in json.dumps(rule) and "timezone" not in json.dumps(rule)
    assert set(policies(fmt, doc)) == {f"{FN}-role"}


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_without_publish_the_schedule_runs_the_function(fmt: str, scheduler: str) -> None:
    doc = exported(make(publish=False, scheduler=scheduler), fmt)
    found = resources(fmt, doc)
    assert "alias" not in found
    fn = found["function"][0]
    if fmt == "sam":
        assert "AutoPublishAlias" not in fn
    else:
        assert fn["publish"] is False
    text = json.dumps(doc)
    assert "OffhoursFunction.Alias" not in text
    assert "aws_lambda_alias" not in text
    assert "<function-arn>" in json.dumps(resolve(fmt, doc))


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_tags_everywhere(fmt: str, scheduler: str) -> None:
    doc = exported(make(scheduler=scheduler), fmt)
    ours = {"team": "platform", "cost-center": "42", MANAGED_TAG: "offhours", FUNCTION_TAG: FN}
    taggable = {"key", "role", "log_group", "parameter", "function", "rule"}
    for kind, bodies in resources(fmt, doc).items():
        for body in bodies:
            if kind in taggable:
                assert tags_of(fmt, body) == ours, kind
            elif kind == "group":
                # Shared by every offhours function of the account, as apply tags it.
                assert tags_of(fmt, body) == {MANAGED_TAG: "offhours"}


# ---------------------------------------------------------------- the role's permissions


@pytest.mark.parametrize(
    ("deploy", "secrets"),
    [
        ({}, {}),
        ({"key_arn": KEY_ARN}, {}),
        ({"vpc": VPC}, {}),
        ({"tracing": "Active", "key_arn": KEY_ARN}, {"password": CIPHERTEXT}),
        (
            {},
            {
                "password": "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:"
                "secret:x-AbCdEf"
            },
        ),
    ],
    ids=["new-key", "existing-key", "vpc", "tracing-kms", "secret-arn"],
)
@pytest.mark.parametrize("account", [None, ACCOUNT])
@pytest.mark.parametrize("fmt", FORMATS)
def test_role_policy_is_apply_s(
    fmt: str, account: str | None, deploy: dict[str, Any], secrets: dict[str, str]
) -> None:
    source = {**BASE["sources"][0], **secrets}
    cfg = with_secrets({"sources": [source]}, **deploy)
    doc = exported(cfg, fmt, account=account)
    password = source["password"]
    expected = role_policy(
        function=FN,
        region="us-east-1",
        account=ACCOUNT,
        key_arn=deploy.get("key_arn", "<key-arn>"),
        config_param=f"/offhours/{FN}/config",
        ssm_names=["/offhours/ravello-user", "/offhours/slack-hook"],
        secret_ids=(
            [password.removeprefix("secretsmanager:").partition("#")[0]]
            if password.startswith("secretsmanager:")
            else []
        ),
        vpc="vpc" in deploy,
        tracing=deploy.get("tracing") == "Active",
        state_table=f"{FN}-state",
    )
    assert policies(fmt, doc)[f"{FN}-role"] == expected
    if account is not None:
        # Given the account, only the key (when created here) stays a reference.
        assert "AccountId" not in json.dumps(doc) and "aws_caller_identity" not in json.dumps(doc)


PLUGIN = """
from typing import Any, Literal

from offhours.config import SourceConfig
from offhours.sources.base import Source


class AuditRoleConfig(SourceConfig):
    type: Literal["audit-role"]
    role: str


class AuditRoleSource(Source):
    type = "audit-role"
    config_model = AuditRoleConfig

    def __init__(self, name: str, role: str) -> None:
        super().__init__(name)

    @classmethod
    def iam_statements(cls, options: Any, region: str, account: str) -> list[dict[str, Any]]:
        return [
            {
                "Sid": "AssumeAuditRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{account}:role/{options['role']}",
            }
        ]

    def collect(self) -> list[Any]:
        return []
"""


@pytest.fixture
def audit_role_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party source, installed the way pip would: a module and its entry point."""
    (tmp_path / "audit_role_plugin.py").write_text(PLUGIN)
    info = tmp_path / "audit_role_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: audit-role-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[offhours.sources]\naudit-role = audit_role_plugin:AuditRoleSource\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("audit_role_plugin")
@pytest.mark.parametrize("account", [None, ACCOUNT])
@pytest.mark.parametrize("fmt", FORMATS)
def test_plugin_statements_join_the_policy(fmt: str, account: str | None) -> None:
    cfg = with_secrets(
        {"sources": [BASE["sources"][0], {"type": "audit-role", "role": "offhours-audit-ro"}]}
    )
    statements = policies(fmt, exported(cfg, fmt, account=account))[f"{FN}-role"]["Statement"]
    assert statements[-1] == {
        "Sid": "AssumeAuditRole",
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": f"arn:aws:iam::{ACCOUNT}:role/offhours-audit-ro",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_large_configuration_takes_the_advanced_tier(fmt: str) -> None:
    small = one(fmt, exported(make(), fmt), "parameter")
    data = copy.deepcopy(BASE)
    first = date(2027, 1, 1)
    data["hours"]["holidays"] = {"dates": [str(first + timedelta(days=i)) for i in range(400)]}
    large = one(fmt, exported(parse_config(data), fmt), "parameter")
    tier = "Tier" if fmt == "sam" else "tier"
    assert (small[tier], large[tier]) == ("Standard", "Advanced")


@pytest.mark.parametrize("fmt", FORMATS)
def test_existing_role_is_used_as_it_is(fmt: str) -> None:
    doc = exported(make(role_arn=ROLE_ARN), fmt)
    fn = one(fmt, doc, "function")
    assert (fn["Role"] if fmt == "sam" else fn["role"]) == ROLE_ARN
    # Only the scheduler's own role is created.
    assert set(policies(fmt, doc)) == {f"{FN}-scheduler"}
    assert len(resources(fmt, doc)["role"]) == 1


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize("fmt", FORMATS)
def test_local_secrets_are_refused_each_listed(fmt: str) -> None:
    cfg = with_secrets(
        {
            "allow_plaintext_secrets": True,
            "sources": [
                {"type": "ravello", "username": "env:R_USER", "password": "file:/run/pw"},
                {"type": "ravello", "name": "b", "username": INLINE, "password": CIPHERTEXT},
            ],
            "notifiers": [{"type": "slack", "webhook_url": "ssm:/offhours/hook"}],
        }
    )
    with pytest.raises(ConfigError) as caught:
        export(cfg, format=fmt)  # type: ignore[arg-type]
    problems = caught.value.problems
    assert [p.split(": ")[1] for p in problems] == [
        "sources[0].username",
        "sources[0].password",
        "sources[1].username",
        "sources[1].password",
    ]
    message = str(caught.value)
    assert "env:R_USER" in message
    assert "notifiers[0]" not in message  # ssm: is fine
    assert "--context LambdaFunctionName=offhours-audit" in message
    assert "[deploy] key_arn" in message
    assert INLINE not in message
    assert CIPHERTEXT.removeprefix("kms:") not in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_kms_reference_kept_with_its_key(fmt: str) -> None:
    source = {**BASE["sources"][0], "password": CIPHERTEXT}
    doc = exported(with_secrets({"sources": [source]}, key_arn=KEY_ARN), fmt)
    found = resources(fmt, doc)
    assert "key" not in found and "key_alias" not in found
    fn = found["function"][0]
    assert (fn["KmsKeyArn"] if fmt == "sam" else fn["kms_key_arn"]) == KEY_ARN
    param = found["parameter"][0]
    document = json.loads(param["Value"] if fmt == "sam" else param["value"])
    assert document["sources"][0]["password"] == CIPHERTEXT
    decrypt = next(
        s for s in policies(fmt, doc)[f"{FN}-role"]["Statement"] if s["Sid"] == "DecryptOwnSecrets"
    )
    assert decrypt["Resource"] == KEY_ARN
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:LambdaFunctionName": FN}
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_plaintext_and_no_local_settings_in_the_output(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever the environment holds is never read: the template keeps references only.
    monkeypatch.setenv("R_USER", "sentinel-env-user-c0ffee")
    data = copy.deepcopy(BASE)
    data["allow_plaintext_secrets"] = False
    data["secrets"] = {"region": "eu-west-1", "kms": {"context": {"Local": "sentinel-ctx-9a9a"}}}
    text = export(parse_config(data), format=fmt)  # type: ignore[arg-type]
    assert "sentinel-" not in text
    assert "allow_plaintext_secrets" not in text
    assert "eu-west-1" not in text  # [deploy] region wins, as in apply


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("deploy", "expected"),
    [
        ({"schedule": "cron(0 18 * * MON-FRI *)"}, "deploy.schedule:"),
        ({"schedule": "rate(1 hours)"}, "deploy.schedule:"),
        (
            {"schedule": "at(2026-12-24T18:00:00)", "scheduler": "rule"},
            'set scheduler = "scheduler"',
        ),
        ({"timezone": "Mars/Olympus"}, "deploy.timezone:"),
        ({"region": None}, "deploy.region: missing"),
    ],
    ids=["cron-both-days", "rate-plural", "at-on-a-rule", "zone", "region"],
)
def test_bad_deploy_settings_are_config_errors(
    fmt: str, deploy: dict[str, Any], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Schedule and zone are refused when the config is read; a missing region at export.
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    data = copy.deepcopy(BASE)
    data.setdefault("deploy", {}).update(deploy)
    if deploy.get("region", "") is None:
        del data["deploy"]["region"]
    with pytest.raises(ConfigError, match=re.escape(expected)):
        export(parse_config(data), format=fmt)  # type: ignore[arg-type]


def test_unknown_format_and_bad_account() -> None:
    with pytest.raises(ConfigError, match="choose sam or terraform"):
        export(make(), format="yaml")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="12 digits"):
        export(make(), format="sam", account="12345")


def test_schedule_zone_is_the_canonical_iana_name() -> None:
    data = copy.deepcopy(BASE)
    data["hours"]["timezone"] = "europe.london"
    doc = exported(parse_config(data), "sam")
    assert one("sam", doc, "schedule")["ScheduleExpressionTimezone"] == "Europe/London"


# ---------------------------------------------------------------- text handling


def test_terraform_keeps_literal_templates_literal() -> None:
    doc = exported(make(description="costs ${a} and %{b}"), "terraform")
    assert one("terraform", doc, "function")["description"] == "costs $${a} and %%{b}"


def test_sam_escapes_literal_substitutions_inside_fn_sub() -> None:
    data = copy.deepcopy(BASE)
    data["notifiers"][0]["webhook_url"] = "ssm:/offhours/${odd}"
    doc = exported(parse_config(data), "sam")
    statement = one("sam", doc, "role_policy")["PolicyDocument"]["Statement"][1]
    subs = [r["Fn::Sub"] for r in statement["Resource"]]
    assert "arn:aws:ssm:us-east-1:${AWS::AccountId}:parameter/offhours/${!odd}" in subs
    # Outside Fn::Sub a string is literal: the parameter keeps the reference as written.
    assert "ssm:/offhours/${odd}" in one("sam", doc, "parameter")["Value"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_deterministic(fmt: str) -> None:
    first = export(make(), format=fmt)  # type: ignore[arg-type]
    reordered = copy.deepcopy(BASE)
    reordered["deploy"]["tags"] = dict(reversed(list(BASE["deploy"]["tags"].items())))
    reordered = dict(reversed(list(reordered.items())))
    assert export(parse_config(reordered), format=fmt) == first  # type: ignore[arg-type]
    assert export(make(), format=fmt) == first  # type: ignore[arg-type]
    assert export(make(memory=512), format=fmt) != first  # type: ignore[arg-type]


# ---------------------------------------------------------------- the formats' own tools

VARIANTS = [
    pytest.param({}, id="scheduler"),
    pytest.param({"scheduler": "rule"}, id="rule"),
    pytest.param({"publish": False, "key_arn": KEY_ARN, "role_arn": ROLE_ARN}, id="existing"),
    pytest.param(
        {"vpc": VPC, "tracing": "Active"},
        id="vpc",
    ),
    pytest.param(
        {
            "on_failure": "arn:aws:sns:us-east-1:123456789012:failures",
            "alarm_topic": "arn:aws:sns:us-east-1:123456789012:alarms",
        },
        id="failure-destination-and-alarm",
    ),
    pytest.param({"digest_schedule": "cron(0 9 ? * MON *)"}, id="digest-scheduler"),
    pytest.param(
        {"digest_schedule": "cron(0 14 ? * MON *)", "scheduler": "rule"}, id="digest-rule"
    ),
]


@pytest.mark.parametrize("deploy", VARIANTS)
def test_sam_template_passes_cfn_lint(deploy: dict[str, Any]) -> None:
    api = pytest.importorskip("cfnlint.api")
    matches = api.lint(export(make(**deploy), format="sam"))
    assert [str(m) for m in matches] == []


def test_sam_alias_must_be_alphanumeric() -> None:
    with pytest.raises(ConfigError, match=r"deploy\.alias: 'pre-prod' cannot be a SAM"):
        export(make(alias="pre-prod"), format="sam")
    doc = exported(make(alias="pre-prod"), "terraform")
    assert one("terraform", doc, "alias")["name"] == "pre-prod"
    # Without publishing there is no alias to name.
    assert export(make(alias="pre-prod", publish=False), format="sam")


# ---------------------------------------------------------------- trust under failure

QUEUE = "arn:aws:sqs:us-east-1:123456789012:offhours-failures"
TOPIC = "arn:aws:sns:us-east-1:123456789012:offhours-alarms"


@pytest.mark.parametrize("publish", [True, False])
@pytest.mark.parametrize("fmt", FORMATS)
def test_async_retries_are_off(fmt: str, publish: bool) -> None:
    doc = exported(make(publish=publish), fmt)
    if fmt == "sam":
        invoke = one(fmt, doc, "function")["EventInvokeConfig"]
        assert invoke == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 3600}
    else:
        invoke = one(fmt, doc, "invoke_config")
        assert invoke == {
            "function_name": "${aws_lambda_function.offhours.function_name}",
            "qualifier": "${aws_lambda_alias.offhours.name}" if publish else "$LATEST",
            "maximum_retry_attempts": 0,
            "maximum_event_age_in_seconds": 3600,
        }


@pytest.mark.parametrize("fmt", FORMATS)
def test_on_failure_destination_and_its_grant(fmt: str) -> None:
    doc = exported(make(on_failure=QUEUE), fmt)
    if fmt == "sam":
        destination = one(fmt, doc, "function")["EventInvokeConfig"]["DestinationConfig"]
        assert destination == {"OnFailure": {"Type": "SQS", "Destination": QUEUE}}
    else:
        destination = one(fmt, doc, "invoke_config")["destination_config"]
        assert destination == {"on_failure": {"destination": QUEUE}}
    statements = {s["Sid"]: s for s in policies(fmt, doc)[f"{FN}-role"]["Statement"]}
    assert statements["OnFailureDestination"]["Action"] == "sqs:SendMessage"
    assert statements["OnFailureDestination"]["Resource"] == QUEUE


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_alarm_on_the_topic(fmt: str) -> None:
    assert "alarm" not in resources(fmt, exported(make(), fmt))
    alarm = one(fmt, exported(make(alarm_topic=TOPIC), fmt), "alarm")
    if fmt == "sam":
        got = (alarm["MetricName"], alarm["Dimensions"], alarm["AlarmActions"], alarm["Threshold"])
        assert got == ("Errors", [{"Name": "FunctionName", "Value": FN}], [TOPIC], 1.0)
    else:
        got = (
            alarm["metric_name"],
            alarm["dimensions"],
            alarm["alarm_actions"],
            alarm["threshold"],
        )
        assert got == ("Errors", {"FunctionName": FN}, [TOPIC], 1.0)
    assert tags_of(fmt, alarm)[FUNCTION_TAG] == FN


@pytest.mark.parametrize("fmt", FORMATS)
def test_scheduler_trust_names_the_account(fmt: str) -> None:
    doc = exported(make(), fmt, account=ACCOUNT)
    role = next(r for r in resources(fmt, doc)["role"] if "scheduler" in json.dumps(r))
    text = role["AssumeRolePolicyDocument"] if fmt == "sam" else role["assume_role_policy"]
    (statement,) = (text if fmt == "sam" else json.loads(text))["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_sam_publishes_a_version_when_only_the_configuration_changes() -> None:
    def digest(**hours: str) -> str:
        data = copy.deepcopy(BASE)
        data["hours"].update(hours)
        fn = one("sam", exported(parse_config(data), "sam"), "function")
        return str(fn["Environment"]["Variables"]["OFFHOURS_CONFIG_DIGEST"])

    assert digest() == digest()
    assert digest() != digest(end="19:00")


@pytest.mark.parametrize(
    ("reference", "account", "message"),
    [
        ("secretsmanager:*#password", None, "holds a wildcard"),
        ("ssm:/offhours/*", None, "holds a wildcard"),
        ("ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/p", None, "is in region eu-west-1"),
        (
            "secretsmanager:arn:aws:secretsmanager:us-east-1:999999999999:secret:p-AbCdEf",
            ACCOUNT,
            "belongs to account 999999999999",
        ),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_broad_references_are_refused(
    fmt: str, reference: str, account: str | None, message: str
) -> None:
    # A wildcard is refused as the configuration is read, the others as it is exported.
    def read_and_export() -> None:
        cfg = with_secrets({"sources": [{**BASE["sources"][0], "password": reference}]})
        export(cfg, format=fmt, account=account)  # type: ignore[arg-type]

    with pytest.raises(ConfigError, match=rf"sources\[0\]\.password: .*{message}"):
        read_and_export()


@pytest.mark.parametrize("fmt", FORMATS)
def test_aws_region_names_the_exported_region(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    data = copy.deepcopy(BASE)
    del data["deploy"]["region"]
    text = export(parse_config(data), format=fmt)  # type: ignore[arg-type]
    assert ":eu-west-1:" in text and ":us-east-1:" not in text


# ---------------------------------------------------------------- one description


@pytest.mark.parametrize(
    "deploy",
    [
        {},
        {"scheduler": "rule", "alarm_topic": "arn:aws:sns:us-east-1:123456789012:alarms"},
        {"publish": False, "key_arn": KEY_ARN, "role_arn": ROLE_ARN},
    ],
)
def test_both_exports_are_rendered_from_the_one_description(deploy: dict[str, Any]) -> None:
    """Every resource of the description is in each export, nothing else: under its logical
    id (SAM) and its address (Terraform), or inside the resource that format writes it into."""
    from offhours.deploy.spec import KINDS, describe

    cfg = make(**deploy)
    desc = describe(cfg, "us-east-1")
    sam, tf = exported(cfg, "sam"), exported(cfg, "terraform")
    made = [r for r in desc if not r.existing]
    sam_ids = {r.id for r in made if r.within is None}
    assert set(sam["Resources"]) == sam_ids
    for r in made:
        if r.within is None:
            assert sam["Resources"][r.id]["Type"] == KINDS[r.kind].sam
        else:  # written into its parent, which the export has (or the key exists already)
            assert r.within in sam_ids or desc[r.within].existing
    tf_addresses = {f"{kind}.{name}" for kind, items in tf["resource"].items() for name in items}
    assert tf_addresses == {r.address for r in made if KINDS[r.kind].tf is not None}
    # Both render the same names, descriptions and settings the description holds.
    for r in made:
        if r.within is None and KINDS[r.kind].tf is not None and "Description" in r.props:
            kind, name = r.address.split(".")
            assert sam["Resources"][r.id]["Properties"]["Description"] == r.props["Description"]
            assert tf["resource"][kind][name]["description"] == r.props["Description"]


def test_every_kind_has_its_aws_calls() -> None:
    """Adding a resource kind to the description without its AWS calls fails here."""
    from offhours.deploy.aws import _TABLE
    from offhours.deploy.spec import KINDS

    assert set(_TABLE) == set(KINDS)
    for kind, calls in _TABLE.items():
        # Something that destroy finds, it can delete; something it deletes, apply made.
        assert (calls.find is None) == (calls.delete is None), kind
        assert calls.find is None or calls.apply is not None, kind


# ---------------------------------------------------------------- incident memory and digest


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_state_table_with_its_index_ttl_recovery_and_encryption(fmt: str) -> None:
    doc = exported(make(), fmt)
    table = one(fmt, doc, "state_table")
    tags = {"team": "platform", "cost-center": "42", MANAGED_TAG: "offhours", FUNCTION_TAG: FN}
    assert tags_of(fmt, table) == tags
    if fmt == "sam":
        body = doc["Resources"]["OffhoursStateTable"]
        # As `deploy destroy`, deleting the stack keeps the incident history.
        assert (body["DeletionPolicy"], body["UpdateReplacePolicy"]) == ("Retain", "Retain")
        assert {k: v for k, v in table.items() if k != "Tags"} == {
            "TableName": f"{FN}-state",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "open", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "open-incidents",
                    "KeySchema": [
                        {"AttributeName": "open", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        }
    else:
        assert doc["resource"]["aws_dynamodb_table"].keys() == {"state"}
        assert {k: v for k, v in table.items() if k != "tags"} == {
            "name": f"{FN}-state",
            "billing_mode": "PAY_PER_REQUEST",
            "hash_key": "pk",
            "range_key": "sk",
            "attribute": [
                {"name": "pk", "type": "S"},
                {"name": "sk", "type": "S"},
                {"name": "open", "type": "S"},
            ],
            "global_secondary_index": [
                {
                    "name": "open-incidents",
                    "hash_key": "open",
                    "range_key": "pk",
                    "projection_type": "ALL",
                }
            ],
            "ttl": {"attribute_name": "expires", "enabled": True},
            "point_in_time_recovery": {"enabled": True},
            "server_side_encryption": {"enabled": True},
        }
    statements = policies(fmt, doc)[f"{FN}-role"]["Statement"]
    (granted,) = [s for s in statements if s["Sid"] == STATE_STATEMENT]
    arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{FN}-state"
    assert granted["Resource"] == [arn, f"{arn}/index/open-incidents"]


@pytest.mark.parametrize("store", ["off", "sqlite"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_without_dynamodb_memory_nothing_of_the_table_is_exported(fmt: str, store: str) -> None:
    doc = exported(with_secrets({"memory": {"store": store}}), fmt)
    assert "state_table" not in resources(fmt, doc)
    statements = policies(fmt, doc)[f"{FN}-role"]["Statement"]
    assert [s["Sid"] for s in statements if s["Sid"] == STATE_STATEMENT] == []
    assert "OFFHOURS_STATE_TABLE" not in json.dumps(doc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_digest_schedule_beside_the_audit_s(fmt: str) -> None:
    doc = exported(make(digest_schedule="cron(0 9 ? * MON *)"), fmt)
    schedules = {
        (s["Name"] if fmt == "sam" else s["name"]): resolve(fmt, s)
        for s in resources(fmt, doc)["schedule"]
    }
    assert set(schedules) == {FN, f"{FN}-digest"}
    digest = schedules[f"{FN}-digest"]
    if fmt == "sam":
        got = (digest["ScheduleExpression"], digest["ScheduleExpressionTimezone"])
        target = digest["Target"]
        assert target == {
            "Arn": "<alias-arn>",
            "RoleArn": "<scheduler-role-arn>",
            "Input": DIGEST_INPUT,
        }
    else:
        got = (digest["schedule_expression"], digest["schedule_expression_timezone"])
        assert digest["target"] == {
            "arn": "<alias-arn>",
            "role_arn": "<scheduler-role-arn>",
            "input": DIGEST_INPUT,
        }
    assert got == ("cron(0 9 ? * MON *)", "America/New_York")
    assert json.loads(DIGEST_INPUT)["offhours"] == "digest"
    # Without digest_schedule, the audit's schedule alone.
    assert len(resources(fmt, exported(make(), fmt))["schedule"]) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_digest_as_a_classic_rule_passes_the_event_s_time(fmt: str) -> None:
    doc = exported(make(scheduler="rule", digest_schedule="cron(0 14 ? * MON *)"), fmt)
    transformer = {
        "InputPathsMap": {"time": "$.time", "id": "$.id"},
        "InputTemplate": '{"time": <time>, "id": <id>, "offhours": "digest"}',
    }
    if fmt == "sam":
        rules = {r["Name"]: resolve(fmt, r) for r in resources(fmt, doc)["rule"]}
        assert rules[f"{FN}-digest"]["ScheduleExpression"] == "cron(0 14 ? * MON *)"
        assert rules[f"{FN}-digest"]["Targets"] == [
            {"Id": "offhours", "Arn": "<alias-arn>", "InputTransformer": transformer}
        ]
        assert rules[FN]["Targets"] == [{"Id": "offhours", "Arn": "<alias-arn>"}]
        permissions = [resolve(fmt, p) for p in resources(fmt, doc)["permission"]]
        assert sorted(p["SourceArn"] for p in permissions) == ["<digest-rule-arn>", "<rule-arn>"]
    else:
        targets = doc["resource"]["aws_cloudwatch_event_target"]
        assert resolve(fmt, targets["digest"]) == {
            "rule": f"{FN}-digest",
            "target_id": "offhours",
            "arn": "<alias-arn>",
            "input_transformer": {
                "input_paths": transformer["InputPathsMap"],
                "input_template": transformer["InputTemplate"],
            },
        }
        assert "input_transformer" not in targets["offhours"]
        rule = doc["resource"]["aws_cloudwatch_event_rule"]["digest"]
        assert rule["schedule_expression"] == "cron(0 14 ? * MON *)"
        permission = resolve(fmt, doc["resource"]["aws_lambda_permission"]["events_digest"])
        assert permission["source_arn"] == "<digest-rule-arn>"
        assert permission["statement_id"] == "offhours-events-digest-rule"
