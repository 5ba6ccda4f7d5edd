"""Run an experiment into its folder: ``experiment.yaml`` (the file as run), ``index.json``, one folder per point.

Each point's folder is an ordinary result folder under ``<cell>/``, so ``report``,
``compare`` and ``history`` read them like any run. ``resume`` runs only what did
not finish; Ctrl-C stops the server, writes the index and raises on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from glmbench.errors import GlmbenchError
from glmbench.experiment.cells import cells
from glmbench.experiment.file import Cell, Experiment, load_experiment
from glmbench.experiment.index import (
    INDEX,
    CellEntry,
    ExperimentIndex,
    PointEntry,
    new_index,
    read_index,
    write_index,
)
from glmbench.experiment.plan import checked_cells
from glmbench.results.store import now_iso

if TYPE_CHECKING:
    from glmbench.experiment.executors.base import Executor, Lab

__all__ = ["cell_entries", "open_folder", "run"]


def cell_entries(planned: list[Cell]) -> list[CellEntry]:
    """The index entries of cells not started yet."""
    return [CellEntry(label=cell.label, folder=cell.folder, backend=cell.launch.backend, config=cell.launch.config,
                      overrides=cell.overrides, status="pending", reason=None, command=None, server_log=None,
                      started_at=None, finished_at=None,
                      points=[PointEntry.pending(p.label, p.kind) for p in cell.points])
            for cell in planned]


def open_folder(name_or_path: str | Path | None, results_dir: Path, resume: Path | None,
                lab: Lab) -> tuple[Experiment, list[Cell], ExperimentIndex, Path]:
    """The experiment, its cells, its index and its folder: a new folder under ``results_dir``, or ``resume``'s."""
    if resume is not None:
        folder = Path(resume)
        index = read_index(folder)
        experiment = load_experiment(folder / "experiment.yaml")
        planned = cells(experiment)
        if [c.label for c in planned] != [c.label for c in index.cells]:
            raise GlmbenchError(f"{folder / 'experiment.yaml'} no longer matches {folder / INDEX}",
                                "start the experiment anew instead of resuming")
        return experiment, planned, index, folder
    experiment = load_experiment(name_or_path or "")
    planned, _ = checked_cells(experiment, lab)
    folder = Path(results_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-{experiment.name}"
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise GlmbenchError(f"cannot create experiment folder {folder}: {exc.strerror}", "check --results-dir") from None
    (folder / "experiment.yaml").write_text(yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
    return experiment, planned, new_index(experiment.name, cell_entries(planned), now_iso()), folder


def run(experiment: Experiment, planned: list[Cell], index: ExperimentIndex, folder: Path, api_key: str | None,
        progress: Any, executor: Executor, lab: Lab) -> None:
    """Run the cells with ``executor``, the index written as they go and its status at the end.

    ``KeyboardInterrupt`` (Ctrl-C, or a run's interrupt) is re-raised once the index says so.
    """
    index.status, index.finished_at = "running", None
    write_index(folder, index)
    try:
        executor.run(experiment, planned, index, folder, api_key, progress, lab)
    except KeyboardInterrupt:
        index.status, index.finished_at = "interrupted", now_iso()
        write_index(folder, index)
        raise
    failed = any(c.status != "complete" for c in index.cells)
    index.status, index.finished_at = ("incomplete" if failed else "complete"), now_iso()
    write_index(folder, index)
