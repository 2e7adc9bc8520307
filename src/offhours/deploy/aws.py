"""`offhours deploy plan | apply | destroy`: the AWS calls behind the description.

What is deployed is described once, in :mod:`offhours.deploy.spec`; this module holds only
the AWS calls, one :class:`_Calls` entry per resource kind in :data:`_TABLE` (apply: find,
compare, create or update; destroy: find, check the tags, delete). Apply walks the
description in order; destroy walks it backwards (with every optional part included), and
``destroy(dry=True)`` says what it would delete without deleting.

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
    state table          <fn>-state                   the function's memory (DynamoDB): TTL,
                         (or [memory] table)          point-in-time recovery; destroy keeps it
                                                      unless --delete-state
    schedule             EventBridge Scheduler (time zone) or a classic rule (UTC); a second
                         one, <fn>-digest, with [deploy] digest_schedule
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from offhours.aws_region import aws_region
from offhours.config import Config, SecretSlot
from offhours.deploy.aws_error import Where, explain_aws_error
from offhours.deploy.changes import (
    Action,
    Change,
    config_diffs,
    differs,
    document_diff,
    field_diffs,
    policy_diff,
    pretty,
    tag_diff,
    tag_line,
)
from offhours.deploy.fingerprint import DEPLOY_STATE_KEY, fingerprint, matches
from offhours.deploy.spec import (
    CONFIG_VARIABLE,
    CONTEXT_KEY,
    ENV_MARKER,
    FUNCTION_DECRYPTS,
    FUNCTION_TAG,
    MANAGED_TAG,
    SCHEDULE_GROUP,
    Description,
    Resource,
    check_references,
    describe,
    digest_name,
    fill,
    key_policy,
    schedule_zone,
)
from offhours.errors import ConfigError, OffhoursError, SecretError
from offhours.secrets import Resolver
from offhours.state import STATE_TABLE_ENV, store_kind
from offhours.transport import Deadline

__all__ = ["Change", "DeployError", "Deployment"]

log = logging.getLogger(__name__)

_DONE = {"create": "created", "update": "updated", "delete": "deleted"}

#: how long KMS waits before deleting the key destroy schedules for deletion (its minimum)
KEY_DELETION_DAYS = 7

_BOTO = BotoConfig(retries={"max_attempts": 5, "mode": "standard"})


class DeployError(OffhoursError):
    """A deploy step failed; the message says what exists and that a re-run converges."""


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _tag_list(
    tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in (tags or {}).items()]


def _absent(call: Callable[[], Any], *codes: str) -> Any:
    """The call's answer, or None when AWS answers that the thing does not exist."""
    try:
        return call()
    except ClientError as exc:
        if _code(exc) not in codes:
            raise
        return None


@dataclass
class _State:
    """What the steps learn as they go, shared with the later steps."""

    desc: Description
    #: the description's markers known so far (account, ARNs, names, versions)
    known: dict[str, str] = field(default_factory=dict)
    #: the key is offhours' own (its policy and rotation are managed here)
    own_key: bool = False
    changes: list[Change] = field(default_factory=list)
    #: the resource being worked on (what an AWS error names)
    current: Resource | None = None

    @property
    def key_arn(self) -> str:
        return self.known.get("key_arn", "")

    def policy_of(self, role: Resource) -> dict[str, Any]:
        """The inline policy the description gives ``role``, its markers filled in."""
        found = next(r for r in self.desc if r.kind == "role_policy" and r.name == role.name)
        return dict(fill(found.props["PolicyDocument"], self.known))

    def part(self, resource_id: str) -> Resource:
        """A resource applied with another one (a rule's target), its markers filled in."""
        found = self.desc[resource_id]
        return replace(found, props=fill(found.props, self.known))


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
        deadline: Deadline | None = None,
    ) -> None:
        self.config = config
        #: by when what apply waits for (a new table becoming ACTIVE) must be over
        self.deadline = deadline or Deadline.after(600)
        #: destroy also deletes the state table (``--delete-state``)
        self.delete_state = False
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
        # Checked now: a bad schedule or zone is refused before any AWS call.
        schedule_zone(config)
        self.param = f"/offhours/{self.fn}/config"
        self.key_alias = config.deploy.kms_alias()
        self._slots: dict[str, SecretSlot] = {s.ref.where: s for s in config.secret_slots()}
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

    def _state(self, *, everything: bool = False) -> _State:
        account = self.client("sts").get_caller_identity()["Account"]
        desc = describe(self.config, self.region, account=account, everything=everything)
        known = {
            "account": account,
            "function_name": self.fn,
            "alias_name": self.deploy.alias,
            "config_name": self.param,
            "group_name": SCHEDULE_GROUP,
            "rule_name": self.fn,
            "digest_rule_name": digest_name(self.fn),
        }
        return _State(desc, known)

    def _run(self, dry: bool) -> list[Change]:
        state: _State | None = None
        try:
            state = self._state()
            check_references(self.config, self.region, state.known["account"])
            if self._secrets is None:
                self.read_secrets()
            wanted = {r.id for r in state.desc}
            # Walked with every optional part: what this configuration no longer wants (the
            # other kind of schedule, an alarm without a topic) is removed where it stood.
            for res in describe(self.config, self.region, everything=True):
                state.current = res
                calls = _TABLE[res.kind]
                change: Change | None
                if res.id not in wanted:
                    if calls.prune is None:
                        if calls.unused is not None:
                            change = calls.unused(self, res)
                            if change is not None:
                                state.changes.append(change)
                        continue
                    change = self._remove(res, dry, self._pruned(res, calls.prune))
                elif calls.apply is None:
                    continue  # applied with the resource it belongs to
                else:
                    applied = calls.apply(self, state, state.part(res.id), dry)
                    change = self._retag(res, calls, applied, dry)
                if change is not None:  # None: not there, and not wanted
                    state.changes.append(change)
                    log.info("%s", change)
        except (ClientError, BotoCoreError, DeployError) as exc:
            raise self._failed(state, exc, "plan" if dry else "apply") from None
        return state.changes

    def _retag(self, res: Resource, calls: _Calls, change: Change, dry: bool) -> Change:
        """``change``, with the tags of an existing resource brought in line with [deploy]
        tags (added or changed; tags others set are kept)."""
        if (
            change.action == "create"
            or res.existing
            or not res.tags
            or calls.tags is None
            or calls.find is None
            or calls.tag is None
        ):
            return change
        found = calls.find(self, res)
        if found is None:
            return change
        current = calls.tags(self, found)
        missing = tag_diff(current, res.tags)
        if not missing or not self._is_ours(current):  # never tag what is not offhours'
            return change
        if not dry:
            calls.tag(self, found, missing)
        details = (*change.details, tag_line(current, missing))
        return replace(change, action="update", details=details)

    def _pruned(self, res: Resource, why: str) -> str:
        """Why apply removes ``res``: the kind's reason, or the digest no longer wanted."""
        digest = res.id.startswith("OffhoursDigest")
        return "digest_schedule removed" if digest and not self.deploy.digest_schedule else why

    def _failed(
        self, state: _State | None, exc: BaseException, verb: Literal["plan", "apply", "destroy"]
    ) -> DeployError:
        if isinstance(exc, ClientError | BotoCoreError):
            res = state.current if state is not None else None
            where = Where(
                f"{res.noun} {res.name}" if res is not None else "",
                state.known.get("account", "") if state is not None else "",
                self.deploy.role_arn,
            )
            cause = explain_aws_error(exc, where)
        else:
            cause = str(exc)
        if verb == "plan":
            # Plan changes nothing: there is nothing done to report.
            return DeployError(f"Could not plan: {cause}")
        changes = state.changes if state is not None else []
        done = [f"{_DONE[c.action]} {c.kind} {c.name}" for c in changes if c.action in _DONE]
        what = "; ".join(done) if done else "nothing was changed"
        return DeployError(
            f"{cause}\n{verb} of {self.fn!r} stopped there. Done before the failure: {what}.\n"
            f"Fix the cause and run `offhours deploy {verb}` again: every step checks what "
            "exists first, so a re-run converges."
        )

    def plan(self) -> list[Change]:
        return self._run(dry=True)

    def apply(self) -> list[Change]:
        return self._run(dry=False)

    # ------------------------------------------------------------------ destroy

    def destroy(self, *, dry: bool = False, delete_state: bool = False) -> list[Change]:
        """Remove what offhours created for this function, the description walked backwards;
        ``dry``: only say what would be removed; ``delete_state``: the state table too (kept
        otherwise: it holds the incident history)."""
        self.delete_state = delete_state
        state: _State | None = None
        try:
            state = self._state(everything=True)
            for res in reversed(state.desc.resources):
                state.current = res
                if _TABLE[res.kind].find is not None:
                    change = self._remove(res, dry)
                    if change is not None:  # None: not there
                        state.changes.append(change)
        except (ClientError, BotoCoreError) as exc:
            raise self._failed(state, exc, "destroy") from None
        return state.changes

    def _remove(self, res: Resource, dry: bool, why: str | None = None) -> Change | None:
        """Deletes ``res`` if it exists and carries offhours' tags for this function (None:
        there is no such resource, so nothing to say)."""
        calls = _TABLE[res.kind]
        assert calls.find is not None and calls.delete is not None
        if res.existing:
            return Change(res.noun, res.name, "unchanged", ("given in [deploy]: left alone",))
        found = calls.find(self, res)
        if found is None:
            return None
        if calls.tags is not None and not self._is_ours(calls.tags(self, found)):
            return Change(res.noun, res.name, "unchanged", ("not created by offhours: left alone",))
        kept = calls.keep(self, found) if calls.keep is not None else None
        if kept is not None:
            return Change(res.noun, res.name, "unchanged", (kept,))
        if not dry:
            calls.delete(self, res, found)
        details = (why,) if why else calls.gone
        return Change(res.noun, res.name, "delete", details)

    # ------------------------------------------------------------------ secrets

    def _local_secrets(self) -> dict[str, str]:
        """Plaintext of every secret the deployed copy stores encrypted (keyed by key path).

        env:, file:, inline and kms: references are resolved here, on the deploying machine;
        ssm: and secretsmanager: references stay references, read by the function itself.
        """
        resolver = Resolver(self.config.secret_settings(), self.environ)
        values: dict[str, str] = {}
        problems: list[str] = []
        refs = {where: slot.ref for where, slot in self._slots.items()}
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
        slot = self._slots.get(where)
        ref = slot.ref if slot is not None and slot.ref.scheme == "kms" else None
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


# ---------------------------------------------------------------------- the calls, per kind
#
# Each apply function takes the resource with its markers filled in as far as known, reads
# what exists, and changes only what differs (nothing when ``dry``).


def _find_key(d: Deployment, res: Resource) -> Any:
    return _absent(
        lambda: d.client("kms").describe_key(KeyId=res.name)["KeyMetadata"], "NotFoundException"
    )


def _key_tags(d: Deployment, meta: Mapping[str, Any]) -> dict[str, str]:
    tags = d.client("kms").list_resource_tags(KeyId=meta["KeyId"])["Tags"]
    return {t["TagKey"]: t["TagValue"] for t in tags}


def _apply_key(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    kms = d.client("kms")
    if res.existing:
        state.known["key_arn"] = kms.describe_key(KeyId=res.name)["KeyMetadata"]["Arn"]
        return Change(res.noun, f"{state.key_arn} (existing)", "unchanged")
    meta = _find_key(d, res)
    if meta is not None:
        return _existing_key(d, state, res, meta, dry)
    state.own_key = True
    if dry:
        state.known["key_arn"] = "(new key)"
        return Change(res.noun, res.name, "create", ("rotation on",))
    # The function's role does not exist yet: the key policy naming it is written later.
    policy = key_policy(account=state.known["account"], function=d.fn, role_arn="")
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != FUNCTION_DECRYPTS]
    meta = kms.create_key(
        Description=res.props["Description"],
        Policy=json.dumps(policy),
        Tags=_tag_list(res.tags, "TagKey", "TagValue"),
    )["KeyMetadata"]
    kms.create_alias(AliasName=res.name, TargetKeyId=meta["KeyId"])
    kms.enable_key_rotation(KeyId=meta["KeyId"])
    state.known["key_arn"] = meta["Arn"]
    return Change(res.noun, res.name, "create", (state.key_arn, "rotation on"))


def _existing_key(
    d: Deployment, state: _State, res: Resource, meta: Mapping[str, Any], dry: bool
) -> Change:
    tags = _key_tags(d, meta)
    owner = tags.get(FUNCTION_TAG)
    if owner is not None and owner != d.fn:
        # Shared, one deployment's destroy would lock the other out of its secrets.
        raise DeployError(
            f"the KMS key behind {res.name} ({meta['Arn']}) belongs to the offhours "
            f"deployment {owner!r}; a key is never shared between deployments. Remove "
            f"key_alias from [deploy] (the default is alias/offhours/{d.fn}) or choose "
            "an alias of its own"
        )
    if meta.get("KeyState") == "PendingDeletion":
        raise DeployError(
            f"the KMS key behind {res.name} ({meta['Arn']}) is pending deletion; "
            "cancel it (aws kms cancel-key-deletion) or choose another key_alias"
        )
    state.known["key_arn"] = meta["Arn"]
    state.own_key = d._is_ours(tags)
    if not state.own_key and d.deploy.key_alias is None:
        # Someone else's key behind our default alias keeps their key policy: whoever it
        # lets decrypt would read the function's secrets. A foreign key is used only when
        # named on purpose.
        raise DeployError(
            f"the KMS key behind the default alias {res.name} ({meta['Arn']}) was not "
            "created by offhours, so its key policy is not offhours' (only the function's "
            "role may decrypt). Delete that alias, or name the key on purpose with key_arn "
            "or key_alias in [deploy]"
        )
    if not state.own_key:
        return Change(
            res.noun,
            res.name,
            "unchanged",
            (state.key_arn, "not created by offhours: its key policy is yours to keep tight"),
        )
    kms = d.client("kms")
    if kms.get_key_rotation_status(KeyId=meta["KeyId"]).get("KeyRotationEnabled"):
        return Change(res.noun, res.name, "unchanged", (state.key_arn,))
    if not dry:
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    return Change(res.noun, res.name, "update", (state.key_arn, "rotation turned on"))


def _keep_key(d: Deployment, meta: Mapping[str, Any]) -> str | None:
    """Why destroy leaves the deployment's own key alone, if it does."""
    if meta.get("KeyState") == "PendingDeletion":
        return "already pending deletion"
    users = []
    for page in d.client("lambda").get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function.get("KMSKeyArn") == meta["Arn"] and function["FunctionName"] != d.fn:
                users.append(function["FunctionName"])
    if users:
        # Scheduling its deletion would leave them unable to decrypt their secrets.
        return (
            f"still used by {', '.join(sorted(users))}: left alone; run `offhours deploy "
            "apply` for each (they get a key of their own), then destroy again"
        )
    return None


def _delete_key(d: Deployment, res: Resource, meta: Mapping[str, Any]) -> None:
    kms = d.client("kms")
    kms.delete_alias(AliasName=res.name)
    # KMS never deletes at once: 7 days is the shortest waiting period.
    kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=KEY_DELETION_DAYS)


def _apply_key_policy(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    if not state.own_key:
        return Change(res.noun, res.name, "unchanged", ("not offhours' key",))
    desired = res.props["KeyPolicy"]
    current = None
    if not state.key_arn.startswith("("):
        text = d.client("kms").get_key_policy(KeyId=state.key_arn, PolicyName="default")
        current = _policy_doc(text["Policy"])
    if current == desired:
        return Change(res.noun, res.name, "unchanged")
    if not dry:
        _put_key_policy(d, state.key_arn, desired)
    created = any(c.kind == "kms key" and c.action == "create" for c in state.changes)
    return Change(
        res.noun,
        res.name,
        "create" if created else "update",
        ("decrypt: only the role " + state.known["role_arn"] + f" for {CONTEXT_KEY}={d.fn}",),
    )


def _put_key_policy(d: Deployment, key_arn: str, policy: Mapping[str, Any]) -> None:
    for attempt in range(6):
        try:
            d.client("kms").put_key_policy(
                KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy)
            )
            return
        except ClientError as exc:
            # KMS refuses a role IAM has not yet made visible everywhere (a new role).
            if _code(exc) != "MalformedPolicyDocumentException" or attempt == 5:
                raise
            time.sleep(2 * (attempt + 1))


def _find_parameter(d: Deployment, res: Resource) -> Any:
    return _absent(
        lambda: d.client("ssm").get_parameter(Name=res.name)["Parameter"], "ParameterNotFound"
    )


def _parameter_tags(d: Deployment, found: Mapping[str, Any]) -> dict[str, str]:
    listed = d.client("ssm").list_tags_for_resource(
        ResourceType="Parameter", ResourceId=found["Name"]
    )
    return {t["Key"]: t["Value"] for t in listed["TagList"]}


def _stored_document(found: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """The stored configuration and its version (None, "" when there is none)."""
    if found is None:
        return None, ""
    version = str(found.get("Version", ""))
    try:
        document = json.loads(found["Value"])
    except ValueError:
        return {}, version
    return (document if isinstance(document, dict) else {}), version


def _desired_document(
    d: Deployment, state: _State, res: Resource, current: Mapping[str, Any] | None, dry: bool
) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The deployed configuration: the description's, secrets as kms: references under the
    function's context — reusing the stored ciphertext (and its fingerprint) when the secret
    did not change. Also, per secret, why it is (re-)encrypted (None: unchanged)."""
    document: dict[str, Any] = json.loads(res.props["Value"])
    stored = _fingerprints(current)
    fingerprints: dict[str, Any] = {}
    reasons: dict[str, str | None] = {}
    for where, plaintext in (d._secrets or {}).items():
        slot = d._slots[where]
        old = _dig(current, slot)
        entry = stored.get(where)
        reasons[where] = d._re_encrypt_reason(where, old, entry, plaintext, state.key_arn)
        if reasons[where] is None:
            new = old
            if entry is not None:
                fingerprints[where] = entry
        elif dry or state.key_arn.startswith("("):
            new = "kms:(encrypted at apply)"
        else:
            new = d._encrypt(state, plaintext)
            fingerprints[where] = {
                "key": state.key_arn,
                "fingerprint": fingerprint(where, state.key_arn, new, plaintext),
            }
        document[slot.section][slot.index][slot.field] = new
    if fingerprints:
        document[DEPLOY_STATE_KEY] = {"fingerprints": fingerprints}
    return document, reasons


def _apply_parameter(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    current, version = _stored_document(_find_parameter(d, res))
    desired, reasons = _desired_document(d, state, res, current, dry)
    changed = [where for where, reason in reasons.items() if reason is not None]
    if current is not None and not changed and _same(current, desired):
        state.known["config_version"] = version
        return Change(res.noun, res.name, "unchanged", (f"version {version}",))
    # What happened to each secret, never its value nor its fingerprint.
    details = [
        f"secret {where} unchanged"
        if reason is None
        else f"secret {where} {'encrypted' if reason == 'new' else 're-encrypted'} with "
        f"context {CONTEXT_KEY}={d.fn} ({reason})"
        for where, reason in reasons.items()
    ]
    slots = [d._slots[where] for where in d._secrets or {}]
    if current is not None and not _same(
        before := _without_secrets(current, slots), after := _without_secrets(desired, slots)
    ):
        details.append(f"configuration changed: {', '.join(document_diff(before, after))}")
    elif current is not None and not changed:
        details.append("fingerprints of secrets no longer stored here dropped")
    # The function names the version it reads: a new one is published for it.
    state.known["config_version"] = "(next version)"
    if not dry:
        text = json.dumps(desired, sort_keys=True, separators=(",", ":"))
        ssm = d.client("ssm")
        put = ssm.put_parameter(
            Name=res.name,
            Value=text,
            Type=res.props["Type"],
            # The description's rule, on the text with its ciphertexts: Standard holds 4 KB.
            Tier="Standard" if len(text) <= 4096 else "Advanced",
            Overwrite=True,
            Description=res.props["Description"],
        )
        state.known["config_version"] = str(put["Version"])
        details.append(f"version {put['Version']}")
        ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=res.name, Tags=_tag_list(res.tags)
        )
    action: Action = "create" if current is None else "update"
    return Change(res.noun, res.name, action, tuple(details))


def _find_log_group(d: Deployment, res: Resource) -> Any:
    groups = d.client("logs").describe_log_groups(logGroupNamePrefix=res.name)["logGroups"]
    return next((g for g in groups if g["logGroupName"] == res.name), None)


def _apply_log_group(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    logs = d.client("logs")
    group = _find_log_group(d, res)
    days = res.props["RetentionInDays"]
    if group is not None and group.get("retentionInDays") == days:
        return Change(res.noun, res.name, "unchanged")
    if not dry:
        if group is None:
            logs.create_log_group(logGroupName=res.name, tags=dict(res.tags or {}))
        logs.put_retention_policy(logGroupName=res.name, retentionInDays=days)
    if group is None:
        detail = f"retention: {days} days"
    else:
        before = group.get("retentionInDays")
        detail = f"retention: {f'{before} days' if before else 'never expires'} → {days} days"
    return Change(res.noun, res.name, "create" if group is None else "update", (detail,))


def _find_role(d: Deployment, res: Resource) -> Any:
    return _absent(lambda: d.client("iam").get_role(RoleName=res.name)["Role"], "NoSuchEntity")


def _role_tags(d: Deployment, role: Mapping[str, Any]) -> dict[str, str]:
    listed = d.client("iam").list_role_tags(RoleName=role["RoleName"])["Tags"]
    return {t["Key"]: t["Value"] for t in listed}


def _apply_role(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    marker = "role_arn" if res.id == "OffhoursRole" else "scheduler_role_arn"
    if res.existing:
        state.known[marker] = res.name
        account = res.name.split(":")[4] if res.name.count(":") >= 5 else ""
        if account and account != state.known["account"]:
            # apply would fail at CreateFunction, after the key and the parameter exist
            elsewhere = (
                f"a role of account {account}, not of {state.known['account']} where the "
                "function is deployed: Lambda refuses it (iam:PassRole across accounts); "
                "leave role_arn out",
            )
            return Change(res.noun, f"{res.name} (existing)", "unchanged", elsewhere)
        return Change(res.noun, f"{res.name} (existing)", "unchanged")
    iam = d.client("iam")
    name, trust, policy = res.name, res.props["AssumeRolePolicyDocument"], state.policy_of(res)
    role = _find_role(d, res)
    if role is None:
        state.known[marker] = f"arn:aws:iam::{state.known['account']}:role/{name}"
        if not dry:
            state.known[marker] = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=res.props["Description"],
                Tags=_tag_list(res.tags),
            )["Role"]["Arn"]
            iam.put_role_policy(
                RoleName=name, PolicyName="offhours", PolicyDocument=json.dumps(policy)
            )
            # A new role takes a few seconds before Lambda may assume it (IAM is eventually
            # consistent); the waiter only proves it exists.
            iam.get_waiter("role_exists").wait(RoleName=name)
        # As terraform plan does: the whole permission document on creation.
        return Change(res.noun, name, "create", ("permissions:", *pretty(policy)))
    if not d._is_ours(_role_tags(d, role)):
        raise DeployError(
            f"the IAM role {name} exists but was not created by offhours for {d.fn!r}; "
            "set [deploy] role_arn to use it as it is, or remove it, or choose another "
            "function_name"
        )
    state.known[marker] = role["Arn"]
    details = []
    current_trust = _policy_doc(role.get("AssumeRolePolicyDocument"))
    if current_trust != trust:
        details.extend(policy_diff("trust policy changed", current_trust, trust))
        if not dry:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    found = _absent(
        lambda: iam.get_role_policy(RoleName=name, PolicyName="offhours"), "NoSuchEntity"
    )
    current = _policy_doc(found["PolicyDocument"]) if found else None
    if current != policy:
        details.extend(policy_diff("permissions changed", current, policy))
        if not dry:
            iam.put_role_policy(
                RoleName=name, PolicyName="offhours", PolicyDocument=json.dumps(policy)
            )
    return Change(res.noun, name, "update" if details else "unchanged", tuple(details))


def _delete_role(d: Deployment, res: Resource, role: Mapping[str, Any]) -> None:
    iam = d.client("iam")
    for policy in iam.list_role_policies(RoleName=res.name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=res.name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=res.name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=res.name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=res.name)


def _find_function(d: Deployment, res: Resource) -> Any:
    return _absent(
        lambda: d.client("lambda").get_function(FunctionName=res.name)["Configuration"],
        "ResourceNotFoundException",
    )


def _function_tags(d: Deployment, found: Mapping[str, Any]) -> dict[str, str]:
    return dict(d.client("lambda").list_tags(Resource=found["FunctionArn"]).get("Tags", {}))


def _function_config(res: Resource, current_env: Mapping[str, str]) -> dict[str, Any]:
    """What update_function_configuration takes, from the description."""
    p = res.props
    wanted = p["Environment"]["Variables"]
    # Variables set by someone else are kept; those offhours set before (named by the
    # marker) and no longer in [deploy.environment] are removed.
    before = {n for n in current_env.get(ENV_MARKER, "").split(",") if n}
    kept = {
        k: v
        for k, v in current_env.items()
        if k not in before and k not in (ENV_MARKER, CONFIG_VARIABLE, STATE_TABLE_ENV)
    }
    config = {k: p[k] for k in ("Role", "KMSKeyArn", "Handler", "Description", "Timeout")}
    config["MemorySize"] = p["MemorySize"]
    config["Runtime"] = p["Runtime"]
    config["Environment"] = {"Variables": {**kept, **wanted}}
    config["TracingConfig"] = p["TracingConfig"]
    config["VpcConfig"] = p.get("VpcConfig", {"SubnetIds": [], "SecurityGroupIds": []})
    return config


def _apply_function(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    lam = d.client("lambda")
    if d.code is None:
        raise ConfigError("no package to deploy; build one with `offhours deploy package`")
    architectures = res.props["Architectures"]
    current = _find_function(d, res)
    if current is None:
        state.known["function_arn"] = (
            f"arn:aws:lambda:{d.region}:{state.known['account']}:function:{d.fn}"
        )
        if not dry:
            state.known["function_arn"] = _create_function(d, res)["FunctionArn"]
        return Change(
            res.noun,
            res.name,
            "create",
            (f"{len(d.code):,} bytes, {res.props['Runtime']}, {architectures[0]}",),
        )
    state.known["function_arn"] = current["FunctionArn"]
    if not d._is_ours(_function_tags(d, current)):
        raise DeployError(
            f"a Lambda function {d.fn!r} exists but was not created by offhours; "
            "choose another [deploy] function_name or remove it"
        )
    details = []
    sha = _sha256(d.code)
    if current.get("CodeSha256") != sha:
        details.append(f"code: CodeSha256 {current.get('CodeSha256')} → {sha}")
    if current.get("Architectures", ["x86_64"]) != architectures:
        old = ", ".join(current.get("Architectures", ["x86_64"]))
        details.append(f"architecture {old} → {architectures[0]}")
    if details and not dry:
        _wait(d, res.name)
        lam.update_function_code(FunctionName=res.name, ZipFile=d.code, Architectures=architectures)
    desired = _function_config(res, current.get("Environment", {}).get("Variables", {}))
    diffs = config_diffs(current, desired, shown_variable=CONFIG_VARIABLE)
    if diffs:
        details.extend(diffs)
        if not dry:
            _wait(d, res.name)
            lam.update_function_configuration(FunctionName=res.name, **desired)
    if details and not dry:
        _wait(d, res.name)
    return Change(res.noun, res.name, "update" if details else "unchanged", tuple(details))


def _create_function(d: Deployment, res: Resource) -> dict[str, Any]:
    kwargs = {
        "FunctionName": res.name,
        "Code": {"ZipFile": d.code},
        "Architectures": res.props["Architectures"],
        "Tags": dict(res.tags or {}),
        "Publish": False,
        **_function_config(res, {}),
    }
    for attempt in range(6):
        try:
            created: dict[str, Any] = d.client("lambda").create_function(**kwargs)
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
    _wait(d, res.name, active=True)
    return created


def _wait(d: Deployment, name: str, *, active: bool = False) -> None:
    """Wait out an update in progress, else the next call fails with a conflict."""
    waiter = "function_active_v2" if active else "function_updated_v2"
    d.client("lambda").get_waiter(waiter).wait(
        FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
    )


def _apply_alias(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    lam = d.client("lambda")
    name, description = res.props["Name"], res.props["Description"]
    version = None
    if not dry:
        # Publishing unchanged code and configuration returns the latest version as is.
        version = lam.publish_version(FunctionName=d.fn)["Version"]
    alias = _absent(
        lambda: lam.get_alias(FunctionName=d.fn, Name=name), "ResourceNotFoundException"
    )
    state.known["alias_arn"] = f"{state.known['function_arn']}:{name}"
    if alias is None:
        if not dry:
            lam.create_alias(
                FunctionName=d.fn, Name=name, FunctionVersion=version, Description=description
            )
        return Change(res.noun, name, "create", (f"→ version {version or '(new)'}",))
    if dry:
        changed = any(
            c.kind == "lambda function" and c.action != "unchanged" for c in state.changes
        )
        if changed or alias.get("Description", "") != description:
            return Change(res.noun, name, "update", ("→ a new version",))
        return Change(res.noun, name, "unchanged", (f"version {alias['FunctionVersion']}",))
    if alias["FunctionVersion"] == version and alias.get("Description", "") == description:
        return Change(res.noun, name, "unchanged", (f"version {version}",))
    lam.update_alias(FunctionName=d.fn, Name=name, FunctionVersion=version, Description=description)
    return Change(res.noun, name, "update", (f"version {alias['FunctionVersion']} → {version}",))


def _apply_invoke_config(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    lam = d.client("lambda")
    qualifier = res.props["Qualifier"]
    desired = {k: v for k, v in res.props.items() if k not in ("FunctionName", "Qualifier")}
    found = _absent(
        lambda: lam.get_function_event_invoke_config(FunctionName=d.fn, Qualifier=qualifier),
        "ResourceNotFoundException",
    )
    details = (
        f"retries 0, events older than {desired['MaximumEventAgeInSeconds']} s dropped",
        f"on failure → {d.deploy.on_failure or 'Errors metric only'}",
    )
    if found is not None and _invoke_settings(found) == desired:
        return Change(res.noun, res.name, "unchanged", details)
    if not dry:
        if found is not None:
            # Deleted first so nothing of the old settings survives (moto's put merges).
            lam.delete_function_event_invoke_config(FunctionName=d.fn, Qualifier=qualifier)
        lam.put_function_event_invoke_config(FunctionName=d.fn, Qualifier=qualifier, **desired)
    return Change(res.noun, res.name, "create" if found is None else "update", details)


def _find_alarm(d: Deployment, res: Resource) -> Any:
    found = d.client("cloudwatch").describe_alarms(AlarmNames=[res.name])["MetricAlarms"]
    return found[0] if found else None


def _alarm_tags(d: Deployment, alarm: Mapping[str, Any]) -> dict[str, str]:
    listed = d.client("cloudwatch").list_tags_for_resource(ResourceARN=alarm["AlarmArn"])
    return {t["Key"]: t["Value"] for t in listed["Tags"]}


def _apply_alarm(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    current = _find_alarm(d, res)
    if current is not None and not d._is_ours(_alarm_tags(d, current)):
        raise DeployError(
            f"a CloudWatch alarm {res.name!r} exists but was not created by "
            "offhours; rename or remove it, or choose another function_name"
        )
    detail = f"Errors ≥ 1 in 5 minutes → {res.props['AlarmActions'][0]}"
    if current is not None and not differs(res.props, current):
        return Change(res.noun, res.name, "unchanged", (detail,))
    if not dry:
        d.client("cloudwatch").put_metric_alarm(**res.props, Tags=_tag_list(res.tags))
    return Change(res.noun, res.name, "create" if current is None else "update", (detail,))


def _find_schedule(d: Deployment, res: Resource) -> Any:
    group, name = res.name.split("/", 1)
    return _absent(
        lambda: d.client("scheduler").get_schedule(Name=name, GroupName=group),
        "ResourceNotFoundException",
    )


def _apply_schedule(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    sched = d.client("scheduler")
    group_res = state.part("OffhoursScheduleGroup")
    group = _absent(
        lambda: sched.get_schedule_group(Name=group_res.name), "ResourceNotFoundException"
    )
    if group is None and not dry:
        sched.create_schedule_group(
            Name=group_res.name,
            Tags=_tag_list(group_res.tags),
        )
    desired = {k: v for k, v in res.props.items() if k not in ("Name", "GroupName")}
    current = _find_schedule(d, res) if group else None
    detail = f"{desired['ScheduleExpression']} in {desired['ScheduleExpressionTimezone']}"
    if current is None:
        if not dry:
            sched.create_schedule(Name=res.props["Name"], GroupName=group_res.name, **desired)
        return Change(res.noun, res.name, "create", (detail,))
    diffs = field_diffs(current, desired, _SCHEDULE_FIELDS)
    if not diffs:
        return Change(res.noun, res.name, "unchanged", (detail,))
    if not dry:
        sched.update_schedule(Name=res.props["Name"], GroupName=group_res.name, **desired)
    return Change(res.noun, res.name, "update", tuple(diffs))


#: a Scheduler schedule's settings, as plan names them
_SCHEDULE_FIELDS = {
    "ScheduleExpression": "schedule",
    "ScheduleExpressionTimezone": "time zone",
    "Description": "description",
    "State": "state",
    "Target": "target",
    "FlexibleTimeWindow": "flexible time window",
}


def _delete_schedule(d: Deployment, res: Resource, found: Mapping[str, Any]) -> None:
    group, name = res.name.split("/", 1)
    d.client("scheduler").delete_schedule(Name=name, GroupName=group)


def _find_rule(d: Deployment, res: Resource) -> Any:
    return _absent(
        lambda: d.client("events").describe_rule(Name=res.name), "ResourceNotFoundException"
    )


def _rule_tags(d: Deployment, rule: Mapping[str, Any]) -> dict[str, str]:
    listed = d.client("events").list_tags_for_resource(ResourceARN=rule["Arn"])
    return {t["Key"]: t["Value"] for t in listed["Tags"]}


def _apply_rule(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    events = d.client("events")
    current = _find_rule(d, res)
    expression = res.props["ScheduleExpression"]
    details: tuple[str, ...] = (f"{expression} in UTC (a classic rule has no time zone)",)
    # The audit's rule (OffhoursRule…) or the digest's (OffhoursDigestRule…).
    target = {k: v for k, v in state.part(f"{res.id}Target").props.items() if k != "Rule"}
    action: Action = "create" if current is None else "unchanged"
    if current is not None:
        targets = events.list_targets_by_rule(Rule=res.name)["Targets"]
        changed = []
        if current.get("ScheduleExpression") != expression:
            changed.append(f"schedule {current.get('ScheduleExpression')} → {expression} (UTC)")
        if len(targets) != 1 or differs(target, targets[0]):
            changed.append("target changed")
        if changed:
            action, details = "update", tuple(changed)
    if action != "unchanged" and not dry:
        rule_arn = events.put_rule(**res.props, Tags=_tag_list(res.tags))["RuleArn"]
        state.known["digest_rule_arn" if "Digest" in res.id else "rule_arn"] = rule_arn
        events.put_targets(Rule=res.name, Targets=[target])
        permission = state.part(f"{res.id}Permission").props
        try:
            d.client("lambda").add_permission(**permission)
        except ClientError as exc:
            if _code(exc) != "ResourceConflictException":
                raise
    return Change(res.noun, res.name, action, details)


def _delete_rule(d: Deployment, res: Resource, found: Mapping[str, Any]) -> None:
    events = d.client("events")
    targets = events.list_targets_by_rule(Rule=res.name)["Targets"]
    if targets:
        events.remove_targets(Rule=res.name, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=res.name)


def _find_table(d: Deployment, res: Resource) -> Any:
    return _absent(
        lambda: d.client("dynamodb").describe_table(TableName=res.name)["Table"],
        "ResourceNotFoundException",
    )


def _table_tags(d: Deployment, table: Mapping[str, Any]) -> dict[str, str]:
    listed = d.client("dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"])
    return {t["Key"]: t["Value"] for t in listed.get("Tags", [])}


def _keys(schema: Any) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in schema or [])


def _layout(table: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a state table's items depend on: its keys and its indexes' keys."""
    indexes = sorted(
        (i["IndexName"], tuple(_keys(i["KeySchema"])))
        for i in table.get("GlobalSecondaryIndexes") or []
    )
    return tuple(_keys(table["KeySchema"])), tuple(indexes)


def _table_settings(d: Deployment, name: str, attribute: str) -> tuple[bool, bool]:
    """Whether TTL is on for ``attribute``, and whether point-in-time recovery is on."""
    ddb = d.client("dynamodb")
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    recovery = backups.get("PointInTimeRecoveryDescription", {})
    return (
        ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        and ttl.get("AttributeName") == attribute,
        recovery.get("PointInTimeRecoveryStatus") == "ENABLED",
    )


def _wait_table(d: Deployment, name: str) -> None:
    """Wait until the table is ACTIVE (TTL and backups refuse a table still being made)."""
    delay = 2
    attempts = max(1, int(min(d.deadline.remaining(), 900) // delay))
    try:
        d.client("dynamodb").get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
        )
    except WaiterError:
        raise DeployError(
            f"the DynamoDB table {name} did not become ACTIVE before the deploy's deadline; "
            "it is still being created: run `offhours deploy apply` again in a minute"
        ) from None


_AFTER_CREATE = ("TimeToLiveSpecification", "PointInTimeRecoverySpecification")


def _apply_table(d: Deployment, state: _State, res: Resource, dry: bool) -> Change:
    ddb = d.client("dynamodb")
    p = res.props
    ttl, recovery = (p[k] for k in _AFTER_CREATE)
    index = p["GlobalSecondaryIndexes"][0]["IndexName"]
    summary = (
        f"on demand, encrypted, index {index}",
        f"TTL on {ttl['AttributeName']}, point-in-time recovery on",
    )
    current = _find_table(d, res)
    if current is None:
        if not dry:
            create = {k: v for k, v in p.items() if k not in _AFTER_CREATE}
            ddb.create_table(**create, Tags=_tag_list(res.tags))
            _wait_table(d, res.name)
            ddb.update_time_to_live(TableName=res.name, TimeToLiveSpecification=ttl)
            ddb.update_continuous_backups(
                TableName=res.name, PointInTimeRecoverySpecification=recovery
            )
        return Change(res.noun, res.name, "create", summary)
    tags = _table_tags(d, current)
    if not d._is_ours(tags):
        raise DeployError(
            f"a DynamoDB table {res.name!r} exists but was not created by offhours for "
            f"{d.fn!r}, so it is left alone; set [memory] table to another name, or remove "
            "that table"
        )
    if _layout(current) != _layout(p):
        raise DeployError(
            f"the DynamoDB table {res.name!r} carries offhours' tags but not the key layout "
            f"of this version's state (keys pk/sk, index {index}): another version of "
            "offhours made it, or it was changed by hand. Keep what it holds (`offhours "
            "state export --deployment`), then remove it (`offhours deploy destroy "
            "--delete-state`) or set [memory] table to a new name, and apply again"
        )
    if current.get("TableStatus") != "ACTIVE" and not dry:
        _wait_table(d, res.name)
    ttl_on, recovery_on = _table_settings(d, res.name, ttl["AttributeName"])
    details: list[str] = []
    if not ttl_on:
        details.append(f"TTL turned on for {ttl['AttributeName']}")
        if not dry:
            ddb.update_time_to_live(TableName=res.name, TimeToLiveSpecification=ttl)
    if not recovery_on:
        details.append("point-in-time recovery turned on")
        if not dry:
            ddb.update_continuous_backups(
                TableName=res.name, PointInTimeRecoverySpecification=recovery
            )
    if not details:
        return Change(res.noun, res.name, "unchanged", summary)
    return Change(res.noun, res.name, "update", tuple(details))


def _keep_table(d: Deployment, table: Mapping[str, Any]) -> str | None:
    if d.delete_state:
        return None
    return (
        f"kept: state table {table['TableName']} holds incident history; "
        "offhours deploy destroy --delete-state removes it"
    )


def _unused_table(d: Deployment, res: Resource) -> Change | None:
    """What plan says of a table left from before when the deployed function keeps no memory
    in one (nothing when there is none)."""
    if _find_table(d, res) is None:
        return None
    kind = store_kind(d.config, on_lambda=True)
    if kind == "off":
        why = '[memory] store = "off": the function keeps no memory, every run tells everything'
    else:
        why = (
            f'[memory] store = "{kind}": a Lambda function keeps no SQLite file between runs, '
            'so the deployed function keeps no memory; use "auto" or "dynamodb" for its table'
        )
    return Change(res.noun, res.name, "unchanged", (why, "an existing table is left as it is"))


@dataclass(frozen=True)
class _Calls:
    """The AWS calls of one kind of resource."""

    #: read what exists, change what differs; None: applied with the resource it belongs to
    apply: Callable[[Deployment, _State, Resource, bool], Change] | None = None
    #: what exists of it, or None; None here: removed with the resource it belongs to
    find: Callable[[Deployment, Resource], Any] | None = None
    #: its tags (None: it carries none, and lives in offhours' own group)
    tags: Callable[[Deployment, Any], dict[str, str]] | None = None
    delete: Callable[[Deployment, Resource, Any], None] | None = None
    #: why destroy leaves one of offhours' own alone, if it does
    keep: Callable[[Deployment, Any], str | None] | None = None
    #: what a delete says
    gone: tuple[str, ...] = ()
    #: apply removes it when the configuration no longer wants it, saying why
    prune: str | None = None
    #: what plan says when the configuration no longer wants it and apply keeps it
    unused: Callable[[Deployment, Resource], Change | None] | None = None
    #: adds or changes tags on what ``find`` found
    tag: Callable[[Deployment, Any, Mapping[str, str]], None] | None = None


_TABLE: dict[str, _Calls] = {
    "key": _Calls(
        _apply_key,
        _find_key,
        _key_tags,
        _delete_key,
        _keep_key,
        (f"deletion scheduled: KMS deletes it after {KEY_DELETION_DAYS} days",),
        tag=lambda d, meta, tags: d.client("kms").tag_resource(
            KeyId=meta["KeyId"], Tags=_tag_list(tags, "TagKey", "TagValue")
        ),
    ),
    "key_alias": _Calls(),  # created with the key, deleted with it
    "key_policy": _Calls(_apply_key_policy),
    "parameter": _Calls(
        _apply_parameter,
        _find_parameter,
        _parameter_tags,
        lambda d, res, found: d.client("ssm").delete_parameter(Name=res.name),
        tag=lambda d, found, tags: d.client("ssm").add_tags_to_resource(
            ResourceType="Parameter", ResourceId=found["Name"], Tags=_tag_list(tags)
        ),
    ),
    "log_group": _Calls(
        _apply_log_group,
        _find_log_group,
        lambda d, group: dict(
            d.client("logs").list_tags_log_group(logGroupName=group["logGroupName"]).get("tags", {})
        ),
        lambda d, res, found: d.client("logs").delete_log_group(logGroupName=res.name),
        tag=lambda d, group, tags: d.client("logs").tag_log_group(
            logGroupName=group["logGroupName"], tags=dict(tags)
        ),
    ),
    "role": _Calls(
        _apply_role,
        _find_role,
        _role_tags,
        _delete_role,
        tag=lambda d, role, tags: d.client("iam").tag_role(
            RoleName=role["RoleName"], Tags=_tag_list(tags)
        ),
    ),
    "role_policy": _Calls(),  # written with its role
    "function": _Calls(
        _apply_function,
        _find_function,
        _function_tags,
        lambda d, res, found: d.client("lambda").delete_function(FunctionName=res.name),
        gone=("with its versions and aliases",),
        tag=lambda d, found, tags: d.client("lambda").tag_resource(
            Resource=found["FunctionArn"], Tags=dict(tags)
        ),
    ),
    "alias": _Calls(_apply_alias),  # deleted with the function
    "invoke_config": _Calls(_apply_invoke_config),  # deleted with the function
    "alarm": _Calls(
        _apply_alarm,
        _find_alarm,
        _alarm_tags,
        lambda d, res, found: d.client("cloudwatch").delete_alarms(AlarmNames=[res.name]),
        prune="alarm_topic removed",
        tag=lambda d, alarm, tags: d.client("cloudwatch").tag_resource(
            ResourceARN=alarm["AlarmArn"], Tags=_tag_list(tags)
        ),
    ),
    # Shared by every offhours function of the account: created by the first, never deleted.
    "schedule_group": _Calls(),
    # Scheduler's schedules carry no tags; offhours' group and the function's name are its.
    "schedule": _Calls(
        _apply_schedule,
        _find_schedule,
        None,
        _delete_schedule,
        prune="replaced by a classic rule",
    ),
    "rule": _Calls(
        _apply_rule,
        _find_rule,
        _rule_tags,
        _delete_rule,
        prune="replaced by a Scheduler schedule",
        tag=lambda d, rule, tags: d.client("events").tag_resource(
            ResourceARN=rule["Arn"], Tags=_tag_list(tags)
        ),
    ),
    "rule_target": _Calls(),  # put with the rule, removed with it
    "permission": _Calls(),  # added with the rule, removed with the function
    # Never removed by apply: it holds the incident history (destroy --delete-state does).
    "state_table": _Calls(
        _apply_table,
        _find_table,
        _table_tags,
        lambda d, res, found: d.client("dynamodb").delete_table(TableName=res.name),
        keep=_keep_table,
        gone=("with its incident history",),
        unused=_unused_table,
        tag=lambda d, table, tags: d.client("dynamodb").tag_resource(
            ResourceArn=table["TableArn"], Tags=_tag_list(tags)
        ),
    ),
}


def _dig(document: Mapping[str, Any] | None, slot: SecretSlot) -> object:
    try:
        return document[slot.section][slot.index][slot.field]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _fingerprints(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The fingerprints a deployed configuration holds (none in one written before them)."""
    state = (document or {}).get(DEPLOY_STATE_KEY)
    found = state.get("fingerprints") if isinstance(state, dict) else None
    return found if isinstance(found, dict) else {}


def _without_secrets(document: Mapping[str, Any], slots: list[SecretSlot]) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    copy.pop(DEPLOY_STATE_KEY, None)
    for slot in slots:
        if _dig(copy, slot) is not None:
            copy[slot.section][slot.index][slot.field] = "<secret>"
    return dict(copy)


def _policy_doc(value: object) -> object:
    # IAM returns policy documents URL-decoded as dicts through boto3, or as JSON text.
    if isinstance(value, str):
        from urllib.parse import unquote

        return json.loads(unquote(value))
    return value


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
