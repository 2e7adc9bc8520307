"""offhours.toml validation: every problem at once, each with file, key path, value, expectation."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offhours.config import (
    config_path,
    interpreter_runtime,
    json_schema,
    load_config,
    parse_config,
)
from offhours.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
[[sources]]
type = "ravello"
username = "env:RU"
password = "env:RP"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "offhours.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.exit_code == 2
    return info.value.problems


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[hours]\nstart = "25:00"\nend = "18:00"\n',
            'hours.start: "25:00" is not a time (HH:MM)',
        ),
        ('[hours]\ntimezone = "Mars/Olympus"\n', 'hours.timezone: "Mars/Olympus"'),
        ('[hours]\ndays = "Mon-Fry"\n', 'hours.days: "Mon-Fry"'),
        ('[hours]\nwindows = ["08:00-1800"]\n', 'hours.windows[0]: "08:00-1800"'),
        ('[hours]\nstrat = "08:00"\n', "hours.strat: unknown key; did you mean start?"),
        ('[hours]\nzone = "UTC"\n', "hours.zone: unknown key; expected one of: timezone"),
        ('[hours]\nstart = "08:00"\n', "start and end go together"),
        (
            '[hours]\nstart = "08:00"\nend = "18:00"\nwindows = ["09:00-17:00"]\n',
            "either start/end or windows",
        ),
        ("[hours]\ngrace_minutes = -5\n", "hours.grace_minutes: -5"),
        ('[hours.holidays]\ncountry = "XX"\n', "hours.holidays"),
        ('[hours.holidays]\nsubdivision = "NY"\n', "subdivision is set but country is not"),
        ('[tags]\nschedule = ""\n', "tags.schedule"),
    ],
)
def test_hours_and_tags_errors_name_key_value_and_expectation(
    tmp_path: Path, toml: str, expected: str
) -> None:
    problems = problems_of(tmp_path, toml + MINIMAL)
    assert any(expected in p for p in problems), problems
    # Each names the file and the line of its key (or of its table).
    file = re.escape(str(tmp_path / "offhours.toml"))
    assert all(re.match(rf"{file}:[12]: ", p) for p in problems), problems


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'type = "ec2"',
            'sources[0].type: "ec2" is not a known source type; built in: aws, ravello',
        ),
        ('name = "x"', "sources[0].type: missing"),
        (
            'type = "ravello"\nusername = "env:U"\npassword = "hunter2-sentinel"',
            "sources[0].password: takes a secret reference, not a value",
        ),
        ('type = "ravello"\npassword = "env:P"', "sources[0].username: missing"),
        (
            'type = "ravello"\nusername = "env:U"\npassword = "env:P"\nauth = "oauth"',
            'sources[0].auth: "oauth"',
        ),
        (
            'type = "ravello"\nusername = "env:U"\npassword = "env:P"\nretries = "three"',
            'sources[0].retries: "three"',
        ),
        (
            'type = "ravello"\nusername = "env:U"\npassword = "env:P"\nbase_url = "ftp://x"',
            'sources[0].base_url: "ftp://x"',
        ),
    ],
)
def test_source_table_errors(tmp_path: Path, source: str, expected: str) -> None:
    problems = problems_of(tmp_path, f"[[sources]]\n{source}\n")
    assert any(expected in p for p in problems), problems
    # A value given where a secret belongs may be the secret itself: never echoed.
    assert not any("hunter2-sentinel" in p for p in problems)


@pytest.mark.parametrize(
    ("reference", "refused"),
    [
        ("secretsmanager:*#password", True),
        ("secretsmanager:offhours/*", True),
        ("secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:p-??????", True),
        ("ssm:/offhours/*", True),
        ("ssm:/offhours/pass?ord", True),
        ("ssm:arn:aws:ssm:us-east-1:*:parameter/p", True),
        # After "#" is a key of the secret's JSON, never part of the ARN IAM grants.
        ("secretsmanager:offhours/ravello#pass*word", False),
        ("ssm:/offhours/ravello/password", False),
    ],
)
def test_wildcard_secret_references_are_refused(
    tmp_path: Path, reference: str, refused: bool
) -> None:
    text = f'[[sources]]\ntype = "ravello"\nusername = "env:U"\npassword = "{reference}"\n'
    if not refused:
        load_config(write(tmp_path, text))
        return
    [problem] = problems_of(tmp_path, text)
    assert f": sources[0].password: {reference} holds a wildcard (* or ?)" in problem
    assert "name exactly one" in problem


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        # not a wildcard grant (no AWS), but no variable can have that name
        ("env:RAVELLO_*", "env: takes an environment variable's name (letters, digits and _)"),
        ("env:$RAVELLO_PASSWORD", "env: takes the variable's name without $ or braces: env:"),
        ("env:${RAVELLO_PASSWORD}", "without $ or braces: env:RAVELLO_PASSWORD"),
        ("ENV:RAVELLO_PASSWORD", "write the scheme in lower case: env:…"),
        ("File:~/.ravello", "write the scheme in lower case: file:…"),
    ],
)
def test_a_reference_written_almost_right_says_how_to_write_it(
    tmp_path: Path, reference: str, message: str
) -> None:
    text = f'[[sources]]\ntype = "ravello"\nusername = "env:U"\npassword = "{reference}"\n'
    [problem] = problems_of(tmp_path, text)
    assert ": sources[0].password: " in problem and message in problem


@pytest.mark.parametrize(
    ("toml", "key", "shown"),
    [
        (
            '[[sources]]\ntype = "ravello"\nusername = "env:U"\npassword = "env:P"\n'
            'base_url = "ftp://ada:sentinel-cfgpw01@files.example.com/api"\n',
            "sources[0].base_url",
            '"ftp://••••@files.example.com/api"',
        ),
        (
            '[[sources]]\ntype = "ravello"\nusername = "env:U"\npassword = "env:P"\n'
            'base_url = "ldap://ada:sentinel-cfg/p@w02@dir.example.com"\n',
            "sources[0].base_url",
            '"ldap://••••@dir.example.com"',
        ),
        (
            '[[sources]]\ntype = "ravello"\nusername = "env:U"\npassword = "env:P"\n'
            'retries = ["https://ada:sentinel-cfgpw03@proxy.example.com"]\n',
            "sources[0].retries",
            "https://••••@proxy.example.com",
        ),
        (
            '[deploy]\nregion = "s3://ada:sentinel-cfgpw04@bucket"\n',
            "deploy.region",
            '"s3://••••@bucket"',
        ),
    ],
)
def test_config_errors_never_echo_userinfo(tmp_path: Path, toml: str, key: str, shown: str) -> None:
    problems = problems_of(tmp_path, toml + (MINIMAL if "[[sources]]" not in toml else ""))
    [problem] = [p for p in problems if f": {key}: " in p]
    assert shown in problem, problem
    assert not any("sentinel-cfg" in p or "ada:" in p for p in problems), problems


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = """
[hours]
start = "25:00"
end = "7pm"
timezone = "Nowhere/Land"

[[sources]]
type = "ravello"
username = "plain"
password = "env:P"

[[notifiers]]
type = "slack"
"""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    problems = info.value.problems
    assert len(problems) == 5, problems
    keys = [p.split(": ")[1] for p in problems]
    assert set(keys) == {
        "hours.start",
        "hours.end",
        "hours.timezone",
        "sources[0].username",
        "notifiers[0].webhook_url",
    }
    assert str(info.value).startswith(f"{tmp_path / 'offhours.toml'}: 5 problems:")


def test_duplicate_plugin_names_are_refused(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, MINIMAL + MINIMAL)
    assert problems == (
        f'{tmp_path / "offhours.toml"}:7: sources[1].name: "ravello" is already used by '
        "sources[0]; give each one a unique name",
    )


def test_sources_are_required(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, '[hours]\nstart = "08:00"\nend = "18:00"\n')
    assert any("sources: missing" in p for p in problems), problems


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[hours]\nstart = "08:00\n'))
    assert str(info.value).startswith(f"{tmp_path / 'offhours.toml'}:2:15: not valid TOML: ")


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; create it"):
        load_config(tmp_path / "nope.toml")


def test_valid_config_builds_policy(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            '[hours]\ntimezone = "Europe/London"\nwindows = ["08:00-12:00", "22:00-02:00"]\n'
            "grace_minutes = 15\n" + MINIMAL,
        )
    )
    policy = cfg.policy()
    assert policy.grace == timedelta(minutes=15)
    # 23:00 London on a Wednesday is inside the midnight-crossing window; 20:00 is not.
    assert policy.hours.is_open(datetime(2026, 11, 25, 23, 0, tzinfo=UTC))
    assert not policy.hours.is_open(datetime(2026, 11, 25, 20, 0, tzinfo=UTC))
    assert [s.display_name() for s in cfg.sources] == ["ravello"]
    assert [r.where for _, _, r in cfg.secret_refs()] == [
        "sources[0].username",
        "sources[0].password",
    ]


@pytest.mark.parametrize("name", ["offhours.toml", "minimal.toml", "aws-secrets.toml", "aws.toml"])
def test_shipped_examples_are_valid(name: str) -> None:
    cfg = load_config(ROOT / "examples" / name)
    assert cfg.sources


def test_config_path_precedence(tmp_path: Path) -> None:
    env = {"OFFHOURS_CONFIG": str(tmp_path / "env.toml")}
    assert config_path(tmp_path / "flag.toml", env) == tmp_path / "flag.toml"
    assert config_path(None, env) == tmp_path / "env.toml"
    assert config_path(None, {}) == Path("offhours.toml")


def test_schema_describes_plugins_and_secret_references() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    assert schema["title"] == "offhours.toml"
    assert '"ravello"' in text and '"slack"' in text and '"console"' in text
    assert "^(env|file|kms|ssm|secretsmanager):.+" in text


def test_schema_accepts_the_example(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data: dict[str, Any] = tomllib.loads((ROOT / "examples" / "offhours.toml").read_text())
    # TOML dates are not JSON; the schema describes them as date strings.
    data["hours"]["holidays"]["dates"] = [d.isoformat() for d in data["hours"]["holidays"]["dates"]]
    jsonschema.validate(data, json_schema())


def test_parse_config_without_file_uses_placeholder_label() -> None:
    with pytest.raises(ConfigError, match=r"^<config>: 1 problem"):
        parse_config({"sources": []})


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://bob:sentinel-url-pw-5e1a@ravello.example.com/api/v1", "credentials written"),
        ("http://ravello.example.com/api/v1", "is plain http"),
    ],
)
def test_base_url_rules_hold_when_the_config_is_checked(
    tmp_path: Path, base_url: str, expected: str
) -> None:
    """`check` and `deploy` refuse what every run would: deploy used to store such a URL."""
    [problem] = problems_of(tmp_path, MINIMAL + f'base_url = "{base_url}"\n')
    assert "offhours.toml:2: sources[0]: base_url " in problem
    assert expected in problem
    assert "sentinel-url-pw" not in problem


def test_plain_http_is_accepted_with_the_opt_in_or_on_loopback(tmp_path: Path) -> None:
    for extra in (
        'base_url = "http://ravello.example.com/api/v1"\nallow_insecure_http = true\n',
        'base_url = "http://127.0.0.1:8080/api/v1"\n',
    ):
        assert load_config(write(tmp_path, MINIMAL + extra)).sources


@pytest.mark.parametrize(
    ("version", "runtime"),
    [
        ((3, 11), "python3.11"),
        ((3, 13), "python3.13"),
        ((3, 14), "python3.14"),
        ((3, 15), "python3.12"),
        ((4, 0), "python3.12"),
    ],
)
def test_the_default_runtime_is_the_deploying_pythons_when_lambda_has_it(
    version: tuple[int, int], runtime: str
) -> None:
    """So the zip's bytecode is compiled by this interpreter; else python3.12 (the build then
    says it ships without bytecode)."""
    assert interpreter_runtime(version) == runtime


def test_deploy_runtime_defaults_to_this_python_and_keeps_a_written_one() -> None:
    source = {"type": "ravello", "name": "r", "username": "env:U", "password": "env:P"}
    default = parse_config({"sources": [source], "deploy": {}}).deploy.runtime
    assert default == interpreter_runtime(sys.version_info[:2])
    written = parse_config({"sources": [source], "deploy": {"runtime": "python3.13"}})
    assert written.deploy.runtime == "python3.13"
