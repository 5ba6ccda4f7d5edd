"""Run an experiment: each server cell started once, every point run against it, then it stops.

The experiment folder holds ``experiment.yaml`` (the file as run), ``index.json``
(every cell and point: status, reason, timings, folder, exact command), and one
ordinary result folder per point under ``<cell>/``, so ``report``, ``compare`` and
``history`` read them like any run. A cell whose server will not start, or dies,
is recorded with its reason and the others go on; ``resume`` runs only what did
not finish; Ctrl-C stops the server, writes the index and raises
:class:`~glmbench.api.interrupted.RunInterrupted`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from glmbench.api.bfcl_run import load_bfcl_suite, run_bfcl
from glmbench.api.capacity import search_capacity
from glmbench.api.experiment_file import Cell, Experiment, Point, cells, folder_name, load_experiment
from glmbench.api.interrupted import RunInterrupted
from glmbench.api.launch import prepare, resolve_config
from glmbench.api.load_run import run_load
from glmbench.api.on_ray import RayOptions, connect, run_cells_on_ray
from glmbench.api.progress import Progress
from glmbench.api.serving import serve
from glmbench.backends.config import BackendConfig
from glmbench.backends.registry import get_backend
from glmbench.errors import GlmbenchError
from glmbench.results.experiments import INDEX, SCHEMA_VERSION, read_index, write_index
from glmbench.results.store import now_iso, repeat_folders, summary_folder
from glmbench.util.paths import remove_tree

__all__ = ["ExperimentResult", "run_experiment", "plan_experiment", "Search", "searches"]

# Statuses a point ends with that need no rerun on resume.
_DONE = {"complete", "all-failed"}

# Rough start-up seconds per backend, for the plan's estimate only.
_STARTUP_S = {"sim": 2.0, "transformers": 20.0, "vllm": 60.0, "sglang": 180.0, "lightllm": 180.0}


@dataclass
class ExperimentResult:
    """The experiment folder and its index (as written to ``index.json``)."""

    path: Path
    index: dict[str, Any]

    @property
    def status(self) -> str:
        return self.index["status"]

    def failed_cells(self) -> list[dict[str, Any]]:
        """Cells that did not finish every point."""
        return [c for c in self.index["cells"] if c["status"] != "complete"]


def _new_index(experiment: Experiment, planned: list[Cell]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION, "kind": "experiment", "name": experiment.name, "status": "running",
        "started_at": now_iso(), "finished_at": None,
        "cells": [{"label": cell.label, "folder": cell.folder, "backend": cell.launch.backend,
                   "config": cell.launch.config, "overrides": cell.overrides, "status": "pending", "reason": None,
                   "command": None, "server_log": None, "started_at": None, "finished_at": None,
                   "points": [{"label": p.label, "kind": p.kind, "folder": None, "status": "pending",
                               "reason": None, "started_at": None, "seconds": None} for p in cell.points]}
                  for cell in planned],
    }


def _estimate_point_s(cell: Cell, point: Point, experiment: Experiment) -> float:
    """A rough duration: arrivals of an open loop, waves of a closed loop, times one request's length."""
    if point.kind == "bfcl" or point.options is None:
        return 300.0  # BFCL's pace depends on the server; a placeholder an order of magnitude right on a GPU
    opts = point.options
    sets = dict(item.split("=", 1) for item in cell.launch.sets)
    ttft = float(sets.get("options.ttft_ms", 100)) / 1000 if (cell.launch.backend or "") == "sim" else 0.2
    itl = float(sets.get("options.itl_ms", 20)) / 1000 if (cell.launch.backend or "") == "sim" else 0.02
    n = opts.num_prompts or 2000
    request_s = ttft + (opts.output_len or 200) * itl
    if opts.request_rate:
        span = n / opts.request_rate + request_s
    elif opts.max_concurrency:
        span = -(-n // opts.max_concurrency) * request_s
    else:
        span = 2 * request_s
    return span * experiment.repeats


def _checked_cells(experiment: Experiment) -> tuple[list[Cell], list[BackendConfig]]:
    """The cells and their configs, each resolved once and validated (a typo fails here, before anything starts)."""
    planned = cells(experiment)
    configs = []
    for cell in planned:
        cfg = resolve_config(cell.launch)
        get_backend(cfg.backend).check(cfg)  # the values; the installation and port are checked at start
        configs.append(cfg)
    for point in planned[0].points if planned else []:  # every cell runs the same points
        if point.options is not None:
            point.options.suite_and_workloads()  # the suite exists and names the workload
        elif point.suite is not None:
            load_bfcl_suite(point.suite)
    return planned, configs


@dataclass
class Search:
    """Points a server decides on as it runs (a sweep, a capacity search): how many at most, and what they are."""

    kind: str  # "sweep" or "capacity"
    points: int  # per server, at most
    labels: str  # the points' labels, as a pattern
    text: str  # what the search does, in a line
    # The points timed for the estimate: the same for every cell, so built (their suite read) once.
    _timed: list[Point] | None = field(default=None, repr=False, compare=False)

    def seconds(self, cell: Cell, experiment: Experiment) -> float:
        """A rough upper bound of the search's duration on ``cell``.

        The sweep: the synchronous pass, the burst, and each rate timed as the synchronous pass (every rate
        lies above the synchronous request rate, so none takes longer). The capacity search: every probe timed
        at the start load, the longest of a search that only goes up.
        """
        if self._timed is None:
            if self.kind == "sweep":
                self._timed = [Point("sweep-sync", "load", experiment.probe_options("concurrency", 1)),
                               Point("sweep-max", "load", experiment.burst_options())]
            else:
                search = experiment.load.capacity  # type: ignore[union-attr]
                self._timed = [Point("cap", "load", experiment.probe_options(search.by, search.start))]
        if self.kind == "sweep":
            sync, burst = (_estimate_point_s(cell, p, experiment) for p in self._timed)
            return sync * (self.points - 1) + burst
        return self.points * _estimate_point_s(cell, self._timed[0], experiment)


def searches(experiment: Experiment) -> list[Search]:
    """The sweep and the capacity search of the experiment, if it has them (each server runs them)."""
    load = experiment.load
    out: list[Search] = []
    if load is not None and load.sweep is not None:
        n = load.sweep.points
        out.append(Search("sweep", n + 2, "sweep-sync, sweep-max, sweep-r<rate>",
                          f"sweep: one request at a time (sweep-sync), all at once (sweep-max), then {n} Poisson "
                          f"rate{'s' if n != 1 else ''} evenly between the two request rates measured"))
    if load is not None and load.capacity is not None:
        c = load.capacity
        unit = "in flight" if c.by == "concurrency" else "req/s"
        tag = "c" if c.by == "concurrency" else "r"
        out.append(Search("capacity", c.max_probes, f"cap-{tag}<load>, cap-{tag}<load>-rerun",
                          f"capacity search by {c.by}: from {c.start:g} {unit} up to {c.max:g}, doubling then "
                          f"bisecting to a tolerance of {c.tolerance:g}, then the boundary run once more; at most "
                          f"{c.max_probes} probes (the rerun among them); a load holds when {c.attainment:g} of "
                          f"its requests meet every SLO"))
    return out


def plan_experiment(name_or_path: str | Path) -> tuple[Experiment, list[Cell], float, list[BackendConfig]]:
    """The experiment, its cells and points, a rough estimate of its duration in seconds, and each cell's
    resolved backend config (in the cells' order); nothing starts.

    The estimate counts each server's start, its planned points, and the most points its sweep and capacity
    search can run (:func:`searches`).
    """
    experiment = load_experiment(name_or_path)
    planned, configs = _checked_cells(experiment)
    found = searches(experiment)
    total = 0.0
    for cell in planned:
        total += _STARTUP_S.get(cell.launch.backend or (cell.launch.config or "").split("-")[0], 60.0)
        total += sum(_estimate_point_s(cell, p, experiment) for p in cell.points)
        total += sum(search.seconds(cell, experiment) for search in found)
    return experiment, planned, total, configs


def _run_point(cell: Cell, point: Point, prepared: Any, server: Any, folder: Path, api_key: str | None,
               progress: Progress) -> tuple[str, str | None, str]:
    """Run one point into ``folder/<label>``; its status, the reason when not complete, and its folder name."""
    run_id = folder_name(point.label, "point")
    stale = folder / run_id
    if stale.exists():
        remove_tree(stale, folder)  # a point cut short before: run again from the start
    label = f"{cell.label} {point.label}"
    if point.kind == "bfcl":
        result = run_bfcl(prepared, load_bfcl_suite(point.suite or "bfcl-v3"), api_key, folder, None, progress,
                          server=server, run_id=run_id, label=label)
    else:
        options = point.options.model_copy(update={"results_dir": folder, "run_id": run_id, "label": label})
        result = run_load(prepared, options, api_key, progress, server=server)
    failure = result.failure()
    return result.status, failure.message if failure else None, result.path.name


def run_experiment(name_or_path: str | Path | None = None, results_dir: Path = Path("results"),
                   api_key: str | None = None, progress: Progress | None = None,
                   resume: Path | None = None, ray: RayOptions | None = None) -> ExperimentResult:
    """Run an experiment file into ``results_dir/<time>-<name>/``, or finish the one at ``resume``.

    With ``ray``, the cells run on a Ray cluster in parallel (:mod:`glmbench.api.on_ray`), else one after another here.
    """
    progress = progress or Progress()
    if ray is not None:
        connect(ray)  # Ray missing, or no cluster there: say so before any folder exists
    if resume is not None:
        folder = Path(resume)
        index = read_index(folder)
        experiment = load_experiment(folder / "experiment.yaml")
        planned = cells(experiment)
        if [c.label for c in planned] != [c["label"] for c in index["cells"]]:
            raise GlmbenchError(f"{folder / 'experiment.yaml'} no longer matches {folder / INDEX}",
                                "start the experiment anew instead of resuming")
    else:
        experiment = load_experiment(name_or_path or "")
        planned, _ = _checked_cells(experiment)
        folder = Path(results_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-{experiment.name}"
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise GlmbenchError(f"cannot create experiment folder {folder}: {exc.strerror}",
                                "check --results-dir") from None
        (folder / "experiment.yaml").write_text(yaml.safe_dump(experiment.model_dump(mode="json"), sort_keys=False))
        index = _new_index(experiment, planned)
    index["status"], index["finished_at"] = "running", None
    write_index(folder, index)
    result = ExperimentResult(folder, index)
    try:
        if ray is not None:
            run_cells_on_ray(experiment, planned, index, folder, api_key, progress, ray, _run_cell)
        else:
            for cell, entry in zip(planned, index["cells"]):
                _run_cell(experiment, cell, entry, folder, api_key, progress, index)
    except KeyboardInterrupt:
        index["status"], index["finished_at"] = "interrupted", now_iso()
        write_index(folder, index)
        raise RunInterrupted(result) from None
    failed = any(c["status"] != "complete" for c in index["cells"])
    index["status"], index["finished_at"] = ("incomplete" if failed else "complete"), now_iso()
    write_index(folder, index)
    return result


def _run_cell(experiment: Experiment, cell: Cell, entry: dict[str, Any], folder: Path, api_key: str | None,
              progress: Progress, index: dict[str, Any]) -> None:
    """Start the cell's server once and run every point not done yet; record why when it cannot."""
    load = experiment.load
    sweep, search = (load.sweep, load.capacity) if load is not None else (None, None)

    def finished() -> bool:
        return (all(p["status"] in _DONE for p in entry["points"]) and (sweep is None or bool(entry.get("sweep")))
                and (search is None or bool(entry.get("capacity"))))

    if finished():
        entry["status"] = "complete"
        return
    cell_dir = folder / entry["folder"]
    cell_dir.mkdir(exist_ok=True)
    entry["status"], entry["reason"], entry["started_at"] = "running", None, now_iso()
    write_index(folder, index)
    try:
        prepared = prepare(cell.launch)
        log = cell_dir / "server.log"
        with serve(prepared, log, api_key, progress) as server:
            entry["command"] = server.command
            entry["server_log"] = str(log.relative_to(folder)) if server.process else None
            run = _CellRunner(experiment, cell, entry, prepared, server, cell_dir, api_key, progress, index, folder)
            for point in cell.points:
                run.point(point, point.kind)
            if sweep is not None and not entry.get("sweep"):
                entry["sweep"] = run.sweep(sweep.points)
            if search is not None and not entry.get("capacity"):
                entry["capacity"] = search_capacity(run.attained, search.by, search.start, search.max,
                                                    search.tolerance, search.attainment, search.max_probes).to_json()
    except GlmbenchError as exc:
        # This cell cannot go on (its server would not start, or died): say why, and on to the next.
        entry["status"], entry["reason"] = "failed", exc.message
        for pentry in entry["points"]:
            if pentry["status"] in ("pending", "running"):
                pentry.update(status="not run", reason=exc.message.splitlines()[0])
        progress.warning(f"{cell.label}: {exc.message.splitlines()[0]}")
    except RunInterrupted:
        entry["status"] = "interrupted"
        raise
    else:
        entry["status"] = "complete" if finished() else "incomplete"
    finally:
        entry["finished_at"] = now_iso()
        write_index(folder, index)


class _CellRunner:
    """Runs a cell's points against its server, recording each in the index as it goes.

    Besides the points planned from the file, it runs those a cell decides on as it
    goes: capacity probes (``cap-r12.5``, ``cap-c8``, ``...-rerun``) and sweep points
    (``sweep-sync``, ``sweep-max``, ``sweep-r3.2``). A point that finished before (a
    resumed experiment) is read back, not run again, so a resumed search or sweep
    takes the same steps.
    """

    def __init__(self, experiment: Experiment, cell: Cell, entry: dict[str, Any], prepared: Any, server: Any,
                 cell_dir: Path, api_key: str | None, progress: Progress, index: dict[str, Any], folder: Path) -> None:
        self.experiment, self.cell, self.entry, self.prepared, self.server = experiment, cell, entry, prepared, server
        self.cell_dir, self.api_key, self.progress, self.index, self.folder = cell_dir, api_key, progress, index, folder

    def point(self, point: Point, kind: str) -> dict[str, Any]:
        """Run ``point`` unless it finished before; its index entry. A dead server ends the cell (GlmbenchError)."""
        pentry = next((p for p in self.entry["points"] if p["label"] == point.label), None)
        if pentry is None:
            pentry = {"label": point.label, "kind": kind, "folder": None, "status": "pending", "reason": None,
                      "started_at": None, "seconds": None}
            self.entry["points"].append(pentry)
        if pentry["status"] in _DONE:
            return pentry
        pentry["status"], pentry["started_at"] = "running", now_iso()
        write_index(self.folder, self.index)
        started = time.monotonic()
        try:
            status, reason, name = _run_point(self.cell, point, self.prepared, self.server, self.cell_dir,
                                              self.api_key, self.progress)
        except RunInterrupted:
            pentry.update(status="interrupted", seconds=round(time.monotonic() - started, 1))
            raise
        except GlmbenchError as exc:
            status, reason, name = "failed", exc.message, None
        code = self.server.exit_code()
        if code is not None and status == "all-failed":
            # Every request failed because the server died before the run noticed: no result of the server's,
            # and not done (a resume runs it again).
            status, reason = "server-died", f"server exited with code {code} during {point.label}: every request failed"
        pentry.update(status=status, reason=reason, folder=name, seconds=round(time.monotonic() - started, 1))
        write_index(self.folder, self.index)
        self.progress.point_done(self.cell.label, point.label, status, reason)
        if code is not None:
            raise GlmbenchError(f"server exited with code {code} during {point.label}",
                                f"see {self.cell_dir / 'server.log'}")
        return pentry

    def _measured(self, label: str, kind: str, options: Any) -> Path:
        """The folder of a point whose figures decide what runs next: it must have completed."""
        pentry = self.point(Point(label, "load", options), kind)
        if pentry["status"] not in _DONE:
            raise GlmbenchError(f"{kind} point {label} did not complete: {pentry['reason'] or pentry['status']}",
                                f"see {self.cell_dir}")
        return self.cell_dir / pentry["folder"]

    def attained(self, load: float, rerun: bool) -> float:
        """The share of a capacity probe's requests that met every SLO."""
        by = self.experiment.load.capacity.by  # type: ignore[union-attr]
        label = f"cap-{'c' if by == 'concurrency' else 'r'}{load:g}" + ("-rerun" if rerun else "")
        return _attainment(self._measured(label, "capacity", self.experiment.probe_options(by, load)))

    def sweep(self, points: int) -> dict[str, Any]:
        """GuideLLM's sweep: one request at a time, then all at once, then ``points`` Poisson rates evenly between
        the two request rates measured."""
        sync = _request_rate(self._measured("sweep-sync", "sweep", self.experiment.probe_options("concurrency", 1)))
        peak = _request_rate(self._measured("sweep-max", "sweep", self.experiment.burst_options()))
        low, high = min(sync, peak), max(sync, peak)
        rates = [float(f"{low + (high - low) * (i + 1) / (points + 1):.3g}") for i in range(points)]
        for rate in rates:
            self.point(Point(f"sweep-r{rate:g}", "load", self.experiment.probe_options("rate", rate)), "sweep")
        return {"sync_request_s": sync, "max_request_s": peak, "rates": rates}


def _request_rate(run_dir: Path) -> float:
    """Completed requests per second of a load point (its last repeat when repeated)."""
    from glmbench.results.store import load_summary

    rows = load_summary(summary_folder(run_dir) or run_dir).rows
    return float(rows[-1].get("request_s") or 0.0) if rows else 0.0


def _attainment(run_dir: Path) -> float:
    """The share of a load point's requests that met every SLO (its last repeat when repeated)."""
    from glmbench.results.store import load_summary

    if not (run_dir / "summary.json").is_file():
        shares = [_attainment(r) for r in repeat_folders(run_dir)]
        return min(shares) if shares else 0.0  # with repeats the load holds only if every repeat held
    rows = load_summary(run_dir).rows
    return (rows[-1].get("goodput_pct") or 0.0) / 100 if rows else 0.0
