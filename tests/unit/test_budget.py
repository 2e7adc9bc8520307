"""The time-budget arithmetic and the deadline type (pure; a fake clock, no waits)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.audit import budget_of
from offhours.budget import RUN_MARGIN, attempts_worst_case, delivery_reserve, run_budget
from offhours.config import parse_config
from offhours.transport import Deadline


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("attempt", "retries", "wait", "expected"),
    [
        (9, 2, 4, 35),  # the Ravello defaults
        (4, 2, 0, 12),  # the Slack defaults' attempts (its waits are one max_wait)
        (30, 3, 60, 300),  # the old Ravello defaults: 4 × 30 s + 3 × 60 s
        (5, 0, 100, 5),  # no retry: no wait
        (0.5, 1, 0, 1),
    ],
)
def test_attempts_worst_case(attempt: float, retries: int, wait: float, expected: float) -> None:
    assert attempts_worst_case(attempt, retries, wait) == expected


@pytest.mark.parametrize(
    ("sources", "notifiers", "timeout", "total", "fits"),
    [
        ([35], [20], 60, 57, True),  # the defaults
        ([35, 10, 35], [20], 60, 57, True),  # sources run at once: the slowest counts
        ([35], [20, 20], 60, 77, False),  # notifiers run in turn: they add up
        ([300], [78], 60, 380, False),  # the old defaults
        ([], [], 60, RUN_MARGIN, True),
        ([35], [], 37, 37, True),  # exactly the timeout fits
        ([35], [], 36.9, 37, False),
        ([10] * 16, [], 900, 10 * 2 + 10 * (1 - 1 / 8) + RUN_MARGIN, True),  # 16 sources, 8 threads
    ],
)
def test_run_budget(
    sources: list[float], notifiers: list[float], timeout: float, total: float, fits: bool
) -> None:
    budget = run_budget(sources, notifiers, timeout=timeout)
    assert budget.total == pytest.approx(total)
    assert budget.fits is fits
    assert ("within" if fits else "exceeds") in budget.describe()


@given(
    st.lists(st.floats(0, 1000), max_size=40),
    st.integers(1, 16),
)
def test_the_sources_share_is_between_the_slowest_and_the_sum(
    sources: list[float], threads: int
) -> None:
    share = run_budget(sources, [], timeout=60, concurrency=threads).sources
    assert max(sources, default=0) - 1e-6 <= share <= sum(sources) + 1e-6


@pytest.mark.parametrize(
    ("remaining", "notifiers", "reserve"),
    [
        (58, [20], 20),
        (3, [20], 1.5),  # a small deadline: half for the sources, half for delivery
        (58, [20, 20], 29),
        (58, [], 0),
        (math.inf, [20], 0),  # no deadline, nothing to reserve
    ],
)
def test_delivery_reserve(remaining: float, notifiers: list[float], reserve: float) -> None:
    assert delivery_reserve(remaining, notifiers) == reserve


def config(**extra: object) -> dict[str, object]:
    return {
        "sources": [{"type": "ravello", "username": "env:U", "password": "env:P", **extra}],
        "notifiers": [{"type": "slack", "webhook_url": "env:H"}],
    }


def test_the_defaults_fit_the_default_lambda_timeout() -> None:
    budget = budget_of(parse_config(config()))
    assert budget.timeout == 60
    assert budget.fits, budget.describe()


@pytest.mark.parametrize(
    ("extra", "fits"),
    [
        ({"read_timeout": 30, "request_timeout": 30, "retries": 3, "max_retry_after": 60}, False),
        ({"auth": "session", "list_vms": True}, False),  # three calls in turn
        ({"retries": 0}, True),
    ],
)
def test_budget_of_a_config(extra: dict[str, object], fits: bool) -> None:
    assert budget_of(parse_config(config(**extra))).fits is fits


def test_deadline_with_a_fake_clock() -> None:
    clock = FakeClock()
    deadline = Deadline.after(10, clock)
    assert deadline.remaining() == 10
    assert deadline.earlier(4).remaining() == 6
    assert deadline.within(3).remaining() == 3
    assert deadline.within(30).remaining() == 10
    clock.now += 7
    assert deadline.remaining() == 3
    assert not deadline.passed
    clock.now += 5
    assert deadline.remaining() == 0
    assert deadline.passed
    assert deadline.earlier(100).remaining() == 0


def test_no_deadline() -> None:
    never = Deadline.never()
    assert never.remaining() == math.inf
    assert not never.passed
    assert never.earlier(5) is never
    assert Deadline.after(None).remaining() == math.inf
    assert never.within(2).remaining() <= 2
    assert repr(never) == "Deadline(never)"
