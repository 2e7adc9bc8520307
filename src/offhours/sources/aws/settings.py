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

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from offhours.plugin import SourceConfig
from offhours.sources.aws.prices import parse_override_key

__all__ = [
    "KIND_WORDS",
    "AccountEntry",
    "ActionWord",
    "AwsSourceConfig",
    "KindWord",
    "OrganizationConfig",
    "read_accounts_file",
]

#: the kinds, as written in config (``kinds = [...]``); :mod:`.kinds` has one entry per word
KindWord = Literal["ec2", "asg", "rds", "rds-cluster", "ecs", "eks", "sagemaker", "redshift"]
KIND_WORDS: tuple[KindWord, ...] = get_args(KindWord)

#: what the source does to a finding: report it only, or stop it (per kind: see the table)
ActionWord = Literal["none", "stop"]

_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
# eu-west-1, us-gov-west-1, cn-north-1, us-isob-east-1, eusc-de-east-1
_REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$")


def _region_name(value: str) -> str:
    if not _REGION.match(value):
        raise PydanticCustomError(
            "region_name", "is not an AWS region name (like eu-west-1 or us-gov-west-1)"
        )
    return value


RegionName = Annotated[str, AfterValidator(_region_name)]


def _account_id(value: str) -> str:
    if not re.fullmatch(r"[0-9]{12}", value):  # ASCII: \d would take any script's digits
        raise PydanticCustomError("account_id", "is not an AWS account id (12 digits)")
    return value


AccountId = Annotated[str, AfterValidator(_account_id)]
# The tags look like pydantic's own union tags, which error paths leave out: an unknown region
# is reported as sources[i].regions[j].
_LIST, _ALL = "list[str]", "literal['all']"
Regions = Annotated[
    Annotated[list[RegionName], Tag(_LIST)] | Annotated[Literal["all"], Tag(_ALL)],
    Discriminator(lambda v: _ALL if isinstance(v, str) else _LIST),
]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountEntry(_Table):
    """A member account reached through STS AssumeRole."""

    id: AccountId = Field(description="The 12-digit account id")
    role_arn: str = Field(pattern=_ROLE_ARN, description="The role offhours assumes in it")
    external_id: str | None = Field(
        None, min_length=2, max_length=1224, description="The role's sts:ExternalId, if it asks"
    )
    name: str | None = Field(None, description="A display name (default: the account id)")

    @model_validator(mode="after")
    def _role_in_the_account(self) -> AccountEntry:
        # The assumed role's credentials read the role's own account: a role ARN of another
        # account would read that one under this id.
        in_arn = self.role_arn.split(":")[4]
        if in_arn != self.id:
            raise PydanticCustomError(
                "account_role",
                "role_arn is in account {arn} but id is {id}; give the role of account {id}",
                {"arn": in_arn, "id": self.id},
            )
        return self


class OrganizationConfig(_Table):
    """Every ACTIVE account of the AWS Organization, each through the same role name."""

    role_name: str = Field(pattern=r"^[\w+=,.@-]{1,64}$", description="Role name in each member")
    external_id: str | None = Field(None, min_length=2, max_length=1224)
    exclude: list[AccountId] = Field(
        default_factory=list, description="Account ids to leave out (12 digits each)"
    )


class AwsSourceConfig(SourceConfig):
    """AWS resources left running: EC2, Auto Scaling, RDS and Aurora/Neptune/DocumentDB
    clusters, ECS services, EKS node groups, SageMaker notebooks, Redshift clusters."""

    type: Literal["aws"]
    kinds: list[KindWord] = Field(
        default_factory=lambda: list(KIND_WORDS), description="Which kinds to read (default all)"
    )
    regions: Regions | None = Field(
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

    @model_validator(mode="before")
    @classmethod
    def _accounts_from_file(cls, data: Any, info: ValidationInfo) -> Any:
        # Read when the configuration is loaded, so a deployed function is given the accounts
        # inline (see runtime_table) and never needs the file.
        if not isinstance(data, Mapping) or not isinstance(data.get("accounts_file"), str):
            return data
        given = Path(data["accounts_file"])
        base = (info.context or {}).get("config_dir")
        path = given if given.is_absolute() or base is None else Path(base) / given
        try:
            rows = read_accounts_file(path)
        except ValueError as exc:
            raise PydanticCustomError(
                "accounts_file", "accounts_file: {problem}", {"problem": str(exc)}
            ) from None
        listed = data.get("accounts")
        return {**data, "accounts": [*(listed if isinstance(listed, list) else []), *rows]}

    def runtime_table(self, table: Mapping[str, Any]) -> dict[str, Any]:
        """The table with the accounts file's accounts inline (the function has no file)."""
        out = dict(table)
        if out.pop("accounts_file", None) is not None:
            out["accounts"] = [a.model_dump(exclude_none=True) for a in self.accounts]
        return out

    def action_for(self, word: str) -> ActionWord:
        """The action configured for the kind ``word``."""
        return self.actions.get(word, self.action)  # type: ignore[call-overload,no-any-return]


#: the columns of an accounts file, required first
_COLUMNS = ("id", "role_arn", "external_id", "name")
_REQUIRED = 2


def read_accounts_file(path: Path) -> list[dict[str, str]]:
    """The accounts of a CSV file (a header, then ``id,role_arn[,external_id][,name]`` rows),
    each checked as an :class:`AccountEntry`. Raises ValueError naming the file, line and
    column of the first problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file; create it or fix the path") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(v.strip() for v in row):  # blank lines are skipped
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise ValueError(f"{path}, line {reader.line_num}: not CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: empty; the first line names the columns: id,role_arn")
    line, header = rows[0]
    header = [h.strip() for h in header]
    for i, column in enumerate(header):
        if column not in _COLUMNS or column in header[:i]:
            raise ValueError(
                f"{path}, line {line}, column {_column(header, i)}: {column!r} is not a column "
                f"(or is repeated); the columns are {', '.join(_COLUMNS)}"
            )
    missing = [c for c in _COLUMNS[:_REQUIRED] if c not in header]
    if missing:
        raise ValueError(f"{path}, line {line}: the header has no {' or '.join(missing)} column")
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for line, row in rows[1:]:
        if len(row) > len(header):
            raise ValueError(
                f"{path}, line {line}, column {_column(row, len(header))}: "
                f"{len(row)} values for {len(header)} columns"
            )
        entry = {c: v.strip() for c, v in zip(header, row, strict=False) if v.strip()}
        try:
            AccountEntry.model_validate(entry)
        except ValidationError as exc:
            from offhours.config_problems import words

            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else "id"
            at = header.index(field) if field in header else 0
            shown = f" {entry[field]!r}" if field in entry else ""
            raise ValueError(
                f"{path}, line {line}, column {_column(row, at)}: {field}{shown}: "
                f"{words(error, AccountEntry)}"
            ) from None
        if entry["id"] in seen:
            raise ValueError(
                f"{path}, line {line}: account {entry['id']} is already on line {seen[entry['id']]}"
            )
        seen[entry["id"]] = line
        out.append(entry)
    return out


def _column(fields: list[str], index: int) -> int:
    """The 1-based column where ``fields[index]`` starts (unquoted CSV)."""
    return 1 + sum(len(f) + 1 for f in fields[:index])
