"""An experiment's plan before anything starts: its cells checked, which cannot start here, and a rough estimate
of its duration.

:func:`cannot_start` looks for each cell's backend where its config would launch
it, as ``glmbench backends`` does: an experiment run here whose cells cannot all
start fails before anything is written (:func:`cannot_start_error`), naming them,
unless it is told to skip them. A server that fails later for another reason (a
port, a crash at start-up) is the cell's to record while the others go on.

The estimate counts each server's start (its backend's ``startup_s``), its planned
points, and the most points each adaptive search can run; request times come from
the backend (:meth:`~glmbench.backends.base.Backend.request_seconds`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmbench.backends.config import BackendConfig
from glmbench.backends.launch import find_installation, not_installed
from glmbench.backends.registry import get_backend
from glmbench.errors import GlmbenchError
from glmbench.experiment.cells import cells
from glmbench.experiment.file import Cell, Experiment, Point, equivalence_suite
from glmbench.experiment.searches import plans

if TYPE_CHECKING:
    from glmbench.experiment.executors.base import Lab

__all__ = ["Unstartable", "checked_cells", "cannot_start", "cannot_start_error", "estimate_point_s", "estimate_s"]

# BFCL's pace depends on the server; a placeholder an order of magnitude right on a GPU.
_BFCL_POINT_S = 300.0


def checked_cells(experiment: Experiment, lab: Lab) -> tuple[list[Cell], list[BackendConfig]]:
    """The cells and their configs, each resolved once and validated (a typo fails here, before anything starts)."""
    planned = cells(experiment)
    configs = []
    for cell in planned:
        try:
            cfg = lab.resolve_config(cell.launch)
            get_backend(cfg.backend).check(cfg)  # the values; the installation and port are checked at start
        except GlmbenchError as exc:
            where = f"servers.{cell.server}"
            if exc.message.startswith((f"{where}.", f"{where}:")):  # its set or grid, named already
                raise
            raise GlmbenchError(f"{where}: {exc.message}", exc.hint, exc.exit_code) from None
        configs.append(cfg)
    for point in planned[0].points if planned else []:  # every cell runs the same points
        if point.options is not None:  # a bad load option is named where the file sets it, before the lab's check
            point.options.suite_and_workloads(named=experiment.option_field)
        lab.check_point(point)
    return planned, configs


@dataclass(frozen=True)
class Unstartable:
    """A cell whose server cannot start on this machine: its label, what is missing, and the next step."""

    label: str
    problem: str
    hint: str


def cannot_start(planned: list[Cell], configs: list[BackendConfig]) -> list[Unstartable]:
    """The cells whose backend is not found where their config would launch it here; each installation (backend,
    launch, environment) is looked for once, so a grid of one backend costs one look."""
    found: dict[str, GlmbenchError | None] = {}
    out = []
    for cell, cfg in zip(planned, configs):
        backend = get_backend(cfg.backend)
        where = json.dumps([cfg.backend, cfg.launch.model_dump(mode="json"), cfg.env], sort_keys=True)
        if where not in found:
            installed = find_installation(backend, cfg)
            found[where] = None if installed.found else not_installed(backend, installed)
        error = found[where]
        if error is not None:
            out.append(Unstartable(cell.label, error.message, error.hint or backend.install_hint))
    return out


def cannot_start_error(missing: list[Unstartable], total: int) -> GlmbenchError:
    """The error of an experiment some of whose cells cannot start here: which, grouped by what is missing, and what
    to do (install, point the config elsewhere, or run the others with ``--skip-missing``)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for m in missing:
        groups.setdefault((m.problem, m.hint), []).append(m.label)
    shown = "; ".join(f"{', '.join(labels[:6])}{f' and {len(labels) - 6} more' if len(labels) > 6 else ''} "
                      f"({problem})" for (problem, _), labels in groups.items())
    hints = "; ".join(dict.fromkeys(hint for _, hint in groups))
    others = total - len(missing)
    skip = f"; or --skip-missing to run the {others} that can" if others else ""
    return GlmbenchError(f"{len(missing)} of {total} server configurations cannot start on this machine: {shown}",
                         f"{hints}; or give a server its installation in the experiment file (set: {{launch.venv: "
                         f"PATH}}); glmbench backends shows what is found{skip}")


def estimate_point_s(cfg: BackendConfig, point: Point, experiment: Experiment) -> float:
    """A rough duration: arrivals of an open loop, waves of a closed loop, times one request's length."""
    ttft, itl = get_backend(cfg.backend).request_seconds(cfg)
    if point.kind == "equivalence" and point.suite is not None:
        suite = equivalence_suite(point.suite, point.suite_fields)
        prompts = suite.sharegpt + suite.bfcl + suite.conversations
        request_s = ttft + suite.max_tokens * itl
        # One at a time, then each prompt once among ``loaded`` in flight (waves of that many).
        return prompts * request_s + (-(-(prompts + suite.loaded) // suite.loaded) * request_s if suite.loaded else 0)
    if point.kind == "bfcl" or point.options is None:
        return _BFCL_POINT_S
    opts = point.options
    n = opts.num_prompts or 2000
    request_s = ttft + (opts.output_len or 200) * itl
    if opts.request_rate:
        span = n / opts.request_rate + request_s
    elif opts.max_concurrency:
        span = -(-n // opts.max_concurrency) * request_s
    else:
        span = 2 * request_s
    return span * experiment.repeats


def estimate_s(experiment: Experiment, planned: list[Cell], configs: list[BackendConfig]) -> float:
    """A rough duration of the whole experiment in seconds (adaptive searches at their most points)."""
    found = plans(experiment)  # their timed points are the same for every cell: built once
    total = 0.0
    for cell, cfg in zip(planned, configs):
        total += get_backend(cfg.backend).startup_s
        total += sum(estimate_point_s(cfg, p, experiment) for p in cell.points)
        total += sum(plan.bound([estimate_point_s(cfg, p, experiment) for p in plan.timed]) for plan in found)
    return total
