"""matplotlib set up for glmbench's plots, and what every plot does to its axes, so that the run and experiment
figures read alike:

- a log scale where the values span a wide range (:data:`WIDE`), otherwise a
  linear one that starts at zero: a truncated axis makes a 10% change look
  like a doubling;
- the percentiles marked on distributions (:data:`PERCENTILES`);
- error bars from a repeated result's 95% intervals (``{key}_ci``, see
  :mod:`glmbench.metrics.repeats`), wherever a row has them;
- SLO lines and point labels (``c8``, ``r20``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from glmbench.metrics.repeats import interval
from glmbench.report.runs import require

__all__ = ["pyplot", "colors", "quiet", "WIDE", "PERCENTILES", "MARKS", "wide", "scale", "error_bars", "slo_line",
           "PointLabels"]

WIDE = 20.0
"""Largest over smallest value at or above which an axis is drawn on a log scale."""

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))
"""The percentiles marked on a distribution: (statistic, quantile)."""

MARKS = {"p50": "o", "p90": "s", "p99": "D"}
"""The marker of each percentile, the same on every plot."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, set up so that the same figures give the same bytes."""
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Text as glyph paths keeps SVGs self-contained and free of fonts the viewer may lack; a fixed salt
    # for the SVG's element ids makes the same results give the same bytes (reports can be diffed).
    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "glmbench", "figure.dpi": 100,
                         "axes.grid": True, "grid.alpha": 0.3})
    return plt


def colors() -> list[str]:
    """The colour of each run or server, in order (matplotlib's default cycle)."""
    return list(pyplot().rcParams["axes.prop_cycle"].by_key()["color"])


@contextmanager
def quiet() -> Iterator[None]:
    """Drawing and saving figures with matplotlib's warnings (its ``warnings`` and its logger's) kept off stderr:
    a glyph a font lacks or a layout that does not quite fit is no news for the person who asked for a report."""
    import logging
    import warnings

    logger = logging.getLogger("matplotlib")
    level = logger.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


def _positive(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0]


def wide(values: Iterable[Any]) -> bool:
    """Whether the positive values span a factor of :data:`WIDE` or more."""
    found = _positive(values)
    return bool(found) and max(found) >= WIDE * min(found)


def scale(ax: Any, axis: str, values: Iterable[Any], zero: bool = True) -> bool:
    """Set ``ax``'s ``x`` or ``y`` axis to log when ``values`` span a wide range, else linear from zero (when
    ``zero``); returns whether it is a log axis. Values that are not positive are masked on a log axis."""
    values = list(values)
    if wide(values):
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        (ax.set_xscale if axis == "x" else ax.set_yscale)("log", nonpositive="mask")
        # Plain numbers (5, 50, 500, 5k ms) read faster than powers of ten; the minor ticks stay unlabelled. Over
        # less than two decades, 1-2-5 steps, so that there are ticks to read at all.
        found, positive = ax.xaxis if axis == "x" else ax.yaxis, _positive(values)
        if max(positive) < 100 * min(positive):
            found.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        found.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))
        found.set_minor_formatter(NullFormatter())
        return True
    if zero:
        (ax.set_xlim if axis == "x" else ax.set_ylim)(0, None)
    return False


def error_bars(rows: Sequence[dict[str, Any]], key: str) -> list[list[float]] | None:
    """``[below, above]`` distances of each row's ``key`` to the ends of its 95% interval (0 where a row has
    none), as matplotlib's ``xerr``/``yerr`` take them; None when no row has an interval."""
    found = [interval(r, key) for r in rows]
    if not any(found):
        return None
    below, above = [], []
    for row, ends in zip(rows, found):
        value = row.get(key)
        if ends is None or not isinstance(value, (int, float)):
            below.append(0.0)
            above.append(0.0)
        else:
            below.append(max(0.0, value - ends[0]))
            above.append(max(0.0, ends[1] - value))
    return [below, above]


def slo_line(ax: Any, value: float, text: str) -> None:
    """A horizontal SLO line at ``value``, in the legend as ``text``."""
    ax.axhline(value, color="crimson", ls="--", lw=1.2, label=text, gid="slo", zorder=1)


class PointLabels:
    """Point names (``c8``, ``r20``) to write beside their points once the figure is laid out: each takes the first
    free place around its point inside its axes, and one that would cover another label or leave the axes is left
    out (its point stays drawn)."""

    # Offsets (points) tried in turn: right above, right below, left above, left below, further up, further down.
    _PLACES = ((4, 3), (4, -10), (-4, 3), (-4, -10), (4, 11), (4, -18))

    def __init__(self) -> None:
        self._pending: list[tuple[Any, float, float, str, Any]] = []

    def add(self, ax: Any, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], color: Any) -> None:
        """Name each point (``xs[i]``, ``ys[i]``) of ``ax`` ``labels[i]``, in ``color``."""
        self._pending += [(ax, x, y, text, color) for x, y, text in zip(xs, ys, labels)]

    def place(self, fig: Any) -> int:
        """Write the labels that fit, in the order added; returns how many were left out."""
        renderer = fig.canvas.get_renderer()
        taken: list[Any] = []
        left_out = 0
        for ax, x, y, text, color in self._pending:
            note = ax.annotate(text, (x, y), xytext=self._PLACES[0], textcoords="offset points", fontsize=7,
                               color=color, gid="point-label", annotation_clip=True)
            for dx, dy in self._PLACES:
                note.set_position((dx, dy))
                note.set_horizontalalignment("left" if dx > 0 else "right")
                box = note.get_window_extent(renderer)
                inside = ax.get_window_extent(renderer)
                if inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1 \
                        and not any(box.overlaps(other) for other in taken):
                    taken.append(box)
                    break
            else:
                note.remove()
                left_out += 1
        self._pending = []
        return left_out
