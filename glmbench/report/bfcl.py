"""A BFCL run's tables on the terminal, under the name ``glmbench bfcl`` and ``glmbench rescore`` import: the rows
live in :mod:`glmbench.report.bfcl_run`, the tables in :mod:`glmbench.report.formats.terminal`."""

from __future__ import annotations

from glmbench.report.bfcl_run import bfcl_rows
from glmbench.results.schema import BFCLSummary

__all__ = ["bfcl_rows", "print_bfcl"]


def print_bfcl(summary: BFCLSummary, title: str) -> None:
    """The tables on the terminal, primary rule set first."""
    from glmbench.report.formats.terminal import FORMAT
    from glmbench.report.model import BFCLRunReport
    from glmbench.util.text import safe_console

    output = FORMAT.bfcl_run(BFCLRunReport(title, summary))
    console = safe_console(width=output.width)
    for item in output.console or ():
        console.print(item)
