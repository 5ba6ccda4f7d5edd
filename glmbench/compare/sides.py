"""One side of a comparison: a result folder, or a folder of result folders (repeats of one config)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError
from glmbench.results.records import RequestRecord, read_records
from glmbench.results.schema import BFCLSummary, EquivalenceSummary, LoadSummary, Manifest

__all__ = ["Run", "Side", "load_side", "find_result_folders", "is_result"]


@dataclass
class Run:
    """One result folder's manifest and summary; its records are read on first use."""

    path: Path
    manifest: Manifest
    summary: LoadSummary | BFCLSummary | EquivalenceSummary
    _records: dict[str, list[RequestRecord]] | None = field(default=None, repr=False)

    @property
    def has_records(self) -> bool:
        return (self.path / "records.jsonl").is_file()

    @property
    def load_rows(self) -> list[dict[str, Any]]:
        """The load summary rows: a load run's, or a BFCL run's requests' (none when it was not asked as traffic,
        none for an equivalence run)."""
        if isinstance(self.summary, LoadSummary):
            return self.summary.rows
        return self.summary.load if isinstance(self.summary, BFCLSummary) else []

    @property
    def schedule(self) -> str | None:
        """The load schedule a BFCL run's entries were asked on, in words (None for a load run, whose rows say)."""
        return self.summary.schedule if isinstance(self.summary, BFCLSummary) else None

    def records(self, workload: str) -> list[RequestRecord]:
        """The request records behind the load row ``workload``.

        A load run's rows are its records' workloads. A BFCL run's requests are
        all ``bfcl``, and its rows are as its traffic summary cut them: ``all``
        holds every request, ``single-turn`` and ``multi-turn`` those of entries
        of such categories (each entry's category from ``bfcl_records.jsonl``).
        """
        if self._records is None:
            self._records = {}
            group = _traffic_class(self.path) if isinstance(self.summary, BFCLSummary) else None
            for record in read_records(self.path / "records.jsonl"):
                for name in (record.workload,) if group is None else ("all", group(record)):
                    self._records.setdefault(name, []).append(record)
        return self._records.get(workload, [])

    @property
    def published(self) -> bool:
        """A reference table from a publication rather than a glmbench measurement."""
        return bool(self.manifest.dataset.get("published"))


def _traffic_class(folder: Path) -> Callable[[RequestRecord], str]:
    """A BFCL run's request to the load row of its traffic class, as the run's summary made them
    (:func:`glmbench.bfcl.traffic.traffic_rows`): ``multi-turn`` for an entry of a multi-turn category,
    else ``single-turn``."""
    from glmbench.bfcl.categories import TABLE
    from glmbench.bfcl.runner import RECORDS
    from glmbench.bfcl.runner import read_records as read_entries

    categories = {i: e["category"] for i, e in read_entries(folder / RECORDS).items()}

    def group(record: RequestRecord) -> str:
        category = TABLE.get(categories.get(record.entry or "", ""))
        return "multi-turn" if category is not None and category.multi_turn else "single-turn"

    return group


@dataclass
class Side:
    path: Path
    runs: list[Run]

    @property
    def kind(self) -> str:
        return self.runs[0].summary.kind

    @property
    def repeated(self) -> bool:
        """Whether the side is the repeats of one ``--repeat N`` run (rather than a folder of runs)."""
        return len(self.runs) > 1 and all(r.manifest.repeat is not None for r in self.runs)

    @property
    def label(self) -> str:
        names = sorted({r.manifest.backend.name for r in self.runs})
        repeats = f", {len(self.runs)} {'repeats' if self.repeated else 'runs'}" if len(self.runs) > 1 else ""
        return f"{self.path.name} ({'/'.join(names)}{repeats})"

    @property
    def hardware(self) -> str:
        gpus = sorted({", ".join(r.manifest.gpu) for r in self.runs})
        return " / ".join(g or "no GPU recorded" for g in gpus)


def is_result(path: Path) -> bool:
    """Whether ``path`` is a result folder: a manifest and a summary."""
    return (path / "summary.json").is_file() and (path / "manifest.json").is_file()


def find_result_folders(root: Path) -> list[Path]:
    """Every result folder at or under ``root`` (repeat-i folders included)."""
    if is_result(root):
        return [root]
    return sorted({p.parent for p in root.rglob("summary.json") if is_result(p.parent)})


def load_side(path: Path, role: str) -> Side:
    """``path`` as one side: a repeated run's repeats (each one sample), itself if it is a result folder, else the
    result folders directly inside it."""
    from glmbench.results.store import load_any_summary, load_manifest, repeat_folders

    path = Path(path)
    if not path.is_dir():
        raise GlmbenchError(f"no result folder at {path} ({role})", "pass a folder written by 'glmbench run' or one "
                            "holding its repeats, e.g. results/reference/lightllm-4xh200")
    # A repeated run's folder holds its combined summary too: its repeats are the samples.
    folders = [r for r in repeat_folders(path) if is_result(r)] or (
        [path] if is_result(path) else sorted(p for p in path.iterdir() if p.is_dir() and is_result(p)))
    if not folders:
        raise GlmbenchError(f"{path} ({role}) holds no result folder (no manifest.json + summary.json)",
                            "pass a run's folder, or the folder 'glmbench run --repeat N' wrote")
    runs = [Run(f, load_manifest(f), load_any_summary(f)) for f in folders]
    kinds = {r.summary.kind for r in runs}
    if len(kinds) > 1:
        raise GlmbenchError(f"{path} ({role}) mixes {' and '.join(sorted(kinds))} runs",
                            "compare one kind of run at a time")
    return Side(path, runs)
