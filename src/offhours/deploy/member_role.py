"""`offhours deploy export --member-role`: the role each member account needs.

An ``aws`` source reaches other accounts by assuming a role there (``accounts``, an accounts
file, an ``organization``'s role name). That role is made once per member account, not by
`deploy apply`; this module writes it as infrastructure as code:

    cloudformation  a template for a StackSet (parameter: the deployment's account id)
    terraform       a module (Terraform's JSON syntax; variable: the deployment's account id)

Each role holds exactly what the configured kinds need in a member account
(:func:`offhours.sources.aws.permissions.member_statements`) and trusts only the deployed
function's role, as :func:`offhours.deploy.spec.describe` names it. One role per role name the
configuration assumes; an external id, where configured, becomes a parameter (never written).

Deploy the function first: IAM accepts a role as a principal only once it exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from offhours.config import Config
from offhours.deploy.export import (
    _SAM_REFS,
    _TF_REFS,
    _JsonText,
    _sam_text,
    _tag_list,
    _tf_text,
    _walk,
    deploy_region,
)
from offhours.deploy.spec import ACCOUNT, FUNCTION_TAG, MANAGED_TAG, describe, unknown
from offhours.errors import ConfigError
from offhours.sources.aws.permissions import member_roles, member_statements, partition
from offhours.sources.aws.settings import AwsSourceConfig

__all__ = ["MemberFormat", "MemberRole", "export_member_role", "roles_of"]

MemberFormat = Literal["cloudformation", "terraform"]

DEPLOYMENT_ACCOUNT = unknown("deployment_account")
EXTERNAL_ID = unknown("external_id")
_CFN_PARAMETERS = {"DeploymentAccountId": DEPLOYMENT_ACCOUNT, "ExternalId": EXTERNAL_ID}
_TF_VARIABLES = {"deployment_account_id": DEPLOYMENT_ACCOUNT, "external_id": EXTERNAL_ID}


@dataclass(frozen=True)
class MemberRole:
    """One role to create in every member account."""

    name: str
    path: str
    #: the trust policy: the deployment's function role only
    trust: Mapping[str, Any]
    #: the one inline policy: what the configured kinds need there
    policy: Mapping[str, Any]


def roles_of(config: Config) -> list[MemberRole]:
    """The member roles ``config``'s aws sources assume, one per role name, sorted."""
    region = deploy_region(config)
    function_role = describe(config, region)["OffhoursRole"]
    # [deploy] role_arn: that role as it is; else the one apply creates, in the account the
    # template is told (a parameter: no account is written into the template).
    trusted = (
        function_role.name
        if function_role.existing
        else f"arn:{partition(region)}:iam::{DEPLOYMENT_ACCOUNT}:role/{function_role.name}"
    )
    paths: dict[str, str] = {}
    external: dict[str, bool] = {}
    statements: dict[str, list[dict[str, Any]]] = {}
    for item in config.sources:
        if not isinstance(item, AwsSourceConfig):
            continue
        for ref in member_roles(item):
            if paths.setdefault(ref.name, ref.path) != ref.path:
                raise ConfigError(
                    f"{config.label}: role {ref.name} is named with the paths "
                    f"{paths[ref.name]} and {ref.path}; a role name is unique in an account, "
                    "whatever its path: name it with one path in every source"
                )
            external[ref.name] = external.get(ref.name, False) or ref.external_id
            mine = statements.setdefault(ref.name, [])
            mine += [s for s in member_statements(item, region, ACCOUNT) if s not in mine]
    if not paths:
        raise ConfigError(
            f"{config.label}: no member accounts: --member-role writes the role an aws source "
            "assumes in other accounts; configure `accounts`, `accounts_file` or "
            "`organization` in an aws source"
        )
    roles = []
    for name in sorted(paths):
        grant: dict[str, Any] = {
            "Sid": "OffhoursFunction",
            "Effect": "Allow",
            "Principal": {"AWS": trusted},
            "Action": "sts:AssumeRole",
        }
        if external[name]:
            grant["Condition"] = {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
        roles.append(
            MemberRole(
                name,
                paths[name],
                {"Version": "2012-10-17", "Statement": [grant]},
                {
                    "Version": "2012-10-17",
                    "Statement": sorted(statements[name], key=lambda s: str(s["Sid"])),
                },
            )
        )
    return roles


def _uses(roles: list[MemberRole], marker: str) -> bool:
    # json.dumps writes the marker's NULs as \u0000: compare in that form.
    return json.dumps(marker)[1:-1] in json.dumps([(r.trust, r.policy) for r in roles])


def _ids(roles: list[MemberRole]) -> list[str]:
    """Logical ids (letters and digits), one per role, stable for a role name."""
    ids: list[str] = []
    for role in roles:
        words = re.split(r"[^A-Za-z0-9]+", role.name)
        base = "MemberRole" + "".join(w[:1].upper() + w[1:] for w in words)
        ids.append(base if base not in ids else f"{base}{len(ids)}")
    return ids


def _cloudformation(config: Config, roles: list[MemberRole]) -> dict[str, Any]:
    fn = config.deploy.function_name
    tags = {**config.deploy.tags, MANAGED_TAG: "offhours", FUNCTION_TAG: fn}
    parameters: dict[str, Any] = {}
    if _uses(roles, DEPLOYMENT_ACCOUNT):
        parameters["DeploymentAccountId"] = {
            "Type": "String",
            "AllowedPattern": "^[0-9]{12}$",
            "Description": f"The account offhours ({fn}) is deployed in: its role is trusted",
        }
    if _uses(roles, EXTERNAL_ID):
        parameters["ExternalId"] = {
            "Type": "String",
            "NoEcho": True,
            "MinLength": 2,
            "Description": "The external id offhours gives when it assumes this role",
        }
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for rid, role in zip(_ids(roles), roles, strict=True):
        resources[rid] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": role.name,
                "Path": role.path,
                "Description": f"offhours: what {fn} reads (and stops) in this account",
                "AssumeRolePolicyDocument": role.trust,
                "Policies": [{"PolicyName": "offhours", "PolicyDocument": role.policy}],
                "Tags": _tag_list(tags),
            },
        }
        outputs[f"{rid}Arn"] = {"Value": {"Fn::GetAtt": [rid, "Arn"]}}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"offhours: the role {fn} assumes in each member account (a StackSet)",
        "Resources": resources,
        "Outputs": outputs,
    }
    if parameters:
        template["Parameters"] = parameters
    refs = {**_SAM_REFS, **{marker[1:-1]: ("Ref", p) for p, marker in _CFN_PARAMETERS.items()}}
    return dict(_walk(template, lambda text: _sam_text(text, refs)))


def _terraform(config: Config, roles: list[MemberRole]) -> dict[str, Any]:
    fn = config.deploy.function_name
    tags = {**config.deploy.tags, MANAGED_TAG: "offhours", FUNCTION_TAG: fn}
    variables: dict[str, Any] = {}
    if _uses(roles, DEPLOYMENT_ACCOUNT):
        variables["deployment_account_id"] = {
            "type": "string",
            "description": f"The account offhours ({fn}) is deployed in: its role is trusted",
        }
    if _uses(roles, EXTERNAL_ID):
        variables["external_id"] = {
            "type": "string",
            "sensitive": True,
            "description": "The external id offhours gives when it assumes this role",
        }
    refs = {**_TF_REFS, **{marker[1:-1]: f"var.{v}" for v, marker in _TF_VARIABLES.items()}}

    def text(value: str) -> str:
        return _tf_text(value, refs)

    created: dict[str, Any] = {}
    attached: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for rid, role in zip(_ids(roles), roles, strict=True):
        tf = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", rid).lower()
        # Rendered here, before the references below are added: those stay as they are.
        created[tf] = _walk(
            {
                "name": role.name,
                "path": role.path,
                "description": f"offhours: what {fn} reads (and stops) in this account",
                "assume_role_policy": _JsonText(role.trust),
                "tags": dict(sorted(tags.items())),
            },
            text,
        )
        attached[tf] = {
            "name": "offhours",
            "role": f"${{aws_iam_role.{tf}.name}}",
            "policy": _walk(_JsonText(role.policy), text),
        }
        outputs[f"{tf}_arn"] = {"value": f"${{aws_iam_role.{tf}.arn}}"}
    document: dict[str, Any] = {
        "terraform": {
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}
        },
        "resource": {"aws_iam_role": created, "aws_iam_role_policy": attached},
        "output": outputs,
    }
    if variables:
        document["variable"] = _walk(variables, text)
    if _uses(roles, ACCOUNT):
        document["data"] = {"aws_caller_identity": {"current": {}}}
    return document


def export_member_role(config: Config, *, format: MemberFormat = "cloudformation") -> str:
    """The member role(s) of ``config`` as a CloudFormation template or a Terraform module
    (a JSON text). Raises :class:`ConfigError` when no aws source reaches another account."""
    if format not in ("cloudformation", "terraform"):
        raise ConfigError(f"format {format!r}: choose cloudformation or terraform")
    roles = roles_of(config)
    render = _cloudformation if format == "cloudformation" else _terraform
    return json.dumps(render(config, roles), indent=2, sort_keys=True)
