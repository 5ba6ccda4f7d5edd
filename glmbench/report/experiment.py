"""An experiment folder as a report shows it: one row per server configuration, every point, and the notes.

What is in them comes from :mod:`glmbench.experiment.analysis` (the points, the
frontier, the best server); this module turns it into the cells every format
shows. How they are drawn is up to each format (:mod:`glmbench.report.formats`);
the figures are in :mod:`glmbench.report.experiment_figures`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glmbench.experiment.analysis import (
    MIN_TPOT_MS,
    ExperimentReport,
    experiment_report,
    frontier,
    not_ranked,
    outputs_changed,
)
from glmbench.metrics.client import client_overloaded, load_not_held
from glmbench.metrics.registry import ACCURACY, column
from glmbench.metrics.repeats import interval
from glmbench.report.equivalence_run import FIGURE_HEADERS, figure_cells

# Kept importable from here for callers outside report/ (and their tests): the figures live in experiment_figures.
from glmbench.report.experiment_figures import (
    curves_figure,
    experiment_plots,
    pareto_figure,
)

__all__ = ["ExperimentReport", "experiment_report", "frontier", "not_ranked", "notes", "mark", "server_table",
           "point_table",
           "outputs_table", "best_server", "SERVER_COLUMNS", "POINT_COLUMNS", "MIN_TPOT_MS", "pareto_figure", "curves_figure",
           "experiment_plots"]


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


def _best_cell(value_key: str, at_key: str, fmt: str) -> Callable[[dict[str, Any]], str]:
    """How a server row shows a best value: the value, then the point it came from."""
    return lambda r: f"{_fmt(r[value_key], fmt)} ({r[at_key] or '-'})"


# (header, how to show a server row); a metric's header and format come from the registry.
SERVER_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("server", lambda r: r["server"] + (" (best)" if r.get("best") else "")),
    ("status", lambda r: r["status"]),
    ("capacity under SLO", _capacity),
    (f"best {_OUTPUT_COLUMN[1]}", _best_cell("best_output_tok_s", "best_output_at", _OUTPUT_COLUMN[2])),
    (f"best {_TTFT_P99_COLUMN[1]}", _best_cell("best_ttft_ms_p99", "best_ttft_at", _TTFT_P99_COLUMN[2])),
    (f"max {_GOODPUT_COLUMN[1]}", _best_cell("max_goodput_request_s", "max_goodput_at", _GOODPUT_COLUMN[2])),
    (_BFCL_COLUMN[1], lambda r: _fmt(r["bfcl_overall"], _BFCL_COLUMN[2])),
    ("Pareto", lambda r: r.get("pareto") or ("-" if r["dominated"] is None else
                                             "dominated" if r["dominated"] else "on the frontier")),
    # Only in an experiment with an equivalence point: its outputs against the reference server's.
    ("outputs vs reference", lambda r: r.get("outputs") or "-"),
)

# (key, header, format) of the point table; the metrics' headers and formats come from the registry.
POINT_COLUMNS = (
    ("cell", "server", "{}"), ("point", "point", "{}"), ("status", "status", "{}"),
    _OUTPUT_COLUMN, column("ttft_ms_mean"), _TTFT_P99_COLUMN, column("tpot_ms_mean"), _GOODPUT_COLUMN,
    column("ttft_tool_call_ms_mean"), column("spec_accept_rate"), column("prefix_hit_rate"),
    column("prefix_hit_predicted"),
    (_BFCL_COLUMN[0], f"{_BFCL_COLUMN[1]} (95% CI)", _BFCL_COLUMN[2]), ("gate", "outputs vs reference", "{}"),
    ("pareto", "Pareto", "{}"),
    ("reason", "why", "{}"),
)


def mark(point: dict[str, Any]) -> str:
    """How the point table marks a point whose figures the client cannot vouch for: ``*`` its client read late
    (a latency counted from the send is off: the note names which), ``~`` the load asked was not held (a
    concurrency cap, or requests that left late: figures for the load that arrived); none otherwise."""
    if client_overloaded(point):
        return SATURATED_MARK
    return CAP_MARK if load_not_held(point) else ""


SATURATED_MARK, CAP_MARK = "*", "~"


def _point_cell(point: dict[str, Any], key: str, spec: str) -> str:
    """A point-table cell; a point the client cannot vouch for is marked (:func:`mark`), a BFCL accuracy has its
    95% Wilson interval beside it where it has one."""
    text = _fmt(point.get(key), spec)
    found = interval(point, key)  # a repeated point: the mean ± half its 95% interval
    if found is not None and found[1] > found[0]:
        text += f" ±{_fmt((found[1] - found[0]) / 2, spec)}"
    if key == "bfcl_overall" and point.get("bfcl_low") is not None and point.get("bfcl_high") is not None:
        return f"{text} ({point['bfcl_low']:.1f}-{point['bfcl_high']:.1f})"
    return f"{text} {mark(point)}" if key == "point" and mark(point) else text


def notes(report: ExperimentReport) -> list[str]:
    """What a reader must see beside the tables: saturated clients, and points left off the frontier."""
    out: list[str] = []
    repeats = sorted({p["repeats"] for p in report.points if isinstance(p.get("repeats"), int) and p["repeats"] > 1})
    if repeats:
        out.append(f"a load point's figures are means of {' or '.join(map(str, repeats))} repeats; ± is half the 95% "
                   "confidence interval of a mean (Student t, between repeats)")
    marks = {mark(p) for p in report.points}
    if SATURATED_MARK in marks:
        out.append(f"a point marked {SATURATED_MARK} had a client that read late: the latencies its note names are "
                   "off by the client's own delay, and it is not ranked on the Pareto frontier; the reason follows")
    if CAP_MARK in marks:
        out.append(f"a point marked {CAP_MARK} did not hold the load asked (a concurrency cap with fewer requests in "
                   "flight than asked, or requests that left late), so its figures are for the load that arrived; it "
                   "is not ranked on the Pareto frontier; the reason follows")
    for p in report.points:
        if p.get("client_saturated"):
            out.append(f"{p['cell']} {p['point']}: {p.get('client_warning') or 'the client read late'}")
        elif p.get("not_ranked"):
            out.append(f"{p['cell']} {p['point']}: not ranked on the Pareto frontier: {p['not_ranked']}")
    for p in report.points:
        if p["kind"] != "equivalence":
            continue
        found = p.get("outputs") or {}
        for failed in outputs_changed(p):
            out.append(f"OUTPUTS CHANGED: {p['cell']} {p['point']}: {failed}")
        if found.get("role") == "not compared" and found.get("why"):
            out.append(f"{p['cell']} {p['point']}: outputs not compared with the reference: {found['why']}")
        own = p.get("batch_invariance") or {}
        if own.get("match_rate") not in (None, 1.0):
            out.append(f"{p['cell']} {p['point']}: not batch invariant: {own['compared'] - own['matched']} of "
                       f"{own['compared']} prompts' outputs change under load")
    if report.floor:
        floors = ", ".join(f"{c} {v:g}%" for c, v in report.floor.items())
        out.append(f"BFCL accuracy floor ({floors}): a server below it at any BFCL point is not ranked")
        out += [f"{p['cell']} {p['point']}: below the accuracy floor: {'; '.join(p['below_floor'])}"
                for p in report.points if p["kind"] == "bfcl" and p.get("below_floor")]
    return out


def server_table(report: ExperimentReport) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the per-server table (the outputs column only when some server has an equivalence
    point)."""
    shown = [(h, show) for h, show in SERVER_COLUMNS
             if h != "outputs vs reference" or any(r.get("outputs") for r in report.servers)]
    return [h for h, _ in shown], [[show(r) for _, show in shown] for r in report.servers]


def _pass_gate(figures: dict[str, Any]) -> str:
    if figures.get("held") is None:
        return "not gated"
    return f"{'held' if figures['held'] else 'FAILED'} ({100 * figures['required']:g}% required)"


def outputs_table(report: ExperimentReport) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the equivalence table: per server and equivalence point, each pass of its outputs
    against the reference server's with its gate, then its own outputs alone against under load (no rows when the
    experiment has no equivalence point)."""
    headers = ["server", "point", "against", "pass", *FIGURE_HEADERS, "gate"]
    rows: list[list[str]] = []
    blank = ["-"] * len(FIGURE_HEADERS)
    for p in report.points:
        if p["kind"] != "equivalence":
            continue
        found = p.get("outputs") or {}
        reference = found.get("reference") or "-"
        if found.get("role") == "reference":
            rows.append([p["cell"], p["point"], "-", "-", *blank, "reference"])
        elif not found.get("passes"):
            rows.append([p["cell"], p["point"], reference, "-", *blank, "not compared"])
        for figures in found.get("passes") or []:
            rows.append([p["cell"], p["point"], reference, figures["pass"], *figure_cells(figures),
                         _pass_gate(figures)])
        if p.get("batch_invariance"):
            rows.append([p["cell"], p["point"], "itself", "alone vs loaded", *figure_cells(p["batch_invariance"]),
                         "-"])
    return headers, rows


def point_table(report: ExperimentReport) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the per-point table (columns without any value left out)."""
    shown = [c for c in POINT_COLUMNS
             if c[0] in ("cell", "point", "status") or any(p.get(c[0]) is not None for p in report.points)]
    return [h for _, h, _ in shown], [[_point_cell(p, k, spec) for k, _, spec in shown] for p in report.points]


def best_server(report: ExperimentReport) -> str:
    """The server that is best by the experiment's objective, or ``none``."""
    return next((r["server"] for r in report.servers if r.get("best")), "none")
