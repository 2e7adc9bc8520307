"""Config errors a user can act on: plain English (never pydantic's wording), "did you mean",
TOML's table scope, each problem on its line, syntax errors with their position and a hint."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from offhours.config import _Top, load_config, parse_config
from offhours.config_problems import PATTERN_WORDS, key_path, show
from offhours.errors import ConfigError
from offhours.registry import BUILTIN, config_model
from offhours.toml_text import KeyLines, Loc, read_toml

RAVELLO = {"type": "ravello", "username": "env:U", "password": "env:P"}
MINIMAL = '[[sources]]\ntype = "ravello"\nusername = "env:RU"\npassword = "env:RP"\n'

#: what pydantic says and a user must never read
PYDANTIC_PHRASES = (
    "Input should",
    "input should",
    "String should",
    "string should",
    "List should",
    "greater_than",
    "less_than",
    "^",
    "pattern",
    "type=",
    "For further information",
    "Value error",
    "Field required",
    "valid dictionary",
    "Assertion failed",
    "instance of",
)


def problems(data: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def file_problems(tmp_path: Path, text: str | bytes) -> tuple[str, ...]:
    path = tmp_path / "offhours.toml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.exit_code == 2
    return tuple(p.replace(str(tmp_path) + "/", "") for p in info.value.problems)


# ------------------------------------------------------------------ pydantic → plain English


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"hours": {"grace_minutes": -1}}, "hours.grace_minutes: -1 must be between 0 and 1440"),
        ({"hours": {"grace_minutes": 1441}}, "hours.grace_minutes: 1441 must be between 0 and"),
        (
            {"hours": {"grace_minutes": "soon"}},
            'hours.grace_minutes: "soon" must be a whole number',
        ),
        ({"hours": {"grace_minutes": 1.5}}, "1.5 must be a whole number (no decimals)"),
        ({"hours": 5}, "hours: 5 must be a table: a [name] header with keys under it"),
        ({"tags": {"schedule": ""}}, 'tags.schedule: "" must not be empty'),
        ({"tags": {"allow_always": "yes"}}, 'tags.allow_always: "yes" must be true or false'),
        ({"allow_plaintext_secrets": "maybe"}, '"maybe" must be true or false'),
        (
            {"memory": {"store": "redis"}},
            'memory.store: "redis" must be one of: auto, sqlite, dynamodb, off',
        ),
        (
            {"memory": {"store": "sqlight"}},
            "must be one of: auto, sqlite, dynamodb, off; did you mean sqlite?",
        ),
        ({"memory": {"remind_every_hours": float("inf")}}, "must be a finite number"),
        ({"memory": {"remind_every_hours": 200}}, "200 must be between 0 and 168"),
        ({"memory": {"table": "ab"}}, '"ab" is not a DynamoDB table name'),
        ({"deploy": {"region": "useast1"}}, '"useast1" is not an AWS region name such as'),
        ({"secrets": {"region": "EU"}}, 'secrets.region: "EU" is not an AWS region name'),
        ({"deploy": {"function_name": "a b"}}, '"a b" is not a Lambda function name'),
        ({"deploy": {"alias": "1x"}}, '"1x" is not a Lambda alias name'),
        ({"deploy": {"key_alias": "offhours"}}, '"offhours" is not a KMS alias such as'),
        ({"deploy": {"memory": 64}}, "deploy.memory: 64 must be between 128 and 10240"),
        ({"deploy": {"publish": 3}}, "deploy.publish: 3 must be true or false"),
        ({"deploy": {"tags": ["a"]}}, 'deploy.tags: ["a"] must be a table'),
        ({"deploy": {"description": "x" * 300}}, "must be at most 256 characters long"),
        ({"deploy": {"runtime": "python2.7"}}, "must be one of: python3.11, python3.12"),
        ({"deploy": {"vpc": {"subnet_ids": "subnet-1"}}}, 'must be a list, e.g. ["a", "b"]'),
        ({"hours": {"holidays": {"dates": ["2026-13-01"]}}}, "must be a date such as 2026-12-24"),
        ({"sources": []}, "sources: [] must not be empty"),
        (
            {"sources": {"type": "ravello"}},
            "sources: is one [sources] table, but it takes a list of them: write [[sources]]",
        ),
        ({"sources": [RAVELLO | {"retries": -1}]}, "sources[0].retries: -1 must be between 0"),
        ({"sources": [RAVELLO | {"read_timeout": 0}]}, "0 must be more than 0 and at most 600"),
        ({"sources": [RAVELLO | {"username": 5}]}, "sources[0].username: must be text, in quotes"),
        (
            {"sources": [RAVELLO | {"base_url": "example.com"}]},
            '"example.com" is not an http(s) URL such as',
        ),
        (
            {"sources": [{"type": "aws", "kinds": ["rds-clusters"]}]},
            'sources[0].kinds[0]: "rds-clusters" must be one of: ec2, asg, rds, rds-cluster, ecs, '
            "eks, sagemaker, redshift; did you mean rds-cluster?",
        ),
        (
            {"sources": [{"type": "aws", "actions": {"ec3": "stop"}}]},
            'sources[0].actions: "ec3" is not a key it takes (must be one of: ec2,',
        ),
        (
            {"sources": [{"type": "aws", "prices": {"m5.large": -1}}]},
            'sources[0].prices."m5.large": -1 must be 0 or more',
        ),
        (
            {"sources": [{"type": "aws", "accounts": [{"id": "1", "role_arn": "x"}]}]},
            'sources[0].accounts[0].role_arn: "x" is not an IAM role ARN such as',
        ),
        (
            {"sources": [{"type": "aws", "organization": {"role_name": "a b"}}]},
            'sources[0].organization.role_name: "a b" is not an IAM role name',
        ),
        ({"sources": [{"type": "aws", "owner_tags": []}]}, "owner_tags: [] must not be empty"),
        (
            {"sources": [{"type": "aws", "regions": "everywhere"}]},
            'sources[0].regions: "everywhere" must be "all" or a list',
        ),
    ],
)
def test_pydantic_errors_read_as_plain_english(data: dict[str, Any], expected: str) -> None:
    found = problems({"sources": [RAVELLO], **data})
    assert any(expected in p for p in found), found
    for problem in found:
        assert not any(phrase in problem for phrase in PYDANTIC_PHRASES), problem


def _patterns(annotation: object) -> set[str]:
    found: set[str] = set()
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(getattr(meta, "pattern", None), str):
            found.add(meta.pattern)
    for arg in get_args(annotation):
        found |= _patterns(arg)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for field in annotation.model_fields.values():
            found |= {
                m.pattern for m in field.metadata if isinstance(getattr(m, "pattern", 0), str)
            }
            found |= _patterns(field.annotation)
    return found


def _builtin_models() -> list[type[BaseModel]]:
    return [_Top] + [config_model(s, k) for s, kinds in BUILTIN.items() for k in kinds]


def test_every_pattern_of_a_builtin_model_has_words() -> None:
    """A regex is never shown: each `pattern=` says what the value is not, in words."""
    patterns = set().union(*(_patterns(m) for m in _builtin_models()))
    assert patterns, "the walk found no pattern at all"
    assert patterns <= set(PATTERN_WORDS), patterns - set(PATTERN_WORDS)


# Wrong values of every kind TOML can hold (and a few a JSON document could).
WRONG = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    # keys a message repeats as they are: letters, so a phrase found is the message's own
    st.dictionaries(st.text(alphabet="abxyz_", max_size=5), st.integers(), max_size=2),
)


def _fields(model: type[BaseModel], prefix: Loc = ()) -> list[tuple[Loc, type[BaseModel]]]:
    out: list[tuple[Loc, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        out.append(((*prefix, name), model))
        for arg in (field.annotation, *get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out.extend(_fields(arg, (*prefix, name)))
    return out


CORE_FIELDS = [loc for loc, _ in _fields(_Top) if loc[0] not in ("sources", "notifiers")]
PLUGINS = [(s, k) for s, kinds in BUILTIN.items() for k in kinds]
REQUIRED = {
    "ravello": RAVELLO,
    "aws": {"type": "aws"},
    "slack": {"type": "slack", "webhook_url": "env:HOOK"},
    "console": {"type": "console"},
}


def _put(document: dict[str, Any], loc: Loc, value: object) -> None:
    table = document
    for key in loc[:-1]:
        table = table.setdefault(str(key), {})
    table[str(loc[-1])] = value


def _check_words(found: tuple[str, ...], value: object, secret: bool) -> None:
    event("refused")
    for problem in found:
        # the value itself may hold anything (an accounts_file path is quoted as it is)
        text = problem.replace(show(value), "")
        if isinstance(value, str) and value:
            text = text.replace(value, "")
        assert not any(p in text for p in PYDANTIC_PHRASES), problem
        if secret and isinstance(value, str) and len(value) > 3:
            assert show(value) not in problem, problem  # a secret is never echoed


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(loc=st.sampled_from(CORE_FIELDS), value=WRONG)
def test_no_pydantic_phrase_for_any_wrong_value_of_any_core_key(loc: Loc, value: object) -> None:
    document: dict[str, Any] = {"sources": [RAVELLO]}
    _put(document, loc, value)
    try:
        parse_config(document)
    except ConfigError as exc:
        _check_words(exc.problems, value, secret=False)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), plugin=st.sampled_from(PLUGINS), value=WRONG)
def test_no_pydantic_phrase_for_any_wrong_value_of_any_plugin_key(
    data: st.DataObject, plugin: tuple[str, str], value: object
) -> None:
    section, kind = plugin
    model = config_model(section, kind)
    loc = data.draw(st.sampled_from([loc for loc, _ in _fields(model) if loc != ("type",)]))
    table = dict(REQUIRED.get(kind, {"type": kind}))
    _put(table, loc, value)
    document: dict[str, Any] = {"sources": [RAVELLO]} if section == "notifiers" else {}
    document[section] = [*document.get(section, []), table]
    secret = loc[0] in ("username", "password", "webhook_url")
    try:
        parse_config(document)
    except ConfigError as exc:
        _check_words(exc.problems, value, secret)


# ------------------------------------------------------------------ did you mean, table scope


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[hours]\ndayz = "Mon-Fri"\n', "2: hours.dayz: unknown key; did you mean days?"),
        ("[hours]\ngrace_minuts = 5\n", "2: hours.grace_minuts: unknown key; did you mean "),
        ('[hours]\nzone = "UTC"\n', "2: hours.zone: unknown key; expected one of: timezone, days"),
        (
            '[hours.holidays]\ncountri = "US"\n',
            "2: hours.holidays.countri: unknown key; did you mean country?",
        ),
        (
            MINIMAL + "retires = 3\n",
            "5: sources[0].retires: unknown key; did you mean retries?",
        ),
        (
            MINIMAL
            + '[[notifiers]]\ntype = "slack"\nwebhook_url = "env:H"\nnotify_when_emty = 1\n',
            "8: notifiers[0].notify_when_emty: unknown key; did you mean notify_when_empty?",
        ),
        (
            MINIMAL + '[[notifiers]]\ntype = "console"\nallow_plaintext_secrets = true\n',
            "7: notifiers[0].allow_plaintext_secrets: unknown key; allow_plaintext_secrets "
            "belongs at the top level: TOML puts every key after a [table] header inside that "
            "table, so move it above the first [table] line (line 1)",
        ),
        (
            '[deploy]\nregion = "us-east-1"\nremind_every_hours = 2\n' + MINIMAL,
            "3: deploy.remind_every_hours: unknown key; remind_every_hours belongs in [memory]: "
            "TOML puts every key after a [table] header inside that table, so put it under "
            "[memory]",
        ),
        (
            'timezone = "UTC"\n' + MINIMAL,
            "1: timezone: unknown key; timezone belongs in [hours] or [deploy]",
        ),
        ('[hous]\ntimezone = "UTC"\n', "1: hous: unknown key; did you mean hours?"),
        (
            '[[sources]]\ntype = "aws"\naccounts = [\n'
            '  { id = "111111111111", rol_arn = "x" },\n]\n',
            "4: sources[0].accounts[0].rol_arn: unknown key; did you mean role_arn?",
        ),
        (
            MINIMAL + "grace_minuts = 5\n",
            "5: sources[0].grace_minuts: unknown key; did you mean grace_minutes, a key of "
            "[hours]?",
        ),
    ],
)
def test_unknown_keys_get_a_hint(tmp_path: Path, toml: str, expected: str) -> None:
    found = file_problems(tmp_path, toml + ("" if "[[sources]]" in toml else MINIMAL))
    assert any(f"offhours.toml:{expected}" in p for p in found), found


@pytest.mark.parametrize(
    ("section", "word", "expected"),
    [
        ("sources", "ravelo", "is not a known source type; did you mean ravello?"),
        ("sources", "AWS", "is not a known source type; did you mean aws?"),
        ("notifiers", "slak", "is not a known notifier type; did you mean slack?"),
        ("notifiers", "consol", "is not a known notifier type; did you mean console?"),
        ("sources", "ec2", "is not a known source type; built in: aws, ravello (third-party"),
    ],
)
def test_unknown_plugin_types_get_a_did_you_mean(section: str, word: str, expected: str) -> None:
    document: dict[str, Any] = {"sources": [RAVELLO], section: [{"type": word}]}
    found = problems(document)
    assert any(f'{section}[0].type: "{word}" {expected}' in p for p in found), found


# ------------------------------------------------------------------ lines


def test_every_problem_names_its_line_in_file_order(tmp_path: Path) -> None:
    text = """\
# offhours
allow_plaintext_secrets = "maybe"

[hours]
start = "25:00"
end = "18:00"
grace_minutes = -1

[[sources]]
type = "ravello"
username = "env:U"
password = "env:P"

[[sources]]
type = "aws"
regions = ["eu-west-1",
  "moon-1"]   # line 17
accounts = [
  { id = "111111111111", role_arn = "arn:aws:iam::111111111111:role/a" },
  { id = "2", role_arn = "arn:aws:iam::2:role/a" },
]
"""
    found = file_problems(tmp_path, text)
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines), found
    assert found[:4] == (
        'offhours.toml:2: allow_plaintext_secrets: "maybe" must be true or false',
        'offhours.toml:5: hours.start: "25:00" is not a time (HH:MM)',
        "offhours.toml:7: hours.grace_minutes: -1 must be between 0 and 1440",
        'offhours.toml:17: sources[1].regions[1]: "moon-1" is not an AWS region name (like '
        "eu-west-1 or us-gov-west-1)",
    )
    assert any(p.startswith("offhours.toml:20: sources[1].accounts[1].") for p in found), found


def test_a_table_among_wrong_items_keeps_its_index(tmp_path: Path) -> None:
    found = file_problems(tmp_path, 'sources = [\n  "ravello",\n  { type = "ravelo" },\n]\n')
    assert found == (
        'offhours.toml:2: sources[0]: "ravello" must be a table: a [name] header with keys under '
        "it, or { key = value, … }",
        'offhours.toml:3: sources[1].type: "ravelo" is not a known source type; did you mean '
        "ravello? (built in: aws, ravello; third-party ones register under the entry-point "
        "group offhours.sources)",
    )


def test_a_missing_key_is_placed_on_its_table_and_a_missing_table_on_no_line(
    tmp_path: Path,
) -> None:
    found = file_problems(tmp_path, '[hours]\nstart = "08:00"\nend = "18:00"\n\n[[notifiers]]\n')
    assert "offhours.toml:5: notifiers[0].type: missing; give the kind, one of: console, slack" in (
        found
    )
    # No [[sources]] anywhere: no line to point at, never a wrong one.
    assert "offhours.toml: sources: missing; add at least one [[sources]] table" in found


# Tables: (text, key path, line)
KEY_LINES: list[tuple[str, Loc, int | None]] = [
    ('a = 1\n[t]\nb = "x"\n', ("a",), 1),
    ('a = 1\n[t]\nb = "x"\n', ("t",), 2),
    ('a = 1\n[t]\nb = "x"\n', ("t", "b"), 3),
    ("[[s]]\nx = 1\n[[s]]\nx = 2\n", ("s", 1, "x"), 4),
    ("[[s]]\nx = 1\n[[s]]\nx = 2\n", ("s", 1), 3),
    ("[[s]]\n[[s.a]]\nk = 1\n[[s]]\n[[s.a]]\n[[s.a]]\nk = 2\n", ("s", 1, "a", 1, "k"), 7),
    ("[[s]]\n[s.sub]\nk = 1\n[[s]]\n[s.sub]\nk = 2\n", ("s", 1, "sub", "k"), 6),
    ('[ "quoted key" . b ]\nc = 1\n', ("quoted key", "b", "c"), 2),
    ("t.'lit.key' = 1\n", ("t", "lit.key"), 1),
    ('a = """\n[fake]\nb = 1\n"""\nc = 2\n', ("c",), 5),
    ('a = """x\\\n  y"""\nc = 2\n', ("c",), 3),
    ("a = '''\n[fake]\n'''\n[t]\n", ("t",), 4),
    ('a = "# not a comment [x]"  # comment [y]\nb = 1\n', ("b",), 2),
    ("a = [\n  1,  # one\n  2,\n]\n", ("a", 1), 3),
    ('a = [{ b = 1 }, { c.d = "x" }]\n', ("a", 1, "c", "d"), 1),
    ("a = [\n [1, 2],\n [3,\n  4],\n]\n", ("a", 1, 1), 4),
    ("d = 1979-05-27 07:32:00Z\ne = 2\n", ("e",), 2),
    ("[hours.holidays]\nx = 1\n[hours]\ny = 2\n", ("hours",), 3),
    ("[hours.holidays]\nx = 1\n", ("hours",), 1),
    ("a = 1\n", ("b",), None),
    ('"a\\u0062" = 1\n', ("ab",), 1),
]


@pytest.mark.parametrize(("text", "loc", "line"), KEY_LINES)
def test_key_lines(text: str, loc: Loc, line: int | None) -> None:
    tomllib.loads(text)  # each case is valid TOML
    assert KeyLines.of(text).line_of(loc) == line


# -- hypothesis: documents written with known lines, read back

BARE = st.from_regex(r"[a-z][a-z0-9_-]{0,5}", fullmatch=True)
QUOTED = st.text(alphabet="ab .=#[]{}é'", min_size=1, max_size=5).map(json.dumps)
LITERAL = st.text(alphabet='ab .=#[]{}"', min_size=1, max_size=5).map(lambda s: f"'{s}'")
SCALARS = st.sampled_from(
    [
        "1",
        "-3.5",
        "true",
        '"text # [not] a comment"',
        "'lit, ]'",
        "1979-05-27T07:32:00Z",
        "1979-05-27 07:32:00Z",
        '"esc \\" ] #"',
        "inf",
    ]
)
MULTILINE = st.sampled_from(
    [
        ['"""', "[fake]", 'k = "v"', '"""'],
        ["'''x", "[[fake]]", "'''"],
        ['"""a\\', '  b""""'],
    ]
)


def _key_text(draw: st.DrawFn) -> tuple[str, str]:
    """A key as written, and as read."""
    written = draw(st.one_of(BARE, QUOTED, LITERAL))
    read = tomllib.loads(f"{written} = 1")
    return written, next(iter(read))


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, dict[Loc, int]]:
    lines: list[str] = []
    expected: dict[Loc, int] = {}

    def blank() -> None:
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "# a comment", "   ", "# [not] = a table"])))

    def key_values(table: Loc) -> None:
        used: set[str] = set()
        for _ in range(draw(st.integers(0, 3))):
            blank()
            written, name = _key_text(draw)
            if name in used:
                continue
            used.add(name)
            path = (*table, name)
            shape = draw(st.sampled_from(["scalar", "multiline", "array", "inline", "dotted"]))
            start = len(lines) + 1
            expected[path] = start
            if shape == "scalar":
                lines.append(f"{written} = {draw(SCALARS)}")
            elif shape == "multiline":
                first, *rest = draw(MULTILINE)
                lines.extend([f"{written} = {first}", *rest])
            elif shape == "array":
                items = draw(st.lists(SCALARS, min_size=1, max_size=3))
                lines.append(f"{written} = [")
                for i, item in enumerate(items):
                    expected[(*path, i)] = len(lines) + 1
                    lines.append(f"  {item},  # item {i}")
                lines.append("]")
            elif shape == "inline":
                inner_written, inner = _key_text(draw)
                expected[(*path, 0, inner)] = start
                lines.append(f"{written} = [{{ {inner_written} = {draw(SCALARS)} }}]")
            else:
                sub_written, sub = _key_text(draw)
                del expected[path]
                expected[(*path, sub)] = start
                lines.append(f"{written} . {sub_written} = {draw(SCALARS)}")

    key_values(())
    names = draw(st.lists(BARE, min_size=0, max_size=3, unique=True))
    for name in names:
        blank()
        if draw(st.booleans()):
            expected[(name,)] = len(lines) + 1
            lines.append(f"[{name}]  # a table")
            key_values((name,))
        else:
            for i in range(draw(st.integers(1, 3))):
                expected[(name, i)] = len(lines) + 1
                lines.append(f"[[ {name} ]]")
                key_values((name, i))
                if draw(st.booleans()):
                    expected[(name, i, "sub", 0)] = len(lines) + 1
                    lines.append(f"[[{name}.sub]]")
                    key_values((name, i, "sub", 0))
    return "\n".join(lines) + "\n", expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_key_lines_of_any_document(document: tuple[str, dict[Loc, int]]) -> None:
    text, expected = document
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        # a table name drawn equal to a top-level key: not TOML, not a case for the scanner
        event("not TOML")
        return
    lines = KeyLines.of(text)
    assert {loc: lines.line_of(loc) for loc in expected} == expected, text


def test_key_path_quotes_what_is_not_a_bare_key() -> None:
    assert key_path(("sources", 0, "prices", "m5.large")) == 'sources[0].prices."m5.large"'
    assert key_path(()) == "(top level)"


# ------------------------------------------------------------------ reading the file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "timezone = America/New_York\n",
            "offhours.toml:1:12: not valid TOML: invalid value; put text in quotes: "
            'timezone = "America/New_York"',
        ),
        (
            "[hours]\ndays = Mon-Fri  # weekdays\n",
            "offhours.toml:2:8: not valid TOML: invalid value; put text in quotes: "
            'days = "Mon-Fri"',
        ),
        (
            "[hours]\nstart = 08:00\n",
            'put text in quotes: start = "08:00"',
        ),
        (
            "publish = True\n",
            "offhours.toml:1:11: not valid TOML: invalid value; write true or "
            "false in lower case: publish = true",
        ),
        ("name = “lab”\n", 'use straight quotes: name = "lab"'),
        (
            'start "08:00"\n',
            "offhours.toml:1:7: not valid TOML: expected '=' after a key in a "
            "key/value pair; write key = value",
        ),
        (
            '[hours]\nstart = "08:00"\n\n[hours]\nend = "18:00"\n',
            "offhours.toml:4:7: not valid TOML: the table [hours] is declared twice; merge the two",
        ),
        (
            "a = 1\nb = 2\na = 3\n",
            "offhours.toml:3: not valid TOML: a key is given a value twice; keep one of them",
        ),
        (
            "a = 1\n[t]\nb = 2\nb = 3",  # no line from tomllib here: the scanner finds it
            "offhours.toml:4: not valid TOML: a key is given a value twice; keep one of them",
        ),
        ("a.b = 1\na = 2", "offhours.toml:2: not valid TOML: a key is given a value twice"),
        (
            'a = "x\nb = 1\n',
            "offhours.toml:1:7: not valid TOML: a string is not closed on its line; close the "
            "quote",
        ),
        (
            'a = 1\nb = """\nnever closed\n',
            "offhours.toml:2: not valid TOML: a string is not closed",
        ),
        ("a = { b = 1\n", "not valid TOML: an inline table { … } is not closed on its line"),
        (
            'x = 1\nwindows = [\n  "08:00-12:00",\n',
            "offhours.toml:2: not valid TOML: the file ends inside a value; close",
        ),
        ("a = 'x\n", "offhours.toml:1: not valid TOML: a string is not closed"),
        ("a = [1,\n  2", "offhours.toml:1: not valid TOML: an array [ … ] is not closed"),
    ],
)
def test_toml_syntax_errors_name_line_and_column_and_hint(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "offhours.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value).replace(str(tmp_path) + "/", "")
    assert expected in message, message
    assert "(at line" not in message and "end of document" not in message


def test_a_byte_order_mark_is_accepted_and_lines_stay_right(tmp_path: Path) -> None:
    text = "\ufeff" + MINIMAL + '[hours]\nstart = "25:00"\nend = "18:00"\n'
    found = file_problems(tmp_path, text.encode("utf-8"))
    assert found == ('offhours.toml:6: hours.start: "25:00" is not a time (HH:MM)',)
    path = tmp_path / "ok.toml"
    path.write_bytes(("\ufeff" + MINIMAL).encode("utf-8"))
    assert load_config(path).sources


def test_text_that_is_not_utf8_says_where(tmp_path: Path) -> None:
    raw = MINIMAL.encode() + '[hours]\ntimezone = "Europe/Zürich"\n'.encode("latin-1")
    with pytest.raises(ConfigError) as info:
        read_toml(raw, "offhours.toml")
    assert str(info.value) == (
        f"offhours.toml:6: not UTF-8 text (byte 0xfc at offset {raw.index(0xFC)}); save the file "
        "as UTF-8"
    )


def test_values_are_shown_briefly_and_without_credentials() -> None:
    assert show("x" * 100) == json.dumps("x" * 100)[:57] + "…"
    assert show(True) == "true"
    assert show("https://ada:pw@example.com") == '"https://••••@example.com"'
    assert show(date(2026, 12, 24)) == '"2026-12-24"'
    assert show(datetime(2026, 12, 24, 18, 0)) == '"2026-12-24 18:00:00"'


def test_problem_texts_carry_no_regex_anywhere() -> None:
    for words in PATTERN_WORDS.values():
        assert not re.search(r"[\^$\\]|\{\d", words), words
