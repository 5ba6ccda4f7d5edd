"""``glmbench report``: tables, plots and an HTML file from stored result folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmbench.errors import GlmbenchError

__all__ = ["register"]

_FORMATS = ("table", "json", "md", "csv")


def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Folders written by 'glmbench run' or 'glmbench bfcl'; "
                                                        "the first is the baseline for differences.")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, json, md or csv.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write one self-contained HTML report here.")] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write every plot as PNG and SVG into this folder.")]
    = None,
) -> None:
    """Print runs' results (one run: its tables; several: side by side with differences), and optionally
    write an HTML report and plot files."""
    if format not in _FORMATS:
        raise GlmbenchError(f"unknown report format {format!r}", f"use one of {', '.join(_FORMATS)}")
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            raise GlmbenchError(f"no result folder at {run_dir}",
                                "pass a folder under results/ written by 'glmbench run'")
    from glmbench.experiment.index import is_experiment

    if len(run_dirs) == 1 and is_experiment(run_dirs[0]):
        _experiment(run_dirs[0], format, out, plots)
        return
    if out is not None or plots is not None:
        _write_files(run_dirs, out, plots)
    if len(run_dirs) == 1:
        _print_one(run_dirs[0], format)
    else:
        _print_many(run_dirs, format)


def _print_one(run_dir: Path, format: str) -> None:
    from glmbench.results.store import load_any_summary

    summary = load_any_summary(run_dir)
    text, table = _renderers(summary.kind)
    if format == "table":
        table(summary, run_dir.name)
    else:
        result = text[format](summary)
        typer.echo(result, nl=not result.endswith("\n"))


def _print_many(run_dirs: list[Path], format: str) -> None:
    from glmbench.report import tables as t
    from glmbench.report.runs import open_runs

    tables = t.build_tables(open_runs(run_dirs))
    if format == "table":
        from glmbench.util.text import safe_console

        console = safe_console(width=160)
        for item in t.rich_tables(tables):
            console.print(item)
        return
    result = {"json": t.to_json, "md": t.to_markdown, "csv": t.to_csv}[format](tables)
    typer.echo(result, nl=not result.endswith("\n"))


def _write_files(run_dirs: list[Path], out: Path | None, plots_dir: Path | None) -> None:
    from glmbench.report.plots import make_plots
    from glmbench.report.runs import open_runs
    from glmbench.report.tables import build_tables

    runs = open_runs(run_dirs)
    plots = make_plots(runs)
    if plots_dir is not None:
        _save_plots(plots, plots_dir)
    if out is not None:
        from glmbench.report.html import render_html

        title = "glmbench report: " + ", ".join(r.label for r in runs)
        _write_html(out, render_html(build_tables(runs), plots, title=title))


def _save_plots(plots: list, plots_dir: Path) -> None:
    """Every plot as PNG and SVG under ``plots_dir`` (made with its parents); a folder that cannot be written
    is a user error, not a traceback."""
    from glmbench.report.plots import save_plots

    try:
        written = save_plots(plots, plots_dir)
    except OSError as exc:
        raise GlmbenchError(f"cannot write plots to {plots_dir}: {_why(exc)}",
                            "pass --plots a writable folder") from None
    typer.echo(f"wrote {len(written)} plot files to {plots_dir}", err=True)


def _write_html(out: Path, html: str) -> None:
    """The HTML report at ``out`` (its folders made), as UTF-8; a path that cannot be written is a user error."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise GlmbenchError(f"cannot write {out}: {_why(exc)}", "pass --out a writable path") from None
    typer.echo(f"wrote {out}", err=True)


def _why(exc: OSError) -> str:
    """An OSError in a few words, naming the path it was about."""
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def _renderers(kind: str):
    """(format -> text of a summary, the terminal table) for a kind of run."""
    if kind == "bfcl":
        from glmbench.report.bfcl import bfcl_csv, bfcl_json, bfcl_markdown, print_bfcl

        return {"json": bfcl_json, "md": bfcl_markdown, "csv": bfcl_csv}, print_bfcl
    from glmbench.cli.output import print_speed
    from glmbench.report.speed import json_rows, to_csv, to_markdown

    return ({"json": lambda s: json_rows(s.rows), "md": lambda s: to_markdown(s.rows), "csv": lambda s: to_csv(s.rows)},
            lambda s, title: print_speed(s.rows, title))


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def _experiment(folder: Path, format: str, out: Path | None, plots_dir: Path | None) -> None:
    """An experiment folder: per-server and per-point tables, the Pareto frontier and throughput-latency plots."""
    from glmbench.report import experiment as e

    report = e.experiment_report(folder)
    if out is not None or plots_dir is not None:
        plots = e.experiment_plots(report)
        if plots_dir is not None:
            _save_plots(plots, plots_dir)
        if out is not None:
            _write_html(out, e.render_experiment_html(report, plots))
    if format == "table":
        from glmbench.cli.experiment import print_experiment

        print_experiment(folder)
        return
    if format == "csv":
        import csv
        import io

        from glmbench.util.text import csv_cell

        buf = io.StringIO()
        headers, rows = e.point_table(report)
        writer = csv.writer(buf)
        writer.writerow(headers)
        writer.writerows([csv_cell(c) for c in row] for row in rows)
        typer.echo(buf.getvalue(), nl=False)
        return
    typer.echo(e.to_json(report) if format == "json" else e.to_markdown(report), nl=False)
