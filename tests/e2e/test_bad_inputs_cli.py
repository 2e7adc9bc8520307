"""Bad input at the command line itself: each row an argv (and environment) → exit code and
message, in the one error style: every stderr line is ``offhours: error: …`` or the one
``Run 'offhours X -h' for help.`` line."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]

CONFIG = """
[hours]
timezone = "America/New_York"

[[sources]]
type = "ravello"
base_url = "{base_url}"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
retries = 0
"""

RUN_LINE = re.compile(r"Run 'offhours( [a-z-]+)* -h' for help\.")

ROWS = [
    # unknown option, with and without a close one
    (["audit", "--formt", "json"], {}, "no such option --formt (did you mean --format?)"),
    (["audit", "-x"], {}, "no such option -x"),
    (["deploy", "plan", "--no-indx"], {}, "no such option --no-indx (did you mean --no-index?)"),
    (["audi"], {}, "no such command 'audi' (did you mean audit?)"),
    (["state", "nope"], {}, "no such command 'nope'"),
    # bad values, as click parses them
    (["audit", "--format", "xml"], {}, "--format xml is not one of: text, json"),
    (["digest", "--format", "xml"], {}, "--format xml is not one of: text, json, slack"),
    (["demo", "--source", "gcp"], {}, "--source gcp is not one of: ravello, aws"),
    (["schedule", "rate(1 hour)", "--count", "abc"], {}, "--count abc is not a whole number"),
    (["schedule", "rate(1 hour)", "--count", "0"], {}, "--count must be from 1 to 100, not 0"),
    (["audit", "--deadline", "soon"], {}, "--deadline soon is not a number"),
    (["incidents", "--limit", "0"], {}, "--limit must be 1 or more, not 0"),
    (["audit", "--dry-run=yes"], {}, "option '--dry-run' does not take a value"),
    # something missing
    (["resolve"], {}, "missing argument KEY (a resource or incident key, as reports show it)"),
    (["schedule"], {}, "missing argument EXPRESSION (an EventBridge schedule"),
    (["secrets", "encrypt"], {}, "missing option --key (KMS key: alias/NAME, key id or ARN)"),
    (["audit", "--now"], {}, "--now needs a value"),
    (["deploy", "plan", "-c"], {}, "-c needs a value"),
    # the config file: the same words whichever named it, naming which did
    (["audit", "-c", "missing.toml"], {}, "missing.toml: no such file (named by --config)"),
    (["check"], {"OFFHOURS_CONFIG": "missing.toml"}, "(named by $OFFHOURS_CONFIG)"),
    (["check", "-c", "conf.d"], {}, "conf.d: a directory, not a file (named by --config)"),
    (["audit"], {"OFFHOURS_CONFIG": "conf.d"}, "conf.d: a directory, not a file (named by $OF"),
    # --now refused, with forms that work
    (["audit", "--now", "yesterday"], {}, "--now 'yesterday' is not an ISO-8601 time; write e.g."),
    (["audit", "--now", "2026-11-30x23:00"], {}, "2026-11-26T22:00Z, 2026-11-26T17:00-05:00, or"),
    (["explain", "--now", "2026-13-01"], {}, "(read in America/New_York)"),
    (["schedule", "rate(1 hour)", "--now", "noon"], {}, "2026-11-26T22:00 (read in UTC)"),
]


@pytest.fixture
def here(tmp_path: Path, ravello: RavelloSimulator) -> Path:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(base_url=ravello.base_url))
    (tmp_path / "conf.d").mkdir()
    return tmp_path


def one_style(run: Run) -> None:
    """Every stderr line in the one error style; nothing on stdout."""
    lines = run.stderr.splitlines()
    assert lines, "an error says something"
    assert lines[0].startswith("offhours: error: "), run.stderr
    for line in lines[1:]:
        assert line.startswith("offhours: error: ") or RUN_LINE.fullmatch(line), run.stderr
    assert run.stdout == ""
    for click_said in ("Usage:", "Error:", "Try '", "Input should", "Value error", "╭"):
        assert click_said not in run.stderr


@pytest.mark.parametrize(("args", "env", "message"), ROWS, ids=[" ".join(r[0]) for r in ROWS])
def test_bad_input_exits_2_in_the_one_style(
    cli: CliRun, here: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    run = cli(*args, env=env)
    assert run.code == 2, run.stderr
    assert message in run.stderr
    one_style(run)


def test_a_usage_error_says_where_to_get_help(cli: CliRun) -> None:
    run = cli("deploy", "export", "--formt", "sam")
    assert run.stderr.splitlines()[-1] == "Run 'offhours deploy export -h' for help."


def test_the_config_path_is_reported_alike_from_the_flag_and_the_environment(
    cli: CliRun, here: Path
) -> None:
    for name in ("missing.toml", "conf.d"):
        flag = cli("audit", "-c", name).stderr
        env = cli("audit", env={"OFFHOURS_CONFIG": name}).stderr
        assert flag.replace("--config", "$OFFHOURS_CONFIG") == env


@pytest.mark.parametrize(
    ("now", "seen"),
    [
        ("2026-11-30T23:00", "2026-11-30T23:00:00-05:00"),  # in the [hours] zone
        ("2026-11-30 23:00:00", "2026-11-30T23:00:00-05:00"),
        ("2026-11-30", "2026-11-30T00:00:00-05:00"),  # a date: its midnight there
        ("2026-11-30Z", "2026-11-30T00:00:00+00:00"),  # a date at UTC's midnight
        ("2026-11-30+01:00", "2026-11-30T00:00:00+01:00"),  # not 01:00 on that day
        ("2026-11-30T23:00:00-05:00", "2026-11-30T23:00:00-05:00"),
        ("2026-12-01T04:00Z", "2026-12-01T04:00:00+00:00"),
    ],
)
def test_now_without_a_zone_is_read_in_the_hours_zone(
    cli: CliRun, here: Path, now: str, seen: str
) -> None:
    env = {"T_RAVELLO_USER": RAVELLO_USER, "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD}
    run = cli("explain", "--format", "json", "--now", now, env=env)
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["now"] == seen


def test_schedule_reads_a_zoneless_now_in_its_tz(cli: CliRun) -> None:
    run = cli(
        "schedule",
        "cron(0 0 * * ? *)",
        "--tz",
        "America/New_York",
        "--now",
        "2026-11-30",
        "--count",
        "1",
    )
    assert run.code == 0, run.stderr
    assert "Tue 2026-12-01 00:00 EST  =  05:00 UTC" in run.stdout


def test_an_empty_stdin_encrypts_nothing(cli: CliRun) -> None:
    run = cli("secrets", "encrypt", "--key", "alias/offhours", stdin="")
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr == "offhours: error: nothing to encrypt: the input is empty\n"


# ---------------------------------------------------------------- Ctrl-D at a hidden prompt


def _in_a_terminal(
    args: list[str], keys: bytes, cwd: Path, deadline: float = 30
) -> tuple[int, str]:
    """Run ``offhours ARGS`` with a pseudo-terminal as its controlling terminal (getpass reads
    /dev/tty), type ``keys`` once it prompts, and return its exit code and everything shown."""
    import fcntl
    import pty
    import termios

    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFHOURS_")}
    proc = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        [sys.executable, "-m", "offhours", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=cwd,
        env=env,
        start_new_session=True,  # a session of its own, whose controlling terminal is this
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(terminal)
    shown, typed, end = b"", False, time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the terminal closed: the command has exited
                    break
                if not chunk:
                    break
                shown += chunk
            if not typed and b"(input hidden): " in shown:
                os.write(controller, keys)
                typed = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    return code, shown.decode("utf-8", "replace")


@pytest.mark.cli_in_process(False)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux pseudo-terminal")
def test_ctrl_d_at_the_hidden_prompt_cancels_cleanly(tmp_path: Path) -> None:
    code, shown = _in_a_terminal(
        ["secrets", "encrypt", "--key", "alias/offhours"], b"\x04", tmp_path
    )
    assert "Secret to encrypt (input hidden): " in shown
    assert code == 130, shown
    assert shown.rstrip().endswith("offhours: cancelled")
    for wrong in ("Traceback", "internal error", "EOFError", "kms:"):
        assert wrong not in shown
