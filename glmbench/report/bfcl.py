"""BFCL tables: the published shape (category, accuracy, correct/total, OVERALL) for each rule set."""

from __future__ import annotations

import json
from typing import Any

from glmbench.bfcl.registry import rule_set_title
from glmbench.results.schema import BFCLSummary

__all__ = ["bfcl_rows", "bfcl_json", "bfcl_markdown", "bfcl_csv", "print_bfcl"]


def bfcl_rows(summary: BFCLSummary) -> list[dict[str, Any]]:
    """Every table's rows, the primary rule set first, each row naming its rules."""
    order = [summary.primary] + [r for r in summary.tables if r != summary.primary]
    rows = []
    for rules in order:
        for row in summary.tables.get(rules, []):
            rows.append({**row, "rules": rules})
    return rows


def bfcl_json(summary: BFCLSummary) -> str:
    return json.dumps(bfcl_rows(summary), indent=2)


def _cell(row: dict[str, Any]) -> tuple[str, str]:
    if row.get("accuracy") is None or row.get("scored") is False:
        return "-", "-"
    return f"{row['accuracy']:.2f}%", f"{row['correct']}/{row['total']}"


def bfcl_markdown(summary: BFCLSummary) -> str:
    from glmbench.util.text import md_text

    out = []
    for rules in [summary.primary] + [r for r in summary.tables if r != summary.primary]:
        out.append(f"**{rule_set_title(rules)}** ({summary.mode} tool calling, {summary.style} requests)\n")
        out.append("| category | accuracy | correct/total | note |\n|---|---|---|---|")
        for row in summary.tables.get(rules, []):
            acc, frac = _cell(row)
            out.append(f"| {md_text(row['category'])} | {acc} | {frac} | {md_text(row.get('note') or '')} |")
        out.append("")
    return "\n".join(out) + "\n"


def bfcl_csv(summary: BFCLSummary) -> str:
    import csv
    import io

    from glmbench.util.text import csv_cell

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["rules", "category", "accuracy", "correct", "total", "scored", "note"])
    for row in bfcl_rows(summary):
        writer.writerow([csv_cell(v) for v in (row["rules"], row["category"], row.get("accuracy"), row.get("correct"),
                                               row.get("total"), row.get("scored", True), row.get("note") or "")])
    return buf.getvalue()


def print_bfcl(summary: BFCLSummary, title: str) -> None:
    """The tables on the terminal, primary rule set first."""
    from rich.table import Table

    from glmbench.util.text import rich_text, safe_console

    console = safe_console()
    for rules in [summary.primary] + [r for r in summary.tables if r != summary.primary]:
        table = Table(title=rich_text(f"{title}: {rule_set_title(rules)}"), title_justify="left")
        for col, just in (("Category", "left"), ("Accuracy", "right"), ("Correct", "right"), ("Note", "left")):
            table.add_column(col, justify=just, overflow="fold")
        for row in summary.tables.get(rules, []):
            acc, frac = _cell(row)
            name = row["category"]
            table.add_row(rich_text(name, style="bold" if name.isupper() else ""), acc, frac, rich_text(row.get("note") or ""))
        console.print(table)
    if summary.interrupted:
        console.print("* interrupted: entries not answered are left out of the totals; "
                      "resume with glmbench bfcl --resume RUN_DIR")
