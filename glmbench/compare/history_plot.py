"""The trend of :func:`glmbench.compare.history.history` as a plot: one line per configuration and load point.

A results folder of a few months holds dozens of series; a legend of all of
them would cover the plot. The plot names the :data:`MAX_SERIES` - 1 series with
the most runs (the latest first among equals) in a legend beside the axes, draws
the others thin and grey, and says how many those are. A repeated run's point
carries its 95% interval as an error bar; a run whose workload differs from its
series' first run's is ringed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from glmbench.compare.history import HistoryPoint
from glmbench.errors import GlmbenchError
from glmbench.metrics.registry import axis_label

__all__ = ["MAX_SERIES", "history_figure", "plot_history", "series_labels"]

MAX_SERIES = 10
"""The most entries the legend has: past that, the series with fewest runs are drawn grey and counted in one."""

# A legend entry longer than this is cut: a long label squeezes the axes to nothing.
_LABEL_CHARS = 48


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:max(chars, 2) - 1] + "…"


def series_labels(points: list[HistoryPoint]) -> dict[tuple[str, str], str]:
    """Each series' legend entry: its configuration (with the backend when the name does not say it) and, when the
    series are at more than one load point, the point."""
    series = {p.series: p for p in reversed(points)}  # the first point of each
    several_points = len({point for _, point in series}) > 1
    out = {}
    for (config, point), first in series.items():
        name = config if config == first.backend else f"{config} ({first.backend})"
        # The point is what tells apart a configuration's lines: the name is what gets cut.
        out[config, point] = (f"{_cut(name, _LABEL_CHARS - len(point) - 3)} · {point}" if several_points
                              else _cut(name, _LABEL_CHARS))
    return out


def _ranked(points: list[HistoryPoint]) -> list[tuple[str, str]]:
    """The series, most runs first, then the latest run first."""
    runs: dict[tuple[str, str], int] = {}
    latest: dict[tuple[str, str], str] = {}
    for p in points:
        runs[p.series] = runs.get(p.series, 0) + 1
        latest[p.series] = max(latest.get(p.series, ""), p.started_at)
    return sorted(runs, key=lambda s: (-runs[s], _desc(latest[s])))


def _desc(text: str) -> tuple[int, ...]:
    """A key that sorts ``text`` descending."""
    return tuple(-ord(c) for c in text)


def _draw(ax: Any, mine: list[HistoryPoint], **style: Any) -> Any:
    """One series, error bars where its points are repeated runs with an interval; its legend handle."""
    # matplotlib's date converter takes datetimes; its stubs type plot's x as arrays only.
    xs: Any = [datetime.fromisoformat(p.started_at) for p in mine]
    ys = [p.value for p in mine]
    if any(p.ci for p in mine):
        low = [max(0.0, p.value - p.ci[0]) if p.ci else 0.0 for p in mine]
        high = [max(0.0, p.ci[1] - p.value) if p.ci else 0.0 for p in mine]
        return ax.errorbar(xs, ys, yerr=[low, high], capsize=3, **style)
    return ax.plot(xs, ys, **style)[0]


def plot_history(points: list[HistoryPoint], metric: str, workload: str, out: Path) -> Path:
    """A PNG (or SVG, by the suffix) of :func:`history_figure`."""
    fig = history_figure(points, metric, workload)  # (says how to install matplotlib when it is missing)
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    # Tight: the legend outside the axes is part of the image, never cut at its edge.
    fig.savefig(out, dpi=120, bbox_inches="tight", pad_inches=0.1)
    plt.close(fig)
    return out


def history_figure(points: list[HistoryPoint], metric: str, workload: str) -> Any:
    """The metric per run in time order, one line per configuration and point, at most :data:`MAX_SERIES` legend
    entries, the legend outside the axes (a matplotlib Figure; the caller closes it)."""
    try:
        import matplotlib
    except ImportError:
        raise GlmbenchError("plots need matplotlib", "pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    ranked = _ranked(points)
    named = ranked if len(ranked) <= MAX_SERIES else ranked[:MAX_SERIES - 1]
    labels = series_labels(points)
    fig, ax = plt.subplots(figsize=(11, 4.5), layout="constrained")
    for series in reversed(ranked[len(named):]):
        _draw(ax, [p for p in points if p.series == series], color="0.75", linewidth=0.8, marker=".", zorder=1)
    handles, names = [], []
    for series in sorted(named, key=lambda s: labels[s]):
        handles.append(_draw(ax, [p for p in points if p.series == series], marker="o", zorder=2))
        names.append(labels[series])
    others = len(ranked) - len(named)
    if others:
        handles += ax.plot([], [], color="0.75", marker=".")
        names.append(f"{others} more series (fewer runs), grey")
    differ = [p for p in points if p.differs]
    if differ:  # ringed: a value not like for like with its series' start
        xs: Any = [datetime.fromisoformat(p.started_at) for p in differ]
        handles.append(ax.scatter(xs, [p.value for p in differ], s=160, facecolors="none", edgecolors="crimson",
                                  linewidths=1.5, zorder=3))
        names.append("workload differs from the series' first run")
    repeated = any(p.ci for p in points)
    ax.set_title(f"{metric}, {workload}: {len(points)} runs" + (" (repeated runs: mean, 95% CI)" if repeated else ""))
    # The registry's name and unit (``TTFT p99 (ms)``); the title keeps the key the user asked for.
    ax.set_ylabel(axis_label(metric))
    ax.set_xlabel("run started (UTC)")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    # Concise, but a tick between minutes reads 13:36:30, not a bare "30"; the date is in the offset.
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
        locator, formats=["%Y", "%b", "%d", "%H:%M", "%H:%M", "%H:%M:%S"],
        zero_formats=["", "%Y", "%b", "%b-%d", "%H:%M", "%H:%M:%S"]))
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0)
    # Beside the axes, with room between it and the image's edge (the default pad left it flush there).
    fig.legend(handles, names, loc="outside right upper", fontsize="small", borderaxespad=1.5)
    return fig
