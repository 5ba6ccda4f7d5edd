"""Run an experiment into its folder: ``experiment.yaml`` (the file as run), ``index.json``, one folder per point.

Each point's folder is an ordinary result folder under ``<cell>/``, so ``report``,
``compare`` and ``history`` read them like any run. ``resume`` runs only what did
not finish; Ctrl-C stops the server, writes the index and raises on. Cells run
here are checked first (:func:`~glmbench.experiment.plan.cannot_start`): one whose
backend is not found fails the experiment before any folder exists, or, told to
skip, is recorded as ``skipped`` and the others run.
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
from glmbench.experiment.plan import cannot_start, cannot_start_error, checked_cells
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


def _preflight(planned: list[Cell], configs: list[Any], entries: list[CellEntry] | None,
               skip_missing: bool) -> dict[str, str]:
    """The cells left to run whose server cannot start here, by label with the reason: an error (nothing written
    yet) unless ``skip_missing`` and some can start."""
    todo = [(c, cfg) for i, (c, cfg) in enumerate(zip(planned, configs))
            if entries is None or entries[i].status != "complete"]
    missing = cannot_start([c for c, _ in todo], [cfg for _, cfg in todo])
    if missing and (not skip_missing or len(missing) == len(todo)):
        raise cannot_start_error(missing, len(todo))
    return {m.label: m.problem for m in missing}


def _skip(index: ExperimentIndex, skipped: dict[str, str]) -> None:
    """Mark the cells that cannot start here skipped; those skipped before that now can are pending again."""
    for entry in index.cells:
        if entry.label in skipped:
            entry.fail(skipped[entry.label], status="skipped")
        elif entry.skipped:
            entry.status, entry.reason = "pending", None


def open_folder(name_or_path: str | Path | None, results_dir: Path, resume: Path | None,
                lab: Lab, here: bool = True,
                skip_missing: bool = False) -> tuple[Experiment, list[Cell], ExperimentIndex, Path]:
    """The experiment, its cells, its index and its folder: a new folder under ``results_dir``, or ``resume``'s.

    ``here``: the cells run on this machine, so each one left to run is checked to start here first (a user error
    naming those that cannot, before anything is written); ``skip_missing`` records those as skipped instead.
    """
    if resume is not None:
        folder = Path(resume)
        index = read_index(folder)
        experiment = load_experiment(folder / "experiment.yaml")
        planned = cells(experiment)
        if [c.label for c in planned] != [c.label for c in index.cells]:
            raise GlmbenchError(f"{folder / 'experiment.yaml'} no longer matches {folder / INDEX}",
                                "start the experiment anew instead of resuming")
        if here:
            _skip(index, _preflight(planned, checked_cells(experiment, lab)[1], index.cells, skip_missing))
        return experiment, planned, index, folder
    experiment = load_experiment(name_or_path or "")
    planned, configs = checked_cells(experiment, lab)
    skipped = _preflight(planned, configs, None, skip_missing) if here else {}
    folder = Path(results_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-{experiment.name}"
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise GlmbenchError(f"cannot create experiment folder {folder}: {exc.strerror}", "check --results-dir") from None
    (folder / "experiment.yaml").write_text(yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
    index = new_index(experiment.name, cell_entries(planned), now_iso())
    _skip(index, skipped)
    return experiment, planned, index, folder


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
