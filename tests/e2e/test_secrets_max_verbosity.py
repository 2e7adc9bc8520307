"""No secret at the highest verbosity: the real CLI at -vvv (in a subprocess) and the Lambda
handler with OFFHOURS_VERBOSITY=3 resolve kms:, ssm: and secretsmanager: references through
moto's server, succeed or fail in every way resolution can, and print none of the values in
any form (raw, stripped, base64 at any alignment, JSON-escaped, URL-encoded).

Before offhours held botocore's body loggers at INFO, each of these printed the SSM value, the
whole Secrets Manager JSON (keys offhours never asked for included), KMS plaintext in base64,
and in ``deploy apply`` every value it encrypts.
"""

from __future__ import annotations

import base64
import io
import json
import socketserver
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from offhours import lambda_handler
from offhours.errors import OffhoursError
from offhours.testing._http import BackgroundServer
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.aws import Aws, enforce_iam, moto_subprocess
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run
from tests.leakguard import leaks

CliRun = Callable[..., Run]
NIGHT = "2026-11-30T23:00:00-05:00"
FUNCTION = "offhours-audit"
#: a key of the Secrets Manager JSON that offhours never asks for: botocore used to log it
UNUSED = "sentinel-unused-json-key-3f1d"
#: stored with a trailing newline and space, as pasted into a console
PADDED_USER = RAVELLO_USER + "\n "

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
username = "{username}"
password = "{password}"
retries = 0

[[notifiers]]
type = "slack"
webhook_url = "{webhook}"
"""


def encrypt(aws: Aws, plaintext: str, function: str = FUNCTION) -> str:
    blob = aws.client("kms").encrypt(
        KeyId="alias/offhours",
        Plaintext=plaintext.encode(),
        EncryptionContext={"LambdaFunctionName": function},
    )["CiphertextBlob"]
    return "kms:" + base64.b64encode(blob).decode()


@pytest.fixture
def stores(aws: Aws, ravello: RavelloSimulator, slack: SlackSink) -> dict[str, str]:
    """Every secret in a store: password in KMS, username in SSM, webhook in Secrets Manager."""
    kms = aws.client("kms")
    kms.create_alias(
        AliasName="alias/offhours", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"]
    )
    aws.client("ssm").put_parameter(
        Name="/offhours/ravello/user", Value=PADDED_USER, Type="SecureString"
    )
    aws.client("secretsmanager").create_secret(
        Name="offhours/slack",
        SecretString=json.dumps({"webhook_url": slack.url + " \n", "unused": UNUSED}),
    )
    start = datetime.fromisoformat(NIGHT) - timedelta(hours=5)
    ravello.set_apps([make_app(i, f"lab-{i}", "Ada", publish_start=start) for i in range(3)])
    return {
        "base_url": ravello.base_url,
        "username": "ssm:/offhours/ravello/user",
        "password": encrypt(aws, RAVELLO_PASSWORD),
        "webhook": "secretsmanager:offhours/slack#webhook_url",
    }


def secret_values(slack: SlackSink) -> list[str]:
    return [RAVELLO_PASSWORD, RAVELLO_USER, PADDED_USER, slack.url, slack.token, UNUSED]


def write_config(tmp_path: Path, **refs: str) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(**refs))


def assert_no_leak(text: str, slack: SlackSink) -> None:
    found = leaks(text, secret_values(slack))
    assert found == [], f"secret in the output: {found}"
    assert "Traceback" not in text


def assert_library_debug(text: str) -> None:
    """The run did log at library DEBUG: the absence of bodies is not an absence of logs."""
    assert "DEBUG botocore.credentials" in text or '"logger": "botocore.credentials"' in text
    assert "urllib3.connectionpool" in text


# ------------------------------------------------------------------------------ success


def test_audit_at_vvv_shows_no_secret(
    cli: CliRun, stores: dict[str, str], tmp_path: Path, slack: SlackSink
) -> None:
    write_config(tmp_path, **stores)
    run = cli("audit", "--now", NIGHT, "-vvv", env={"AWS_LAMBDA_FUNCTION_NAME": FUNCTION})
    assert run.code == 0, run.stderr[-2000:]
    assert len(slack.messages) == 1  # the stripped webhook URL worked
    assert_library_debug(run.stderr)
    assert_no_leak(run.stdout + run.stderr, slack)


def test_secrets_check_at_vvv_shows_no_secret(
    cli: CliRun, stores: dict[str, str], tmp_path: Path, slack: SlackSink
) -> None:
    write_config(tmp_path, **stores)
    run = cli("secrets", "check", "-vvv", env={"AWS_LAMBDA_FUNCTION_NAME": FUNCTION})
    assert run.code == 0, run.stderr[-2000:]
    assert "3 of 3 references resolve." in run.stdout
    assert_library_debug(run.stderr)
    assert_no_leak(run.stdout + run.stderr, slack)


@pytest.fixture
def lambda_env(aws: Aws, stores: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(lambda_handler, "_CONFIG", None)
    monkeypatch.setenv("OFFHOURS_VERBOSITY", "3")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", "/offhours/config")
    return stores


def store_lambda_config(aws: Aws, refs: dict[str, str]) -> None:
    aws.client("ssm").put_parameter(
        Name="/offhours/config", Value=CONFIG.format(**refs), Type="String", Overwrite=True
    )


EVENT = {"id": "e1", "time": "2026-12-01T04:00:00Z"}


def test_lambda_handler_at_verbosity_3_shows_no_secret(
    aws: Aws, lambda_env: dict[str, str], slack: SlackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    store_lambda_config(aws, lambda_env)
    summary = lambda_handler.handler(EVENT, None)
    assert summary["status"] == "success", summary
    assert slack.messages
    err = capsys.readouterr().err
    assert_library_debug(err)
    assert_no_leak(err, slack)


@pytest.mark.parametrize("given", ["loud", "-1", "99", " ", "3.5"])
def test_lambda_verbosity_that_is_not_0_to_3_never_crashes(
    aws: Aws,
    lambda_env: dict[str, str],
    slack: SlackSink,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    given: str,
) -> None:
    store_lambda_config(aws, lambda_env)
    monkeypatch.setenv("OFFHOURS_VERBOSITY", given)
    assert lambda_handler.handler(EVENT, None)["status"] == "success"
    err = capsys.readouterr().err
    assert_no_leak(err, slack)
    if given.strip() and not given.lstrip("-").isdigit():
        assert "is not 0, 1, 2 or 3" in err


def test_lambda_handler_failing_resolution_at_verbosity_3_shows_no_secret(
    aws: Aws, lambda_env: dict[str, str], slack: SlackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = {**lambda_env, "password": encrypt(aws, RAVELLO_PASSWORD, "another-function")}
    refs["webhook"] = "secretsmanager:offhours/slack#no_such_key"
    store_lambda_config(aws, refs)
    with pytest.raises(OffhoursError) as info:
        lambda_handler.handler(EVENT, None)
    assert "InvalidCiphertextException" in str(info.value)
    assert "has no key 'no_such_key'" in str(info.value)
    err = capsys.readouterr().err
    assert_no_leak(err + str(info.value), slack)


# ------------------------------------------------------------------------------ failures


def _wrong_context(aws: Aws, refs: dict[str, str]) -> dict[str, str]:
    return {**refs, "password": encrypt(aws, RAVELLO_PASSWORD, "another-function")}


def _missing_parameter(aws: Aws, refs: dict[str, str]) -> dict[str, str]:
    return {**refs, "username": "ssm:/offhours/ravello/missing"}


def _missing_json_key(aws: Aws, refs: dict[str, str]) -> dict[str, str]:
    return {**refs, "webhook": "secretsmanager:offhours/slack#webhook"}


def _not_json(aws: Aws, refs: dict[str, str]) -> dict[str, str]:
    aws.client("secretsmanager").create_secret(Name="plain", SecretString=RAVELLO_PASSWORD)
    return {**refs, "webhook": "secretsmanager:plain#webhook_url"}


def _garbage_ciphertext(aws: Aws, refs: dict[str, str]) -> dict[str, str]:
    return {**refs, "password": "kms:" + base64.b64encode(b"x" * 80).decode()}


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (_wrong_context, "InvalidCiphertextException"),
        (_missing_parameter, "ParameterNotFound"),
        (_missing_json_key, "has no key 'webhook'"),
        (_not_json, "the secret is not JSON"),
        (_garbage_ciphertext, "sources[0].password: kms:<ciphertext, 108 chars>: "),
    ],
)
def test_failed_resolution_at_vvv_shows_no_secret(
    cli: CliRun,
    aws: Aws,
    stores: dict[str, str],
    tmp_path: Path,
    slack: SlackSink,
    break_it: Callable[[Aws, dict[str, str]], dict[str, str]],
    expected: str,
) -> None:
    write_config(tmp_path, **break_it(aws, stores))
    env = {"AWS_LAMBDA_FUNCTION_NAME": FUNCTION}
    for command in (["secrets", "check"], ["audit", "--now", NIGHT]):
        run = cli(*command, "-vvv", env=env)
        assert run.code == 2, run.stderr[-2000:]
        assert expected in run.stdout + run.stderr
        assert_no_leak(run.stdout + run.stderr, slack)


@pytest.mark.parametrize(
    ("unset", "expected"),
    [
        (("AWS_REGION", "AWS_DEFAULT_REGION"), "no AWS region"),
        (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "no AWS credentials found"),
    ],
)
def test_no_region_or_credentials_at_vvv_shows_no_secret(
    cli: CliRun,
    stores: dict[str, str],
    tmp_path: Path,
    slack: SlackSink,
    monkeypatch: pytest.MonkeyPatch,
    unset: tuple[str, ...],
    expected: str,
) -> None:
    write_config(tmp_path, **stores)
    for name in unset:
        monkeypatch.delenv(name)
    run = cli("secrets", "check", "-vvv", env={"AWS_LAMBDA_FUNCTION_NAME": FUNCTION})
    assert run.code == 2
    assert expected in run.stdout + run.stderr
    assert_no_leak(run.stdout + run.stderr, slack)


def test_access_denied_at_vvv_shows_no_secret(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink
) -> None:
    with moto_subprocess() as endpoint:
        aws = Aws(endpoint)
        kms = aws.client("kms")
        kms.create_alias(
            AliasName="alias/offhours", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"]
        )
        password = encrypt(aws, RAVELLO_PASSWORD)
        aws.client("ssm").put_parameter(
            Name="/offhours/ravello/user", Value=PADDED_USER, Type="SecureString"
        )
        iam = aws.client("iam")
        iam.create_user(UserName="nobody")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="nobody", PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        enforce_iam(endpoint)
        write_config(
            tmp_path,
            base_url=ravello.base_url,
            username="ssm:/offhours/ravello/user",
            password=password,
            webhook="env:HOOK",
        )
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            "HOOK": slack.url,
        }
        run = cli("secrets", "check", "-vvv", env=env)
    assert run.code == 2
    assert "grant kms:Decrypt" in run.stdout + run.stderr
    assert "grant ssm:GetParameter" in run.stdout + run.stderr
    assert_no_leak(run.stdout + run.stderr, slack)
    assert leaks(run.stdout + run.stderr, [key["SecretAccessKey"]]) == []


# ------------------------------------------------------------------------- deploy apply

DEPLOY_CONFIG = """
[deploy]
function_name = "offhours-vvv"
region = "us-east-1"
schedule = "cron(0 19 ? * MON-FRI *)"

[[sources]]
type = "ravello"
username = "env:E_USER"
password = "env:E_PASSWORD"

[[notifiers]]
type = "slack"
webhook_url = "env:E_HOOK"
"""
DEPLOYED = {
    "E_USER": "e2e-user-for-vvv",
    "E_PASSWORD": "sentinel-deploy-password-77c0",
    "E_HOOK": "https://hooks.slack.com/services/T00000000/B00000000/XXXX-sentinel-deploy-hook",
}


def test_deploy_apply_at_vvv_shows_none_of_what_it_encrypts(
    cli: CliRun, tmp_path: Path, aws: Aws, slack: SlackSink
) -> None:
    (tmp_path / "offhours.toml").write_text(DEPLOY_CONFIG)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(zipfile.ZipInfo("offhours/__init__.py", (1980, 1, 1, 0, 0, 0)), "")
        zf.writestr(zipfile.ZipInfo("offhours/lambda_handler.py", (1980, 1, 1, 0, 0, 0)), "")
    (tmp_path / "offhours-lambda.zip").write_bytes(buffer.getvalue())
    run = cli("deploy", "apply", "--package", "offhours-lambda.zip", "-vvv", env=DEPLOYED)
    assert run.code == 0, run.stderr[-2000:]
    assert_library_debug(run.stderr)
    found = leaks(run.stdout + run.stderr, DEPLOYED.values())
    assert found == [], f"secret in the output: {found}"


# ------------------------------------------------------------------------ proxy credentials


class _RefusingProxy(BackgroundServer):
    """An HTTP proxy on loopback that records each request head and refuses the tunnel."""

    def __init__(self) -> None:
        super().__init__()
        self.heads: list[str] = []

    def _bind(self) -> socketserver.TCPServer:
        heads = self.heads

        class Handler(socketserver.StreamRequestHandler):
            timeout = 5

            def handle(self) -> None:
                lines = []
                while len(lines) < 100:
                    line = self.rfile.readline(8192)
                    if line in (b"", b"\r\n", b"\n"):
                        break
                    lines.append(line.decode("latin-1").strip())
                heads.append("\n".join(lines))
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        return server


@pytest.mark.parametrize("scheme", ["", "http://"])
def test_proxy_credentials_never_reach_the_output(
    cli: CliRun, stores: dict[str, str], tmp_path: Path, slack: SlackSink, scheme: str
) -> None:
    """The webhook goes through HTTPS_PROXY with its credentials (the proxy sees them); the
    output at -vvv, including the proxy's refusal, never shows them, with or without a scheme."""
    password = f"sentinel-proxy-pw-{len(scheme)}"
    hook = "https://hooks.slack.com/services/T00000000/B00000000/XXXX-sentinel-proxy-hook"
    with _RefusingProxy() as proxy:
        refs = {**stores, "webhook": "env:PROXIED_HOOK"}
        write_config(tmp_path, **refs)
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            "PROXIED_HOOK": hook,
            "HTTPS_PROXY": f"{scheme}proxyuser:{password}@127.0.0.1:{proxy.port}",
            "NO_PROXY": "",
        }
        run = cli("audit", "--now", NIGHT, "-vvv", env=env)
    assert run.code == 1, run.stderr[-2000:]  # the proxy refused: the notifier failed
    assert proxy.heads  # one CONNECT per attempt (a refused tunnel is retried)
    expected = base64.b64encode(f"proxyuser:{password}".encode()).decode()
    for head in proxy.heads:
        request, *headers = head.splitlines()
        assert request.startswith("CONNECT hooks.slack.com:443 ")
        fields = dict(h.split(": ", 1) for h in headers)
        assert {k.lower(): v for k, v in fields.items()}["proxy-authorization"] == (
            f"Basic {expected}"
        )
    output = run.stdout + run.stderr
    assert "hooks.slack.com" in output  # the failure is reported, naming the host
    assert "proxyuser" not in output
    assert leaks(output, [password, hook]) == []
