"""``init``: a commented offhours.toml written from a few answers, asked at a terminal or given
as flags; or one of the examples shipped in the package (``--example``).

Nothing is written that does not load: the text is validated by ``parse_config`` first. Secrets
are written as references only (``env:``, ``file:``, ``kms:``, ``ssm:``, ``secretsmanager:``):
a value pasted where a reference belongs is refused, never echoed.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from offhours.cli import EXIT_OK
from offhours.cli.exits import EXIT_CANCELLED, guarded
from offhours.cli.options import VerboseOpt, setup_logging
from offhours.cli.output import err, out
from offhours.cli.schedule import warn_config
from offhours.errors import ConfigError

if TYPE_CHECKING:
    from offhours.config import Config

__all__ = [
    "EXAMPLES",
    "Answers",
    "check_country",
    "check_reference",
    "check_regions",
    "check_url",
    "check_zone",
    "init",
    "render",
    "system_zone",
]

#: ``--example`` word → the file shipped in ``offhours/examples``
EXAMPLES = {
    "full": "offhours.toml",
    "minimal": "minimal.toml",
    "aws": "aws.toml",
    "aws-secrets": "aws-secrets.toml",
}
SOURCES = ("ravello", "aws")
CHANNELS = ("slack", "console")
#: what Ctrl-C / Ctrl-D at a prompt prints; the exit status is guarded's for an interrupt
CANCELLED = "offhours: cancelled; nothing was written"


_UTC_ALIASES = frozenset(
    {"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu", "Etc/GMT"}
)
_REFERENCES = "env:NAME, file:PATH, kms:CIPHERTEXT, ssm:/NAME or secretsmanager:NAME"

T = TypeVar("T")


# ---------------------------------------------------------------- answers, checked


@dataclass
class Answers:
    """What the written file says; every field already checked."""

    source: str = "ravello"
    ravello_url: str = ""
    user: str = ""
    password: str = ""
    regions: list[str] | str | None = None  # a list, "all", or the credentials' region
    channel: str = "slack"
    webhook: str = ""
    timezone: str = "UTC"
    country: str | None = None
    notes: list[str] = field(default_factory=list)


def check_reference(text: str, what: str) -> str:
    """A secret reference as written, or ValueError saying why not (never quoting the text:
    it may be the secret itself)."""
    from offhours.secrets.references import SCHEMES, SecretRef

    value = text.strip()
    try:
        SecretRef.parse(value, what)
    except ValueError as exc:
        scheme, _, target = value.partition(":")
        if scheme.lower() in SCHEMES and target:
            # a reference almost right (env:$NAME, ENV:NAME): its own words, which never quote
            # the text
            raise ValueError(f"{what}: {exc}") from None
        raise ValueError(
            f"{what} takes a reference to the secret, not the secret itself: "
            f"write {_REFERENCES} (offhours.toml never holds a secret)"
        ) from None
    return value


def check_zone(text: str) -> str:
    """The IANA name of a zone (its canonical spelling), or ValueError with a suggestion."""
    from offhours.hours import parse_zone

    try:
        return parse_zone(text).key
    except ValueError as exc:
        raise ValueError(f"{text.strip()!r} {exc}") from None


def check_country(text: str) -> str | None:
    """An ISO country code ``holidays`` knows (upper case), None for none, or ValueError."""
    from offhours.hours import validate_country

    value = text.strip()
    if value.casefold() in ("", "none", "-"):
        return None
    validate_country(value)
    return value.upper()


def check_regions(text: str) -> list[str] | str:
    """``us-east-1, eu-west-1`` → a list; ``all`` → "all"; or ValueError naming the bad one."""
    from pydantic import TypeAdapter, ValidationError

    from offhours.sources.aws.settings import RegionName

    value = text.strip()
    if value.casefold() == "all":
        return "all"
    names = [part for part in re.split(r"[\s,]+", value) if part]
    if not names:
        raise ValueError('give at least one region, such as us-east-1, or "all"')
    check = TypeAdapter(RegionName)
    for name in names:
        try:
            check.validate_python(name)
        except ValidationError:
            raise ValueError(
                f"{name!r} is not an AWS region name (like eu-west-1 or us-gov-west-1)"
            ) from None
    return list(dict.fromkeys(names))


def check_url(text: str) -> str:
    """A Ravello API URL offhours would use (https, or http to loopback), or ValueError."""
    from offhours.sources.ravello import base_url_problem

    value = text.strip()
    if re.search(r"\s", value):
        raise ValueError("the URL has a space in it; give it as one word")
    problem = base_url_problem(value)
    if problem is not None:
        text = problem.removeprefix("base_url ")
        raise ValueError(f"the URL {text}" if text.startswith("has ") else text)
    return value


def system_zone(
    environ: Mapping[str, str] | None = None,
    localtime: Path = Path("/etc/localtime"),
    timezone_file: Path = Path("/etc/timezone"),
) -> str | None:
    """This system's IANA zone: ``TZ``, then where ``/etc/localtime`` links to, then
    ``/etc/timezone`` (Debian); None when none of them names a known zone."""
    env = os.environ if environ is None else environ
    candidates = [env.get("TZ", "").strip().removeprefix(":")]
    with contextlib.suppress(OSError):
        if localtime.is_symlink():
            candidates.append(str(localtime.resolve()))
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    for candidate in candidates:
        # A path into a zoneinfo tree (/usr/share/zoneinfo/Europe/London; macOS's
        # /var/db/timezone/zoneinfo/…) names the zone after its last "zoneinfo/".
        name = candidate.rpartition("zoneinfo/")[2]
        if not name:
            continue
        try:
            zone = check_zone(name)
        except ValueError:
            continue
        # Etc/UTC, Zulu, Universal …: the one name people write.
        return "UTC" if zone in _UTC_ALIASES else zone
    return None


# ---------------------------------------------------------------- the file


def _s(value: object) -> str:
    """A TOML value, quoted and escaped by tomlkit."""
    import tomlkit

    return str(tomlkit.item(value).as_string())


def _line(key: str, value: object, comment: str = "", *, off: bool = False) -> str:
    """``key = value  # comment``, comments aligned; ``off``: the line commented out."""
    text = f"{'# ' if off else ''}{key} = {_s(value)}"
    return f"{text:<40}  # {comment}" if comment else text


def render(answers: Answers) -> str:
    """The commented offhours.toml for these answers."""
    a = answers
    parts = [
        "# offhours.toml, written by `offhours init`: edit freely, then run `offhours check`.",
        "# Every key, with comments: `offhours init --example full --output full.toml`;",
        "# the JSON Schema for your editor: `offhours schema`.",
        "",
        "# When resources may run. A running resource is flagged at any moment outside these",
        "# hours, unless a tag on it says otherwise.",
        "[hours]",
        _line("timezone", a.timezone, "IANA zone; DST is handled"),
        _line("days", "Mon-Fri", 'or "Mon,Wed,Fri", "Sun-Thu", "daily"'),
        _line("start", "08:00", "HH:MM local time"),
        _line("end", "18:00", '"24:00" means midnight at the end of the day'),
        _line("grace_minutes", 30, "don't flag what was started less than 30 minutes ago"),
        "",
    ]
    if a.country:
        parts += [
            "[hours.holidays]",
            _line("country", a.country, "public holidays (ISO 3166 code): not business days"),
            _line("subdivision", "…", "a state or province code, for its own days", off=True),
        ]
    else:
        parts += [
            "# Public holidays are not business days once a country is named:",
            "# [hours.holidays]",
            _line("country", "US", "ISO 3166 code", off=True),
        ]
    parts += [
        "",
        "# Secrets are references, never values:",
        "#   env:NAME (an environment variable)   file:PATH (a file only you can read)",
        "#   kms:BASE64   ssm:/path/name   secretsmanager:NAME[#JSON-KEY]   (AWS)",
        "[[sources]]",
    ]
    if a.source == "ravello":
        parts += [
            _line("type", "ravello"),
            _line("base_url", a.ravello_url),
            _line("username", a.user),
            _line("password", a.password),
            _line("cost_per_vm_hour", 0.35, "optional: an estimate, for the cost in reports"),
        ]
    else:
        parts += [
            _line("type", "aws", "credentials: boto3's usual (profile, AWS_*, a role)"),
            *(
                [_line("regions", a.regions, '"all": every region the account has enabled')]
                if a.regions is not None
                else [
                    '# regions = ["us-east-1"]                 # default: the credentials\' region'
                ]
            ),
            _line("group_tag", "Project", "the tag the report groups by"),
            _line("action", "none", '"stop": stop what is flagged (try --dry-run first)'),
        ]
    parts += ["", "[[notifiers]]"]
    if a.channel == "slack":
        parts += [
            _line("type", "slack"),
            _line("webhook_url", a.webhook, "https://hooks.slack.com/services/T…/B…/…"),
        ]
    else:
        parts += [
            _line("type", "console", "the report on standard output"),
            _line("format", "text", 'or "json"'),
            '# To post to Slack instead, a [[notifiers]] table with type = "slack" and',
            '# webhook_url = "env:SLACK_WEBHOOK_URL".',
        ]
    return "\n".join(parts) + "\n"


def _validated(text: str, path: Path) -> Config:
    """Never write a file that does not load."""
    import tomllib

    from offhours.config import parse_config

    return parse_config(tomllib.loads(text), path)


def _exists(shown: str) -> ConfigError:
    return ConfigError(
        f"{shown} already exists; keep it, or pass --force to replace it "
        "(or --output PATH to write elsewhere)"
    )


def _write(path: Path, text: str, force: bool) -> None:
    try:
        # "x": refused if the file appeared meanwhile, unless --force replaces it.
        with path.open("w" if force else "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise _exists(str(path)) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot write it ({exc.strerror}); choose --output PATH"
        ) from None


def _next_steps(answers: Answers, path: Path, shown: str) -> list[str]:
    from offhours.config import config_path

    refs = [answers.user, answers.password] if answers.source == "ravello" else []
    refs += [answers.webhook] if answers.channel == "slack" else []
    steps = []
    names = [r[4:] for r in refs if r.startswith("env:")]
    if names:
        exports = " ".join(f"{n}=…" for n in dict.fromkeys(names))
        steps.append(f"export {exports}   # the secrets it refers to")
    for ref in refs:
        if ref.startswith("file:"):
            target = ref[5:]
            steps.append(f"put the secret in {target}, then: chmod 600 {target}")
    if any(r.partition(":")[0] in ("kms", "ssm", "secretsmanager") for r in refs):
        steps.append("offhours secrets check   # each reference resolves (AWS credentials)")
    flag = "" if path == config_path(None) else f" --config {shown}"
    steps += [f"offhours check{flag}", f"offhours audit --dry-run{flag}"]
    return steps


# ---------------------------------------------------------------- asking


def _ask(question: str, check: Callable[[str], T], default: str | None = None) -> T:
    """One question, asked again until ``check`` accepts the answer (its ValueError said)."""
    from offhours.untrusted import lines

    while True:
        text = typer.prompt(
            question, default=default, show_default=bool(default), err=True, type=str
        )
        try:
            return check(str(text))
        except ValueError as exc:
            err.print(f"  {lines(str(exc))}", markup=False)


def _one_of(choices: tuple[str, ...], what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        value = text.strip().casefold()
        if value not in choices:
            raise ValueError(f"{what} {text.strip()!r} is not one of: {', '.join(choices)}")
        return value

    return check


@dataclass
class _Flags:
    source: str | None
    ravello_url: str | None
    user: str | None
    password: str | None
    regions: str | None
    channel: str | None
    webhook: str | None
    timezone: str | None
    country: str | None

    def given(self) -> bool:
        return any(v is not None for v in vars(self).values())

    def or_defaults(self) -> _Flags:
        """The flags, with the answers a question would default to where none was given
        (``--yes``): Ravello, the secrets in the environment, Slack."""
        source = self.source or "ravello"
        ravello = source == "ravello"
        channel = self.channel or "slack"
        return replace(
            self,
            source=source,
            user=self.user or ("env:RAVELLO_USER" if ravello else None),
            password=self.password or ("env:RAVELLO_PASSWORD" if ravello else None),
            channel=channel,
            webhook=self.webhook or ("env:SLACK_WEBHOOK_URL" if channel == "slack" else None),
        )


def _flag(check: Callable[[str], T], value: str, flag: str) -> T:
    try:
        return check(value)
    except ValueError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def _ref_flag(value: str, flag: str) -> str:
    try:
        return check_reference(value, flag)
    except ValueError as exc:  # its message starts with the flag already
        raise ConfigError(str(exc)) from None


def _from_flags(f: _Flags, default_zone: str | None) -> Answers:
    """Answers from flags alone: every missing one named at once."""
    from offhours.sources.ravello import DEFAULT_BASE_URL

    a = Answers()
    missing = []
    if f.source is None:
        missing.append("--source (ravello or aws)")
    else:
        a.source = _flag(_one_of(SOURCES, "source"), f.source, "--source")
    if f.ravello_url is not None:
        a.ravello_url = _flag(check_url, f.ravello_url, "--ravello-url")
    else:
        a.ravello_url = DEFAULT_BASE_URL
    if a.source == "ravello" and f.source is not None:
        for name, value in (("--user", f.user), ("--password", f.password)):
            if value is None:
                missing.append(f"{name} REF")
    if f.user is not None:
        a.user = _ref_flag(f.user, "--user")
    if f.password is not None:
        a.password = _ref_flag(f.password, "--password")
    if f.regions is not None:
        a.regions = _flag(check_regions, f.regions, "--regions")
    channel = f.channel or ("slack" if f.webhook is not None else None)
    if channel is None:
        missing.append("--slack-webhook REF (or --channel console)")
    else:
        a.channel = _flag(_one_of(CHANNELS, "channel"), channel, "--channel")
        if a.channel == "slack" and f.webhook is None:
            missing.append("--slack-webhook REF")
    if f.webhook is not None:
        a.webhook = _ref_flag(f.webhook, "--slack-webhook")
    if missing:
        raise ConfigError(
            f"init needs {', '.join(missing)}; give them, or run `offhours init` at a terminal "
            "(or with --interactive) to be asked"
        )
    a.timezone = _zone_or_utc(f.timezone, default_zone, a)
    if f.country is not None:
        a.country = _flag(check_country, f.country, "--country")
    return a


def _zone_or_utc(flag: str | None, default_zone: str | None, a: Answers) -> str:
    if flag is not None:
        return _flag(check_zone, flag, "--timezone")
    if default_zone is None:
        a.notes.append("could not tell this system's time zone, so [hours] uses UTC")
        return "UTC"
    return default_zone


def _answer(
    given: str | None, flag: str, check: Callable[[str], T], question: str, default: str | None
) -> T:
    """The flag's answer, checked as the question's would be; else the question asked."""
    return _flag(check, given, flag) if given is not None else _ask(question, check, default)


def _reference(given: str | None, flag: str, what: str, default: str) -> str:
    if given is not None:
        return _ref_flag(given, flag)
    return _ask(f"{what} (a reference)", lambda t: check_reference(t, what), default)


def _interactively(f: _Flags, default_zone: str | None) -> Answers:
    """Ask for what the flags did not give."""
    from offhours.sources.ravello import DEFAULT_BASE_URL

    a = Answers(ravello_url=DEFAULT_BASE_URL)
    err.print("offhours.toml in a few questions (Enter takes the [default]).", markup=False)
    a.source = _answer(
        f.source, "--source", _one_of(SOURCES, "source"), "Source: ravello or aws", "ravello"
    )
    err.print(
        "Secrets are never written into offhours.toml, only where to find them: env:NAME "
        "(an environment variable), file:PATH (a file only you can read), or ssm:/NAME, "
        "secretsmanager:NAME, kms:CIPHERTEXT (AWS).",
        markup=False,
    )
    if a.source == "ravello":
        a.ravello_url = _answer(
            f.ravello_url, "--ravello-url", check_url, "Ravello API URL", DEFAULT_BASE_URL
        )
        a.user = _reference(f.user, "--user", "Ravello user name", "env:RAVELLO_USER")
        a.password = _reference(
            f.password, "--password", "Ravello password", "env:RAVELLO_PASSWORD"
        )
    else:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        question = 'AWS regions (comma-separated, or "all")'
        a.regions = _answer(f.regions, "--regions", check_regions, question, region)
    a.channel = _answer(
        f.channel or ("slack" if f.webhook is not None else None),
        "--channel",
        _one_of(CHANNELS, "channel"),
        "Channel: slack (a webhook) or console",
        "slack",
    )
    if a.channel == "slack":
        a.webhook = _reference(
            f.webhook, "--slack-webhook", "Slack webhook URL", "env:SLACK_WEBHOOK_URL"
        )
    if f.timezone is None and default_zone is None:
        err.print("(This system's time zone is unknown: UTC is the default.)", markup=False)
    a.timezone = _answer(
        f.timezone, "--timezone", check_zone, "Time zone of business hours", default_zone or "UTC"
    )
    question = "Country for public holidays (ISO code such as US, GB, DE; none for none)"
    a.country = _answer(f.country, "--country", check_country, question, "none")
    return a


def _example(name: str, path: Path, force: bool, shown: str) -> int:
    from offhours.untrusted import one_line

    if name not in EXAMPLES:
        raise ConfigError(
            f"--example {one_line(name)!r} is not a shipped example: {', '.join(EXAMPLES)}"
        )
    text = files("offhours").joinpath("examples", EXAMPLES[name]).read_text("utf-8")
    _write(path, text, force)
    from offhours.config import config_path

    flag = "" if path == config_path(None) else f" --config {shown}"
    written = f"Wrote {shown}: the {name} example; edit it, then: offhours check{flag}"
    out.print(written, markup=False)
    return EXIT_OK


# ---------------------------------------------------------------- the command


def init(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            "--config",
            "-c",
            metavar="PATH",
            help="Where to write (--config as every command reads it) "
            "[default: $OFFHOURS_CONFIG or ./offhours.toml]",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file")] = False,
    interactive: Annotated[
        bool,
        typer.Option(
            "--interactive",
            help="Ask for every answer not given as a flag, even without a terminal",
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Ask nothing: take the flags, and the defaults for the rest",
        ),
    ] = False,
    source: Annotated[str | None, typer.Option(metavar="ravello|aws", help="What to audit")] = None,
    ravello_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The Ravello API [default: Ravello's own]"),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            metavar="REF", help="The Ravello user name's reference, e.g. env:RAVELLO_USER"
        ),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            metavar="REF", help="The Ravello password's reference, e.g. env:RAVELLO_PASSWORD"
        ),
    ] = None,
    regions: Annotated[
        str | None,
        typer.Option(
            metavar="R1,R2|all",
            help="AWS regions to read [default: the credentials' region]",
        ),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(
            metavar="slack|console",
            help="Where the report goes [default: slack with --slack-webhook]",
        ),
    ] = None,
    slack_webhook: Annotated[
        str | None,
        typer.Option(
            metavar="REF", help="The Slack webhook URL's reference, e.g. env:SLACK_WEBHOOK_URL"
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(metavar="ZONE", help="IANA zone of business hours [default: this system's]"),
    ] = None,
    country: Annotated[
        str | None,
        typer.Option(metavar="CODE", help="ISO code of the country whose public holidays count"),
    ] = None,
    example: Annotated[
        str | None,
        typer.Option(
            metavar="|".join(EXAMPLES),
            help="Write a shipped example as it is (full: every key, commented)",
        ),
    ] = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Write a commented offhours.toml: asked at a terminal, or from flags."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.config import config_path
        from offhours.untrusted import lines, one_line

        path = output if output is not None else config_path(None)
        shown = one_line(str(path))
        flags = _Flags(
            source, ravello_url, user, password, regions, channel, slack_webhook, timezone, country
        )
        if interactive and yes:
            raise ConfigError("--interactive and --yes contradict each other; give one")
        if example is not None:
            if flags.given():
                raise ConfigError("--example writes the example as it is; give no other answers")
            return _example(example, path, force, shown)
        if path.exists() and not force:
            raise _exists(shown)  # before any question is asked
        asking = interactive or (not yes and not flags.given() and sys.stdin.isatty())
        if yes:
            flags = flags.or_defaults()
        try:
            answers = (_interactively if asking else _from_flags)(flags, system_zone())
        except typer.Abort:
            err.print(CANCELLED, markup=False)
            return EXIT_CANCELLED
        text = render(answers)
        cfg = _validated(text, path)
        _write(path, text, force)
        for note in answers.notes:
            err.print(f"note: {note} (pass --timezone ZONE to choose)", markup=False)
        warn_config(cfg)  # written as asked, but said: EST has no daylight saving time
        out.print(f"Wrote {shown}. Next:", markup=False)
        for step in _next_steps(answers, path, shown):
            out.print(f"  {lines(step)}", markup=False)
        return EXIT_OK

    guarded(body)
