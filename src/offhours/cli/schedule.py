"""``schedule``: an EventBridge schedule expression checked, and its next fire times."""

from __future__ import annotations

from typing import Annotated

import typer

from offhours.cli import EXIT_OK
from offhours.cli.exits import guarded
from offhours.cli.options import VerboseOpt, parse_now, setup_logging
from offhours.cli.output import out
from offhours.errors import ConfigError

__all__ = ["schedule"]


def schedule(
    expression: Annotated[
        str,
        typer.Argument(
            metavar="EXPRESSION",
            help="An EventBridge schedule: cron(…), rate(…) or at(…), e.g. "
            '"cron(0 17 ? * MON-FRI *)"',
        ),
    ],
    tz: Annotated[
        str,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="IANA time zone the schedule runs in (or, with --rule, is read in)",
        ),
    ] = "UTC",
    count: Annotated[
        int, typer.Option(min=1, max=100, metavar="N", help="How many fire times")
    ] = 5,
    rule: Annotated[
        bool, typer.Option("--rule", help="As a classic EventBridge rule (always UTC)")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIME",
            help="Count from this instant instead of now: ISO-8601 such as 2026-11-26T22:00Z; "
            "without a zone, in --tz's",
        ),
    ] = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Validate an EventBridge schedule; print its next fire times (local and UTC)."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.deploy.schedule import format_fire_times, parse_schedule_expression
        from offhours.hours import parse_zone

        try:
            parsed = parse_schedule_expression(expression)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            # With --rule the schedule runs in UTC; the zone still shows local times and drift.
            zone = parse_zone(tz)
        except ValueError as exc:
            raise ConfigError(f"--tz {tz!r} {exc}") from None
        text = format_fire_times(
            parsed, zone, parse_now(now, zone), count, scheduler="rule" if rule else "scheduler"
        )
        out.print(text, markup=False)
        return EXIT_OK

    guarded(body)
