"""The IAM permissions an ``aws`` source needs, composed from its configuration.

Each configured kind's read actions come from its :mod:`.kinds` entry; its stop and restore
actions (its ``KINDS[word].stop`` entry, :mod:`.stops`) only when its action is "stop".
Reaching other accounts adds ``sts:AssumeRole`` on exactly the configured member roles (an
Organization's: its role name in any account) and ``organizations:ListAccounts``;
``regions = "all"`` adds
``ec2:DescribeRegions``. Nothing here spells an action of a kind.

Describe/List/Get actions are granted on ``"*"`` (they list what is there, before any ARN is
known); every other action of the kinds' own services is scoped to the configured regions of
the account it runs in.

Two roles are composed: the deployed function's (:func:`statements`, through
``AwsSource.iam_statements``) and the role each member account needs (:func:`member_statements`,
exported by ``offhours deploy export --member-role``). Statements are sorted and each Sid
carries a digest of its content, so two ``aws`` sources never clash and ``deploy plan`` sees no
change where there is none.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from offhours.errors import ConfigError
from offhours.sources.aws.kinds import KINDS
from offhours.sources.aws.settings import KIND_WORDS, AwsSourceConfig

__all__ = [
    "KindActions",
    "MemberRoleRef",
    "kind_actions",
    "member_roles",
    "member_statements",
    "partition",
    "permissions_table",
    "statements",
]

Statement = dict[str, Any]

#: actions that read, and on these services take no resource ARN (or any ARN): always "*"
_READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$")
#: services whose every other action takes the resource's ARN (arn:P:SERVICE:REGION:ACCOUNT:…)
_SCOPED = frozenset({"autoscaling", "ec2", "ecs", "eks", "rds", "redshift", "sagemaker"})
_ROLE_ARN = re.compile(r"^arn:[a-z-]+:iam::\d{12}:role(?P<path>/(?:.*/)?)(?P<name>[^/]+)$")


@dataclass(frozen=True)
class KindActions:
    """What one kind asks of IAM: to read it, to stop it, to put it back."""

    read: tuple[str, ...]
    stop: tuple[str, ...]
    restore: tuple[str, ...]


def kind_actions(word: str) -> KindActions:
    """The IAM actions of the kind ``word``, from its table entries (none where it has none)."""
    spec = KINDS.get(word)
    if spec is None:
        return KindActions((), (), ())
    return KindActions(
        read=tuple(spec.read_actions),
        stop=tuple(spec.stop.actions_stop),
        restore=tuple(spec.stop.actions_restore),
    )


@cache
def partition(region: str) -> str:
    """The partition of ``region`` (aws, aws-cn, aws-us-gov), as botocore's endpoints say."""
    import botocore.session
    from botocore.exceptions import UnknownRegionError

    try:
        return str(botocore.session.get_session().get_partition_for_region(region))
    except UnknownRegionError:
        return "aws"


def _sid(purpose: str, statement: Mapping[str, Any]) -> str:
    # Content, not position, names a statement: equal ones from two sources are one.
    text = json.dumps(statement, sort_keys=True, separators=(",", ":"))
    return f"Aws{purpose}{hashlib.sha256(text.encode()).hexdigest()[:8].upper()}"


def _statement(purpose: str, actions: Iterable[str], resources: Sequence[str]) -> Statement:
    body: dict[str, Any] = {
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": resources[0] if len(resources) == 1 else sorted(set(resources)),
    }
    wild = [a for a in body["Action"] if "*" in a or "?" in a]
    if wild:
        # A table entry's mistake, caught before any role is granted more than it names.
        raise ValueError(f"wildcard IAM actions {wild} in the aws kind tables: name each action")
    return {"Sid": _sid(purpose, body), **body}


def _regions(settings: AwsSourceConfig, region: str) -> list[str]:
    """The regions calls go to: the list, "*" for all, else the function's own region."""
    if settings.regions == "all":
        return ["*"]
    return list(settings.regions) if settings.regions else [region]


def _kind_statements(
    settings: AwsSourceConfig, region: str, account: str, *, more: Iterable[str] = ()
) -> list[Statement]:
    """Reading (and, where enabled, stopping and restoring) the configured kinds in
    ``account``: one statement of actions on "*" (with ``more``), one per service of scoped
    actions."""
    anywhere: set[str] = set(more)
    scoped: dict[str, set[str]] = {}
    for word in dict.fromkeys(settings.kinds):
        acts = kind_actions(word)
        wanted = list(acts.read)
        if settings.action_for(word) == "stop":
            wanted += [*acts.stop, *acts.restore]
        for action in wanted:
            service = action.partition(":")[0]
            if _READ_ONLY.match(action) or service not in _SCOPED:
                anywhere.add(action)
            else:
                scoped.setdefault(service, set()).add(action)
    part = partition(region)
    found = [_statement("Read", anywhere, ["*"])] if anywhere else []
    for service, actions in sorted(scoped.items()):
        arns = [f"arn:{part}:{service}:{r}:{account}:*" for r in _regions(settings, region)]
        found.append(_statement(f"Act{service.title()}", actions, arns))
    return found


@dataclass(frozen=True)
class MemberRoleRef:
    """A role offhours assumes in member accounts: its name and path, and whether the
    configuration gives an external id for it."""

    name: str
    path: str = "/"
    external_id: bool = False


def member_roles(settings: AwsSourceConfig) -> list[MemberRoleRef]:
    """The member roles ``settings`` assumes, one per role name (accounts list, the accounts
    file's entries as loaded into it, the Organization's role name), sorted."""
    found: dict[str, MemberRoleRef] = {}

    def add(ref: MemberRoleRef) -> None:
        seen = found.get(ref.name)
        if seen is not None and seen.path != ref.path:
            raise ConfigError(
                f"aws source {settings.name or settings.type!r}: role {ref.name} is named with "
                f"two paths ({seen.path} and {ref.path}); a role name is unique in an account, "
                "whatever its path: use one path"
            )
        external = ref.external_id or (seen is not None and seen.external_id)
        found[ref.name] = MemberRoleRef(ref.name, ref.path, external)

    for entry in settings.accounts:
        match = _ROLE_ARN.match(entry.role_arn)
        if match is not None:
            add(MemberRoleRef(match["name"], match["path"], entry.external_id is not None))
    if settings.organization is not None:
        org = settings.organization
        add(MemberRoleRef(org.role_name, "/", org.external_id is not None))
    return [found[name] for name in sorted(found)]


def statements(settings: AwsSourceConfig, region: str, account: str) -> list[Statement]:
    """The deployed function's statements for ``settings``, the function running in
    ``region`` of ``account``."""
    found: list[Statement] = []
    if settings.current_account:
        found += _kind_statements(settings, region, account)
    # collect learns the account it runs as (AWS allows this call to everyone: named anyway),
    # and with regions = "all" which regions are enabled.
    session = {"sts:GetCallerIdentity"}
    if settings.regions == "all":
        session.add("ec2:DescribeRegions")
    found.append(_statement("Session", session, ["*"]))
    part = partition(region)
    roles = sorted({a.role_arn for a in settings.accounts})
    if settings.organization is not None:
        # Any account's role of that name: the Organization's accounts are known at run time.
        roles.append(f"arn:{part}:iam::*:role/{settings.organization.role_name}")
        found.append(_statement("Organization", ["organizations:ListAccounts"], ["*"]))
    if roles:
        found.append(_statement("AssumeMemberRoles", ["sts:AssumeRole"], roles))
    return sorted(found, key=lambda s: str(s["Sid"]))


def member_statements(settings: AwsSourceConfig, region: str, account: str) -> list[Statement]:
    """What the role offhours assumes in a member ``account`` needs: reading (and, where
    enabled, stopping and restoring) the configured kinds there."""
    # With regions = "all", which regions the member account has enabled.
    more = ["ec2:DescribeRegions"] if settings.regions == "all" else []
    found = _kind_statements(settings, region, account, more=more)
    return sorted(found, key=lambda s: str(s["Sid"]))


# ---------------------------------------------------------------- the README's table


def permissions_table() -> str:
    """The README's per-kind table of IAM actions (Markdown), from the kind tables."""

    def cell(actions: Sequence[str]) -> str:
        return "<br>".join(f"`{a}`" for a in sorted(actions)) or "—"

    rows = [
        '| kind | config word | read | stop (`action = "stop"`) | restore |',
        "|---|---|---|---|---|",
    ]
    for word in KIND_WORDS:
        spec = KINDS.get(word)
        acts = kind_actions(word)
        name = f"`{spec.kind.name}`" if spec else "(not read yet)"
        rows.append(
            f"| {name} | `{word}` | {cell(acts.read)} | {cell(acts.stop)} | {cell(acts.restore)} |"
        )
    return "\n".join(rows) + "\n"
