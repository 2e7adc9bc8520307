"""`offhours deploy plan | apply | destroy`: the function, its role, key, config and schedule.

Everything offhours creates carries the tags ``offhours:managed-by = offhours`` and
``offhours:function = <name>``; destroy removes only what carries both. Every step first reads
what exists and changes only what differs, so a second apply changes nothing and a re-run after
a failure converges.

    KMS key + alias      (or an existing key)        secrets encrypted with the function's
    SSM parameter        /offhours/<fn>/config        context {LambdaFunctionName: <fn>}
    CloudWatch log group /aws/lambda/<fn>             with retention
    IAM role             <fn>-role                    least privilege, derived from the config
    Lambda function      <fn>, version, alias         KMSKeyArn set at creation
    schedule             EventBridge Scheduler (time zone) or a classic rule (UTC)
"""

from __future__ import annotations

import base64
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

from offhours.config import Config
from offhours.errors import ConfigError, OffhoursError, SecretError
from offhours.secrets import Resolver, SecretRef

__all__ = [
    "FUNCTION_TAG",
    "HANDLER",
    "MANAGED_TAG",
    "Change",
    "DeployError",
    "Deployment",
    "function_document",
    "role_name",
    "role_policy",
    "schedule_zone",
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
_SCHEDULER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

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
    statements.extend(extra or [])
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class _State:
    """What the steps learn as they go (ARNs), shared with the later steps."""

    account: str = ""
    key_arn: str = ""
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
        region = config.deploy.region or config.secrets.region
        self.session = session or boto3.session.Session(region_name=region)
        if not self.session.region_name:
            raise ConfigError("no AWS region for the deployment; set [deploy] region or AWS_REGION")
        self.region: str = self.session.region_name
        self.zone = schedule_zone(config)
        self.param = f"/offhours/{self.fn}/config"
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
        yield self._function
        yield self._alias
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

    def _decrypts_to(self, reference: object, plaintext: str) -> bool:
        if not isinstance(reference, str) or not reference.startswith("kms:"):
            return False
        try:
            answer = self.client("kms").decrypt(
                CiphertextBlob=base64.b64decode(reference[4:]),
                EncryptionContext={CONTEXT_KEY: self.fn},
            )
        except (ClientError, ValueError):
            return False
        return bool(answer["Plaintext"] == plaintext.encode())

    def _refs(self, *schemes: str) -> list[SecretRef]:
        return [ref for _, _, ref in self.config.secret_refs() if ref.scheme in schemes]

    # ------------------------------------------------------------------ steps

    def _key(self, state: _State, dry: bool) -> Change:
        kms = self.client("kms")
        if self.deploy.key_arn:
            state.key_arn = kms.describe_key(KeyId=self.deploy.key_arn)["KeyMetadata"]["Arn"]
            return Change("kms key", f"{state.key_arn} (existing)", "unchanged")
        try:
            meta = kms.describe_key(KeyId=self.deploy.key_alias)["KeyMetadata"]
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise
        else:
            state.key_arn = meta["Arn"]
            return Change("kms key", self.deploy.key_alias, "unchanged", (state.key_arn,))
        if dry:
            state.key_arn = "(new key)"
            return Change("kms key", self.deploy.key_alias, "create")
        meta = kms.create_key(
            Description=f"offhours: secrets of the Lambda function {self.fn}",
            Tags=[{"TagKey": k, "TagValue": v} for k, v in self.tags.items()],
        )["KeyMetadata"]
        kms.create_alias(AliasName=self.deploy.key_alias, TargetKeyId=meta["KeyId"])
        state.key_arn = meta["Arn"]
        return Change("kms key", self.deploy.key_alias, "create", (state.key_arn,))

    def _current_param(self) -> dict[str, Any] | None:
        try:
            value = self.client("ssm").get_parameter(Name=self.param)["Parameter"]["Value"]
        except ClientError as exc:
            if _code(exc) == "ParameterNotFound":
                return None
            raise
        try:
            document = json.loads(value)
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}

    def _desired_document(
        self, state: _State, current: Mapping[str, Any] | None, dry: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """The deployed configuration: [deploy] dropped, secrets as kms: references under the
        function's context — reusing the stored ciphertext when the secret did not change."""
        document = function_document(self.config, self.region)
        changed = []
        for where, plaintext in (self._secrets or {}).items():
            match = _PATH.match(where)
            if match is None:  # pragma: no cover - secret_refs only yields these paths
                continue
            section, index, name = match.group(1), int(match.group(2)), match.group(3)
            old = _dig(current, section, index, name)
            if self._decrypts_to(old, plaintext):
                new = old
            else:
                changed.append(where)
                new = (
                    "kms:(encrypted at apply)"
                    if dry or state.key_arn.startswith("(")
                    else self._encrypt(state, plaintext)
                )
            document[section][index][name] = new
        return document, changed

    def _config_parameter(self, state: _State, dry: bool) -> Change:
        current = self._current_param()
        desired, changed = self._desired_document(state, current, dry)
        if current is not None and not changed and _same(current, desired):
            return Change("ssm parameter", self.param, "unchanged")
        details = [f"secret {w} encrypted with context {CONTEXT_KEY}={self.fn}" for w in changed]
        secrets = self._secrets or {}
        if current is not None and not _same(
            _without_secrets(current, secrets), _without_secrets(desired, secrets)
        ):
            details.append("configuration changed")
        action: Action = "create" if current is None else "update"
        if not dry:
            text = json.dumps(desired, sort_keys=True, separators=(",", ":"))
            tier = "Standard" if len(text) <= 4096 else "Advanced"
            self.client("ssm").put_parameter(
                Name=self.param,
                Value=text,
                Type="String",  # secrets inside are kms: ciphertext already
                Tier=tier,
                Overwrite=True,
                Description=f"offhours configuration of {self.fn}",
            )
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
            return "create", arn, []
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
            details.append("trust policy")
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
            details.append("permissions")
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
        return Change("iam role", self.role_name, action, tuple(f"{d} changed" for d in details))

    def _wait_for_role(self, arn: str) -> None:
        # A new role takes a few seconds before Lambda may assume it (IAM is eventually
        # consistent); the waiter only proves it exists.
        self.client("iam").get_waiter("role_exists").wait(RoleName=arn.rsplit("/", 1)[1])

    def _environment(self, current: Mapping[str, str]) -> dict[str, str]:
        # Variables set by someone else are kept: never wipe what offhours did not set.
        ours = {"OFFHOURS_CONFIG_SSM": self.param, **self.deploy.environment}
        return {**current, **ours}

    def _function_config(self, state: _State, current_env: Mapping[str, str]) -> dict[str, Any]:
        vpc = self.deploy.vpc
        return {
            "Role": state.role_arn,
            "Handler": HANDLER,
            "Description": self.deploy.description,
            "Timeout": self.deploy.timeout,
            "MemorySize": self.deploy.memory,
            "Runtime": self.deploy.runtime,
            "Environment": {"Variables": self._environment(current_env)},
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
            # Set at creation: updating KMSKeyArn later is not always honoured.
            "KMSKeyArn": state.key_arn,
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
            state, self.scheduler_role_name, _SCHEDULER_TRUST, policy, dry
        )
        return Change(
            "iam role", self.scheduler_role_name, action, tuple(f"{d} changed" for d in details)
        )

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
        if self._current_param() is None:
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
        if self.deploy.key_arn:
            return Change(
                "kms key",
                self.deploy.key_arn,
                "unchanged",
                ("given in [deploy] key_arn: left alone",),
            )
        try:
            meta = kms.describe_key(KeyId=self.deploy.key_alias)["KeyMetadata"]
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise
            return Change("kms key", self.deploy.key_alias, "unchanged", ("none",))
        tags = {
            t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]
        }
        if not self._is_ours(tags):
            return Change(
                "kms key",
                self.deploy.key_alias,
                "unchanged",
                ("not created by offhours: left alone",),
            )
        if meta.get("KeyState") == "PendingDeletion":
            return Change(
                "kms key", self.deploy.key_alias, "unchanged", ("already pending deletion",)
            )
        kms.delete_alias(AliasName=self.deploy.key_alias)
        # KMS never deletes at once: 7 days is the shortest waiting period.
        kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
        return Change("kms key", self.deploy.key_alias, "delete", ("deletion scheduled in 7 days",))


def _dig(document: Mapping[str, Any] | None, section: str, index: int, name: str) -> object:
    try:
        return document[section][index][name]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _without_secrets(document: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
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
                diffs.append(f"environment: {', '.join(added + changed)}")
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
