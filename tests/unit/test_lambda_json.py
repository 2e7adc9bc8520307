"""lambda.json → [deploy]: mapping, notes, errors, the TOML text, and offhours.toml edits."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from offhours.budget import Budget
from offhours.config import DeployConfig, load_config
from offhours.deploy.lambda_json import (
    HANDLER,
    ImportResult,
    Note,
    convert_lambda_json,
    import_lambda_json,
    render_notes,
    write_deploy_section,
)
from offhours.errors import ConfigError

SEED = Path(__file__).resolve().parents[1] / "data" / "lambda.json"
ROLE = "arn:aws:iam::999999999999:role/lambda_ravello"
BASE: dict[str, Any] = {
    "name": "audit",
    "description": "Count of all running VMs",
    "region": "us-east-1",
    "handler": "audit.handler",
    "role": ROLE,
    "timeout": 30,
    "memory": 128,
}
SOURCES = '[[sources]]\ntype = "ravello"\nusername = "env:RU"\npassword = "env:RP"\n'


def convert(overrides: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> ImportResult:
    data = {k: v for k, v in {**BASE, **(overrides or {})}.items() if k not in drop}
    return convert_lambda_json(json.dumps(data))


def problems(text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        convert_lambda_json(text)
    assert info.value.exit_code == 2
    return info.value.problems


def note(result: ImportResult, key: str) -> Note:
    (found,) = [n for n in result.notes if n.key == key]
    return found


def round_trip(result: ImportResult) -> dict[str, Any]:
    data = tomllib.loads(result.toml)
    assert set(data) == {"deploy"}
    DeployConfig.model_validate(data["deploy"])
    return dict(data["deploy"])


# ---------------------------------------------------------------- the seed's file


def test_the_seeds_lambda_json_maps_to_this_deploy_section() -> None:
    result = import_lambda_json(SEED)

    assert result.deploy == {
        "function_name": "audit",
        "description": "Count of all running VMs",
        "region": "us-east-1",
        "runtime": "python3.12",
        "memory": 128,
        "timeout": 30,
        "role_arn": ROLE,
    }
    assert [(n.key, n.action) for n in result.notes] == [
        ("name", "mapped"),
        ("description", "mapped"),
        ("region", "mapped"),
        ("handler", "changed"),
        ("role", "mapped"),
        ("runtime", "changed"),
        ("memory", "mapped"),
        ("timeout", "mapped"),
        ("requirements", "unmapped"),
        ("ignore", "unmapped"),
    ]
    assert note(result, "runtime").message.startswith("python2.7 (lambda-uploader's default")
    assert "→ python3.12 (python2.7 can no longer be created or updated" in (
        note(result, "runtime").message
    )
    assert note(result, "handler").message.startswith(f'"audit.handler" → {HANDLER} (')
    assert "least-privilege" in note(result, "role").message
    assert "kms:Decrypt" in note(result, "role").message
    assert "60 s" in note(result, "timeout").message
    assert "own dependencies" in note(result, "requirements").message
    assert "not from a directory" in note(result, "ignore").message
    assert round_trip(result) == result.deploy


def test_the_seeds_report_reads_in_groups() -> None:
    report = render_notes(import_lambda_json(SEED).notes).splitlines()

    assert report[0] == "mapped: name → function_name"
    assert report[1:3] == ["mapped: description", "mapped: region"]
    assert report[6].startswith(f'changed: handler "audit.handler" → {HANDLER} (')
    assert report[7].startswith("changed: runtime python2.7 (lambda-uploader's default")
    assert report[8].startswith("not mapped: requirements (offhours packages its own")
    assert report[9].startswith("not mapped: ignore (")
    assert len(report) == 10


def test_the_seeds_toml_explains_each_change_next_to_it() -> None:
    text = import_lambda_json(SEED).toml

    assert text.startswith(f"# [deploy] imported from {SEED} (lambda-uploader's lambda.json)\n")
    lines = text.splitlines()
    runtime = lines.index('runtime = "python3.12"')
    assert lines[runtime - 2].startswith("# changed: runtime python2.7")
    assert any(line.startswith("# not mapped: requirements") for line in lines)
    assert any(line.startswith("# not mapped: ignore") for line in lines)
    assert any(line.startswith("# changed: handler") for line in lines)
    assert 'role_arn = "arn:aws:iam::999999999999:role/lambda_ravello"' in lines


def test_a_directory_is_read_as_lambda_uploader_reads_it(tmp_path: Path) -> None:
    (tmp_path / "lambda.json").write_bytes(SEED.read_bytes())

    assert import_lambda_json(tmp_path).deploy == import_lambda_json(SEED).deploy


# ---------------------------------------------------------------- every optional key


@pytest.mark.parametrize(
    ("overrides", "deploy", "key", "action", "message"),
    [
        ({"publish": True}, {"publish": True}, "publish", "mapped", ""),
        ({"publish": False}, {"publish": False}, "publish", "mapped", ""),
        ({"alias": "prod"}, {"alias": "prod"}, "alias", "mapped", ""),
        (
            {"alias_description": "Production"},
            {"alias_description": "Production"},
            "alias_description",
            "mapped",
            "",
        ),
        (
            {"variables": {"LOG_LEVEL": "debug", "TEAM": "ops"}},
            {"environment": {"LOG_LEVEL": "debug", "TEAM": "ops"}},
            "variables",
            "mapped",
            "→ environment (2 of 2; offhours sets these and leaves any other variable of the "
            "function alone)",
        ),
        (
            {"vpc": {"subnets": ["subnet-1", "subnet-2"], "security_groups": ["sg-1"]}},
            {"vpc": {"subnet_ids": ["subnet-1", "subnet-2"], "security_group_ids": ["sg-1"]}},
            "vpc",
            "mapped",
            "→ vpc (subnets → subnet_ids, security_groups → security_group_ids)",
        ),
        ({"tracing": {"Mode": "Active"}}, {"tracing": "Active"}, "tracing", "mapped", None),
        (
            {"tracing": {"Mode": "PassThrough"}},
            {"tracing": "PassThrough"},
            "tracing",
            "mapped",
            None,
        ),
        ({"runtime": "python3.11"}, {"runtime": "python3.11"}, "runtime", "mapped", ""),
        ({"runtime": "python3.13"}, {"runtime": "python3.13"}, "runtime", "mapped", ""),
        (
            {"runtime": "python3.8"},
            {"runtime": "python3.12"},
            "runtime",
            "changed",
            "python3.8 → python3.12 (offhours needs Python ≥ 3.11)",
        ),
        (
            {"runtime": "python3.10"},
            {"runtime": "python3.12"},
            "runtime",
            "changed",
            "python3.10 → python3.12 (offhours needs Python ≥ 3.11)",
        ),
        (
            {"runtime": "python2.7"},
            {"runtime": "python3.12"},
            "runtime",
            "changed",
            "python2.7 → python3.12 (python2.7 can no longer be created or updated on Lambda)",
        ),
        ({"runtime": None}, {"runtime": "python3.12"}, "runtime", "changed", None),
        (
            {"handler": HANDLER},
            {},
            "handler",
            "mapped",
            "(offhours' handler; fixed, so not a [deploy] key)",
        ),
        ({"timeout": 300}, {"timeout": 300}, "timeout", "mapped", "(300 s)"),
        ({"memory": 10240}, {"memory": 10240}, "memory", "mapped", "(10240 MB)"),
        (
            {"extra_files": ["conf/"]},
            {},
            "extra_files",
            "unmapped",
            None,
        ),
        (
            {"s3_bucket": "b"},
            {},
            "s3_bucket",
            "unmapped",
            "the zip is uploaded directly; it is small",
        ),
        (
            {"s3_key": "k.zip"},
            {},
            "s3_key",
            "unmapped",
            "the zip is uploaded directly; it is small",
        ),
        (
            {"subscription": {"kinesis": {"stream": "arn:x", "batch_size": 10}}},
            {},
            "subscription",
            "unmapped",
            "Kinesis event sources only; offhours runs on a schedule",
        ),
        (
            {"timout": 30},
            {},
            "timout",
            "unmapped",
            "not a lambda-uploader key; did you mean timeout?",
        ),
        ({"colour": "red"}, {}, "colour", "unmapped", "not a lambda-uploader key"),
    ],
)
def test_each_optional_key(
    overrides: dict[str, Any],
    deploy: dict[str, Any],
    key: str,
    action: str,
    message: str | None,
) -> None:
    result = convert(overrides)

    for field, value in deploy.items():
        assert result.deploy[field] == value
    found = note(result, key)
    assert found.action == action
    if message is not None:
        assert found.message == message
    assert round_trip(result) == result.deploy


def test_null_optional_keys_count_as_absent_like_lambda_uploader() -> None:
    result = convert({"alias": None, "vpc": None, "variables": None, "publish": None})

    assert result.deploy == convert().deploy
    assert {n.key for n in result.notes} == {n.key for n in convert().notes}


def test_all_optional_keys_at_once_load_as_part_of_offhours_toml(tmp_path: Path) -> None:
    result = convert(
        {
            "runtime": "python3.9",
            "publish": True,
            "alias": "live",
            "alias_description": "what runs",
            "variables": {"LOG_LEVEL": "info"},
            "vpc": {"subnets": ["subnet-1"], "security_groups": ["sg-1"]},
            "tracing": {"Mode": "Active"},
        }
    )
    path = tmp_path / "offhours.toml"
    path.write_text(SOURCES + "\n" + result.toml, encoding="utf-8")

    deploy = load_config(path).deploy

    assert deploy.runtime == "python3.12"
    assert deploy.environment == {"LOG_LEVEL": "info"}
    assert deploy.vpc is not None
    assert deploy.vpc.subnet_ids == ["subnet-1"]
    assert deploy.vpc.security_group_ids == ["sg-1"]
    assert deploy.tracing == "Active"
    assert deploy.role_arn == ROLE
    assert deploy.timeout == 30


def test_empty_variables_are_noted_not_written() -> None:
    result = convert({"variables": {}})

    assert "environment" not in result.deploy
    assert note(result, "variables").message.startswith("→ environment (0 of 0;")


def test_a_variable_named_like_a_secret_is_not_copied_in_plain_text() -> None:
    result = convert(
        {"variables": {"SLACK_WEBHOOK_URL": "sentinel-hook-4b1e9a", "LOG_LEVEL": "info"}}
    )

    assert result.deploy["environment"] == {"LOG_LEVEL": "info"}
    skipped = note(result, "variables.SLACK_WEBHOOK_URL")
    assert skipped.action == "unmapped"
    assert "offhours secrets encrypt" in skipped.message
    assert "sentinel-hook" not in result.toml
    assert "sentinel-hook" not in render_notes(result.notes)


# ---------------------------------------------------------------- errors


def test_every_missing_required_key_is_listed_with_its_type() -> None:
    found = problems("{}")

    assert found == (
        "lambda.json: name: missing; this key is required (a string: the function name, "
        "1 to 64 letters, digits, '-' or '_')",
        "lambda.json: description: missing; this key is required (a string of at most 256 "
        "characters)",
        "lambda.json: region: missing; this key is required (a string: an AWS region such as "
        '"us-east-1")',
        "lambda.json: handler: missing; this key is required (a string)",
        "lambda.json: role: missing; this key is required (a string: an IAM role ARN, "
        "arn:aws:iam::ACCOUNT:role/NAME)",
        "lambda.json: timeout: missing; this key is required (an integer from 1 to 900 (seconds))",
        "lambda.json: memory: missing; this key is required (an integer from 128 to 10240 (MB))",
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "name",
            5,
            "name: expected a string: the function name, 1 to 64 letters, digits, "
            "'-' or '_', got an integer (5)",
        ),
        ("description", None, "description: expected a string of at most 256 characters, got null"),
        ("region", ["us-east-1"], "region: expected a string: an AWS region"),
        ("handler", {"h": 1}, "handler: expected a string, got an object"),
        ("role", False, "role: expected a string: an IAM role ARN"),
        (
            "timeout",
            "30",
            'timeout: expected an integer from 1 to 900 (seconds), got a string ("30")',
        ),
        (
            "timeout",
            30.5,
            "timeout: expected an integer from 1 to 900 (seconds), got a number (30.5)",
        ),
        (
            "memory",
            True,
            "memory: expected an integer from 128 to 10240 (MB), got a boolean (true)",
        ),
        ("publish", "yes", 'publish: expected true or false, got a string ("yes")'),
        ("alias", 1, "alias: expected a string"),
        ("runtime", 3.12, "runtime: expected a string"),
        (
            "variables",
            ["A=1"],
            "variables: expected an object whose values are strings, got an array",
        ),
        ("vpc", "vpc-1", "vpc: expected an object with subnets and security_groups"),
        ("tracing", "Active", 'tracing: expected an object {"Mode": "Active"}'),
    ],
)
def test_a_wrong_type_names_the_key_and_the_expected_type(
    key: str, value: Any, expected: str
) -> None:
    found = problems(json.dumps({**BASE, key: value}))

    assert len(found) == 1
    assert found[0].startswith(f"lambda.json: {expected}")


def test_wrong_types_bad_values_and_missing_keys_are_reported_together() -> None:
    found = problems(json.dumps({"name": "my fn", "memory": "128", "publish": 1, "timeout": 2000}))

    keys = [p.split(": ")[1] for p in found]
    assert keys == [
        "description",
        "region",
        "handler",
        "role",
        "memory",
        "publish",
        "name",
        "timeout",
    ]
    assert found[-1].endswith("2000 is out of range; expected an integer from 1 to 900 (seconds)")


def test_comment_lines_fit_in_100_columns() -> None:
    result = convert({"runtime": "python3.9", "colour": 1, "variables": {"API_TOKEN": "x"}})

    assert max(len(line) for line in result.toml.splitlines()) <= 100


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"memory": 127},
            "memory: 127 is out of range; expected an integer from 128 to 10240 (MB)",
        ),
        ({"memory": 10241}, "memory: 10241 is out of range"),
        ({"timeout": 0}, "timeout: 0 is out of range; expected an integer from 1 to 900 (seconds)"),
        ({"timeout": 901}, "timeout: 901 is out of range"),
        ({"name": "my function"}, 'name: "my function" is not valid; expected a string: the'),
        ({"name": "x" * 65}, "name: "),
        ({"region": "US East"}, 'region: "US East" is not valid; expected a string: an AWS region'),
        (
            {"role": "lambda_ravello"},
            'role: "lambda_ravello" is not valid; expected a string: an IAM',
        ),
        ({"alias": "1st"}, 'alias: "1st" is not valid; expected a string: a letter'),
        ({"description": "d" * 257}, "description: "),
        (
            {"runtime": "nodejs20.x"},
            'runtime: "nodejs20.x" is not a runtime offhours runs on; '
            "expected python3.11, python3.12, python3.13 or python3.14",
        ),
        ({"runtime": "python3.99"}, 'runtime: "python3.99" is not a runtime offhours runs on'),
        (
            {"tracing": {"Mode": "Passive"}},
            'tracing.Mode: "Passive" is not valid; expected "Active" or "PassThrough"',
        ),
        ({"tracing": {}}, "tracing.Mode: missing"),
        ({"tracing": {"Mode": "Active", "Level": 1}}, "tracing.Level: unknown key"),
        ({"vpc": {"subnets": ["s"]}}, "vpc.security_groups: missing; expected a non-empty array"),
        ({"vpc": {"subnets": [], "security_groups": ["sg"]}}, "vpc.subnets: expected a non-empty"),
        ({"vpc": {"subnets": [1], "security_groups": ["sg"]}}, "vpc.subnets: expected a non-empty"),
        (
            {"vpc": {"subnets": ["s"], "security_groups": ["sg"], "vpc_id": "v"}},
            "vpc.vpc_id: unknown key",
        ),
        ({"variables": {"LEVEL": 3}}, "variables.LEVEL: expected a string, got an integer"),
        ({"variables": {"1X": "a"}}, "variables.1X: not a valid variable name"),
    ],
)
def test_a_bad_value_says_what_is_expected(overrides: dict[str, Any], expected: str) -> None:
    found = problems(json.dumps({**BASE, **overrides}))

    assert len(found) == 1
    assert found[0].startswith(f"lambda.json: {expected}")


@pytest.mark.parametrize(("field", "low", "high"), [("memory", 128, 10240), ("timeout", 1, 900)])
def test_the_range_edges_are_the_ones_deploy_config_accepts(
    field: str, low: int, high: int
) -> None:
    for value in (low, high):
        assert convert({field: value}).deploy[field] == value
    for value in (low - 1, high + 1):
        assert "out of range" in problems(json.dumps({**BASE, field: value}))[0]


def test_a_variable_value_is_never_shown_in_an_error() -> None:
    found = problems(json.dumps({**BASE, "variables": {"TOKEN_ID": 123456789}}))

    assert "123456789" not in found[0]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "name": "audit",\n  "memory": 128\n  "timeout": 30\n}', 4, 3),
        ('{"name": "audit",}', 1, 18),
        ("", 1, 1),
        ('{\n  "ignore": ["/*.pyc"\n}', 3, 1),
        ("{'name': 'audit'}", 1, 2),
    ],
)
def test_invalid_json_is_reported_with_its_position(text: str, line: int, column: int) -> None:
    (found,) = problems(text)

    assert found.startswith("lambda.json: not valid JSON: ")
    assert found.endswith(f"(line {line}, column {column})")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "lambda.json: expected a JSON object of lambda-uploader settings, got an array"),
        (
            json.dumps(BASE)[:-1] + ', "memory": 256}',
            'lambda.json: duplicate key(s) "memory": JSON keeps only the last',
        ),
        ("[" * 100_000 + "]" * 100_000, "lambda.json: not valid JSON: nested too deeply"),
    ],
)
def test_a_file_that_is_not_a_settings_object(text: str, expected: str) -> None:
    (found,) = problems(text)

    assert found.startswith(expected)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (json.dumps(BASE)[:-1] + ', "description": "a\\ud800"}', "description"),
        (json.dumps(BASE)[:-1] + ', "handler": "\\udfff.x"}', "handler"),
        (json.dumps(BASE)[:-1] + ', "variables": {"A1": "\\ud83d"}}', "variables.A1"),
        (json.dumps(BASE)[:-1] + ', "ignore": ["ok", "\\ud800"]}', "ignore[1]"),
        (json.dumps(BASE)[:-1] + ', "\\ud800": 1}', "(a key)"),
    ],
)
def test_a_lone_surrogate_escape_is_refused(text: str, where: str) -> None:
    (found,) = problems(text)

    assert found.startswith(f"lambda.json: {where}: holds an unpaired surrogate escape")


def test_deeply_nested_unmapped_values_are_only_noted() -> None:
    depth = 900
    text = json.dumps(BASE)[:-1] + ', "subscription": ' + "[" * depth + "]" * depth + "}"

    result = convert_lambda_json(text)

    assert note(result, "subscription").action == "unmapped"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"lambda\.json: no such file"):
        import_lambda_json(tmp_path / "lambda.json")
    (tmp_path / "bad.json").write_bytes(b'{"name": "\xff"}')
    with pytest.raises(ConfigError, match=r"bad\.json: not UTF-8 text \(byte 10\)"):
        import_lambda_json(tmp_path / "bad.json")


# ---------------------------------------------------------------- the TOML writer

# Text with what a TOML writer must get right: quotes, backslashes, control characters,
# newlines, and Unicode beyond the BMP; surrogates are not text.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=256)


@settings(max_examples=300)
@example(
    description='say "hi" \\ C:\\path\n\ttab\r\x00\x7f\u2028 é 🦆', values=['"""', "'''", "\\u0041"]
)
@given(description=TEXT, values=st.lists(TEXT, max_size=4))
def test_any_description_and_variables_survive_the_toml_round_trip(
    description: str, values: list[str]
) -> None:
    variables = {f"VAR_{i}": v for i, v in enumerate(values)}
    result = convert({"description": description, "variables": variables})

    assert round_trip(result) == result.deploy
    assert result.deploy["description"] == description
    assert result.deploy.get("environment", {}) == variables


KNOWN = {*BASE, "runtime", "publish", "alias", "alias_description", "variables", "vpc"}
KNOWN |= {"tracing", "subscription", "requirements", "ignore", "extra_files", "s3_bucket", "s3_key"}


@settings(max_examples=200)
@example(key='a"b\\c\n# [x]', source="dir\n[deploy]\x7f/lambda.json")
@given(key=TEXT.filter(lambda k: k not in KNOWN), source=TEXT)
def test_any_unknown_key_or_file_name_stays_inside_a_comment(key: str, source: str) -> None:
    result = convert_lambda_json(json.dumps({**BASE, key: 1}), source=source)

    unknown = [n for n in result.notes if n.message.startswith("not a lambda-uploader key")]
    assert len(unknown) == 1
    assert round_trip(result) == result.deploy


# ---------------------------------------------------------------- writing offhours.toml

SECTION = convert().toml
OTHER = convert({"region": "eu-west-1", "vpc": {"subnets": ["s"], "security_groups": ["g"]}})


def test_a_missing_offhours_toml_is_created_with_the_section(tmp_path: Path) -> None:
    path = tmp_path / "offhours.toml"

    write_deploy_section(path, SECTION, force=False)

    text = path.read_text(encoding="utf-8")
    assert text.startswith("# offhours configuration.")
    assert text.endswith(SECTION)
    assert tomllib.loads(text)["deploy"] == convert().deploy


@pytest.mark.parametrize(
    "existing",
    [
        SOURCES,
        SOURCES.rstrip("\n"),
        "",
        "# just a comment\n",
        SOURCES.replace("\n", "\r\n"),
    ],
)
def test_the_section_is_appended_and_the_file_kept(tmp_path: Path, existing: str) -> None:
    path = tmp_path / "offhours.toml"
    path.write_bytes(existing.encode())

    write_deploy_section(path, SECTION, force=False)

    text = path.read_bytes().decode()
    assert text.startswith(existing)
    newline = "\r\n" if "\r\n" in existing else "\n"
    assert text.endswith(SECTION.replace("\n", newline))
    assert tomllib.loads(text)["deploy"] == convert().deploy


@pytest.mark.parametrize(
    "existing",
    [
        "[deploy]\nregion = 'eu-west-1'\n",
        SOURCES + "\n[deploy.vpc]\nsubnet_ids = ['s']\n",
        SOURCES + '\n[ "deploy" ]  # here\nregion = "eu-west-1"\n',
    ],
)
def test_an_existing_deploy_table_is_kept_without_force(tmp_path: Path, existing: str) -> None:
    path = tmp_path / "offhours.toml"
    path.write_text(existing, encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        write_deploy_section(path, SECTION, force=False)

    assert "already has a [deploy] table (line" in str(info.value)
    assert "--force" in str(info.value)
    assert path.read_text(encoding="utf-8") == existing


BEFORE = (
    "# offhours.toml\n"
    'note = """\n[deploy]\nnot a table: inside a string\n"""\n'
    'windows = [\n  ["08:00-12:00"],\n  # [deploy]\n]\n'
    "\n"
    "[hours]\n"
    'timezone = "America/New_York"  # [deploy] in a comment\n'
    "\n"
)
DEPLOY = (
    "# the deploy settings (attached to the table, so replaced with it)\n"
    "[deploy]\n"
    'region = "eu-west-1"\n'
    "literal = '''\n[sources]\n'''\n"
    "\n"
    "# attached to the sub-table, so replaced with it\n"
    "[deploy.vpc]\n"
    'subnet_ids = ["subnet-9"]\n'
)
AFTER = (
    "\n"
    "# commented = 'out', kept\n"
    "\n"
    "# Ravello (a comment attached to the next table stays)\n"
    + SOURCES
    + "\n"
    + '[[notifiers]]\ntype = "console"\nformat = "text"\n'
)


@pytest.mark.parametrize(
    ("before", "deploy", "after"),
    [
        (BEFORE, DEPLOY, AFTER),
        (BEFORE + AFTER + "\n", DEPLOY, ""),
        ("", DEPLOY, AFTER),
        ("", "[deploy]\nregion = 'eu-west-1'", ""),
        ("[a]\nx = 1\n", "[deploy]\n", "\n\n[b]\ny = 'x'\n"),
    ],
)
def test_force_replaces_only_the_deploy_table(
    tmp_path: Path, before: str, deploy: str, after: str
) -> None:
    path = tmp_path / "offhours.toml"
    path.write_text(before + deploy + after, encoding="utf-8")

    write_deploy_section(path, SECTION, force=True)

    assert path.read_text(encoding="utf-8") == before + SECTION + after


def test_force_removes_sub_tables_written_elsewhere_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "offhours.toml"
    first = "[deploy]\nregion = 'eu-west-1'\n\n"
    middle = SOURCES + "\n"
    later = "[deploy.environment]\nA = 'b'\n"
    path.write_text(first + middle + later, encoding="utf-8")

    write_deploy_section(path, OTHER.toml, force=True)

    assert path.read_text(encoding="utf-8") == OTHER.toml + "\n" + middle
    assert load_config(path).deploy.vpc is not None


def test_a_loose_comment_between_deploy_tables_stays(tmp_path: Path) -> None:
    path = tmp_path / "offhours.toml"
    loose = "\n# about what follows, kept\n\n"
    path.write_text(
        "[deploy]\nregion = 'eu-west-1'\n" + loose + "# attached, so replaced\n"
        "[deploy.vpc]\nsubnet_ids = ['s']\n",
        encoding="utf-8",
    )

    write_deploy_section(path, SECTION, force=True)

    assert path.read_text(encoding="utf-8") == SECTION + loose


def test_an_array_of_tables_written_apart_is_not_reordered(tmp_path: Path) -> None:
    # tomlkit would render the two [[sources]] together: refused rather than reordered.
    path = tmp_path / "offhours.toml"
    existing = SOURCES + "\n[deploy]\nregion = 'eu-west-1'\n\n" + SOURCES
    path.write_text(existing, encoding="utf-8")

    for force in (False, True):
        with pytest.raises(ConfigError, match=r"tables of an array, \[\[…\]\], written apart"):
            write_deploy_section(path, SECTION, force=force)

    assert path.read_text(encoding="utf-8") == existing


def test_the_files_mode_and_a_symbolic_link_are_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text(SOURCES, encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "offhours.toml"
    link.symlink_to(real)

    write_deploy_section(link, SECTION, force=False)

    assert link.is_symlink()
    assert real.stat().st_mode & 0o777 == 0o640
    assert tomllib.loads(real.read_text(encoding="utf-8"))["deploy"] == convert().deploy
    # No temporary file is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["offhours.toml", "real.toml"]


def test_a_second_forced_write_gives_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "offhours.toml"
    path.write_text(SOURCES, encoding="utf-8")
    write_deploy_section(path, OTHER.toml, force=False)
    once = path.read_bytes()

    write_deploy_section(path, OTHER.toml, force=True)

    assert path.read_bytes() == once


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ("deploy.region = 'eu-west-1'\n" + SOURCES, "dotted keys"),
        ("deploy = { region = 'eu-west-1' }\n", "dotted keys"),
        ("[hours\n", "not valid TOML"),
    ],
)
def test_a_file_it_cannot_edit_safely_is_left_alone(
    tmp_path: Path, existing: str, expected: str
) -> None:
    path = tmp_path / "offhours.toml"
    path.write_text(existing, encoding="utf-8")

    with pytest.raises(ConfigError, match=expected):
        write_deploy_section(path, SECTION, force=True)

    assert path.read_text(encoding="utf-8") == existing


def test_only_a_deploy_section_is_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only a"):
        write_deploy_section(tmp_path / "offhours.toml", "[hours]\n", force=True)
    assert not (tmp_path / "offhours.toml").exists()


BLOCKS = [
    "[hours]\ntimezone = 'UTC'\n",
    '[tags]\nschedule = """\n[deploy]\n"""\n',
    "# a comment\n[secrets]\nregion = 'us-east-1'\n",
    "[[notifiers]]\ntype = 'console'\n",
    "[secrets.kms.context]\nA = '''x]\n['''\n",
    "windows = [\n  # [deploy]\n  ['x'],\n]\n",
    "\n",
    "# loose comment\n",
]


@settings(max_examples=300)
@given(blocks=st.permutations(BLOCKS), count=st.integers(0, len(BLOCKS)), data=st.data())
def test_force_keeps_any_surrounding_text_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory, blocks: list[str], count: int, data: st.DataObject
) -> None:
    chosen = blocks[:count]
    # Keys outside a table come first, or they would land in the table before them.
    chosen.sort(key=lambda b: not b.startswith("windows"))
    split = data.draw(st.integers(0 if not chosen[:1] or "windows" not in chosen[0] else 1, count))
    head = "".join(chosen[:split]) + ("\n" if split else "")
    tail = "".join(chosen[split:])
    path = tmp_path_factory.mktemp("cfg") / "offhours.toml"
    path.write_text(head + "[deploy]\nregion = 'eu-west-1'\n" + tail, encoding="utf-8")

    write_deploy_section(path, SECTION, force=True)

    assert path.read_text(encoding="utf-8") == head + SECTION + tail


# ---------------------------------------------------------------- role and timeout warnings


def test_an_imported_role_is_warned_about_with_the_least_privilege_way_out() -> None:
    (warning,) = convert().warnings
    assert warning.startswith(f"role: {ROLE} is used as is, and offhours grants it nothing")
    assert "ssm:GetParameter on /offhours/audit/config" in warning
    assert "kms:Decrypt under the context LambdaFunctionName=audit" in warning
    assert "Leave role_arn out" in warning
    assert "least-privilege role" in warning
    # Only the warning: the role is still mapped, as lambda.json said.
    assert convert().deploy["role_arn"] == ROLE


def worst_case(seconds: float) -> Callable[[int], Budget]:
    """A configuration whose run takes ``seconds`` at worst, against any timeout."""
    return lambda timeout: Budget(seconds - 2, 0, 2, timeout)


@pytest.mark.parametrize(
    ("timeout", "worst", "kept", "warned"),
    [
        (30, 20, True, ""),  # fits: kept as lambda.json says
        (30, 30, True, ""),  # exactly fits
        (30, 57, False, "lambda.json's 30 s is not kept"),  # too short: default used
        (30, 75, False, "still short"),  # even the default is too short: said too
    ],
)
def test_an_imported_timeout_is_kept_only_when_the_run_fits_it(
    timeout: int, worst: float, kept: bool, warned: str
) -> None:
    data = json.dumps({**BASE, "timeout": timeout})
    result = convert_lambda_json(data, budget=worst_case(worst))
    assert ("timeout" in result.deploy) is kept
    assert DeployConfig.model_validate(tomllib.loads(result.toml)["deploy"]).timeout == (
        timeout if kept else DeployConfig.model_fields["timeout"].default
    )
    timeout_warnings = [w for w in result.warnings if w.startswith("timeout:")]
    if kept:
        assert timeout_warnings == []
        assert note(result, "timeout").action == "mapped"
        return
    assert warned in "\n".join([*timeout_warnings, note(result, "timeout").message])
    assert "offhours' default of 60 s applies" in timeout_warnings[0]
    assert note(result, "timeout").action == "changed"
    assert f"worst case {worst:g} s" in note(result, "timeout").message
    # The reason stays beside the section, as a comment.
    assert "# changed: timeout 30 s dropped, too short for this configuration" in result.toml
