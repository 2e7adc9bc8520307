"""Bad input the parser cannot see (a time that does not parse, no target, an option that
needs another): exit 2 in the one error style, ending with where the command's help is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator
from tests.conftest import Run
from tests.e2e.test_bad_inputs_cli import CONFIG, one_style

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]
KEY = "ravello/acct/us-east-1/application/1"

ROWS = [
    (["audit", "--now", "yesterday"], "--now 'yesterday' is not an ISO-8601 time", "audit"),
    (["explain", "--now", "2026-13-01"], "(read in America/New_York)", "explain"),
    (["schedule", "rate(1 hour)", "--now", "noon"], "--now 'noon' is not", "schedule"),
    (["incidents", "--since", "last week"], "--since 'last week' is not a time", "incidents"),
    (["snooze", KEY, "--until", "soon"], "--until 'soon' is not a time", "snooze"),
    (["snooze", "--until", "2h"], "say what to snooze: one KEY or --group GROUP", "snooze"),
    (["snooze", KEY], "say until when: --until TIME", "snooze"),
    (["restore"], "say what to restore: one KEY, --group GROUP or --all", "restore"),
    (["digest", "--dry-run"], "--dry-run needs --send", "digest"),
]


@pytest.fixture
def here(tmp_path: Path, ravello: RavelloSimulator) -> Path:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(base_url=ravello.base_url))
    return tmp_path


@pytest.mark.parametrize(("args", "message", "command"), ROWS, ids=[" ".join(r[0]) for r in ROWS])
def test_a_bad_value_says_where_the_help_is(
    cli: CliRun, here: Path, args: list[str], message: str, command: str
) -> None:
    run = cli(*args)
    assert run.code == 2, run.stderr
    assert message in run.stderr
    one_style(run)
    assert run.stderr.splitlines()[-1] == f"Run 'offhours {command} -h' for help."
