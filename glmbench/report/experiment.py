"""An experiment folder as tables and plots: every point, one row per server configuration, the Pareto frontier.

What is shown comes from :mod:`glmbench.experiment.analysis` (the points, the
frontier, the best server); this module renders it: terminal and markdown
tables, JSON, the Pareto and throughput-latency plots, and one HTML page.
"""

from __future__ import annotations

import json
from typing import Any

from glmbench.experiment.analysis import (
    MIN_TPOT_MS,
    ExperimentReport,
    experiment_report,
    frontier,
    not_ranked,
)
from glmbench.metrics.registry import ACCURACY, axis_label, column, metric

__all__ = ["ExperimentReport", "experiment_report", "frontier", "not_ranked", "notes", "to_markdown", "to_json",
           "pareto_figure", "curves_figure", "experiment_plots", "render_experiment_html", "MIN_TPOT_MS"]

def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    return spec.format(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _capacity(row: dict[str, Any]) -> str:
    if row["capacity_by"] is None:
        return "-"
    unit = "req/s" if row["capacity_by"] == "rate" else "in flight"
    value = "none" if row["capacity"] is None else f"{row['capacity']:g} {unit}"
    return value + (f" (fails at {row['capacity_fails_at']:g})" if row["capacity_fails_at"] is not None else "")


# The Pareto frontier's axes, and the curves' throughput axis: the registry's names.
_OUTPUT = metric("output_tok_s")
_TPOT = metric("tpot")

# Whole tokens per second: an experiment's throughputs run to thousands, where tenths are noise.
_OUTPUT_COLUMN = column("output_tok_s", "{:.0f}")
_TTFT_P99_COLUMN = column("ttft_ms_p99")
_GOODPUT_COLUMN = column("goodput_request_s")
_BFCL_COLUMN = ("bfcl_overall", f"BFCL overall {ACCURACY.unit}", ACCURACY.fmt)


def _best_cell(value_key: str, at_key: str, fmt: str):
    """How a server row shows a best value: the value, then the point it came from."""
    return lambda r: f"{_fmt(r[value_key], fmt)} ({r[at_key] or '-'})"


# (header, how to show a server row); a metric's header and format come from the registry.
SERVER_COLUMNS = (
    ("server", lambda r: r["server"] + (" (best)" if r.get("best") else "")),
    ("status", lambda r: r["status"]),
    ("capacity under SLO", _capacity),
    (f"best {_OUTPUT_COLUMN[1]}", _best_cell("best_output_tok_s", "best_output_at", _OUTPUT_COLUMN[2])),
    (f"best {_TTFT_P99_COLUMN[1]}", _best_cell("best_ttft_ms_p99", "best_ttft_at", _TTFT_P99_COLUMN[2])),
    (f"max {_GOODPUT_COLUMN[1]}", _best_cell("max_goodput_request_s", "max_goodput_at", _GOODPUT_COLUMN[2])),
    (_BFCL_COLUMN[1], lambda r: _fmt(r["bfcl_overall"], _BFCL_COLUMN[2])),
    ("Pareto", lambda r: r.get("pareto") or ("-" if r["dominated"] is None else
                                             "dominated" if r["dominated"] else "on the frontier")),
)

# (key, header, format) of the point table; the metrics' headers and formats come from the registry.
POINT_COLUMNS = (
    ("cell", "server", "{}"), ("point", "point", "{}"), ("status", "status", "{}"),
    _OUTPUT_COLUMN, column("ttft_ms_mean"), _TTFT_P99_COLUMN, column("tpot_ms_mean"), _GOODPUT_COLUMN,
    _BFCL_COLUMN, ("pareto", "Pareto", "{}"), ("reason", "why", "{}"),
)


def _point_cell(point: dict[str, Any], key: str, spec: str) -> str:
    """A point-table cell; a point whose client was saturated is marked * (as the single-run tables mark it)."""
    text = _fmt(point.get(key), spec)
    return f"{text} *" if key == "point" and point.get("client_saturated") else text


def notes(report: ExperimentReport) -> list[str]:
    """What a reader must see beside the tables: saturated clients, and points left off the frontier."""
    out = []
    if any(p.get("client_saturated") for p in report.points):
        out.append("a point marked * had a saturated client: its latencies are overstated and it is not ranked "
                   "on the Pareto frontier; the reason follows")
    for p in report.points:
        if p.get("client_saturated"):
            out.append(f"{p['cell']} {p['point']}: {p.get('client_warning') or 'client saturated'}")
        elif p.get("not_ranked"):
            out.append(f"{p['cell']} {p['point']}: not ranked on the Pareto frontier: {p['not_ranked']}")
    return out


def server_table(report: ExperimentReport) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the per-server table."""
    return [h for h, _ in SERVER_COLUMNS], [[show(r) for _, show in SERVER_COLUMNS] for r in report.servers]


def point_table(report: ExperimentReport) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the per-point table (columns without any value left out)."""
    shown = [c for c in POINT_COLUMNS
             if c[0] in ("cell", "point", "status") or any(p.get(c[0]) is not None for p in report.points)]
    return [h for _, h, _ in shown], [[_point_cell(p, k, spec) for k, _, spec in shown] for p in report.points]


def to_markdown(report: ExperimentReport) -> str:
    """The server and point tables as markdown (a CI step summary); every cell escaped."""
    from glmbench.util.text import md_text

    def table(headers: list[str], rows: list[list[str]]) -> list[str]:
        return (["| " + " | ".join(md_text(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
                + ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows])

    lines = [f"## Experiment {md_text(report.name)} ({md_text(report.status)})", "",
             f"Best server by {md_text(report.objective)}: "
             f"{md_text(next((r['server'] for r in report.servers if r.get('best')), 'none'))}", "", "### Servers", ""]
    lines += table(*server_table(report)) + ["", "### Points", ""] + table(*point_table(report))
    lines += ["", *[f"- {md_text(n)}" for n in notes(report)]] if notes(report) else []
    return "\n".join(lines) + "\n"


def to_json(report: ExperimentReport) -> str:
    return json.dumps({"name": report.name, "status": report.status, "objective": report.objective,
                       "servers": report.servers,
                       "points": report.points}, indent=2, default=str)


def _by_cell(report: ExperimentReport, x: str, y: str) -> dict[str, list[dict[str, Any]]]:
    """Each server's load points that have both ``x`` and ``y``, sorted by ``x``."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for p in report.points:
        if p["kind"] != "bfcl" and p.get(x) is not None and p.get(y) is not None:
            cells.setdefault(p["cell"], []).append(p)
    return {label: sorted(pts, key=lambda p: p[x]) for label, pts in cells.items()}


def _axes():
    from glmbench.report.plots import _plt

    return _plt().subplots(figsize=(8, 5.5))


def _finish(fig, ax, xlabel: str, ylabel: str, title: str):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pareto_figure(report: ExperimentReport):
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


def curves_figure(report: ExperimentReport):
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


def experiment_plots(report: ExperimentReport) -> list:
    """The experiment's plots (those its data allow)."""
    from glmbench.report.plots import Plot

    out = []
    for name, title, make in (("pareto", "Pareto frontier: output tok/s per GPU vs per user", pareto_figure),
                              ("curves", "Throughput vs TTFT p99 per server", curves_figure)):
        fig = make(report)
        if fig is not None:
            out.append(Plot(name, title, fig))
    return out


def render_experiment_html(report: ExperimentReport, plots: list) -> str:
    """One self-contained HTML page: the server and point tables and the plots, every text escaped."""
    from glmbench.report.html import escape, figure_html, page

    def table(headers: list[str], rows: list[list[str]]) -> str:
        head = "".join(f'<th class="l">{escape(h)}</th>' for h in headers)
        body = "".join("<tr>" + "".join(f'<td class="l">{escape(c)}</td>' for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    body = ["<h2>Servers</h2>", table(*server_table(report)), "<h2>Plots</h2>",
            "".join(figure_html(p) for p in plots), "<h2>Points</h2>", table(*point_table(report))]
    if notes(report):
        body.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes(report)) + "</ul>")
    return page(f"experiment {report.name}", "\n".join(body))
