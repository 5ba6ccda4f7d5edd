"""Figures of per-request distributions of stored runs: latency CDFs with their tails, and the ITL and TPOT
histograms that show what speculative decoding changes.

One panel per workload, one line per run, on one x range across the panels so
that they compare at a glance; a log x where the values span a wide range. The
percentiles the tables give (p50, p90, p99) are marked on every curve, with a
repeated run's 95% intervals as error bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glmbench.metrics.registry import Metric, metric
from glmbench.metrics.repeats import interval
from glmbench.report.axes import MARKS, PERCENTILES, colors, pyplot, scale, wide
from glmbench.report.runs import ReportRun

__all__ = ["cdf_figure", "itl_tpot_figure"]


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]


def _workloads(runs: Sequence[ReportRun]) -> list[str]:
    """The workloads that have records, in the order the runs ran them."""
    order: list[str] = []
    for run in runs:
        order.extend(r.workload for r in run.records if r.workload not in order)
    return order


def _row(run: ReportRun, workload: str) -> dict[str, Any]:
    return next((r for r in run.rows if r.get("workload") == workload), {})


def _values(run: ReportRun, workload: str, spec: Metric) -> Any:
    """The metric's per-request values (ms) of one workload of a run, sorted."""
    import numpy as np

    assert spec.calc is not None, f"{spec.tag} is not a per-request distribution"
    found = spec.calc().values([r for r in run.records if r.workload == workload])
    return np.sort(np.asarray(found, dtype=float)) / 1e6


def _percentile(row: dict[str, Any], values: Any, spec: Metric, stat: str, q: float) -> float:
    """The table's figure (the row's, a repeated run's mean) where the row has it, else the values' own."""
    import numpy as np

    found = row.get(spec.key(stat))
    return float(found) if isinstance(found, (int, float)) else float(np.percentile(values, 100 * q))


def _legend(fig: Any, handles: list[Any]) -> None:
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)


def _run_handles(runs: Sequence[ReportRun], colors: list[str]) -> list[Any]:
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=colors[i % len(colors)], label=_short(r.label)) for i, r in enumerate(runs)]


def cdf_figure(runs: Sequence[ReportRun], tag: str) -> Any:
    """Per-request CDF of a distribution metric (``ttft``, ``e2e``), one column per workload, one line per run;
    below each, the tail (1 - CDF on a log axis) where p99 and beyond can be read."""
    import numpy as np
    from matplotlib.lines import Line2D


    spec = metric(tag)
    runs = [r for r in runs if r.records]
    workloads = _workloads(runs)
    data = {(i, w): _values(run, w, spec) for i, run in enumerate(runs) for w in workloads}
    if not any(len(v) for v in data.values()):
        return None
    plt = pyplot()
    palette = colors()
    fig, axes = plt.subplots(2, len(workloads), figsize=(4.2 * len(workloads) + 0.6, 6.6), squeeze=False,
                             sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    most = max(len(v) for v in data.values())
    for col, workload in enumerate(workloads):
        top, tail = axes[0][col], axes[1][col]
        for i, run in enumerate(runs):
            values, color = data[i, workload], palette[i % len(palette)]
            n = len(values)
            if not n:
                continue
            below = np.arange(1, n + 1) / n
            top.step(values, below, where="post", color=color, lw=1.4)
            tail.step(values, 1 - below, where="post", color=color, lw=1.4)  # the last point (0) is off the log axis
            row = _row(run, workload)
            for stat, q in PERCENTILES:
                x = _percentile(row, values, spec, stat, q)
                ends = interval(row, spec.key(stat))
                for ax, y in ((top, q), (tail, 1 - q)):
                    ax.plot([x], [y], MARKS[stat], color=color, mec="black", mew=0.6, ms=5.5, zorder=3, gid=stat)
                    if ends is not None:
                        ax.errorbar([x], [y], xerr=[[max(0.0, x - ends[0])], [max(0.0, ends[1] - x)]], fmt="none",
                                    ecolor=color, capsize=3, zorder=3, gid="ci")
        for stat, q in PERCENTILES:
            top.axhline(q, color="grey", lw=0.6, ls=":", gid=f"guide-{stat}")
            tail.axhline(1 - q, color="grey", lw=0.6, ls=":", gid=f"guide-{stat}")
        top.set_title(workload)
        top.set_ylim(0, 1.02)
        tail.set_yscale("log")
        tail.set_ylim(0.5 / most, 1.2)
        tail.set_xlabel(spec.label())
    for stat, q in PERCENTILES:  # the guides named once, at the right edge
        for ax, y in ((axes[0][-1], q), (axes[1][-1], 1 - q)):
            ax.text(1.01, y, stat, transform=ax.get_yaxis_transform(), fontsize=7, va="center", color="dimgrey")
    scale(axes[0][0], "x", [v for values in data.values() for v in values])
    axes[0][0].set_ylabel("fraction of requests ≤ x")
    axes[1][0].set_ylabel("fraction > x (tail, log)")
    marks = [Line2D([], [], color="grey", marker=MARKS[s], mec="black", mew=0.6, ls="", label=s) for s, _ in PERCENTILES]
    _legend(fig, _run_handles(runs, palette) + marks)
    fig.suptitle(f"{spec.title} CDF per workload, and its tail: " + ", ".join(_short(r.label, 30) for r in runs),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 0.98, 0.96))
    return fig


def _token_split(runs: Sequence[ReportRun]) -> bool:
    """Whether some chunk carried several tokens (MTP, EAGLE): then ITL per chunk and per token differ."""
    return any(k > 1 for run in runs for r in run.records for k in r.chunk_tokens)


_SHARE = {"itl": "share of chunk gaps", "itl_token": "share of tokens", "tpot": "share of requests"}


def itl_tpot_figure(runs: Sequence[ReportRun]) -> Any:
    """Histograms of ITL (per chunk gap), ITL per token (when a chunk carried several tokens) and TPOT (per
    request), one column per workload, one line per run, p50 and p99 marked: speculative decoding makes chunks
    rarer and bigger (ITL up), tokens cheaper (ITL per token and TPOT down)."""
    import numpy as np
    from matplotlib.lines import Line2D


    runs = [r for r in runs if r.records]
    workloads = _workloads(runs)
    tags = ["itl", "itl_token", "tpot"] if _token_split(runs) else ["itl", "tpot"]
    data = {(t, i, w): _values(run, w, metric(t)) for t in tags for i, run in enumerate(runs) for w in workloads}
    pooled = np.concatenate([v for v in data.values() if len(v)] or [np.zeros(0)])
    pooled = pooled[pooled > 0]
    if not len(pooled):
        return None
    # One set of bins for every panel, so the heights compare; log-spaced where the values span a wide range.
    log = wide(pooled)
    bins = np.geomspace(pooled.min(), pooled.max(), 48) if log else np.linspace(0, pooled.max(), 48)
    plt = pyplot()
    palette = colors()
    fig, axes = plt.subplots(len(tags), len(workloads), figsize=(4.2 * len(workloads) + 0.4, 2.5 * len(tags) + 1.2),
                             squeeze=False, sharex=True)
    for r, tag in enumerate(tags):
        spec = metric(tag)
        for col, workload in enumerate(workloads):
            ax = axes[r][col]
            for i, run in enumerate(runs):
                values, color = data[tag, i, workload], palette[i % len(palette)]
                if not len(values):
                    continue
                ax.hist(values, bins=bins, weights=np.full(len(values), 1 / len(values)), histtype="step",
                        color=color, lw=1.3)
                row = _row(run, workload)
                for stat, style in (("p50", "--"), ("p99", ":")):
                    x = _percentile(row, values, spec, stat, 0.5 if stat == "p50" else 0.99)
                    ax.axvline(x, color=color, ls=style, lw=1.1, gid=stat)
                    ends = interval(row, spec.key(stat))
                    if ends is not None:
                        ax.axvspan(ends[0], ends[1], color=color, alpha=0.15, lw=0, gid="ci")
            ax.set_title(f"{workload}: {spec.title}" if r == 0 or len(workloads) == 1 else spec.title, fontsize=9)
            if col == 0:
                ax.set_ylabel(_SHARE[tag])
    for ax in axes[-1]:
        ax.set_xlabel("ms" + (" (log)" if log else ""))
    scale(axes[0][0], "x", pooled)
    marks = [Line2D([], [], color="grey", ls="--", label="p50"), Line2D([], [], color="grey", ls=":", label="p99")]
    _legend(fig, _run_handles(runs, palette) + marks)
    fig.suptitle("ITL and TPOT distributions per workload (what speculative decoding changes)", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    return fig
