"""The `offhours` command end to end: a subprocess against the simulators over loopback HTTP.

Covers every documented exit code: 0 ran fine, 1 source/notifier failed, 2 config/usage,
3 findings with --fail-on-findings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run

# Exit codes and output only: in this process. Tests of verbosity keep a subprocess (their
# logging reconfigures the whole process, moto's server threads included).
pytestmark = pytest.mark.cli_in_process

# Thursday 2026-11-26 is Thanksgiving; use the Monday after: 23:00 New York is off-hours.
NIGHT = "2026-11-30T23:00:00-05:00"
NOON = "2026-11-30T12:00:00-05:00"
NIGHT_DT = datetime.fromisoformat(NIGHT)

CONFIG = """
[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"

[hours.holidays]
country = "US"

[[sources]]
type = "ravello"
base_url = "{base_url}"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
retries = 1
read_timeout = 2

[[notifiers]]
type = "slack"
webhook_url = "env:T_SLACK_URL"
max_wait = 5
"""

CliRun = Callable[..., Run]


@pytest.fixture
def setup(
    tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink
) -> tuple[dict[str, str], RavelloSimulator, SlackSink]:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(base_url=ravello.base_url))
    env = {
        "T_RAVELLO_USER": RAVELLO_USER,
        "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD,
        "T_SLACK_URL": slack.url,
    }
    return env, ravello, slack


def _labs(n: int) -> list[dict[str, Any]]:
    """``n`` labs with 2 VMs each, up since 07:00 New York: all flagged at NIGHT (and started
    before NOON: a start time after --now would be a reported problem)."""
    start = NIGHT_DT - timedelta(hours=16)
    return [
        make_app(100 + i, f"lab-{i:03d}", f"Owner {i % 7}", publish_start=start) for i in range(n)
    ]


def assert_no_leak(run: Run, slack: SlackSink) -> None:
    token = slack.url.rsplit("/", 1)[-1]
    for text in (run.stdout, run.stderr):
        assert RAVELLO_PASSWORD not in text
        assert token not in text
        assert "Traceback" not in text


def test_audit_of_40_running_labs_sends_exactly_one_slack_message(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(40))
    run = cli("audit", "--now", NIGHT, env=env)
    assert run.code == 0, run.stderr
    assert len(slack.messages) == 1
    text = json.dumps(slack.messages[0])
    for i in range(40):
        assert f"lab-{i:03d}" in text
    assert "40" in slack.messages[0]["text"]
    assert_no_leak(run, slack)


def test_fail_on_findings_exits_3_only_when_something_is_flagged(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(3))
    assert cli("audit", "--now", NIGHT, "--fail-on-findings", env=env).code == 3
    # At noon on a working day nothing is flagged: 0; the one message says that the night's
    # labs were resolved as business hours began (incident memory), and flags nothing.
    before = len(slack.messages)
    assert cli("audit", "--now", NOON, "--fail-on-findings", env=env).code == 0
    assert len(slack.messages) == before + 1
    assert "Resolved (3)" in json.dumps(slack.messages[-1])


def test_dry_run_sends_nothing_and_shows_the_payload(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    run = cli("audit", "--now", NIGHT, "--dry-run", env=env)
    assert run.code == 0, run.stderr
    assert slack.messages == []
    assert "dry run: would send to notifier 'slack'" in run.stdout
    assert '"blocks"' in run.stdout
    assert_no_leak(run, slack)


def test_json_format_is_machine_readable(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, _ = setup
    ravello.set_apps(_labs(2))
    run = cli("audit", "--now", NIGHT, "--format", "json", env=env)
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert len(data["findings"]) == 2


@pytest.mark.cli_in_process(False)  # -vv/-vvv: logging for the whole process
@pytest.mark.parametrize(
    "fault", ["401", "403", "429", "500", "slow", "non_json", "truncated", "wrong_shape"]
)
def test_a_failing_source_exits_1_and_is_still_reported_in_slack(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink], fault: str
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    ravello.inject(fault, count=10, retry_after=1, delay=5)
    run = cli("audit", "--now", NIGHT, "-vv", env=env)
    assert run.code == 1, (run.stdout, run.stderr)
    assert "source 'ravello'" in run.stderr
    assert len(slack.messages) == 1
    assert "ravello" in json.dumps(slack.messages[0])
    assert_no_leak(run, slack)


@pytest.mark.cli_in_process(False)  # -vv/-vvv: logging for the whole process
@pytest.mark.parametrize(
    ("body", "status", "hint"),
    [
        ("channel_not_found", 404, "channel_not_found"),
        ("channel_is_archived", 410, "channel_is_archived"),
        ("invalid_payload", 400, "invalid_payload"),
        ("no_service", 404, "no_service"),
        ("action_prohibited", 403, "action_prohibited"),
    ],
)
def test_a_slack_error_exits_1_with_a_clear_message(
    cli: CliRun,
    setup: tuple[dict[str, str], RavelloSimulator, SlackSink],
    body: str,
    status: int,
    hint: str,
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    slack.inject(body=body, status=status, count=5)
    run = cli("audit", "--now", NIGHT, "-vvv", env=env)
    assert run.code == 1
    assert "notifier 'slack'" in run.stderr and hint in run.stderr
    assert_no_leak(run, slack)


def test_slack_rate_limit_is_waited_out(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    slack.inject_429(retry_after="1", count=1)
    run = cli("audit", "--now", NIGHT, env=env)
    assert run.code == 0, run.stderr
    assert len(slack.messages) == 1
    assert slack.rejected_429 == 1


def test_slack_rate_limit_beyond_the_wait_budget_exits_1(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    slack.inject_429(retry_after="30", count=5)
    run = cli("audit", "--now", NIGHT, env=env)
    assert run.code == 1
    assert "delivered 0 of 1" in run.stderr
    assert slack.messages == []
    assert_no_leak(run, slack)


def test_unresolvable_secret_exits_2_before_any_source_is_read(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, slack = setup
    del env["T_RAVELLO_PASSWORD"]
    del env["T_SLACK_URL"]
    run = cli("audit", "--now", NIGHT, env=env)
    assert run.code == 2
    assert "2 secret references could not be resolved" in run.stderr
    assert "sources[0].password: env:T_RAVELLO_PASSWORD" in run.stderr
    assert "notifiers[0].webhook_url: env:T_SLACK_URL" in run.stderr
    assert ravello.requests == []
    assert slack.messages == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "--now", "yesterday"], "is not an ISO-8601 time"),
        (["audit", "--now", "2026-11-30+23:00:00"], "is not an ISO-8601 time"),
        (["audit", "--config", "missing.toml"], "missing.toml: no such file"),
        (["audit", "--no-such-flag"], "no such option"),
        (["frobnicate"], "no such command"),
    ],
)
def test_usage_errors_exit_2(
    cli: CliRun,
    setup: tuple[dict[str, str], RavelloSimulator, SlackSink],
    args: list[str],
    message: str,
) -> None:
    env, _, _ = setup
    run = cli(*args, env=env)
    assert run.code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_check_exits_0_for_a_good_config_and_2_listing_every_problem(
    cli: CliRun, tmp_path: Path, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, _, _ = setup
    good = cli("check", env=env)
    assert good.code == 0, good.stderr
    assert "OK" in good.stdout and "Mon-Fri" in good.stdout
    (tmp_path / "bad.toml").write_text(
        '[hours]\nstart = "25:00"\nend = "18:00"\n[[sources]]\ntype = "ravello"\n'
    )
    bad = cli("check", "--config", "bad.toml", env=env)
    assert bad.code == 2
    assert 'bad.toml:2: hours.start: "25:00" is not a time (HH:MM)' in bad.stderr
    assert "bad.toml:4: sources[0].username: missing" in bad.stderr


def test_check_warns_of_an_env_reference_not_set_here(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, _, _ = setup
    assert "warning" not in cli("check", env=env).stderr
    missing = {k: v for k, v in env.items() if k != "T_SLACK_URL"}
    run = cli("check", env=missing)
    assert run.code == 0, run.stderr
    assert run.stderr.strip() == (
        "warning: offhours.toml: notifiers[0].webhook_url: T_SLACK_URL is not set in this "
        "environment; export T_SLACK_URL=… before offhours audit"
    )


def test_check_refuses_wildcard_secret_references(
    cli: CliRun, tmp_path: Path, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, _, _ = setup
    (tmp_path / "wild.toml").write_text(
        '[[sources]]\ntype = "ravello"\nusername = "ssm:/offhours/ravello/user?"\n'
        'password = "secretsmanager:*#password"\n'
    )
    run = cli("check", "--config", "wild.toml", env=env)
    assert run.code == 2, (run.stdout, run.stderr)
    assert (
        "wild.toml:4: sources[0].password: secretsmanager:*#password holds a wildcard" in run.stderr
    )
    assert "wild.toml:3: sources[0].username: ssm:/offhours/ravello/user? holds a wildcard" in (
        run.stderr
    )
    assert "Traceback" not in run.stderr


def test_schema_prints_json_schema(cli: CliRun) -> None:
    run = cli("schema")
    assert run.code == 0
    assert json.loads(run.stdout)["title"] == "offhours.toml"


def test_explain_says_why_for_each_resource(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, slack = setup
    start = NIGHT_DT - timedelta(hours=3)
    ravello.set_apps(
        [
            make_app(1, "flagged-lab", "Ada", running=2, publish_start=start),
            make_app(2, "stopped-lab", "Ada", running=0, stopped=2, publish_start=start),
            make_app(
                3,
                "exempt-lab",
                "Ada",
                running=1,
                publish_start=start,
                description="offhours-exempt: until 2026-12-24 demo",
            ),
            make_app(
                4,
                "typo-lab",
                "Ada",
                running=1,
                publish_start=start,
                description="offhours: Mon-Fry 08:00-18:00",
            ),
        ]
    )
    run = cli("explain", "--now", NIGHT, "--format", "json", env=env)
    assert run.code == 0, run.stderr
    by_name = {r["name"]: r for r in json.loads(run.stdout)["resources"]}
    assert by_name["flagged-lab"]["flagged"] is True
    assert by_name["stopped-lab"]["flagged"] is False
    assert by_name["exempt-lab"]["flagged"] is False
    assert by_name["exempt-lab"]["exempt_until"].startswith("2026-12-2")
    assert by_name["typo-lab"]["flagged"] is True
    assert any("Mon-Fry" in p for p in by_name["typo-lab"]["problems"])
    assert slack.messages == []
    text = cli("explain", "--now", NIGHT, env=env)
    assert text.code == 0 and "FLAGGED" in text.stdout
    # the time in the business-hours zone, as the reports give it, and in UTC
    assert text.stdout.startswith("At 2026-11-30 23:00 EST (04:00 UTC)\n")


def test_demo_shows_one_slack_message(cli: CliRun) -> None:
    run = cli("demo", "--now", NIGHT, "--labs", "12")
    assert run.code == 0, run.stderr
    assert "message 1 of 1" in run.stdout
    assert "training-lab-12" in run.stdout
    assert "Traceback" not in run.stderr


def test_now_defaults_to_the_current_time(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink]
) -> None:
    env, ravello, _ = setup
    ravello.set_apps(_labs(1))
    run = cli("explain", "--format", "json", env=env)
    assert run.code == 0, run.stderr
    stamp = datetime.fromisoformat(json.loads(run.stdout)["now"])
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)


def test_explain_shows_what_each_resource_costs(
    cli: CliRun, setup: tuple[dict[str, str], RavelloSimulator, SlackSink], tmp_path: Path
) -> None:
    # Before: explain rebuilt the pipeline by hand and dropped cost_per_vm_hour.
    env, ravello, slack = setup
    toml = tmp_path / "offhours.toml"
    toml.write_text(toml.read_text().replace("retries = 1", "retries = 1\ncost_per_vm_hour = 0.35"))
    start = NIGHT_DT - timedelta(hours=3)
    ravello.set_apps([make_app(1, "priced-lab", "Ada", running=3, publish_start=start)])
    run = cli("explain", "--now", NIGHT, "--format", "json", env=env)
    assert run.code == 0, run.stderr
    [resource] = json.loads(run.stdout)["resources"]
    # 3 × 0.35 is 1.0499999999999998 in floating point: JSON says 1.05
    assert (resource["name"], resource["hourly_cost"]) == ("priced-lab", 1.05)
    text = cli("explain", "--now", NIGHT, env=env)
    assert text.code == 0 and "$1.05" in text.stdout
    assert slack.messages == []


CONSOLE_JSON = '\n[[notifiers]]\ntype = "console"\nformat = "json"\n'


@pytest.mark.parametrize(
    ("console", "args", "shown"),
    [
        # No console notifier configured: the command's own terminal channel, as text.
        ("", [], "text"),
        ("", ["--format", "json"], "json"),
        # A configured console notifier is the terminal's delivery: its format, once.
        (CONSOLE_JSON, [], "json"),
        # --format is given to it, not added beside it.
        (CONSOLE_JSON, ["--format", "text"], "text"),
        (CONSOLE_JSON, ["--dry-run"], "json"),
        ("", ["--dry-run"], "text"),
    ],
)
def test_the_report_is_printed_once_in_the_chosen_format(
    cli: CliRun,
    setup: tuple[dict[str, str], RavelloSimulator, SlackSink],
    tmp_path: Path,
    console: str,
    args: list[str],
    shown: str,
) -> None:
    env, ravello, slack = setup
    with (tmp_path / "offhours.toml").open("a") as toml:
        toml.write(console)
    ravello.set_apps(_labs(2))
    run = cli("audit", "--now", NIGHT, *args, env=env)
    assert run.code == 0, run.stderr
    if shown == "json":
        # Nothing else on stdout: one JSON document (a dry run's previews go to stderr).
        assert len(json.loads(run.stdout)["findings"]) == 2
    else:
        # The report first, once; a dry run's previews after it.
        report = run.stdout.partition("\n--- dry run")[0]
        # (incident memory: both are new tonight)
        assert report.startswith("2 new — 2 labs running outside business hours"), run.stdout
        assert report.count("lab-000") == 1, run.stdout
    dry = "--dry-run" in args
    assert ("dry run: would send to notifier 'slack'" in run.stdout + run.stderr) is dry
    assert len(slack.messages) == (0 if dry else 1)
    assert_no_leak(run, slack)


@pytest.mark.parametrize(
    ("blocked", "args"),
    [
        ("typer", ["--help"]),
        ("rich", ["audit", "--help"]),
        # A command whose own tooling is in the extra, found missing only when it runs.
        ("tomlkit", ["deploy", "import-lambda-json", "lambda.json"]),
    ],
)
def test_without_the_cli_extra_one_line_names_the_fix(
    tmp_path: Path, blocked: str, args: list[str]
) -> None:
    (tmp_path / "lambda.json").write_text('{"name": "fn", "handler": "h.handler"}')
    # None in sys.modules makes every import of the name fail, as if it were not installed.
    code = (
        f"import sys; sys.modules[{blocked!r}] = None; sys.argv = ['offhours', *{args!r}]; "
        "from offhours.cli import main; main()"
    )
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "offhours: error: the command line needs the cli extra: pip install 'offhours[cli]'\n"
    )
    assert proc.stdout == ""


def test_help_imports_neither_boto3_nor_the_config_models_nor_the_deploy_tooling() -> None:
    # Every command's help is built, so every command module is imported. (pydantic itself is
    # not checked: typer imports it to support pydantic-typed parameters.)
    code = (
        "import sys\n"
        "from offhours.cli import main\n"
        "for args in (['--help'], ['audit', '--help'], ['deploy', 'plan', '--help'],\n"
        "             ['secrets', 'encrypt', '--help'], ['schedule', '--help']):\n"
        "    sys.argv = ['offhours', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, args\n"
        "heavy = ('boto3', 'botocore', 'holidays', 'tomlkit', 'offhours.config',\n"
        "         'offhours.deploy', 'offhours.secrets.aws')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)\n"
    )
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "[]"


@pytest.mark.cli_in_process
def test_version_short_help_and_shell_completion(cli: CliRun) -> None:
    from importlib.metadata import version

    shown = cli("--version")
    assert (shown.code, shown.stdout) == (0, f"offhours {version('offhours')}\n")
    for args in ([], ["audit"], ["state"], ["deploy", "plan"]):
        short, long = cli(*args, "-h"), cli(*args, "--help")
        assert short.code == long.code == 0
        assert short.stdout == long.stdout and short.stdout.startswith("Usage: offhours")
    # The shell is found among the parent processes (as at a prompt): run under a bash that
    # stays the parent (a trailing command keeps bash from exec-ing offhours in its place).
    completion = subprocess.run(  # noqa: S603 - bash from PATH, this interpreter, fixed arguments
        [
            shutil.which("bash") or "/bin/bash",
            "-c",
            f"{sys.executable} -m offhours --show-completion; true",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completion.returncode == 0 and "_offhours_completion" in completion.stdout
