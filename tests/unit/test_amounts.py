"""Money and hours in the JSON documents: rounded values, same shape (amounts.py; pure)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.amounts import hours, money, rounded
from offhours.digest import render_digest_json
from offhours.report import render_json
from tests.unit.reports import decision, report
from tests.unit.test_digest import digest, incident


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param({"hourly_cost": 1.0499999999999998}, {"hourly_cost": 1.05}, id="money"),
        pytest.param({"cost": 0.00012345}, {"cost": 0.0001}, id="money-4-decimals"),
        pytest.param({"hours": 40.833333333333336}, {"hours": 40.83}, id="hours"),
        pytest.param({"running_hours": 2.499}, {"running_hours": 2.5}, id="running-hours"),
        pytest.param({"count": 3, "ok": True, "name": "x"}, {"count": 3, "ok": True, "name": "x"}),
        pytest.param({"a": [{"cost": 0.30000000000000004}]}, {"a": [{"cost": 0.3}]}, id="nested"),
        pytest.param({"cost": None}, {"cost": None}, id="none"),
    ],
)
def test_rounded_by_key(document: object, expected: object) -> None:
    assert rounded(document) == expected


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_rounding_is_close_and_short(value: float) -> None:
    assert money(value) == pytest.approx(value, abs=5e-5)
    assert hours(value) == pytest.approx(value, abs=5e-3)
    assert len(repr(money(value)).partition(".")[2]) <= 4 or "e" in repr(money(value))


def test_report_json_has_no_float_noise() -> None:
    # 0.35 × 3: the sum a float keeps as 1.0499999999999998
    found = [decision(f"lab-{n}", cost=0.35, since=timedelta(hours=1)) for n in range(3)]
    doc = json.loads(render_json(report(found)))
    assert doc["totals"]["hourly_cost"] == 1.05
    assert "99999" not in render_json(report(found))


def test_digest_json_hours_have_two_decimals() -> None:
    raw = render_digest_json(digest(incident(1, hours=40 + 50 / 60, cost=0.1)))
    doc = json.loads(raw)
    assert doc["week"]["totals"]["hours"] == 40.83
    assert doc["week"]["totals"]["cost"] == 4.0833
    assert "333333" not in raw
