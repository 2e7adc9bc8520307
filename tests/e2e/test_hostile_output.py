"""Hostile text from the sources, through the real `offhours` command, never acts on a terminal
or in Slack: names, owners, descriptions and server error messages stay data.

The Ravello simulator serves applications whose names and owners carry escape sequences (OSC 8
links, colours, erase-line, set-title), C1 controls, bidi overrides, zero-width characters,
Rich markup and Slack mrkdwn; a purpose-built loopback server answers with a hostile
``ERROR-MESSAGE`` header. Each test runs the CLI in a subprocess and reads what it printed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offhours.testing._http import LoopbackHandler, LoopbackServer, read_body
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from tests.conftest import RAVELLO_PASSWORD, RAVELLO_USER, Run

CliRun = Callable[..., Run]

# Monday 2026-11-30 23:00 New York: off-hours, not a holiday.
NIGHT = "2026-11-30T23:00:00-05:00"
NIGHT_DT = datetime.fromisoformat(NIGHT)

ESC = "\x1b"
OSC8 = f"{ESC}]8;;https://evil.example/login{ESC}\\Reset password{ESC}]8;;{ESC}\\"
COLOUR = f"{ESC}[31;1mURGENT{ESC}[0m"
ERASE = f"fake{ESC}[2K{ESC}[1Greal"
TITLE = f"{ESC}]0;pwned{ESC}\\"
C1 = "\x9b2J"
RLO = "invoice\u202etxt.exe"
ZERO_WIDTH = "pay\u200bpal\u2060"
MARKUP_LINK = "[link=https://evil.example/login]click[/link]"
MARKUP_CRASH = "bad [/] markup"
SLACK_LINK = "<https://evil.example/login|Reset your password> *now* <!channel>"

NAMES = [OSC8, COLOUR, ERASE, TITLE, C1, RLO, ZERO_WIDTH, MARKUP_LINK, MARKUP_CRASH, SLACK_LINK]

CONFIG = """
[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"

[tags]
allow_always = false

[[sources]]
type = "ravello"
base_url = "{base_url}"
username = "env:T_RAVELLO_USER"
password = "env:T_RAVELLO_PASSWORD"
retries = 0
read_timeout = 2

[[notifiers]]
type = "slack"
webhook_url = "env:T_SLACK_URL"
max_wait = 5
"""


def unsafe(text: str) -> list[str]:
    """Characters a terminal would act on: controls (but newline), format, surrogates."""
    return sorted(
        {
            f"U+{ord(c):04X}"
            for c in text
            if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs")
        }
    )


def _apps() -> list[dict[str, Any]]:
    start = NIGHT_DT - timedelta(hours=6)
    apps = [
        make_app(500 + i, name, owner=f"{COLOUR} {RLO}", publish_start=start)
        for i, name in enumerate(NAMES)
    ]
    apps += [
        make_app(
            600,
            "dup-tags",
            "Dee",
            publish_start=start,
            description="offhours: always\nnotes\noffhours: never",
        ),
        make_app(
            601, "forever", "Fay", publish_start=start, description="offhours-exempt: 9999-12-30"
        ),
        make_app(602, "always-on", "Al", publish_start=start, description="offhours: always"),
        make_app(
            603,
            "kept",
            f"Kim{ESC}[8m",
            publish_start=start,
            description="offhours-exempt: until 2026-12-10 demo \u202ewon't show",
        ),
        make_app(604, "future", "Fred", publish_start=NIGHT_DT + timedelta(days=2)),
    ]
    return apps


@pytest.fixture
def env(tmp_path: Path, ravello: RavelloSimulator, slack: SlackSink) -> dict[str, str]:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(base_url=ravello.base_url))
    ravello.set_apps(_apps())
    return {
        "T_RAVELLO_USER": RAVELLO_USER,
        "T_RAVELLO_PASSWORD": RAVELLO_PASSWORD,
        "T_SLACK_URL": slack.url,
        "COLUMNS": "400",  # wide enough that no table cell wraps a name
    }


def assert_clean(run: Run) -> None:
    assert "Traceback" not in run.stderr
    assert unsafe(run.stdout) == [], run.stdout
    assert unsafe(run.stderr) == [], run.stderr


def test_explain_shows_hostile_names_as_plain_text(cli: CliRun, env: dict[str, str]) -> None:
    run = cli("explain", "--now", NIGHT, env=env)
    assert run.code == 0, run.stderr
    assert_clean(run)
    flat = " ".join(run.stdout.split())
    # Markup is data: shown literally (no link rendered, no MarkupError crash).
    assert "[link=https://evil.example/login]click[/link]" in flat
    assert MARKUP_CRASH in flat
    # The escape sequences lost their ESC (and RLO, zero-width) but their words remain.
    assert "invoicetxt.exe" in flat
    assert "paypal" in flat


def test_explain_on_a_colour_terminal_renders_no_link_title_or_erase(
    cli: CliRun, env: dict[str, str]
) -> None:
    run = cli("explain", "--now", NIGHT, env={**env, "FORCE_COLOR": "1"})
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    # Our own colours (the verdicts) are the only escape sequences: SGR, nothing else.
    leftover = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout)
    assert unsafe(leftover) == []
    assert f"{ESC}]" not in run.stdout  # no OSC: no link, no title
    assert "\x1b[31;1mURGENT" not in run.stdout
    assert "FLAGGED" in run.stdout


def test_explain_reports_the_tag_problems(cli: CliRun, env: dict[str, str]) -> None:
    run = cli("explain", "--now", NIGHT, "--format", "json", env=env)
    assert run.code == 0, run.stderr
    assert_clean(run)
    by_name = {r["name"]: r for r in json.loads(run.stdout)["resources"]}
    assert set(NAMES) <= set(by_name)  # exact data, escaped in the JSON text
    dup = by_name["dup-tags"]
    assert dup["flagged"]
    assert "written on 2 lines of the description with different values" in dup["problems"][0]
    forever = by_name["forever"]
    assert forever["flagged"] and "max_exemption_days = 30" in forever["problems"][0]
    always = by_name["always-on"]
    assert always["flagged"] and "allow_always = false" in always["problems"][0]
    assert by_name["kept"]["exempt_by"] == "exemption" and not by_name["kept"]["flagged"]
    future = by_name["future"]
    assert future["flagged"] and "is in the future" in future["problems"][0]


def test_audit_text_report_and_slack_message_keep_hostile_text_inert(
    cli: CliRun, env: dict[str, str], slack: SlackSink
) -> None:
    run = cli("audit", "--now", NIGHT, env=env)
    assert run.code == 0, run.stderr
    assert_clean(run)
    assert "Running but exempt (1): kept (Kim[8m, 2 VMs, until 2026-12-10 23:59)" in run.stdout
    # The sink (Slack's checks) accepted the message; user text only in rich_text elements.
    (message,) = slack.messages
    mrkdwn = [
        obj["text"]
        for block in message["blocks"]
        for obj in [block.get("text"), *block.get("elements", [])]
        if isinstance(obj, dict) and obj.get("type") == "mrkdwn"
    ]
    assert not any("evil" in t or "channel" in t for t in mrkdwn)
    rich = [
        e["text"]
        for block in message["blocks"]
        if block["type"] == "rich_text"
        for part in block["elements"]
        for e in part["elements"]
    ]
    assert "<https://evil.example/login|Reset your password> *now* <!channel>" in rich
    assert "<" not in message["text"]
    assert unsafe(json.dumps(message, ensure_ascii=False)) == []


def test_audit_json_keeps_names_exact_and_escaped(cli: CliRun, env: dict[str, str]) -> None:
    run = cli("audit", "--now", NIGHT, "--format", "json", "--dry-run", env=env)
    assert run.code == 0, run.stderr
    assert_clean(run)
    doc = json.loads(run.stdout)
    assert {f["name"] for f in doc["findings"]} >= set(NAMES)
    assert [e["name"] for e in doc["exempt"]] == ["kept"]
    assert "dry run: would send to notifier 'slack'" in run.stderr


# ---------------------------------------------------------------- a hostile server


class _Hostile(LoopbackHandler):
    """Refuses every request with an ERROR-MESSAGE full of terminal controls."""

    def _refuse(self) -> None:
        read_body(self)
        self.send_response(403)
        # Raw bytes as a server could send them; urllib3 reads header bytes as Latin-1, so the
        # UTF-8 of U+202E arrives as "â\x80®" (a C1 control among them).
        message = f"{OSC8} {COLOUR} {ERASE} {TITLE} \x9b2J {RLO} [link=x]y[/link] bad [/] markup"
        self._headers_buffer.append(
            b"ERROR-MESSAGE: " + message.encode("utf-8") + b"\r\nERROR-CODE: DENIED\r\n"
        )
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = _refuse
    do_POST = _refuse


@pytest.fixture
def hostile_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(_Hostile) as server:
        yield server


@pytest.mark.parametrize("command", ["audit", "explain"])
def test_a_hostile_error_message_reaches_the_terminal_inert(
    cli: CliRun, tmp_path: Path, env: dict[str, str], hostile_server: LoopbackServer, command: str
) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(base_url=hostile_server.url + "/api/v1"))
    args = ["--dry-run"] if command == "audit" else []
    run = cli(command, "--now", NIGHT, *args, env=env)
    assert run.code == 1, run.stderr
    assert_clean(run)
    assert "DENIED" in run.stderr
    assert "[link=x]y[/link] bad [/] markup" in run.stderr
    # The message names the user the way every other output does: never in full.
    assert RAVELLO_USER not in run.stderr


@pytest.mark.parametrize("verbosity", ["-v", "-vv", "-vvv"])
def test_log_lines_quoting_a_hostile_server_reach_the_terminal_inert(
    cli: CliRun, tmp_path: Path, env: dict[str, str], hostile_server: LoopbackServer, verbosity: str
) -> None:
    (tmp_path / "offhours.toml").write_text(CONFIG.format(base_url=hostile_server.url + "/api/v1"))
    run = cli("audit", "--now", NIGHT, "--dry-run", verbosity, env=env)
    assert run.code == 1, run.stderr
    logged = [line for line in run.stderr.splitlines() if line.startswith("INFO offhours")]
    assert any("DENIED" in line and "bad [/] markup" in line for line in logged), run.stderr
    assert_clean(run)
