"""Time budgets: how long a run can take at worst, and how a deadline is shared out.

Pure arithmetic, no I/O. Sources are read concurrently (at most ``concurrency`` at once) and
notifiers deliver one after another, so at worst a run takes the slowest sources plus every
notifier, plus a margin for the rest (policy, report, logging) — and on Lambda that must fit
in the function's timeout, or the run is killed before it can say anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "RUN_MARGIN",
    "Budget",
    "attempts_worst_case",
    "delivery_reserve",
    "run_budget",
]

#: seconds kept back from the Lambda's remaining time for what follows delivery (the summary,
#: the logs, returning); also the margin of :func:`run_budget`
RUN_MARGIN = 2.0


def attempts_worst_case(attempt_seconds: float, retries: int, max_wait: float) -> float:
    """One request retried ``retries`` times: every attempt and every wait as long as allowed."""
    return (retries + 1) * attempt_seconds + retries * max_wait


@dataclass(frozen=True)
class Budget:
    """The worst case of one run against the time it is given."""

    sources: float
    notifiers: float
    margin: float
    timeout: float

    @property
    def total(self) -> float:
        return self.sources + self.notifiers + self.margin

    @property
    def fits(self) -> bool:
        return self.total <= self.timeout

    def describe(self) -> str:
        return (
            f"worst case {_s(self.total)} (sources {_s(self.sources)} + notifiers "
            f"{_s(self.notifiers)} + margin {_s(self.margin)}) "
            f"{'within' if self.fits else 'exceeds'} the timeout of {_s(self.timeout)}"
        )


def _s(seconds: float) -> str:
    return f"{seconds:.1f}".removesuffix(".0") + " s"


def run_budget(
    sources: Sequence[float],
    notifiers: Sequence[float],
    *,
    timeout: float,
    concurrency: int = 8,
    margin: float = RUN_MARGIN,
) -> Budget:
    """The worst case of a run whose sources take ``sources`` seconds each at worst (read
    ``concurrency`` at a time) and whose notifiers take ``notifiers`` seconds each (in turn).

    With more sources than threads, a thread pool that hands each free thread the next source
    finishes within ``sum/m + max·(1 - 1/m)`` (Graham's bound for list scheduling).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    slowest = max(sources, default=0.0)
    if len(sources) <= concurrency:
        collect = slowest
    else:
        m = concurrency
        collect = min(sum(sources), sum(sources) / m + slowest * (1 - 1 / m))
    return Budget(
        sources=collect,
        notifiers=float(sum(notifiers)),
        margin=margin,
        timeout=timeout,
    )


def delivery_reserve(remaining: float, notifiers: Sequence[float]) -> float:
    """Seconds of a deadline kept for delivery when the sources are read: what the notifiers
    need at worst, but never more than half of what is left (the sources need time too)."""
    if math.isinf(remaining):
        return 0.0
    return min(sum(notifiers), remaining / 2)
