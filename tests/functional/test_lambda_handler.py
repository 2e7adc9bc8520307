"""The Lambda handler in-process, against moto (server mode) and the simulators."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest

from offhours import lambda_handler
from offhours.errors import ConfigError
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.aws import Aws, LambdaContext
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER

FUNCTION = "offhours-audit"
EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "2026-12-01T04:00:00Z",  # 23:00 in New York, Monday 30 November
    "detail": {},
}
NIGHT = datetime.fromisoformat(EVENT["time"])


@pytest.fixture(autouse=True)
def _fresh_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a cold start (tests/conftest.py undoes the handler's logging set-up)."""
    monkeypatch.setattr(lambda_handler, "_CONFIG", None)


def deployed_config(aws: Aws, ravello: RavelloSimulator, slack: SlackSink) -> dict[str, Any]:
    """What `offhours deploy` stores: secrets as kms: references with the function's context."""
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]

    def encrypt(text: str) -> str:
        blob = kms.encrypt(
            KeyId=key, Plaintext=text.encode(), EncryptionContext={"LambdaFunctionName": FUNCTION}
        )["CiphertextBlob"]
        return "kms:" + base64.b64encode(blob).decode()

    return {
        "secrets": {"kms": {"context": {"LambdaFunctionName": "$AWS_LAMBDA_FUNCTION_NAME"}}},
        "hours": {"timezone": "America/New_York", "start": "08:00", "end": "18:00"},
        "sources": [
            {
                "type": "ravello",
                "base_url": ravello.base_url,
                "username": encrypt(RAVELLO_USER),
                "password": encrypt(RAVELLO_PASSWORD),
                "retries": 0,
            }
        ],
        "notifiers": [{"type": "slack", "webhook_url": encrypt(slack.url)}],
    }


@pytest.fixture
def deployed(
    aws: Aws, ravello: RavelloSimulator, slack: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    config = deployed_config(aws, ravello, slack)
    aws.client("ssm").put_parameter(
        Name=f"/offhours/{FUNCTION}/config", Value=json.dumps(config), Type="String"
    )
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", f"/offhours/{FUNCTION}/config")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    start = NIGHT - timedelta(hours=6)
    ravello.set_apps([make_app(i, f"lab-{i}", "Ada", publish_start=start) for i in range(3)])
    return config


def test_scheduled_event_runs_one_audit_and_posts_once(
    deployed: dict[str, Any], slack: SlackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = lambda_handler.handler(EVENT, None)
    assert summary == {
        "status": "success",
        "flagged": 3,
        "told": 3,
        "running_vms": 6,
        "checked": 3,
        "notified": {"slack": 1},
        "failures": [],
    }
    assert len(slack.messages) == 1
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert any("audit at 2026-12-01T04:00:00+00:00" in entry["message"] for entry in lines)
    assert all({"level", "logger", "message", "time"} <= entry.keys() for entry in lines)


def test_a_run_leaves_boto3s_default_session_alone(deployed: dict[str, Any]) -> None:
    """The configuration and the secrets are read through sessions of the run's own, so no
    credentials linger in boto3's process-wide default session of a warm container."""
    import boto3

    boto3.DEFAULT_SESSION = None  # the fixtures may have made one; the run must not
    assert lambda_handler.handler(EVENT, None)["status"] == "success"
    assert boto3.DEFAULT_SESSION is None


def test_the_deployers_fingerprints_are_dropped_before_validation(
    aws: Aws, deployed: dict[str, Any], slack: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`offhours deploy` keeps each secret's fingerprint under one reserved key, which is no
    configuration: the handler drops it (a config file holding it is refused)."""
    from offhours.deploy.fingerprint import DEPLOY_STATE_KEY

    fingerprint = "scrypt$16384$8$1$" + "A" * 24 + "$" + "B" * 44
    document = {
        **deployed,
        DEPLOY_STATE_KEY: {
            "fingerprints": {"sources[0].password": {"key": "k", "fingerprint": fingerprint}}
        },
    }
    aws.client("ssm").put_parameter(
        Name=f"/offhours/{FUNCTION}/config",
        Value=json.dumps(document),
        Type="String",
        Overwrite=True,
    )
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", f"/offhours/{FUNCTION}/config:2")
    assert lambda_handler.handler(EVENT, None)["status"] == "success"
    assert len(slack.messages) == 1


def test_a_failed_source_raises_after_delivering(
    deployed: dict[str, Any],
    ravello: RavelloSimulator,
    slack: SlackSink,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ravello.inject("500", count=5)
    with pytest.raises(lambda_handler.AuditFailed, match="source 'ravello'"):
        lambda_handler.handler(EVENT, None)
    assert len(slack.messages) == 1  # the failure itself was reported to Slack
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    # Before: the failed source was logged at INFO, and the run's status was "partial" with
    # nothing checked.
    failed = [e for e in logged if e["message"].startswith("source 'ravello' failed")]
    [warned] = [e for e in failed if e["level"] == "WARNING"]
    assert "500" in warned["message"]
    [done] = [e for e in logged if e["message"].startswith("audit done: ")]
    assert done["level"] == "ERROR"
    summary = json.loads(done["message"].removeprefix("audit done: "))
    assert (summary["status"], summary["checked"], summary["notified"]) == (
        "error",
        0,
        {"slack": 1},
    )
    assert RAVELLO_PASSWORD not in json.dumps(logged)


def test_wrong_function_name_fails_closed(
    deployed: dict[str, Any], slack: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "some-other-function")
    with pytest.raises(ConfigError, match="InvalidCiphertextException"):
        lambda_handler.handler(EVENT, None)
    assert slack.messages == []


def test_missing_parameter_is_a_clear_error(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", "/offhours/nope/config")
    with pytest.raises(ConfigError, match=r"ssm:/offhours/nope/config: .*ParameterNotFound"):
        lambda_handler.handler(EVENT, None)


def test_packaged_toml_config(
    tmp_path: Any, ravello: RavelloSimulator, slack: SlackSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "offhours.toml").write_text(
        f"""
[hours]
timezone = "Europe/London"
[[sources]]
type = "ravello"
base_url = "{ravello.base_url}"
username = "env:RU"
password = "env:RP"
[[notifiers]]
type = "slack"
webhook_url = "env:HOOK"
"""
    )
    for key, value in {"RU": RAVELLO_USER, "RP": RAVELLO_PASSWORD, "HOOK": slack.url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OFFHOURS_CONFIG_SSM", raising=False)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    start = NIGHT - timedelta(hours=6)
    ravello.set_apps([make_app(1, "lab-1", "Ada", publish_start=start)])
    assert lambda_handler.handler({"time": "2026-12-01T04:00:00Z"}, None)["flagged"] == 1


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"time": "2026-12-01T04:00:00Z"}, "2026-12-01T04:00:00+00:00"),
        ({"time": "2026-12-01T04:00:00"}, "2026-12-01T04:00:00+00:00"),
        ({"time": "2026-11-30T23:00:00-05:00"}, "2026-11-30T23:00:00-05:00"),
    ],
)
def test_scheduled_time_comes_from_the_event(event: dict[str, str], expected: str) -> None:
    assert lambda_handler.scheduled_time(event).isoformat() == expected


def test_manual_invocation_uses_now() -> None:
    before = datetime.now(NIGHT.tzinfo)
    assert lambda_handler.scheduled_time({}) >= before
    with pytest.raises(ConfigError, match="not an ISO-8601 time"):
        lambda_handler.scheduled_time({"time": "tomorrow"})


def test_handler_imports_no_cli_stack() -> None:
    code = (
        "import sys, offhours.lambda_handler; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'typer', 'rich', 'click', 'boto3', 'moto'}))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_warm_container_reads_the_configuration_its_version_names(
    deployed: dict[str, Any], aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`offhours deploy` pins name:version; the cache is keyed by it, never stale."""
    name = f"/offhours/{FUNCTION}/config"
    ssm = aws.client("ssm")
    # Version 2: working hours until midnight, so nothing runs "after hours" at 23:00.
    later = {**deployed, "hours": {**deployed["hours"], "end": "24:00"}}
    ssm.put_parameter(Name=name, Value=json.dumps(later), Type="String", Overwrite=True)
    flagged = []
    for pinned in (f"{name}:1", f"{name}:2", f"{name}:1"):
        monkeypatch.setenv("OFFHOURS_CONFIG_SSM", pinned)
        flagged.append(lambda_handler.handler(EVENT, None)["flagged"])
    assert flagged == [3, 0, 3]


def test_the_same_key_is_read_once(
    deployed: dict[str, Any], aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"/offhours/{FUNCTION}/config"
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", f"{name}:1")
    assert lambda_handler.handler(EVENT, None)["flagged"] == 3
    # The parameter is gone, but version 1 is cached: a warm run needs no read.
    aws.client("ssm").delete_parameter(Name=name)
    assert lambda_handler.handler(EVENT, None)["flagged"] == 3
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", f"{name}:2")
    with pytest.raises(ConfigError, match=r"ssm:/offhours/offhours-audit/config:2: .*"):
        lambda_handler.handler(EVENT, None)


def test_a_hung_source_is_reported_before_lambda_kills_the_function(
    deployed: dict[str, Any], ravello: RavelloSimulator, slack: SlackSink
) -> None:
    ravello.inject("hang", count=None)
    # Five seconds left: two for the margin, then the sources' share and delivery.
    with pytest.raises(lambda_handler.AuditFailed, match=r"source 'ravello': .*timed out"):
        lambda_handler.handler(EVENT, LambdaContext(5000))
    [message] = slack.messages  # before: nothing was posted, the function was killed
    assert "timed out" in json.dumps(message)


def test_the_deadline_comes_from_the_context() -> None:
    assert lambda_handler.run_deadline(None).remaining() == float("inf")
    left = lambda_handler.run_deadline(LambdaContext(60_000)).remaining()
    assert 57 < left <= 58  # 60 s less the 2 s margin
    assert lambda_handler.run_deadline(LambdaContext(500)).remaining() == 0


def test_a_packaged_toml_config_error_names_its_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "offhours.toml").write_text(
        '[hours]\ntimezone = "Europe/London"\ngrace_minuts = 5\n'
        '[[sources]]\ntype = "ravello"\nusername = "env:RU"\npassword = "env:RP"\n'
    )
    monkeypatch.delenv("OFFHOURS_CONFIG_SSM", raising=False)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    with pytest.raises(
        ConfigError, match=r"offhours\.toml:3: hours\.grace_minuts: .*grace_minutes"
    ):
        lambda_handler.handler({"time": "2026-12-01T04:00:00Z"}, None)
