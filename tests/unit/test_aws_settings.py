"""The aws source's table: region names, account ids, and the accounts file (read when the
configuration is loaded, so a deployed function carries its accounts inline)."""

from __future__ import annotations

import csv
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.config import load_config, parse_config
from offhours.errors import ConfigError
from offhours.sources.aws.settings import read_accounts_file

DEV, OPS = "111111111111", "222222222222"
DEV_ROLE = f"arn:aws:iam::{DEV}:role/audit"
OPS_ROLE = f"arn:aws:iam::{OPS}:role/audit"


def _config(source: dict[str, Any], path: Path | None = None) -> Any:
    return parse_config(
        {"hours": {"timezone": "UTC"}, "sources": [{"type": "aws", **source}]}, path
    )


def _problem(source: dict[str, Any], path: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        _config(source, path)
    (problem,) = caught.value.problems
    return problem


# ------------------------------------------------------------------ regions


@pytest.mark.parametrize(
    "regions",
    [
        ["eu-west-1"],
        ["us-east-1", "ap-southeast-2", "il-central-1"],
        ["us-gov-west-1", "cn-north-1", "us-isob-east-1", "eusc-de-east-1"],
        "all",
        None,
    ],
)
def test_region_names_and_all_are_accepted(regions: Any) -> None:
    assert _config({"regions": regions}).sources[0].regions == regions


@pytest.mark.parametrize(
    ("regions", "problem"),
    [
        (
            ["eu-west-1", "moon-1"],
            'sources[0].regions[1]: "moon-1" is not an AWS region name (like eu-west-1 or '
            "us-gov-west-1)",
        ),
        (["EU-WEST-1"], 'sources[0].regions[0]: "EU-WEST-1" is not an AWS region name'),
        (["eu-west"], 'sources[0].regions[0]: "eu-west" is not an AWS region name'),
        (
            "everywhere",
            'sources[0].regions: "everywhere" must be "all" or a list, e.g. ["a", "b"]',
        ),
        (5, 'sources[0].regions: 5 must be "all" or a list, e.g. ["a", "b"]'),
        # another script's digit (the message shows it escaped)
        (["eu-west-\u0661"], 'sources[0].regions[0]: "eu-west-\\u0661" is not an AWS region'),
    ],
)
def test_an_unknown_region_names_its_place(regions: Any, problem: str) -> None:
    assert _problem({"regions": regions}).startswith(f"<config>: {problem}")


# ------------------------------------------------------------------ accounts


def test_a_role_of_another_account_is_refused() -> None:
    problem = _problem({"accounts": [{"id": DEV, "role_arn": OPS_ROLE}]})
    assert problem == (
        f"<config>: sources[0].accounts[0]: role_arn is in account {OPS} but id is {DEV}; "
        f"give the role of account {DEV}"
    )


def test_organization_exclusions_are_account_ids() -> None:
    problem = _problem({"organization": {"role_name": "audit", "exclude": ["12"]}})
    assert problem == (
        '<config>: sources[0].organization.exclude[0]: "12" is not an AWS account id (12 digits)'
    )


# ------------------------------------------------------------------ the accounts file

GOOD = f"id,role_arn,external_id,name\n{DEV},{DEV_ROLE},XXXX-not-a-secret,dev\n{OPS},{OPS_ROLE},,\n"


@pytest.mark.parametrize(
    ("text", "accounts"),
    [
        (
            GOOD,
            [
                {
                    "id": DEV,
                    "role_arn": DEV_ROLE,
                    "external_id": "XXXX-not-a-secret",
                    "name": "dev",
                },
                {"id": OPS, "role_arn": OPS_ROLE},
            ],
        ),
        # a spreadsheet's byte-order mark, spaces, CRLF and blank lines
        (
            f"\ufeffid, role_arn\r\n\r\n{DEV} , {DEV_ROLE}\r\n\n",
            [{"id": DEV, "role_arn": DEV_ROLE}],
        ),
        # columns in any order, name without external_id
        (
            f"name,role_arn,id\nops,{OPS_ROLE},{OPS}\n",
            [{"id": OPS, "role_arn": OPS_ROLE, "name": "ops"}],
        ),
        ("id,role_arn\n", []),
    ],
)
def test_an_accounts_file_is_read(
    tmp_path: Path, text: str, accounts: list[dict[str, str]]
) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(text.encode("utf-8"))
    assert read_accounts_file(path) == accounts


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty; the first line names the columns: id,role_arn"),
        ("\n\n", "empty; the first line names the columns: id,role_arn"),
        (f"id\n{DEV}\n", "line 1: the header has no role_arn column"),
        (
            f"id,role,name\n{DEV},{DEV_ROLE},dev\n",
            "line 1, column 4: 'role' is not a column (or is repeated); the columns are id, "
            "role_arn, external_id, name",
        ),
        (
            f"id,role_arn\n\n{DEV[:-1]},{DEV_ROLE}\n",
            f"line 3, column 1: id '{DEV[:-1]}': is not an AWS account id (12 digits)",
        ),
        (
            f"id,role_arn\n{DEV},arn:aws:iam::{DEV}:user/me\n",
            f"line 2, column 14: role_arn 'arn:aws:iam::{DEV}:user/me': is not an IAM role ARN "
            'such as "arn:aws:iam::123456789012:role/offhours-audit"',
        ),
        (f"id,role_arn\n{DEV}\n", "line 2, column 14: role_arn: missing; this key is required"),
        (f"id,role_arn\n{DEV},{DEV_ROLE},x\n", "line 2, column 51: 3 values for 2 columns"),
        (
            f"id,role_arn\n{DEV},{OPS_ROLE}\n",
            f"line 2, column 1: id '{DEV}': role_arn is in account {OPS} but id is {DEV}",
        ),
        (
            f"id,role_arn\n{DEV},{DEV_ROLE}\n{DEV},{DEV_ROLE}\n",
            f"line 3: account {DEV} is already on line 2",
        ),
    ],
)
def test_a_bad_accounts_file_names_its_line_and_column(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(problem)) as caught:
        read_accounts_file(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert problem in message, message


def test_the_file_is_relative_to_the_config_and_travels_inline(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text(f"id,role_arn,name\n{OPS},{OPS_ROLE},ops\n")
    toml = tmp_path / "offhours.toml"
    toml.write_text(
        '[hours]\ntimezone = "UTC"\n[[sources]]\ntype = "aws"\naccounts_file = "accounts.csv"\n'
        f'accounts = [{{ id = "{DEV}", role_arn = "{DEV_ROLE}" }}]\n'
    )

    config = load_config(toml)

    assert [a.id for a in config.sources[0].accounts] == [DEV, OPS]
    (table,) = config.runtime_document()["sources"]
    assert "accounts_file" not in table
    assert table["accounts"] == [
        {"id": DEV, "role_arn": DEV_ROLE},
        {"id": OPS, "role_arn": OPS_ROLE, "name": "ops"},
    ]
    # What the function is given validates alone, with no file next to it.
    assert [a.id for a in parse_config(config.runtime_document()).sources[0].accounts] == [DEV, OPS]


def test_a_missing_accounts_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    problem = _problem({"accounts_file": "nowhere.csv"}, tmp_path / "offhours.toml")
    assert problem == (
        f"{tmp_path / 'offhours.toml'}: sources[0]: accounts_file: "
        f"{tmp_path / 'nowhere.csv'}: no such file; create it or fix the path"
    )


_TEXT = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=2, max_size=20)
    .map(str.strip)
    .filter(lambda t: len(t) >= 2)
)


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"\A[0-9]{12}\Z"),
            st.one_of(st.none(), _TEXT),
            st.one_of(st.none(), _TEXT),
        ),
        max_size=8,
        unique_by=lambda row: row[0],
    )
)
def test_any_accounts_written_as_csv_read_back_the_same(
    rows: list[tuple[str, str | None, str | None]],
) -> None:
    # names and external ids with commas, quotes and any script survive CSV quoting
    entries = [
        {
            "id": ident,
            "role_arn": f"arn:aws:iam::{ident}:role/audit",
            **({"external_id": ext} if ext else {}),
            **({"name": name} if name else {}),
        }
        for ident, ext, name in rows
    ]
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "accounts.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["id", "role_arn", "external_id", "name"])
            for e in entries:
                writer.writerow(
                    [e["id"], e["role_arn"], e.get("external_id", ""), e.get("name", "")]
                )
        assert read_accounts_file(path) == entries
