"""`offhours deploy plan | apply | destroy`: the function, its role, key, config and schedule.

Everything offhours creates carries the tags ``offhours:managed-by = offhours`` and
``offhours:function = <name>``; destroy removes only what carries both. Every step first reads
what exists and changes only what differs, so a second apply changes nothing and a re-run after
a failure converges.

    KMS key + alias      alias/offhours/<fn>          one per deployment, rotated; its policy
                         (or an existing key)         lets only the function's role decrypt,
                                                      under the function's context
    SSM parameter        /offhours/<fn>/config        secrets encrypted with the function's
                                                      context {LambdaFunctionName: <fn>}, each
                                                      with a salted scrypt fingerprint so a
                                                      re-run sees it unchanged without decrypting
    CloudWatch log group /aws/lambda/<fn>             with retention
    IAM role             <fn>-role                    least privilege, derived from the config
    key policy           (on the key above)           written once the role exists
    Lambda function      <fn>, version, alias         each version pins its config version
    invoke config        on the alias                 no async retries: one post per instant
    alarm                <fn>-errors (optional)       Errors metric → [deploy] alarm_topic
    schedule             EventBridge Scheduler (time zone) or a classic rule (UTC)
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from offhours.aws_region import aws_region
from offhours.config import Config, DeployConfig
from offhours.deploy.fingerprint import DEPLOY_STATE_KEY, fingerprint, matches
from offhours.errors import ConfigError, OffhoursError, SecretError
from offhours.secrets import Resolver, SecretRef, wildcard_in

__all__ = [
    "FUNCTION_TAG",
    "HANDLER",
    "MANAGED_TAG",
    "Change",
    "DeployError",
    "Deployment",
    "alarm_spec",
    "check_references",
    "event_invoke_config",
    "function_document",
    "function_environment",
    "key_policy",
    "role_name",
    "role_policy",
    "schedule_zone",
    "scheduler_trust",
]

log = logging.getLogger(__name__)

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
_BOTO = BotoConfig(retries={"max_attempts": 5, "mode": "standard"})
_LAMBDA_TRUST = {
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


def function_environment(config_ref: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The variables offhours sets: the pinned configuration, [deploy.environment] and the
    marker naming the latter."""
    env = {CONFIG_VARIABLE: config_ref, **extra}
    if extra:
        env[ENV_MARKER] = ",".join(sorted(extra))
    return env


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
    for _, _, ref in config.secret_refs():
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


Action = Literal["create", "update", "delete", "unchanged"]
_SYMBOL = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}


class DeployError(OffhoursError):
    """A deploy step failed; the message says what exists and that a re-run converges."""


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: Action
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = f"{_SYMBOL[self.action]} {self.action:<9} {self.kind} {self.name}"
        return "\n".join([head, *(f"      {d}" for d in self.details)])


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
    document: dict[str, Any] = json.loads(json.dumps(dict(config.raw), default=str))
    for key in ("deploy", "allow_plaintext_secrets"):
        document.pop(key, None)
    document["secrets"] = {"region": region, "kms": {"context": FUNCTION_CONTEXT}}
    return document


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_PATH = re.compile(r"^(sources|notifiers)\[(\d+)\]\.(\w+)$")


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
    statements.extend(extra or [])
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class _State:
    """What the steps learn as they go (ARNs), shared with the later steps."""

    account: str = ""
    key_arn: str = ""
    #: the key is offhours' own (its policy and rotation are managed here)
    own_key: bool = False
    #: the configuration parameter as the function names it: /offhours/<fn>/config:<version>
    config_ref: str = ""
    role_arn: str = ""
    scheduler_role_arn: str = ""
    function_arn: str = ""
    target_arn: str = ""
    version: str = ""
    changes: list[Change] = field(default_factory=list)


class Deployment:
    """Plans, applies or destroys one configuration's deployment.

    ``code`` is the Lambda zip (needed for plan and apply). ``prompt`` asks for a secret that
    cannot be resolved locally (a hidden prompt in the CLI); without it such a secret is an
    error.
    """

    def __init__(
        self,
        config: Config,
        *,
        code: bytes | None = None,
        session: boto3.session.Session | None = None,
        environ: Mapping[str, str] | None = None,
        prompt: Callable[[str], str] | None = None,
        given: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.deploy = config.deploy
        self.fn = config.deploy.function_name
        self.code = code
        self.environ = environ
        self.prompt = prompt
        #: plaintext secrets handed over at deploy time (e.g. from stdin), by key path
        self.given = dict(given or {})
        region = aws_region(config.deploy.region or config.secrets.region)
        self.session = session or boto3.session.Session(region_name=region)
        if not self.session.region_name:
            raise ConfigError(
                "no AWS region for the deployment; set [deploy] region, AWS_REGION, "
                "AWS_DEFAULT_REGION or the profile's region"
            )
        self.region: str = self.session.region_name
        self.zone = schedule_zone(config)
        self.param = f"/offhours/{self.fn}/config"
        self.key_alias = config.deploy.kms_alias()
        self.alarm_name = f"{self.fn}-errors"
        self.role_name = role_name(self.fn, "-role")
        self.scheduler_role_name = role_name(self.fn, "-scheduler")
        self.log_group = f"/aws/lambda/{self.fn}"
        self.tags = {**config.deploy.tags, MANAGED_TAG: "offhours", FUNCTION_TAG: self.fn}
        self._clients: dict[str, Any] = {}
        self._secrets: dict[str, str] | None = None

    def read_secrets(self) -> None:
        """Read (or ask for) every secret to encrypt now, before anything slow or remote."""
        self._secrets = self._local_secrets()

    # ------------------------------------------------------------------ plumbing

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, config=_BOTO)
        return self._clients[service]

    def _is_ours(self, tags: Mapping[str, str]) -> bool:
        return tags.get(MANAGED_TAG) == "offhours" and tags.get(FUNCTION_TAG) == self.fn

    def _steps(self) -> Iterator[Callable[[_State, bool], Change]]:
        yield self._key
        yield self._config_parameter
        yield self._log_group
        yield self._role
        yield self._key_policy
        yield self._function
        yield self._alias
        yield self._invoke_config
        yield self._alarm
        if self.deploy.scheduler == "scheduler":
            yield self._scheduler_role
            yield self._schedule
            yield self._no_rule
        else:
            yield self._rule
            yield self._no_schedule

    def _run(self, dry: bool) -> list[Change]:
        state = _State()
        try:
            state.account = self.client("sts").get_caller_identity()["Account"]
            check_references(self.config, self.region, state.account)
            if self._secrets is None:
                self.read_secrets()
            for step in self._steps():
                change = step(state, dry)
                state.changes.append(change)
                log.info("%s", change)
        except (ClientError, BotoCoreError, DeployError) as exc:
            raise self._failed(state, exc) from None
        return state.changes

    def _failed(self, state: _State, exc: BaseException) -> DeployError:
        from offhours.aws_secrets import explain

        done = [str(c).splitlines()[0] for c in state.changes if c.action != "unchanged"]
        what = "; ".join(done) if done else "nothing was changed"
        cause = str(exc) if isinstance(exc, DeployError) else explain(exc, "the call", {})
        return DeployError(
            f"deploy of {self.fn!r} failed: {cause}. Done before the "
            f"failure: {what}. Fix the cause and run `offhours deploy apply` again: every "
            "step checks what exists first, so a re-run converges."
        )

    def plan(self) -> list[Change]:
        return self._run(dry=True)

    def apply(self) -> list[Change]:
        return self._run(dry=False)

    # ------------------------------------------------------------------ secrets

    def _local_secrets(self) -> dict[str, str]:
        """Plaintext of every secret the deployed copy stores encrypted (keyed by key path).

        env:, file:, inline and kms: references are resolved here, on the deploying machine;
        ssm: and secretsmanager: references stay references, read by the function itself.
        """
        resolver = Resolver(self.config.secret_settings(), self.environ)
        values: dict[str, str] = {}
        problems: list[str] = []
        refs = {ref.where: ref for _, _, ref in self.config.secret_refs()}
        for where in self.given:
            if where not in refs:
                known = ", ".join(refs) or "none"
                problems.append(f"{where} is not a secret of this configuration (secrets: {known})")
        for ref in refs.values():
            if ref.where in self.given:
                values[ref.where] = self.given[ref.where]
                continue
            if ref.scheme in ("ssm", "secretsmanager"):
                continue
            try:
                values[ref.where] = resolver.resolve(ref).reveal()
            except SecretError as exc:
                if self.prompt is None:
                    problems.append(f"{self.config.label}: {exc}")
                    continue
                values[ref.where] = self.prompt(f"{ref.where} ({ref})")
        if problems:
            raise SecretError(
                "secrets to encrypt for the function could not be read:\n  "
                + "\n  ".join(problems),
                tuple(problems),
            )
        return values

    def _encrypt(self, state: _State, plaintext: str) -> str:
        blob = self.client("kms").encrypt(
            KeyId=state.key_arn,
            Plaintext=plaintext.encode(),
            EncryptionContext={CONTEXT_KEY: self.fn},
        )["CiphertextBlob"]
        return "kms:" + base64.b64encode(blob).decode()

    def _re_encrypt_reason(
        self, where: str, ciphertext: object, stored: object, plaintext: str, key_arn: str
    ) -> str | None:
        """Why the secret at ``where`` must be encrypted again, or None when the stored
        ciphertext still holds ``plaintext`` under ``key_arn`` (its fingerprint says so: the
        deployer cannot decrypt it, only the function's role can)."""
        if not isinstance(ciphertext, str) or not ciphertext.startswith("kms:"):
            return "new"
        if self._as_written(where, ciphertext, plaintext, key_arn):
            return None
        if not isinstance(stored, Mapping) or "fingerprint" not in stored:
            return "no fingerprint stored yet"
        if stored.get("key") != key_arn:
            return "key changed"
        if not matches(stored["fingerprint"], where, key_arn, ciphertext, plaintext):
            return "changed"
        return None

    def _as_written(self, where: str, ciphertext: str, plaintext: str, key_arn: str) -> bool:
        """True when the stored value is the configuration's own kms: reference, made under
        the deployment's key for the function's context (what an export deploys as written).
        Decrypting it is the deployer's right: it was just resolved on this machine."""
        ref = next((r for r in self._refs("kms") if r.where == where), None)
        if ref is None or ciphertext != f"kms:{ref.target}" or key_arn.startswith("("):
            return False
        try:
            context = Resolver(self.config.secret_settings(), self.environ).kms_context()
        except SecretError:
            return False
        if context != {CONTEXT_KEY: self.fn}:
            return False  # the function could not decrypt it with its own context
        try:
            answer = self.client("kms").decrypt(
                CiphertextBlob=base64.b64decode(ref.target), EncryptionContext=context
            )
        except (ClientError, ValueError):
            return False
        return bool(answer["KeyId"] == key_arn and answer["Plaintext"] == plaintext.encode())

    def _refs(self, *schemes: str) -> list[SecretRef]:
        return [ref for _, _, ref in self.config.secret_refs() if ref.scheme in schemes]

    # ------------------------------------------------------------------ steps

    def _key_tags(self, key_id: str) -> dict[str, str]:
        tags = self.client("kms").list_resource_tags(KeyId=key_id)["Tags"]
        return {t["TagKey"]: t["TagValue"] for t in tags}

    def _key(self, state: _State, dry: bool) -> Change:
        kms = self.client("kms")
        if self.deploy.key_arn:
            state.key_arn = kms.describe_key(KeyId=self.deploy.key_arn)["KeyMetadata"]["Arn"]
            return Change("kms key", f"{state.key_arn} (existing)", "unchanged")
        try:
            meta = kms.describe_key(KeyId=self.key_alias)["KeyMetadata"]
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise
        else:
            return self._existing_key(state, meta, dry)
        if dry:
            state.key_arn = "(new key)"
            state.own_key = True
            return Change("kms key", self.key_alias, "create", ("rotation on",))
        # The function's role does not exist yet: the key policy naming it is written later.
        policy = key_policy(account=state.account, function=self.fn, role_arn="")
        policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != FUNCTION_DECRYPTS]
        meta = kms.create_key(
            Description=f"offhours: secrets of the Lambda function {self.fn}",
            Policy=json.dumps(policy),
            Tags=[{"TagKey": k, "TagValue": v} for k, v in self.tags.items()],
        )["KeyMetadata"]
        kms.create_alias(AliasName=self.key_alias, TargetKeyId=meta["KeyId"])
        kms.enable_key_rotation(KeyId=meta["KeyId"])
        state.key_arn = meta["Arn"]
        state.own_key = True
        return Change("kms key", self.key_alias, "create", (state.key_arn, "rotation on"))

    def _existing_key(self, state: _State, meta: Mapping[str, Any], dry: bool) -> Change:
        tags = self._key_tags(meta["KeyId"])
        owner = tags.get(FUNCTION_TAG)
        if owner is not None and owner != self.fn:
            # Shared, one deployment's destroy would lock the other out of its secrets.
            raise DeployError(
                f"the KMS key behind {self.key_alias} ({meta['Arn']}) belongs to the offhours "
                f"deployment {owner!r}; a key is never shared between deployments. Remove "
                f"key_alias from [deploy] (the default is alias/offhours/{self.fn}) or choose "
                "an alias of its own"
            )
        if meta.get("KeyState") == "PendingDeletion":
            raise DeployError(
                f"the KMS key behind {self.key_alias} ({meta['Arn']}) is pending deletion; "
                "cancel it (aws kms cancel-key-deletion) or choose another key_alias"
            )
        state.key_arn = meta["Arn"]
        state.own_key = self._is_ours(tags)
        if not state.own_key and self.deploy.key_alias is None:
            # Someone else's key behind our default alias keeps their key policy: whoever it
            # lets decrypt would read the function's secrets. A foreign key is used only when
            # named on purpose.
            raise DeployError(
                f"the KMS key behind the default alias {self.key_alias} ({meta['Arn']}) was not "
                "created by offhours, so its key policy is not offhours' (only the function's "
                "role may decrypt). Delete that alias, or name the key on purpose with key_arn "
                "or key_alias in [deploy]"
            )
        if not state.own_key:
            return Change(
                "kms key",
                self.key_alias,
                "unchanged",
                (state.key_arn, "not created by offhours: its key policy is yours to keep tight"),
            )
        kms = self.client("kms")
        if kms.get_key_rotation_status(KeyId=meta["KeyId"]).get("KeyRotationEnabled"):
            return Change("kms key", self.key_alias, "unchanged", (state.key_arn,))
        if not dry:
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        return Change("kms key", self.key_alias, "update", (state.key_arn, "rotation turned on"))

    def _key_policy(self, state: _State, dry: bool) -> Change:
        if not state.own_key:
            return Change("kms key policy", self.key_alias, "unchanged", ("not offhours' key",))
        desired = key_policy(account=state.account, function=self.fn, role_arn=state.role_arn)
        current = None
        if not state.key_arn.startswith("("):
            text = self.client("kms").get_key_policy(KeyId=state.key_arn, PolicyName="default")
            current = _policy_doc(text["Policy"])
        if current == desired:
            return Change("kms key policy", self.key_alias, "unchanged")
        if not dry:
            self._put_key_policy(state.key_arn, desired)
        created = any(c.kind == "kms key" and c.action == "create" for c in state.changes)
        action: Action = "create" if created else "update"
        return Change(
            "kms key policy",
            self.key_alias,
            action,
            ("decrypt: only the role " + state.role_arn + f" for {CONTEXT_KEY}={self.fn}",),
        )

    def _put_key_policy(self, key_arn: str, policy: Mapping[str, Any]) -> None:
        for attempt in range(6):
            try:
                self.client("kms").put_key_policy(
                    KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy)
                )
                return
            except ClientError as exc:
                # KMS refuses a role IAM has not yet made visible everywhere (a new role).
                if _code(exc) != "MalformedPolicyDocumentException" or attempt == 5:
                    raise
                time.sleep(2 * (attempt + 1))

    def _current_param(self) -> tuple[dict[str, Any] | None, str]:
        """The stored configuration and its version (None, "" when there is none)."""
        try:
            found = self.client("ssm").get_parameter(Name=self.param)["Parameter"]
        except ClientError as exc:
            if _code(exc) == "ParameterNotFound":
                return None, ""
            raise
        version = str(found.get("Version", ""))
        try:
            document = json.loads(found["Value"])
        except ValueError:
            return {}, version
        return (document if isinstance(document, dict) else {}), version

    def _desired_document(
        self, state: _State, current: Mapping[str, Any] | None, dry: bool
    ) -> tuple[dict[str, Any], dict[str, str | None]]:
        """The deployed configuration: [deploy] dropped, secrets as kms: references under the
        function's context — reusing the stored ciphertext (and its fingerprint) when the
        secret did not change. Also, per secret, why it is (re-)encrypted (None: unchanged)."""
        document = function_document(self.config, self.region)
        stored = _fingerprints(current)
        fingerprints: dict[str, Any] = {}
        reasons: dict[str, str | None] = {}
        for where, plaintext in (self._secrets or {}).items():
            match = _PATH.match(where)
            if match is None:  # pragma: no cover - secret_refs only yields these paths
                continue
            section, index, name = match.group(1), int(match.group(2)), match.group(3)
            old = _dig(current, section, index, name)
            entry = stored.get(where)
            reasons[where] = self._re_encrypt_reason(where, old, entry, plaintext, state.key_arn)
            if reasons[where] is None:
                new = old
                if entry is not None:
                    fingerprints[where] = entry
            elif dry or state.key_arn.startswith("("):
                new = "kms:(encrypted at apply)"
            else:
                new = self._encrypt(state, plaintext)
                fingerprints[where] = {
                    "key": state.key_arn,
                    "fingerprint": fingerprint(where, state.key_arn, new, plaintext),
                }
            document[section][index][name] = new
        if fingerprints:
            document[DEPLOY_STATE_KEY] = {"fingerprints": fingerprints}
        return document, reasons

    def _config_parameter(self, state: _State, dry: bool) -> Change:
        current, version = self._current_param()
        desired, reasons = self._desired_document(state, current, dry)
        changed = [where for where, reason in reasons.items() if reason is not None]
        if current is not None and not changed and _same(current, desired):
            state.config_ref = f"{self.param}:{version}"
            return Change("ssm parameter", self.param, "unchanged", (f"version {version}",))
        # What happened to each secret, never its value nor its fingerprint.
        details = [
            f"secret {where} unchanged"
            if reason is None
            else f"secret {where} {'encrypted' if reason == 'new' else 're-encrypted'} with "
            f"context {CONTEXT_KEY}={self.fn} ({reason})"
            for where, reason in reasons.items()
        ]
        secrets = self._secrets or {}
        if current is not None and not _same(
            _without_secrets(current, secrets), _without_secrets(desired, secrets)
        ):
            details.append("configuration changed")
        elif current is not None and not changed:
            details.append("fingerprints of secrets no longer stored here dropped")
        action: Action = "create" if current is None else "update"
        # The function names the version it reads: a new one is published for it.
        state.config_ref = f"{self.param}:(next version)"
        if not dry:
            text = json.dumps(desired, sort_keys=True, separators=(",", ":"))
            tier = "Standard" if len(text) <= 4096 else "Advanced"
            put = self.client("ssm").put_parameter(
                Name=self.param,
                Value=text,
                Type="String",  # secrets inside are kms: ciphertext already
                Tier=tier,
                Overwrite=True,
                Description=f"offhours configuration of {self.fn}",
            )
            state.config_ref = f"{self.param}:{put['Version']}"
            details.append(f"version {put['Version']}")
            self.client("ssm").add_tags_to_resource(
                ResourceType="Parameter",
                ResourceId=self.param,
                Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
            )
        return Change("ssm parameter", self.param, action, tuple(details))

    def _log_group(self, state: _State, dry: bool) -> Change:
        logs = self.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=self.log_group)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == self.log_group), None)
        days = self.deploy.log_retention_days
        if group is not None and group.get("retentionInDays") == days:
            return Change("log group", self.log_group, "unchanged")
        if not dry:
            if group is None:
                logs.create_log_group(logGroupName=self.log_group, tags=self.tags)
            logs.put_retention_policy(logGroupName=self.log_group, retentionInDays=days)
        detail = f"retention {group.get('retentionInDays') if group else None} → {days} days"
        return Change(
            "log group", self.log_group, "create" if group is None else "update", (detail,)
        )

    def _policy(self, state: _State) -> dict[str, Any]:
        extra: list[dict[str, Any]] = []
        from offhours.registry import load_plugin

        for section, items in (
            ("sources", self.config.sources),
            ("notifiers", self.config.notifiers),
        ):
            for item in items:
                cls = load_plugin(section, item.type)
                extra.extend(cls.iam_statements(item.plugin_kwargs(), self.region, state.account))
        return role_policy(
            function=self.fn,
            region=self.region,
            account=state.account,
            key_arn=state.key_arn,
            config_param=self.param,
            ssm_names=[r.target for r in self._refs("ssm")],
            secret_ids=[r.target.partition("#")[0] for r in self._refs("secretsmanager")],
            vpc=self.deploy.vpc is not None,
            tracing=self.deploy.tracing == "Active",
            extra=extra,
            on_failure=self.deploy.on_failure,
        )

    def _ensure_role(
        self, state: _State, name: str, trust: dict[str, Any], policy: dict[str, Any], dry: bool
    ) -> tuple[Action, str, list[str]]:
        iam = self.client("iam")
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            role = None
        if role is None:
            arn = f"arn:aws:iam::{state.account}:role/{name}"
            if not dry:
                arn = iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Description=f"offhours: {self.fn}",
                    Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
                )["Role"]["Arn"]
                iam.put_role_policy(
                    RoleName=name, PolicyName="offhours", PolicyDocument=json.dumps(policy)
                )
            # As terraform plan does: the whole permission document on creation.
            return "create", arn, ["permissions:", *_pretty(policy)]
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        if not self._is_ours(tags):
            raise DeployError(
                f"the IAM role {name} exists but was not created by offhours for {self.fn!r}; "
                "set [deploy] role_arn to use it as it is, or remove it, or choose another "
                "function_name"
            )
        details = []
        current_trust = _policy_doc(role.get("AssumeRolePolicyDocument"))
        if current_trust != trust:
            details.extend(["trust policy changed:", *_diff(current_trust, trust)])
            if not dry:
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        try:
            current = _policy_doc(
                iam.get_role_policy(RoleName=name, PolicyName="offhours")["PolicyDocument"]
            )
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            current = None
        if current != policy:
            details.extend(["permissions changed:", *_diff(current, policy)])
            if not dry:
                iam.put_role_policy(
                    RoleName=name, PolicyName="offhours", PolicyDocument=json.dumps(policy)
                )
        return ("update" if details else "unchanged"), role["Arn"], details

    def _role(self, state: _State, dry: bool) -> Change:
        if self.deploy.role_arn:
            state.role_arn = self.deploy.role_arn
            return Change("iam role", f"{state.role_arn} (existing)", "unchanged")
        action, state.role_arn, details = self._ensure_role(
            state, self.role_name, _LAMBDA_TRUST, self._policy(state), dry
        )
        if action == "create" and not dry:
            self._wait_for_role(state.role_arn)
        return Change("iam role", self.role_name, action, tuple(details))

    def _wait_for_role(self, arn: str) -> None:
        # A new role takes a few seconds before Lambda may assume it (IAM is eventually
        # consistent); the waiter only proves it exists.
        self.client("iam").get_waiter("role_exists").wait(RoleName=arn.rsplit("/", 1)[1])

    def _environment(self, state: _State, current: Mapping[str, str]) -> dict[str, str]:
        # Variables set by someone else are kept; those offhours set before (named by the
        # marker) and no longer in [deploy.environment] are removed.
        before = {n for n in current.get(ENV_MARKER, "").split(",") if n}
        kept = {
            k: v
            for k, v in current.items()
            if k not in before and k not in (ENV_MARKER, CONFIG_VARIABLE)
        }
        return {**kept, **function_environment(state.config_ref, self.deploy.environment)}

    def _function_config(self, state: _State, current_env: Mapping[str, str]) -> dict[str, Any]:
        vpc = self.deploy.vpc
        return {
            "Role": state.role_arn,
            "KMSKeyArn": state.key_arn,
            "Handler": HANDLER,
            "Description": self.deploy.description,
            "Timeout": self.deploy.timeout,
            "MemorySize": self.deploy.memory,
            "Runtime": self.deploy.runtime,
            "Environment": {"Variables": self._environment(state, current_env)},
            "TracingConfig": {"Mode": self.deploy.tracing},
            "VpcConfig": {
                "SubnetIds": vpc.subnet_ids if vpc else [],
                "SecurityGroupIds": vpc.security_group_ids if vpc else [],
            },
        }

    def _function(self, state: _State, dry: bool) -> Change:
        lam = self.client("lambda")
        if self.code is None:
            raise ConfigError("no package to deploy; build one with `offhours deploy package`")
        sha = _sha256(self.code)
        try:
            current = lam.get_function(FunctionName=self.fn)["Configuration"]
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            current = None
        if current is None:
            if not dry:
                created = self._create_function(state)
                state.function_arn = created["FunctionArn"]
            else:
                state.function_arn = (
                    f"arn:aws:lambda:{self.region}:{state.account}:function:{self.fn}"
                )
            return Change(
                "lambda function",
                self.fn,
                "create",
                (f"{len(self.code):,} bytes, {self.deploy.runtime}, {self.deploy.architecture}",),
            )
        state.function_arn = current["FunctionArn"]
        if not self._is_ours(lam.list_tags(Resource=state.function_arn).get("Tags", {})):
            raise DeployError(
                f"a Lambda function {self.fn!r} exists but was not created by offhours; "
                "choose another [deploy] function_name or remove it"
            )
        details = []
        if current.get("CodeSha256") != sha or current.get("Architectures", ["x86_64"]) != [
            self.deploy.architecture
        ]:
            details.append("code")
            if not dry:
                self._wait(self.fn)
                lam.update_function_code(
                    FunctionName=self.fn,
                    ZipFile=self.code,
                    Architectures=[self.deploy.architecture],
                )
        env = current.get("Environment", {}).get("Variables", {})
        desired = self._function_config(state, env)
        diffs = _config_diffs(current, desired)
        if diffs:
            details.extend(diffs)
            if not dry:
                self._wait(self.fn)
                lam.update_function_configuration(FunctionName=self.fn, **desired)
        if details and not dry:
            self._wait(self.fn)
        return Change(
            "lambda function", self.fn, "update" if details else "unchanged", tuple(details)
        )

    def _create_function(self, state: _State) -> dict[str, Any]:
        lam = self.client("lambda")
        kwargs = {
            "FunctionName": self.fn,
            "Code": {"ZipFile": self.code},
            "Architectures": [self.deploy.architecture],
            "Tags": self.tags,
            "Publish": False,
            **self._function_config(state, {}),
        }
        for attempt in range(6):
            try:
                created: dict[str, Any] = lam.create_function(**kwargs)
                break
            except ClientError as exc:
                # A new role is not assumable for a few seconds; Lambda says so in a 400.
                if (
                    _code(exc) != "InvalidParameterValueException"
                    or "assume" not in str(exc)
                    or attempt == 5
                ):
                    raise
                time.sleep(2 * (attempt + 1))
        self._wait(self.fn, active=True)
        return created

    def _wait(self, name: str, *, active: bool = False) -> None:
        """Wait out an update in progress, else the next call fails with a conflict."""
        waiter = "function_active_v2" if active else "function_updated_v2"
        self.client("lambda").get_waiter(waiter).wait(
            FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
        )

    def _alias(self, state: _State, dry: bool) -> Change:
        lam = self.client("lambda")
        if not self.deploy.publish:
            state.target_arn = state.function_arn
            return Change(
                "lambda alias", "(publish = false: the schedule runs $LATEST)", "unchanged"
            )
        version = None
        if not dry:
            # Publishing unchanged code and configuration returns the latest version as is.
            version = lam.publish_version(FunctionName=self.fn)["Version"]
        try:
            alias = lam.get_alias(FunctionName=self.fn, Name=self.deploy.alias)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            alias = None
        state.target_arn = f"{state.function_arn}:{self.deploy.alias}"
        if alias is None:
            if not dry:
                lam.create_alias(
                    FunctionName=self.fn,
                    Name=self.deploy.alias,
                    FunctionVersion=version,
                    Description=self.deploy.alias_description,
                )
            return Change(
                "lambda alias", self.deploy.alias, "create", (f"→ version {version or '(new)'}",)
            )
        if dry:
            changed = any(
                c.kind == "lambda function" and c.action != "unchanged" for c in state.changes
            )
            desc_changed = alias.get("Description", "") != self.deploy.alias_description
            if changed or desc_changed:
                return Change("lambda alias", self.deploy.alias, "update", ("→ a new version",))
            return Change(
                "lambda alias",
                self.deploy.alias,
                "unchanged",
                (f"version {alias['FunctionVersion']}",),
            )
        if (
            alias["FunctionVersion"] == version
            and alias.get("Description", "") == self.deploy.alias_description
        ):
            return Change("lambda alias", self.deploy.alias, "unchanged", (f"version {version}",))
        lam.update_alias(
            FunctionName=self.fn,
            Name=self.deploy.alias,
            FunctionVersion=version,
            Description=self.deploy.alias_description,
        )
        return Change(
            "lambda alias",
            self.deploy.alias,
            "update",
            (f"version {alias['FunctionVersion']} → {version}",),
        )

    def _invoke_config(self, state: _State, dry: bool) -> Change:
        lam = self.client("lambda")
        qualifier = self.deploy.alias if self.deploy.publish else "$LATEST"
        desired = event_invoke_config(self.deploy)
        name = f"{self.fn}:{qualifier}"
        try:
            found = lam.get_function_event_invoke_config(FunctionName=self.fn, Qualifier=qualifier)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            found = None
        details = (
            f"retries 0, events older than {desired['MaximumEventAgeInSeconds']} s dropped",
            f"on failure → {self.deploy.on_failure or 'Errors metric only'}",
        )
        if found is not None and _invoke_settings(found) == desired:
            return Change("invoke config", name, "unchanged", details)
        if not dry:
            if found is not None:
                # Deleted first so nothing of the old settings survives (moto's put merges).
                lam.delete_function_event_invoke_config(FunctionName=self.fn, Qualifier=qualifier)
            lam.put_function_event_invoke_config(
                FunctionName=self.fn, Qualifier=qualifier, **desired
            )
        return Change("invoke config", name, "create" if found is None else "update", details)

    def _alarm(self, state: _State, dry: bool) -> Change:
        cw = self.client("cloudwatch")
        found = cw.describe_alarms(AlarmNames=[self.alarm_name])["MetricAlarms"]
        current = found[0] if found else None
        if current is not None:
            tags = cw.list_tags_for_resource(ResourceARN=current["AlarmArn"])["Tags"]
            if not self._is_ours({t["Key"]: t["Value"] for t in tags}):
                raise DeployError(
                    f"a CloudWatch alarm {self.alarm_name!r} exists but was not created by "
                    "offhours; rename or remove it, or choose another function_name"
                )
        topic = self.deploy.alarm_topic
        if topic is None:
            if current is None:
                return Change("alarm", self.alarm_name, "unchanged", ("none (no alarm_topic)",))
            if not dry:
                cw.delete_alarms(AlarmNames=[self.alarm_name])
            return Change("alarm", self.alarm_name, "delete", ("alarm_topic removed",))
        desired = alarm_spec(self.fn, topic)
        detail = f"Errors ≥ 1 in 5 minutes → {topic}"
        if current is not None and not _subset(desired, current):
            return Change("alarm", self.alarm_name, "unchanged", (detail,))
        if not dry:
            cw.put_metric_alarm(
                **desired, Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()]
            )
        return Change(
            "alarm", self.alarm_name, "create" if current is None else "update", (detail,)
        )

    def _scheduler_role(self, state: _State, dry: bool) -> Change:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "InvokeOwnFunction",
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": state.target_arn,
                }
            ],
        }
        action, state.scheduler_role_arn, details = self._ensure_role(
            state, self.scheduler_role_name, scheduler_trust(state.account), policy, dry
        )
        return Change("iam role", self.scheduler_role_name, action, tuple(details))

    def _schedule(self, state: _State, dry: bool) -> Change:
        sched = self.client("scheduler")
        try:
            group = sched.get_schedule_group(Name=SCHEDULE_GROUP)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            group = None
        if group is None and not dry:
            sched.create_schedule_group(
                Name=SCHEDULE_GROUP,
                Tags=[{"Key": k, "Value": v} for k, v in {MANAGED_TAG: "offhours"}.items()],
            )
        desired = {
            "ScheduleExpression": self.deploy.schedule,
            "ScheduleExpressionTimezone": self.zone,
            "State": "ENABLED",
            "Description": f"offhours audit ({self.deploy.schedule} in {self.zone})",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": state.target_arn,
                "RoleArn": state.scheduler_role_arn,
                "Input": SCHEDULER_INPUT,
            },
        }
        try:
            current = sched.get_schedule(Name=self.fn, GroupName=SCHEDULE_GROUP) if group else None
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            current = None
        name = f"{SCHEDULE_GROUP}/{self.fn}"
        detail = f"{self.deploy.schedule} in {self.zone}"
        if current is None:
            if not dry:
                sched.create_schedule(Name=self.fn, GroupName=SCHEDULE_GROUP, **desired)
            return Change("schedule", name, "create", (detail,))
        diffs = [k for k, v in desired.items() if _subset(v, current.get(k))]
        if not diffs:
            return Change("schedule", name, "unchanged", (detail,))
        if not dry:
            sched.update_schedule(Name=self.fn, GroupName=SCHEDULE_GROUP, **desired)
        return Change("schedule", name, "update", tuple(f"{k} changed" for k in diffs))

    def _rule(self, state: _State, dry: bool) -> Change:
        events = self.client("events")
        try:
            current = events.describe_rule(Name=self.fn)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            current = None
        details = [f"{self.deploy.schedule} in UTC (a classic rule has no time zone)"]
        action: Action = "create" if current is None else "unchanged"
        if current is not None and current.get("ScheduleExpression") != self.deploy.schedule:
            action = "update"
        if action != "unchanged" and not dry:
            rule_arn = events.put_rule(
                Name=self.fn,
                ScheduleExpression=self.deploy.schedule,
                State="ENABLED",
                Description=f"offhours audit ({self.deploy.schedule} UTC)",
                Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
            )["RuleArn"]
            events.put_targets(Rule=self.fn, Targets=[{"Id": "offhours", "Arn": state.target_arn}])
            try:
                self.client("lambda").add_permission(
                    FunctionName=state.target_arn,
                    StatementId="offhours-events-rule",
                    Action="lambda:InvokeFunction",
                    Principal="events.amazonaws.com",
                    SourceArn=rule_arn,
                )
            except ClientError as exc:
                if _code(exc) != "ResourceConflictException":
                    raise
        return Change("events rule", self.fn, action, tuple(details))

    def _no_rule(self, state: _State, dry: bool) -> Change:
        return self._delete_rule(dry, switching=True)

    def _no_schedule(self, state: _State, dry: bool) -> Change:
        return self._delete_schedule(dry, switching=True)

    # ------------------------------------------------------------------ destroy

    def destroy(self) -> list[Change]:
        state = _State()
        try:
            state.account = self.client("sts").get_caller_identity()["Account"]
            for step in (
                self._delete_schedule,
                self._delete_rule,
                lambda dry: self._delete_role(self.scheduler_role_name, dry),
                self._delete_alarm,
                self._delete_function,
                lambda dry: self._delete_role(self.role_name, dry),
                self._delete_log_group,
                self._delete_parameter,
                self._delete_key,
            ):
                change = step(False)
                if change is not None:
                    state.changes.append(change)
        except (ClientError, BotoCoreError) as exc:
            raise self._failed(state, exc) from None
        return state.changes

    def _delete_schedule(self, dry: bool, switching: bool = False) -> Change:
        sched = self.client("scheduler")
        name = f"{SCHEDULE_GROUP}/{self.fn}"
        try:
            sched.get_schedule(Name=self.fn, GroupName=SCHEDULE_GROUP)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            return Change("schedule", name, "unchanged", ("none",))
        if not dry:
            sched.delete_schedule(Name=self.fn, GroupName=SCHEDULE_GROUP)
        return Change(
            "schedule", name, "delete", ("replaced by a classic rule",) if switching else ()
        )

    def _delete_rule(self, dry: bool, switching: bool = False) -> Change:
        events = self.client("events")
        try:
            rule = events.describe_rule(Name=self.fn)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            return Change("events rule", self.fn, "unchanged", ("none",))
        tags = {
            t["Key"]: t["Value"]
            for t in events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
        }
        if not self._is_ours(tags):
            return Change(
                "events rule", self.fn, "unchanged", ("not created by offhours: left alone",)
            )
        if not dry:
            targets = events.list_targets_by_rule(Rule=self.fn)["Targets"]
            if targets:
                events.remove_targets(Rule=self.fn, Ids=[t["Id"] for t in targets])
            events.delete_rule(Name=self.fn)
        return Change(
            "events rule",
            self.fn,
            "delete",
            ("replaced by a Scheduler schedule",) if switching else (),
        )

    def _delete_role(self, name: str, dry: bool) -> Change:
        iam = self.client("iam")
        try:
            iam.get_role(RoleName=name)
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            return Change("iam role", name, "unchanged", ("none",))
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        if not self._is_ours(tags):
            return Change("iam role", name, "unchanged", ("not created by offhours: left alone",))
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
        return Change("iam role", name, "delete")

    def _delete_function(self, dry: bool) -> Change:
        lam = self.client("lambda")
        try:
            arn = lam.get_function(FunctionName=self.fn)["Configuration"]["FunctionArn"]
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            return Change("lambda function", self.fn, "unchanged", ("none",))
        if not self._is_ours(lam.list_tags(Resource=arn).get("Tags", {})):
            return Change(
                "lambda function", self.fn, "unchanged", ("not created by offhours: left alone",)
            )
        lam.delete_function(FunctionName=self.fn)
        return Change("lambda function", self.fn, "delete", ("with its versions and aliases",))

    def _delete_alarm(self, dry: bool) -> Change:
        cw = self.client("cloudwatch")
        found = cw.describe_alarms(AlarmNames=[self.alarm_name])["MetricAlarms"]
        if not found:
            return Change("alarm", self.alarm_name, "unchanged", ("none",))
        tags = cw.list_tags_for_resource(ResourceARN=found[0]["AlarmArn"])["Tags"]
        if not self._is_ours({t["Key"]: t["Value"] for t in tags}):
            return Change(
                "alarm", self.alarm_name, "unchanged", ("not created by offhours: left alone",)
            )
        cw.delete_alarms(AlarmNames=[self.alarm_name])
        return Change("alarm", self.alarm_name, "delete")

    def _delete_log_group(self, dry: bool) -> Change:
        logs = self.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=self.log_group)["logGroups"]
        if not any(g["logGroupName"] == self.log_group for g in groups):
            return Change("log group", self.log_group, "unchanged", ("none",))
        tags = logs.list_tags_log_group(logGroupName=self.log_group).get("tags", {})
        if not self._is_ours(tags):
            return Change(
                "log group", self.log_group, "unchanged", ("not created by offhours: left alone",)
            )
        logs.delete_log_group(logGroupName=self.log_group)
        return Change("log group", self.log_group, "delete")

    def _delete_parameter(self, dry: bool) -> Change:
        ssm = self.client("ssm")
        if self._current_param()[0] is None:
            return Change("ssm parameter", self.param, "unchanged", ("none",))
        tags = {
            t["Key"]: t["Value"]
            for t in ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=self.param)[
                "TagList"
            ]
        }
        if not self._is_ours(tags):
            return Change(
                "ssm parameter", self.param, "unchanged", ("not created by offhours: left alone",)
            )
        ssm.delete_parameter(Name=self.param)
        return Change("ssm parameter", self.param, "delete")

    def _delete_key(self, dry: bool) -> Change:
        kms = self.client("kms")
        alias = self.key_alias
        if self.deploy.key_arn:
            return Change(
                "kms key",
                self.deploy.key_arn,
                "unchanged",
                ("given in [deploy] key_arn: left alone",),
            )
        try:
            meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise
            return Change("kms key", alias, "unchanged", ("none",))
        if not self._is_ours(self._key_tags(meta["KeyId"])):
            return Change("kms key", alias, "unchanged", ("not created by offhours: left alone",))
        if meta.get("KeyState") == "PendingDeletion":
            return Change("kms key", alias, "unchanged", ("already pending deletion",))
        users = self._other_functions_using(meta["Arn"])
        if users:
            # Scheduling its deletion would leave them unable to decrypt their secrets.
            return Change(
                "kms key",
                alias,
                "unchanged",
                (
                    f"still used by {', '.join(users)}: left alone; run `offhours deploy "
                    "apply` for each (they get a key of their own), then destroy again",
                ),
            )
        kms.delete_alias(AliasName=alias)
        # KMS never deletes at once: 7 days is the shortest waiting period.
        kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
        return Change("kms key", alias, "delete", ("deletion scheduled in 7 days",))

    def _other_functions_using(self, key_arn: str) -> list[str]:
        names = []
        for page in self.client("lambda").get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                if function.get("KMSKeyArn") == key_arn and function["FunctionName"] != self.fn:
                    names.append(function["FunctionName"])
        return sorted(names)


def _dig(document: Mapping[str, Any] | None, section: str, index: int, name: str) -> object:
    try:
        return document[section][index][name]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _fingerprints(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The fingerprints a deployed configuration holds (none in one written before them)."""
    state = (document or {}).get(DEPLOY_STATE_KEY)
    found = state.get("fingerprints") if isinstance(state, dict) else None
    return found if isinstance(found, dict) else {}


def _without_secrets(document: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    copy.pop(DEPLOY_STATE_KEY, None)
    for where in secrets:
        match = _PATH.match(where)
        if match and _dig(copy, match.group(1), int(match.group(2)), match.group(3)) is not None:
            copy[match.group(1)][int(match.group(2))][match.group(3)] = "<secret>"
    return dict(copy)


def _policy_doc(value: object) -> object:
    # IAM returns policy documents URL-decoded as dicts through boto3, or as JSON text.
    if isinstance(value, str):
        from urllib.parse import unquote

        return json.loads(unquote(value))
    return value


def _pretty(document: object) -> list[str]:
    return json.dumps(document, indent=2, sort_keys=True).splitlines()


def _diff(current: object, desired: object) -> list[str]:
    """A unified diff of two policy documents, as `terraform plan` shows one."""
    return list(
        difflib.unified_diff(
            _pretty(current), _pretty(desired), "current", "desired", lineterm="", n=3
        )
    )


def _invoke_settings(found: Mapping[str, Any]) -> dict[str, Any]:
    """What get_function_event_invoke_config returns, in put's shape (empty parts dropped)."""
    settings: dict[str, Any] = {
        "MaximumRetryAttempts": found.get("MaximumRetryAttempts"),
        "MaximumEventAgeInSeconds": found.get("MaximumEventAgeInSeconds"),
    }
    failure = (found.get("DestinationConfig") or {}).get("OnFailure") or {}
    if failure.get("Destination"):
        settings["DestinationConfig"] = {"OnFailure": {"Destination": failure["Destination"]}}
    return settings


def _subset(desired: object, current: object) -> bool:
    """True when ``desired`` differs from what ``current`` holds (extra keys in it ignored)."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return True
        return any(_subset(v, current.get(k)) for k, v in desired.items())
    return desired != current


def _config_diffs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    diffs = []
    for key, want in desired.items():
        have = current.get(key)
        if key == "Environment":
            have_vars = (have or {}).get("Variables", {})
            if have_vars != want["Variables"]:
                added = sorted(set(want["Variables"]) - set(have_vars))
                changed = sorted(
                    k
                    for k in want["Variables"]
                    if k in have_vars and have_vars[k] != want["Variables"][k]
                )
                removed = [f"-{k}" for k in sorted(set(have_vars) - set(want["Variables"]))]
                diffs.append(f"environment: {', '.join(added + changed + removed)}")
                if CONFIG_VARIABLE in changed:
                    diffs.append(
                        f"configuration {have_vars[CONFIG_VARIABLE]} → "
                        f"{want['Variables'][CONFIG_VARIABLE]}"
                    )
        elif key == "TracingConfig":
            if (have or {}).get("Mode", "PassThrough") != want["Mode"]:
                diffs.append(f"tracing {want['Mode']}")
        elif key == "VpcConfig":
            have_vpc = have or {}
            if sorted(have_vpc.get("SubnetIds", [])) != sorted(want["SubnetIds"]) or sorted(
                have_vpc.get("SecurityGroupIds", [])
            ) != sorted(want["SecurityGroupIds"]):
                diffs.append("vpc")
        elif have != want:
            diffs.append(f"{key}: {have} → {want}")
    return diffs
