"""Figures of stored runs with matplotlib (Agg): latency CDFs and tails, ITL and TPOT distributions, throughput
against latency, request timelines, spec acceptance and BFCL accuracy. Each ``*_figure`` returns a Figure or None
when the runs lack the data.

The figures are drawn once and shown by two formats: the plot files
(:mod:`glmbench.report.formats.plots`) and the HTML page (:mod:`glmbench.report.formats.html`).
Drawing and saving happen under :func:`quiet`: matplotlib's warnings never reach
stderr, where they would read as glmbench's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glmbench.metrics.registry import metric
from glmbench.metrics.repeats import interval
from glmbench.report.axes import colors, error_bars, pyplot, quiet, scale
from glmbench.report.distribution_figures import cdf_figure, itl_tpot_figure
from glmbench.report.runs import ReportRun
from glmbench.results.schema import BFCLSummary
from glmbench.util.proportion import wilson_interval

__all__ = ["Plot", "FILE_TYPES", "pyplot", "colors", "quiet", "make_plots", "figure_bytes", "cdf_figure",
           "itl_tpot_figure", "throughput_latency_figure", "timeline_figure", "spec_figure", "bfcl_figure",
           "draft_tokens", "bfcl_interval"]

# The file types each plot is written as, in this order.
FILE_TYPES = ("png", "svg")

KV_METRICS = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage")
RUNNING_METRICS = ("vllm:num_requests_running", "sglang:num_running_reqs")
WAITING_METRICS = ("vllm:num_requests_waiting", "sglang:num_queue_reqs")


class Plot:
    """A named figure: ``name`` is the file stem, ``title`` the caption."""

    def __init__(self, name: str, title: str, figure: Any) -> None:
        self.name, self.title, self.figure = name, title, figure


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]


def _workloads(runs: Sequence[ReportRun]) -> list[str]:
    order: list[str] = []
    for run in runs:
        order.extend(r["workload"] for r in run.rows if r["workload"] not in order)
    return order


# The latencies drawn against throughput: first token, each token after it, the whole request.
_LATENCIES = ("ttft", "tpot", "e2e")
_MARKERS = "osD^vP*X"


def throughput_latency_figure(runs: Sequence[ReportRun]) -> Any:
    """Output tok/s against TTFT, TPOT and E2E latency, p50 (filled) and p99 (hollow) joined by a thin line:
    colour per run, marker per workload. The workloads of a suite are different loads, not a ladder, so no line
    joins them; a repeated run's 95% intervals are error bars."""
    from matplotlib.lines import Line2D

    output = metric("output_tok_s")
    runs = [r for r in runs if any(row.get(output.key()) is not None for row in r.rows)]
    if not runs:
        return None
    plt = pyplot()
    palette, workloads = colors(), _workloads(runs)
    markers = {w: _MARKERS[i % len(_MARKERS)] for i, w in enumerate(workloads)}
    fig, axes = plt.subplots(1, len(_LATENCIES), figsize=(5.4 * len(_LATENCIES), 4.9), squeeze=False)
    for ax, tag in zip(axes[0], _LATENCIES):
        spec = metric(tag)
        xs_all: list[float] = []
        ys_all: list[float] = []
        for i, run in enumerate(runs):
            color = palette[i % len(palette)]
            for row in run.rows:
                x = row.get(output.key())
                if x is None or row.get(spec.key("p50")) is None:
                    continue
                ys = {s: row.get(spec.key(s)) for s in ("p50", "p99")}
                ax.plot([x, x], [ys["p50"], ys["p99"] or ys["p50"]], "-", color=color, lw=0.8, alpha=0.6)
                for stat, face in (("p50", color), ("p99", "white")):
                    y = ys[stat]
                    if y is None:
                        continue
                    ax.plot([x], [y], markers[row["workload"]], color=color, mfc=face, ms=8, gid=stat)
                    xerr, yerr = error_bars([row], output.key()), error_bars([row], spec.key(stat))
                    if xerr or yerr:
                        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="none", ecolor=color, capsize=3, gid="ci")
                    ys_all.append(y)
                xs_all.append(x)
        scale(ax, "x", xs_all)
        scale(ax, "y", ys_all)
        ax.set_xlabel(output.label())
        ax.set_ylabel(f"{spec.title} ({spec.unit})")
        ax.set_title(f"throughput vs {spec.title}")
    handles = [Line2D([], [], color=palette[i % len(palette)], label=_short(r.label)) for i, r in enumerate(runs)]
    handles += [Line2D([], [], color="grey", marker=markers[w], linestyle="", label=w) for w in workloads]
    handles += [Line2D([], [], color="grey", marker="o", linestyle="", label="filled: p50"),
                Line2D([], [], color="grey", marker="o", mfc="white", linestyle="", label="hollow: p99")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=9, frameon=False)
    fig.suptitle("Throughput against latency per workload, p50 (filled) to p99 (hollow): "
                 + ", ".join(_short(r.label, 30) for r in runs), fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
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


def _grouped_bars(groups: list[str], series: dict[str, list[float | None]], ylabel: str, title: str,
                  errors: dict[str, list[tuple[float, float] | None]] | None = None,
                  texts: dict[str, list[str | None]] | None = None) -> Any:
    """Bars per group, one per series; ``errors`` puts each bar's interval (low, high) as an error bar, ``texts``
    writes a text above each bar (its value when not given)."""
    import numpy as np

    plt = pyplot()
    # Wide enough for the bars' labels, never wider than a page.
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.0, 0.9 * len(groups) * max(1, len(series)) ** 0.5 + 2)), 5.0))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        vals = np.array([np.nan if v is None else v for v in values], dtype=float)
        where = x + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(where, vals, width, label=_short(label))
        ends = (errors or {}).get(label)
        tops = vals
        if ends and any(e is not None for e in ends):
            below = [0.0 if e is None or np.isnan(v) else v - e[0] for v, e in zip(vals, ends)]
            above = [0.0 if e is None or np.isnan(v) else e[1] - v for v, e in zip(vals, ends)]
            ax.errorbar(where, vals, yerr=[below, above], fmt="none", ecolor="black", capsize=3, lw=1, gid="ci")
            tops = vals + np.array(above)
        words = (texts or {}).get(label)
        if words is None:
            ax.bar_label(bars, fmt="%.2f" if np.nanmax(np.append(vals, 0)) < 10 else "%.1f", fontsize=7)
        else:
            for xi, top, word in zip(where, tops, words):
                if word and not np.isnan(top):
                    ax.annotate(word, (xi, top), xytext=(0, 2), textcoords="offset points", ha="center",
                                va="bottom", fontsize=6.5, rotation=90 if len(groups) * len(series) > 12 else 0)
    ax.set_xticks(x, groups, rotation=20 if len(groups) > 5 else 0, ha="right" if len(groups) > 5 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=min(3, len(series)), frameon=False)
    fig.tight_layout()
    return fig


def draft_tokens(run: ReportRun) -> int | None:
    """Tokens one speculative step of the run's server drafts (k), from its manifest's config and its backend's
    own reading of it; None when the run does not say (an endpoint, an old manifest, no speculation)."""
    from pydantic import ValidationError

    from glmbench.backends.config import BackendConfig
    from glmbench.backends.registry import backends
    from glmbench.errors import GlmbenchError

    manifest = run.manifest
    backend = backends().get(manifest.backend.name) if manifest is not None else None
    if manifest is None or backend is None or not manifest.backend.config:
        return None
    try:
        return backend.draft_tokens(BackendConfig.model_validate(manifest.backend.config))
    except (GlmbenchError, ValidationError, TypeError, ValueError):
        return None


def spec_figure(runs: Sequence[ReportRun]) -> Any:
    """Mean acceptance length per workload per run (only runs whose server reported spec decoding), beside the
    most a step can give: k + 1 tokens with k draft tokens (and 1, nothing accepted)."""
    key = metric("spec_accept_length").key()
    runs = [r for r in runs if any(row.get(key) is not None for row in r.rows)]
    if not runs:
        return None
    workloads = _workloads(runs)
    rows = {r.label: [next((row for row in r.rows if row["workload"] == w), {}) for w in workloads] for r in runs}
    series = {label: [row.get(key) for row in found] for label, found in rows.items()}
    errors = {label: [interval(row, key) for row in found] for label, found in rows.items()}
    # Where each figure came from: the server's own counters, a gauge or a histogram differ in what they average.
    sources = list(dict.fromkeys(str(row["spec_source"]) for found in rows.values() for row in found
                                 if row.get("spec_source")))
    fig = _grouped_bars(workloads, series, metric("spec_accept_length").label("mean"),
                        "Speculative decoding: mean acceptance length per workload"
                        + (f"\nfrom {'; '.join(sources)}" if sources else ""), errors=errors)
    ax = fig.axes[0]
    ax.axhline(1.0, color="grey", lw=0.8, ls=":", label="1: no draft token accepted")
    limits = {draft_tokens(r) for r in runs}
    palette = colors()
    known = [k for k in limits if k is not None]
    if len(limits) == 1 and known:
        [k] = known
        ax.axhline(k + 1, color="black", ls="--", lw=1.2, gid="k+1",
                   label=f"k + 1 = {k + 1}: the most a step gives with k = {k} draft tokens")
    else:
        width = 0.8 / len(runs)
        for i, run in enumerate(runs):
            drafts = draft_tokens(run)
            if drafts is None:
                continue
            offset = (i - (len(runs) - 1) / 2) * width
            for j in range(len(workloads)):
                ax.hlines(drafts + 1, j + offset - width / 2, j + offset + width / 2, colors=palette[i % len(palette)],
                          linestyles="--", lw=1.5, gid="k+1", label=f"{_short(run.label, 30)}: k + 1 = {drafts + 1}"
                          if j == 0 else None)
    ax.set_ylim(0, max([k + 1 for k in known] + [v for s in series.values() for v in s if v],
                       default=1) * 1.15)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def bfcl_interval(row: dict[str, Any]) -> tuple[float, float] | None:
    """The 95% Wilson interval (percent) of a BFCL row's accuracy: the summary's own, else worked out from
    ``correct`` of ``total`` for a summary written before it had them; None where the accuracy is not that share
    (a mean of categories, a category not scored)."""
    if row.get("accuracy_low") is not None and row.get("accuracy_high") is not None:
        return float(row["accuracy_low"]), float(row["accuracy_high"])
    correct, total, accuracy = row.get("correct"), row.get("total"), row.get("accuracy")
    if "accuracy_low" in row or accuracy is None or not isinstance(correct, int) or not isinstance(total, int) \
            or total <= 0 or abs(accuracy - 100 * correct / total) > 0.01:  # published to two decimals
        return None
    low, high = wilson_interval(correct, total)
    return 100 * low, 100 * high


def bfcl_figure(runs: Sequence[ReportRun]) -> Any:
    """Accuracy per category (primary rules of the first BFCL run), one bar per run, with its 95% Wilson interval
    and its entries passed of entries run above it (3/3 is not 100% sure)."""
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
    errors: dict[str, list[tuple[float, float] | None]] = {}
    texts: dict[str, list[str | None]] = {}
    for label, summary in summaries:
        by_cat = {row["category"]: row for row in summary.tables.get(rules, [])}
        found = [by_cat[c] if c in by_cat and by_cat[c].get("scored", True) is not False else {} for c in cats]
        series[label] = [row.get("accuracy") for row in found]
        errors[label] = [bfcl_interval(row) for row in found]
        texts[label] = [f"{row['correct']}/{row['total']}" if row.get("total") is not None
                        and row.get("correct") is not None else None for row in found]
    fig = _grouped_bars(cats, series, "accuracy (%), 95% Wilson interval", f"BFCL accuracy per category "
                        f"({rules} rules): entries passed / run above each bar", errors=errors, texts=texts)
    fig.axes[0].set_ylim(0, 118)  # room for the counts above a full bar
    fig.axes[0].set_yticks(range(0, 101, 20))
    return fig


def make_plots(runs: Sequence[ReportRun]) -> list[Plot]:
    """Every plot the runs have data for, in reading order (matplotlib's warnings kept quiet)."""
    plots = []
    with quiet():
        for name, title, make in (
            ("ttft_cdf", f"{metric('ttft').title} CDF per workload, and its tail", lambda: cdf_figure(runs, "ttft")),
            ("e2e_cdf", f"{metric('e2e').title} CDF per workload, and its tail", lambda: cdf_figure(runs, "e2e")),
            ("itl_tpot", "ITL and TPOT distributions per workload", lambda: itl_tpot_figure(runs)),
            ("throughput_latency", "Throughput against latency (p50, p99)", lambda: throughput_latency_figure(runs)),
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
    with quiet():
        plot.figure.savefig(buf, format=fmt, dpi=110 if fmt == "png" else None, metadata=_metadata(fmt))
    return buf.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    # No dates or tool versions in the files: the same runs render to the same bytes.
    return {"Date": None} if fmt == "svg" else {"Software": None}
