"""The options the commands share, and what every command does first with them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offhours.errors import ConfigError

if TYPE_CHECKING:
    from offhours.config import Config
    from offhours.transport import Deadline

__all__ = [
    "ConfigOpt",
    "DeadlineOpt",
    "Format",
    "NowOpt",
    "VerboseOpt",
    "load_config",
    "parse_now",
    "setup_logging",
    "start_run",
]


class Format(StrEnum):
    text = "text"
    json = "json"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file [default: $OFFHOURS_CONFIG or ./offhours.toml]",
        show_default=False,
    ),
]
NowOpt = Annotated[
    str | None,
    typer.Option(help="Evaluate at this instant (ISO-8601 with offset, e.g. 2026-11-26T22:00Z)"),
]
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
    int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv debug)")
]


def parse_now(text: str | None) -> datetime:
    """``--now`` as an aware instant (the current time without it)."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--now {text!r} is not an ISO-8601 time; write e.g. 2026-11-26T22:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise ConfigError(f"--now {text!r} has no time zone; add Z or an offset such as -05:00")
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
    from offhours.config import config_path
    from offhours.config import load_config as load

    return load(config_path(path))
