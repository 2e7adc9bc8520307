"""``schedule``: an EventBridge schedule expression checked, and its next fire times; and the
checks of a configuration's schedule and zones that ``check`` and ``deploy plan``/``apply`` run
(:func:`review`) and ``audit`` prints (:func:`warn_config`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from offhours.cli import EXIT_OK
from offhours.cli.exits import guarded
from offhours.cli.options import VerboseOpt, parse_now, setup_logging
from offhours.cli.output import err, out
from offhours.errors import ConfigError

if TYPE_CHECKING:
    from datetime import datetime

    from offhours.config import Config

__all__ = ["review", "schedule", "warn_config"]


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
        from zoneinfo import ZoneInfo

        from offhours.deploy.schedule import (
            fires_no_more,
            format_fire_times,
            parse_schedule_expression,
            render,
        )
        from offhours.hours import parse_zone, zone_warning

        try:
            parsed = parse_schedule_expression(expression)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            # With --rule the schedule runs in UTC; the zone still shows local times and drift.
            zone = parse_zone(tz)
        except ValueError as exc:
            raise ConfigError(f"--tz {tz!r} {exc}") from None
        at = parse_now(now, zone)
        text = format_fire_times(parsed, zone, at, count, scheduler="rule" if rule else "scheduler")
        # Valid but never run: refused, as [deploy] schedule refuses it.
        why = fires_no_more(parsed, at, ZoneInfo("UTC") if rule else zone)
        if why is not None:
            raise ConfigError(f"{render(parsed)} {why}")
        advice = zone_warning(zone)
        if advice is not None:
            err.print(f"warning: --tz {advice}", markup=False)
        out.print(text, markup=False)
        return EXIT_OK

    guarded(body)


def warn_config(cfg: Config) -> None:
    """Print the configuration's warnings (valid, likely not meant) on stderr."""
    for warning in cfg.warnings():
        err.print(f"warning: {warning}", markup=False)


def review(cfg: Config, now: datetime) -> None:
    """What ``check`` and ``deploy plan``/``apply`` say about a configuration's schedule at
    ``now``: a ``[deploy] schedule`` (or ``digest_schedule``) that fires no more is refused
    (ConfigError: the at() has passed); the configuration's warnings and the schedule against
    ``[hours]`` (runs inside business hours, off-hours no run falls in) are printed on stderr."""
    from offhours.deploy.schedule import (
        coverage_warnings,
        fires_no_more,
        parse_schedule_expression,
    )
    from offhours.hours import parse_zone

    d = cfg.deploy
    rule = d.scheduler == "rule"
    zone = parse_zone("UTC" if rule else d.timezone or cfg.hours.timezone)
    problems = []
    for key, expression in (("schedule", d.schedule), ("digest_schedule", d.digest_schedule)):
        why = (
            None
            if expression is None
            else fires_no_more(parse_schedule_expression(expression), now, zone)
        )
        if why is not None:
            problems.append(f"{cfg.label}: deploy.{key}: {json.dumps(expression)} {why}")
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(
            f"{cfg.label}: {len(problems)} {noun}:\n  " + "\n  ".join(problems), tuple(problems)
        )
    warn_config(cfg)
    hours = cfg.policy().hours
    found = coverage_warnings(parse_schedule_expression(d.schedule), zone, hours, now)
    for warning in found:
        err.print(f"warning: {cfg.label}: deploy.schedule {d.schedule}: {warning}", markup=False)
    if found and zone.key != hours.zone.key:
        how = (
            "a classic EventBridge rule reads cron() times in UTC"
            if rule
            else f"[deploy] timezone is {zone.key}"
        )
        err.print(
            f'  ({how}; with scheduler = "scheduler" and timezone = "{hours.zone.key}" '
            "they are that zone's local times)",
            markup=False,
        )
