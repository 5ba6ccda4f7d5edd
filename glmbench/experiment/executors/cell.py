"""One cell: its server started once, every point not done yet run against it, each search driven, then it stops.

Both executors run a cell with :func:`run_cell` (on Ray, in a worker's scratch
folder). A cell whose server will not start, or dies, is recorded with its
reason and the caller goes on; a point that finished before (a resumed
experiment) is read back, not run again, so a resumed search takes the same steps.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmbench.errors import GlmbenchError
from glmbench.experiment.file import Cell, Experiment, Point, folder_name
from glmbench.experiment.index import (
    CellEntry,
    ExperimentIndex,
    PointEntry,
    write_index,
)
from glmbench.experiment.searches import Probe, registered
from glmbench.results.store import now_iso
from glmbench.util.paths import remove_tree

if TYPE_CHECKING:
    from glmbench.experiment.executors.base import Lab

__all__ = ["run_cell"]


def _finished(experiment: Experiment, entry: CellEntry) -> bool:
    """Every point done, and every search that decides points as it runs has recorded its outcome."""
    return (all(p.done for p in entry.points)
            and all(getattr(entry, s.name) is not None for s in registered() if s.adaptive and s.applies(experiment)))


def run_cell(experiment: Experiment, cell: Cell, entry: CellEntry, folder: Path, api_key: str | None,
             progress: Any, index: ExperimentIndex, lab: Lab) -> None:
    """Start the cell's server once and run every point not done yet; record why when it cannot."""
    if entry.skipped:
        return  # left out before anything started: its server cannot start here (recorded with the reason)
    if _finished(experiment, entry):
        entry.status = "complete"
        return
    cell_dir = folder / entry.folder
    cell_dir.mkdir(exist_ok=True)
    entry.status, entry.reason, entry.started_at = "running", None, now_iso()
    write_index(folder, index)
    try:
        prepared = lab.answering(lab.prepare(cell.launch), cell, cell_dir, progress)
        log = cell_dir / "server.log"
        with lab.serve(prepared, log, api_key, progress) as server:
            entry.command = server.command
            entry.server_log = str(log.relative_to(folder)) if server.process else None
            run = _CellRun(experiment, cell, entry, prepared, server, cell_dir, api_key, progress, index, folder, lab)
            for point in cell.points:
                run.point(point, point.kind)
            for search in registered():
                if search.adaptive and search.applies(experiment) and getattr(entry, search.name) is None:
                    measured: list[float | None] = []
                    while (probe := search.next_probe(experiment, measured)) is not None:
                        measured.append(run.probe(probe, search.name))
                    setattr(entry, search.name, search.outcome(experiment, measured))
    except GlmbenchError as exc:
        # This cell cannot go on (its server would not start, or died): say why, and on to the next.
        entry.fail(exc.message)
        progress.warning(f"{cell.label}: {exc.message.splitlines()[0]}")
    except lab.interrupted:
        entry.status = "interrupted"
        raise
    else:
        entry.status = "complete" if _finished(experiment, entry) else "incomplete"
    finally:
        entry.finished_at = now_iso()
        write_index(folder, index)


class _CellRun:
    """Runs a cell's points against its server, recording each in the index as it goes."""

    def __init__(self, experiment: Experiment, cell: Cell, entry: CellEntry, prepared: Any, server: Any,
                 cell_dir: Path, api_key: str | None, progress: Any, index: ExperimentIndex, folder: Path,
                 lab: Lab) -> None:
        self.experiment, self.cell, self.entry, self.prepared, self.server = experiment, cell, entry, prepared, server
        self.cell_dir, self.api_key, self.progress, self.index, self.folder = cell_dir, api_key, progress, index, folder
        self.lab = lab

    def point(self, point: Point, kind: str) -> PointEntry:
        """Run ``point`` unless it finished before; its index entry. A dead server ends the cell (GlmbenchError)."""
        pentry = self.entry.point(point.label)
        if pentry is None:
            pentry = PointEntry.pending(point.label, kind)
            self.entry.points.append(pentry)
        if pentry.done:
            return pentry
        pentry.status, pentry.started_at = "running", now_iso()
        write_index(self.folder, self.index)
        started = time.monotonic()
        try:
            status, reason, name = self._run(point)
        except self.lab.interrupted:
            pentry.status, pentry.seconds = "interrupted", round(time.monotonic() - started, 1)
            raise
        except GlmbenchError as exc:
            status, reason, name = "failed", exc.message, None
        code = self.server.exit_code()
        if code is not None and status == "all-failed":
            # Every request failed because the server died before the run noticed: no result of the server's,
            # and not done (a resume runs it again).
            status, reason = "server-died", f"server exited with code {code} during {point.label}: every request failed"
        pentry.status, pentry.reason, pentry.folder = status, reason, name
        pentry.seconds = round(time.monotonic() - started, 1)
        write_index(self.folder, self.index)
        self.progress.point_done(self.cell.label, point.label, status, reason)
        if code is not None:
            raise GlmbenchError(f"server exited with code {code} during {point.label}",
                                f"see {self.cell_dir / 'server.log'}")
        return pentry

    def _run(self, point: Point) -> tuple[str, str | None, str]:
        """Run one point into the cell's folder, a stale folder of one cut short before removed first."""
        run_id = folder_name(point.label, "point")
        stale = self.cell_dir / run_id
        if stale.exists():
            remove_tree(stale, self.cell_dir)  # a point cut short before: run again from the start
        return self.lab.run_point(point, self.prepared, self.server, self.cell_dir, run_id,
                                  f"{self.cell.label} {point.label}", self.api_key, self.progress)

    def probe(self, probe: Probe, kind: str) -> float | None:
        """Run a search's point; the figure it reads from it (which needs the point completed), else None."""
        pentry = self.point(probe.point, kind)
        if probe.read is None:
            return None
        if not pentry.done:
            raise GlmbenchError(f"{kind} point {probe.point.label} did not complete: "
                                f"{pentry.reason or pentry.status}", f"see {self.cell_dir}")
        return probe.read(self.cell_dir / pentry.folder)  # type: ignore[operator]
