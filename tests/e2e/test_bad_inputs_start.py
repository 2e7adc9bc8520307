"""Bad inputs when installing and starting: each row is a command line (and the
files there before it), the exit code and a fragment of the one `offhours: error:` line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import Run

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]

# A complete set of answers; a row replaces or adds what it is about.
SOURCE = ("--source", "ravello", "--user", "env:RAVELLO_USER", "--password", "env:RAVELLO_PW")
SLACK = ("--slack-webhook", "env:SLACK_WEBHOOK_URL")
WEBHOOK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


class Row(NamedTuple):
    argv: tuple[str, ...]
    code: int
    fragment: str
    files: dict[str, str] = {}  # noqa: RUF012 - read only
    env: dict[str, str] = {}  # noqa: RUF012 - read only
    hidden: str = ""  # what must never be shown (a secret given where a reference belongs)


ROWS = {
    "no config: points at init": Row(
        ("check",), 2, "offhours.toml: no such file; create it with `offhours init`, or point"
    ),
    "no config through -c": Row(
        ("audit", "-c", "elsewhere.toml"),
        2,
        "elsewhere.toml: no such file (named by --config); check the path, or write one "
        "with: offhours init",
    ),
    "no config through OFFHOURS_CONFIG": Row(
        ("explain",),
        2,
        "gone.toml: no such file (named by $OFFHOURS_CONFIG); check the path, or write "
        "one with: offhours init",
        env={"OFFHOURS_CONFIG": "gone.toml"},
    ),
    "init without answers": Row(
        ("init",),  # no terminal, no flags: nothing to go on (--yes takes the defaults)
        2,
        "init needs --source (ravello or aws), --slack-webhook REF (or --channel console); "
        "give them, or run `offhours init` at a terminal (or with --interactive)",
    ),
    "init ravello without its secrets": Row(
        ("init", "--source", "ravello", *SLACK), 2, "init needs --user REF, --password REF"
    ),
    "init slack without a webhook": Row(
        ("init", *SOURCE, "--channel", "slack"), 2, "init needs --slack-webhook REF"
    ),
    "init unknown source": Row(
        ("init", "--source", "azure", *SLACK), 2, "--source: source 'azure' is not one of: ravello"
    ),
    "init unknown channel": Row(
        ("init", *SOURCE, "--channel", "teams"), 2, "--channel: channel 'teams' is not one of"
    ),
    "init bad time zone": Row(
        ("init", *SOURCE, *SLACK, "--timezone", "Mars/Base"),
        2,
        "--timezone: 'Mars/Base' is not a known time zone (IANA name such as Europe/London",
    ),
    "init misspelt time zone": Row(
        ("init", *SOURCE, *SLACK, "--timezone", "Europe/Londn"),
        2,
        "did you mean Europe/London?",
    ),
    "init unknown country": Row(
        ("init", *SOURCE, *SLACK, "--country", "XX"),
        2,
        "--country: unknown country 'XX'; use an ISO 3166-1 alpha-2 code such as US, GB, DE",
    ),
    "init a password instead of a reference": Row(
        ("init", *SOURCE, *SLACK, "--password", "hunter2-hunter2"),
        2,
        "error: --password takes a reference to the secret, not the secret itself: write env:NAME",
        hidden="hunter2-hunter2",
    ),
    "init a webhook instead of a reference": Row(
        ("init", *SOURCE, "--slack-webhook", WEBHOOK),
        2,
        "error: --slack-webhook takes a reference to the secret, not the secret itself",
        hidden="XXXXXXXXXXXXXXXXXXXXXXXX",
    ),
    "init a webhook after env:": Row(
        ("init", *SOURCE, "--slack-webhook", f"env:{WEBHOOK}"),
        2,
        "error: --slack-webhook: env: takes an environment variable's name",
        hidden="XXXXXXXXXXXXXXXXXXXXXXXX",
    ),
    "init bad region": Row(
        ("init", "--source", "aws", "--channel", "console", "--regions", "us-east-1,moon-1"),
        2,
        "--regions: 'moon-1' is not an AWS region name (like eu-west-1",
    ),
    "init ravello url not http": Row(
        ("init", *SOURCE, *SLACK, "--ravello-url", "ftp://ravello.example.com"),
        2,
        "--ravello-url: 'ftp://ravello.example.com' is not an http(s) URL",
    ),
    "init ravello url in clear": Row(
        ("init", *SOURCE, *SLACK, "--ravello-url", "http://ravello.example.com/api/v1"),
        2,
        "--ravello-url: 'http://ravello.example.com/api/v1' is plain http",
    ),
    "init ravello url with credentials": Row(
        ("init", *SOURCE, *SLACK, "--ravello-url", "https://me:hunter2-hunter2@r.example.com"),
        2,
        "--ravello-url: the URL has credentials written into it",
        hidden="hunter2-hunter2",
    ),
    "init asked and not asked": Row(
        ("init", "--interactive", "--yes"), 2, "--interactive and --yes contradict each other"
    ),
    "init over an existing file": Row(
        ("init", *SOURCE, *SLACK),
        2,
        "offhours.toml already exists; keep it, or pass --force to replace it",
        files={"offhours.toml": "# mine\n"},
    ),
    "init into a missing directory": Row(
        ("init", *SOURCE, *SLACK, "-o", "nowhere/offhours.toml"),
        2,
        "nowhere/offhours.toml: cannot write it (No such file or directory)",
    ),
    "init unknown example": Row(
        ("init", "--example", "nope"),
        2,
        "--example 'nope' is not a shipped example: full, minimal, aws, aws-secrets",
    ),
    "init example with answers": Row(
        ("init", "--example", "full", "--source", "aws"),
        2,
        "--example writes the example as it is; give no other answers",
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_bad_input(cli: CliRun, tmp_path: Path, row: Row) -> None:
    for name, text in row.files.items():
        (tmp_path / name).write_text(text)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    run = cli(*row.argv, env=dict(row.env))
    assert run.code == row.code, (run.stdout, run.stderr)
    assert run.stderr.startswith("offhours: error: "), run.stderr
    assert row.fragment in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    if row.hidden:
        assert row.hidden not in run.stdout + run.stderr
    # A refused init writes nothing, and leaves what was there.
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before
