"""``--format table``: rich tables for the terminal (the default).

Every text from a run passes through :func:`~glmbench.util.text.rich_text`, and
consoles never read markup, so a server cannot style or garble the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from glmbench.report.formats.base import Format, Output
from glmbench.util.fitted_table import Column as FitColumn
from glmbench.util.fitted_table import FittedTable
from glmbench.util.text import rich_text

# What a report holds is imported where it is drawn: --help lists the formats without numpy or pydantic.
if TYPE_CHECKING:
    from glmbench.report.load_run import Column
    from glmbench.report.model import (
        BFCLRunReport,
        EquivalenceRunReport,
        ExperimentView,
        LoadRunReport,
        RunsReport,
    )

__all__ = ["Terminal", "FORMAT", "speed_tables"]


def speed_tables(rows: Sequence[dict[str, Any]], title: str = "") -> list[Any]:
    """The published-shape table, then counts, latency detail and client/schedule facts of one load run."""
    from glmbench.metrics.base import STATS
    from glmbench.report.load_run import (
        COUNT_COLUMNS,
        PUBLISHED_COLUMNS,
        cell,
        client_columns,
        detail_rows,
        flag,
    )

    def simple(name: str, columns: Sequence[Column]) -> FittedTable:
        # The schedule is words ("closed loop, cap 512"); the rest names and figures, never broken inside.
        shown = [FitColumn(header, "left" if i == 0 or key == "description" else "right", words=key == "description")
                 for i, (key, header, _) in enumerate(columns)]
        return FittedTable(rich_text(name), shown, [[rich_text(cell(flag(r), k, f)) for k, _, f in columns]
                                                    for r in rows])

    detail = FittedTable("Latency (ms)", [FitColumn("workload"), FitColumn("metric"),
                                          *(FitColumn(stat, "right") for stat in STATS)],
                         [[rich_text(workload), label, *cells] for workload, label, cells in detail_rows(rows)], keys=2)
    return [simple(title or "Speed", PUBLISHED_COLUMNS), simple("Requests and throughput", COUNT_COLUMNS), detail,
            simple("Schedule and client", client_columns(rows))]


def _frame_table(title: str, frame: Any) -> Any:
    """A display frame as a table: the first two columns (names, repeated when the table is split) left, figures
    right."""
    columns = [FitColumn(str(col), "left" if i < 2 else "right") for i, col in enumerate(frame.columns)]
    return FittedTable(rich_text(title), columns, [[rich_text(v) for v in row] for row in frame.itertuples(index=False)],
                       keys=2)


# Headers of words, not figures, past an experiment table's first three columns.
_WORDS = ("why", "Pareto", "pass", "gate", "outputs vs reference")


def _cells_table(title: str, headers: list[str], rows: list[list[str]], names: int = 3) -> Any:
    """An experiment table: names (the first ``names`` columns) and words left, figures right; split, it repeats
    its first two columns (server and point)."""
    columns = [FitColumn(h, "right" if i >= names and h not in _WORDS else "left", words=h in _WORDS and h != "gate")
               for i, h in enumerate(headers)]
    return FittedTable(rich_text(title), columns, [[rich_text(c) for c in row] for row in rows], keys=min(names, 2))


class Terminal(Format):
    """Tables on the terminal; off a terminal (CI logs) at a fixed width."""

    name = "table"
    help = "tables on the terminal"

    def load_run(self, report: LoadRunReport) -> Output:
        """The speed tables, then the notes."""
        return self.speed(report.rows, report.title, report.notes)

    def speed(self, rows: Sequence[dict[str, Any]], title: str, notes: Sequence[str] | None = None) -> Output:
        """A load run's speed tables from its summary rows, then its notes (worked out here when not given)."""
        from glmbench.report.load_run import notes as run_notes

        shown = tuple(rich_text(f"* {n}") for n in (run_notes(rows) if notes is None else notes))
        return Output(console=(*speed_tables(rows, title), *shown), width=120)

    def bfcl_run(self, report: BFCLRunReport) -> Output:
        """One table per rule set, the primary first; categories in upper case (OVERALL) in bold; then, for a
        run asked as traffic, the latency table and its notes (wider: it has a dozen columns)."""
        from glmbench.bfcl.registry import rule_set_title
        from glmbench.report.bfcl_run import interrupted_note, latency_cells, latency_title, score_cells

        out: list[Any] = []
        columns = [FitColumn("Category"), FitColumn("Accuracy", "right"), FitColumn("Correct", "right"),
                   FitColumn("Note", words=True)]
        for rules in report.rule_order:
            rows = []
            for row in report.summary.tables.get(rules, []):
                acc, frac = score_cells(row)
                name = row["category"]
                rows.append([rich_text(name, style="bold" if name.isupper() else ""), acc, frac,
                             rich_text(row.get("note") or "")])
            out.append(FittedTable(rich_text(f"{report.title}: {rule_set_title(rules)}"), columns, rows))
        if report.load_rows:
            shown = report.latency_columns
            out.append(FittedTable(rich_text(f"{report.title}: {latency_title(report.summary)}"),
                                   [FitColumn(header, "left" if i == 0 else "right")
                                    for i, (_, header, _) in enumerate(shown)],
                                   [[rich_text(c) for c in latency_cells(row, shown)] for row in report.load_rows]))
            out += [rich_text(f"* {n}") for n in report.latency_notes]
        if report.summary.interrupted:
            out.append(f"* {interrupted_note(report.folder)}")
        return Output(console=tuple(out), width=160 if report.load_rows else None)

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """The passes, the run's own batch invariance and where its outputs differ alone and under load, then
        the notes."""
        summary = report.summary
        asked = ", ".join(f"{n} {kind}" for kind, n in summary.prompts.items())
        out: list[Any] = [rich_text(f"{report.title}: equivalence suite {summary.suite}, {summary.api}, "
                                    f"{summary.max_tokens} tokens per prompt ({asked})"),
                          _cells_table("passes", *report.passes, names=1)]
        headers, rows = report.invariance
        if rows:
            out.append(_cells_table("its own outputs alone against under load (batch invariance)", headers, rows,
                                    names=1))
        headers, rows = report.differences
        if rows:
            out.append(_cells_table("where its outputs differ alone and under load", headers, rows, names=1))
        out += [rich_text(f"* {n}") for n in report.notes]
        return Output(console=tuple(out), width=160)

    def runs(self, report: RunsReport) -> Output:
        """Speed (with differences), detail and BFCL per category, then the notes."""
        tables = report.tables
        out: list[Any] = []
        if not tables.speed.empty:
            out += [_frame_table(f"Speed (baseline {tables.baseline})", tables.display_speed()),
                    _frame_table("Detail", tables.display_detail())]
        if not tables.bfcl.empty:
            out.append(_frame_table("BFCL accuracy per category", tables.display_bfcl()))
        if not tables.bfcl_load.empty:
            out.append(_frame_table(tables.bfcl_load_title(), tables.display_bfcl_load()))
        out += [rich_text(f"* {n}") for n in tables.notes()]
        return Output(console=tuple(out), width=160)

    def experiment(self, report: ExperimentView) -> Output:
        """The per-server table, then every point, then the outputs against the reference (with an equivalence
        point), then the notes."""
        name = report.report.name
        out: list[Any] = [_cells_table(f"experiment {name}: servers", *report.servers),
                          _cells_table(f"experiment {name}: points", *report.points)]
        headers, rows = report.outputs
        if rows:
            out.append(_cells_table(f"experiment {name}: outputs against the reference server's", headers, rows,
                                    names=4))
        out += [rich_text(f"note: {n}") for n in report.notes]
        return Output(console=tuple(out), width=160)


FORMAT = Terminal()
