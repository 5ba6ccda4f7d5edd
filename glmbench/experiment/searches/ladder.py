"""The ladder: load points fixed by the file, known before anything starts.

The suite's own workloads as they are (``load.workloads``), then a closed loop at
each concurrency of ``load.concurrency`` (``c8``) and Poisson arrivals at each
rate of ``load.rate`` (``r2.5``), both on the suite's workload that sends
everything at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from glmbench.experiment.searches.base import PlannedSearch

if TYPE_CHECKING:
    from glmbench.experiment.file import Experiment, Point

__all__ = ["SEARCH", "Ladder"]


class Ladder(PlannedSearch):
    """Workloads, a concurrency ladder and a rate ladder: every point planned, none decided as it runs."""

    name: ClassVar[str] = "ladder"
    order: ClassVar[int] = 0

    def applies(self, experiment: Experiment) -> bool:
        load = experiment.load
        return load is not None and bool(load.workloads or load.concurrency or load.rate)

    def plan(self, experiment: Experiment) -> list[Point]:
        from glmbench.experiment.file import (  # (file.py is above searches)
            Point,
            burst_workload,
            folder_name,
        )

        load = experiment.load
        out: list[Point] = []
        if load is None:
            return out
        common = experiment.common_options()
        for i, name in enumerate(load.workloads):
            folder_name(name, f"load.workloads.{i}")
            out.append(Point(name, "load", experiment.options({**common, "workload": name})))
        if load.concurrency or load.rate:
            base = burst_workload(load.suite)
            for cap in load.concurrency:
                out.append(Point(f"c{cap}", "load",
                                 experiment.options({**common, "workload": base, "max_concurrency": cap})))
            for rate in load.rate:
                out.append(Point(f"r{rate:g}", "load",
                                 experiment.options({**common, "workload": base, "request_rate": rate})))
        return out


SEARCH = Ladder()
