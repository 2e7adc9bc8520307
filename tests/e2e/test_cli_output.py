"""What a newcomer sees on the terminal: receipts after delivery, one error prefix, previews on
stdout, listings that fit 80 columns, a quiet broken pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from offhours.cli.exits import EXIT_PIPE
from offhours.incidents import Incident
from offhours.testing.ravello import RavelloSimulator
from offhours.testing.slack import SlackSink
from tests.conftest import Run
from tests.e2e.test_cli import NIGHT, _labs, assert_no_leak
from tests.e2e.test_cli import setup as setup  # the fixture, shared
from tests.e2e.test_cli_memory import NOW_ISO, seed
from tests.e2e.test_cli_memory import db as db  # the fixture, shared
from tests.e2e.test_cli_memory import incident as memory_incident

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]
Setup = tuple[dict[str, str], RavelloSimulator, SlackSink]


# ---------------------------------------------------------------- receipts


def test_a_real_audit_says_where_it_sent_the_report(cli: CliRun, setup: Setup) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    run = cli("audit", "--now", NIGHT, env=env)
    assert run.code == 0, run.stderr
    assert len(slack.messages) == 1
    assert "offhours: report sent to notifier 'slack' (slack, 1 message)" in run.stderr
    assert "sent to notifier 'console'" not in run.stderr  # the report on stdout is its own
    assert_no_leak(run, slack)


def test_a_run_with_nothing_new_says_so(cli: CliRun, setup: Setup) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    assert cli("audit", "--now", NIGHT, env=env).code == 0
    again = cli("audit", "--now", NIGHT, "--run-id", "again", env=env)
    assert again.code == 0, again.stderr
    assert len(slack.messages) == 1
    assert "offhours: nothing sent to notifier 'slack': nothing new to tell" in again.stderr


def test_json_carries_the_receipts_and_never_the_webhook(cli: CliRun, setup: Setup) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    run = cli("audit", "--now", NIGHT, "--format", "json", env=env)
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)  # still one document
    assert len(doc["findings"]) == 2
    [receipt] = doc["receipts"]
    assert receipt | {"messages": None} == {
        "notifier": "slack",
        "type": "slack",
        "sent": 1,
        "planned": 1,
        "dry_run": False,
        "error": None,
        "messages": None,
    }
    assert [m["index"] for m in receipt["messages"]] == [1]
    assert "hooks" not in json.dumps(receipt) and slack.url not in run.stdout
    assert "report sent to notifier 'slack'" in run.stderr
    assert_no_leak(run, slack)


def test_a_failed_delivery_is_an_error_line_and_a_receipt(cli: CliRun, setup: Setup) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    slack.inject(body="channel_not_found", status=404, count=5)
    run = cli("audit", "--now", NIGHT, "--format", "json", env=env)
    assert run.code == 1
    assert "offhours: error: notifier 'slack': " in run.stderr
    assert "report sent" not in run.stderr
    [receipt] = json.loads(run.stdout)["receipts"]
    assert receipt["sent"] == 0 and "channel_not_found" in receipt["error"]
    assert_no_leak(run, slack)


def test_a_dry_run_has_no_receipt_line_and_json_says_dry_run(cli: CliRun, setup: Setup) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(2))
    run = cli("audit", "--now", NIGHT, "--dry-run", "--format", "json", env=env)
    assert run.code == 0, run.stderr
    [receipt] = json.loads(run.stdout)["receipts"]
    assert (receipt["dry_run"], receipt["sent"]) == (True, 0)
    assert "sent to notifier" not in run.stderr
    assert slack.messages == []


# ---------------------------------------------------------------- one error prefix


@pytest.mark.parametrize("command", ["audit", "explain"])
def test_a_failed_source_reads_as_an_error(cli: CliRun, setup: Setup, command: str) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(1))
    ravello.inject("401", count=10)
    run = cli(command, "--now", NIGHT, env=env)
    assert run.code == 1
    assert "offhours: error: source 'ravello': " in run.stderr
    assert_no_leak(run, slack)


# ---------------------------------------------------------------- a closed pipe


@pytest.mark.cli_in_process(False)  # a real pipe, closed by its reader
def test_a_reader_that_goes_away_ends_the_run_quietly_with_141(
    tmp_path: Path, setup: Setup
) -> None:
    env, ravello, slack = setup
    ravello.set_apps(_labs(600))  # far more than a pipe's buffer
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OFFHOURS_")} | env
    proc = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        [sys.executable, "-m", "offhours", "audit", "--now", NIGHT, "--dry-run"],
        cwd=tmp_path,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == EXIT_PIPE, stderr
    assert first.strip()
    assert stderr == ""  # no traceback, no "error", no "Exception ignored"
    assert slack.messages == []


# ---------------------------------------------------------------- incidents, at any width


def _long(n: int) -> Incident:
    return memory_incident(
        n,
        name=f"Quarterly business review demo environment {n} for the EMEA partner summit",
        owner="Katherine Johnson <katherine.johnson@example.com>",
        group="field-engineering-emea-partner-enablement",
        action="stopped by offhours at 23:30",
    )


@pytest.mark.cli_in_process(False)  # the width is read when the console is made
@pytest.mark.parametrize("columns", ["80", None], ids=["COLUMNS=80", "a pipe"])
def test_incidents_fit_80_columns_with_each_key_whole(
    cli: CliRun, db: Path, columns: str | None
) -> None:
    aws = "aws/123456789012/eu-west-1/aws.sagemaker.notebook-instance/quarterly-review-notebook"
    found = [_long(n) for n in range(1, 3)]
    found.append(replace(_long(3), key=f"{aws}@2026-11-30T23:00:00Z", resource_key=aws))
    assert len(found[-1].key) > 80  # an AWS key: longer than the line, never broken
    seed(db, found)
    run = cli("incidents", "--now", NOW_ISO, env={"COLUMNS": columns} if columns else {})
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    keys = {i.key for i in found}
    for line in lines:
        # longer only where nothing can break: a key, the store's path
        assert len(line) <= 80 or line in keys or line == str(db), line
    for i in found:
        assert i.key in lines  # on a line of its own, to be copied whole
    text = " ".join(run.stdout.split())
    for i in found:
        assert i.name in text
    assert text.count("Katherine Johnson <katherine.johnson@example.com>") == 3
    assert "opened 2026-11-30 18:05 EST" in text and "$7.50" in text
    assert "open (stopped by offhours at 23:30)" in text
