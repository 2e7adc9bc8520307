"""`offhours audit --deadline` and the budget warnings of `check` and `deploy plan`, end to end."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.aws import Aws
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run

CliRun = Callable[..., Run]
NIGHT = "2026-11-30T23:00:00-05:00"

CONFIG = """
[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"
{deploy}
[[sources]]
type = "ravello"
base_url = "{base_url}"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
{source}
[[notifiers]]
type = "slack"
webhook_url = "env:T_SLACK_URL"
"""


def write(path: Path, base_url: str, *, source: str = "", deploy: str = "") -> None:
    (path / "offhours.toml").write_text(
        CONFIG.format(base_url=base_url, source=source, deploy=deploy)
    )


def env_for(slack: SlackSink) -> dict[str, str]:
    return {
        "T_RAVELLO_USER": RAVELLO_USER,
        "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD,
        "T_SLACK_URL": slack.url,
    }


def hang_with_long_timeouts(path: Path, ravello: RavelloSimulator) -> None:
    """One running lab behind a Ravello that never answers, read with timeouts longer than
    the deadlines the tests give: only the deadline can end the read."""
    start = datetime.fromisoformat(NIGHT) - timedelta(hours=5)
    ravello.set_apps([make_app(1, "lab-1", "Ada", publish_start=start)])
    ravello.inject("hang", count=None)
    write(path, ravello.base_url, source="read_timeout = 60\nrequest_timeout = 120")


def test_audit_deadline_reports_a_hung_source_in_slack(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink
) -> None:
    hang_with_long_timeouts(tmp_path, ravello)
    run = cli("audit", "--now", NIGHT, "--deadline", "3", env=env_for(slack))
    assert run.code == 1, (run.stdout, run.stderr)
    assert "source 'ravello'" in run.stderr and "timed out" in run.stderr
    [message] = slack.messages
    assert "timed out" in json.dumps(message)
    assert "Traceback" not in run.stderr


@pytest.mark.cli_in_process  # validation and warnings only: no run outlives the call
def test_audit_deadline_must_be_positive(cli: CliRun, tmp_path: Path, slack: SlackSink) -> None:
    write(tmp_path, "http://127.0.0.1:9/api/v1")
    run = cli("audit", "--deadline", "0", env=env_for(slack))
    assert run.code == 2
    assert "--deadline" in run.stderr


@pytest.mark.cli_in_process  # validation and warnings only: no run outlives the call
def test_check_shows_the_budget_of_the_defaults(
    cli: CliRun, tmp_path: Path, slack: SlackSink
) -> None:
    write(tmp_path, "http://127.0.0.1:9/api/v1")
    run = cli("check", env=env_for(slack))
    assert run.code == 0, run.stderr
    assert "within the timeout of 60 s" in run.stdout
    assert "warning" not in run.stderr


@pytest.mark.cli_in_process  # validation and warnings only: no run outlives the call
@pytest.mark.parametrize(
    ("source", "deploy"),
    [
        ("read_timeout = 30\nrequest_timeout = 30\nretries = 3\nmax_retry_after = 60", ""),
        ("", "[deploy]\ntimeout = 20\n"),
    ],
)
def test_check_warns_when_the_budget_exceeds_the_timeout(
    cli: CliRun, tmp_path: Path, slack: SlackSink, source: str, deploy: str
) -> None:
    write(tmp_path, "http://127.0.0.1:9/api/v1", source=source, deploy=deploy)
    run = cli("check", env=env_for(slack))
    assert run.code == 0, run.stderr
    assert "warning: worst case" in run.stderr
    assert "exceeds the timeout" in run.stderr


@pytest.mark.cli_in_process  # validation and warnings only: no run outlives the call
def test_deploy_plan_warns_when_the_budget_exceeds_the_timeout(
    cli: CliRun, tmp_path: Path, aws: Aws, slack: SlackSink
) -> None:
    write(
        tmp_path,
        "https://cloud.ravellosystems.com/api/v1",
        deploy='[deploy]\nfunction_name = "offhours-budget"\nregion = "us-east-1"\ntimeout = 15\n',
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(zipfile.ZipInfo("offhours/__init__.py", (1980, 1, 1, 0, 0, 0)), "")
        zf.writestr(zipfile.ZipInfo("offhours/lambda_handler.py", (1980, 1, 1, 0, 0, 0)), "")
    (tmp_path / "offhours-lambda.zip").write_bytes(buffer.getvalue())
    env = env_for(slack) | {
        "T_SLACK_URL": "https://hooks.slack.com/services/T00000000/B00000000/sentinel-hook-plan"
    }
    run = cli("deploy", "plan", "--package", "offhours-lambda.zip", env=env)
    assert run.code == 0, run.stderr
    assert "warning: worst case" in run.stderr
    assert "timeout of 15 s" in run.stderr


def test_explain_deadline_reports_a_hung_source(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink
) -> None:
    hang_with_long_timeouts(tmp_path, ravello)
    run = cli("explain", "--now", NIGHT, "--deadline", "3", env=env_for(slack))
    assert run.code == 1, (run.stdout, run.stderr)
    assert (
        "offhours: error: source 'ravello'" in run.stderr
        and "the run's deadline came" in run.stderr
    )
    assert "The sources returned no resources." in run.stdout
    assert "Traceback" not in run.stderr
    assert slack.messages == []  # explain sends nothing


@pytest.mark.cli_in_process  # validation and warnings only: no run outlives the call
def test_explain_and_demo_deadline_must_be_positive(
    cli: CliRun, tmp_path: Path, slack: SlackSink
) -> None:
    write(tmp_path, "http://127.0.0.1:9/api/v1")
    for command in ("explain", "demo"):
        run = cli(command, "--deadline", "0", env=env_for(slack))
        assert run.code == 2, (command, run.stderr)
        assert "--deadline" in run.stderr


def test_demo_deadline_reports_a_hung_simulator_in_its_slack_message() -> None:
    from offhours.demo import run_demo
    from offhours.transport import Deadline

    result, messages, _ = run_demo(
        datetime.fromisoformat(NIGHT), deadline=Deadline.after(3), faults=["hang"]
    )
    assert [f.source for f in result.report.failures] == ["ravello"]
    assert "timed out" in result.report.failures[0].message
    [message] = messages
    assert "timed out" in json.dumps(message)


def test_demo_runs_within_a_deadline(cli: CliRun) -> None:
    run = cli("demo", "--now", NIGHT, "--deadline", "30")
    assert run.code == 0, run.stderr
    assert "Slack — as received by the local webhook sink" in run.stdout
