"""Run an experiment: each server cell started once, every point run against it, then it stops.

The engine is :mod:`glmbench.experiment`; this module gives it the library layer
(:class:`ApiLab`: start a server, run a load point, a BFCL suite or an equivalence
suite) and keeps the
entry points the CLI, tests and notebooks call. A cell whose server will not
start, or dies, is recorded with its reason and the others go on (one whose backend is
not installed here fails the experiment before it starts, or is skipped when asked); ``resume`` runs
only what did not finish; Ctrl-C stops the server, writes the index and raises
:class:`~glmbench.api.interrupted.RunInterrupted`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmbench.api.bfcl_run import SIM_ANSWERS, answering_from_truth, load_bfcl_suite, run_bfcl, suite_entries
from glmbench.api.equivalence import run_equivalence
from glmbench.api.experiment_file import load_experiment
from glmbench.api.interrupted import RunInterrupted
from glmbench.api.launch import Launch, prepare, resolve_config
from glmbench.api.load_run import run_load
from glmbench.api.progress import Progress
from glmbench.api.serving import serve
from glmbench.backends.base import Server
from glmbench.backends.config import BackendConfig
from glmbench.errors import GlmbenchError
from glmbench.experiment.executors.base import Executor
from glmbench.experiment.executors.local import LocalExecutor
from glmbench.experiment.executors.ray import RayExecutor, RayOptions
from glmbench.experiment.file import Cell, Experiment, Point, equivalence_suite
from glmbench.experiment.index import ExperimentIndex
from glmbench.experiment.plan import Unstartable, cannot_start, checked_cells, estimate_s
from glmbench.experiment.run import open_folder, run
from glmbench.experiment.searches import SearchPlan, plans

__all__ = ["ApiLab", "ExperimentResult", "Unstartable", "plan_experiment", "run_experiment", "searches",
           "unstartable"]


@dataclass
class ExperimentResult:
    """The experiment folder and its index (as written to ``index.json``)."""

    path: Path
    index: ExperimentIndex

    @property
    def status(self) -> str:
        return self.index.status

    def failed_cells(self) -> list[Any]:
        """Cells that did not finish every point, those skipped before anything started left out."""
        return [c for c in self.index.failed_cells() if not c.skipped]

    def skipped_cells(self) -> list[Any]:
        """Cells left out before anything started, their server unable to start here (``skip_missing``)."""
        return [c for c in self.index.cells if c.skipped]


class _QueueProgress(Progress):
    """A Ray worker's progress, sent to the driver as ``(kind, cell, *args)`` through a Ray queue."""

    def __init__(self, queue: Any, cell: str) -> None:
        self.queue, self.cell = queue, cell

    def _put(self, *item: Any) -> None:
        try:
            self.queue.put_nowait(item)
        except Exception:  # a full or gone queue costs a progress line, never the cell
            pass

    def point_done(self, cell: str, point: str, status: str, reason: str | None) -> None:
        self._put("point_done", cell, point, status, reason)

    def warning(self, text: str) -> None:
        self._put("warning", self.cell, text)


# What a BFCL suite's entries and their requests depend on (so the answers that fit them), not how fast it is asked.
_ASKED = {"categories", "limit", "source", "data_dir", "style", "mode", "scoring", "enable_thinking"}


class ApiLab:
    """The library layer as an experiment's cells use it (:class:`~glmbench.experiment.executors.base.Lab`)."""

    interrupted: type[BaseException] = RunInterrupted

    def resolve_config(self, launch: Launch) -> BackendConfig:
        return resolve_config(launch)

    def check_point(self, point: Point) -> None:
        if point.options is not None:
            point.options.suite_and_workloads()  # the suite exists and names the workload
        elif point.kind == "equivalence" and point.suite is not None:
            equivalence_suite(point.suite, point.suite_fields)
        elif point.suite is not None:
            load_bfcl_suite(point.suite, fields=point.suite_fields)

    def prepare(self, launch: Launch) -> Any:
        return prepare(launch)

    def answering(self, prepared: Any, cell: Cell, folder: Path, progress: Any) -> Any:
        asked, seen = [], set()
        for point in cell.points:
            if point.kind != "bfcl":
                continue
            suite = load_bfcl_suite(point.suite or "bfcl-v3", fields=point.suite_fields)
            what = suite.model_dump_json(include=_ASKED)  # the entries and their requests, not their pace
            if what in seen:
                continue
            seen.add(what)
            try:
                entries, _, _ = suite_entries(suite)
            except GlmbenchError:
                continue  # its data is not here: the point fails with that reason when it runs
            asked.append((entries, suite))
        if not asked:
            return prepared
        # The server keeps its own timing: the cell's load points measure it, and the BFCL points' latency too.
        answering, books = answering_from_truth(prepared, asked, folder / SIM_ANSWERS, quick=False)
        if books:
            expected = "; ".join(f"{suite.name}: {book.expected()}" for (_, suite), book in zip(asked, books))
            progress.note(f"{cell.label}: {prepared.label} answers the BFCL points from BFCL's ground truth "
                          f"({SIM_ANSWERS} in the cell's folder), a check of glmbench's pipeline, not of a model; "
                          f"{expected}. A server given options.answers keeps its own")
        return answering

    def serve(self, prepared: Any, log: Path, api_key: str | None, progress: Any) -> AbstractContextManager[Server]:
        return serve(prepared, log, api_key, progress)

    def run_point(self, point: Point, prepared: Any, server: Server, folder: Path, run_id: str, label: str,
                  api_key: str | None, progress: Any) -> tuple[str, str | None, str]:
        if point.kind == "bfcl":
            suite = load_bfcl_suite(point.suite or "bfcl-v3", fields=point.suite_fields)
            result: Any = run_bfcl(prepared, suite, api_key, folder, None,
                                   progress, server=server, run_id=run_id, label=label)
        elif point.kind == "equivalence":
            # Its outputs are compared with the reference cell's when the experiment is read (its gate decides
            # nothing here): the point ran, whatever it said.
            result = run_equivalence(prepared, equivalence_suite(point.suite or "equivalence", point.suite_fields),
                                     api_key, folder, progress, server=server, run_id=run_id, label=label)
        else:
            assert point.options is not None  # a load point
            options = point.options.model_copy(update={"results_dir": folder, "run_id": run_id, "label": label})
            result = run_load(prepared, options, api_key, progress, server=server, point=point.label)
        failure = result.failure()
        return result.status, failure.message if failure else None, result.path.name

    def queue_progress(self, queue: Any, cell: str) -> Any:
        return _QueueProgress(queue, cell)


LAB = ApiLab()


def searches(experiment: Experiment) -> list[SearchPlan]:
    """What each adaptive search of the experiment will do (each server runs them): for ``--dry-run``."""
    return plans(experiment)


def plan_experiment(name_or_path: str | Path) -> tuple[Experiment, list[Cell], float, list[BackendConfig]]:
    """The experiment, its cells and points, a rough estimate of its duration in seconds, and each cell's
    resolved backend config (in the cells' order); nothing starts.

    The estimate counts each server's start, its planned points, and the most points its searches can run.
    """
    experiment = load_experiment(name_or_path)
    planned, configs = checked_cells(experiment, LAB)
    return experiment, planned, estimate_s(experiment, planned, configs), configs


def unstartable(planned: list[Cell], configs: list[BackendConfig]) -> list[Unstartable]:
    """The cells of a plan (:func:`plan_experiment`) whose backend is not found where their config would launch it
    on this machine, each with what is missing and the next step (as ``glmbench backends`` checks); starts nothing."""
    return cannot_start(planned, configs)


def run_experiment(name_or_path: str | Path | None = None, results_dir: Path = Path("results"),
                   api_key: str | None = None, progress: Progress | None = None,
                   resume: Path | None = None, ray: RayOptions | None = None,
                   skip_missing: bool = False) -> ExperimentResult:
    """Run an experiment file into ``results_dir/<time>-<name>/``, or finish the one at ``resume``.

    With ``ray``, the cells run on a Ray cluster in parallel (:mod:`glmbench.experiment.executors.ray`), else one
    after another here, each first checked to start here: one whose backend is not found is a user error before
    anything is written, or, with ``skip_missing``, recorded as skipped while the others run.
    """
    progress = progress or Progress()
    if ray is not None and skip_missing:
        raise GlmbenchError("--skip-missing checks this machine's installations; with --on ray the nodes' count",
                            "drop --skip-missing, or run --on local")
    executor: Executor = RayExecutor(ray) if ray is not None else LocalExecutor()
    executor.connect()  # Ray missing, or no cluster there: say so before any folder exists
    experiment, planned, index, folder = open_folder(name_or_path, results_dir, resume, LAB, here=ray is None,
                                                     skip_missing=skip_missing)
    for entry in index.cells:
        if entry.skipped:
            progress.warning(f"{entry.label}: skipped, its server cannot start here ({entry.reason})")
    result = ExperimentResult(folder, index)
    try:
        run(experiment, planned, index, folder, api_key, progress, executor, LAB)
    except KeyboardInterrupt:
        raise RunInterrupted(result) from None
    return result
