"""`offhours deploy export`: what `offhours deploy apply` creates, as infrastructure as code.

Two formats, both JSON so that no YAML or HCL writer is needed:

    sam        an AWS SAM template (CloudFormation accepts JSON; ``sam deploy`` too)
    terraform  Terraform's JSON syntax (save as ``offhours.tf.json``)

Both are rendered from the one description apply also works from
(:func:`offhours.deploy.spec.describe`): this module only spells each resource's properties in
each format's syntax (SAM writes the alias, the invoke configuration, the rule's target and
the Scheduler role's policy inside the resource they serve).

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
from offhours.config import Config
from offhours.deploy.spec import (
    ACCOUNT,
    ALIAS_ARN,
    ALIAS_NAME,
    CODE_HASH,
    CONFIG_NAME,
    CONFIG_VARIABLE,
    CONTEXT_KEY,
    FUNCTION_ARN,
    FUNCTION_NAME,
    KINDS,
    MARKED,
    Description,
    Resource,
    check_references,
    describe,
)
from offhours.errors import ConfigError

__all__ = ["Format", "export"]

Format = Literal["sam", "terraform"]

# How each format writes the description's markers. SAM: ("Ref", id) or ("GetAtt", id, attr).
_SAM_REFS: dict[str, tuple[str, ...]] = {
    "account": ("Ref", "AWS::AccountId"),
    "key_arn": ("GetAtt", "OffhoursKey", "Arn"),
    "key_id": ("Ref", "OffhoursKey"),
    "role_arn": ("GetAtt", "OffhoursRole", "Arn"),
    "role_name": ("Ref", "OffhoursRole"),
    "function_arn": ("GetAtt", "OffhoursFunction", "Arn"),
    # SAM resolves `Ref: <function>.Alias` to the alias that AutoPublishAlias creates.
    "alias_arn": ("Ref", "OffhoursFunction.Alias"),
    "group_name": ("Ref", "OffhoursScheduleGroup"),
    "scheduler_role_arn": ("GetAtt", "OffhoursSchedulerRole", "Arn"),
    "rule_arn": ("GetAtt", "OffhoursRule", "Arn"),
    "digest_rule_arn": ("GetAtt", "OffhoursDigestRule", "Arn"),
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
    "digest_rule_arn": "aws_cloudwatch_event_rule.digest.arn",
    "digest_rule_name": "aws_cloudwatch_event_rule.digest.name",
    "config_name": "aws_ssm_parameter.config.name",
    "config_version": "aws_ssm_parameter.config.version",
}


# ---------------------------------------------------------------- checks


_WHY = {
    "env": "is read from this machine's environment",
    "file": "is read from a file on this machine",
    "inline": "is written in the file itself",
    "kms": "is ciphertext, but [deploy] key_arn does not say which key it was encrypted under",
}


def _refuse_local_secrets(config: Config) -> None:
    """A template holds ssm: and secretsmanager: references, kms: ones with their key only."""
    problems: list[str] = []
    for slot in config.secret_slots():
        ref = slot.ref
        if ref.scheme in ("ssm", "secretsmanager"):
            continue
        if ref.scheme != "kms" or not config.deploy.key_arn:
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


def deploy_region(config: Config) -> str:
    """The region the deployment runs in, as apply finds it: the config, AWS_REGION,
    AWS_DEFAULT_REGION, the profile's."""
    deploy = config.deploy
    region = boto3.session.Session(
        region_name=aws_region(deploy.region or config.secrets.region)
    ).region_name
    if not region:
        raise ConfigError(
            f"{config.label}: deploy.region: missing; an exported template names its region: "
            'set [deploy] region, e.g. region = "us-east-1" (or AWS_REGION)'
        )
    return str(region)


def _describe(config: Config, account: str | None) -> Description:
    region = deploy_region(config)
    if account is not None and not re.fullmatch(r"\d{12}", account):
        raise ConfigError(f"account {account!r} is not an AWS account id (12 digits)")
    check_references(config, region, account)
    _refuse_local_secrets(config)
    return describe(config, region, account=account or ACCOUNT)


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


def _sam_text(value: str, refs: Mapping[str, tuple[str, ...]] = _SAM_REFS) -> Any:
    parts = MARKED.split(value)
    if len(parts) == 1:
        return value
    if len(parts) == 3 and parts[0] == parts[2] == "":
        ref = refs[parts[1]]
        return {"Ref": ref[1]} if ref[0] == "Ref" else {"Fn::GetAtt": list(ref[1:])}
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(part.replace("${", "${!"))  # a literal ${ inside Fn::Sub
        else:
            out.append("${" + ".".join(refs[part][1:]) + "}")
    return {"Fn::Sub": "".join(out)}


def _tf_literal(text: str) -> str:
    # Every JSON string is a template to Terraform: keep literal ${ and %{ literal.
    return text.replace("${", "$${").replace("%{", "%%{")


def _tf_text(value: str, refs: Mapping[str, str] = _TF_REFS) -> str:
    parts = MARKED.split(value)
    return "".join(
        _tf_literal(p) if i % 2 == 0 else "${" + refs[p] + "}" for i, p in enumerate(parts)
    )


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


# ---------------------------------------------------------------- SAM


def _sam_function(desc: Description, props: Mapping[str, Any], code_path: str) -> dict[str, Any]:
    body = {k: v for k, v in props.items() if k not in ("Publish", "KMSKeyArn", "TracingConfig")}
    body["KmsKeyArn"] = props["KMSKeyArn"]
    body["Tracing"] = props["TracingConfig"]["Mode"]
    body["CodeUri"] = code_path
    # CloudFormation cannot read a parameter's version: the document's digest stands for it,
    # so a configuration change still publishes a new version.
    variables = dict(props["Environment"]["Variables"])
    variables[CONFIG_VARIABLE] = CONFIG_NAME
    variables["OFFHOURS_CONFIG_DIGEST"] = hashlib.sha256(desc.document.encode()).hexdigest()
    body["Environment"] = {"Variables": variables}
    return body


def _sam_fold(desc: Description, into: dict[str, Any], res: Resource) -> None:
    """Writes ``res`` into the properties of the resource SAM makes it part of."""
    p = res.props
    if res.kind == "key_policy":
        into["KeyPolicy"] = p["KeyPolicy"]
    elif res.kind == "alias":
        alias = p["Name"]
        if not alias.isalnum() or not alias.isascii():
            # SAM names the alias resource <function>Alias<alias>: a logical id is alphanumeric.
            raise ConfigError(
                f"{desc.config.label}: deploy.alias: {alias!r} cannot be a SAM "
                "AutoPublishAlias, which takes letters and digits only; rename it (e.g. "
                '"live") or export --format terraform'
            )
        into["AutoPublishAlias"] = alias
        # A new version for any change of the function, as apply publishes one.
        into["AutoPublishAliasAllProperties"] = True
    elif res.kind == "invoke_config":
        invoke: dict[str, Any] = {
            k: p[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")
        }
        if "DestinationConfig" in p:
            destination = p["DestinationConfig"]["OnFailure"]["Destination"]
            invoke["DestinationConfig"] = {
                "OnFailure": {"Type": destination.split(":")[2].upper(), "Destination": destination}
            }
        into["EventInvokeConfig"] = invoke
    elif res.kind == "rule_target":
        into.setdefault("Targets", []).append({k: v for k, v in p.items() if k != "Rule"})
    elif res.kind == "role_policy":
        into.setdefault("Policies", []).append(
            {"PolicyName": p["PolicyName"], "PolicyDocument": p["PolicyDocument"]}
        )
    else:  # pragma: no cover - every kind SAM writes inside another is above
        raise AssertionError(res.kind)


def _sam(desc: Description, code_path: str) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for res in desc:
        if res.existing:
            continue
        if res.within is not None:
            if res.within in out:  # nothing to write into an existing key
                _sam_fold(desc, out[res.within]["Properties"], res)
            continue
        if res.kind == "function":
            props = _sam_function(desc, res.props, code_path)
        elif res.kind == "permission":
            props = {k: v for k, v in res.props.items() if k != "StatementId"}
        elif res.kind == "state_table":
            # CloudFormation spells CreateTable's SSESpecification.Enabled SSEEnabled.
            props = {**res.props, "SSESpecification": {"SSEEnabled": True}}
        else:
            props = dict(res.props)
        if res.tags is not None:
            # SAM's own types take a map, CloudFormation's a list.
            serverless = res.kind in ("function", "parameter")
            props["Tags"] = dict(sorted(res.tags.items())) if serverless else _tag_list(res.tags)
        body: dict[str, Any] = {"Type": KINDS[res.kind].sam, "Properties": props}
        if res.kind == "state_table":
            # As `offhours deploy destroy`: the incident history outlives the stack.
            body["DeletionPolicy"] = body["UpdateReplacePolicy"] = "Retain"
        if res.depends_on:
            body["DependsOn"] = list(res.depends_on)
        out[res.id] = body
    outputs = {
        "FunctionArn": {"Value": FUNCTION_ARN},
        "TargetArn": {"Value": desc.target, "Description": "What the schedule invokes"},
        "KeyArn": {"Value": desc.key_arn},
        "ConfigParameter": {"Value": CONFIG_NAME},
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"offhours: the Lambda function {desc.fn} and its schedule",
        "Resources": out,
        "Outputs": outputs,
    }
    return dict(_walk(template, _sam_text))


# ---------------------------------------------------------------- Terraform

# Attribute names that are not the property's name in snake case.
_TF_NAMES = {
    "KeyPolicy": "policy",
    "PendingWindowInDays": "deletion_window_in_days",
    "AliasName": "name",
    "LogGroupName": "name",
    "RoleName": "name",
    "PolicyName": "name",
    "PolicyDocument": "policy",
    "AssumeRolePolicyDocument": "assume_role_policy",
    "KMSKeyArn": "kms_key_arn",
    "Id": "target_id",
    "InputPathsMap": "input_paths",
}
# Terraform takes policies as JSON text.
_TF_JSON = {"KeyPolicy", "PolicyDocument", "AssumeRolePolicyDocument"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _tf_value(key: str, value: Any) -> Any:
    if key in _TF_JSON:
        return _JsonText(value)
    if key == "Variables":  # names of environment variables are data
        return dict(value)
    if key == "Dimensions":
        return {d["Name"]: d["Value"] for d in value}
    if isinstance(value, Mapping):
        return {_TF_NAMES.get(k, _snake(k)): _tf_value(k, v) for k, v in value.items()}
    return value


def _tf_table(props: Mapping[str, Any]) -> dict[str, Any]:
    """A state table as aws_dynamodb_table spells it (keys by name, settings as blocks)."""

    def keys(schema: list[dict[str, str]]) -> dict[str, str]:
        return {f"{k['KeyType'].lower()}_key": k["AttributeName"] for k in schema}

    return {
        "name": props["TableName"],
        "billing_mode": props["BillingMode"],
        **keys(props["KeySchema"]),
        "attribute": [
            {"name": a["AttributeName"], "type": a["AttributeType"]}
            for a in props["AttributeDefinitions"]
        ],
        "global_secondary_index": [
            {
                "name": i["IndexName"],
                **keys(i["KeySchema"]),
                "projection_type": i["Projection"]["ProjectionType"],
            }
            for i in props["GlobalSecondaryIndexes"]
        ],
        "ttl": {
            "attribute_name": props["TimeToLiveSpecification"]["AttributeName"],
            "enabled": props["TimeToLiveSpecification"]["Enabled"],
        },
        "point_in_time_recovery": {
            "enabled": props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        },
        "server_side_encryption": {"enabled": props["SSESpecification"]["Enabled"]},
    }


def _tf_body(desc: Description, res: Resource, code_path: str) -> dict[str, Any]:
    props = res.props
    if res.kind == "state_table":
        body: dict[str, Any] = _tf_table(props)
    elif res.kind == "role_policy":
        body = {
            "name": props["PolicyName"],
            "role": props["RoleName"],
            "policy": _JsonText(props["PolicyDocument"]),
        }
    else:
        body = {_TF_NAMES.get(k, _snake(k)): _tf_value(k, v) for k, v in props.items()}
    if res.kind == "permission":
        # Terraform names the function and its alias apart.
        body["function_name"] = FUNCTION_NAME
        if props["FunctionName"] == ALIAS_ARN:
            body["qualifier"] = ALIAS_NAME
    if res.kind == "function":
        body["filename"] = code_path
        body["source_code_hash"] = CODE_HASH
    if res.tags is not None:
        body["tags"] = dict(sorted(res.tags.items()))
    if res.depends_on:
        body["depends_on"] = [desc[i].address for i in res.depends_on]
    return body


def _terraform(desc: Description, code_path: str) -> dict[str, Any]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    bodies: dict[str, dict[str, Any]] = {}
    for res in desc:
        tf_type = KINDS[res.kind].tf
        if res.existing:
            continue
        if tf_type is None:
            # Only the key's policy: an attribute of the key (absent when the key exists).
            if res.within in bodies:
                bodies[res.within]["policy"] = _JsonText(res.props["KeyPolicy"])
            continue
        bodies[res.id] = out.setdefault(tf_type, {})[res.tf] = _tf_body(desc, res, code_path)
    document: dict[str, Any] = {
        "terraform": {
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}
        },
        "provider": {"aws": {"region": desc.region}},
        "resource": out,
        "output": {
            "function_arn": {"value": FUNCTION_ARN},
            "target_arn": {"value": desc.target, "description": "What the schedule invokes"},
            "key_arn": {"value": desc.key_arn},
            "config_parameter": {"value": CONFIG_NAME},
        },
    }
    if desc.account == ACCOUNT:
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
    desc = _describe(config, account)
    document = _sam(desc, code_path) if format == "sam" else _terraform(desc, code_path)
    return json.dumps(document, indent=2, sort_keys=True)
