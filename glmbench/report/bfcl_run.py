"""One BFCL run as a report shows it: its rule sets in order (the primary first), their rows, each row's cells.

The published shape is category, accuracy, correct/total (with OVERALL among
the categories); the accuracy cell adds its 95% Wilson interval where the summary
has one, ``62.50% (57.7-67.1)``. A run asked as traffic also has a compact
latency table under them: one line per load row (``all``, then each traffic
class), the schedule in its title, and the load run's notes (a client that did
not hold its cap or was saturated flags its row with ``*``). How it is drawn is
up to each format (:mod:`glmbench.report.formats`).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glmbench.metrics.registry import column, columns
from glmbench.report.load_run import Column, cell, flagged
from glmbench.report.load_run import notes as load_notes
from glmbench.results.schema import BFCLSummary

__all__ = ["CSV_FIELDS", "INTERRUPTED_NOTE", "interrupted_note", "LATENCY_COLUMNS", "ACCEPT_COLUMN", "rule_order", "bfcl_rows",
           "score_cells", "csv_values", "latency_title", "latency_columns", "latency_cells", "latency_notes"]

# The columns of the flat table (every rule set's rows, one after another).
CSV_FIELDS = ("rules", "category", "accuracy", "accuracy_low", "accuracy_high", "correct", "total", "scored",
              "note")

INTERRUPTED_NOTE = ("interrupted: entries not answered are left out of the totals; "
                    "resume with glmbench bfcl --resume RUN_DIR")


def interrupted_note(folder: Path | None) -> str:
    """The note under an interrupted run's tables, naming its own folder where it is known."""
    return INTERRUPTED_NOTE if folder is None else INTERRUPTED_NOTE.replace("RUN_DIR", shlex.quote(str(folder)))


def rule_order(summary: BFCLSummary) -> list[str]:
    """The rule sets in the order shown: the primary, then the others as stored."""
    return [summary.primary] + [r for r in summary.tables if r != summary.primary]


def bfcl_rows(summary: BFCLSummary) -> list[dict[str, Any]]:
    """Every table's rows, the primary rule set first, each row naming its rules."""
    rows = []
    for rules in rule_order(summary):
        for row in summary.tables.get(rules, []):
            rows.append({**row, "rules": rules})
    return rows


def score_cells(row: dict[str, Any]) -> tuple[str, str]:
    """A row's accuracy (``50.00%``, then its 95% interval when it has one: ``50.00% (9.5-90.5)``) and
    correct/total (``1/2``), or ``-`` for both when it was not scored."""
    if row.get("accuracy") is None or row.get("scored") is False:
        return "-", "-"
    low, high = row.get("accuracy_low"), row.get("accuracy_high")
    interval = f" ({low:.1f}-{high:.1f})" if low is not None and high is not None else ""
    return f"{row['accuracy']:.2f}%{interval}", f"{row['correct']}/{row['total']}"


def csv_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row of :func:`bfcl_rows` as the values under :data:`CSV_FIELDS`."""
    return (row["rules"], row["category"], row.get("accuracy"), row.get("accuracy_low"), row.get("accuracy_high"),
            row.get("correct"), row.get("total"), row.get("scored", True), row.get("note") or "")


# The latency table of a run asked as traffic: what the requests cost beside what they scored.
LATENCY_COLUMNS: tuple[Column, ...] = (
    ("workload", "workload", "{}"),
    *columns("completed", "failed", "request_s", "ttft_ms_mean", "ttft_ms_p99", "ttft_tool_call_ms_mean",
             "tool_call_ms_mean", "e2e_ms_mean", "e2e_ms_p99", "output_tok_s"),
)
# Only where the server's counters gave it (a speculative-decoding server).
ACCEPT_COLUMN: Column = column("spec_accept_rate")


def latency_title(summary: BFCLSummary) -> str:
    """``Latency (closed loop, cap 8)``: the table's title, with the schedule the entries were asked on."""
    return f"Latency ({summary.schedule})" if summary.schedule else "Latency"


def latency_columns(rows: Sequence[dict[str, Any]]) -> tuple[Column, ...]:
    """The latency table's columns: :data:`LATENCY_COLUMNS`, and the acceptance rate when a row has one."""
    if any(r.get(ACCEPT_COLUMN[0]) is not None for r in rows):
        return (*LATENCY_COLUMNS, ACCEPT_COLUMN)
    return LATENCY_COLUMNS


def latency_cells(row: dict[str, Any], shown: Sequence[Column]) -> list[str]:
    """A load row's cells under ``shown``; the workload with `` *`` when its figures are
    :func:`~glmbench.report.load_run.flagged` (the notes say why)."""
    cells = [cell(row, key, fmt) for key, _, fmt in shown]
    if flagged(row):
        cells[0] += " *"
    return cells


def latency_notes(summary: BFCLSummary) -> list[str]:
    """The load run's notes on the requests (client warnings, failures with their reasons...), as a load run
    shows them; text from the server kept as is, so escape to show."""
    return load_notes(summary.load)
