"""``--format json``: every figure, difference and note as JSON, for scripts (NaN written as null)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from glmbench.report.formats.base import Format, Output, text_output

if TYPE_CHECKING:
    from glmbench.report.model import (
        BFCLRunReport,
        EquivalenceRunReport,
        ExperimentView,
        LoadRunReport,
        RunsReport,
    )

__all__ = ["Json", "FORMAT"]


def _records(frame: Any) -> list[dict[str, Any]]:
    """A frame's rows as dicts, NaN as None."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


class Json(Format):
    """JSON with two-space indents."""

    name = "json"
    help = "every figure as JSON"

    def load_run(self, report: LoadRunReport) -> Output:
        """The summary rows as an array, every field of every row."""
        return text_output(json.dumps(list(report.rows), indent=2, default=str))

    def bfcl_run(self, report: BFCLRunReport) -> Output:
        """Every rule set's rows as one array, each naming its rules; for a run asked as traffic, its load rows
        after them (every field), each with ``"table": "latency"``, its ``schedule``, and ``rules`` and
        ``category`` null, so a script that picks accuracy rows by rules or category passes them by."""
        latency = [{"table": "latency", "rules": None, "category": None, "schedule": report.summary.schedule, **row}
                   for row in report.load_rows]
        return text_output(json.dumps(report.rows + latency, indent=2, default=str))

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """The run's summary as stored (its passes, its batch invariance and the prompts that differ), then the
        notes."""
        data = {"title": report.title, **report.summary.model_dump(mode="json"), "notes": report.notes}
        return text_output(json.dumps(data, indent=2, default=str))

    def runs(self, report: RunsReport) -> Output:
        """The runs, then speed (with differences), detail and BFCL rows (and the latency rows of BFCL runs asked
        as traffic, when there are some), then the notes."""
        tables = report.tables
        runs = [{"label": r.label, "path": str(r.path), "kind": r.kind,
                 "backend": r.manifest.backend.name if r.manifest else None,
                 "model": r.manifest.backend.model if r.manifest else None} for r in tables.runs]
        speed = tables.speed.drop(columns=[c for c in tables.speed.columns if c.endswith("_base")])
        data = {"baseline": tables.baseline, "runs": runs, "speed": _records(speed),
                "detail": _records(tables.detail), "bfcl": _records(tables.bfcl)}
        if not tables.bfcl_load.empty:
            data["bfcl_load"] = _records(tables.bfcl_load)
        return text_output(json.dumps({**data, "notes": tables.notes()}, indent=2, default=str))

    def experiment(self, report: ExperimentView) -> Output:
        """Name, status, objective, the servers and the points (their analysis fields, not display cells)."""
        r = report.report
        # Without a final newline, as this report has always been printed.
        return Output(text=json.dumps({"name": r.name, "status": r.status, "objective": r.objective,
                                       "servers": r.servers, "points": r.points}, indent=2, default=str))


FORMAT = Json()
