"""The deployed role's statements for an aws source, composed from its kinds and actions (pure).

Expected actions are read from the kind tables (``KINDS``, ``stopping.STOPS``), never spelled
here, so these tests grow with the tables."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.config import parse_config
from offhours.deploy.spec import describe
from offhours.errors import ConfigError
from offhours.sources.aws import permissions, stopping
from offhours.sources.aws.kinds import KINDS
from offhours.sources.aws.permissions import (
    MemberRoleRef,
    member_roles,
    member_statements,
    permissions_table,
    statements,
)
from offhours.sources.aws.settings import KIND_WORDS, AwsSourceConfig

REGION = "us-east-1"
ACCOUNT = "123456789012"
MEMBER = "arn:aws:iam::111111111111:role/offhours-member"
README = Path(__file__).resolve().parents[2] / "README.md"
SESSION = {"sts:GetCallerIdentity"}


def source(**options: Any) -> AwsSourceConfig:
    return AwsSourceConfig(type="aws", **options)


def actions(found: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for statement in found:
        acts = statement["Action"]
        out.update([acts] if isinstance(acts, str) else acts)
    return out


def resources(found: list[dict[str, Any]], action: str) -> set[str]:
    """Every Resource granting ``action``."""
    out: set[str] = set()
    for statement in found:
        if action in statement["Action"]:
            res = statement["Resource"]
            out.update([res] if isinstance(res, str) else res)
    return out


def read_of(word: str) -> set[str]:
    spec = KINDS.get(word)
    return set(spec.read_actions) if spec else set()


def stop_of(word: str) -> set[str]:
    entry = getattr(stopping, "STOPS", {}).get(word)
    if entry is None:
        return set()
    return {*entry.actions_stop, *entry.actions_restore}


@pytest.fixture
def fake_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop entries for ec2 and rds with the shapes the composition cares about: a mutating
    action of a scoped service, a read-only one, one of a service taking no ARN here."""
    table = dict(getattr(stopping, "STOPS", {}))
    table["ec2"] = SimpleNamespace(
        actions_stop=("ec2:StopInstances", "ec2:DescribeSpotInstanceRequests", "ec2:CreateTags"),
        actions_restore=("ec2:StartInstances", "ec2:DeleteTags"),
    )
    table["ecs"] = SimpleNamespace(
        actions_stop=("ecs:UpdateService", "application-autoscaling:RegisterScalableTarget"),
        actions_restore=("ecs:UpdateService",),
    )
    monkeypatch.setattr(stopping, "STOPS", table, raising=False)


# ---------------------------------------------------------------- per kind, per action


@pytest.mark.parametrize("action", ["none", "stop"])
@pytest.mark.parametrize("word", KIND_WORDS)
def test_each_kind_gets_exactly_its_own_actions(word: str, action: str) -> None:
    found = statements(source(kinds=[word], action=action), REGION, ACCOUNT)
    expected = read_of(word) | (stop_of(word) if action == "stop" else set()) | SESSION
    assert actions(found) == expected


def test_every_kind_at_once_is_the_union_of_the_kinds() -> None:
    found = statements(source(action="stop"), REGION, ACCOUNT)
    expected = set().union(*(read_of(w) | stop_of(w) for w in KIND_WORDS)) | SESSION
    assert actions(found) == expected


@pytest.mark.usefixtures("fake_stops")
@pytest.mark.parametrize(
    ("options", "stopped"),
    [
        ({"kinds": ["ec2", "ecs"]}, set()),
        ({"kinds": ["ec2", "ecs"], "action": "stop"}, {"ec2", "ecs"}),
        ({"kinds": ["ec2", "ecs"], "actions": {"ecs": "stop"}}, {"ecs"}),
        ({"kinds": ["ec2", "ecs"], "action": "stop", "actions": {"ecs": "none"}}, {"ec2"}),
        ({"kinds": ["ecs"], "actions": {"ec2": "stop"}}, set()),  # not a configured kind
    ],
)
def test_stop_and_restore_actions_only_where_the_action_is_stop(
    options: dict[str, Any], stopped: set[str]
) -> None:
    found = actions(statements(source(**options), REGION, ACCOUNT))
    for word in ("ec2", "ecs"):
        assert (stop_of(word) <= found) == (word in stopped), word
        if word in options["kinds"]:
            assert read_of(word) <= found


@pytest.mark.usefixtures("fake_stops")
@pytest.mark.parametrize(
    ("regions", "scope"),
    [
        (None, ["arn:aws:ec2:us-east-1:123456789012:*"]),
        (
            ["eu-west-1", "us-east-1"],
            ["arn:aws:ec2:eu-west-1:123456789012:*", "arn:aws:ec2:us-east-1:123456789012:*"],
        ),
        ("all", ["arn:aws:ec2:*:123456789012:*"]),
    ],
)
def test_actions_that_change_things_are_scoped_to_the_account_and_regions(
    regions: Any, scope: list[str]
) -> None:
    found = statements(
        source(kinds=["ec2", "ecs"], action="stop", regions=regions), REGION, ACCOUNT
    )
    for action in ("ec2:StopInstances", "ec2:StartInstances", "ec2:CreateTags"):
        assert resources(found, action) == set(scope)
    ecs = {s.replace(":ec2:", ":ecs:") for s in scope}
    assert resources(found, "ecs:UpdateService") == ecs
    # Reading takes no ARN; nor does a service outside the kinds' own ones, here.
    for action in ("ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests"):
        assert resources(found, action) == {"*"}
    assert resources(found, "application-autoscaling:RegisterScalableTarget") == {"*"}


def test_a_wildcard_action_in_a_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from offhours.sources.aws import stops

    table = {**stops.STOPS, "ec2": SimpleNamespace(actions_stop=("ec2:Stop*",), actions_restore=())}
    monkeypatch.setattr(stops, "STOPS", table)
    with pytest.raises(ValueError, match=r"wildcard IAM actions \['ec2:Stop\*'\]"):
        statements(source(kinds=["ec2"], action="stop"), REGION, ACCOUNT)


def test_the_partition_follows_the_region() -> None:
    settings = source(kinds=["ec2"], accounts=[], organization={"role_name": "audit"})
    found = statements(settings, "cn-north-1", "123456789012")
    assert resources(found, "sts:AssumeRole") == {"arn:aws-cn:iam::*:role/audit"}


# ---------------------------------------------------------------- where


@pytest.mark.parametrize(
    ("options", "assumed", "listing"),
    [
        ({}, set(), False),
        (
            {"accounts": [{"id": "111111111111", "role_arn": MEMBER}]},
            {MEMBER},
            False,
        ),
        (
            {
                "accounts": [
                    {"id": "111111111111", "role_arn": MEMBER},
                    {"id": "222222222222", "role_arn": "arn:aws:iam::222222222222:role/p/x"},
                    {"id": "111111111111", "role_arn": MEMBER, "name": "again"},
                ]
            },
            {MEMBER, "arn:aws:iam::222222222222:role/p/x"},
            False,
        ),
        ({"organization": {"role_name": "OrgAudit"}}, {"arn:aws:iam::*:role/OrgAudit"}, True),
        (
            {
                "organization": {"role_name": "OrgAudit", "exclude": ["333333333333"]},
                "accounts": [{"id": "111111111111", "role_arn": MEMBER}],
            },
            {"arn:aws:iam::*:role/OrgAudit", MEMBER},
            True,
        ),
    ],
)
def test_assume_role_on_exactly_the_member_roles(
    options: dict[str, Any], assumed: set[str], listing: bool
) -> None:
    found = statements(source(kinds=["ec2"], **options), REGION, ACCOUNT)
    assert resources(found, "sts:AssumeRole") == assumed
    assert ("organizations:ListAccounts" in actions(found)) == listing
    if listing:
        assert resources(found, "organizations:ListAccounts") == {"*"}


def test_all_regions_adds_describe_regions_only_then() -> None:
    assert "ec2:DescribeRegions" in actions(statements(source(regions="all"), REGION, ACCOUNT))
    listed = statements(source(regions=["eu-west-1"]), REGION, ACCOUNT)
    assert "ec2:DescribeRegions" not in actions(listed)


def test_without_the_current_account_the_function_only_reaches_members() -> None:
    settings = source(
        current_account=False,
        action="stop",
        regions="all",
        accounts=[{"id": "111111111111", "role_arn": MEMBER}],
    )
    found = statements(settings, REGION, ACCOUNT)
    assert actions(found) == {"sts:AssumeRole", "sts:GetCallerIdentity", "ec2:DescribeRegions"}
    # What reading needs is asked of the member role instead.
    member = member_statements(settings, REGION, "111111111111")
    expected = set().union(*(read_of(w) | stop_of(w) for w in KIND_WORDS))
    assert actions(member) == expected | {"ec2:DescribeRegions"}


# ---------------------------------------------------------------- shape


def policy_options() -> st.SearchStrategy[dict[str, Any]]:
    words = st.lists(st.sampled_from(KIND_WORDS), min_size=1, unique=True)
    return st.fixed_dictionaries(
        {
            "kinds": words,
            "action": st.sampled_from(["none", "stop"]),
            "actions": st.dictionaries(
                st.sampled_from(KIND_WORDS), st.sampled_from(["none", "stop"])
            ),
            "regions": st.one_of(
                st.none(),
                st.just("all"),
                st.lists(st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"]), min_size=1),
            ),
            "current_account": st.booleans(),
            "accounts": st.lists(
                st.sampled_from(
                    [
                        {"id": "111111111111", "role_arn": MEMBER},
                        {"id": "222222222222", "role_arn": "arn:aws:iam::222222222222:role/a"},
                    ]
                ),
                max_size=2,
            ),
        }
    )


@settings(max_examples=60, deadline=None)
@given(options=policy_options())
def test_statements_are_valid_deterministic_and_never_wild(options: dict[str, Any]) -> None:
    config = source(**options)
    for found in (statements(config, REGION, ACCOUNT), member_statements(config, REGION, ACCOUNT)):
        sids = [s["Sid"] for s in found]
        assert sids == sorted(sids)
        assert len(set(sids)) == len(sids)
        for statement in found:
            assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), action
    # The same configuration always composes the same policy (deploy plan: no change).
    assert statements(config, REGION, ACCOUNT) == statements(source(**options), REGION, ACCOUNT)


def test_two_aws_sources_share_one_statement_once() -> None:
    data = {
        "deploy": {"function_name": "team-a", "region": REGION},
        "sources": [
            {"type": "aws", "name": "prod", "kinds": ["ec2"], "regions": ["eu-west-1"]},
            {"type": "aws", "name": "lab", "kinds": ["ec2"], "regions": ["us-east-1"]},
            {"type": "aws", "name": "lab-too", "kinds": ["ec2"], "regions": ["us-east-1"]},
        ],
    }
    desc = describe(parse_config(data), REGION, account=ACCOUNT)
    policy = desc["OffhoursRolePolicy"].props["PolicyDocument"]
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)), sids
    ours = [s for s in policy["Statement"] if s["Sid"].startswith("Aws")]
    assert len(ours) == len({s["Sid"] for s in ours})
    assert "ec2:DescribeInstances" in actions(ours)


# ---------------------------------------------------------------- member roles


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, []),
        (
            {"accounts": [{"id": "111111111111", "role_arn": MEMBER}]},
            [MemberRoleRef("offhours-member")],
        ),
        (
            {
                "accounts": [
                    {
                        "id": "111111111111",
                        "role_arn": "arn:aws:iam::111111111111:role/team/lab/audit",
                        "external_id": "XXXXXXXX",
                    },
                    {
                        "id": "222222222222",
                        "role_arn": "arn:aws:iam::222222222222:role/team/lab/audit",
                    },
                ],
                "organization": {"role_name": "OrgAudit"},
            },
            [MemberRoleRef("OrgAudit"), MemberRoleRef("audit", "/team/lab/", external_id=True)],
        ),
    ],
)
def test_member_roles_one_per_name(options: dict[str, Any], expected: list[MemberRoleRef]) -> None:
    assert member_roles(source(**options)) == expected


def test_one_role_name_with_two_paths_is_refused() -> None:
    settings = source(
        accounts=[
            {"id": "111111111111", "role_arn": "arn:aws:iam::111111111111:role/a/audit"},
            {"id": "222222222222", "role_arn": "arn:aws:iam::222222222222:role/b/audit"},
        ]
    )
    with pytest.raises(ConfigError, match=r"role audit is named with two paths \(/a/ and /b/\)"):
        member_roles(settings)


def test_member_role_reads_without_reaching_further() -> None:
    settings = source(organization={"role_name": "OrgAudit"}, regions=["eu-west-1"])
    found = actions(member_statements(settings, REGION, ACCOUNT))
    assert found == set().union(*(read_of(w) for w in KIND_WORDS))
    assert not {a for a in found if a.startswith(("sts:", "organizations:"))}


# ---------------------------------------------------------------- the README


def test_readme_lists_each_kinds_permissions_as_the_tables_say() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- aws-permissions -->\n(.*?)<!-- /aws-permissions -->", text, re.S)
    assert match is not None, "README.md: the <!-- aws-permissions --> block is missing"
    assert match[1] == permissions_table(), (
        "README.md's AWS permissions table is out of date; replace the block between the "
        "<!-- aws-permissions --> markers with:\n" + permissions_table()
    )


def test_the_table_has_a_row_per_kind_word() -> None:
    rows = permissions_table().splitlines()[2:]
    assert [r.split("|")[2].strip() for r in rows] == [f"`{w}`" for w in KIND_WORDS]
    assert permissions.kind_actions("ec2").read == KINDS["ec2"].read_actions
