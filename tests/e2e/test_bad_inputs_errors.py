"""Bad configuration files, end to end through `offhours check`: each refused with exit 2, on
one `offhours: error:` line that names the file, the line and the fix, in plain English."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]

SOURCE = '[[sources]]\ntype = "ravello"\nusername = "env:RU"\npassword = "env:RP"\n'

#: (config file content, message fragment: file:line: … as printed); every one exits 2
BAD: dict[str, tuple[str | bytes, str]] = {
    "region pattern": (
        SOURCE + '\n[deploy]\nregion = "useast1"\n',
        'offhours.toml:7: deploy.region: "useast1" is not an AWS region name such as us-east-1',
    ),
    "negative number": (
        "[hours]\ngrace_minutes = -5\n\n" + SOURCE,
        "offhours.toml:2: hours.grace_minutes: -5 must be between 0 and 1440",
    ),
    "dayz": (
        '[hours]\ntimezone = "UTC"\ndayz = "Mon-Fri"\n' + SOURCE,
        "offhours.toml:3: hours.dayz: unknown key; did you mean days?",
    ),
    "grace_minuts": (
        "[hours]\ngrace_minuts = 10\n" + SOURCE,
        "offhours.toml:2: hours.grace_minuts: unknown key; did you mean grace_minutes?",
    ),
    "ravelo": (
        SOURCE.replace('"ravello"', '"ravelo"'),
        'offhours.toml:2: sources[0].type: "ravelo" is not a known source type; did you mean '
        "ravello?",
    ),
    "slak": (
        SOURCE + '\n[[notifiers]]\ntype = "slak"\nwebhook_url = "env:HOOK"\n',
        'offhours.toml:7: notifiers[0].type: "slak" is not a known notifier type; did you mean '
        "slack?",
    ),
    "key after a table": (
        SOURCE + '\n[[notifiers]]\ntype = "console"\nallow_plaintext_secrets = true\n',
        "offhours.toml:8: notifiers[0].allow_plaintext_secrets: unknown key; "
        "allow_plaintext_secrets belongs at the top level: TOML puts every key after a [table] "
        "header inside that table, so move it above the first [table] line (line 1)",
    ),
    "memory key after [deploy]": (
        SOURCE + '\n[deploy]\nregion = "us-east-1"\nkeep_days = 30\n',
        "offhours.toml:8: deploy.keep_days: unknown key; keep_days belongs in [memory]",
    ),
    "unquoted string": (
        "[hours]\ntimezone = America/New_York\n" + SOURCE,
        "offhours.toml:2:12: not valid TOML: invalid value; put text in quotes: "
        'timezone = "America/New_York"',
    ),
    "True for true": (
        "allow_plaintext_secrets = True\n" + SOURCE,
        "offhours.toml:1:27: not valid TOML: invalid value; write true or false in lower case",
    ),
    "not UTF-8": (
        SOURCE.encode() + '[hours]\ntimezone = "Europe/Z\xfcrich"\n'.encode("latin-1"),
        "offhours.toml:6: not UTF-8 text (byte 0xfc at offset 97); save the file as UTF-8",
    ),
    "one bracket for a list of tables": (
        SOURCE + '\n[notifiers]\ntype = "slack"\nwebhook_url = "env:HOOK"\n',
        "offhours.toml:6: notifiers: is one [notifiers] table, but it takes a list of them: "
        "write [[notifiers]] (two brackets) above each one",
    ),
    "env reference with a dollar": (
        SOURCE.replace("env:RP", "env:$RP"),
        "offhours.toml:4: sources[0].password: env: takes the variable's name without $ or "
        "braces: env:RP",
    ),
    "a table twice": (
        '[hours]\ngrace_minutes = 5\n[hours]\ndays = "Mon-Fri"\n' + SOURCE,
        "offhours.toml:3:7: not valid TOML: the table [hours] is declared twice",
    ),
    "a key twice": (
        SOURCE + 'username = "env:OTHER"\n',
        "offhours.toml:5: not valid TOML: a key is given a value twice; keep one of them",
    ),
}


@pytest.mark.parametrize(("content", "fragment"), BAD.values(), ids=BAD.keys())
def test_a_bad_config_is_refused_on_one_plain_line(
    cli: CliRun, tmp_path: Path, content: str | bytes, fragment: str
) -> None:
    path = tmp_path / "offhours.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    run = cli("check", env={"RU": "u", "RP": "p", "HOOK": "https://hooks.slack.com/x"})
    assert run.code == 2, (run.stdout, run.stderr)
    assert run.stderr.startswith("offhours: error: "), run.stderr
    assert fragment in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    for phrase in ("Input should", "should match pattern", "type=", "(at line", "pydantic"):
        assert phrase not in run.stderr


@pytest.mark.parametrize(
    ("line", "fix"),
    [
        ("password = sentinel-cfg-unquoted", 'put text in quotes: password = "…"'),
        ("password = \u201csentinel-cfg-curly\u201d", 'use straight quotes: password = "…"'),
        (
            'username = "env:RU"\nbase_url = https://ada:sentinel-cfg-login@r.example.com/api',
            'put text in quotes: base_url = "…"',
        ),
    ],
)
def test_a_syntax_hint_never_quotes_a_secret(
    cli: CliRun, tmp_path: Path, line: str, fix: str
) -> None:
    # The hint shows the fix; for a secret key (or a value with a login) not the value.
    text = '[[sources]]\ntype = "ravello"\n' + line + "\n"
    (tmp_path / "offhours.toml").write_text(text, encoding="utf-8")
    run = cli("check")
    assert run.code == 2
    assert fix in run.stderr
    assert "sentinel-cfg" not in run.stderr


def test_a_byte_order_mark_is_accepted(cli: CliRun, tmp_path: Path) -> None:
    (tmp_path / "offhours.toml").write_bytes(b"\xef\xbb\xbf" + SOURCE.encode())
    run = cli("check", env={"RU": "u", "RP": "p"})
    assert run.code == 0, run.stderr
    assert "offhours.toml: OK" in run.stdout


def test_every_problem_of_a_file_is_listed_in_its_order(cli: CliRun, tmp_path: Path) -> None:
    (tmp_path / "offhours.toml").write_text(
        '[hours]\nstart = "25:00"\nend = "18:00"\ndayz = "Mon"\n\n'
        + SOURCE.replace('"ravello"', '"ravelo"')
        + '\n[deploy]\nregion = "useast1"\n'
    )
    run = cli("check")
    assert run.code == 2
    assert run.stderr.splitlines() == [
        "offhours: error: offhours.toml: 4 problems:",
        '  offhours.toml:2: hours.start: "25:00" is not a time (HH:MM)',
        "  offhours.toml:4: hours.dayz: unknown key; did you mean days?",
        '  offhours.toml:7: sources[0].type: "ravelo" is not a known source type; did you mean '
        "ravello? (built in: aws, ravello; third-party ones register under the entry-point group "
        "offhours.sources)",
        '  offhours.toml:12: deploy.region: "useast1" is not an AWS region name such as us-east-1',
    ]
