"""``glmbench compare`` (a verdict and an exit code for CI) and ``glmbench history`` (a metric over runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from glmbench.errors import GlmbenchError

__all__ = ["register"]

_FORMATS = ("table", "md", "json")


def compare(
    baseline: Annotated[Path, typer.Argument(help="A result folder, a folder of repeats of one config, a published "
                                             "reference table (results/reference/lightllm-4xh200), or an experiment "
                                             "folder (then the candidate is one too).")],
    candidate: Annotated[Path, typer.Argument(help="The same, for the run under test.")],
    max_regression: Annotated[str, typer.Option(help="Largest change in the worse direction allowed, e.g. 5%.")] = "5%",
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", "-m", help="Metric to compare (summary key, e.g. ttft_ms_p99); repeatable.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table, md or json.")] = "table",
) -> None:
    """Compare a candidate with a baseline per workload and metric; exit 1 on a regression beyond noise and threshold."""
    from glmbench.compare import compare_results, parse_threshold
    from glmbench.compare.render import print_table, to_markdown
    from glmbench.experiment.index import is_experiment

    if format not in _FORMATS:
        raise GlmbenchError(f"unknown compare format {format!r}", f"use one of {', '.join(_FORMATS)}")
    if is_experiment(baseline) or is_experiment(candidate):
        from glmbench.compare import experiments as ex

        if not (is_experiment(baseline) and is_experiment(candidate)):
            raise GlmbenchError("one side is an experiment folder and the other is not",
                                "compare two experiment folders, or two result folders")
        both = ex.compare_experiments(baseline, candidate, parse_threshold(max_regression))
        if format == "table":
            from glmbench.compare.render import print_experiments

            print_experiments(both)
        else:
            typer.echo(ex.dumps(both) if format == "json" else ex.to_markdown(both), nl=format == "json")
        if both.exit_code:
            raise typer.Exit(both.exit_code)
        return
    result = compare_results(baseline, candidate, parse_threshold(max_regression), metric or [])
    if format == "json":
        typer.echo(json.dumps(result.to_json(), indent=2))
    elif format == "md":
        typer.echo(to_markdown(result), nl=False)
    else:
        print_table(result)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def history(
    results_dir: Annotated[Path, typer.Argument(help="Folder holding result folders (searched recursively).")],
    metric: Annotated[str, typer.Option("--metric", "-m", help="Summary key, e.g. ttft_ms_p99 (accuracy for BFCL).")],
    workload: Annotated[str, typer.Option("--workload", "-w", help="Workload (or BFCL category, e.g. OVERALL).")],
    plot: Annotated[Optional[Path], typer.Option(help="Write a plot of the trend here (.png or .svg).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table, md or json.")] = "table",
) -> None:
    """A metric across all runs under a folder, oldest first, as a table and optionally a plot."""
    from glmbench.compare.history import history as collect
    from glmbench.compare.history_plot import plot_history
    from glmbench.util.text import md_text, rich_text, safe_console

    if format not in _FORMATS:
        raise GlmbenchError(f"unknown history format {format!r}", f"use one of {', '.join(_FORMATS)}")
    points, skipped = collect(results_dir, metric, workload)
    # A run whose workload differs from its series' first is marked *, and says how.
    differ = any(p.differs for p in points)
    note = ("* this run's workload differs from its series' first run's (the last column says how): its value is "
            "not like for like with the trend's start")
    if format == "json":
        typer.echo(json.dumps([p.__dict__ for p in points], indent=2))
    elif format == "md":
        extra = (" workload vs the first run |", "---|") if differ else ("", "")
        lines = [f"| run | started | backend | config | point | {metric} |{extra[0]}", f"|---|---|---|---|---|---:|{extra[1]}"]
        mark = md_text(" *")
        lines += [f"| {md_text(p.run_id)} | {md_text(p.started_at)} | {md_text(p.backend)} | {md_text(p.config)} "
                  f"| {md_text(p.point)} | {p.shown()}{mark if p.differs else ''} |"
                  + (f" {md_text(p.differs or '')} |" if differ else "") for p in points]
        typer.echo("\n".join(lines + (["", md_text(note)] if differ else [])))
    else:
        from glmbench.util.fitted_table import Column, FittedTable

        headers = ["run", "started", "backend", "config", "point", metric] + (["workload vs the first run"] if differ
                                                                               else [])
        columns = [Column(h, "right" if h == metric else "left", words=h == "workload vs the first run")
                   for h in headers]
        rows = [[*(rich_text(v) for v in (p.run_id, p.started_at, p.backend, p.config, p.point)),
                 p.shown() + (" *" if p.differs else ""), *([rich_text(p.differs or "")] if differ else [])]
                for p in points]
        console = safe_console(width=160)
        console.print(FittedTable(rich_text(f"{metric}, {workload}"), columns, rows, title_justify="center"))
        if differ:
            console.print(note)
    if skipped:
        typer.echo(f"({skipped} published reference folder(s) left out: they have no run date)", err=True)
    if plot is not None:
        typer.echo(f"plot: {plot_history(points, metric, workload, plot)}", err=True)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
    app.command("history")(history)
