"""The executor seam: where an experiment's cells run (here one after another, or over a Ray cluster).

An executor follows :class:`Executor`; both run each cell with the same code
(:func:`glmbench.experiment.executors.cell.run_cell`). What a cell needs of the
library layer (start a server, run a load point or a BFCL suite) comes in as a
:class:`Lab`, which :mod:`glmbench.api.experiment` gives: this package sits
beside ``load/`` and ``bfcl/`` and imports nothing above them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from glmbench.backends.base import Server
    from glmbench.backends.choice import Launch
    from glmbench.backends.config import BackendConfig
    from glmbench.experiment.file import Cell, Experiment, Point
    from glmbench.experiment.index import ExperimentIndex

__all__ = ["Executor", "Lab", "Progress"]


class Progress(Protocol):
    """What an executor reports as cells go (the library's ``Progress`` has these and more)."""

    def point_done(self, cell: str, point: str, status: str, reason: str | None) -> None: ...
    def cell_placed(self, cell: str, where: list[dict[str, Any]]) -> None: ...
    def cell_done(self, cell: str, status: str, reason: str | None) -> None: ...
    def warning(self, text: str) -> None: ...


class Lab(Protocol):
    """The library layer as a cell uses it. It must pickle (a Ray worker gets it), so a module-level object."""

    interrupted: type[BaseException]
    """What a run raises on Ctrl-C once its server is stopped and its files are written."""

    def resolve_config(self, launch: Launch) -> BackendConfig:
        """The backend config a cell's launch resolves to."""
        ...

    def check_point(self, point: Point) -> None:
        """Raise a user error when a planned point cannot run (its suite or workload does not exist)."""
        ...

    def prepare(self, launch: Launch) -> Any:
        """The launch resolved and checked, before anything starts."""
        ...

    def answering(self, prepared: Any, cell: Cell, folder: Path, progress: Any) -> Any:
        """``prepared`` answering the cell's BFCL points from BFCL's ground truth, a book written into the cell's
        ``folder``, where its server is a simulator without answers of its own (said in a note); else as it is."""
        ...

    def serve(self, prepared: Any, log: Path, api_key: str | None, progress: Any) -> AbstractContextManager[Server]:
        """Start the prepared server for the block's length."""
        ...

    def run_point(self, point: Point, prepared: Any, server: Server, folder: Path, run_id: str, label: str,
                  api_key: str | None, progress: Any) -> tuple[str, str | None, str]:
        """Run one point into ``folder/run_id``: its status, the reason when not complete, and its folder name."""
        ...

    def queue_progress(self, queue: Any, cell: str) -> Any:
        """A progress object for a worker that sends what it reports through a Ray queue."""
        ...


class Executor(Protocol):
    """Runs every cell of an index not yet complete, updating and writing the index as cells end.

    Raises ``KeyboardInterrupt`` (after stopping what it started) for the caller to record.
    """

    def connect(self) -> None:
        """Check that the place to run exists (Ray installed, its cluster reachable), before any folder exists."""
        ...

    def run(self, experiment: Experiment, planned: list[Cell], index: ExperimentIndex, folder: Path,
            api_key: str | None, progress: Any, lab: Lab) -> None:
        """Run the cells."""
        ...
