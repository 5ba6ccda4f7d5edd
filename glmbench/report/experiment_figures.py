"""Figures of an experiment with matplotlib: the Pareto frontier (throughput per GPU against tok/s per user),
throughput against p99 TTFT per server, BFCL accuracy and tool-calling latency against load, and each server's
outputs against the reference server's. Each ``*_figure`` returns a Figure or None when the points lack the data."""

from __future__ import annotations

from typing import Any

from glmbench.experiment.analysis import ExperimentReport
from glmbench.metrics.registry import axis_label, metric
from glmbench.report.figures import Plot, pyplot

__all__ = ["pareto_figure", "curves_figure", "bfcl_figure", "outputs_figure", "experiment_plots"]

# The Pareto frontier's axes, and the curves' throughput axis: the registry's names.
_OUTPUT = metric("output_tok_s")
_TPOT = metric("tpot")


def _by_cell(report: ExperimentReport, x: str, y: str) -> dict[str, list[dict[str, Any]]]:
    """Each server's load points that have both ``x`` and ``y``, sorted by ``x``."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for p in report.points:
        if p["kind"] != "bfcl" and p.get(x) is not None and p.get(y) is not None:
            cells.setdefault(p["cell"], []).append(p)
    return {label: sorted(pts, key=lambda p: p[x]) for label, pts in cells.items()}


def _axes() -> Any:
    return pyplot().subplots(figsize=(8, 5.5))


def _finish(fig: Any, ax: Any, xlabel: str, ylabel: str, title: str) -> Any:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pareto_figure(report: ExperimentReport) -> Any:
    """Output tok/s per GPU against tok/s per user, one series per server; the frontier's points ringed (and joined
    when there are several), dominated servers hollow, points that are not ranked drawn as x."""
    placed = [p for p in report.points if p["kind"] != "bfcl" and p.get("output_tok_s_per_gpu") is not None]
    if not placed:
        return None
    ranked = [p for p in placed if p.get("on_frontier") is not None]
    unranked = [p for p in placed if p.get("on_frontier") is None]
    # A point that is not ranked is drawn where it lies when that is on the chart; a TPOT near 0 (tok/s per user
    # in the hundreds of thousands) would squash every ranked point against the axis, so it is only counted.
    right = max((p["tok_s_per_user"] for p in ranked), default=None)
    shown = [p for p in unranked if p.get("tok_s_per_user") is not None
             and (right is None or p["tok_s_per_user"] <= 1.5 * right)]
    off = len(unranked) - len(shown)
    fig, ax = _axes()
    status = {r["server"]: r.get("pareto") for r in report.servers}
    order = list(dict.fromkeys(p["cell"] for p in placed))
    for i, label in enumerate(order):
        colour = f"C{i % 10}"
        pts = sorted((p for p in ranked if p["cell"] == label), key=lambda p: p["tok_s_per_user"])
        hollow = status.get(label) == "dominated"
        if pts:
            ax.plot([p["tok_s_per_user"] for p in pts], [p["output_tok_s_per_gpu"] for p in pts], "-",
                    color=colour, alpha=0.5)
            ax.scatter([p["tok_s_per_user"] for p in pts], [p["output_tok_s_per_gpu"] for p in pts], s=40,
                       facecolors="none" if hollow else colour, edgecolors=colour,
                       label=f"{label}{' (dominated)' if hollow else ''}")
        mine = [p for p in shown if p["cell"] == label]
        if mine:
            ax.scatter([p["tok_s_per_user"] for p in mine], [p["output_tok_s_per_gpu"] for p in mine], s=50,
                       marker="x", color=colour, label=f"{label} (not ranked)")
    best = sorted((p for p in ranked if p["on_frontier"]), key=lambda p: p["tok_s_per_user"])
    if best:
        xs, ys = [p["tok_s_per_user"] for p in best], [p["output_tok_s_per_gpu"] for p in best]
        if len(best) > 1:
            ax.plot(xs, ys, "k--", lw=1)
        ax.scatter(xs, ys, s=160, facecolors="none", edgecolors="k", linewidths=1.5, label="Pareto frontier")
    if off:
        ax.plot([], [], "x", color="grey", label=f"{off} not ranked off the chart (mean TPOT near 0)")
    return _finish(fig, ax, f"{_OUTPUT.header()} per user (1000 / mean {_TPOT.title} {_TPOT.unit})",
                   f"{_OUTPUT.header()} per GPU", f"{report.name}: throughput per GPU vs interactivity")


def curves_figure(report: ExperimentReport) -> Any:
    """Output tok/s against p99 TTFT per server, over its load points."""
    cells = _by_cell(report, "output_tok_s", "ttft_ms_p99")
    if not cells:
        return None
    fig, ax = _axes()
    for i, (label, pts) in enumerate(cells.items()):
        ax.plot([p["output_tok_s"] for p in pts], [p["ttft_ms_p99"] for p in pts], "o-", color=f"C{i % 10}",
                label=label)
    saturated = [p for pts in cells.values() for p in pts if p.get("client_saturated")]
    if saturated:  # latencies the client cannot vouch for
        ax.scatter([p["output_tok_s"] for p in saturated], [p["ttft_ms_p99"] for p in saturated], s=90,
                   marker="x", color="k", zorder=3, label="client saturated (latency overstated)")
    return _finish(fig, ax, _OUTPUT.header(), axis_label("ttft_ms_p99"),
                   f"{report.name}: throughput vs latency per server")


def bfcl_figure(report: ExperimentReport) -> Any:
    """BFCL accuracy (with its 95% interval) and tool-calling latency against load, one series per server.

    The load is the cap of a concurrency ladder's points; an experiment with only rate points is drawn against
    the rate. The accuracy floor, when the experiment has one, is a dashed line.
    """
    bfcl = [p for p in report.points if p["kind"] == "bfcl" and p.get("bfcl_overall") is not None]
    by = "in_flight" if any(p.get("in_flight") is not None for p in bfcl) else "rate"
    placed = [p for p in bfcl if p.get(by) is not None]
    if not placed:
        return None
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(12, 5))
    for i, label in enumerate(dict.fromkeys(p["cell"] for p in placed)):
        pts = sorted((p for p in placed if p["cell"] == label), key=lambda p: p[by])
        xs, ys = [p[by] for p in pts], [p["bfcl_overall"] for p in pts]
        low = [y - p["bfcl_low"] if p.get("bfcl_low") is not None else 0 for y, p in zip(ys, pts)]
        high = [p["bfcl_high"] - y if p.get("bfcl_high") is not None else 0 for y, p in zip(ys, pts)]
        left.errorbar(xs, ys, yerr=[low, high], fmt="o-", capsize=3, color=f"C{i % 10}", label=label)
        timed = [p for p in pts if p.get("tool_call_ms_mean") is not None or p.get("e2e_ms_mean") is not None]
        if timed:
            right.plot([p[by] for p in timed], [p.get("tool_call_ms_mean") or p.get("e2e_ms_mean") for p in timed],
                       "o-", color=f"C{i % 10}", label=label)
    least = report.floor.get("OVERALL")
    if least is not None:
        left.axhline(least, color="k", ls="--", lw=1, label=f"accuracy floor {least:g}%")
    xlabel = "entries in flight (closed loop)" if by == "in_flight" else "entries arriving per second (Poisson)"
    _finish(fig, left, xlabel, "BFCL overall accuracy (%), 95% interval", "accuracy vs load")
    right.set_ylabel(axis_label("tool_call_ms_mean") + " (E2E where no call)")
    _finish(fig, right, xlabel, right.get_ylabel(), "tool-calling latency vs load")
    fig.suptitle(f"{report.name}: function calling under load")
    fig.tight_layout()
    return fig


def outputs_figure(report: ExperimentReport) -> Any:
    """The share of prompts whose output is the reference server's, per server and pass (alone, loaded), beside
    each server's own outputs alone against loaded; a pass gated by the suite has its required share dashed."""
    series = ("alone", "loaded", "alone vs loaded (its own)")
    bars: list[tuple[str, list[float | None], list[float | None]]] = []
    for p in report.points:
        if p["kind"] != "equivalence":
            continue
        found = p.get("outputs") or {}
        passes = {f["pass"]: f for f in found.get("passes") or []}
        if found.get("role") == "reference":
            passes = {name: {"match_rate": 1.0, "required": None} for name in ("alone", "loaded")}
        own = p.get("batch_invariance") or {}
        label = f"{p['cell']} {p['point']}" + (" (reference)" if found.get("role") == "reference" else "")
        bars.append((label, [passes.get(n, {}).get("match_rate") for n in series[:2]] + [own.get("match_rate")],
                     [passes.get(n, {}).get("required") for n in series[:2]] + [None]))
    if not any(v is not None for _, values, _ in bars for v in values):
        return None
    fig, ax = _axes()
    width = 0.8 / len(series)
    for j, name in enumerate(series):
        xs = [i + (j - 1) * width for i in range(len(bars))]
        ys = [100 * (values[j] or 0.0) for _, values, _ in bars]
        ax.bar(xs, ys, width, color=f"C{j}", label=name)
        for x, (_, _, required) in zip(xs, bars):
            least = required[j]
            if least is not None:
                ax.hlines(100 * least, x - width / 2, x + width / 2, colors="k", linestyles="--", lw=1)
    ax.set_xticks(range(len(bars)), [label for label, _, _ in bars], rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 125)  # room above the bars for the legend
    ax.set_yticks(range(0, 101, 20))
    ax.plot([], [], "k--", lw=1, label="required (the gate)")
    _finish(fig, ax, "server", "prompts whose output matches (%)",
            f"{report.name}: outputs against the reference server's")
    ax.legend(fontsize=8, loc="upper center", ncol=4)
    return fig


def experiment_plots(report: ExperimentReport) -> list[Plot]:
    """The experiment's plots (those its data allow)."""
    out = []
    for name, title, make in (("pareto", "Pareto frontier: output tok/s per GPU vs per user", pareto_figure),
                              ("curves", "Throughput vs TTFT p99 per server", curves_figure),
                              ("bfcl", "BFCL accuracy and tool-calling latency vs load", bfcl_figure),
                              ("outputs", "Outputs against the reference server's, per pass", outputs_figure)):
        fig = make(report)
        if fig is not None:
            out.append(Plot(name, title, fig))
    return out
