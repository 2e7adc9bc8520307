"""A hung AWS endpoint cannot hold a run past its deadline: secret references and the Lambda
handler's configuration read are bounded by it, against a loopback server that never answers.

Before, botocore's settings allowed about 60 s per reference (and the handler's read used
botocore's defaults), so a 10 s invocation ran a minute and posted nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from offhours import lambda_handler
from offhours.audit import resolve_secrets, run_audit
from offhours.config import parse_config
from offhours.errors import ConfigError, SecretError
from offhours.testing._http import LoopbackHandler, LoopbackServer
from offhours.testing.slack import SlackSink
from offhours.transport import Deadline
from tests.aws import TEST_KEYS, LambdaContext

NIGHT = datetime(2026, 11, 30, 23, tzinfo=UTC)


class _Hung(LoopbackHandler):
    """Takes the request and never answers (until the server stops)."""

    def _hang(self) -> None:
        self.stopping.wait(60)

    do_GET = _hang
    do_POST = _hang


@pytest.fixture
def hung_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with LoopbackServer(_Hung) as server:
        endpoint = f"http://127.0.0.1:{server.port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        for key, value in TEST_KEYS.items():
            monkeypatch.setenv(key, value)
        yield endpoint


def test_a_secret_reference_ends_at_the_runs_deadline(hung_aws: str, slack: SlackSink) -> None:
    config = parse_config(
        {
            "hours": {"timezone": "UTC"},
            "sources": [
                {"type": "ravello", "username": "env:RU", "password": "ssm:/offhours/password"}
            ],
            "notifiers": [{"type": "slack", "webhook_url": "env:HOOK"}],
        }
    )
    environ = {"RU": "someone", "HOOK": slack.url, "AWS_REGION": "us-east-1"}
    with pytest.raises(SecretError, match=r"the run's deadline passed while reading it"):
        resolve_secrets(config, environ, Deadline.after(1.5))
    # Through the whole run, too: the failure is the secret's, and nothing waits past it.
    with pytest.raises(SecretError, match=r"sources\[0\]\.password: ssm:/offhours/password: "):
        run_audit(config, now=NIGHT, environ=environ, deadline=Deadline.after(1.5))


def test_the_handlers_configuration_read_ends_at_the_invocations_deadline(
    hung_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_handler, "_CONFIG", None)
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", "/offhours/offhours-audit/config:1")
    with pytest.raises(ConfigError, match="the invocation's deadline passed while reading it"):
        lambda_handler.handler({"time": "2026-11-30T23:00:00Z"}, LambdaContext(3500))
