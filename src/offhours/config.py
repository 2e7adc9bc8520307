"""offhours.toml → a validated, typed configuration.

Every problem is reported at once, each naming the file, the key path, the bad value and what
is expected, e.g. ``offhours.toml: hours.start: "25:00" is not a time (HH:MM)``.

Sources and notifiers are plugins chosen by the word users write (``type = "ravello"``); the
registry (:mod:`offhours.registry`) names the plugin, and its table is validated by the model the
plugin class carries (``config_model``), so errors inside it carry the same precise paths.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from offhours import hours as hours_mod
from offhours.errors import ConfigError
from offhours.incidents import MemorySettings
from offhours.plugin import PluginConfig, SourceConfig, secret_fields
from offhours.policy import Policy
from offhours.secrets import INLINE, SecretRef, SecretSettings, secret_looking

if TYPE_CHECKING:
    from offhours.config_problems import Problem
    from offhours.toml_text import KeyLines

__all__ = [
    "DEFAULT_PATH",
    "Config",
    "DeployConfig",
    "PluginConfig",
    "SourceConfig",
    "config_path",
    "json_schema",
    "load_config",
    "parse_config",
    "secret_fields",
]

DEFAULT_PATH = Path("offhours.toml")
ENV_CONFIG = "OFFHOURS_CONFIG"


def _custom(kind: str, message: str) -> PydanticCustomError:
    # Messages follow the bad value, e.g. '"25:00" is not a time (HH:MM)'.
    return PydanticCustomError(kind, message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- business hours


class HolidaysConfig(_Strict):
    """Public holidays from the ``holidays`` package, plus explicit dates."""

    country: str | None = Field(None, description="ISO 3166-1 alpha-2 code, e.g. US, GB, DE")
    subdivision: str | None = Field(None, description="State/province code, e.g. NY, ENG")
    dates: list[date] = Field(default_factory=list, description="Extra closed days")

    @model_validator(mode="after")
    def _known_country(self) -> HolidaysConfig:
        if self.subdivision and not self.country:
            raise _custom("holidays", "subdivision is set but country is not; add country")
        if self.country:
            try:
                hours_mod.validate_country(self.country, self.subdivision)
            except ValueError as exc:
                raise _custom("holidays", str(exc)) from None
        return self

    def calendar(self) -> hours_mod.HolidayCalendar:
        return hours_mod.HolidayCalendar(
            country=self.country, subdivision=self.subdivision, dates=frozenset(self.dates)
        )


def _parser(fn: Callable[[str], object], kind: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            fn(value)
        except ValueError as exc:
            raise _custom(kind, str(exc)) from None
        return value

    return check


TimeText = Annotated[str, AfterValidator(_parser(hours_mod.parse_time, "time"))]
WindowText = Annotated[str, AfterValidator(_parser(hours_mod.parse_window, "window"))]
DaysText = Annotated[str, AfterValidator(_parser(hours_mod.parse_days, "days"))]
ZoneText = Annotated[str, AfterValidator(_parser(hours_mod.parse_zone, "zone"))]


class HoursConfig(_Strict):
    """When resources may run. Outside these hours a running resource is flagged."""

    timezone: ZoneText = Field("UTC", description="IANA time zone, e.g. America/New_York")
    days: DaysText = Field("Mon-Fri", description="Working days, e.g. Mon-Fri or Mon,Wed,Fri")
    start: TimeText | None = Field(None, description="Start of the working day, HH:MM")
    end: TimeText | None = Field(None, description="End of the working day, HH:MM (24:00 ok)")
    windows: list[WindowText] | None = Field(
        None,
        description='Several windows instead of start/end, e.g. ["08:00-12:00", "22:00-02:00"]',
    )
    grace_minutes: int = Field(
        0, ge=0, le=1440, description="Ignore resources started this recently"
    )
    holidays: HolidaysConfig = Field(default_factory=HolidaysConfig)

    @model_validator(mode="after")
    def _one_way_to_say_it(self) -> HoursConfig:
        if self.windows is not None and (self.start or self.end):
            raise _custom("hours", "give either start/end or windows, not both")
        if self.windows is None and (self.start is None) != (self.end is None):
            raise _custom("hours", "start and end go together; give both (or windows)")
        if self.windows == []:
            raise _custom("hours", "windows is empty; give at least one HH:MM-HH:MM window")
        if self.start is not None and self.end is not None:
            try:
                hours_mod.parse_window(f"{self.start}-{self.end}")
            except ValueError as exc:
                if hours_mod.parse_time(self.start) != hours_mod.parse_time(self.end):
                    where = f'start = "{self.start}" and end = "{self.end}"'
                    raise _custom("hours", f"{where}: {exc}") from None
                raise _custom(
                    "hours",
                    f'start and end are both "{self.start}", an empty working day; for the '
                    'whole day write start = "00:00" and end = "24:00"',
                ) from None
        return self

    def window_texts(self) -> list[str]:
        if self.windows is not None:
            return list(self.windows)
        return [f"{self.start or '08:00'}-{self.end or '18:00'}"]

    def business_hours(self) -> hours_mod.BusinessHours:
        text = f"{self.days} {','.join(self.window_texts())}"
        return hours_mod.parse_schedule(
            text, hours_mod.parse_zone(self.timezone), self.holidays.calendar()
        )


class TagsConfig(_Strict):
    """Tag (or label) names read from each resource for per-resource rules."""

    schedule: str = Field("offhours", min_length=1, description="Tag holding a schedule override")
    exempt: str = Field(
        "offhours-exempt", min_length=1, description="Tag holding an exemption with an expiry"
    )
    max_exemption_days: int = Field(
        30,
        ge=1,
        le=3650,
        strict=True,
        description="Longest exemption honoured, in days from the audit; a longer one is a "
        "problem on the resource, which is judged as if it had no exemption",
    )
    allow_always: bool = Field(
        True,
        strict=True,
        description="Whether a schedule tag may say 'always' (or be open 23+ hours every day); "
        "when false such a tag is a problem and the default hours apply",
    )


class MemoryConfig(_Strict):
    """Incident memory: where it is kept, and when a running resource is told about again."""

    store: Literal["auto", "sqlite", "dynamodb", "off"] = Field(
        "auto",
        description="Where incidents are kept: auto (SQLite on the command line, the deployed "
        "DynamoDB table on Lambda), sqlite, dynamodb, or off (every run tells everything)",
    )
    path: str | None = Field(
        None,
        description="SQLite file (default: offhours/<function_name>.db in the user's state "
        "directory, e.g. ~/.local/state); ~ is expanded, relative paths are from this file",
    )
    table: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{3,255}$",
        description="DynamoDB table (default: <function_name>-state, created by deploy)",
    )
    remind_every_hours: float = Field(
        4,
        ge=0,
        le=24 * 7,
        allow_inf_nan=False,
        description="Tell about a resource still running again after this many hours (0: never)",
    )
    remind_at_open: bool = Field(
        True,
        description="One last reminder when business hours begin with the resource still running",
    )
    report_resolved: bool = Field(
        True, description="Say in the next message when a resource stopped or hours began"
    )
    keep_days: int = Field(
        90, ge=1, le=3650, description="How long resolved incidents and runs are kept"
    )

    def settings(self) -> MemorySettings:
        hours = self.remind_every_hours
        return MemorySettings(
            remind_every=timedelta(hours=hours) if hours > 0 else None,
            remind_at_open=self.remind_at_open,
            report_resolved=self.report_resolved,
        )


class KmsConfig(_Strict):
    context: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Encryption context for kms: references; a value $NAME is read from the "
            'environment, e.g. {LambdaFunctionName = "$AWS_LAMBDA_FUNCTION_NAME"}'
        ),
    )


class SecretsConfig(_Strict):
    """Where kms:, ssm: and secretsmanager: references are resolved."""

    region: str | None = Field(
        None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="AWS region [default: AWS_REGION]"
    )
    kms: KmsConfig = Field(default_factory=KmsConfig)


def _check_schedule(value: str) -> str:
    # Imported here: the grammar is needed to check a config, not on the Lambda path.
    from offhours.deploy.schedule import never_fires, parse_schedule_expression

    try:
        parsed = parse_schedule_expression(value)
    except ValueError as exc:
        detail = getattr(exc, "detail", str(exc))
        raise _custom("schedule", f"is not a valid schedule: {detail}") from None
    # Clock-free here; what has passed (at() before now, a past year) is checked by the
    # commands that deploy, with their clock.
    why = never_fires(parsed)
    if why is not None:
        raise _custom("schedule", f"{why}; check its day-of-month and month fields")
    return value


ScheduleText = Annotated[str, AfterValidator(_check_schedule)]


#: one SNS topic or SQS queue, in full: partition, region, 12-digit account, no wildcard
_DESTINATION_ARN = re.compile(
    r"arn:aws[a-z-]*:(sns|sqs):[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_.-]{1,256}"
)
_ENV_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class VpcConfig(_Strict):
    subnet_ids: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)


Runtime = Literal["python3.11", "python3.12", "python3.13", "python3.14"]


def interpreter_runtime(version: tuple[int, ...] = sys.version_info[:2]) -> Runtime:
    """The Lambda runtime of the Python running offhours, so the zip's bytecode is compiled by
    it; python3.12 when Lambda has none of this version (the build then says what that costs)."""
    name = f"python{version[0]}.{version[1]}"
    return cast(Runtime, name) if name in get_args(Runtime) else "python3.12"


class DeployConfig(_Strict):
    """``offhours deploy``: the Lambda function, its role, key and schedule."""

    function_name: str = Field(
        "offhours-audit", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Lambda function name"
    )
    description: str = Field("offhours: resources running outside business hours", max_length=256)
    region: str | None = Field(
        None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="AWS region [default: AWS_REGION]"
    )
    runtime: Runtime = Field(
        default_factory=lambda: interpreter_runtime(),
        description="Lambda runtime [default: this Python's, so the zip ships bytecode it runs]",
    )
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    memory: int = Field(128, ge=128, le=10240, description="MB")
    timeout: int = Field(60, ge=1, le=900, description="seconds")
    schedule: ScheduleText = Field(
        "cron(0 18-23 ? * MON-FRI *)",
        description="EventBridge cron(), rate() or at() expression, in `timezone`",
    )
    timezone: ZoneText | None = Field(
        None, description="IANA zone of the schedule [default: hours.timezone]"
    )
    digest_schedule: ScheduleText | None = Field(
        None,
        description="A second schedule, in `timezone`, that runs the weekly digest, e.g. "
        '"cron(0 9 ? * MON *)" [default: none]',
    )
    scheduler: Literal["scheduler", "rule"] = Field(
        "scheduler",
        description='"scheduler": EventBridge Scheduler, time-zone aware; "rule": a classic '
        "EventBridge rule, UTC only",
    )
    key_alias: str | None = Field(
        None,
        pattern=r"^alias/[A-Za-z0-9/_-]+$",
        description="KMS alias of the deployment's own key [default: alias/offhours/<function>]",
    )
    key_arn: str | None = Field(None, description="Use this existing KMS key instead")
    role_arn: str | None = Field(
        None, description="Use this existing execution role instead of creating one"
    )
    alias: str = Field("live", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")
    alias_description: str = ""
    publish: bool = Field(True, description="Publish a version and move the alias to it")
    log_retention_days: int = Field(30, ge=1, le=3653)
    environment: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for the function"
    )
    vpc: VpcConfig | None = None
    tracing: Literal["PassThrough", "Active"] = "PassThrough"
    tags: dict[str, str] = Field(default_factory=dict)
    on_failure: str | None = Field(
        None,
        description="SNS topic or SQS queue ARN that receives a failed run's event "
        "(Lambda retries nothing, so each failure arrives once)",
    )
    alarm_topic: str | None = Field(
        None, description="SNS topic ARN an alarm on the function's Errors metric notifies"
    )

    @field_validator("on_failure")
    @classmethod
    def _destination_arn(cls, value: str | None) -> str | None:
        if value is not None and not _DESTINATION_ARN.fullmatch(value):
            raise _custom(
                "arn",
                "is not the ARN of one SNS topic or SQS queue; write it in full, e.g. "
                '"arn:aws:sns:us-east-1:123456789012:offhours-failures" (no wildcards)',
            )
        return value

    @field_validator("alarm_topic")
    @classmethod
    def _topic_arn(cls, value: str | None) -> str | None:
        if value is not None and not (
            _DESTINATION_ARN.fullmatch(value) and value.split(":")[2] == "sns"
        ):
            raise _custom(
                "arn",
                "is not the ARN of one SNS topic; write it in full, e.g. "
                '"arn:aws:sns:us-east-1:123456789012:offhours-alarms" (no wildcards)',
            )
        return value

    @field_validator("environment")
    @classmethod
    def _no_secrets_in_plain_sight(cls, value: dict[str, str]) -> dict[str, str]:
        # The same rule `deploy import-lambda-json` applies to lambda.json's variables.
        problems = []
        for name, text in value.items():
            why = secret_looking(name, text)
            if why is not None:
                problems.append(
                    f"{name}: {why}, which the function's configuration would show in plain "
                    "text; put it in a source or notifier as a secret reference (kms:, ssm:, "
                    "secretsmanager:) instead"
                )
            elif name.startswith(("OFFHOURS_CONFIG", "OFFHOURS_ENVIRONMENT", "AWS_")):
                problems.append(f"{name}: set by offhours or by Lambda itself; remove it")
            elif not _ENV_NAME.fullmatch(name):
                problems.append(f"{name}: not a variable name (letters, digits, _)")
        if problems:
            raise _custom("environment", "; ".join(problems))
        return value

    def kms_alias(self) -> str:
        """The key's alias: the one given, else one per deployment (never shared)."""
        return self.key_alias or f"alias/offhours/{self.function_name}"

    @model_validator(mode="after")
    def _rule_can_run_it(self) -> DeployConfig:
        for name, expression in (
            ("schedule", self.schedule),
            ("digest_schedule", self.digest_schedule),
        ):
            if self.scheduler == "rule" and expression and expression.strip().startswith("at("):
                raise _custom(
                    "schedule",
                    f"{name} {expression} needs EventBridge Scheduler; set scheduler = "
                    '"scheduler" or use cron()/rate()',
                )
        return self


# ---------------------------------------------------------------- the whole file


class _Top(_Strict):
    allow_plaintext_secrets: bool = Field(
        False, description="Accept literal secrets in this file (local experiments only)"
    )
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    hours: HoursConfig = Field(default_factory=HoursConfig)
    tags: TagsConfig = Field(default_factory=TagsConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    sources: list[dict[str, Any]] = Field(min_length=1)
    notifiers: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class SecretSlot:
    """Where a secret reference sits: ``document[section][index][field]``."""

    section: str  # "sources" or "notifiers"
    index: int
    field: str
    ref: SecretRef


class Config:
    """The validated configuration: typed sections plus one validated model per plugin table."""

    def __init__(
        self,
        top: _Top,
        sources: list[PluginConfig],
        notifiers: list[PluginConfig],
        path: Path | None,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        self.hours = top.hours
        self.tags = top.tags
        self.secrets = top.secrets
        self.deploy = top.deploy
        self.memory = top.memory
        self.allow_plaintext_secrets = top.allow_plaintext_secrets
        self.sources = sources
        self.notifiers = notifiers
        self.path = path
        #: the document as read, for `offhours deploy` to store a copy with secrets encrypted
        self.raw: Mapping[str, Any] = raw or {}

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "<config>"

    def warnings(self) -> list[str]:
        """What is valid but likely not meant, each ``<file>: <key>: <why and the fix>``: a
        zone named by a fixed offset or a legacy rule set (``EST``, ``EST5EDT``)."""
        zones = (("hours.timezone", self.hours.timezone), ("deploy.timezone", self.deploy.timezone))
        out = []
        for key, name in zones:
            why = None if name is None else hours_mod.zone_warning(hours_mod.parse_zone(name))
            if why is not None:
                out.append(f"{self.label}: {key}: {why}")
        return out

    def policy(self) -> Policy:
        return Policy(
            hours=self.hours.business_hours(),
            grace=timedelta(minutes=self.hours.grace_minutes),
            schedule_tag=self.tags.schedule,
            exempt_tag=self.tags.exempt,
            max_exemption=timedelta(days=self.tags.max_exemption_days),
            allow_always=self.tags.allow_always,
        )

    def secret_refs(self) -> list[tuple[PluginConfig, str, SecretRef]]:
        """Every secret reference, with the plugin and field it belongs to."""
        items = {"sources": self.sources, "notifiers": self.notifiers}
        return [(items[s.section][s.index], s.field, s.ref) for s in self.secret_slots()]

    def secret_slots(self) -> list[SecretSlot]:
        """Every secret reference with where it sits in the document, as typed data."""
        slots = []
        for section, items in (("sources", self.sources), ("notifiers", self.notifiers)):
            for index, item in enumerate(items):
                for field in secret_fields(type(item)):
                    where = f"{section}[{index}].{field}"
                    ref = SecretRef.parse(
                        getattr(item, field), where, allow_plaintext=self.allow_plaintext_secrets
                    )
                    slots.append(SecretSlot(section, index, field, ref))
        return slots

    def runtime_document(self) -> dict[str, Any]:
        """The document as read, without what only the deploying machine reads ([deploy] and
        allow_plaintext_secrets): what a deployed function is given. A JSON-safe deep copy."""
        document: dict[str, Any] = json.loads(json.dumps(dict(self.raw), default=str))
        for key in ("deploy", "allow_plaintext_secrets"):
            document.pop(key, None)
        tables = document.get("sources")
        if isinstance(tables, list) and len(tables) == len(self.sources):
            pairs = zip(self.sources, tables, strict=True)
            document["sources"] = [c.runtime_table(t) for c, t in pairs]
        return document

    def plaintext_secrets(self) -> list[str]:
        """Key paths holding a literal secret (let through by allow_plaintext_secrets)."""
        return [ref.where for _, _, ref in self.secret_refs() if ref.scheme == INLINE]

    def secret_settings(self) -> SecretSettings:
        # file: paths are relative to the config file (a Lambda's SSM-held config has none).
        where = self.path.resolve().parent if self.path and self.path.is_file() else None
        return SecretSettings(
            region=self.secrets.region, kms_context=self.secrets.kms.context, config_dir=where
        )


class _Problems:
    """The problems found so far, each with its place in the document; worded by
    :mod:`offhours.config_problems` (imported only when there is one), placed on its line by
    :mod:`offhours.toml_text` when the document's text is known."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.found: list[Problem] = []
        self._lines: KeyLines | None = None  # scanned on first use

    def lines(self) -> KeyLines | None:
        from offhours.toml_text import KeyLines

        if self._lines is None and self.text is not None:
            self._lines = KeyLines.of(self.text)
        return self._lines

    def add(self, loc: tuple[str | int, ...], text: str) -> None:
        from offhours.config_problems import Problem

        self.found.append(Problem(loc, text))

    def from_pydantic(
        self, exc: ValidationError, model: type[BaseModel], prefix: tuple[str | int, ...]
    ) -> None:
        from offhours.config_problems import describe

        lines = self.lines()
        first_table = lines.first_table if lines is not None else None
        for err in exc.errors():
            self.found.append(describe(err, model, prefix, _Top, first_table))

    def error(self, label: str) -> ConfigError:
        from offhours.config_problems import without_userinfo

        lines = self.lines()
        placed = []
        for problem in self.found:
            line = lines.line_of(problem.loc) if lines is not None else None
            where = f"{label}:{line}" if line is not None else label
            placed.append((line is None, line or 0, f"{where}: {without_userinfo(problem.text)}"))
        # In the file's order; those without a line (missing at the top level) after them.
        texts = tuple(text for *_, text in sorted(placed, key=lambda p: (p[0], p[1])))
        noun = "problem" if len(texts) == 1 else "problems"
        return ConfigError(f"{label}: {len(texts)} {noun}:\n  " + "\n  ".join(texts), texts)


def _validate(
    model: type[BaseModel],
    data: object,
    prefix: tuple[str | int, ...],
    problems: _Problems,
    context: dict[str, Any] | None = None,
) -> Any | None:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems.from_pydantic(exc, model, prefix)
        return None


def _plugins(
    section: str,
    items: list[tuple[int, dict[str, Any]]],
    problems: _Problems,
    context: dict[str, Any],
) -> list[PluginConfig]:
    # The registry names each table's model; importing it imports only the plugins used.
    from offhours.registry import builtin_names, config_model

    out: list[PluginConfig] = []
    seen: dict[str, str] = {}
    for i, item in items:
        where = f"{section}[{i}]"
        kind = item.get("type")
        if not isinstance(kind, str):
            known = ", ".join(builtin_names(section))
            problems.add(
                (section, i, "type"), f"{where}.type: missing; give the kind, one of: {known}"
            )
            continue
        try:
            model = config_model(section, kind)
        except ConfigError as exc:
            from offhours.config_problems import show

            problems.add((section, i, "type"), f"{where}.type: {show(kind)} {exc}")
            continue
        cfg = _validate(model, item, (section, i), problems, context)
        if cfg is None:
            continue
        name = cfg.display_name()
        if name in seen:
            from offhours.config_problems import show

            problems.add(
                (section, i, "name"),
                f"{where}.name: {show(name)} is already used by {seen[name]}; "
                "give each one a unique name",
            )
        seen[name] = where
        out.append(cfg)
    return out


def parse_config(
    data: Mapping[str, Any], path: Path | None = None, *, text: str | None = None
) -> Config:
    """Validate an already-parsed TOML document. Raises ConfigError listing every problem,
    each on its line when ``text`` (the document's TOML) is given."""
    problems = _Problems(text)
    label = str(path) if path else "<config>"
    top = _validate(_Top, dict(data), (), problems)
    # Plugin tables are validated on their own, so the flag they depend on is passed along.
    context = {
        "allow_plaintext": data.get("allow_plaintext_secrets") is True,
        # files a plugin table names (an accounts file) are relative to the config file
        "config_dir": path.resolve().parent if path else None,
    }
    sources = _plugins("sources", _list(data, "sources"), problems, context)
    notifiers = _plugins("notifiers", _list(data, "notifiers"), problems, context)
    if problems.found or top is None:
        raise problems.error(label)
    return Config(top, sources, notifiers, path, data)


def _list(data: Mapping[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key, [])
    # A wrong shape is reported by _Top; here only the well-formed tables are looked into, each
    # with its index in the document (what its problems are placed by).
    if isinstance(value, list):
        return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]
    return []


def config_path(flag: str | Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """Where the config is read from: --config, then $OFFHOURS_CONFIG, then ./offhours.toml."""
    env = os.environ if environ is None else environ
    if flag:
        return Path(flag)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    return DEFAULT_PATH


def load_config(path: Path) -> Config:
    """Read and validate a TOML file. Raises ConfigError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; create it with `offhours init`, "
            f"or point at another file with --config PATH or {ENV_CONFIG}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    from offhours.toml_text import read_toml

    text, data = read_toml(raw, str(path))
    return parse_config(data, path, text=text)


def _list_of(models: Iterable[type[PluginConfig]]) -> Any:
    # Built at run time from the registry, so it is a value to mypy, not a type.
    return list[Annotated[Union[tuple(models)], Field(discriminator="type")]]  # type: ignore[misc]  # noqa: UP007


def json_schema() -> dict[str, Any]:
    """The JSON Schema of offhours.toml (built-in plugins), for editors and `offhours schema`."""
    from offhours.registry import builtin_models

    model = create_model(
        "OffhoursConfig",
        __base__=_Top,
        sources=(_list_of(builtin_models("sources")), Field(min_length=1)),
        notifiers=(_list_of(builtin_models("notifiers")), Field(default_factory=list)),
    )
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "offhours.toml"
    return schema
