"""Result folders opened for reporting: summary, manifest and a short unique label per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError
from glmbench.results.schema import BFCLSummary, EquivalenceSummary, LoadSummary, Manifest

__all__ = ["ReportRun", "open_runs", "require"]


def require(module: str) -> Any:
    """Import an optional reporting package, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GlmbenchError(f"reports need {module.split('.')[0]}, which is not installed",
                            "pip install pandas matplotlib") from None


@dataclass
class ReportRun:
    """One stored run as reports see it; records and server scrapes are read on first use."""

    label: str
    path: Path
    summary: LoadSummary | BFCLSummary
    manifest: Manifest | None

    @property
    def kind(self) -> str:
        """``load`` or ``bfcl``, from the summary."""
        return self.summary.kind

    @property
    def rows(self) -> list[dict[str, Any]]:
        """A load run's summary rows (none for a BFCL run)."""
        return self.summary.rows if isinstance(self.summary, LoadSummary) else []

    @cached_property
    def records(self) -> list:
        """Per-request records (empty for folders without them, such as published reference tables)."""
        from glmbench.results.records import read_records

        path = self.path / "records.jsonl"
        return list(read_records(path)) if path.is_file() else []

    @cached_property
    def server_metrics(self) -> list[dict[str, Any]]:
        """Server scrapes (``t_ns`` on the records' clock), oldest first; torn lines skipped."""
        import orjson

        path = self.path / "server_metrics.jsonl"
        out = []
        if path.is_file():
            for line in path.read_bytes().splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and "t_ns" in entry:
                    out.append(entry)
        return sorted(out, key=lambda e: e["t_ns"])


def open_runs(paths: Sequence[Path]) -> list[ReportRun]:
    """The runs in the order given, each labelled by its ``--label`` (an experiment's point) or else its folder name.

    Labels that repeat are made unique.
    """
    from glmbench.results.store import load_any_summary, load_manifest

    runs = []
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise GlmbenchError(f"no result folder at {path}", "pass a folder under results/ written by 'glmbench run'")
        summary = load_any_summary(path)
        if isinstance(summary, EquivalenceSummary):
            raise GlmbenchError(f"{path} is an equivalence run: its outputs are not shown beside other runs",
                                "report it alone (glmbench report RUN), or compare two with glmbench compare "
                                "REFERENCE CANDIDATE")
        manifest = load_manifest(path) if (path / "manifest.json").is_file() else None
        label = (manifest.label if manifest is not None else None) or path.name
        runs.append(ReportRun(label=label, path=path, summary=summary, manifest=manifest))
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
    for run in runs:
        if seen[run.label] > 1:
            run.label = f"{run.path.parent.name}/{run.path.name}"
    for i, run in enumerate(runs):
        if sum(r.label == run.label for r in runs) > 1:
            run.label = f"{run.label} #{i + 1}"
    return runs
