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
    baseline: Annotated[Path, typer.Argument(help="A result folder, or a folder of repeats of one config.")],
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
    if format == "json":
        typer.echo(json.dumps([p.__dict__ for p in points], indent=2))
    elif format == "md":
        lines = [f"| run | started | backend | config | point | {metric} |", "|---|---|---|---|---|---:|"]
        lines += [f"| {md_text(p.run_id)} | {md_text(p.started_at)} | {md_text(p.backend)} | {md_text(p.config)} "
                  f"| {md_text(p.point)} | {p.shown()} |" for p in points]
        typer.echo("\n".join(lines))
    else:
        from rich.table import Table

        table = Table(title=rich_text(f"{metric}, {workload}"))
        for name in ("run", "started", "backend", "config", "point", metric):
            table.add_column(name, justify="right" if name == metric else "left")
        for p in points:
            table.add_row(*(rich_text(v) for v in (p.run_id, p.started_at, p.backend, p.config, p.point)), p.shown())
        safe_console(width=160).print(table)
    if skipped:
        typer.echo(f"({skipped} published reference folder(s) left out: they have no run date)", err=True)
    if plot is not None:
        typer.echo(f"plot: {plot_history(points, metric, workload, plot)}", err=True)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
    app.command("history")(history)
