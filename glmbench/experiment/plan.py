"""An experiment's plan before anything starts: its cells checked, and a rough estimate of its duration.

The estimate counts each server's start (its backend's ``startup_s``), its planned
points, and the most points each adaptive search can run; request times come from
the backend (:meth:`~glmbench.backends.base.Backend.request_seconds`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glmbench.backends.config import BackendConfig
from glmbench.backends.registry import get_backend
from glmbench.experiment.cells import cells
from glmbench.experiment.file import Cell, Experiment, Point, equivalence_suite
from glmbench.experiment.searches import plans

if TYPE_CHECKING:
    from glmbench.experiment.executors.base import Lab

__all__ = ["checked_cells", "estimate_point_s", "estimate_s"]

# BFCL's pace depends on the server; a placeholder an order of magnitude right on a GPU.
_BFCL_POINT_S = 300.0


def checked_cells(experiment: Experiment, lab: Lab) -> tuple[list[Cell], list[BackendConfig]]:
    """The cells and their configs, each resolved once and validated (a typo fails here, before anything starts)."""
    planned = cells(experiment)
    configs = []
    for cell in planned:
        cfg = lab.resolve_config(cell.launch)
        get_backend(cfg.backend).check(cfg)  # the values; the installation and port are checked at start
        configs.append(cfg)
    for point in planned[0].points if planned else []:  # every cell runs the same points
        lab.check_point(point)
    return planned, configs


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
