"""The digest's PNG bar chart (charts.py) drawn by the real matplotlib (Agg)."""

from __future__ import annotations

import io
import sys

import pytest

from offhours.charts import CHARTS_EXTRA, MAX_OWNERS, chart_figure, chart_values, render_png
from offhours.errors import ConfigError
from tests.unit.test_digest import PREV_TUE, digest, incident

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _bars(d: object) -> tuple[list[float], list[float], list[str]]:
    """The heights of the week-before and this-week bars, and the owners under them."""
    figure = chart_figure(d)  # type: ignore[arg-type]
    (axes,) = figure.axes
    before, now = axes.containers
    labels = [t.get_text() for t in axes.get_xticklabels()]
    return [b.get_height() for b in before], [b.get_height() for b in now], labels


def test_bars_are_cost_per_owner_this_week_beside_the_week_before() -> None:
    d = digest(
        incident(1, opened=PREV_TUE, owner="alice", cost=1.0, hours=4),
        incident(1, owner="alice", cost=1.0, hours=10),
        incident(2, owner="bob", cost=2.0, hours=10),
        incident(3, owner="carol", opened=PREV_TUE, cost=1.0, hours=6),  # last week only
    )
    before, now, labels = _bars(d)
    assert labels == ["bob", "alice", "carol"]
    assert now == [20.0, 10.0, 0.0]
    assert before == [0.0, 4.0, 6.0]
    figure = chart_figure(d)
    assert len(figure.axes[0].patches) == 6
    assert figure.axes[0].get_ylabel() == "estimated cost (USD)"


def test_hours_are_drawn_when_a_cost_is_unknown() -> None:
    d = digest(
        incident(1, owner="alice", cost=1.0, hours=10),
        incident(2, owner=None, cost=None, hours=3),
    )
    assert chart_values(d)[0] == "hours"
    before, now, labels = _bars(d)
    assert (labels, now, before) == (["alice", "no owner"], [10.0, 3.0], [0.0, 0.0])
    figure = chart_figure(d)
    assert figure.axes[0].get_ylabel() == "off-hours running hours"
    assert "1 of 2 priced" in figure.axes[0].get_title()


def test_beyond_the_largest_owners_the_rest_is_one_bar() -> None:
    d = digest(*(incident(n, owner=f"o{n:02d}", cost=1.0, hours=n + 1) for n in range(20)))
    _, now, labels = _bars(d)
    assert len(labels) == MAX_OWNERS + 1
    assert labels[-1] == f"{20 - MAX_OWNERS} others"
    assert now[0] == 20.0
    assert now[-1] == sum(range(1, 20 - MAX_OWNERS + 1))


def test_the_png_decodes_to_the_figure_and_is_the_same_every_time() -> None:
    hostile = "$\\frac{1}{0}$ \x1b[31m\u202eevil ^_{"  # mathtext and terminal tricks: text
    d = digest(
        incident(1, owner=hostile, cost=1.0, hours=10),
        incident(2, owner="bob", cost=1.0, hours=4),
    )
    png = render_png(d)
    assert png.startswith(PNG_SIGNATURE)
    assert png == render_png(d)  # no date or version in it
    assert b"Software" not in png and b"matplotlib" not in png.lower()
    figure = chart_figure(d)
    width, height = (round(v * figure.dpi) for v in figure.get_size_inches())
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (width, height)
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels[0].startswith("$\\frac{1}{0}$ [31mevil")  # cleaned, and drawn as typed
    assert not any(t.get_parse_math() for t in figure.axes[0].get_xticklabels())


def test_a_quiet_week_is_an_empty_chart() -> None:
    png = render_png(digest())
    assert png.startswith(PNG_SIGNATURE)
    assert _bars(digest()) == ([], [], [])


def test_without_matplotlib_the_error_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail as if matplotlib were not installed.
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ConfigError) as caught:
        render_png(digest(incident(1)))
    assert str(caught.value) == CHARTS_EXTRA
    assert "pip install 'offhours[charts]'" in CHARTS_EXTRA
