"""GuideLLM's sweep profile: a synchronous pass (one request at a time), a throughput pass (all at once), then
``points`` Poisson rates evenly spaced between the two request rates measured (``sweep-sync``, ``sweep-max``,
``sweep-r3.2``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from glmbench.experiment.searches.base import Probe, SearchPlan

if TYPE_CHECKING:
    from glmbench.experiment.file import Experiment, Point

__all__ = ["SEARCH", "Sweep", "SweepEntry"]


class SweepEntry(BaseModel):
    """What a cell's sweep measured and the rates it chose from that (the cell entry's ``sweep``)."""

    model_config = ConfigDict(extra="forbid")

    sync_request_s: float
    max_request_s: float
    rates: list[float]


def request_rate(run_dir: Path) -> float:
    """Completed requests per second of a load point (the mean of its repeats when repeated)."""
    from glmbench.results.store import load_summary, summary_folder

    rows = load_summary(summary_folder(run_dir) or run_dir).rows
    return float(rows[-1].get("request_s") or 0.0) if rows else 0.0


def _rates(points: int, sync: float, peak: float) -> list[float]:
    low, high = min(sync, peak), max(sync, peak)
    return [float(f"{low + (high - low) * (i + 1) / (points + 1):.3g}") for i in range(points)]


class Sweep:
    """The sweep: two measured passes decide the rates of the rest."""

    name: ClassVar[str] = "sweep"
    order: ClassVar[int] = 10
    adaptive: ClassVar[bool] = True
    objectives: ClassVar[dict[str, tuple[str, str | None]]] = {}

    def applies(self, experiment: Experiment) -> bool:
        return experiment.load is not None and experiment.load.sweep is not None

    def plan(self, experiment: Experiment) -> list[Point]:
        return []

    def _passes(self, experiment: Experiment) -> list[Point]:
        from glmbench.experiment.file import Point

        return [Point("sweep-sync", "load", experiment.probe_options("concurrency", 1)),
                Point("sweep-max", "load", experiment.burst_options())]

    def next_probe(self, experiment: Experiment, measured: list[float | None]) -> Probe | None:
        from glmbench.experiment.file import Point

        assert experiment.load is not None and experiment.load.sweep is not None
        if len(measured) < 2:
            return Probe(self._passes(experiment)[len(measured)], read=request_rate)
        rates = _rates(experiment.load.sweep.points, measured[0] or 0.0, measured[1] or 0.0)
        step = len(measured) - 2
        if step >= len(rates):
            return None
        return Probe(Point(f"sweep-r{rates[step]:g}", "load", experiment.probe_options("rate", rates[step])))

    def outcome(self, experiment: Experiment, measured: list[float | None]) -> SweepEntry:
        assert experiment.load is not None and experiment.load.sweep is not None
        sync, peak = measured[0] or 0.0, measured[1] or 0.0
        return SweepEntry(sync_request_s=sync, max_request_s=peak,
                          rates=_rates(experiment.load.sweep.points, sync, peak))

    def describe(self, experiment: Experiment) -> SearchPlan:
        assert experiment.load is not None and experiment.load.sweep is not None
        n = experiment.load.sweep.points

        def bound(timed: list[float]) -> float:
            # Each rate timed as the synchronous pass: every rate lies above its request rate, so none takes longer.
            sync, burst = timed
            return sync * (n + 1) + burst

        return SearchPlan(n + 2, f"{n + 2} sweep points", "sweep-sync, sweep-max, sweep-r<rate>",
                          f"sweep: one request at a time (sweep-sync), all at once (sweep-max), then {n} Poisson "
                          f"rate{'s' if n != 1 else ''} evenly between the two request rates measured",
                          self._passes(experiment), bound)

    def summary(self, cell: Any) -> dict[str, Any]:
        return {}


SEARCH = Sweep()
