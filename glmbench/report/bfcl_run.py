"""One BFCL run as a report shows it: its rule sets in order (the primary first), their rows, each row's cells.

The published shape is category, accuracy, correct/total (with OVERALL among
the categories); the accuracy cell adds its 95% Wilson interval where the summary
has one, ``62.50% (57.7-67.1)``. How it is drawn is up to each format
(:mod:`glmbench.report.formats`).
"""

from __future__ import annotations

from typing import Any

from glmbench.results.schema import BFCLSummary

__all__ = ["CSV_FIELDS", "INTERRUPTED_NOTE", "rule_order", "bfcl_rows", "score_cells", "csv_values"]

# The columns of the flat table (every rule set's rows, one after another).
CSV_FIELDS = ("rules", "category", "accuracy", "accuracy_low", "accuracy_high", "correct", "total", "scored",
              "note")

INTERRUPTED_NOTE = ("interrupted: entries not answered are left out of the totals; "
                    "resume with glmbench bfcl --resume RUN_DIR")


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
