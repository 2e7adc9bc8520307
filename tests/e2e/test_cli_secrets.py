"""Encrypted secrets end to end: the CLI against moto (server mode) and the simulators."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.aws import Aws
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run

# Exit codes and output only: in this process, but for the -vv run (see test_cli.py).
pytestmark = pytest.mark.cli_in_process

NIGHT = "2026-11-30T23:00:00-05:00"
FUNCTION = "offhours-audit"

CliRun = Callable[..., Run]

CONFIG = """
[secrets.kms]
context = {{ LambdaFunctionName = "$AWS_LAMBDA_FUNCTION_NAME" }}

[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"

[[sources]]
type = "ravello"
base_url = "{base_url}"
username = "ssm:/offhours/ravello/user"
password = "{password}"
retries = 0

[[notifiers]]
type = "slack"
webhook_url = "secretsmanager:offhours/slack#webhook_url"
"""


def encrypt(aws: Aws, plaintext: str, **context: str) -> str:
    blob = aws.client("kms").encrypt(
        KeyId="alias/offhours", Plaintext=plaintext.encode(), EncryptionContext=context
    )["CiphertextBlob"]
    return "kms:" + base64.b64encode(blob).decode()


@pytest.fixture
def encrypted(
    aws: Aws, tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink
) -> dict[str, str]:
    """An offhours.toml whose every secret is a kms:, ssm: or secretsmanager: reference."""
    kms = aws.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/offhours", TargetKeyId=key_id)
    aws.client("ssm").put_parameter(
        Name="/offhours/ravello/user", Value=RAVELLO_USER, Type="SecureString"
    )
    aws.client("secretsmanager").create_secret(
        Name="offhours/slack", SecretString=json.dumps({"webhook_url": slack.url})
    )
    password = encrypt(aws, RAVELLO_PASSWORD, LambdaFunctionName=FUNCTION)
    (tmp_path / "offhours.toml").write_text(
        CONFIG.format(base_url=ravello.base_url, password=password)
    )
    start = datetime.fromisoformat(NIGHT) - timedelta(hours=5)
    ravello.set_apps([make_app(i, f"lab-{i}", "Ada", publish_start=start) for i in range(5)])
    return {"AWS_LAMBDA_FUNCTION_NAME": FUNCTION, "password": password}


def no_leak(run: Run, *secrets: str) -> None:
    for text in (run.stdout, run.stderr):
        for secret in (RAVELLO_PASSWORD, RAVELLO_USER, *secrets):
            assert secret not in text
        assert "Traceback" not in text


@pytest.mark.cli_in_process(False)  # -vv: logging for the whole process
def test_audit_with_every_secret_encrypted(
    cli: CliRun, encrypted: dict[str, str], slack: SlackSink
) -> None:
    run = cli("audit", "--now", NIGHT, "-vv", env={"AWS_LAMBDA_FUNCTION_NAME": FUNCTION})
    assert run.code == 0, run.stderr
    assert len(slack.messages) == 1
    assert "lab-4" in json.dumps(slack.messages[0])
    no_leak(run, slack.token, encrypted["password"][4:40])


def test_wrong_context_fails_closed_before_any_source_is_read(
    cli: CliRun, encrypted: dict[str, str], ravello: RavelloSimulator, slack: SlackSink
) -> None:
    run = cli("audit", "--now", NIGHT, env={"AWS_LAMBDA_FUNCTION_NAME": "another-function"})
    assert run.code == 2
    assert "sources[0].password: kms:<ciphertext" in run.stderr
    assert "InvalidCiphertextException" in run.stderr
    assert ravello.requests == []
    assert slack.messages == []
    no_leak(run, slack.token, encrypted["password"][4:40])


def test_secrets_check_reports_each_reference_without_values(
    cli: CliRun, encrypted: dict[str, str], aws: Aws, slack: SlackSink
) -> None:
    env = {"AWS_LAMBDA_FUNCTION_NAME": FUNCTION}
    run = cli("secrets", "check", env=env)
    assert run.code == 0, run.stderr
    assert "✓ sources[0].username: ssm:/offhours/ravello/user" in run.stdout
    assert "✓ sources[0].password: kms:<ciphertext" in run.stdout
    assert "✓ notifiers[0].webhook_url: secretsmanager:offhours/slack#webhook_url" in run.stdout
    assert "3 of 3 references resolve." in run.stdout
    no_leak(run, slack.token, encrypted["password"][4:40])

    aws.client("ssm").delete_parameter(Name="/offhours/ravello/user")
    broken = cli("secrets", "check", env=env)
    assert broken.code == 2
    assert "✗ sources[0].username: ssm:/offhours/ravello/user: ParameterNotFound" in broken.stdout
    assert "2 of 3 references resolve." in broken.stdout


def test_secrets_encrypt_reads_stdin_and_prints_a_reference(cli: CliRun, aws: Aws) -> None:
    kms = aws.client("kms")
    kms.create_alias(
        AliasName="alias/offhours", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"]
    )
    run = cli(
        "secrets",
        "encrypt",
        "--key",
        "alias/offhours",
        "--context",
        f"LambdaFunctionName={FUNCTION}",
        stdin=RAVELLO_PASSWORD + "\n",
    )
    assert run.code == 0, run.stderr
    reference = run.stdout.strip()
    assert reference.startswith("kms:")
    no_leak(run)
    assert "LambdaFunctionName" in run.stderr
    blob = base64.b64decode(reference[4:])
    plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"LambdaFunctionName": FUNCTION})
    assert plain["Plaintext"].decode() == RAVELLO_PASSWORD


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--key", "alias/missing"], "x", "NotFoundException"),
        (["--key", "alias/offhours", "--context", "novalue"], "x", "is not KEY=VALUE"),
        (["--key", "alias/offhours"], "", "nothing to encrypt"),
    ],
)
def test_secrets_encrypt_errors(
    cli: CliRun, aws: Aws, args: list[str], stdin: str, message: str
) -> None:
    kms = aws.client("kms")
    kms.create_alias(
        AliasName="alias/offhours", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"]
    )
    run = cli("secrets", "encrypt", *args, stdin=stdin)
    assert run.code == 2
    assert message in run.stderr


def test_literal_secret_refused_unless_explicitly_allowed(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink
) -> None:
    body = f"""
[[sources]]
type = "ravello"
base_url = "{ravello.base_url}"
username = "{RAVELLO_USER}"
password = "{RAVELLO_PASSWORD}"

[[notifiers]]
type = "slack"
webhook_url = "env:HOOK"
"""
    (tmp_path / "offhours.toml").write_text(body)
    refused = cli("check")
    assert refused.code == 2
    assert "sources[0].password: takes a secret reference, not a value" in refused.stderr
    assert "allow_plaintext_secrets = true" in refused.stderr
    no_leak(refused)

    (tmp_path / "offhours.toml").write_text("allow_plaintext_secrets = true\n" + body)
    allowed = cli("audit", "--now", NIGHT, env={"HOOK": slack.url})
    assert allowed.code == 0, allowed.stderr
    assert "sources[0].password holds a plaintext secret" in allowed.stderr
    no_leak(allowed, slack.token)
