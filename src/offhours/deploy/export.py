"""`offhours deploy export`: what `offhours deploy apply` creates, as infrastructure as code.

Two formats, both JSON so that no YAML or HCL writer is needed:

    sam        an AWS SAM template (CloudFormation accepts JSON; ``sam deploy`` too)
    terraform  Terraform's JSON syntax (save as ``offhours.tf.json``)

The resources match apply's: KMS key (rotated, with apply's key policy) and alias (or
``[deploy] key_arn``), the SSM parameter holding the deployed configuration, the log group,
the execution role with the same inline policy as :func:`offhours.deploy.aws.role_policy`, the
function with its alias and its asynchronous invoke configuration (no retries), the optional
Errors alarm, and the schedule (EventBridge Scheduler with its role and group, or a classic
rule in UTC).

Each published version names the configuration it reads: Terraform pins the parameter's
version (``name:version``) as apply does; CloudFormation cannot read a parameter's version, so
the SAM template sets ``OFFHOURS_CONFIG_DIGEST`` (the document's SHA-256), which publishes a new
version whenever the configuration changes.

A template cannot hold ciphertext made by a key it creates itself, and must never hold a
plaintext secret: ``ssm:`` and ``secretsmanager:`` references are kept (with exact-ARN
permissions), ``kms:`` references only with ``[deploy] key_arn``; anything else is refused.

The output is deterministic (sorted keys, fixed logical ids), so two exports diff cleanly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from offhours.aws_region import aws_region
from offhours.config import Config, DeployConfig
from offhours.deploy.aws import (
    CONTEXT_KEY,
    FUNCTION_TAG,
    HANDLER,
    MANAGED_TAG,
    SCHEDULE_GROUP,
    SCHEDULER_INPUT,
    alarm_spec,
    check_references,
    event_invoke_config,
    function_document,
    function_environment,
    key_policy,
    role_name,
    role_policy,
    schedule_zone,
    scheduler_trust,
)
from offhours.errors import ConfigError

__all__ = ["Format", "export"]

Format = Literal["sam", "terraform"]

# Values known only once the template is deployed (ARNs, ids, the account) are written into
# the neutral description as markers; each format renders them as its own references.
_MARK = "\x00"
_MARKED = re.compile("\x00([a-z_]+)\x00")


def _unknown(name: str) -> str:
    return f"{_MARK}{name}{_MARK}"


_ACCOUNT = _unknown("account")
_KEY_ARN = _unknown("key_arn")
_KEY_ID = _unknown("key_id")
_ROLE_ARN = _unknown("role_arn")
_ROLE_NAME = _unknown("role_name")
_FUNCTION_ARN = _unknown("function_arn")
_FUNCTION_NAME = _unknown("function_name")
_FUNCTION_VERSION = _unknown("function_version")
_ALIAS_ARN = _unknown("alias_arn")
_ALIAS_NAME = _unknown("alias_name")
_GROUP_NAME = _unknown("group_name")
_SCHEDULER_ROLE_ARN = _unknown("scheduler_role_arn")
_SCHEDULER_ROLE_NAME = _unknown("scheduler_role_name")
_RULE_ARN = _unknown("rule_arn")
_RULE_NAME = _unknown("rule_name")
_CONFIG_NAME = _unknown("config_name")
_CONFIG_VERSION = _unknown("config_version")
_CODE_HASH = _unknown("code_hash")

# SAM: ("Ref", id) or ("GetAtt", id, attribute).
_SAM_REFS: dict[str, tuple[str, ...]] = {
    "account": ("Ref", "AWS::AccountId"),
    "key_arn": ("GetAtt", "OffhoursKey", "Arn"),
    "key_id": ("Ref", "OffhoursKey"),
    "role_arn": ("GetAtt", "OffhoursRole", "Arn"),
    "function_arn": ("GetAtt", "OffhoursFunction", "Arn"),
    # SAM resolves `Ref: <function>.Alias` to the alias that AutoPublishAlias creates.
    "alias_arn": ("Ref", "OffhoursFunction.Alias"),
    "group_name": ("Ref", "OffhoursScheduleGroup"),
    "scheduler_role_arn": ("GetAtt", "OffhoursSchedulerRole", "Arn"),
    "rule_arn": ("GetAtt", "OffhoursRule", "Arn"),
    "config_name": ("Ref", "OffhoursConfig"),
}
_TF_REFS: dict[str, str] = {
    "account": "data.aws_caller_identity.current.account_id",
    "key_arn": "aws_kms_key.offhours.arn",
    "key_id": "aws_kms_key.offhours.key_id",
    "role_arn": "aws_iam_role.function.arn",
    "role_name": "aws_iam_role.function.name",
    "function_arn": "aws_lambda_function.offhours.arn",
    "function_name": "aws_lambda_function.offhours.function_name",
    "function_version": "aws_lambda_function.offhours.version",
    "alias_arn": "aws_lambda_alias.offhours.arn",
    "alias_name": "aws_lambda_alias.offhours.name",
    "group_name": "aws_scheduler_schedule_group.offhours.name",
    "scheduler_role_arn": "aws_iam_role.scheduler.arn",
    "scheduler_role_name": "aws_iam_role.scheduler.name",
    "rule_arn": "aws_cloudwatch_event_rule.offhours.arn",
    "rule_name": "aws_cloudwatch_event_rule.offhours.name",
    "config_name": "aws_ssm_parameter.config.name",
    "config_version": "aws_ssm_parameter.config.version",
}


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


@dataclass(frozen=True)
class _Plan:
    """Everything both formats write, independent of either's syntax."""

    config: Config
    fn: str
    region: str
    zone: str
    account: str
    key_arn: str
    param: str
    document: str
    tags: dict[str, str]
    policy: dict[str, Any]
    target: str

    @property
    def deploy(self) -> DeployConfig:
        return self.config.deploy

    @property
    def tier(self) -> str:
        # The same rule as apply's put_parameter: Standard holds at most 4 KB.
        return "Standard" if len(self.document) <= 4096 else "Advanced"

    def scheduler_policy(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "InvokeOwnFunction",
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": self.target,
                }
            ],
        }

    def key_policy(self) -> dict[str, Any]:
        # Apply's policy; the key therefore depends on the role (whose permissions are a
        # separate resource that depends on the key).
        return key_policy(
            account=self.account, function=self.fn, role_arn=self.deploy.role_arn or _ROLE_ARN
        )

    def environment(self, config_ref: str, **more: str) -> dict[str, str]:
        return {**function_environment(config_ref, self.deploy.environment), **more}

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.document.encode()).hexdigest()

    @property
    def key_description(self) -> str:
        return f"offhours: secrets of the Lambda function {self.fn}"

    @property
    def schedule_description(self) -> str:
        return f"offhours audit ({self.deploy.schedule} in {self.zone})"

    @property
    def rule_description(self) -> str:
        return f"offhours audit ({self.deploy.schedule} UTC)"


# ---------------------------------------------------------------- checks


_WHY = {
    "env": "is read from this machine's environment",
    "file": "is read from a file on this machine",
    "inline": "is written in the file itself",
    "kms": "is ciphertext, but [deploy] key_arn does not say which key it was encrypted under",
}


def _secret_targets(config: Config) -> tuple[list[str], list[str]]:
    """SSM parameter names and Secrets Manager ids the function reads; refuses the rest."""
    ssm_names: list[str] = []
    secret_ids: list[str] = []
    problems: list[str] = []
    for _, _, ref in config.secret_refs():
        if ref.scheme == "ssm":
            ssm_names.append(ref.target)
        elif ref.scheme == "secretsmanager":
            secret_ids.append(ref.target.partition("#")[0])
        elif ref.scheme != "kms" or not config.deploy.key_arn:
            # str(ref) never shows a ciphertext or an inline value.
            problems.append(f"{config.label}: {ref.where}: {ref} {_WHY[ref.scheme]}")
    if problems:
        fn = config.deploy.function_name
        noun = "secret" if len(problems) == 1 else "secrets"
        raise ConfigError(
            f"{config.label}: {len(problems)} {noun} cannot go into an exported template, which "
            "never holds a plaintext secret nor ciphertext made by a key it creates itself:\n  "
            + "\n  ".join(problems)
            + "\nStore each in SSM Parameter Store (ssm:/NAME) or Secrets Manager "
            "(secretsmanager:NAME), or encrypt it with `offhours secrets encrypt --key <key> "
            f"--context {CONTEXT_KEY}={fn}`, write the kms: reference in its place and set "
            "[deploy] key_arn to that key's ARN. (`offhours deploy apply` encrypts them itself.)",
            tuple(problems),
        )
    return ssm_names, secret_ids


def _document(config: Config, region: str) -> str:
    """The configuration the function reads: as apply stores it, secrets left as references."""
    document = function_document(config, region)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _plan(config: Config, account: str | None) -> _Plan:
    deploy = config.deploy
    fn = deploy.function_name
    # The same order as apply: the config, AWS_REGION, AWS_DEFAULT_REGION, the profile's.
    region = boto3.session.Session(
        region_name=aws_region(deploy.region or config.secrets.region)
    ).region_name
    if not region:
        raise ConfigError(
            f"{config.label}: deploy.region: missing; an exported template names its region: "
            'set [deploy] region, e.g. region = "us-east-1" (or AWS_REGION)'
        )
    if account is not None and not re.fullmatch(r"\d{12}", account):
        raise ConfigError(f"account {account!r} is not an AWS account id (12 digits)")
    # The config has validated the schedule (and at() only with Scheduler) already.
    zone = schedule_zone(config)
    check_references(config, region, account)
    ssm_names, secret_ids = _secret_targets(config)
    acct = account or _ACCOUNT
    key_arn = deploy.key_arn or _KEY_ARN
    param = f"/offhours/{fn}/config"

    from offhours.registry import load_plugin

    extra: list[dict[str, Any]] = []
    for section, items in (("sources", config.sources), ("notifiers", config.notifiers)):
        for item in items:
            cls = load_plugin(section, item.type)
            extra.extend(cls.iam_statements(item.plugin_kwargs(), region, acct))
    policy = role_policy(
        function=fn,
        region=region,
        account=acct,
        key_arn=key_arn,
        config_param=param,
        ssm_names=ssm_names,
        secret_ids=secret_ids,
        vpc=deploy.vpc is not None,
        tracing=deploy.tracing == "Active",
        extra=extra,
        on_failure=deploy.on_failure,
    )
    return _Plan(
        config=config,
        fn=fn,
        region=region,
        zone=zone,
        account=acct,
        key_arn=key_arn,
        param=param,
        document=_document(config, region),
        tags={**deploy.tags, MANAGED_TAG: "offhours", FUNCTION_TAG: fn},
        policy=policy,
        target=_ALIAS_ARN if deploy.publish else _FUNCTION_ARN,
    )


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _JsonText:
    """A document Terraform takes as a JSON string (a policy), rendered with the rest."""

    document: Mapping[str, Any]


def _walk(value: Any, text: Callable[[str], Any]) -> Any:
    if isinstance(value, _JsonText):
        return json.dumps(_walk(value.document, text), sort_keys=True)
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {k: _walk(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, text) for v in value]
    return value


def _sam_text(value: str) -> Any:
    parts = _MARKED.split(value)
    if len(parts) == 1:
        return value
    if len(parts) == 3 and parts[0] == parts[2] == "":
        ref = _SAM_REFS[parts[1]]
        return {"Ref": ref[1]} if ref[0] == "Ref" else {"Fn::GetAtt": list(ref[1:])}
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(part.replace("${", "${!"))  # a literal ${ inside Fn::Sub
        else:
            out.append("${" + ".".join(_SAM_REFS[part][1:]) + "}")
    return {"Fn::Sub": "".join(out)}


def _tf_literal(text: str) -> str:
    # Every JSON string is a template to Terraform: keep literal ${ and %{ literal.
    return text.replace("${", "$${").replace("%{", "%%{")


def _tf_text(value: str, refs: Mapping[str, str] = _TF_REFS) -> str:
    parts = _MARKED.split(value)
    return "".join(
        _tf_literal(p) if i % 2 == 0 else "${" + refs[p] + "}" for i, p in enumerate(parts)
    )


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _sam(plan: _Plan, code_path: str) -> dict[str, Any]:
    d = plan.deploy
    tags = _tag_list(plan.tags)
    res: dict[str, dict[str, Any]] = {}
    if not d.key_arn:
        res["OffhoursKey"] = {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": plan.key_description,
                "KeyPolicy": plan.key_policy(),
                "EnableKeyRotation": True,
                # destroy's waiting period, the shortest KMS allows
                "PendingWindowInDays": 7,
                "Tags": tags,
            },
        }
        res["OffhoursKeyAlias"] = {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": d.kms_alias(), "TargetKeyId": _KEY_ID},
        }
    res["OffhoursConfig"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {
            "Name": plan.param,
            "Type": "String",  # secrets inside are references, never values
            "Tier": plan.tier,
            "Value": plan.document,
            "Description": f"offhours configuration of {plan.fn}",
            "Tags": dict(sorted(plan.tags.items())),
        },
    }
    res["OffhoursLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": f"/aws/lambda/{plan.fn}",
            "RetentionInDays": d.log_retention_days,
            "Tags": tags,
        },
    }
    if not d.role_arn:
        res["OffhoursRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": role_name(plan.fn, "-role"),
                "Description": f"offhours: {plan.fn}",
                "AssumeRolePolicyDocument": _trust("lambda.amazonaws.com"),
                "Tags": tags,
            },
        }
        # Apart from the role: the key's policy names the role, the role's policy the key.
        res["OffhoursRolePolicy"] = {
            "Type": "AWS::IAM::RolePolicy",
            "Properties": {
                "RoleName": {"Ref": "OffhoursRole"},
                "PolicyName": "offhours",
                "PolicyDocument": plan.policy,
            },
        }
    invoke = event_invoke_config(d)
    sam_invoke: dict[str, Any] = {
        "MaximumRetryAttempts": invoke["MaximumRetryAttempts"],
        "MaximumEventAgeInSeconds": invoke["MaximumEventAgeInSeconds"],
    }
    if d.on_failure:
        sam_invoke["DestinationConfig"] = {
            "OnFailure": {"Type": d.on_failure.split(":")[2].upper(), "Destination": d.on_failure}
        }
    function: dict[str, Any] = {
        "FunctionName": plan.fn,
        "Description": d.description,
        "Handler": HANDLER,
        "Runtime": d.runtime,
        "Architectures": [d.architecture],
        "MemorySize": d.memory,
        "Timeout": d.timeout,
        "CodeUri": code_path,
        "Role": d.role_arn or _ROLE_ARN,
        "KmsKeyArn": plan.key_arn,
        "Environment": {
            "Variables": plan.environment(_CONFIG_NAME, OFFHOURS_CONFIG_DIGEST=plan.digest)
        },
        "EventInvokeConfig": sam_invoke,
        "Tracing": d.tracing,
        "Tags": dict(sorted(plan.tags.items())),
    }
    if d.vpc is not None:
        function["VpcConfig"] = {
            "SubnetIds": list(d.vpc.subnet_ids),
            "SecurityGroupIds": list(d.vpc.security_group_ids),
        }
    if d.publish:
        if not d.alias.isalnum() or not d.alias.isascii():
            # SAM names the alias resource <function>Alias<alias>: a logical id is alphanumeric.
            raise ConfigError(
                f"{plan.config.label}: deploy.alias: {d.alias!r} cannot be a SAM AutoPublishAlias,"
                ' which takes letters and digits only; rename it (e.g. "live") or export '
                "--format terraform"
            )
        function["AutoPublishAlias"] = d.alias
        # A new version for any change of the function, as apply publishes one.
        function["AutoPublishAliasAllProperties"] = True
    # Created first, so Lambda never makes the group itself (without retention or tags).
    res["OffhoursFunction"] = {
        "Type": "AWS::Serverless::Function",
        "DependsOn": ["OffhoursLogGroup", *(["OffhoursRolePolicy"] if not d.role_arn else [])],
        "Properties": function,
    }
    if d.alarm_topic:
        res["OffhoursErrorsAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {**alarm_spec(plan.fn, d.alarm_topic), "Tags": tags},
        }
    if d.scheduler == "scheduler":
        res["OffhoursScheduleGroup"] = {
            "Type": "AWS::Scheduler::ScheduleGroup",
            # Shared by every offhours function of the account, as apply tags it.
            "Properties": {"Name": SCHEDULE_GROUP, "Tags": _tag_list({MANAGED_TAG: "offhours"})},
        }
        res["OffhoursSchedulerRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": role_name(plan.fn, "-scheduler"),
                "Description": f"offhours: {plan.fn}",
                "AssumeRolePolicyDocument": scheduler_trust(plan.account),
                "Policies": [{"PolicyName": "offhours", "PolicyDocument": plan.scheduler_policy()}],
                "Tags": tags,
            },
        }
        res["OffhoursSchedule"] = {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Name": plan.fn,
                "GroupName": _GROUP_NAME,
                "ScheduleExpression": d.schedule,
                "ScheduleExpressionTimezone": plan.zone,
                "State": "ENABLED",
                "Description": plan.schedule_description,
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": {
                    "Arn": plan.target,
                    "RoleArn": _SCHEDULER_ROLE_ARN,
                    "Input": SCHEDULER_INPUT,
                },
            },
        }
    else:
        res["OffhoursRule"] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": plan.fn,
                "ScheduleExpression": d.schedule,
                "State": "ENABLED",
                "Description": plan.rule_description,
                "Targets": [{"Id": "offhours", "Arn": plan.target}],
                "Tags": tags,
            },
        }
        res["OffhoursRulePermission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": plan.target,
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": _RULE_ARN,
            },
        }
    outputs = {
        "FunctionArn": {"Value": _FUNCTION_ARN},
        "TargetArn": {"Value": plan.target, "Description": "What the schedule invokes"},
        "KeyArn": {"Value": plan.key_arn},
        "ConfigParameter": {"Value": _CONFIG_NAME},
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"offhours: the Lambda function {plan.fn} and its schedule",
        "Resources": res,
        "Outputs": outputs,
    }
    return dict(_walk(template, _sam_text))


def _terraform(plan: _Plan, code_path: str) -> dict[str, Any]:
    d = plan.deploy
    tags = dict(sorted(plan.tags.items()))
    res: dict[str, dict[str, dict[str, Any]]] = {}

    def add(kind: str, name: str, body: dict[str, Any]) -> None:
        res.setdefault(kind, {})[name] = body

    if not d.key_arn:
        add(
            "aws_kms_key",
            "offhours",
            {
                "description": plan.key_description,
                "policy": _JsonText(plan.key_policy()),
                "enable_key_rotation": True,
                "deletion_window_in_days": 7,
                "tags": tags,
            },
        )
        add("aws_kms_alias", "offhours", {"name": d.kms_alias(), "target_key_id": _KEY_ID})
    add(
        "aws_ssm_parameter",
        "config",
        {
            "name": plan.param,
            "type": "String",
            "tier": plan.tier,
            "value": plan.document,
            "description": f"offhours configuration of {plan.fn}",
            "tags": tags,
        },
    )
    add(
        "aws_cloudwatch_log_group",
        "offhours",
        {
            "name": f"/aws/lambda/{plan.fn}",
            "retention_in_days": d.log_retention_days,
            "tags": tags,
        },
    )
    if not d.role_arn:
        add(
            "aws_iam_role",
            "function",
            {
                "name": role_name(plan.fn, "-role"),
                "description": f"offhours: {plan.fn}",
                "assume_role_policy": _JsonText(_trust("lambda.amazonaws.com")),
                "tags": tags,
            },
        )
        add(
            "aws_iam_role_policy",
            "function",
            {"name": "offhours", "role": _ROLE_NAME, "policy": _JsonText(plan.policy)},
        )
    function: dict[str, Any] = {
        "function_name": plan.fn,
        "description": d.description,
        "handler": HANDLER,
        "runtime": d.runtime,
        "architectures": [d.architecture],
        "memory_size": d.memory,
        "timeout": d.timeout,
        "filename": code_path,
        "source_code_hash": _CODE_HASH,
        "role": d.role_arn or _ROLE_ARN,
        "kms_key_arn": plan.key_arn,
        "publish": d.publish,
        # The parameter's version, as apply pins it: a config change publishes a version.
        "environment": {"variables": plan.environment(f"{_CONFIG_NAME}:{_CONFIG_VERSION}")},
        "tracing_config": {"mode": d.tracing},
        "tags": tags,
        # Created first, so Lambda never makes the group itself (without retention or tags).
        "depends_on": ["aws_cloudwatch_log_group.offhours"],
    }
    if d.vpc is not None:
        function["vpc_config"] = {
            "subnet_ids": list(d.vpc.subnet_ids),
            "security_group_ids": list(d.vpc.security_group_ids),
        }
    if not d.role_arn:
        function["depends_on"].append("aws_iam_role_policy.function")
    add("aws_lambda_function", "offhours", function)
    if d.publish:
        add(
            "aws_lambda_alias",
            "offhours",
            {
                "name": d.alias,
                "description": d.alias_description,
                "function_name": _FUNCTION_NAME,
                "function_version": _FUNCTION_VERSION,
            },
        )
    invoke = event_invoke_config(d)
    invoke_tf: dict[str, Any] = {
        "function_name": _FUNCTION_NAME,
        "qualifier": _ALIAS_NAME if d.publish else "$LATEST",
        "maximum_retry_attempts": invoke["MaximumRetryAttempts"],
        "maximum_event_age_in_seconds": invoke["MaximumEventAgeInSeconds"],
    }
    if d.on_failure:
        invoke_tf["destination_config"] = {"on_failure": {"destination": d.on_failure}}
    add("aws_lambda_function_event_invoke_config", "offhours", invoke_tf)
    if d.alarm_topic:
        spec = alarm_spec(plan.fn, d.alarm_topic)
        add(
            "aws_cloudwatch_metric_alarm",
            "errors",
            {
                "alarm_name": spec["AlarmName"],
                "alarm_description": spec["AlarmDescription"],
                "namespace": spec["Namespace"],
                "metric_name": spec["MetricName"],
                "dimensions": {d["Name"]: d["Value"] for d in spec["Dimensions"]},
                "statistic": spec["Statistic"],
                "period": spec["Period"],
                "evaluation_periods": spec["EvaluationPeriods"],
                "threshold": spec["Threshold"],
                "comparison_operator": spec["ComparisonOperator"],
                "treat_missing_data": spec["TreatMissingData"],
                "actions_enabled": spec["ActionsEnabled"],
                "alarm_actions": spec["AlarmActions"],
                "tags": tags,
            },
        )
    if d.scheduler == "scheduler":
        add(
            "aws_scheduler_schedule_group",
            "offhours",
            {"name": SCHEDULE_GROUP, "tags": {MANAGED_TAG: "offhours"}},
        )
        add(
            "aws_iam_role",
            "scheduler",
            {
                "name": role_name(plan.fn, "-scheduler"),
                "description": f"offhours: {plan.fn}",
                "assume_role_policy": _JsonText(scheduler_trust(plan.account)),
                "tags": tags,
            },
        )
        add(
            "aws_iam_role_policy",
            "scheduler",
            {
                "name": "offhours",
                "role": _SCHEDULER_ROLE_NAME,
                "policy": _JsonText(plan.scheduler_policy()),
            },
        )
        add(
            "aws_scheduler_schedule",
            "offhours",
            {
                "name": plan.fn,
                "group_name": _GROUP_NAME,
                "schedule_expression": d.schedule,
                "schedule_expression_timezone": plan.zone,
                "state": "ENABLED",
                "description": plan.schedule_description,
                "flexible_time_window": {"mode": "OFF"},
                "target": {
                    "arn": plan.target,
                    "role_arn": _SCHEDULER_ROLE_ARN,
                    "input": SCHEDULER_INPUT,
                },
            },
        )
    else:
        add(
            "aws_cloudwatch_event_rule",
            "offhours",
            {
                "name": plan.fn,
                "schedule_expression": d.schedule,
                "state": "ENABLED",
                "description": plan.rule_description,
                "tags": tags,
            },
        )
        add(
            "aws_cloudwatch_event_target",
            "offhours",
            {"rule": _RULE_NAME, "target_id": "offhours", "arn": plan.target},
        )
        permission = {
            "statement_id": "offhours-events-rule",
            "action": "lambda:InvokeFunction",
            "principal": "events.amazonaws.com",
            "function_name": _FUNCTION_NAME,
            "source_arn": _RULE_ARN,
        }
        if d.publish:
            permission["qualifier"] = _ALIAS_NAME
        add("aws_lambda_permission", "events", permission)
    document: dict[str, Any] = {
        "terraform": {
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}
        },
        "provider": {"aws": {"region": plan.region}},
        "resource": res,
        "output": {
            "function_arn": {"value": _FUNCTION_ARN},
            "target_arn": {"value": plan.target, "description": "What the schedule invokes"},
            "key_arn": {"value": plan.key_arn},
            "config_parameter": {"value": _CONFIG_NAME},
        },
    }
    if plan.account == _ACCOUNT:
        document["data"] = {"aws_caller_identity": {"current": {}}}
    # The zip's hash, read by Terraform from the file at plan time (a literal inside a call).
    refs = {**_TF_REFS, "code_hash": f"filebase64sha256({json.dumps(_tf_literal(code_path))})"}
    rendered: dict[str, Any] = _walk(document, lambda text: _tf_text(text, refs))
    return rendered


# ---------------------------------------------------------------- entry point


def export(
    config: Config,
    *,
    format: Format,
    code_path: str = "offhours-lambda.zip",
    account: str | None = None,
) -> str:
    """The deployment of ``config`` as an AWS SAM template or Terraform JSON (a JSON text).

    ``code_path`` is the Lambda zip the template points at (``offhours deploy package``);
    ``account`` writes the account id into ARNs instead of resolving it at deploy time.
    Raises :class:`ConfigError` for a bad schedule, a missing region, or secrets that a
    template cannot carry (each listed with how to store it instead).
    """
    if format not in ("sam", "terraform"):
        raise ConfigError(f"format {format!r}: choose sam or terraform")
    plan = _plan(config, account)
    document = _sam(plan, code_path) if format == "sam" else _terraform(plan, code_path)
    return json.dumps(document, indent=2, sort_keys=True)
