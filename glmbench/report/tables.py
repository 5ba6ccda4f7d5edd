"""Several runs side by side, with pandas: speed in the published shape, detail, BFCL per category and the
latency of BFCL runs asked as traffic.

The first run given is the baseline; every other run's figures carry their
difference from it (absolute and percent for speed, percentage points for BFCL
accuracy; a BFCL run's latency is shown as is, one line per run and load row).
Numeric frames hold the figures; ``display_*`` frames hold the text cells that
markdown, the terminal and HTML show; :meth:`ReportTables.notes` the warnings
beside them. How they are drawn is up to each format
(:mod:`glmbench.report.formats`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from glmbench.metrics.registry import column, columns
from glmbench.report.bfcl_run import ACCEPT_COLUMN, LATENCY_COLUMNS
from glmbench.report.load_run import PUBLISHED_COLUMNS, flagged
from glmbench.report.load_run import notes as load_notes
from glmbench.report.runs import ReportRun, require
from glmbench.results.schema import BFCLSummary, LoadSummary

__all__ = ["SPEED_METRICS", "DETAIL_COLUMNS", "BFCL_LOAD_COLUMNS", "ReportTables", "build_tables"]

# (key, header, format) of the published speed table's figures (its columns after the workload).
SPEED_METRICS = PUBLISHED_COLUMNS[1:]

DETAIL_COLUMNS = (
    *columns("completed", "failed", "request_s"),
    # Whole tokens per second: this table is read across runs, where tenths are noise.
    column("total_tok_s", "{:.0f}"),
    *columns("ttft_ms_p50", "ttft_ms_p99", "itl_ms_p50", "itl_ms_p99", "tpot_ms_mean", "e2e_ms_p50", "e2e_ms_p99",
             "spec_accept_length", "prefix_hit_rate", "prefix_hit_predicted", "goodput_request_s"),
)

# (key, header, format) of a BFCL run's latency figures (the columns after workload and run).
BFCL_LOAD_COLUMNS = (*LATENCY_COLUMNS[1:], ACCEPT_COLUMN)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _fmt(value: float, fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _delta_cell(value: float, base: float, fmt: str) -> str:
    text = _fmt(value, fmt)
    if math.isnan(value) or math.isnan(base):
        return text
    diff = value - base
    pct = f", {diff / base * 100:+.1f}%" if base else ""
    return f"{text} ({'+' if diff >= 0 else '-'}{fmt.format(abs(diff))}{pct})"


@dataclass
class ReportTables:
    """The numeric frames (``speed``, ``detail``, ``bfcl``, ``bfcl_load``) of some runs, and the baseline's label.

    ``bfcl_load`` holds the load rows of the BFCL runs asked as traffic (empty when none was).
    """

    baseline: str | None
    runs: list[ReportRun]
    speed: Any
    detail: Any
    bfcl: Any
    bfcl_load: Any

    def display_speed(self):
        """Workload, run and the published figures, each non-baseline cell with its delta."""
        pd = require("pandas")
        out = []
        for _, row in self.speed.iterrows():
            cells = {"Workload": row["title"], "Run": row["run"]}
            for key, header, fmt in SPEED_METRICS:
                base = row[f"{key}_base"]
                cells[header] = _fmt(row[key], fmt) if row["run"] == row["baseline"] else \
                    _delta_cell(row[key], base, fmt)
            if row["flag"]:
                cells["Workload"] += " *"
            out.append(cells)
        return pd.DataFrame(out, columns=["Workload", "Run", *(h for _, h, _ in SPEED_METRICS)])

    def display_detail(self):
        """Workload, run and the detail figures (columns without any value left out)."""
        pd = require("pandas")
        cols = [c for c in DETAIL_COLUMNS if c[0] in self.detail and self.detail[c[0]].notna().any()]
        out = [{"Workload": r["workload"], "Run": r["run"], **{h: _fmt(r[k], f) for k, h, f in cols}}
               for _, r in self.detail.iterrows()]
        return pd.DataFrame(out, columns=["Workload", "Run", *(h for _, h, _ in cols)])

    def display_bfcl(self):
        """Rules and category down, one accuracy column per run (delta in percentage points after the first)."""
        pd = require("pandas")
        if self.bfcl.empty:
            return pd.DataFrame()
        labels = list(dict.fromkeys(self.bfcl["run"]))
        out = []
        for (rules, category), group in self.bfcl.groupby(["rules", "category"], sort=False):
            cells = {"Rules": rules, "Category": category}
            by_run = {r["run"]: r for _, r in group.iterrows()}
            base = by_run.get(labels[0])
            for label in labels:
                r = by_run.get(label)
                if r is None or math.isnan(r["accuracy"]):
                    cells[label] = "-"
                    continue
                text = f"{r['accuracy']:.2f}% ({r['correct']:.0f}/{r['total']:.0f})"
                if label != labels[0] and base is not None and not math.isnan(base["accuracy"]):
                    text += f" ({r['accuracy'] - base['accuracy']:+.2f} pp)"
                cells[label] = text
            out.append(cells)
        return pd.DataFrame(out, columns=["Rules", "Category", *labels])

    def bfcl_load_title(self) -> str:
        """``BFCL latency (closed loop, cap 8)``: the schedule of each BFCL run asked as traffic (several runs'
        each after its label when they differ)."""
        schedules = {run.label: run.summary.schedule for run in self.runs
                     if isinstance(run.summary, BFCLSummary) and run.summary.load}
        if len(set(schedules.values())) == 1:
            return f"BFCL latency ({next(iter(schedules.values()))})"
        return "BFCL latency (" + "; ".join(f"{label}: {s}" for label, s in schedules.items()) + ")"

    def display_bfcl_load(self):
        """Workload and run, then each BFCL latency figure (the acceptance rate only where a run has one); a
        workload whose figures the client cannot vouch for marked ``*`` (the notes say why)."""
        pd = require("pandas")
        cols = [c for c in BFCL_LOAD_COLUMNS if c != ACCEPT_COLUMN or self.bfcl_load[c[0]].notna().any()]
        out = [{"Workload": r["workload"] + (" *" if r["flag"] else ""), "Run": r["run"],
                **{h: _fmt(r[k], f) for k, h, f in cols}} for _, r in self.bfcl_load.iterrows()]
        return pd.DataFrame(out, columns=["Workload", "Run", *(h for _, h, _ in cols)])

    def notes(self) -> list[str]:
        """Warnings beside the numbers, each naming its run (text from the server kept as is: escape to show)."""
        out: list[str] = []
        for run in self.runs:
            dataset = run.manifest.dataset.get("name") if run.manifest is not None else None
            out.extend(f"{run.label}: {n}" for n in load_notes(run.rows, dataset))
            if isinstance(run.summary, LoadSummary) and run.summary.aborted:
                out.append(f"{run.label}: stopped early: {run.summary.aborted}")
            if isinstance(run.summary, BFCLSummary):
                out.extend(f"{run.label}: {cat} not run: {why}" for cat, why in run.summary.not_run.items())
                out.extend(f"{run.label}: {n}" for n in load_notes(run.summary.load))
        return out


def build_tables(runs: Sequence[ReportRun]) -> ReportTables:
    """The frames for load runs and BFCL runs (each kind against the first run of that kind)."""
    pd = require("pandas")
    load = [r for r in runs if r.kind == "load"]
    bfcl = [r for r in runs if r.kind == "bfcl"]
    speed, detail = _speed_frames(pd, load)
    return ReportTables(baseline=runs[0].label if runs else None, runs=list(runs), speed=speed, detail=detail,
                        bfcl=_bfcl_frame(pd, bfcl), bfcl_load=_bfcl_load_frame(pd, bfcl))


def _speed_frames(pd, runs: Sequence[ReportRun]):
    order: list[str] = []
    for run in runs:
        order.extend(r["workload"] for r in run.rows if r["workload"] not in order)
    base_rows = {r["workload"]: r for r in runs[0].rows} if runs else {}
    speed, detail = [], []
    for workload in order:
        for run in runs:
            row = next((r for r in run.rows if r["workload"] == workload), None)
            if row is None:
                continue
            base = base_rows.get(workload, {})
            entry = {"workload": workload, "title": row.get("title", workload), "run": run.label,
                     "baseline": runs[0].label,
                     "flag": bool(row.get("client_saturated") or row.get("interrupted"))}
            for key, _, _ in SPEED_METRICS:
                value, ref = _num(row.get(key)), _num(base.get(key))
                entry[key] = value
                entry[f"{key}_base"] = ref
                entry[f"{key}_delta"] = value - ref if run is not runs[0] else math.nan
                entry[f"{key}_delta_pct"] = (value - ref) / ref * 100 if run is not runs[0] and ref else math.nan
            speed.append(entry)
            detail.append({"workload": workload, "run": run.label,
                           **{k: _num(row.get(k)) for k, _, _ in DETAIL_COLUMNS}})
    speed_cols = ["workload", "title", "run", "baseline", "flag"] + [
        f"{k}{s}" for k, _, _ in SPEED_METRICS for s in ("", "_base", "_delta", "_delta_pct")]
    return (pd.DataFrame(speed, columns=speed_cols),
            pd.DataFrame(detail, columns=["workload", "run", *(k for k, _, _ in DETAIL_COLUMNS)]))


def _bfcl_frame(pd, runs: Sequence[ReportRun]):
    rows = []
    primary = runs[0].summary.primary if runs and isinstance(runs[0].summary, BFCLSummary) else ""
    for run in runs:
        if not isinstance(run.summary, BFCLSummary):
            continue
        tables = run.summary.tables
        order = [primary] + [r for r in tables if r != primary]
        for rules in order:
            for row in tables.get(rules, []):
                scored = row.get("scored", True) is not False
                rows.append({"rules": rules, "category": row["category"], "run": run.label,
                             "accuracy": _num(row.get("accuracy")) if scored else math.nan,
                             "correct": _num(row.get("correct")), "total": _num(row.get("total")),
                             "note": row.get("note") or ""})
    frame = pd.DataFrame(rows, columns=["rules", "category", "run", "accuracy", "correct", "total", "note"])
    if runs and not frame.empty:
        base = frame[frame["run"] == runs[0].label].set_index(["rules", "category"])["accuracy"]
        keys = list(zip(frame["rules"], frame["category"]))
        ref = [base.get(k, math.nan) for k in keys]
        frame["accuracy_delta_pp"] = [a - b if r != runs[0].label else math.nan
                                      for a, b, r in zip(frame["accuracy"], ref, frame["run"])]
    return frame


def _bfcl_load_frame(pd, runs: Sequence[ReportRun]):
    """The load rows of the BFCL runs asked as traffic, run by run: workload, run, schedule, flag, figures."""
    rows = []
    for run in runs:
        if not isinstance(run.summary, BFCLSummary):
            continue
        for row in run.summary.load:
            rows.append({"workload": row["workload"], "run": run.label, "schedule": run.summary.schedule,
                         "flag": flagged(row), **{k: _num(row.get(k)) for k, _, _ in BFCL_LOAD_COLUMNS}})
    return pd.DataFrame(rows, columns=["workload", "run", "schedule", "flag", *(k for k, _, _ in BFCL_LOAD_COLUMNS)])
