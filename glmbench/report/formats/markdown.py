"""``--format md``: markdown tables, for a CI step summary or a pull request; every cell from a run escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glmbench.report.formats.base import Format, Output, text_output
from glmbench.util.text import md_text

if TYPE_CHECKING:
    from glmbench.report.model import (
        BFCLRunReport,
        EquivalenceRunReport,
        ExperimentView,
        LoadRunReport,
        RunsReport,
    )

__all__ = ["Markdown", "FORMAT"]


def _speed_cell(row: dict[str, Any], key: str, fmt: str) -> str:
    """A cell as markdown: its text escaped, then glmbench's own flag."""
    from glmbench.report.load_run import cell, flagged

    text = md_text(cell(row, key, fmt))
    return f"{text} *" if key == "title" and flagged(row) else text


def _frame_table(frame: Any) -> str:
    """A display frame: the first two columns (names) left-aligned, figures right."""
    head = "| " + " | ".join(md_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(frame.columns))) + "|"
    body = ["| " + " | ".join(md_text(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _cells_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(md_text(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
            + ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows])


class Markdown(Format):
    """Markdown tables and a bullet per note."""

    name = "md"
    help = "markdown, for a CI step summary"

    def load_run(self, report: LoadRunReport) -> Output:
        """The published speed table, then the notes."""
        from glmbench.report.load_run import PUBLISHED_COLUMNS

        columns = PUBLISHED_COLUMNS
        head = "| " + " | ".join(h for _, h, _ in columns) + " |"
        rule = "|" + "|".join("---" for _ in columns) + "|"
        body = ["| " + " | ".join(_speed_cell(r, k, f) for k, _, f in columns) + " |" for r in report.rows]
        extra = [f"\n* {md_text(n)}" for n in report.notes]
        return text_output("\n".join([head, rule, *body]) + "".join(extra) + "\n")

    def bfcl_run(self, report: BFCLRunReport) -> Output:
        """One table per rule set, the primary first; then, for a run asked as traffic, the latency table and
        its notes."""
        from glmbench.bfcl.registry import rule_set_title
        from glmbench.report.bfcl_run import latency_cells, latency_title, score_cells

        summary = report.summary
        out = []
        for rules in report.rule_order:
            out.append(f"**{rule_set_title(rules)}** ({summary.mode} tool calling, {summary.style} requests)\n")
            out.append("| category | accuracy | correct/total | note |\n|---|---|---|---|")
            for row in summary.tables.get(rules, []):
                acc, frac = score_cells(row)
                out.append(f"| {md_text(row['category'])} | {acc} | {frac} | {md_text(row.get('note') or '')} |")
            out.append("")
        if report.load_rows:
            shown = report.latency_columns
            out.append(f"**{md_text(latency_title(summary))}**\n")
            out.append("| " + " | ".join(h for _, h, _ in shown) + " |")
            out.append("|---|" + "|".join("---:" for _ in shown[1:]) + "|")
            out += ["| " + " | ".join(md_text(c) for c in latency_cells(row, shown)) + " |" for row in report.load_rows]
            out += [""] + [f"* {md_text(n)}" for n in report.latency_notes] + ([""] if report.latency_notes else [])
        return text_output("\n".join(out) + "\n")

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """The passes, the run's own batch invariance and where its outputs differ, then the notes."""
        summary = report.summary
        lines = [f"**{md_text(report.title)}**: equivalence, {md_text(summary.api)}, {summary.max_tokens} tokens", "",
                 *_cells_table(*report.passes), ""]
        for title, (headers, rows) in (("Its own outputs alone against under load", report.invariance),
                                       ("Where its outputs differ alone and under load", report.differences)):
            if rows:
                lines += [f"**{title}**", "", *_cells_table(headers, rows), ""]
        lines += [f"* {md_text(n)}" for n in report.notes]
        return text_output("\n".join(lines) + "\n")

    def runs(self, report: RunsReport) -> Output:
        """Speed, detail, BFCL per category, then the notes."""
        tables = report.tables
        parts = []
        if tables.baseline and len(tables.runs) > 1:
            parts.append(f"Baseline: {md_text(tables.baseline)}; other runs show (difference, percent) against it.\n")
        if not tables.speed.empty:
            parts += ["### Speed\n", _frame_table(tables.display_speed()), "", "### Detail\n",
                      _frame_table(tables.display_detail()), ""]
        if not tables.bfcl.empty:
            parts += ["### BFCL accuracy per category\n", _frame_table(tables.display_bfcl()), ""]
        if not tables.bfcl_load.empty:
            parts += [f"### {md_text(tables.bfcl_load_title())}\n", _frame_table(tables.display_bfcl_load()), ""]
        notes = tables.notes()
        if notes:
            parts += [f"* {md_text(n)}" for n in notes] + [""]
        return text_output("\n".join(parts))

    def experiment(self, report: ExperimentView) -> Output:
        """The server and point tables, the outputs against the reference (with an equivalence point), then the
        notes."""
        name, status, objective = report.report.name, report.report.status, report.report.objective
        lines = [f"## Experiment {md_text(name)} ({md_text(status)})", "",
                 f"Best server by {md_text(objective)}: {md_text(report.best_server)}", "", "### Servers", ""]
        lines += _cells_table(*report.servers) + ["", "### Points", ""] + _cells_table(*report.points)
        if report.outputs[1]:
            lines += ["", "### Outputs against the reference server's", ""] + _cells_table(*report.outputs)
        lines += ["", *[f"- {md_text(n)}" for n in report.notes]] if report.notes else []
        return text_output("\n".join(lines) + "\n")


FORMAT = Markdown()
