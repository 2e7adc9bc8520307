"""Bad inputs about schedules, zones and windows, through the real `offhours` command: each row
an argv and a config, the exit code and a fragment of what is said (and where)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator, make_app
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]
ENV = {"T_RAVELLO_USER": RAVELLO_USER, "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD}
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

CONFIG = """
[hours]
timezone = "{timezone}"
{hours}

[hours.holidays]
country = "US"

[deploy]
{deploy}

[memory]
store = "off"

[[sources]]
type = "ravello"
base_url = "{base_url}"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
retries = 1
"""


def config(
    tmp_path: Path,
    *,
    timezone: str = "America/New_York",
    hours: str = "",
    deploy: str = "",
    base_url: str = "http://127.0.0.1:9/api/v1",
) -> None:
    text = CONFIG.format(timezone=timezone, hours=hours, deploy=deploy, base_url=base_url)
    (tmp_path / "offhours.toml").write_text(text)


# (argv, [hours], [deploy], timezone, exit code, fragment of stderr)
ROWS = [
    # windows that start where they end
    (
        ["check"],
        'start = "08:00"\nend = "08:00"',
        "",
        "America/New_York",
        2,
        'offhours.toml:2: hours: start and end are both "08:00", an empty working day; for the '
        'whole day write start = "00:00" and end = "24:00"',
    ),
    (
        ["check"],
        'start = "24:00"\nend = "18:00"',
        "",
        "America/New_York",
        2,
        'hours: start = "24:00" and end = "18:00": is not a time window',
    ),
    (
        ["check"],
        'windows = ["08:00-12:00", "13:00-13:00"]',
        "",
        "America/New_York",
        2,
        'hours.windows[1]: "13:00-13:00" is an empty window (it starts and ends at 13:00); '
        "for the whole day write 00:00-24:00",
    ),
    # schedules that never fire
    (
        ["check"],
        "",
        'schedule = "cron(0 0 30 2 ? *)"',
        "America/New_York",
        2,
        'deploy.schedule: "cron(0 0 30 2 ? *)" never fires: February has no 30th',
    ),
    (
        ["check"],
        "",
        'schedule = "cron(0 0 31 4,6 ? *)"',
        "America/New_York",
        2,
        "never fires: April and June have no 31st",
    ),
    (
        ["check"],
        "",
        'schedule = "at(2020-01-01T00:00:00)"',
        "America/New_York",
        2,
        'deploy.schedule: "at(2020-01-01T00:00:00)" is in the past (now is ',
    ),
    (
        ["check"],
        "",
        'digest_schedule = "cron(0 9 ? * MON 2020)"',
        "America/New_York",
        2,
        'deploy.digest_schedule: "cron(0 9 ? * MON 2020)" never fires again: its last year, '
        "2020, has passed",
    ),
    (
        ["deploy", "plan"],
        "",
        'schedule = "at(2020-01-01T00:00:00)"',
        "America/New_York",
        2,
        'deploy.schedule: "at(2020-01-01T00:00:00)" is in the past',
    ),
    (
        ["schedule", "cron(0 0 31 4 ? *)"],
        "",
        "",
        "America/New_York",
        2,
        "offhours: error: cron(0 0 31 4 ? *) never fires: April has no 31st",
    ),
    (
        ["schedule", "at(2020-01-01T00:00:00)", "--tz", "Europe/London"],
        "",
        "",
        "America/New_York",
        2,
        "at(2020-01-01T00:00:00) is in the past (now is ",
    ),
    (
        ["schedule", "cron(0 0 ? * MON 2020)"],
        "",
        "",
        "America/New_York",
        2,
        "cron(0 0 ? * MON 2020) never fires again: its last year, 2020, has passed",
    ),
    (
        ["schedule", "at(2027-03-14T02:30:00)", "--tz", "America/New_York"],
        "",
        "",
        "America/New_York",
        2,
        "never fires: 2027-03-14 02:30 does not exist in America/New_York",
    ),
    # zones written as abbreviations or offsets
    (
        ["check"],
        "",
        "",
        "PST",
        2,
        'hours.timezone: "PST" is not a known time zone (IANA name such as Europe/London or '
        "America/New_York); did you mean America/Los_Angeles?",
    ),
    (["check"], "", "", "UTC-5", 2, "is a UTC offset, not a time zone"),
    (["schedule", "rate(1 hour)", "--tz", "PST"], "", "", "UTC", 2, "America/Los_Angeles"),
    (["schedule", "rate(1 hour)", "--tz", "UTC-5"], "", "", "UTC", 2, "Etc/GMT+5"),
    # valid but likely not meant: a warning, exit 0
    (
        ["check"],
        "",
        "",
        "EST",
        0,
        'warning: offhours.toml: hours.timezone: "EST" is a fixed offset, UTC-05:00 all year, '
        "with no daylight saving time; to follow a region's clocks write its IANA name, e.g. "
        "America/New_York",
    ),
    (
        ["check"],
        "",
        'timezone = "EST5EDT"',
        "America/New_York",
        0,
        'deploy.timezone: "EST5EDT" is a legacy POSIX-style zone',
    ),
    (
        ["schedule", "cron(0 18 ? * MON-FRI *)", "--tz", "MST"],
        "",
        "",
        "UTC",
        0,
        'warning: --tz "MST" is a fixed offset, UTC-07:00 all year',
    ),
    # the classic UTC rule against New York hours
    (
        ["check"],
        "",
        'scheduler = "rule"',
        "America/New_York",
        0,
        "warning: offhours.toml: deploy.schedule cron(0 18-23 ? * MON-FRI *): ",
    ),
    (
        ["check"],
        "",
        'scheduler = "rule"',
        "America/New_York",
        0,
        "fall inside business hours (Mon-Fri 08:00-18:00 America/New_York), when nothing is "
        "flagged",
    ),
    (
        ["check"],
        "",
        'scheduler = "rule"',
        "America/New_York",
        0,
        "a classic EventBridge rule reads cron() times in UTC",
    ),
    (
        ["check"],
        "",
        'schedule = "cron(0 22 ? * MON-THU *)"',
        "America/New_York",
        0,
        "no run falls in the off-hours Fri 18:00 – Mon 08:00 (America/New_York",
    ),
]


@pytest.mark.parametrize(("argv", "hours", "deploy", "timezone", "code", "fragment"), ROWS)
def test_bad_input(
    cli: CliRun,
    tmp_path: Path,
    argv: list[str],
    hours: str,
    deploy: str,
    timezone: str,
    code: int,
    fragment: str,
) -> None:
    config(tmp_path, timezone=timezone, hours=hours, deploy=deploy)
    run = cli(*argv)
    assert run.code == code, run.stderr
    assert fragment in run.stderr
    if code == 2:
        assert run.stderr.startswith("offhours: error: ")


def test_a_sound_configuration_has_no_warning(cli: CliRun, tmp_path: Path) -> None:
    config(tmp_path, hours='windows = ["08:00-12:00", "13:00-18:00"]')
    # the secrets it refers to are set, as they would be before an audit
    run = cli("check", env={"T_RAVELLO_USER": "u", "T_RAVELLO_PASSWORD": "p"})
    assert run.code == 0, run.stderr
    assert "warning" not in run.stderr


def test_audit_prints_the_zone_warning(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator
) -> None:
    ravello.set_apps([make_app(1, "lab-1", "Ann", publish_start=START)])
    config(tmp_path, timezone="EST", base_url=ravello.base_url)
    run = cli("audit", "--dry-run", "--now", "2026-12-01T23:00:00-05:00", env=ENV)
    assert run.code == 0, run.stderr
    assert 'hours.timezone: "EST" is a fixed offset' in run.stderr
    assert "lab-1" in run.stdout


def test_a_tag_in_a_fixed_offset_zone_is_a_problem_and_applies(
    cli: CliRun, tmp_path: Path, ravello: RavelloSimulator
) -> None:
    tag = "offhours: Mon-Fri 08:00-23:30 EST"
    ravello.set_apps([make_app(1, "lab-1", "Ann", publish_start=START, description=tag)])
    config(tmp_path, base_url=ravello.base_url)
    run = cli("explain", "--now", "2026-12-01T23:00:00-05:00", env=ENV)
    assert run.code == 0, run.stderr
    assert '"EST" is a fixed offset' in run.stdout
    assert "the tag applies" in run.stdout
    assert "FLAGGED" not in run.stdout  # its own hours run to 23:30
