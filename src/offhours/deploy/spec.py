"""The deployment, described once: every resource `offhours deploy` creates, as data.

`describe(config, ...)` returns the resources in the order apply creates them, each with its
kind, logical id, physical name, properties (in the AWS API's shape), tags and dependencies.
Apply and destroy (`offhours.deploy.aws`), and both exports (`offhours.deploy.export`), are
derived from it; none of them spells a resource's properties again.

Values known only once something exists (ARNs, ids, the account, the configuration's version)
are written as markers (`unknown("key_arn")`); apply fills them in as it learns them
(:func:`fill`), and each export renders them as its own references.

To add a resource: one entry in :data:`KINDS`, its `Resource` in :func:`describe`, and its
AWS calls in `offhours.deploy.aws` (one entry of its table).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from offhours.config import Config, DeployConfig
from offhours.errors import ConfigError
from offhours.secrets import wildcard_in
from offhours.state import STATE_TABLE_ENV, default_table, store_kind
from offhours.state.dynamodb import ITEM_ACTIONS, OPEN_INDEX, TTL_ATTRIBUTE, table_definition

__all__ = [
    "CONFIG_VARIABLE",
    "CONTEXT_KEY",
    "DIGEST_INPUT",
    "ENV_MARKER",
    "FUNCTION_CONTEXT",
    "FUNCTION_DECRYPTS",
    "FUNCTION_TAG",
    "HANDLER",
    "KINDS",
    "LAMBDA_TRUST",
    "MANAGED_TAG",
    "SCHEDULER_INPUT",
    "SCHEDULE_GROUP",
    "STATE_STATEMENT",
    "Description",
    "Kind",
    "Resource",
    "alarm_spec",
    "check_references",
    "describe",
    "digest_name",
    "event_age",
    "event_invoke_config",
    "fill",
    "function_document",
    "function_environment",
    "key_policy",
    "role_name",
    "role_policy",
    "schedule_zone",
    "scheduler_policy",
    "scheduler_trust",
    "state_table",
    "state_table_arns",
    "unknown",
]

HANDLER = "offhours.lambda_handler.handler"
MANAGED_TAG = "offhours:managed-by"
FUNCTION_TAG = "offhours:function"
SCHEDULE_GROUP = "offhours"
CONTEXT_KEY = "LambdaFunctionName"
#: what the function's configuration says, so the handler reads it back with the same context
FUNCTION_CONTEXT = {CONTEXT_KEY: "$AWS_LAMBDA_FUNCTION_NAME"}
#: the input a Scheduler schedule passes, so the handler evaluates the scheduled instant
SCHEDULER_INPUT = json.dumps(
    {"time": "<aws.scheduler.scheduled-time>", "id": "<aws.scheduler.execution-id>"}
)
#: the input of the digest's schedule: the same instant, and which run it is
DIGEST_INPUT = json.dumps(
    {
        "time": "<aws.scheduler.scheduled-time>",
        "id": "<aws.scheduler.execution-id>",
        "offhours": "digest",
    }
)
#: what a classic rule passes instead (its event's time and id, kept by an input transformer)
DIGEST_RULE_INPUT = {
    "InputPathsMap": {"time": "$.time", "id": "$.id"},
    "InputTemplate": '{"time": <time>, "id": <id>, "offhours": "digest"}',
}
#: the function role's statement on its state table (a stable Sid: plan diffs it by name)
STATE_STATEMENT = "StateTableItems"

#: the function role's trust policy
LAMBDA_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
#: names the variables offhours set from [deploy.environment], so removing one removes it
ENV_MARKER = "OFFHOURS_ENVIRONMENT"
CONFIG_VARIABLE = "OFFHOURS_CONFIG_SSM"
#: the key policy's statement naming the role (written once the role exists)
FUNCTION_DECRYPTS = "FunctionDecryptsItsSecrets"
#: what the key policy lets the account administer: nothing that decrypts (no Decrypt,
#: ReEncrypt*, GenerateDataKey*), and grants apart (below); using the key is granted apart,
#: only under the function's encryption context
_KEY_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
]


def scheduler_trust(account: str) -> dict[str, Any]:
    """The Scheduler role's trust policy: only schedules of this account may assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ],
    }


def key_policy(*, account: str, function: str, role_arn: str) -> dict[str, Any]:
    """The deployment key's policy: the account administers it and may encrypt for this
    function (its encryption context); only the function's role decrypts, under that context.

    Without a statement allowing it, an IAM policy granting kms:Decrypt on "*" (another
    function's, say) does not reach this key: `deploy apply` compares fingerprints instead of
    decrypting (see offhours.deploy.fingerprint)."""
    context = {"StringEquals": {f"kms:EncryptionContext:{CONTEXT_KEY}": function}}
    root = {"AWS": f"arn:aws:iam::{account}:root"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": root,
                "Action": _KEY_ADMIN_ACTIONS,
                "Resource": "*",
            },
            {
                # Lambda creates a grant when the key is the function's KMSKeyArn; a grant made
                # by anyone else could hand out kms:Decrypt past this policy.
                "Sid": "AccountGrantsOnlyToAwsServices",
                "Effect": "Allow",
                "Principal": root,
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                # `deploy apply` encrypts new secrets; IAM must still grant it to the deployer.
                "Sid": "DeployerEncryptsForTheFunction",
                "Effect": "Allow",
                "Principal": root,
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": context,
            },
            {
                "Sid": FUNCTION_DECRYPTS,
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": context,
            },
        ],
    }


def function_environment(
    config_ref: str, extra: Mapping[str, str], state_table: str | None = None
) -> dict[str, str]:
    """The variables offhours sets: the pinned configuration, [deploy.environment] and the
    marker naming the latter, and the state table's name when there is one."""
    env = {CONFIG_VARIABLE: config_ref, **extra}
    if extra:
        env[ENV_MARKER] = ",".join(sorted(extra))
    if state_table:
        # After [deploy.environment]: the role may use this table and no other.
        env[STATE_TABLE_ENV] = state_table
    return env


def state_table(config: Config) -> str | None:
    """The DynamoDB table the deployed function keeps its memory in (None: it keeps none)."""
    if store_kind(config, on_lambda=True) != "dynamodb":
        return None
    return default_table(config)


def state_table_arns(name: str, region: str, account: str) -> list[str]:
    """The table's ARN and its open-incidents index's: all the function's role may touch."""
    table = f"arn:{_partition(region)}:dynamodb:{region}:{account}:table/{name}"
    return [table, f"{table}/index/{OPEN_INDEX}"]


def digest_name(function: str) -> str:
    """The digest's schedule or rule (at most 64 characters, as the function's name)."""
    return role_name(function, "-digest")


def event_age(schedule: str) -> int:
    """Seconds an invocation may wait in Lambda's queue: at most until the next scheduled run
    (and an hour), at least the minute Lambda requires."""
    from offhours.deploy.schedule import Rate, parse_schedule_expression

    parsed = parse_schedule_expression(schedule)
    seconds = int(parsed.interval.total_seconds()) if isinstance(parsed, Rate) else 3600
    return max(60, min(seconds, 3600))


def event_invoke_config(deploy: DeployConfig) -> dict[str, Any]:
    """Asynchronous invocation settings: no retry (a failed run has posted already, and
    raising makes it an Errors data point), failures optionally sent to [deploy] on_failure."""
    config: dict[str, Any] = {
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": event_age(deploy.schedule),
    }
    if deploy.on_failure:
        config["DestinationConfig"] = {"OnFailure": {"Destination": deploy.on_failure}}
    return config


def alarm_spec(function: str, topic: str) -> dict[str, Any]:
    """A CloudWatch alarm on the function's Errors metric: one failed run notifies ``topic``."""
    return {
        "AlarmName": f"{function}-errors",
        "AlarmDescription": f"offhours: a run of {function} failed (see its log group)",
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": function}],
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": True,
        "AlarmActions": [topic],
    }


# Where `deploy` keeps a function's configuration (ciphertexts and fingerprints included).
_DEPLOYED_CONFIG = re.compile(r"/offhours/([^/]+)/config(?::\d+)?")


def _partition(region: str) -> str:
    """The AWS partition a region belongs to (ARNs of another one can never be granted)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def check_references(config: Config, region: str, account: str | None) -> None:
    """Refuse ssm: and secretsmanager: references the role would be granted too broadly:
    wildcards, or ARNs of another region or account (``account`` None: not known yet)."""
    problems: list[str] = []
    for slot in config.secret_slots():
        ref = slot.ref
        if ref.scheme not in ("ssm", "secretsmanager"):
            continue
        target = ref.target if ref.scheme == "ssm" else ref.target.partition("#")[0]
        where = f"{config.label}: {ref.where}: {ref}"
        # Config validation refuses these already; kept for configurations built in code.
        if wildcard_in(ref):
            problems.append(
                f"{where} holds a wildcard, which would let the function read every matching "
                "one; name exactly one parameter or secret"
            )
            continue
        name = target.split(":parameter", 1)[-1] if target.startswith("arn:") else target
        deployed = _DEPLOYED_CONFIG.fullmatch(name)
        if ref.scheme == "ssm" and deployed is not None:
            owner = deployed[1]
            if owner != config.deploy.function_name:
                # Another deployment's parameter holds its ciphertexts and fingerprints.
                problems.append(
                    f"{where} is another offhours deployment's parameter ({owner}); "
                    "keep this function's secrets elsewhere"
                )
                continue
        if not target.startswith("arn:"):
            continue
        parts = target.split(":")
        service = "ssm" if ref.scheme == "ssm" else "secretsmanager"
        partition = _partition(region)
        if len(parts) < 6 or parts[2] != service:
            problems.append(f"{where} is not an ARN of {service}; give the name or its full ARN")
        elif parts[1] != partition:
            problems.append(
                f"{where} is in partition {parts[1] or '(none)'}, but the function runs in "
                f"{partition} ({region}); name a parameter or secret of its own partition"
            )
        elif parts[3] != region:
            problems.append(
                f"{where} is in region {parts[3] or '(none)'}, but the function runs in "
                f"{region}; copy it to {region} or deploy there"
            )
        elif account is not None and parts[4] != account:
            problems.append(
                f"{where} belongs to account {parts[4] or '(none)'}, not the deployment's "
                f"account {account}; keep the function's secrets in its own account"
            )
    if problems:
        raise ConfigError(
            f"{config.label}: {len(problems)} secret reference(s) cannot be granted to the "
            "function:\n  " + "\n  ".join(problems),
            tuple(problems),
        )


def role_name(function: str, suffix: str) -> str:
    # IAM role names are at most 64 characters.
    return function[: 64 - len(suffix)] + suffix


def schedule_zone(config: Config) -> str:
    """The schedule's IANA zone, canonical ("europe.london" → "Europe/London")."""
    from offhours.hours import parse_zone

    return parse_zone(config.deploy.timezone or config.hours.timezone).key


def function_document(config: Config, region: str) -> dict[str, Any]:
    """The configuration the function reads, secrets still as written: [deploy] and
    allow_plaintext_secrets dropped, AWS region and the function's KMS context set."""
    document = config.runtime_document()
    document["secrets"] = {"region": region, "kms": {"context": FUNCTION_CONTEXT}}
    return document


def role_policy(
    *,
    function: str,
    region: str,
    account: str,
    key_arn: str,
    config_param: str,
    ssm_names: list[str],
    secret_ids: list[str],
    vpc: bool,
    tracing: bool,
    extra: list[dict[str, Any]] | None = None,
    on_failure: str | None = None,
    state_table: str | None = None,
) -> dict[str, Any]:
    """The execution role's one inline policy: exactly what this configuration needs."""

    def ssm_arn(name: str) -> str:
        return (
            name
            if name.startswith("arn:")
            else f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"
        )

    def secret_arn(secret_id: str) -> str:
        # Secrets Manager appends six random characters to a secret's name in its ARN.
        if secret_id.startswith("arn:"):
            return secret_id
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}-??????"

    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}:*",
        },
        {
            "Sid": "ReadConfigAndParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": sorted({ssm_arn(config_param), *(ssm_arn(n) for n in ssm_names)}),
        },
        {
            "Sid": "DecryptOwnSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {f"kms:EncryptionContext:{CONTEXT_KEY}": function}},
        },
    ]
    if secret_ids:
        statements.append(
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": sorted({secret_arn(s) for s in secret_ids}),
            }
        )
    if vpc:
        # Lambda manages its network interfaces itself; these actions take no resource ARNs.
        statements.append(
            {
                "Sid": "VpcNetworkInterfaces",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface",
                ],
                "Resource": "*",
            }
        )
    if tracing:
        statements.append(
            {
                "Sid": "XRayTracing",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }
        )
    if on_failure:
        # Lambda sends a failed invocation's record with the function's own role.
        service = on_failure.split(":")[2]
        statements.append(
            {
                "Sid": "OnFailureDestination",
                "Effect": "Allow",
                "Action": "sns:Publish" if service == "sns" else "sqs:SendMessage",
                "Resource": on_failure,
            }
        )
    if state_table:
        statements.append(
            {
                "Sid": STATE_STATEMENT,
                "Effect": "Allow",
                "Action": list(ITEM_ACTIONS),
                "Resource": state_table_arns(state_table, region, account),
            }
        )
    statements.extend(extra or [])
    return {"Version": "2012-10-17", "Statement": statements}


def scheduler_policy(target: str) -> dict[str, Any]:
    """The Scheduler role's one permission: invoking what the schedule runs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeOwnFunction",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": target,
            }
        ],
    }


# ---------------------------------------------------------------- values known once deployed

_MARK = "\x00"
MARKED = re.compile("\x00([a-z_]+)\x00")


def unknown(name: str) -> str:
    """A marker for a value known only once deployed (``fill`` or an export renders it)."""
    return f"{_MARK}{name}{_MARK}"


ACCOUNT = unknown("account")
KEY_ARN = unknown("key_arn")
KEY_ID = unknown("key_id")
ROLE_ARN = unknown("role_arn")
ROLE_NAME = unknown("role_name")
FUNCTION_ARN = unknown("function_arn")
FUNCTION_NAME = unknown("function_name")
FUNCTION_VERSION = unknown("function_version")
ALIAS_ARN = unknown("alias_arn")
ALIAS_NAME = unknown("alias_name")
GROUP_NAME = unknown("group_name")
SCHEDULER_ROLE_ARN = unknown("scheduler_role_arn")
SCHEDULER_ROLE_NAME = unknown("scheduler_role_name")
RULE_ARN = unknown("rule_arn")
RULE_NAME = unknown("rule_name")
DIGEST_RULE_ARN = unknown("digest_rule_arn")
DIGEST_RULE_NAME = unknown("digest_rule_name")
CONFIG_NAME = unknown("config_name")
CONFIG_VERSION = unknown("config_version")
CODE_HASH = unknown("code_hash")


def fill(value: Any, known: Mapping[str, str]) -> Any:
    """``value`` with every marker named in ``known`` replaced by its value (others kept)."""
    if isinstance(value, str):
        return MARKED.sub(lambda m: known.get(m[1], m[0]), value)
    if isinstance(value, Mapping):
        return {k: fill(v, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fill(v, known) for v in value]
    return value


# ---------------------------------------------------------------- the description


@dataclass(frozen=True)
class Kind:
    """A resource type: how plan names it, and its type in each export."""

    noun: str
    #: the CloudFormation/SAM type, and Terraform's; None: that format writes it inside the
    #: resource named by its `within`
    sam: str | None
    tf: str | None


KINDS: dict[str, Kind] = {
    "key": Kind("kms key", "AWS::KMS::Key", "aws_kms_key"),
    "key_alias": Kind("kms alias", "AWS::KMS::Alias", "aws_kms_alias"),
    # Apart from the key for apply, which writes it once the role exists (the policy names
    # the role, the role's policy the key); both exports write it as the key's property.
    "key_policy": Kind("kms key policy", None, None),
    "parameter": Kind("ssm parameter", "AWS::SSM::Parameter", "aws_ssm_parameter"),
    "log_group": Kind("log group", "AWS::Logs::LogGroup", "aws_cloudwatch_log_group"),
    "role": Kind("iam role", "AWS::IAM::Role", "aws_iam_role"),
    "role_policy": Kind("iam role policy", "AWS::IAM::RolePolicy", "aws_iam_role_policy"),
    "function": Kind("lambda function", "AWS::Serverless::Function", "aws_lambda_function"),
    "alias": Kind("lambda alias", None, "aws_lambda_alias"),
    "invoke_config": Kind("invoke config", None, "aws_lambda_function_event_invoke_config"),
    "alarm": Kind("alarm", "AWS::CloudWatch::Alarm", "aws_cloudwatch_metric_alarm"),
    "schedule_group": Kind(
        "schedule group", "AWS::Scheduler::ScheduleGroup", "aws_scheduler_schedule_group"
    ),
    "schedule": Kind("schedule", "AWS::Scheduler::Schedule", "aws_scheduler_schedule"),
    "rule": Kind("events rule", "AWS::Events::Rule", "aws_cloudwatch_event_rule"),
    "rule_target": Kind("events target", None, "aws_cloudwatch_event_target"),
    "permission": Kind("lambda permission", "AWS::Lambda::Permission", "aws_lambda_permission"),
    "state_table": Kind("state table", "AWS::DynamoDB::Table", "aws_dynamodb_table"),
}


@dataclass(frozen=True)
class Resource:
    """One deployed resource. ``props`` are in the AWS API's shape, markers for the unknown."""

    kind: str
    #: the logical id (SAM's); ``tf`` names it in Terraform (``<KINDS[kind].tf>.<tf>``)
    id: str
    tf: str
    #: what apply and destroy find it by (a name, an alias, a path)
    name: str
    props: Mapping[str, Any]
    #: None: the type takes no tags (it lives and dies with another resource)
    tags: Mapping[str, str] | None = None
    #: logical ids created before it (beyond the references in its properties)
    depends_on: tuple[str, ...] = ()
    #: the logical id of the resource SAM writes this one into (an alias into its function);
    #: Terraform too where its kind has no Terraform type
    within: str | None = None
    #: named in [deploy] (key_arn, role_arn): used as it is, never created, changed or deleted
    existing: bool = False

    @property
    def noun(self) -> str:
        return KINDS[self.kind].noun

    @property
    def address(self) -> str:
        return f"{KINDS[self.kind].tf}.{self.tf}"


@dataclass(frozen=True)
class Description:
    """Everything one configuration deploys, and the values its resources derive from."""

    config: Config
    fn: str
    region: str
    zone: str
    account: str
    key_arn: str
    #: what the schedule invokes: the alias's ARN, or the function's without publish
    target: str
    #: the configuration the function reads, as JSON text (secrets still as written)
    document: str
    tags: Mapping[str, str]
    resources: tuple[Resource, ...] = field(default=())

    @property
    def deploy(self) -> DeployConfig:
        return self.config.deploy

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def get(self, resource_id: str) -> Resource | None:
        return next((r for r in self.resources if r.id == resource_id), None)

    def __getitem__(self, resource_id: str) -> Resource:
        found = self.get(resource_id)
        if found is None:
            raise KeyError(resource_id)
        return found


def _plugin_statements(config: Config, region: str, account: str) -> list[dict[str, Any]]:
    """What each source and notifier declares it needs (its ``iam_statements``)."""
    from offhours.registry import load_plugin

    extra: list[dict[str, Any]] = []
    for section, items in (("sources", config.sources), ("notifiers", config.notifiers)):
        for item in items:
            cls = load_plugin(section, item.type)
            # Two sources of one type may need the very same statement: once is enough (and
            # IAM refuses a Sid twice).
            for statement in cls.iam_statements(item.plugin_kwargs(), region, account):
                if statement not in extra:
                    extra.append(statement)
    return extra


def _role(
    ids: tuple[str, str],
    tf: str,
    name: str,
    documents: tuple[Mapping[str, Any], Mapping[str, Any]],
    tags: Mapping[str, str],
    *,
    inline: bool,
) -> tuple[Resource, Resource]:
    """A role of the deployment (``ids[0]``) and its one inline policy (``ids[1]``), from its
    trust policy and permissions (``documents``); ``inline``: SAM writes the policy into the
    role (the function role's stands apart: the key's policy names the role)."""
    trust, policy = documents
    fn = tags[FUNCTION_TAG]
    role = Resource(
        "role",
        ids[0],
        tf,
        name,
        {"RoleName": name, "Description": f"offhours: {fn}", "AssumeRolePolicyDocument": trust},
        tags,
    )
    attached = Resource(
        "role_policy",
        ids[1],
        tf,
        name,
        {
            "RoleName": ROLE_NAME if ids[0] == "OffhoursRole" else SCHEDULER_ROLE_NAME,
            "PolicyName": "offhours",
            "PolicyDocument": policy,
        },
        within=role.id if inline else None,
    )
    return role, attached


def _state_table(name: str, tags: Mapping[str, str]) -> Resource:
    """The function's memory: CreateTable's arguments, and the TTL and point-in-time recovery
    set after it (UpdateTimeToLive's and UpdateContinuousBackups' shapes)."""
    return Resource(
        "state_table",
        "OffhoursStateTable",
        "state",
        name,
        {
            **table_definition(name),
            "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
        tags,
    )


def _schedule(
    fn: str, expression: str, zone: str, target: str, *, digest: bool = False
) -> Resource:
    """A Scheduler schedule in offhours' group: the audit's, or the digest's."""
    name, what = (digest_name(fn), "digest") if digest else (fn, "audit")
    return Resource(
        "schedule",
        "OffhoursDigestSchedule" if digest else "OffhoursSchedule",
        "digest" if digest else "offhours",
        f"{SCHEDULE_GROUP}/{name}",
        {
            "Name": name,
            "GroupName": GROUP_NAME,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": zone,
            "State": "ENABLED",
            "Description": f"offhours {what} ({expression} in {zone})",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": target,
                "RoleArn": SCHEDULER_ROLE_ARN,
                "Input": DIGEST_INPUT if digest else SCHEDULER_INPUT,
            },
        },
    )


def _rule(
    fn: str, expression: str, target: str, tags: Mapping[str, str], *, digest: bool = False
) -> tuple[Resource, Resource, Resource]:
    """A classic rule (UTC), its target and the function's permission: the audit's, or the
    digest's (its target passes the event's time with ``"offhours": "digest"``)."""
    prefix = "OffhoursDigestRule" if digest else "OffhoursRule"
    name, what = (digest_name(fn), "digest") if digest else (fn, "audit")
    rule_target: dict[str, Any] = {
        "Rule": DIGEST_RULE_NAME if digest else RULE_NAME,
        "Id": "offhours",
        "Arn": target,
    }
    if digest:
        rule_target["InputTransformer"] = DIGEST_RULE_INPUT
    return (
        Resource(
            "rule",
            prefix,
            "digest" if digest else "offhours",
            name,
            {
                "Name": name,
                "ScheduleExpression": expression,
                "State": "ENABLED",
                "Description": f"offhours {what} ({expression} UTC)",
            },
            tags,
        ),
        Resource(
            "rule_target",
            f"{prefix}Target",
            "digest" if digest else "offhours",
            name,
            rule_target,
            within=prefix,
        ),
        Resource(
            "permission",
            f"{prefix}Permission",
            "events_digest" if digest else "events",
            name,
            {
                "FunctionName": target,
                "StatementId": "offhours-events-digest-rule" if digest else "offhours-events-rule",
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": DIGEST_RULE_ARN if digest else RULE_ARN,
            },
        ),
    )


def describe(
    config: Config,
    region: str,
    *,
    account: str = ACCOUNT,
    key_arn: str | None = None,
    everything: bool = False,
) -> Description:
    """The deployment of ``config`` in ``region``. ``everything``: also what another setting
    of the same configuration would create (the other kind of schedule, the alarm), as
    destroy removes all of it."""
    d = config.deploy
    fn = d.function_name
    key = key_arn or d.key_arn or KEY_ARN
    param = f"/offhours/{fn}/config"
    target = ALIAS_ARN if d.publish else FUNCTION_ARN
    tags = {**d.tags, MANAGED_TAG: "offhours", FUNCTION_TAG: fn}
    document = json.dumps(function_document(config, region), sort_keys=True, separators=(",", ":"))
    refs = [slot.ref for slot in config.secret_slots()]
    role = d.role_arn or ROLE_ARN
    res: list[Resource] = []
    if d.key_arn:
        res.append(Resource("key", "OffhoursKey", "offhours", d.key_arn, {}, existing=True))
    else:
        res.append(
            Resource(
                "key",
                "OffhoursKey",
                "offhours",
                d.kms_alias(),
                {
                    "Description": f"offhours: secrets of the Lambda function {fn}",
                    "EnableKeyRotation": True,
                    # destroy's waiting period, the shortest KMS allows
                    "PendingWindowInDays": 7,
                },
                tags,
            )
        )
        res.append(
            Resource(
                "key_alias",
                "OffhoursKeyAlias",
                "offhours",
                d.kms_alias(),
                {"AliasName": d.kms_alias(), "TargetKeyId": KEY_ID},
            )
        )
    res.append(
        Resource(
            "parameter",
            "OffhoursConfig",
            "config",
            param,
            {
                "Name": param,
                "Type": "String",  # secrets inside are kms: ciphertext or references
                # Standard holds at most 4 KB.
                "Tier": "Standard" if len(document) <= 4096 else "Advanced",
                "Value": document,
                "Description": f"offhours configuration of {fn}",
            },
            tags,
        )
    )
    res.append(
        Resource(
            "log_group",
            "OffhoursLogGroup",
            "offhours",
            f"/aws/lambda/{fn}",
            {"LogGroupName": f"/aws/lambda/{fn}", "RetentionInDays": d.log_retention_days},
            tags,
        )
    )
    table = state_table(config)
    if table or everything:
        res.append(_state_table(table or default_table(config), tags))
    if d.role_arn:
        res.append(Resource("role", "OffhoursRole", "function", d.role_arn, {}, existing=True))
    else:
        # Apart from the role: the key's policy names the role, the role's policy the key.
        policy = role_policy(
            function=fn,
            region=region,
            account=account,
            key_arn=key,
            config_param=param,
            ssm_names=[r.target for r in refs if r.scheme == "ssm"],
            secret_ids=[r.target.partition("#")[0] for r in refs if r.scheme == "secretsmanager"],
            vpc=d.vpc is not None,
            tracing=d.tracing == "Active",
            extra=_plugin_statements(config, region, account),
            on_failure=d.on_failure,
            state_table=table,
        )
        res.extend(
            _role(
                ("OffhoursRole", "OffhoursRolePolicy"),
                "function",
                role_name(fn, "-role"),
                (LAMBDA_TRUST, policy),
                tags,
                inline=False,
            )
        )
    res.append(
        Resource(
            "key_policy",
            "OffhoursKeyPolicy",
            "offhours",
            d.kms_alias(),
            # The key therefore depends on the role, whose permissions are a resource of
            # their own that depends on the key.
            {"KeyPolicy": key_policy(account=account, function=fn, role_arn=role)},
            within="OffhoursKey",
        )
    )
    function: dict[str, Any] = {
        "FunctionName": fn,
        "Description": d.description,
        "Handler": HANDLER,
        "Runtime": d.runtime,
        "Architectures": [d.architecture],
        "MemorySize": d.memory,
        "Timeout": d.timeout,
        "Role": role,
        "KMSKeyArn": key,
        # The parameter's version: a configuration change publishes a new function version.
        "Environment": {
            "Variables": function_environment(
                f"{CONFIG_NAME}:{CONFIG_VERSION}", d.environment, table
            )
        },
        "TracingConfig": {"Mode": d.tracing},
        "Publish": d.publish,
    }
    if d.vpc is not None:
        function["VpcConfig"] = {
            "SubnetIds": list(d.vpc.subnet_ids),
            "SecurityGroupIds": list(d.vpc.security_group_ids),
        }
    res.append(
        Resource(
            "function",
            "OffhoursFunction",
            "offhours",
            fn,
            function,
            tags,
            # Created first, so Lambda never makes the group itself (without retention or tags).
            depends_on=("OffhoursLogGroup", *(() if d.role_arn else ("OffhoursRolePolicy",))),
        )
    )
    if d.publish:
        res.append(
            Resource(
                "alias",
                "OffhoursAlias",
                "offhours",
                d.alias,
                {
                    "FunctionName": FUNCTION_NAME,
                    "Name": d.alias,
                    "Description": d.alias_description,
                    "FunctionVersion": FUNCTION_VERSION,
                },
                within="OffhoursFunction",
            )
        )
    res.append(
        Resource(
            "invoke_config",
            "OffhoursInvokeConfig",
            "offhours",
            f"{fn}:{d.alias if d.publish else '$LATEST'}",
            {
                "FunctionName": FUNCTION_NAME,
                "Qualifier": ALIAS_NAME if d.publish else "$LATEST",
                **event_invoke_config(d),
            },
            within="OffhoursFunction",
        )
    )
    if d.alarm_topic or everything:
        res.append(
            Resource(
                "alarm",
                "OffhoursErrorsAlarm",
                "errors",
                f"{fn}-errors",
                alarm_spec(fn, d.alarm_topic or ""),
                tags,
            )
        )
    if d.scheduler == "scheduler" or everything:
        zone = schedule_zone(config)
        res.append(
            Resource(
                "schedule_group",
                "OffhoursScheduleGroup",
                "offhours",
                SCHEDULE_GROUP,
                {"Name": SCHEDULE_GROUP},
                # Shared by every offhours function of the account: never one function's.
                {MANAGED_TAG: "offhours"},
            )
        )
        res.extend(
            _role(
                ("OffhoursSchedulerRole", "OffhoursSchedulerPolicy"),
                "scheduler",
                role_name(fn, "-scheduler"),
                (scheduler_trust(account), scheduler_policy(target)),
                tags,
                inline=True,
            )
        )
        res.append(_schedule(fn, d.schedule, zone, target))
        if d.digest_schedule or everything:
            res.append(_schedule(fn, d.digest_schedule or d.schedule, zone, target, digest=True))
    if d.scheduler == "rule" or everything:
        res.extend(_rule(fn, d.schedule, target, tags))
        if d.digest_schedule or everything:
            res.extend(_rule(fn, d.digest_schedule or d.schedule, target, tags, digest=True))
    return Description(
        config=config,
        fn=fn,
        region=region,
        zone=schedule_zone(config),
        account=account,
        key_arn=key,
        target=target,
        document=document,
        tags=tags,
        resources=tuple(res),
    )
