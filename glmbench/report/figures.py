"""Figures of stored runs with matplotlib (Agg): latency CDFs, throughput against latency, request timelines,
spec acceptance and BFCL accuracy. Each ``*_figure`` returns a Figure or None when the runs lack the data.

The figures are drawn once and shown by two formats: the plot files
(:mod:`glmbench.report.formats.plots`) and the HTML page (:mod:`glmbench.report.formats.html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glmbench.metrics.registry import metric, published
from glmbench.report.runs import ReportRun, require
from glmbench.results.schema import BFCLSummary

__all__ = ["Plot", "FILE_TYPES", "pyplot", "make_plots", "figure_bytes"]

# The file types each plot is written as, in this order.
FILE_TYPES = ("png", "svg")

KV_METRICS = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage")
RUNNING_METRICS = ("vllm:num_requests_running", "sglang:num_running_reqs")
WAITING_METRICS = ("vllm:num_requests_waiting", "sglang:num_queue_reqs")


class Plot:
    """A named figure: ``name`` is the file stem, ``title`` the caption."""

    def __init__(self, name: str, title: str, figure: Any) -> None:
        self.name, self.title, self.figure = name, title, figure


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


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]


def _workloads(runs: Sequence[ReportRun]) -> list[str]:
    order: list[str] = []
    for run in runs:
        order.extend(r["workload"] for r in run.rows if r["workload"] not in order)
    return order


def cdf_figure(runs: Sequence[ReportRun], tag: str):
    """Per-request CDF of a distribution metric (``ttft``, ``e2e``), one panel per workload, one line per run."""
    import numpy as np

    spec = metric(tag)
    assert spec.calc is not None, f"{tag} is not a per-request distribution"
    calc, name = spec.calc(), spec.title
    runs = [r for r in runs if r.records]
    workloads = _workloads(runs)
    if not workloads:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 3.8), squeeze=False)
    for ax, workload in zip(axes[0], workloads):
        for run in runs:
            values = np.sort(np.asarray(calc.values([r for r in run.records if r.workload == workload])) / 1e6)
            if len(values):
                ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=_short(run.label))
        ax.set_title(workload)
        ax.set_xlabel(spec.label())
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("fraction of requests ≤ x")
    _legend(fig, axes[0][0])
    fig.suptitle(f"{name} CDF per workload: " + ", ".join(_short(r.label, 30) for r in runs), fontsize=11)
    fig.tight_layout(rect=(0, 0.08 if len(runs) > 1 else 0.06, 1, 0.95))
    return fig


def _legend(fig, ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=9, frameon=False)


def throughput_latency_figure(runs: Sequence[ReportRun]):
    """Output tok/s against mean TTFT and mean E2E latency: colour per run, marker per workload."""
    from matplotlib.lines import Line2D

    runs = [r for r in runs if r.rows]
    if not runs:
        return None
    plt = pyplot()
    workloads = _workloads(runs)
    markers = dict(zip(workloads, "osD^vP*X"))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    output = metric("output_tok_s")
    # Against the published table's latencies (a distribution's mean under its short key).
    latencies = [(m.published_key, m.label("mean")) for m in published() if m.stats]
    fig, axes = plt.subplots(1, len(latencies), figsize=(6 * len(latencies), 4.8), squeeze=False)
    for ax, (key, name) in zip(axes[0], latencies):
        for i, run in enumerate(runs):
            color = colors[i % len(colors)]
            pts = sorted((r[output.key()], r[key], r["workload"]) for r in run.rows
                         if r.get(output.key()) is not None and r.get(key) is not None)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color=color, alpha=0.5)
            for x, y, workload in pts:
                ax.plot(x, y, markers.get(workload, "o"), color=color, markersize=8, alpha=0.85)
        ax.set_xlabel(output.label())
        ax.set_ylabel(name)
        ax.set_title(f"throughput vs {name.split(' (')[0]}")
    handles = [Line2D([], [], color=colors[i % len(colors)], label=_short(r.label)) for i, r in enumerate(runs)]
    handles += [Line2D([], [], color="grey", marker=markers[w], linestyle="", label=w) for w in workloads]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=9, frameon=False)
    fig.suptitle("Throughput against latency across workloads: " + ", ".join(_short(r.label, 30) for r in runs),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return fig


def _series(scrapes: list[dict[str, Any]], names: Sequence[str], t0: int):
    for name in names:
        pts = [((e["t_ns"] - t0) / 1e9, e["metrics"][name]) for e in scrapes if name in (e.get("metrics") or {})]
        if pts:
            return name, [p[0] for p in pts], [p[1] for p in pts]
    return None


def timeline_figure(run: ReportRun):
    """Per workload: requests in flight (client) with the server's running/waiting counts, output tok/s, and
    KV-cache use, on one time axis (seconds since the workload's first scheduled request)."""
    import numpy as np

    workloads = [w for w in _workloads([run]) if any(r.workload == w for r in run.records)]
    if not workloads:
        return None
    plt = pyplot()
    has_kv = any(name in (e.get("metrics") or {}) for e in run.server_metrics for name in KV_METRICS)
    nrows = 3 if has_kv else 2
    fig, axes = plt.subplots(nrows, len(workloads), figsize=(4.4 * len(workloads), 2.6 * nrows + 0.8),
                             squeeze=False, sharex="col")
    for col, workload in enumerate(workloads):
        recs = [r for r in run.records if r.workload == workload and r.start_ns]
        t0 = min(r.due_ns for r in recs)
        t_end = max(r.end_ns for r in recs)
        ax = axes[0][col]
        starts = sorted((r.start_ns - t0) / 1e9 for r in recs)
        ends = sorted((r.end_ns - t0) / 1e9 for r in recs)
        times = np.array(sorted(starts + ends))
        inflight = np.searchsorted(starts, times, side="right") - np.searchsorted(ends, times, side="right")
        ax.step(times, inflight, where="post", label="in flight (client)", color="tab:blue")
        scrapes = [e for e in run.server_metrics if e.get("workload", workload) == workload
                   and t0 - 1e9 <= e["t_ns"] <= t_end + 2e9]
        # Scrapes are seconds apart: markers are the readings, the thin line only guides the eye.
        for names, label, color in ((RUNNING_METRICS, "running (server scrape)", "tab:orange"),
                                    (WAITING_METRICS, "waiting (server scrape)", "tab:red")):
            found = _series(scrapes, names, t0)
            if found:
                ax.plot(found[1], found[2], "o-", label=label, color=color, markersize=5, linewidth=0.8, alpha=0.8)
        ax.set_title(workload)
        ax.set_ylabel("requests" if col == 0 else "")
        ax.legend(fontsize=7, loc="upper right")

        span = max((t_end - t0) / 1e9, 1e-3)
        width = max(span / 60, 0.25)
        bins = np.arange(0, span + width, width)
        stamps: list[float] = []
        tokens: list[int] = []
        for r in recs:
            if not r.ok:
                continue
            stamps.extend((t - t0) / 1e9 for t in r.chunk_ns)
            tokens.extend(r.chunk_tokens if len(r.chunk_tokens) == len(r.chunk_ns) else [1] * len(r.chunk_ns))
        hist, edges = np.histogram(stamps, bins=bins, weights=tokens)
        axes[1][col].step(edges[:-1], hist / width, where="post", color="tab:green")
        axes[1][col].set_ylabel(metric("output_tok_s").header() if col == 0 else "")
        if has_kv:
            found = _series(scrapes, KV_METRICS, t0)
            if found:
                scale = 100 if max(found[2], default=0) <= 1.0 else 1
                axes[2][col].plot(found[1], [v * scale for v in found[2]], "o-", color="tab:purple", markersize=4)
                axes[2][col].set_title(found[0], fontsize=8)
            axes[2][col].set_ylabel("KV cache used (%)" if col == 0 else "")
        axes[-1][col].set_xlabel("time since first scheduled request (s)")
    fig.suptitle(f"Request timeline: {run.label}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def _grouped_bars(groups: list[str], series: dict[str, list[float | None]], ylabel: str, title: str):
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) * max(1, len(series)) ** 0.5 + 2), 4.5))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        vals = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=_short(label))
        ax.bar_label(bars, fmt="%.2f" if max((v for v in vals if not np.isnan(v)), default=0) < 10 else "%.1f", fontsize=7)
    ax.set_xticks(x, groups, rotation=20 if len(groups) > 5 else 0, ha="right" if len(groups) > 5 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=min(3, len(series)), frameon=False)
    fig.tight_layout()
    return fig


def spec_figure(runs: Sequence[ReportRun]):
    """Mean acceptance length per workload per run (only runs whose server reported spec decoding)."""
    runs = [r for r in runs if any(row.get("spec_accept_length") is not None for row in r.rows)]
    if not runs:
        return None
    workloads = _workloads(runs)
    series = {r.label: [next((row.get("spec_accept_length") for row in r.rows if row["workload"] == w), None)
                        for w in workloads] for r in runs}
    return _grouped_bars(workloads, series, metric("spec_accept_length").label("mean"),
                         "Speculative decoding acceptance per workload")


def bfcl_figure(runs: Sequence[ReportRun]):
    """Accuracy per category (primary rules of the first BFCL run), one bar per run."""
    summaries = [(r.label, r.summary) for r in runs if isinstance(r.summary, BFCLSummary)]
    if not summaries:
        return None
    rules = summaries[0][1].primary
    cats: list[str] = []
    for _, summary in summaries:
        cats.extend(row["category"] for row in summary.tables.get(rules, []) if row["category"] not in cats)
    # The published table's order, then other categories, then the summary rows (upper case) last.
    from glmbench.bfcl.categories import PUBLISHED_ORDER

    order = {c: i for i, c in enumerate(PUBLISHED_ORDER)}
    cats.sort(key=lambda c: (c.isupper(), order.get(c, len(order)), c))
    series: dict[str, list[float | None]] = {}
    for label, summary in summaries:
        by_cat = {row["category"]: row for row in summary.tables.get(rules, [])}
        series[label] = [by_cat[c].get("accuracy") if c in by_cat and by_cat[c].get("scored", True) is not False
                           else None for c in cats]
    fig = _grouped_bars(cats, series, "accuracy (%)", f"BFCL accuracy per category ({rules} rules)")
    fig.axes[0].set_ylim(0, 110)
    return fig


def make_plots(runs: Sequence[ReportRun]) -> list[Plot]:
    """Every plot the runs have data for, in reading order."""
    plots = []
    for name, title, make in (
        ("ttft_cdf", f"{metric('ttft').title} CDF per workload", lambda: cdf_figure(runs, "ttft")),
        ("e2e_cdf", f"{metric('e2e').title} CDF per workload", lambda: cdf_figure(runs, "e2e")),
        ("throughput_latency", "Throughput against latency", lambda: throughput_latency_figure(runs)),
        ("spec_acceptance", "Speculative decoding acceptance", lambda: spec_figure(runs)),
        ("bfcl_accuracy", "BFCL accuracy per category", lambda: bfcl_figure(runs)),
    ):
        fig = make()
        if fig is not None:
            plots.append(Plot(name, title, fig))
    for i, run in enumerate(runs):
        fig = timeline_figure(run) if run.records else None
        if fig is not None:
            plots.append(Plot(f"timeline_{i + 1}", f"Request timeline: {run.label}", fig))
    return plots


def figure_bytes(plot: Plot, fmt: str) -> bytes:
    """The plot as a file of type ``fmt`` (one of :data:`FILE_TYPES`), with no date or tool version in it."""
    import io

    buf = io.BytesIO()
    plot.figure.savefig(buf, format=fmt, dpi=110 if fmt == "png" else None, metadata=_metadata(fmt))
    return buf.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    # No dates or tool versions in the files: the same runs render to the same bytes.
    return {"Date": None} if fmt == "svg" else {"Software": None}
