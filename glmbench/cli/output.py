"""Printing result tables to the terminal (shared by ``run`` and ``report``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["print_speed"]


def print_speed(rows: Sequence[dict[str, Any]], title: str) -> None:
    """The speed tables and their notes on stdout; 120 columns when stdout is not a terminal (CI logs)."""
    from glmbench.report.speed import notes, rich_tables
    from glmbench.util.text import rich_text, safe_console

    out = safe_console(width=120)
    for table in rich_tables(rows, title=title):
        out.print(table)
    for note in notes(rows):
        out.print(rich_text(f"* {note}"))
