"""``glmbench report``: tables, plots and an HTML file from stored result folders.

What a report shows is worked out in :mod:`glmbench.report.model`; each output
format is a module of :mod:`glmbench.report.formats`, found by the name
``--format`` takes. This command only says where each output goes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmbench.errors import GlmbenchError
from glmbench.report.formats.registry import DEFAULT, printed_formats

__all__ = ["register"]

_FORMAT_HELP = "; ".join(f"{name}: {fmt.help}" for name, fmt in printed_formats().items()) + "."


def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Result folders (of run, bench, bfcl, equivalence), an "
                                                        "experiment folder, or a published reference table "
                                                        "(results/reference/lightllm-4xh200); with several, the first "
                                                        "is the baseline for differences.")],
    format: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help=_FORMAT_HELP)] = DEFAULT,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write one self-contained HTML report here.")] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write every plot as PNG and SVG into this folder.")]
    = None,
) -> None:
    """Print results: a run's tables, or several runs side by side; optionally an HTML report and plots."""
    from glmbench.cli.output import print_output
    from glmbench.report.formats.base import render
    from glmbench.report.formats.registry import get_format
    from glmbench.report.model import open_report

    shown = get_format(format)
    _one_experiment_at_a_time(run_dirs)
    found = open_report(run_dirs)
    if plots is not None:
        _write_folder(render(get_format("plots", printed=False), found).files or {}, plots)
    if out is not None:
        _write_file(render(get_format("html"), found).text or "", out)
    print_output(render(shown, found))


def _one_experiment_at_a_time(paths: list[Path]) -> None:
    """Experiment folders are reported one at a time; two of them side by side is what ``compare`` does."""
    from glmbench.experiment.index import is_experiment

    experiments = [p for p in paths if is_experiment(p)]
    if len(paths) > 1 and experiments:
        if len(experiments) == len(paths) == 2:
            raise GlmbenchError(f"report shows one experiment folder at a time; {paths[0]} and {paths[1]} are two",
                                f"glmbench compare {paths[0]} {paths[1]} compares them point by point")
        raise GlmbenchError(f"{experiments[0]} is an experiment folder: report takes it alone, not beside other "
                            "folders", f"glmbench report {experiments[0]}; glmbench compare EXP_A EXP_B compares "
                            "two experiments")


def _write_folder(files: dict[str, bytes], folder: Path) -> None:
    """Every file under ``folder`` (made with its parents); a folder that cannot be written is a user error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    except OSError as exc:
        raise GlmbenchError(f"cannot write plots to {folder}: {_why(exc)}",
                            "pass --plots a writable folder") from None
    typer.echo(f"wrote {len(files)} plot files to {folder}", err=True)


def _write_file(text: str, out: Path) -> None:
    """The HTML report at ``out`` (its folders made), as UTF-8; a path that cannot be written is a user error."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GlmbenchError(f"cannot write {out}: {_why(exc)}", "pass --out a writable path") from None
    typer.echo(f"wrote {out}", err=True)


def _why(exc: OSError) -> str:
    """An OSError in a few words, naming the path it was about."""
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the app."""
    app.command("report")(report)
