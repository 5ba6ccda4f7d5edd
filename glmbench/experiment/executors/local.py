"""The local executor: cells one after another, in this process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmbench.experiment.executors.cell import run_cell

if TYPE_CHECKING:
    from glmbench.experiment.executors.base import Lab
    from glmbench.experiment.file import Cell, Experiment
    from glmbench.experiment.index import ExperimentIndex

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Each cell in turn, here."""

    def connect(self) -> None:
        return None

    def run(self, experiment: Experiment, planned: list[Cell], index: ExperimentIndex, folder: Path,
            api_key: str | None, progress: Any, lab: Lab) -> None:
        for cell, entry in zip(planned, index.cells):
            run_cell(experiment, cell, entry, folder, api_key, progress, index, lab)
