"""AWS secret stores behind ``kms:``, ``ssm:`` and ``secretsmanager:`` references.

boto3 errors are translated here into :class:`SecretError` messages that name the cause and the
fix, never the value or the ciphertext. boto3 honours ``AWS_ENDPOINT_URL`` (and the per-service
``AWS_ENDPOINT_URL_KMS`` …), which is how tests point it at a local moto server.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from offhours.errors import SecretError
from offhours.transport import Deadline

__all__ = ["IAM_ACTIONS", "AwsSecretStore", "boto_config", "encrypt", "explain"]

#: the IAM action each scheme needs on its key, parameter or secret
IAM_ACTIONS = {
    "kms": "kms:Decrypt",
    "ssm": "ssm:GetParameter",
    "secretsmanager": "secretsmanager:GetSecretValue",
}

# Per call: a short connect and read and one retry; the run's deadline caps them further, so a
# hung AWS endpoint cannot hold a run past its deadline (3 + 5 s, twice, at most).
_CONNECT, _READ, _ATTEMPTS = 3.0, 5.0, 2


def boto_config(deadline: Deadline | None = None) -> BotoConfig:
    """botocore settings for offhours' own AWS calls, within what is left of ``deadline``."""
    left = deadline.remaining() if deadline is not None else math.inf
    return BotoConfig(
        connect_timeout=max(0.5, min(_CONNECT, left)),
        read_timeout=max(0.5, min(_READ, left)),
        retries={"total_max_attempts": _ATTEMPTS, "mode": "standard"},
    )


_FIXES = {
    "AccessDeniedException": "grant {action} on it to the caller's IAM role or user",
    "AccessDenied": "grant {action} on it to the caller's IAM role or user",
    "InvalidCiphertextException": (
        "the ciphertext is damaged, was made by another key, or was encrypted with a different "
        "encryption context than [secrets.kms] context ({context}); re-encrypt it with "
        "`offhours secrets encrypt`"
    ),
    "IncorrectKeyException": "the ciphertext was made by another KMS key; re-encrypt it",
    "NotFoundException": "the KMS key does not exist in this account and region",
    "DisabledException": "the KMS key is disabled; enable it (kms:EnableKey) or re-encrypt",
    "KMSInvalidStateException": (
        "the KMS key is not usable (pending deletion or import); cancel the deletion or re-encrypt"
    ),
    "ParameterNotFound": "no such parameter in this account and region; check the name",
    "ParameterVersionNotFound": "no such parameter version",
    "ResourceNotFoundException": "no such secret in this account and region; check the name",
    "DecryptionFailure": "Secrets Manager could not decrypt it with its KMS key",
    "InvalidRequestException": "the secret cannot be read now (marked for deletion?)",
    "UnrecognizedClientException": "the AWS credentials are not valid in this account",
    "InvalidClientTokenId": "the AWS credentials are not valid in this account",
    "ExpiredTokenException": "the AWS credentials have expired; refresh them",
}


def explain(exc: BaseException, action: str, context: Mapping[str, str]) -> str:
    """What went wrong calling AWS and how to fix it; never echoes request parameters."""
    if isinstance(exc, NoRegionError):
        return "no AWS region; set [secrets] region or AWS_REGION"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where an IAM role applies"
        )
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS ({exc}); check the network and region"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code not in _FIXES and status == 403:
            # An IAM refusal whose body botocore could not parse still means "not allowed".
            code = "AccessDenied"
        fix = _FIXES.get(code)
        if fix is None:
            message = str(exc.response.get("Error", {}).get("Message", ""))[:200]
            return f"{code}: {message}" if message else code
        ctx = json.dumps(dict(context)) if context else "none"
        return f"{code}: " + fix.format(action=action, context=ctx)
    return f"{type(exc).__name__}: {exc}"


class AwsSecretStore:
    """One boto3 session per run; a client per service, made on first use."""

    def __init__(
        self,
        *,
        region: str | None = None,
        kms_context: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        from offhours.aws_region import aws_region

        self.kms_context = dict(kms_context or {})
        self.deadline = deadline
        # AWS_REGION first, then AWS_DEFAULT_REGION, then the profile (botocore alone skips
        # AWS_REGION).
        self._session = boto3.session.Session(region_name=aws_region(region, environ))
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, config=boto_config(self.deadline)
            )
        return self._clients[service]

    def fetch(self, scheme: str, target: str) -> str:
        fetcher = {"kms": self._kms, "ssm": self._ssm, "secretsmanager": self._secretsmanager}
        if self.deadline is not None and self.deadline.passed:
            raise SecretError("not read: the run's deadline passed before it could be")
        try:
            return fetcher[scheme](target)
        except (ClientError, BotoCoreError) as exc:
            # Not chained: botocore messages can echo request parameters.
            reason = explain(exc, IAM_ACTIONS[scheme], self.kms_context)
            if self.deadline is not None and self.deadline.passed:
                reason = f"the run's deadline passed while reading it ({reason})"
            raise SecretError(reason) from None

    def _kms(self, target: str) -> str:
        try:
            blob = base64.b64decode(target, validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(
                "is not base64 ciphertext; paste the CiphertextBlob from `offhours secrets "
                "encrypt` or `aws kms encrypt`"
            ) from None
        kwargs: dict[str, Any] = {"CiphertextBlob": blob}
        if self.kms_context:
            kwargs["EncryptionContext"] = self.kms_context
        plaintext = self.client("kms").decrypt(**kwargs)["Plaintext"]
        try:
            return str(plaintext.decode("utf-8"))
        except UnicodeDecodeError:
            raise SecretError("decrypts to bytes that are not UTF-8 text") from None

    def _ssm(self, target: str) -> str:
        answer = self.client("ssm").get_parameter(Name=target, WithDecryption=True)
        return str(answer["Parameter"]["Value"])

    def _secretsmanager(self, target: str) -> str:
        secret_id, _, key = target.partition("#")
        answer = self.client("secretsmanager").get_secret_value(SecretId=secret_id)
        text = answer.get("SecretString")
        if text is None:
            try:
                text = bytes(answer["SecretBinary"]).decode("utf-8")
            except (KeyError, UnicodeDecodeError):
                raise SecretError("the secret holds binary data that is not UTF-8 text") from None
        if not key:
            return str(text)
        try:
            document = json.loads(text)
        except ValueError:
            raise SecretError(f"#{key} asks for a JSON key, but the secret is not JSON") from None
        if not isinstance(document, dict) or key not in document:
            known = ", ".join(sorted(document)) if isinstance(document, dict) else "none"
            raise SecretError(f"the secret's JSON has no key {key!r} (keys: {known})")
        value = document[key]
        return value if isinstance(value, str) else json.dumps(value)


def encrypt(
    plaintext: str,
    *,
    key: str,
    context: Mapping[str, str] | None = None,
    region: str | None = None,
) -> str:
    """A ready ``kms:`` reference for ``plaintext`` under ``key`` (id, ARN or alias/NAME)."""
    if not plaintext:
        raise SecretError("nothing to encrypt: the input is empty")
    data = plaintext.encode("utf-8")
    if len(data) > 4096:
        raise SecretError(f"KMS encrypts at most 4,096 bytes; the input has {len(data):,}")
    store = AwsSecretStore(region=region, kms_context=context)
    kwargs: dict[str, Any] = {"KeyId": key, "Plaintext": data}
    if context:
        kwargs["EncryptionContext"] = dict(context)
    try:
        blob = store.client("kms").encrypt(**kwargs)["CiphertextBlob"]
    except (ClientError, BotoCoreError) as exc:
        raise SecretError(f"kms encrypt with {key}: {explain(exc, 'kms:Encrypt', {})}") from None
    return "kms:" + base64.b64encode(blob).decode("ascii")
