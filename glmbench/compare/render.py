"""A comparison as markdown (CI step summaries) or as rich terminal tables (two runs, or two experiments)."""

from __future__ import annotations

from typing import Any

from glmbench.compare.compare import Comparison, Row
from glmbench.compare.experiments import ExperimentComparison
from glmbench.compare.metrics import BFCL_METRIC
from glmbench.util.fitted_table import Column, FittedTable
from glmbench.util.text import md_text, rich_text, safe_console

__all__ = ["to_markdown", "print_table", "print_experiments"]


def _num(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def _change(row: Row) -> str:
    return "n/a" if row.change is None else f"{100 * row.change:+.1f}%"


def _split(cmp: Comparison) -> str:
    """For BFCL runs judged on both accuracy and speed, how many regressions each has: `` (accuracy 0, speed 3)``."""
    speed = [r for r in cmp.rows if r.metric != BFCL_METRIC.key]
    if cmp.kind != "bfcl" or not speed or len(speed) == len(cmp.rows):
        return ""
    slower = sum(r.verdict.regressed for r in speed)
    return f" (accuracy {len(cmp.regressions) - slower}, speed {slower})"


def _headline(cmp: Comparison) -> str:
    if cmp.kind == "equivalence":  # judged by gates, not by a threshold
        if cmp.regressions:
            return "REGRESSION: outputs changed: " + "; ".join(
                f"{r.workload}: {100 * r.candidate:.1f}% of prompts match the baseline's" for r in cmp.regressions)
        return f"OK: outputs match the baseline's as the gates require ({len(cmp.rows)} passes)"
    unlike = " (the workloads differ: not like for like, see the notes)" if cmp.unlike else ""
    if cmp.regressions:
        return (f"REGRESSION: {len(cmp.regressions)} of {len(cmp.rows)} comparisons worse by more than "
                f"{100 * cmp.threshold:g}%{_split(cmp)}{unlike}")
    return f"OK: no regression beyond {100 * cmp.threshold:g}% in {len(cmp.rows)} comparisons{unlike}"


def to_markdown(cmp: Comparison) -> str:
    lines = ["## glmbench compare", "", f"**{_headline(cmp)}**", "",
             f"baseline: {md_text(cmp.baseline)}  ", f"candidate: {md_text(cmp.candidate)}", ""]
    if cmp.regressions:
        lines += ["### Regressions", ""]
        lines += [f"- **{md_text(r.workload)} {r.metric}**: {_num(r.baseline)} -> {_num(r.candidate)} {r.unit} "
                  f"({_change(r)}, {r.better} is better): {md_text(r.verdict.why)}" for r in cmp.regressions]
        lines.append("")
    lines += ["| workload | metric | baseline | candidate | change | verdict | rule |",
              "|---|---|---:|---:|---:|---|---|"]
    for r in cmp.rows:
        status = f"**{r.verdict.status}**" if r.verdict.regressed else r.verdict.status
        lines.append(f"| {md_text(r.workload)} | {r.metric} | {_num(r.baseline)} | {_num(r.candidate)} | {_change(r)} "
                     f"| {status} | {r.verdict.rule} |")
    if cmp.notes:
        lines += ["", *[f"- {md_text(n)}" for n in cmp.notes]]
    return "\n".join(lines) + "\n"


def print_table(cmp: Comparison) -> None:
    console = safe_console(width=140)
    columns = [Column(name, "right" if name in ("baseline", "candidate", "change") else "left",
                      words=name in ("verdict", "why"))
               for name in ("workload", "metric", "baseline", "candidate", "change", "verdict", "why")]
    colours = {"regression": "red", "improvement": "green", "within noise": "yellow", "ok": ""}
    rows = [[rich_text(r.workload), r.metric, _num(r.baseline), _num(r.candidate), _change(r),
             rich_text(r.verdict.status, style=colours[r.verdict.status]),
             rich_text(f"{r.verdict.rule}: {r.verdict.why}")] for r in cmp.rows]
    console.print(FittedTable(rich_text(f"{cmp.candidate} vs {cmp.baseline}"), columns, rows, keys=2,
                              title_justify="center"))
    console.print(_headline(cmp))
    for note in cmp.notes:
        console.print(rich_text(f"* {note}"))


def print_experiments(result: ExperimentComparison) -> None:
    """Two experiments compared, on the terminal: the verdict, the points the candidate did not finish, the
    regressions, and per metric the smallest change caught and the repeats that would catch 10% (as
    :func:`glmbench.compare.experiments.to_markdown` writes them)."""
    console = safe_console(width=140)
    colour = "red" if result.exit_code else "green"
    console.print(rich_text(result.headline(), style=f"bold {colour}"))
    console.print(rich_text(f"baseline: {result.baseline}\ncandidate: {result.candidate}"))

    def table(title: str, headers: tuple[str, ...], rows: list[list[Any]], right: tuple[str, ...] = (),
              words: tuple[str, ...] = ("why", "in the candidate")) -> FittedTable:
        columns = [Column(h, "right" if h in right else "left", words=h in words) for h in headers]
        return FittedTable(rich_text(title), columns, rows, keys=2)

    if result.incomplete:
        console.print(table("Finished in the baseline, not in the candidate (nothing vouches for these points)",
                            ("server", "point", "in the candidate"),
                            [[rich_text(cell), rich_text(point), rich_text(why)]
                             for cell, point, why in result.incomplete]))
    if result.regressions:
        console.print(table("Regressions", ("server", "point", "metric", "baseline", "candidate", "why"),
                            [[rich_text(cell), rich_text(point), rich_text(r.metric), f"{r.baseline:.4g}",
                              f"{r.candidate:.4g}", rich_text(r.verdict.why, style="red")]
                             for cell, point, r in result.regressions], right=("baseline", "candidate")))
    detectable, advice, spreads = result.detectable(), result.advice(), result.spreads()
    if detectable:
        rows = [[rich_text(metric), f"{100 * detectable[metric]:.1f}%" if metric in detectable else "-",
                 f"{100 * spreads[metric]:.1f}%" if metric in spreads else "-", result.repeats_shown(metric)]
                for metric in sorted(set(detectable) | set(advice))]
        console.print(table("Smallest change caught at every point, and the repeats per side that would catch a 10% "
                            "regression 90% of the time with at most 1% false alarms",
                            ("metric", "detectable change", "spread", "repeats"), rows,
                            right=("detectable change", "spread"), words=("repeats",)))
        if any(row.verdict.rule == "bootstrap" for _, _, cmp in result.points for row in cmp.rows):
            console.print(rich_text("* Single runs: their spread is the sampling error within a run, a lower bound "
                                    "of the spread between runs; set repeats in the experiment to measure that."))
    for line in (*result.unmatched, *result.unlike):
        console.print(rich_text(f"* {line}"))
