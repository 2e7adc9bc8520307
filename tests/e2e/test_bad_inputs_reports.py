"""Reports' inputs at the command line: each row a config → exit code and message (the Slack
notifier's ``rollup_above``, ``allow_plaintext_secrets``); what ``check`` summarises of
``[deploy]``; ``explain`` at 80 columns and in a pipe."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator, make_app
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]

BASE = """
[hours]
timezone = "America/New_York"

[[sources]]
type = "ravello"
base_url = "http://127.0.0.1:9/api/v1"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
"""

SLACK = """
[[notifiers]]
type = "slack"
webhook_url = "env:T_SLACK_URL"
"""

ROWS = [
    # rollup_above: a whole number of findings, 0 for never
    (SLACK + "rollup_above = -1\n", 2, "notifiers[0].rollup_above"),
    (SLACK + 'rollup_above = "many"\n', 2, "notifiers[0].rollup_above"),
    (SLACK + "rollup_above = 2.5\n", 2, "notifiers[0].rollup_above"),
    (SLACK + "rollup_above = 0\n", 0, "notifier:  slack (slack)"),
    (SLACK + "rollup_above = 50\n", 0, "notifier:  slack (slack)"),
    # allow_plaintext_secrets: which keys rely on it, or that none does
    (
        "allow_plaintext_secrets = true\n"
        + BASE.replace('"env:T_RAVELLO_PASSWORD"', '"XXXX-not-a-real-password"'),
        0,
        "warning: offhours.toml: allow_plaintext_secrets = true, and sources[0].password holds "
        "a plaintext secret; outside experiments, write an env:, file:, kms:, ssm: or "
        "secretsmanager: reference instead",
    ),
    (
        "allow_plaintext_secrets = true\n"
        + BASE.replace('"env:T_RAVELLO_PASSWORD"', '"XXXX-not-real"').replace(
            '"env:T_RAVELLO_USER"', '"XXXX-user"'
        ),
        0,
        "sources[0].username, sources[0].password hold plaintext secrets",
    ),
    (
        "allow_plaintext_secrets = true\n" + BASE,
        0,
        "allow_plaintext_secrets = true, but no key holds a plaintext secret; remove the line",
    ),
]


@pytest.mark.parametrize(("extra", "code", "message"), ROWS)
def test_check_rows(cli: CliRun, tmp_path: Path, extra: str, code: int, message: str) -> None:
    text = extra if extra.startswith("allow_plaintext") else BASE + extra
    (tmp_path / "offhours.toml").write_text(text)
    run = cli("check")
    assert run.code == code, (run.stdout, run.stderr)
    assert message in (run.stderr if code or "warning" in message else run.stdout + run.stderr)
    assert "Traceback" not in run.stderr
    assert "XXXX" not in run.stdout + run.stderr  # a plaintext secret is named, never shown


def test_check_without_plaintext_secrets_warns_about_none(cli: CliRun, tmp_path: Path) -> None:
    (tmp_path / "offhours.toml").write_text(BASE + SLACK)
    run = cli("check")
    assert run.code == 0, run.stderr
    assert "plaintext" not in run.stderr


@pytest.mark.parametrize(
    ("deploy", "env", "lines"),
    [
        (
            "",
            {"AWS_REGION": "eu-west-1"},
            [
                "  deploy:    offhours-audit in eu-west-1 (from the environment); 128 MB, "
                "timeout 60 s",
                "  schedule:  cron(0 18-23 ? * MON-FRI *) in America/New_York "
                "(EventBridge Scheduler)",
                "  role:      created by deploy",
                "  key:       created by deploy (alias/offhours/offhours-audit)",
            ],
        ),
        (
            '[deploy]\nfunction_name = "lab-audit"\nregion = "us-east-2"\nmemory = 256\n'
            'timeout = 120\nschedule = "cron(0 23 ? * MON-FRI *)"\nscheduler = "rule"\n'
            'role_arn = "arn:aws:iam::123456789012:role/ops"\n'
            'digest_schedule = "cron(0 9 ? * MON *)"\n',
            {},
            [
                "  deploy:    lab-audit in us-east-2; 256 MB, timeout 120 s",
                "  schedule:  cron(0 23 ? * MON-FRI *) in UTC (a classic EventBridge rule)",
                "  digest:    cron(0 9 ? * MON *) in UTC (a classic EventBridge rule)",
                "  role:      brought in: arn:aws:iam::123456789012:role/ops",
                "  key:       created by deploy (alias/offhours/lab-audit)",
            ],
        ),
        (
            '[deploy]\ntimezone = "Europe/London"\n'
            'key_arn = "arn:aws:kms:us-east-1:123456789012:key/'
            '1234abcd-12ab-34cd-56ef-1234567890ab"\n',
            {},
            [
                "  deploy:    offhours-audit in the AWS profile's region (no [deploy] region or "
                "AWS_REGION); 128 MB, timeout 60 s",
                "  schedule:  cron(0 18-23 ? * MON-FRI *) in Europe/London (EventBridge Scheduler)",
                "  key:       brought in: arn:aws:kms:us-east-1:123456789012:key/"
                "1234abcd-12ab-34cd-56ef-1234567890ab",
            ],
        ),
    ],
)
def test_check_summarises_deploy(
    cli: CliRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    deploy: str,
    env: dict[str, str],
    lines: list[str],
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "offhours.toml").write_text(BASE + deploy)
    run = cli("check")
    assert run.code == 0, run.stderr
    shown = run.stdout.splitlines()
    for line in lines:
        assert line in shown, (line, run.stdout)
    # Beside the memory summary.
    assert shown.index(lines[0]) == next(i for i, s in enumerate(shown) if "memory:" in s) + 1


# ---------------------------------------------------------------- explain at any width

NIGHT = "2026-11-30T23:00:00-05:00"
NIGHT_DT = datetime.fromisoformat(NIGHT)


def _explain_setup(tmp_path: Path, ravello: RavelloSimulator) -> dict[str, str]:
    config = BASE.replace("http://127.0.0.1:9/api/v1", ravello.base_url)
    (tmp_path / "offhours.toml").write_text(config + "cost_per_vm_hour = 0.35\nlist_vms = true\n")
    start = NIGHT_DT - timedelta(hours=3)
    long_name = "training-lab-for-the-kubernetes-advanced-networking-course-" + "x" * 40
    apps = [
        make_app(i, f"lab-{i}", f"Owner {i} <owner{i}@example.com>", publish_start=start)
        for i in range(1, 13)
    ]
    apps += [
        make_app(20, long_name, "Ada Lovelace-Byron <ada@example.com>", publish_start=start),
        make_app(
            21,
            "london-lab",
            "Grace",
            publish_start=start,
            description="offhours: Mon-Fri 09:00-17:00 Europe/London",
        ),
        make_app(22, "stopped-lab", "Grace", running=0, stopped=2, publish_start=start),
    ]
    ravello.set_apps(apps)
    return {"T_RAVELLO_USER": RAVELLO_USER, "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD}


@pytest.mark.cli_in_process(False)  # a real pipe, and COLUMNS read by a fresh process
@pytest.mark.parametrize("columns", [None, "80"])
def test_explain_fits_80_columns_and_says_the_default_schedule_once(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator, columns: str | None
) -> None:
    env = _explain_setup(tmp_path, ravello)
    if columns is not None:
        env["COLUMNS"] = columns
    run = cli("explain", "--now", NIGHT, env=env)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, run.stdout
    flat = " ".join(run.stdout.split())
    for i in range(1, 13):
        assert f"ravello/lab-{i} — Owner {i} <owner{i}@example.com>" in flat
    assert "training-lab-for-the-kubernetes" in flat and "stopped-lab" in flat
    # The default hours once, at the top; only the London lab's own schedule on its entry.
    assert flat.count("Mon-Fri 08:00-18:00 America/New_York") == 1
    assert run.stdout.count("schedule: ") == 1
    assert "schedule: Mon-Fri 09:00-17:00 Europe/London" in flat
    assert run.stdout.count("FLAGGED") == 14
    assert "$0.70/h" in flat


# ---------------------------------------------------------------- list_vms in the reports

HOSTILE_VM = "<!here> *db* \x1b]8;;https://evil.example\x07link"


def test_list_vms_names_show_in_text_and_slack(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator
) -> None:
    config = BASE.replace("http://127.0.0.1:9/api/v1", ravello.base_url)
    (tmp_path / "offhours.toml").write_text(
        config + "list_vms = true\n" + SLACK.replace("env:T_SLACK_URL", "env:T_HOOK")
    )
    start = NIGHT_DT - timedelta(hours=3)
    vms = [{"id": i, "name": f"node-{i}", "state": "STARTED"} for i in range(7)]
    vms.append({"id": 9, "name": HOSTILE_VM, "state": "STOPPED"})
    ravello.set_apps([make_app(1, "big-lab", "Ada", publish_start=start, vms=vms)])
    env = {
        "T_RAVELLO_USER": RAVELLO_USER,
        "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD,
        "T_HOOK": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    }
    run = cli("audit", "--now", NIGHT, "--dry-run", env=env)
    assert run.code == 0, run.stderr
    text, _, preview = run.stdout.partition("--- dry run")
    # Text: ten names, then how many more; the hostile one cleaned of its escape.
    assert "7 VMs: node-0, node-1, node-2, node-3, node-4, node-5, node-6," in text
    assert "<!here> *db* ]8;;https://evil.examplelink (stopped)" in text
    assert "\x1b" not in run.stdout and "\x07" not in run.stdout
    # Slack: five names and "+3 more", inside rich_text only.
    assert "7 VMs: node-0, node-1, node-2, node-3, node-4, +3 more" in preview
    assert "evil.example" not in preview


# ---------------------------------------------------------------- nothing could be read


def test_a_run_that_read_nothing_says_error_and_exits_1(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator
) -> None:
    config = BASE.replace("http://127.0.0.1:9/api/v1", ravello.base_url)
    (tmp_path / "offhours.toml").write_text(config + "retries = 0\n")
    ravello.inject("500", count=5)
    env = {"T_RAVELLO_USER": RAVELLO_USER, "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD}
    run = cli("audit", "--now", NIGHT, "--format", "json", env=env)
    assert run.code == 1, run.stderr
    doc = json.loads(run.stdout)
    # The same word as the Lambda summary's: not "partial" with nothing checked.
    assert (doc["status"], doc["totals"]["checked"]) == ("error", 0)
    assert "source 'ravello'" in run.stderr
