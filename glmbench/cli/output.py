"""Printing a report's output on stdout (shared by ``run``, ``bench``, ``bfcl``, ``rescore``, ``report`` and
``experiment run``): every terminal table comes from the ``table`` output format.

``run``, ``bench`` and ``bfcl`` take ``--format`` and ``--quiet`` (:data:`FormatOption`, :data:`QuietOption`)
and show what they ran through a :class:`Shown`: the tables, or another report format on stdout with nothing
else there (the results folder then goes to stderr), and with ``--quiet`` no progress and, as tables, only the
results folder on stdout, for ``RUN_DIR=$(glmbench run -q ...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glmbench.errors import GlmbenchError, did_you_mean
from glmbench.report.formats.registry import DEFAULT, printed_formats

if TYPE_CHECKING:
    from pathlib import Path

    from glmbench.cli.progress import TerminalProgress
    from glmbench.report.formats.base import Output
    from glmbench.results.schema import BFCLSummary

__all__ = ["print_output", "print_speed", "print_bfcl", "Shown", "FormatOption", "QuietOption", "RUN_FORMATS"]

# The report formats a run can print as it ends; html draws from the result folder (glmbench report --out).
RUN_FORMATS = tuple(name for name in printed_formats() if name != "html")

FormatOption = Annotated[str, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help=f"What stdout gets: {', '.join(RUN_FORMATS)} (as glmbench report --format writes them; json: the summary "
         "rows). Any format but table leaves stdout to that output alone and writes the results folder to stderr.")]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress or notes on stderr; with tables, stdout is the results folder alone.")]


def print_output(output: Output) -> None:
    """An output on stdout: its text exactly, or its tables on a console (of its width when not a terminal)."""
    if output.console is not None:
        from glmbench.util.text import safe_console

        console = safe_console(width=output.width)
        for item in output.console:
            console.print(item)
    else:
        typer.echo(output.text or "", nl=False)


@dataclass(frozen=True)
class Shown:
    """How a command shows what it ran: ``format`` (a report format) on stdout; ``quiet``: no progress."""

    format: str = DEFAULT
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.format not in RUN_FORMATS:
            raise GlmbenchError(f"--format {self.format}: no such format{did_you_mean(self.format, RUN_FORMATS)}",
                                f"use one of {', '.join(RUN_FORMATS)}")

    @property
    def tables(self) -> bool:
        """Whether stdout gets tables (the terminal format, not quiet)."""
        return self.format == DEFAULT and not self.quiet

    def progress(self) -> TerminalProgress:
        """Progress on stderr; with ``quiet``, none but warnings."""
        from glmbench.cli.progress import QuietProgress, TerminalProgress

        return QuietProgress() if self.quiet else TerminalProgress()

    def _render(self, report: Any) -> None:
        from glmbench.report.formats.base import render
        from glmbench.report.formats.registry import get_format

        if self.format != DEFAULT or not self.quiet:
            print_output(render(get_format(self.format), report))

    def speed(self, rows: Sequence[dict[str, Any]], title: str) -> None:
        """A load run's summary rows: its speed tables and notes, or the rows in the format asked."""
        from glmbench.report.model import LoadRunReport
        from glmbench.results.schema import LoadSummary

        self._render(LoadRunReport(title, LoadSummary(run_id=title, rows=list(rows))))

    def bfcl(self, summary: BFCLSummary, title: str, folder: Path | None = None) -> None:
        """A BFCL run's tables (``folder``: the run's, which the notes name), or its rows in the format asked."""
        from glmbench.report.model import BFCLRunReport

        self._render(BFCLRunReport(title, summary, folder))

    def results(self, folder: Path) -> None:
        """Where the results went: on stdout after tables (alone when quiet), on stderr beside another format."""
        if self.format == DEFAULT:
            typer.echo(str(folder) if self.quiet else f"results: {folder}")
        elif not self.quiet:
            typer.echo(f"results: {folder}", err=True)


def print_speed(rows: Sequence[dict[str, Any]], title: str, shown: Shown | None = None) -> None:
    """A load run's speed tables and their notes, as ``glmbench report`` shows a stored one (or as ``shown``)."""
    (shown or Shown()).speed(rows, title)


def print_bfcl(summary: BFCLSummary, title: str, folder: Path | None = None, shown: Shown | None = None) -> None:
    """A BFCL run's tables, the primary rule set first, then (asked as traffic) its requests' latency table and
    notes, as ``glmbench report`` shows a stored one; ``folder``: the run's, which the notes name."""
    (shown or Shown()).bfcl(summary, title, folder)
