"""`offhours deploy export --member-role`: the role each member account needs, as a
CloudFormation template (StackSet-ready) and a Terraform module.

The template is linted (cfn-lint), created as a stack in a member account of moto's server, and
used: with moto enforcing IAM, a stand-in for the deployed function's role assumes it and reads
the member account with nothing more than it grants.
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from offhours.config import Config, parse_config
from offhours.deploy.member_role import export_member_role
from offhours.deploy.spec import ACCOUNT as ACCOUNT_MARKER
from offhours.errors import ConfigError
from offhours.sources.aws import AwsSource, stopping
from offhours.sources.aws.permissions import member_statements, statements
from offhours.sources.aws.settings import AwsSourceConfig
from offhours.testing.aws_fleet import IMAGE
from tests.aws import REGION, TEST_KEYS, enforce_iam, env_for, moto_subprocess
from tests.functional.test_export import TERRAFORM, TF_PLUGINS, init, terraform

FN = "offhours-audit"
DEPLOYMENT = "123456789012"
MEMBER = "111111111111"
ROLE = "offhours-member"
ROLE_ARN = f"arn:aws:iam::{MEMBER}:role/{ROLE}"

BASE: dict[str, Any] = {
    "hours": {"timezone": "America/New_York", "start": "08:00", "end": "18:00"},
    "deploy": {"function_name": FN, "region": REGION, "tags": {"team": "platform"}},
    "sources": [
        {
            "type": "aws",
            "kinds": ["ec2"],
            "regions": [REGION],
            "accounts": [{"id": MEMBER, "role_arn": ROLE_ARN}],
        }
    ],
}


def make(source: dict[str, Any] | None = None, **deploy: Any) -> Config:
    data = copy.deepcopy(BASE)
    data["sources"][0].update(source or {})
    data["deploy"].update(deploy)
    return parse_config(data)


def template(config: Config, fmt: str = "cloudformation") -> dict[str, Any]:
    doc = json.loads(export_member_role(config, format=fmt))  # type: ignore[arg-type]
    assert isinstance(doc, dict)
    return doc


def settings_of(config: Config) -> AwsSourceConfig:
    found = config.sources[0]
    assert isinstance(found, AwsSourceConfig)
    return found


VARIANTS = [
    pytest.param({}, {}, id="one-account"),
    pytest.param({"action": "stop", "regions": "all"}, {}, id="stop-all-regions"),
    pytest.param(
        {"accounts": [], "organization": {"role_name": "OrgAudit", "external_id": "XXXXXXXX"}},
        {},
        id="organization-external-id",
    ),
    pytest.param(
        {
            "accounts": [
                {"id": MEMBER, "role_arn": ROLE_ARN},
                {"id": "222222222222", "role_arn": "arn:aws:iam::222222222222:role/lab/audit"},
            ]
        },
        {},
        id="two-role-names",
    ),
    pytest.param({}, {"role_arn": f"arn:aws:iam::{DEPLOYMENT}:role/existing"}, id="existing-role"),
]


# ---------------------------------------------------------------- CloudFormation


@pytest.mark.parametrize(("source", "deploy"), VARIANTS)
def test_the_template_passes_cfn_lint(source: dict[str, Any], deploy: dict[str, Any]) -> None:
    api = pytest.importorskip("cfnlint.api")
    matches = api.lint(export_member_role(make(source, **deploy), format="cloudformation"))
    assert [str(m) for m in matches] == []


def test_the_template_trusts_only_the_deployments_role_and_names_no_account() -> None:
    text = export_member_role(make({"action": "stop"}), format="cloudformation")
    assert DEPLOYMENT not in text
    assert MEMBER not in text
    doc = json.loads(text)
    assert doc["Parameters"]["DeploymentAccountId"]["AllowedPattern"] == "^[0-9]{12}$"
    (role,) = doc["Resources"].values()
    props = role["Properties"]
    assert props["RoleName"] == ROLE
    (grant,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert grant["Principal"] == {
        "AWS": {"Fn::Sub": f"arn:aws:iam::${{DeploymentAccountId}}:role/{FN}-role"}
    }
    assert grant["Action"] == "sts:AssumeRole"
    assert "Condition" not in grant
    tags = {t["Key"]: t["Value"] for t in props["Tags"]}
    assert tags == {"team": "platform", "offhours:managed-by": "offhours", "offhours:function": FN}


def test_an_external_id_is_a_parameter_never_a_value() -> None:
    config = make({"accounts": [{"id": MEMBER, "role_arn": ROLE_ARN, "external_id": "XXXXext0"}]})
    for fmt in ("cloudformation", "terraform"):
        text = export_member_role(config, format=fmt)  # type: ignore[arg-type]
        assert "XXXXext0" not in text
    doc = template(config)
    assert doc["Parameters"]["ExternalId"]["NoEcho"] is True
    (role,) = doc["Resources"].values()
    (grant,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert grant["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    tf = template(config, "terraform")
    assert tf["variable"]["external_id"]["sensitive"] is True
    (trust,) = [
        json.loads(r["assume_role_policy"]) for r in tf["resource"]["aws_iam_role"].values()
    ]
    assert trust["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": "${var.external_id}"}
    }


def test_an_existing_function_role_is_trusted_as_it_is() -> None:
    existing = f"arn:aws:iam::{DEPLOYMENT}:role/existing"
    doc = template(make(role_arn=existing))
    assert "Parameters" not in doc
    (role,) = doc["Resources"].values()
    (grant,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert grant["Principal"] == {"AWS": existing}


def test_one_role_per_role_name_with_its_path() -> None:
    config = make(
        {
            "accounts": [
                {"id": MEMBER, "role_arn": ROLE_ARN},
                {"id": "222222222222", "role_arn": "arn:aws:iam::222222222222:role/lab/audit"},
            ],
            "organization": {"role_name": ROLE},
        }
    )
    roles = {
        r["Properties"]["RoleName"]: r["Properties"] for r in template(config)["Resources"].values()
    }
    assert sorted(roles) == ["audit", ROLE]
    assert roles["audit"]["Path"] == "/lab/"
    assert roles[ROLE]["Path"] == "/"
    tf = template(config, "terraform")["resource"]["aws_iam_role"]
    assert sorted(r["name"] for r in tf.values()) == ["audit", ROLE]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"accounts": []}, r"no member accounts: --member-role writes the role"),
        (
            {
                "accounts": [
                    {"id": MEMBER, "role_arn": "arn:aws:iam::111111111111:role/a/audit"},
                    {"id": "222222222222", "role_arn": "arn:aws:iam::222222222222:role/b/audit"},
                ]
            },
            r"role audit is named with two paths",
        ),
    ],
)
def test_what_cannot_be_exported_is_refused(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        export_member_role(make(source))


def test_a_format_other_than_cloudformation_or_terraform_is_refused() -> None:
    with pytest.raises(ConfigError, match="choose cloudformation or terraform"):
        export_member_role(make(), format="sam")  # type: ignore[arg-type]


# ---------------------------------------------------------------- Terraform


@pytest.fixture
def ec2_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ec2 stop entry, so that the role holds actions scoped to its own account."""
    table = dict(getattr(stopping, "STOPS", {}))
    table["ec2"] = SimpleNamespace(
        actions_stop=("ec2:StopInstances", "ec2:CreateTags"),
        actions_restore=("ec2:StartInstances",),
    )
    monkeypatch.setattr(stopping, "STOPS", table, raising=False)


@pytest.mark.usefixtures("ec2_stops")
def test_actions_on_the_accounts_own_resources_name_the_account_it_is_created_in() -> None:
    config = make({"action": "stop"})
    (role,) = template(config)["Resources"].values()
    (policy,) = role["Properties"]["Policies"]
    scoped = [
        s for s in policy["PolicyDocument"]["Statement"] if "ec2:StopInstances" in s["Action"]
    ]
    assert [s["Resource"] for s in scoped] == [
        {"Fn::Sub": "arn:aws:ec2:us-east-1:${AWS::AccountId}:*"}
    ]
    api = pytest.importorskip("cfnlint.api")
    assert [str(m) for m in api.lint(export_member_role(config, format="cloudformation"))] == []


@pytest.mark.usefixtures("ec2_stops")
def test_the_terraform_module_holds_the_same_role() -> None:
    config = make({"action": "stop", "regions": ["eu-west-1", REGION]})
    doc = template(config, "terraform")
    assert "provider" not in doc  # a module: the caller's provider says which account
    assert set(doc["variable"]) == {"deployment_account_id"}
    assert doc["data"] == {"aws_caller_identity": {"current": {}}}
    ((name, role),) = doc["resource"]["aws_iam_role"].items()
    attached = doc["resource"]["aws_iam_role_policy"][name]
    assert attached["role"] == f"${{aws_iam_role.{name}.name}}"
    assert attached["name"] == "offhours"
    trust = json.loads(role["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::${{var.deployment_account_id}}:role/{FN}-role"
    }
    policy = json.loads(attached["policy"])
    expected = member_statements(settings_of(config), REGION, ACCOUNT_MARKER)
    as_written = json.dumps(expected).replace(
        json.dumps(ACCOUNT_MARKER)[1:-1], "${data.aws_caller_identity.current.account_id}"
    )
    assert policy["Statement"] == json.loads(as_written)


@pytest.mark.skipif(
    TERRAFORM is None or not TF_PLUGINS.is_dir(),
    reason="terraform or its local provider mirror (OFFHOURS_TF_PLUGIN_DIR) is not installed",
)
def test_terraform_validates_the_module(tmp_path: Path) -> None:
    config = make(
        {
            "action": "stop",
            "accounts": [{"id": MEMBER, "role_arn": ROLE_ARN, "external_id": "XXXXext0"}],
        }
    )
    (tmp_path / "member-role.tf.json").write_text(export_member_role(config, format="terraform"))
    init(tmp_path)
    result = json.loads(terraform(tmp_path, "validate", "-json"))
    assert result["valid"] is True, result["diagnostics"]


# ---------------------------------------------------------------- used, on moto


def _client(endpoint: str, service: str, **creds: str) -> Any:
    keys = {
        "aws_access_key_id": TEST_KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": TEST_KEYS["AWS_SECRET_ACCESS_KEY"],
    }
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **(creds or keys))


def _assumed(answer: dict[str, Any]) -> dict[str, str]:
    c = answer["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def test_the_stack_makes_a_role_the_function_assumes_and_reads_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = make()
    settings = settings_of(config)
    with moto_subprocess() as endpoint:
        # In the member account (moto keeps one state per account id): the stack, a VM.
        member = _assumed(
            _client(endpoint, "sts").assume_role(
                RoleArn=f"arn:aws:iam::{MEMBER}:role/bootstrap", RoleSessionName="setup"
            )
        )
        cfn = _client(endpoint, "cloudformation", **member)
        cfn.create_stack(
            StackName="offhours-member",
            TemplateBody=export_member_role(config, format="cloudformation"),
            Parameters=[{"ParameterKey": "DeploymentAccountId", "ParameterValue": DEPLOYMENT}],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        iam = _client(endpoint, "iam", **member)
        role = iam.get_role(RoleName=ROLE)["Role"]
        assert role["Arn"] == ROLE_ARN
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "AWS": f"arn:aws:iam::{DEPLOYMENT}:role/{FN}-role"
        }
        (policy_name,) = iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
        granted = iam.get_role_policy(RoleName=ROLE, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(granted, str):
            # moto keeps a stack's inline policy as Python's str() of the template's dict,
            # which its own IAM enforcement cannot parse: the same document put back as JSON.
            granted = ast.literal_eval(granted)
            iam.put_role_policy(
                RoleName=ROLE, PolicyName=policy_name, PolicyDocument=json.dumps(granted)
            )
        assert granted["Statement"] == member_statements(settings, REGION, MEMBER)
        ec2 = _client(endpoint, "ec2", **member)
        vm = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1)["Instances"][0]

        # In the deployment account: a user holding the function role's statements.
        root = _client(endpoint, "iam")
        root.create_user(UserName="function-stand-in")
        document = {"Version": "2012-10-17", "Statement": statements(settings, REGION, DEPLOYMENT)}
        root.put_user_policy(
            UserName="function-stand-in", PolicyName="offhours", PolicyDocument=json.dumps(document)
        )
        key = root.create_access_key(UserName="function-stand-in")["AccessKey"]
        enforce_iam(endpoint)

        sts = _client(
            endpoint,
            "sts",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        # Exactly the configured role: another role of the member account is refused.
        with pytest.raises(Exception, match=r"AccessDenied|not authorized|403"):
            sts.assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/other", RoleSessionName="x1")
        inside = _assumed(sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="offhours"))

        for name, value in env_for(endpoint).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", inside["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", inside["aws_secret_access_key"])
        monkeypatch.setenv("AWS_SESSION_TOKEN", inside["aws_session_token"])
        # Read as the function reads a member account once it has assumed its role.
        found = AwsSource("aws", kinds=["ec2"], regions=[REGION]).collect()
        assert [(r.account, r.id) for r in found] == [(MEMBER, vm["InstanceId"])]
        # The member role reads; it does not reach further.
        with pytest.raises(Exception, match=r"AccessDenied|not authorized|403"):
            _client(endpoint, "iam", **inside).list_roles()


# ---------------------------------------------------------------- the command


@pytest.mark.cli_in_process
def test_the_command_writes_either_format_to_stdout_or_a_file(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "offhours.toml").write_text(
        f"""
[hours]
timezone = "America/New_York"

[deploy]
function_name = "{FN}"
region = "{REGION}"

[[sources]]
type = "aws"
kinds = ["ec2"]
organization = {{ role_name = "OrgAudit" }}
"""
    )
    run = cli("deploy", "export", "--member-role")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["Resources"]["MemberRoleOrgAudit"]["Type"] == "AWS::IAM::Role"

    run = cli("deploy", "export", "--member-role", "--format", "terraform", "-o", "member.tf.json")
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    written = json.loads((tmp_path / "member.tf.json").read_text())
    assert [r["name"] for r in written["resource"]["aws_iam_role"].values()] == ["OrgAudit"]

    refused = cli("deploy", "export", "--member-role", "--format", "sam")
    assert refused.code == 2
    assert "choose cloudformation or terraform" in refused.stderr
