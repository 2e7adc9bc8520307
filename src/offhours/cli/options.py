"""The options the commands share, and what every command does first with them."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offhours.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from offhours.config import Config
    from offhours.transport import Deadline

log = logging.getLogger("offhours.cli")

__all__ = [
    "FORMAT_HELP",
    "SLACK_HELP",
    "ConfigOpt",
    "DeadlineOpt",
    "Format",
    "FormatOpt",
    "NowOpt",
    "SlackFormat",
    "VerboseOpt",
    "load_config",
    "parse_now",
    "setup_logging",
    "start_run",
]


class Format(StrEnum):
    """What ``--format`` takes everywhere: text for people, json for scripts."""

    text = "text"
    json = "json"


class SlackFormat(StrEnum):
    """``--format`` where a Slack message is a meaningful output: its Block Kit JSON."""

    text = "text"
    json = "json"
    slack = "slack"


#: the one wording of ``--format`` (and of its ``slack``, where a command has it)
FORMAT_HELP = "Print as text (for people) or json (for scripts)"
SLACK_HELP = ", or slack (the Block Kit JSON of the Slack message)"

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="Config file [default: $OFFHOURS_CONFIG, then ./offhours.toml]",
        show_default=False,
    ),
]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="TIME",
        help="Evaluate at TIME instead of now: ISO-8601 such as 2026-11-26T22:00Z; a time or "
        "a date (its midnight) without a zone is read in the [hours] zone",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", metavar="text|json", help=FORMAT_HELP)]
DeadlineOpt = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0.1,
        max=86_400,
        metavar="SECONDS",
        help="Finish within SECONDS: a source still reading is reported as timed out while "
        "there is time left to deliver",
    ),
]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose", "-v", count=True, show_default=False, help="More logging (-vv debug)"
    ),
]

# A date alone, or a date with a zone but no time (2026-11-30Z): fromisoformat refuses the
# second, and reads 2026-11-30+01:00 as 01:00 on that day.
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE)


def parse_now(text: str | None, zone: tzinfo | str, option: str = "--now") -> datetime:
    """``--now`` as an aware instant (the current time without it). A time without a zone, and
    a date alone (its midnight), are read in ``zone``: the config's ``[hours]`` zone."""
    if text is None:
        return datetime.now(UTC)
    if isinstance(zone, str):
        from offhours.hours import parse_zone

        zone = parse_zone(zone)
    given = text.strip()
    day = _DATE.fullmatch(given)
    if day:  # midnight of that day, at its offset if it has one
        offset = (day.group(2) or "").upper().replace("Z", "+00:00")
        given = f"{day.group(1)}T00:00{offset}"
    try:
        if len(given) > 10 and given[10] not in "Tt ":
            raise ValueError(given)  # fromisoformat takes any character between date and time
        value = datetime.fromisoformat(given)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not an ISO-8601 time; write e.g. 2026-11-26T22:00Z, "
            f"2026-11-26T17:00-05:00, or 2026-11-26T22:00 (read in {zone})"
        ) from None
    if value.tzinfo is None:
        log.info("%s %s has no zone: read in %s", option, given, zone)
        value = value.replace(tzinfo=zone)
    return value


def setup_logging(verbose: int) -> None:
    from offhours import logs

    logs.configure(verbose)


def start_run(verbose: int, seconds: float | None) -> Deadline:
    """Logging set up, and the run's ``--deadline`` started: counted from here, before the
    config is read and the secrets resolved."""
    setup_logging(verbose)
    from offhours.transport import Deadline

    return Deadline.after(seconds)


def load_config(path: Path | None) -> Config:
    # Imported here: pydantic and the config models are not needed for `--help`.
    import os

    from offhours.config import ENV_CONFIG, config_path
    from offhours.config import load_config as load

    chosen = config_path(path)
    if path is not None:
        readable(chosen, "--config")
    elif os.environ.get(ENV_CONFIG):
        readable(chosen, f"${ENV_CONFIG}")
    return load(chosen)


def readable(path: Path, origin: str) -> None:
    """A config file named by ``--config`` or ``$OFFHOURS_CONFIG`` that can be read; else the
    same error whichever named it, saying which did (./offhours.toml is the loader's own)."""
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (named by {origin}); check the path, "
            "or write one with: offhours init"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path}: a directory, not a file (named by {origin}); "
            f"name the file itself, e.g. {path / 'offhours.toml'}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}) (named by {origin})") from None
