"""The digest delivered: the notifiers' ``digest`` (Slack through the loopback sink, the
console), and ``offhours digest``'s output, chart, sending and ``--deployment`` lookup."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offhours.cli.digest import emit
from offhours.config import Config, load_config
from offhours.errors import ConfigError
from offhours.model import NO_ID_WEBHOOK, Receipt
from offhours.notifiers.base import Notifier
from offhours.notifiers.console import ConsoleNotifier
from offhours.notifiers.slack import SlackNotifier
from offhours.notifiers.slack.digest_blocks import digest_message
from offhours.report import Report
from offhours.secrets import Secret
from offhours.testing.slack import SlackSink
from tests.conftest import Run
from tests.unit.test_digest import PREV_TUE, digest, incident

HOSTILE = "evil\x1b[2J <!channel>"
DIGEST = digest(
    incident(1, opened=PREV_TUE, owner="alice", hours=4),
    incident(1, owner="alice", hours=10),
    incident(2, owner=HOSTILE, cost=None, hours=3),
)


# ---------------------------------------------------------------- the notifiers


def test_slack_posts_the_digest_blocks_once(slack: SlackSink) -> None:
    notifier = SlackNotifier("team", webhook_url=Secret(slack.url))
    receipt = notifier.digest(DIGEST, png=b"\x89PNG not attachable")
    assert receipt.ok
    assert receipt.sent == receipt.planned == 1
    assert receipt.messages[0].no_id == NO_ID_WEBHOOK
    assert slack.messages == [digest_message(DIGEST)]  # the sink checked the blocks as Slack


def test_slack_dry_run_posts_nothing_and_previews(slack: SlackSink) -> None:
    notifier = SlackNotifier("team", webhook_url=Secret(slack.url))
    receipt = notifier.digest(DIGEST, dry_run=True)
    assert (receipt.dry_run, receipt.sent) == (True, 0)
    assert receipt.preview is not None
    assert "Off-hours digest: week of 2026-11-23" in receipt.preview
    assert slack.attempts == 0


def test_a_refused_digest_is_an_error_on_the_receipt_not_an_exception(slack: SlackSink) -> None:
    slack.inject("channel_not_found", 404)
    receipt = SlackNotifier("team", webhook_url=Secret(slack.url)).digest(DIGEST)
    assert receipt.sent == 0
    assert receipt.error is not None
    assert "channel_not_found" in receipt.error
    assert slack.url not in receipt.error


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_console_prints_the_digest(fmt: Any) -> None:
    stream = io.StringIO()
    receipt = ConsoleNotifier("console", format=fmt, stream=stream).digest(DIGEST)
    assert receipt.sent == 1
    if fmt == "json":
        assert json.loads(stream.getvalue())["week"]["totals"]["incidents"] == 2
    else:
        assert stream.getvalue().startswith("Off-hours digest: week of 2026-11-23")
        assert "\x1b" not in stream.getvalue()


class _ReportOnly(Notifier):
    """A channel written before digests existed: it has only send and preview."""

    type = "report-only"

    def send(self, report: Report) -> Receipt:
        raise AssertionError("not called for a digest")

    def preview(self, report: Report) -> str:
        return ""


def test_a_channel_without_a_digest_delivers_nothing_and_says_so() -> None:
    receipt = _ReportOnly("old").digest(DIGEST)
    assert (receipt.sent, receipt.planned, receipt.error) == (0, 0, None)
    assert receipt.preview == "report-only notifier 'old' takes no digest"


# ---------------------------------------------------------------- the command

CONFIG = """
[hours]
timezone = "Europe/Paris"

[deploy]
function_name = "offhours-test"
region = "us-east-1"

[[sources]]
type = "ravello"
base_url = "http://127.0.0.1:9/api/v1"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
{notifiers}
"""
# A digest reads no source, but the config's secrets are resolved as for a run.
SOURCE_ENV = {"T_RAVELLO_USER": "digest@example.com", "T_RAVELLO_PASSWORD": "not-a-password"}
SLACK = """
[[notifiers]]
type = "slack"
webhook_url = "env:T_SLACK_URL"
"""


def _config(tmp_path: Path, notifiers: str = "", memory: str = "") -> Config:
    path = tmp_path / "offhours.toml"
    path.write_text(CONFIG.format(notifiers=notifiers) + memory)
    return load_config(path)


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("text", lambda out: out.startswith("Off-hours digest: week of 2026-11-23 (Europe/Paris)")),
        ("json", lambda out: json.loads(out)["version"] == 1),
        ("slack", lambda out: json.loads(out) == json.loads(json.dumps(digest_message(DIGEST)))),
    ],
)
def test_the_digest_printed_in_each_format(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    check: Callable[[str], bool],
) -> None:
    code = emit(_config(tmp_path), DIGEST, fmt=fmt, output=None, send=False, dry_run=False)
    out = capsys.readouterr().out
    assert code == 0
    assert check(out)
    assert "\x1b" not in out


def test_output_saves_the_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "week.png"
    emit(_config(tmp_path), DIGEST, fmt="text", output=target, send=False, dry_run=False)
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"chart saved to {target}" in capsys.readouterr().err


def test_send_delivers_to_the_configured_notifiers(
    tmp_path: Path, slack: SlackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, SLACK)
    environ = {"T_SLACK_URL": slack.url, **SOURCE_ENV}
    code = emit(cfg, DIGEST, fmt="text", output=None, send=True, dry_run=False, environ=environ)
    assert code == 0
    assert slack.messages == [digest_message(DIGEST)]
    assert "digest sent to notifier 'slack'" in capsys.readouterr().err
    # A dry run shows the message and sends nothing more.
    code = emit(cfg, DIGEST, fmt="text", output=None, send=True, dry_run=True, environ=environ)
    assert (code, len(slack.messages)) == (0, 1)
    assert "--- dry run: would send to notifier 'slack' ---" in capsys.readouterr().out


def test_send_that_fails_exits_1(
    tmp_path: Path, slack: SlackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.inject("no_service", 404)
    cfg = _config(tmp_path, SLACK)
    code = emit(
        cfg, DIGEST, fmt="text", output=None, send=True, dry_run=False,
        environ={"T_SLACK_URL": slack.url, **SOURCE_ENV},
    )  # fmt: skip
    assert code == 1
    assert "no_service" in capsys.readouterr().err


def test_send_without_notifiers_says_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[\[notifiers\]\]"):
        emit(
            _config(tmp_path), DIGEST, fmt="text", output=None, send=True, dry_run=False,
            environ=SOURCE_ENV,
        )  # fmt: skip


def test_digest_with_memory_off_exits_2_and_says_why(
    cli: Callable[..., Run], tmp_path: Path
) -> None:
    _config(tmp_path, memory='\n[memory]\nstore = "off"\n')
    run = cli("digest", "--week", "--now", "2026-11-30T09:00:00+01:00")
    assert run.code == 2
    assert "memory is off" in run.stderr
