"""EventBridge schedule expressions ``cron()``, ``rate()``, ``at()``: validate, evaluate, describe.

Pure: nothing here calls AWS or reads the clock (the instant to count from is a parameter).
AWS test doubles validate none of this, so every expression is checked here before use.

Grammar, as EventBridge accepts it::

    cron(Minutes Hours Day-of-month Month Day-of-week Year)
        1 minutes       0-59                  , - * /
        2 hours         0-23                  , - * /
        3 day-of-month  1-31                  , - * ? /   L  LW  15W      (these stand alone)
        4 month         1-12 or JAN-DEC       , - * /
        5 day-of-week   1-7 = SUN-SAT         , - * ?     L  6L  3#2      (these stand alone)
        6 year          1970-2199             , - * /
        exactly one of day-of-month / day-of-week is "?"; at most one "#"
    rate(1 minute | N minutes | 1 hour | N hours | 1 day | N days)        N a positive integer
    at(yyyy-mm-ddThh:mm:ss)                 EventBridge Scheduler only (not classic rules)

Where the AWS documentation is silent the parser takes the safe side: it refuses what EventBridge
might refuse and names a form it certainly accepts.

- Ranges do not wrap around: ``FRI-MON`` is refused with the list that means it
  (``FRI-SAT,SUN-MON``), ``22-2`` hours with ``22-23,0-2``.
- A step runs from 1 to the field's span (``0/59`` minutes, ``1/30`` days, ``*/11`` months); a
  larger one would select its start value only.
- ``L``, ``LW``, ``15W``, ``6L`` and ``3#2`` stand alone in their field, as in Quartz (where the
  syntax comes from); ``L-3`` is not accepted. ``L`` alone in day-of-week means Saturday.
- ``nW`` never leaves its month (``1W`` on a Saturday is Monday the 3rd); in a month without day
  n (``31W`` in April) it does not run, like a plain ``31``.
- Names are case-insensitive; whitespace around the expression and between fields is tolerated.
  :func:`render` gives the canonical text, which is what should be sent to AWS.

Evaluation follows EventBridge Scheduler with ``ScheduleExpressionTimezone``: cron fields are
wall-clock times in the zone; a time the clocks skip (spring forward) does not run; a time the
clocks repeat (fall back) runs once, at its first occurrence; ``rate()`` counts real elapsed time
from the start, the first run one interval after it. Classic EventBridge rules are the same
evaluation in UTC. Searches stop at the end of 2199, the last year a cron() can name.

An expression can be valid and never run: ``cron(0 0 30 2 ? *)`` (February has no 30th; see
:func:`never_fires`), a year field or an ``at()`` that has passed (:func:`fires_no_more`).
:func:`coverage_warnings` compares a schedule with business hours: runs inside them, off-hours
no run falls in.

The package is deploy- and CLI-side: the Lambda handler never imports it (EventBridge evaluates
the expression); ``config`` imports the grammar only to validate ``[deploy] schedule``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from offhours.deploy.schedule._fire import last_fire_time, next_fire_times
from offhours.deploy.schedule._forms import (
    MAX_YEAR,
    At,
    Cron,
    DayRule,
    Part,
    Rate,
    Schedule,
    ScheduleError,
    requires_scheduler,
)
from offhours.deploy.schedule._grammar import parse_schedule_expression, render
from offhours.deploy.schedule._lifespan import fires_no_more, never_fires

if TYPE_CHECKING:
    from offhours.deploy.schedule._coverage import coverage_warnings
    from offhours.deploy.schedule._listing import format_fire_times
    from offhours.deploy.schedule._words import describe

# What only the command line shows (a schedule against business hours, fire-time listings, plain
# words) is loaded on first use: a configuration validated on Lambda never pays for it.
_LAZY = {
    "coverage_warnings": "_coverage",
    "format_fire_times": "_listing",
    "describe": "_words",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_YEAR",
    "At",
    "Cron",
    "DayRule",
    "Part",
    "Rate",
    "Schedule",
    "ScheduleError",
    "coverage_warnings",
    "describe",
    "fires_no_more",
    "format_fire_times",
    "last_fire_time",
    "never_fires",
    "next_fire_times",
    "parse_schedule_expression",
    "render",
    "requires_scheduler",
]
