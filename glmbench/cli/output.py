"""Printing a report's output on stdout (shared by ``run``, ``bench``, ``bfcl``, ``rescore``, ``report`` and
``experiment run``): every terminal table comes from the ``table`` output format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from glmbench.report.formats.base import Output
    from glmbench.results.schema import BFCLSummary

__all__ = ["print_output", "print_speed", "print_bfcl"]


def print_output(output: Output) -> None:
    """An output on stdout: its text exactly, or its tables on a console (of its width when not a terminal)."""
    if output.console is not None:
        from glmbench.util.text import safe_console

        console = safe_console(width=output.width)
        for item in output.console:
            console.print(item)
    else:
        typer.echo(output.text or "", nl=False)


def print_speed(rows: Sequence[dict[str, Any]], title: str) -> None:
    """A load run's speed tables and their notes, as ``glmbench report`` shows a stored one."""
    from glmbench.report.formats.terminal import FORMAT

    print_output(FORMAT.speed(rows, title))


def print_bfcl(summary: BFCLSummary, title: str) -> None:
    """A BFCL run's tables, the primary rule set first, then (asked as traffic) its requests' latency table and
    notes, as ``glmbench report`` shows a stored one."""
    from glmbench.report.formats.terminal import FORMAT
    from glmbench.report.model import BFCLRunReport

    print_output(FORMAT.bfcl_run(BFCLRunReport(title, summary)))
