"""An experiment folder as tables and plots: every point, one row per server configuration, the Pareto frontier.

Read from ``index.json`` and the point folders only, so a report can be made
again anywhere. The frontier follows InferenceX's axes: output tok/s per GPU (the
cost side) against output tok/s per user (1000 / mean TPOT, interactivity); a
server configuration none of whose load points is on the frontier is dominated.

Only points whose figures can be trusted are ranked: a point whose client was
saturated (its latencies overstated, its chunks stamped late and together), or
whose mean TPOT is missing or below :data:`MIN_TPOT_MS` (its tokens arrived
together, so 1000 / TPOT is no decode speed), is drawn as "not ranked" and
decides nothing; a server none of whose points is ranked is neither on the
frontier nor dominated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError
from glmbench.metrics.registry import (
    ACCURACY,
    Metric,
    axis_label,
    column,
    lookup,
    metric,
)
from glmbench.results.experiments import read_index
from glmbench.results.store import load_any_summary, load_manifest, summary_folder

__all__ = ["ExperimentReport", "experiment_report", "frontier", "not_ranked", "notes", "to_markdown", "to_json",
           "pareto_figure", "curves_figure", "experiment_plots", "render_experiment_html", "MIN_TPOT_MS"]

_POINT_KEYS = ("output_tok_s", "ttft_ms_mean", "ttft_ms_p99", "tpot_ms_mean", "e2e_ms_p99", "goodput_request_s",
               "goodput_pct", "completed", "failed", "client_saturated", "client_warning")

# A mean TPOT below this (10,000 tok/s for one user) is no decode speed: the tokens reached the
# client together (a buffered stream, or a client too late to read them apart).
MIN_TPOT_MS = 0.1


@dataclass
class ExperimentReport:
    """What an experiment folder holds: its points (one dict each) and one row per server configuration."""

    name: str
    path: Path
    status: str
    objective: str = "goodput"
    points: list[dict[str, Any]] = field(default_factory=list)
    servers: list[dict[str, Any]] = field(default_factory=list)


def _run_dir(folder: Path, cell: dict[str, Any], point: dict[str, Any]) -> Path | None:
    if not point.get("folder"):
        return None
    return summary_folder(folder / cell["folder"] / point["folder"])


def _gpus(run_dir: Path) -> int:
    """GPUs the server used: tp x dp of its config (1 without a config, as for an endpoint or the simulator)."""
    try:
        config = load_manifest(run_dir).backend.config or {}
    except GlmbenchError:
        return 1
    return max(1, int(config.get("tp") or 1) * int(config.get("dp") or 1))


def _point_row(folder: Path, cell: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"cell": cell["label"], "point": point["label"], "kind": point["kind"],
                           "status": point["status"], "seconds": point["seconds"],
                           "reason": point["reason"] or (cell["reason"] if point["status"] == "not run" else None)}
    run_dir = _run_dir(folder, cell, point)
    if run_dir is None:
        return row
    try:
        summary = load_any_summary(run_dir)
    except GlmbenchError:
        return row
    if summary.kind == "load" and summary.rows:
        last = summary.rows[-1]  # a point runs one workload
        row.update({k: last.get(k) for k in _POINT_KEYS})
        row["gpus"] = _gpus(run_dir)
        if row.get("output_tok_s") is not None:
            row["output_tok_s_per_gpu"] = row["output_tok_s"] / row["gpus"]
        if row.get("tpot_ms_mean"):
            row["tok_s_per_user"] = 1000.0 / row["tpot_ms_mean"]
    elif summary.kind == "bfcl":
        overall = next((r for r in summary.tables.get(summary.primary, []) if r["category"] == "OVERALL"), None)
        row["bfcl_overall"] = overall.get("accuracy") if overall else None
        row["bfcl_rules"] = summary.primary
    return row


def not_ranked(point: dict[str, Any]) -> str | None:
    """Why a load point may not take part in the Pareto frontier (None: it may)."""
    if point.get("output_tok_s_per_gpu") is None:
        return "no throughput"
    if point.get("client_saturated"):
        return "client saturated: latencies overstated"
    tpot = point.get("tpot_ms_mean")
    if not tpot or tpot < MIN_TPOT_MS:
        return (f"mean TPOT {_fmt(tpot, '{:.2g}')} ms: the tokens arrived together, "
                f"1000 / TPOT is no decode speed")
    return None


def frontier(points: list[dict[str, Any]]) -> list[int]:
    """Indices of the points no other point beats on both tok/s per GPU and tok/s per user (ties kept).

    Points :func:`not_ranked` rules out are neither on it nor decide it.
    """
    usable = [(i, p["tok_s_per_user"], p["output_tok_s_per_gpu"]) for i, p in enumerate(points)
              if p.get("tok_s_per_user") is not None and not_ranked(p) is None]
    on = []
    for i, x, y in usable:
        if not any(x2 >= x and y2 >= y and (x2 > x or y2 > y) for j, x2, y2 in usable if j != i):
            on.append(i)
    return on


def _metric(key: str) -> Metric:
    """The registered metric of a summary-row key (``ttft_ms_p99``), or BFCL's accuracy."""
    if key == ACCURACY.tag:
        return ACCURACY
    found = lookup(key)
    if found is None:
        raise KeyError(f"{key!r} is no registered metric key")
    return found[0]


# The Pareto frontier's axes, and the curves' throughput axis: the registry's names.
_OUTPUT = metric("output_tok_s")
_TPOT = metric("tpot")


def _best(rows: list[dict[str, Any]], key: str) -> tuple[Any, str | None]:
    """The best value of metric ``key`` over ``rows`` (its registered direction says which end) and its point."""
    found = [r for r in rows if r.get(key) is not None]
    if not found:
        return None, None
    best = (min if _metric(key).better == "lower" else max)(found, key=lambda r: r[key])
    return best[key], best["point"]


def experiment_report(folder: Path) -> ExperimentReport:
    """Read an experiment folder (a user error if it is none)."""
    folder = Path(folder)
    index = read_index(folder)
    report = ExperimentReport(index["name"], folder, index["status"], objective=_objective(folder))
    for cell in index["cells"]:
        report.points += [_point_row(folder, cell, p) for p in cell["points"]]
    load_points = [p for p in report.points if p["kind"] != "bfcl" and p.get("output_tok_s") is not None]
    on_frontier = {id(load_points[i]) for i in frontier(load_points)}
    for p in load_points:
        p["not_ranked"] = not_ranked(p)
        p["on_frontier"] = None if p["not_ranked"] else id(p) in on_frontier
        p["pareto"] = "not ranked" if p["not_ranked"] else "frontier" if p["on_frontier"] else "dominated"
    for cell in index["cells"]:
        mine = [p for p in report.points if p["cell"] == cell["label"]]
        loads = [p for p in mine if p["kind"] != "bfcl"]
        cap = cell.get("capacity") or {}
        best_tok, best_tok_at = _best(loads, "output_tok_s")
        best_ttft, best_ttft_at = _best(loads, "ttft_ms_p99")
        goodput, goodput_at = _best(loads, "goodput_request_s")
        bfcl = next((p.get("bfcl_overall") for p in mine if p["kind"] == "bfcl"), None)
        ranked = [p for p in loads if p.get("on_frontier") is not None]
        placed = [p for p in loads if p.get("output_tok_s") is not None]
        report.servers.append({
            "server": cell["label"], "status": cell["status"], "reason": cell["reason"],
            "capacity": cap.get("value"), "capacity_by": cap.get("by"), "capacity_fails_at": cap.get("above"),
            "best_output_tok_s": best_tok, "best_output_at": best_tok_at,
            "best_ttft_ms_p99": best_ttft, "best_ttft_at": best_ttft_at,
            "max_goodput_request_s": goodput, "max_goodput_at": goodput_at, "bfcl_overall": bfcl,
            # None when no point of the server could be placed: it is neither on the frontier nor dominated.
            "dominated": not any(p["on_frontier"] for p in ranked) if ranked else None,
            "pareto": ("on the frontier" if any(p["on_frontier"] for p in ranked) else "dominated") if ranked
            else "not ranked" if placed else None,
        })
    _mark_best(report)
    return report


# Objective -> (server row key, the metric it holds: its registered direction says which end is best).
# Capacity is no load metric: the most load held under the SLO is best.
_OBJECTIVES: dict[str, tuple[str, str | None]] = {
    "goodput": ("max_goodput_request_s", "goodput_request_s"), "capacity": ("capacity", None),
    "throughput": ("best_output_tok_s", "output_tok_s"), "ttft": ("best_ttft_ms_p99", "ttft_ms_p99"),
    "bfcl": ("bfcl_overall", ACCURACY.tag)}


def _objective(folder: Path) -> str:
    """The experiment file's objective (goodput when it names none, or for folders written before it existed)."""
    import yaml

    from glmbench.util.yamlsafe import load_yaml

    path = folder / "experiment.yaml"
    try:
        data = load_yaml(path.read_text(), str(path)) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, GlmbenchError):
        return "goodput"
    objective = data.get("objective") if isinstance(data, dict) else None
    return objective if isinstance(objective, str) else "goodput"


def _mark_best(report: ExperimentReport) -> None:
    key, measure = _OBJECTIVES.get(report.objective, _OBJECTIVES["goodput"])
    higher = measure is None or _metric(measure).better == "higher"
    scored = [r for r in report.servers if r.get(key) is not None]
    best = (max if higher else min)(scored, key=lambda r: r[key]) if scored else None
    for row in report.servers:
        row["best"] = row is best


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
