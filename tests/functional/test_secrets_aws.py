"""kms:, ssm: and secretsmanager: references against moto's server mode on loopback."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from offhours.errors import SecretError
from offhours.notifiers.slack import SlackNotifier
from offhours.secrets import Resolver, SecretRef, SecretSettings
from offhours.secrets.aws import encrypt
from tests.aws import Aws, enforce_iam, moto_subprocess

SENTINEL = "sentinel-aws-secret-5b7e21c9"
LAMBDA_CONTEXT = {"LambdaFunctionName": "$AWS_LAMBDA_FUNCTION_NAME"}


def kms_key(aws: Aws, alias: str = "alias/offhours") -> str:
    kms = aws.client("kms")
    key_id: str = kms.create_key(Description="offhours test")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def seed_style_ciphertext(aws: Aws, plaintext: str, **context: str) -> str:
    """What `aws kms encrypt --key-id alias/… --plaintext …` gives: base64 CiphertextBlob."""
    kwargs: dict[str, Any] = {"KeyId": "alias/offhours", "Plaintext": plaintext.encode()}
    if context:
        kwargs["EncryptionContext"] = context
    blob = aws.client("kms").encrypt(**kwargs)["CiphertextBlob"]
    return base64.b64encode(blob).decode()


def resolve(text: str, settings: SecretSettings | None = None, **environ: str) -> str:
    env = {**os.environ, **environ}
    ref = SecretRef.parse(text, "sources[0].password")
    return Resolver(settings, env).resolve(ref).reveal()


def fails(text: str, settings: SecretSettings | None = None, **environ: str) -> str:
    with pytest.raises(SecretError) as info:
        resolve(text, settings, **environ)
    message = str(info.value)
    assert message.startswith("sources[0].password: ")
    assert SENTINEL not in message
    assert text.partition(":")[2][:40] not in message or not text.startswith("kms:")
    return message


def test_seed_ciphertext_without_context_decrypts(aws: Aws) -> None:
    kms_key(aws)
    assert resolve("kms:" + seed_style_ciphertext(aws, SENTINEL)) == SENTINEL


def test_lambda_console_context_convention(aws: Aws) -> None:
    kms_key(aws)
    blob = seed_style_ciphertext(aws, SENTINEL, LambdaFunctionName="offhours-audit")
    settings = SecretSettings(kms_context=LAMBDA_CONTEXT)
    value = resolve("kms:" + blob, settings, AWS_LAMBDA_FUNCTION_NAME="offhours-audit")
    assert value == SENTINEL


def test_wrong_context_is_invalid_ciphertext_and_never_falls_back(aws: Aws) -> None:
    kms_key(aws)
    blob = seed_style_ciphertext(aws, SENTINEL, LambdaFunctionName="offhours-audit")
    settings = SecretSettings(kms_context=LAMBDA_CONTEXT)
    message = fails("kms:" + blob, settings, AWS_LAMBDA_FUNCTION_NAME="another-function")
    assert "InvalidCiphertextException" in message
    assert '"LambdaFunctionName": "another-function"' in message
    assert blob[:20] not in message
    # Without the context that was used, it fails too.
    assert "InvalidCiphertextException" in fails("kms:" + blob)


def test_missing_context_variable_is_named(aws: Aws) -> None:
    kms_key(aws)
    blob = seed_style_ciphertext(aws, SENTINEL)
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    ref = SecretRef.parse("kms:" + blob, "notifiers[0].webhook_url")
    with pytest.raises(SecretError, match=r"AWS_LAMBDA_FUNCTION_NAME is not set"):
        Resolver(SecretSettings(kms_context=LAMBDA_CONTEXT), env).resolve(ref)


@pytest.mark.parametrize(
    ("ciphertext", "expected"),
    [
        (base64.b64encode(os.urandom(180)).decode(), "InvalidCiphertextException"),
        ("not base64 at all!", "is not base64 ciphertext"),
    ],
)
def test_garbage_ciphertext(aws: Aws, ciphertext: str, expected: str) -> None:
    kms_key(aws)
    assert expected in fails("kms:" + ciphertext)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # moto does not refuse a disabled or pending-deletion key, so these map AWS's answers.
        ("DisabledException", "the KMS key is disabled; enable it"),
        ("KMSInvalidStateException", "pending deletion"),
        ("IncorrectKeyException", "made by another KMS key"),
        ("AccessDeniedException", "grant kms:Decrypt"),
        ("SomethingNew", "SomethingNew: the message"),
    ],
)
def test_kms_error_codes_are_explained(code: str, expected: str) -> None:
    from botocore.exceptions import ClientError

    from offhours.secrets.aws import explain

    error = ClientError({"Error": {"Code": code, "Message": "the message"}}, "Decrypt")
    assert expected in explain(error, "kms:Decrypt", {})


def test_ssm_securestring_round_trip_and_missing_parameter(aws: Aws) -> None:
    aws.client("ssm").put_parameter(
        Name="/offhours/ravello/password", Value=SENTINEL, Type="SecureString"
    )
    assert resolve("ssm:/offhours/ravello/password") == SENTINEL
    message = fails("ssm:/offhours/ravello/pasword")
    assert "ParameterNotFound" in message
    assert "ssm:/offhours/ravello/pasword" in message


def test_secretsmanager_plain_json_key_and_failures(aws: Aws) -> None:
    sm = aws.client("secretsmanager")
    sm.create_secret(Name="offhours/slack", SecretString=SENTINEL)
    sm.create_secret(
        Name="offhours/ravello", SecretString=json.dumps({"user": "ada", "password": SENTINEL})
    )
    assert resolve("secretsmanager:offhours/slack") == SENTINEL
    assert resolve("secretsmanager:offhours/ravello#password") == SENTINEL
    assert "no key 'pasword' (keys: password, user)" in fails(
        "secretsmanager:offhours/ravello#pasword"
    )
    assert "not JSON" in fails("secretsmanager:offhours/slack#password")
    assert "ResourceNotFoundException" in fails("secretsmanager:offhours/nope")


def test_no_region(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert "no AWS region; set [secrets] region or AWS_REGION" in fails("ssm:/x")


def test_no_credentials(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert "no AWS credentials found" in fails("ssm:/x")


def test_each_reference_is_resolved_once(aws: Aws) -> None:
    aws.client("ssm").put_parameter(Name="/p", Value=SENTINEL, Type="SecureString")
    resolver = Resolver(SecretSettings())
    refs = [SecretRef.parse("ssm:/p", f"sources[{i}].password") for i in range(3)]
    values = resolver.resolve_all(refs)
    assert {v.reveal() for v in values.values()} == {SENTINEL}
    # Deleting the parameter changes nothing for this run: the value was kept in memory.
    aws.client("ssm").delete_parameter(Name="/p")
    assert resolver.resolve(refs[0]).reveal() == SENTINEL


def test_all_failures_are_reported_together(aws: Aws) -> None:
    kms_key(aws)
    refs = [
        SecretRef.parse("kms:" + base64.b64encode(b"x" * 64).decode(), "sources[0].password"),
        SecretRef.parse("ssm:/missing", "sources[0].username"),
        SecretRef.parse("env:OFFHOURS_TEST_UNSET", "notifiers[0].webhook_url"),
    ]
    with pytest.raises(SecretError) as info:
        Resolver(SecretSettings(), dict(os.environ)).resolve_all(refs)
    assert [p.split(":")[0] for p in info.value.problems] == [
        "sources[0].password",
        "sources[0].username",
        "notifiers[0].webhook_url",
    ]
    assert str(info.value).startswith("3 secret references could not be resolved")


def test_encrypt_makes_a_reference_that_resolves(aws: Aws) -> None:
    kms_key(aws)
    context = {"LambdaFunctionName": "offhours-audit"}
    reference = encrypt(SENTINEL, key="alias/offhours", context=context)
    assert reference.startswith("kms:")
    assert SENTINEL not in reference
    settings = SecretSettings(kms_context=context)
    assert resolve(reference, settings) == SENTINEL


def test_encrypt_with_an_unknown_key(aws: Aws) -> None:
    with pytest.raises(SecretError, match="NotFoundException"):
        encrypt(SENTINEL, key="alias/nope")


def test_seed_webhook_without_scheme_is_taken_as_https(aws: Aws) -> None:
    kms_key(aws)
    url = "hooks.slack.com/services/T00000000/B00000000/" + "X" * 24
    secret = Resolver(SecretSettings()).resolve(
        SecretRef.parse("kms:" + seed_style_ciphertext(aws, url), "notifiers[0].webhook_url")
    )
    notifier = SlackNotifier("slack", webhook_url=secret)
    assert notifier.destination.startswith("hooks.slack.com/")


def test_access_denied_under_iam_enforcement(monkeypatch: pytest.MonkeyPatch) -> None:
    """With moto enforcing IAM, a role without kms:Decrypt is refused, one with it is
    allowed."""
    with moto_subprocess() as endpoint:
        aws = Aws(endpoint)
        key_id = kms_key(aws)  # 2 calls
        blob = seed_style_ciphertext(aws, SENTINEL)  # 1
        iam = aws.client("iam")
        keys = {}
        for user, action in (("reader", "kms:Decrypt"), ("other", "ssm:GetParameter")):
            iam.create_user(UserName=user)
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
            }
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        assert key_id
        enforce_iam(endpoint)
        for user, expect_ok in (("reader", True), ("other", False)):
            # boto3 reads its endpoint and credentials from the process environment.
            monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys[user]["AccessKeyId"])
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys[user]["SecretAccessKey"])
            ref = SecretRef.parse("kms:" + blob, "sources[0].password")
            resolver = Resolver(SecretSettings(region="us-east-1"))
            if expect_ok:
                assert resolver.resolve(ref).reveal() == SENTINEL
            else:
                with pytest.raises(SecretError) as info:
                    resolver.resolve(ref)
                assert "AccessDenied" in str(info.value)
                assert "grant kms:Decrypt" in str(info.value)
