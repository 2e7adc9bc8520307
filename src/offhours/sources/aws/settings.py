"""The ``[[sources]] type = "aws"`` table: which kinds, where (accounts, regions), owners and
groups from tags, prices, and the optional stop.

    [[sources]]
    type = "aws"
    regions = ["eu-west-1", "us-east-1"]      # or "all": the account's enabled regions
    kinds = ["ec2", "asg", "rds"]             # default: every kind
    accounts = [{ id = "111111111111", role_arn = "arn:aws:iam::111111111111:role/audit" }]
    owner_tags = ["Owner", "owner", "CreatedBy"]
    group_tag = "Project"
    action = "stop"                           # default "none": report only
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from offhours.plugin import SourceConfig
from offhours.sources.aws.prices import parse_override_key

__all__ = [
    "KIND_WORDS",
    "AccountEntry",
    "ActionWord",
    "AwsSourceConfig",
    "KindWord",
    "OrganizationConfig",
]

#: the kinds, as written in config (``kinds = [...]``); :mod:`.kinds` has one entry per word
KindWord = Literal["ec2", "asg", "rds", "rds-cluster", "ecs", "eks", "sagemaker", "redshift"]
KIND_WORDS: tuple[KindWord, ...] = get_args(KindWord)

#: what the source does to a finding: report it only, or stop it (per kind: see the table)
ActionWord = Literal["none", "stop"]

_ACCOUNT_ID = r"^\d{12}$"
_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
_REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountEntry(_Table):
    """A member account reached through STS AssumeRole."""

    id: str = Field(pattern=_ACCOUNT_ID, description="The 12-digit account id")
    role_arn: str = Field(pattern=_ROLE_ARN, description="The role offhours assumes in it")
    external_id: str | None = Field(
        None, min_length=2, max_length=1224, description="The role's sts:ExternalId, if it asks"
    )
    name: str | None = Field(None, description="A display name (default: the account id)")


class OrganizationConfig(_Table):
    """Every ACTIVE account of the AWS Organization, each through the same role name."""

    role_name: str = Field(pattern=r"^[\w+=,.@-]{1,64}$", description="Role name in each member")
    external_id: str | None = Field(None, min_length=2, max_length=1224)
    exclude: list[str] = Field(
        default_factory=list, description="Account ids to leave out (12 digits each)"
    )


class AwsSourceConfig(SourceConfig):
    """AWS resources left running: EC2, Auto Scaling, RDS and Aurora/Neptune/DocumentDB
    clusters, ECS services, EKS node groups, SageMaker notebooks, Redshift clusters."""

    type: Literal["aws"]
    kinds: list[KindWord] = Field(
        default_factory=lambda: list(KIND_WORDS), description="Which kinds to read (default all)"
    )
    regions: list[str] | Literal["all"] | None = Field(
        None,
        description=(
            'Regions to read, or "all" (the enabled regions); default: the region of the '
            "credentials (AWS_REGION, the profile)"
        ),
    )
    current_account: bool = Field(
        True, description="Read the account of the credentials themselves"
    )
    accounts: list[AccountEntry] = Field(
        default_factory=list, description="Member accounts, reached with STS AssumeRole"
    )
    accounts_file: str | None = Field(
        None,
        description=(
            "A file of member accounts (CSV: id,role_arn[,external_id[,name]]), relative to "
            "the configuration file"
        ),
    )
    organization: OrganizationConfig | None = Field(
        None, description="Read every active account of the AWS Organization"
    )
    owner_tags: list[str] = Field(
        default_factory=lambda: ["Owner", "owner", "CreatedBy"],
        min_length=1,
        description="Tag keys naming the owner; the first present wins",
    )
    group_tag: str = Field("Project", min_length=1, description="Tag key grouping the report")
    action: ActionWord = Field("none", description='"stop" stops findings (see the kind table)')
    actions: dict[KindWord, ActionWord] = Field(
        default_factory=dict, description="The action per kind, over `action`"
    )
    hibernate: bool = Field(
        False, description="Hibernate EC2 instances launched with hibernation enabled"
    )
    restore_at_business_hours: bool = Field(
        False, description="Put back what offhours stopped when business hours begin"
    )
    prices: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description=(
            "Hourly USD prices over the bundled table, keyed [REGION/][PRODUCT/]SIZE: "
            '"m5.large", "eu-west-1/m5.large", "rds:postgres/db.t3.micro"'
        ),
    )
    max_workers: int = Field(16, ge=1, le=64, description="Calls in flight at once")
    max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts per call (botocore's adaptive retry mode)"
    )
    connect_timeout: float = Field(5.0, gt=0, le=120)
    read_timeout: float = Field(20.0, gt=0, le=600)

    @field_validator("prices")
    @classmethod
    def _price_keys_can_match(cls, prices: dict[str, float]) -> dict[str, float]:
        for key in prices:
            parse_override_key(key)  # a key that could never match is a mistake: say which
        return prices

    def action_for(self, word: str) -> ActionWord:
        """The action configured for the kind ``word``."""
        return self.actions.get(word, self.action)  # type: ignore[call-overload,no-any-return]
