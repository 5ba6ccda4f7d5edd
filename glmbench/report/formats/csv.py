"""``--format csv``: one row per workload and run (or per BFCL category, or per experiment point), for spreadsheets.

A run's rows and an experiment's points are written alike: the summary's own
keys as headers (``ttft_ms_p99``) and its values unrounded, so one script reads
both; a repeated result's interval ``{key}_ci`` becomes ``{key}_ci_low`` and
``{key}_ci_high``. Every cell passes through :func:`~glmbench.util.text.csv_cell`,
so a spreadsheet does not run a cell that starts like a formula.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from glmbench.report.formats.base import Format, Output, text_output
from glmbench.util.text import csv_cell

if TYPE_CHECKING:
    from glmbench.report.model import (
        BFCLRunReport,
        EquivalenceRunReport,
        ExperimentView,
        LoadRunReport,
        RunsReport,
    )

__all__ = ["Csv", "FORMAT"]


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A summary row or an experiment point as CSV cells: plain values as they are, an interval ``[low, high]``
    under ``{key}_ci`` as two columns, a list of texts joined with ``; ``; nested data (errors, the outputs
    compared) left out."""
    from glmbench.metrics.repeats import CI_SUFFIX

    out: dict[str, Any] = {}
    for key, value in row.items():
        if key.endswith(CI_SUFFIX) and isinstance(value, (list, tuple)) and len(value) == 2:
            out[f"{key}_low"], out[f"{key}_high"] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out[key] = "; ".join(value)
        elif not isinstance(value, (dict, list, tuple)):
            out[key] = value
    return out


def _rows_csv(rows: list[dict[str, Any]]) -> str:
    """Every plain field of ``rows`` (see :func:`_flat`), in the order they first appear."""
    flat = [_flat(r) for r in rows]
    keys = list(dict.fromkeys(k for r in flat for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[csv_cell(k) for k in keys], extrasaction="ignore")
    writer.writeheader()
    writer.writerows({csv_cell(k): csv_cell(v) for k, v in r.items()} for r in flat)
    return buf.getvalue()


class Csv(Format):
    """CSV with a header row."""

    name = "csv"
    help = "CSV, one row per workload and run"

    def load_run(self, report: LoadRunReport) -> Output:
        """Every plain field of the summary rows (nested ones, such as errors, left out)."""
        return text_output(_rows_csv(report.rows))

    def bfcl_run(self, report: BFCLRunReport) -> Output:
        """One row per rule set and category; for a run asked as traffic, after a blank line, one row per load
        row: the latency table's figures (raw, keyed as the summary), the schedule and the client's warning."""
        from glmbench.report.bfcl_run import CSV_FIELDS, csv_values

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_FIELDS)
        writer.writerows([csv_cell(v) for v in csv_values(row)] for row in report.rows)
        if report.load_rows:
            keys = [k for k, _, _ in report.latency_columns]
            buf.write("\n")
            writer.writerow([*keys, "schedule", "client_warning"])
            writer.writerows([csv_cell(row.get(k)) for k in keys]
                             + [csv_cell(report.summary.schedule), csv_cell(row.get("client_warning"))]
                             for row in report.load_rows)
        return text_output(buf.getvalue())

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """The passes; after a blank line, the run's own batch invariance (with a pass under load)."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        for i, (headers, rows) in enumerate((report.passes, report.invariance)):
            if rows:
                if i:
                    buf.write("\n")
                writer.writerow(headers)
                writer.writerows([csv_cell(c) for c in row] for row in rows)
        return text_output(buf.getvalue())

    def runs(self, report: RunsReport) -> Output:
        """The speed figures joined with the detail (one row per workload and run), then the BFCL rows, then
        the latency rows of BFCL runs asked as traffic (when there are some)."""
        tables = report.tables
        parts = []
        if not tables.speed.empty:
            speed = tables.speed.drop(columns=[c for c in tables.speed.columns if c.endswith("_base")] + ["flag"])
            merged = speed.merge(tables.detail, on=["workload", "run"], how="left")
            parts.append(merged.map(csv_cell).rename(columns=csv_cell).to_csv(index=False))
        if not tables.bfcl.empty:
            parts.append(tables.bfcl.map(csv_cell).rename(columns=csv_cell).to_csv(index=False))
        if not tables.bfcl_load.empty:
            parts.append(tables.bfcl_load.map(csv_cell).rename(columns=csv_cell).to_csv(index=False))
        return text_output("\n".join(parts))

    def experiment(self, report: ExperimentView) -> Output:
        """Every point with the summary's keys and unrounded values, as a run's rows are written (``cell`` and
        ``point`` first); after a blank line, the outputs against the reference (with an equivalence point)."""
        buf = io.StringIO()
        buf.write(_rows_csv(report.report.points))
        headers, rows = report.outputs
        if rows:
            writer = csv.writer(buf)
            buf.write("\n")
            writer.writerow(headers)
            writer.writerows([csv_cell(c) for c in row] for row in rows)
        return text_output(buf.getvalue())


FORMAT = Csv()
