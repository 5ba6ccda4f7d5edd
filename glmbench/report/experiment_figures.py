"""Figures of an experiment with matplotlib: the Pareto frontier (throughput per GPU, or per server where no GPU
served, against tok/s per user), throughput against TTFT and TPOT (p50, p99) per server and ladder, BFCL accuracy
and tool-calling latency against load, and each server's outputs against the reference server's. Each
``*_figure`` returns a Figure or None when the points lack the data."""

from __future__ import annotations

from typing import Any

from glmbench.experiment.analysis import ExperimentReport
from glmbench.metrics.client import client_overloaded, load_not_held
from glmbench.metrics.registry import axis_label, metric
from glmbench.metrics.repeats import interval
from glmbench.report.axes import PointLabels, error_bars, pyplot, quiet, scale, slo_line
from glmbench.report.figures import Plot

__all__ = ["pareto_figure", "curves_figure", "bfcl_figure", "outputs_figure", "experiment_plots", "hardware_unit",
           "ladders", "load_order"]

# The Pareto frontier's axes, and the curves' throughput axis: the registry's names.
_OUTPUT = metric("output_tok_s")
_TPOT = metric("tpot")


# How a ladder's or a search's points are drawn (marker, line); a point of no ladder stands alone, unjoined.
_LADDERS = {"concurrency": ("o", "-"), "rate": ("s", "--"), "capacity": ("^", ":"), "sweep": ("D", "-.")}
_ALONE = ("*", "")
_SUITES = ("bfcl", "equivalence")


def _load_points(report: ExperimentReport, *keys: str) -> list[dict[str, Any]]:
    """The load points (no suite's) that have every one of ``keys``."""
    return [p for p in report.points if p["kind"] not in _SUITES and all(p.get(k) is not None for k in keys)]


def load_order(point: dict[str, Any]) -> tuple[int, float, str]:
    """Where a point's load sits among its ladder's: closed loops by their cap, then arrival rates by rate, then all
    at once (a sweep runs from one request at a time to all at once)."""
    cap, rate = point.get("in_flight"), point.get("rate")
    if rate is not None:
        return 1, float(rate), point["point"]
    if cap is not None:
        return 0, float(cap), point["point"]
    return 2, 0.0, point["point"]


def ladders(points: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """Each server's points split into its ladders and searches, each in load order (never by a measured value);
    a point of no ladder is a series of its own."""
    out: list[tuple[str | None, list[dict[str, Any]]]] = []
    for cell in dict.fromkeys(p["cell"] for p in points):
        mine = [p for p in points if p["cell"] == cell]
        for ladder in dict.fromkeys(p.get("ladder") for p in mine):
            found = [p for p in mine if p.get("ladder") == ladder]
            if ladder is None:
                out += [(None, [p]) for p in found]
            else:
                out.append((ladder, sorted(found, key=load_order)))
    return out


def hardware_unit(points: list[dict[str, Any]]) -> str:
    """What throughput is divided by, in words that are true of the hardware that served the points: ``per GPU``
    only where every point ran on GPUs; a simulator, a CPU server or an endpoint is counted per server."""
    found = list(dict.fromkeys(p.get("hardware") for p in points))
    if found in ([], ["gpu"]):
        return "per GPU"
    words = {"simulator": "simulator, no GPU", "cpu": "CPU, no GPU", "endpoint": "external endpoint, GPUs unknown",
             None: "hardware not recorded"}
    others = ", ".join(words.get(h, str(h)) for h in found if h != "gpu")
    return f"per GPU, per server where not on GPUs ({others})" if "gpu" in found else f"per server ({others})"


def _series_name(ladder: str | None) -> str:
    """A ladder's or a search's name in a legend."""
    return f"{ladder} ladder" if ladder in ("concurrency", "rate") else f"{ladder} search" if ladder else "point of its own"


def _colours(report: ExperimentReport) -> dict[str, str]:
    return {cell: f"C{i % 10}" for i, cell in enumerate(dict.fromkeys(p["cell"] for p in report.points))}


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


def _pareto_errors(points: list[dict[str, Any]]) -> tuple[Any, Any]:
    """Error bars of tok/s per user and per GPU from a repeated point's intervals of mean TPOT and output tok/s."""
    per_user, per_gpu = [], []
    for p in points:
        tpot, out = interval(p, "tpot_ms_mean"), interval(p, "output_tok_s")
        x, y = p["tok_s_per_user"], p["output_tok_s_per_gpu"]
        per_user.append((x - 1000 / tpot[1], 1000 / tpot[0] - x) if tpot and tpot[0] > 0 else (0.0, 0.0))
        gpus = p.get("gpus") or 1
        per_gpu.append((y - out[0] / gpus, out[1] / gpus - y) if out else (0.0, 0.0))
    has = any(e != (0.0, 0.0) for e in per_user + per_gpu)
    return ([[max(0.0, e[0]) for e in per_user], [max(0.0, e[1]) for e in per_user]] if has else None,
            [[max(0.0, e[0]) for e in per_gpu], [max(0.0, e[1]) for e in per_gpu]] if has else None)


def pareto_figure(report: ExperimentReport) -> Any:
    """Output tok/s per GPU (per server where no GPU served) against tok/s per user, one colour per server, its
    ladders joined in load order and labelled; the frontier's points ringed (and joined when there are several),
    dominated servers hollow, points that are not ranked drawn as x."""
    placed = _load_points(report, "output_tok_s_per_gpu")
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
    colour = _colours(report)
    named: set[str] = set()
    labels = PointLabels()
    for ladder, pts in ladders(ranked):
        label = pts[0]["cell"]
        hollow = status.get(label) == "dominated"
        marker, style = _LADDERS.get(ladder or "", _ALONE)
        xs, ys = [p["tok_s_per_user"] for p in pts], [p["output_tok_s_per_gpu"] for p in pts]
        if style and len(pts) > 1:
            ax.plot(xs, ys, style, color=colour[label], alpha=0.5)
        ax.scatter(xs, ys, s=40, marker=marker, facecolors="none" if hollow else colour[label],
                   edgecolors=colour[label], label=None if label in named else f"{label}{' (dominated)' if hollow else ''}")
        xerr, yerr = _pareto_errors(pts)
        if xerr or yerr:
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="none", ecolor=colour[label], capsize=3, gid="ci")
        labels.add(ax, xs, ys, [p["point"] for p in pts], colour[label])
        named.add(label)
    for label in dict.fromkeys(p["cell"] for p in shown):
        mine = [p for p in shown if p["cell"] == label]
        xs, ys = [p["tok_s_per_user"] for p in mine], [p["output_tok_s_per_gpu"] for p in mine]
        ax.scatter(xs, ys, s=50, marker="x", color=colour[label], label=f"{label} (not ranked)")
        labels.add(ax, xs, ys, [p["point"] for p in mine], colour[label])
    best = sorted((p for p in ranked if p["on_frontier"]), key=lambda p: p["tok_s_per_user"])
    if best:
        xs, ys = [p["tok_s_per_user"] for p in best], [p["output_tok_s_per_gpu"] for p in best]
        if len(best) > 1:
            ax.plot(xs, ys, "k--", lw=1)
        ax.scatter(xs, ys, s=160, facecolors="none", edgecolors="k", linewidths=1.5, label="Pareto frontier")
    if off:
        ax.plot([], [], "x", color="grey", label=f"{off} not ranked off the chart (mean TPOT near 0)")
    for kind in dict.fromkeys(p.get("ladder") for p in ranked):
        marker, style = _LADDERS.get(kind or "", _ALONE)
        ax.plot([], [], marker=marker, ls=style or "", color="grey", label=_series_name(kind))
    drawn = ranked + shown
    scale(ax, "x", [p["tok_s_per_user"] for p in drawn])
    scale(ax, "y", [p["output_tok_s_per_gpu"] for p in drawn])
    unit = hardware_unit(placed)
    _finish(fig, ax, f"{_OUTPUT.header()} per user (1000 / mean {_TPOT.title} {_TPOT.unit})",
            f"{_OUTPUT.header()} {unit}", f"{report.name}: throughput {unit.split(' (')[0]} vs interactivity")
    labels.place(fig)
    return fig


def curves_figure(report: ExperimentReport) -> Any:
    """Output tok/s against TTFT and TPOT, p50 and p99, per server: each ladder or search joined in load order and
    its points labelled (c8, r20, cap-c16), the experiment's SLOs as lines, log axes where the values span a wide
    range; p50 and p99 share their latency axis, so the gap between them reads true."""
    from matplotlib.lines import Line2D

    loads = _load_points(report, "output_tok_s")
    tags = [t for t in ("ttft", "tpot") if any(p.get(metric(t).key("p99")) is not None for p in loads)]
    if not tags:
        return None
    fig, axes = pyplot().subplots(len(tags), 2, figsize=(13, 4.6 * len(tags) + 1.0), squeeze=False, sharex=True,
                                  sharey="row")
    colour = _colours(report)
    labels = PointLabels()
    for r, tag in enumerate(tags):
        spec = metric(tag)
        for c, stat in enumerate(("p50", "p99")):
            ax, key = axes[r][c], spec.key(stat)
            for ladder, pts in ladders([p for p in loads if p.get(key) is not None]):
                marker, style = _LADDERS.get(ladder or "", _ALONE)
                xs, ys, color = [p["output_tok_s"] for p in pts], [p[key] for p in pts], colour[pts[0]["cell"]]
                ax.plot(xs, ys, marker + style, color=color, ms=5, lw=1.2, gid=ladder or "alone")
                xerr, yerr = error_bars(pts, "output_tok_s"), error_bars(pts, key)
                if xerr or yerr:
                    ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="none", ecolor=color, capsize=3, gid="ci")
                labels.add(ax, xs, ys, [p["point"] for p in pts], color)
            saturated = [p for p in loads if client_overloaded(p) and p.get(key) is not None]
            if saturated:  # latencies the client cannot vouch for
                ax.scatter([p["output_tok_s"] for p in saturated], [p[key] for p in saturated], s=90, marker="x",
                           color="k", zorder=3, gid="saturated")
            capped = [p for p in loads if _cap_only(p) and p.get(key) is not None]
            if capped:  # the figures of a load other than the one asked
                ax.scatter([p["output_tok_s"] for p in capped], [p[key] for p in capped], s=90, marker="s",
                           facecolors="none", edgecolors="k", zorder=3, gid="cap-not-held")
            if tag in report.slo:
                slo_line(ax, report.slo[tag], f"SLO {spec.title} {report.slo[tag]:g} {spec.unit}")
            ax.set_title(f"{spec.title} {stat}")
            ax.set_ylabel(f"{spec.title} ({spec.unit})" if c == 0 else "")
        scale(axes[r][0], "y", [p[spec.key(s)] for p in loads for s in ("p50", "p99") if p.get(spec.key(s))]
              + [report.slo.get(tag, 0)])
    scale(axes[0][0], "x", [p["output_tok_s"] for p in loads])
    for ax in axes[-1]:
        ax.set_xlabel(_OUTPUT.header())
    handles = [Line2D([], [], color=c, lw=2, label=cell) for cell, c in colour.items()
               if any(p["cell"] == cell for p in loads)]
    kinds = list(dict.fromkeys(p.get("ladder") for p in loads))
    handles += [Line2D([], [], color="grey", marker=_LADDERS.get(k or "", _ALONE)[0],
                       ls=_LADDERS.get(k or "", _ALONE)[1] or "", label=_series_name(k)) for k in kinds]
    if report.slo:
        handles.append(Line2D([], [], color="crimson", ls="--", label="SLO"))
    if any(client_overloaded(p) for p in loads):
        handles.append(Line2D([], [], color="k", marker="x", ls="", label="client read late (a latency off)"))
    if any(_cap_only(p) for p in loads):
        handles.append(Line2D([], [], color="k", marker="s", mfc="none", ls="",
                              label="load asked not held (the load that arrived)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    fig.suptitle(f"{report.name}: throughput vs latency per server, each ladder in load order")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    labels.place(fig)
    return fig


def _cap_only(point: dict[str, Any]) -> bool:
    """A point whose load asked was not held and whose client did not read late (marked apart from those)."""
    return load_not_held(point) and not client_overloaded(point)


def _load_axis(ax: Any, loads: list[float], whole: bool) -> None:
    """A load axis: whole-number ticks for entries in flight, and around a single load a range from half of it to
    half as much again, not matplotlib's +-5% of it (7.6 to 8.4 entries in flight)."""
    from matplotlib.ticker import MaxNLocator

    if whole:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(set(loads)) == 1:
        only = loads[0]
        ax.set_xlim(only / 2 if only else -1, only * 1.5 if only else 1)


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
    for ax in (left, right):
        _load_axis(ax, [p[by] for p in placed], whole=by == "in_flight")
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
    """The experiment's plots (those its data allow), matplotlib's warnings kept quiet."""
    unit = hardware_unit(_load_points(report, "output_tok_s_per_gpu"))
    out = []
    with quiet():
        for name, title, make in (("pareto", f"Pareto frontier: output tok/s {unit} vs per user", pareto_figure),
                                  ("curves", "Throughput vs TTFT and TPOT (p50, p99) per server and ladder",
                                   curves_figure),
                                  ("bfcl", "BFCL accuracy and tool-calling latency vs load", bfcl_figure),
                                  ("outputs", "Outputs against the reference server's, per pass", outputs_figure)):
            fig = make(report)
            if fig is not None:
                out.append(Plot(name, title, fig))
    return out
