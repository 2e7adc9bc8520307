"""The digest as a PNG bar chart: cost per owner (hours when some costs are unknown), this week
beside the week before.

matplotlib is an optional extra (``pip install 'offhours[charts]'``), imported only here and
only when a chart is drawn, with the Agg backend on a :class:`~matplotlib.figure.Figure` of
its own (no pyplot, no global figure state). The PNG carries no metadata (no matplotlib
version, no date), so the same digest gives the same bytes with the same matplotlib.

Owners are external text: cleaned to one line and drawn with mathtext off (a ``$`` in a name
is a dollar sign, never a formula).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from offhours.digest import Digest, Tally, owner_label
from offhours.errors import ConfigError
from offhours.untrusted import one_line

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CHARTS_EXTRA", "MAX_OWNERS", "chart_figure", "chart_values", "render_png"]

CHARTS_EXTRA = "the chart needs the charts extra: pip install 'offhours[charts]'"
#: owners drawn (the largest this week); the rest are summed into one "others" bar
MAX_OWNERS = 12
_LABEL_MAX = 24


def _measure(tally: Tally | None, by_cost: bool) -> float:
    if tally is None:
        return 0.0
    return (tally.cost or 0.0) if by_cost else tally.hours


def chart_values(digest: Digest) -> tuple[str, list[str], list[float], list[float]]:
    """What the chart draws: its measure (``cost`` when every incident of both weeks is
    priced, else ``hours``), the owner labels, and this week's and last week's values."""
    by_cost = digest.priced_everywhere
    this = {r.key: r.tally for r in digest.week.by_owner}
    last = {r.key: r.tally for r in digest.previous.by_owner}
    # This week's order first, then owners only seen the week before.
    keys = [r.key for r in digest.week.by_owner]
    keys += [r.key for r in digest.previous.by_owner if r.key not in this]
    labels, now, before = [], [], []
    for key in keys[:MAX_OWNERS]:
        text = one_line(owner_label(key))
        labels.append(text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…")
        now.append(_measure(this.get(key), by_cost))
        before.append(_measure(last.get(key), by_cost))
    rest = keys[MAX_OWNERS:]
    if rest:
        labels.append(f"{len(rest)} others")
        now.append(sum(_measure(this.get(k), by_cost) for k in rest))
        before.append(sum(_measure(last.get(k), by_cost) for k in rest))
    return ("cost" if by_cost else "hours"), labels, now, before


def chart_figure(digest: Digest) -> Figure:
    """The chart as a matplotlib Figure (before it is saved: what the tests look at)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise ConfigError(CHARTS_EXTRA) from None

    measure, labels, now, before = chart_values(digest)
    figure = Figure(figsize=(max(6.0, 0.9 * len(labels) + 2), 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.4
    positions = list(range(len(labels)))
    left = [p - width / 2 for p in positions]
    right = [p + width / 2 for p in positions]
    axes.bar(left, before, width, label="week before", color="#b0b7c3")
    axes.bar(right, now, width, label="this week", color="#d9534f")
    axes.set_xticks(positions, labels, rotation=30, ha="right")
    for tick in axes.get_xticklabels():
        tick.set_parse_math(False)
    axes.set_ylabel("estimated cost (USD)" if measure == "cost" else "off-hours running hours")
    total = digest.week.total
    priced = "" if total.fully_priced else f", {total.priced} of {total.incidents} priced"
    axes.set_title(
        f"Off hours per owner: week of {digest.week.start:%Y-%m-%d}{priced}", parse_math=False
    )
    if labels:
        axes.legend()
    figure.tight_layout()
    return figure


def render_png(digest: Digest) -> bytes:
    """The chart as PNG bytes, without metadata (deterministic for one matplotlib)."""
    figure = chart_figure(digest)
    buffer = io.BytesIO()
    # Software (the matplotlib version) is the only metadata Agg writes by default.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
