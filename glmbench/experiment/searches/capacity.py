"""Capacity under SLOs: the highest load at which every SLO holds, and the interval it is known to.

The search itself is pure: it asks ``attained(load, rerun)`` for the share of requests
that met every SLO at a load, and decides what to try next. Bracket first
(double the load from ``start`` until it fails, or halve it until it holds),
then bisect between the highest load that held and the lowest that failed until
the interval is ``tolerance`` wide, then run the boundary load once more: a
boundary that fails on its rerun counts as failed and the search goes on below it.

As a :class:`~glmbench.experiment.searches.base.Search`, the next probe is found by
replaying the search over the attainments measured so far (``cap-r12.5``,
``cap-c8``, ``...-rerun``), so a resumed search takes the same steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from glmbench.experiment.searches.base import Probe, SearchPlan

if TYPE_CHECKING:
    from glmbench.experiment.file import CapacitySpec, Experiment, Point

__all__ = ["SEARCH", "Capacity", "CapacityEntry", "CapacitySearch", "search_capacity"]


class CapacityEntry(BaseModel):
    """A capacity search's result, as the cell entry's ``capacity`` in the index keeps it.

    ``value`` held (None if nothing did), ``above`` failed (None if nothing did) or
    was not tried: the capacity lies in ``[value, above)``; ``probes`` lists every
    load tried in order, with its attainment and verdict.
    """

    model_config = ConfigDict(extra="forbid")

    by: str
    attainment_target: float
    value: float | None = None
    above: float | None = None
    probes: list[dict[str, Any]] = Field(default_factory=list)
    reason: str = ""


# The name the library has always exported for a search's result.
Capacity = CapacityEntry


def _bounds(history: list[tuple[float, bool]]) -> tuple[float | None, float | None]:
    """The highest load that always held below every failure, and the lowest load that failed."""
    failed = [v for v, ok in history if not ok]
    above = min(failed) if failed else None
    held = [v for v, ok in history if ok and (above is None or v < above)
            and all(ok2 for v2, ok2 in history if v2 == v)]
    return (max(held) if held else None), above


def search_capacity(attained: Callable[[float, bool], float], by: str, start: float, maximum: float,
                    tolerance: float, target: float, max_probes: int) -> Capacity:
    """Search as the module docstring says; ``attained`` runs a load and returns its SLO attainment (0-1)."""
    integer = by == "concurrency"
    floor = 1.0 if integer else min(start, 0.01)
    probes: list[dict[str, Any]] = []
    reason = ""
    history: list[tuple[float, bool]] = []
    reran: set[float] = set()
    load = float(int(start)) if integer else start
    while len(history) < max_probes:
        rerun = any(v == load for v, _ in history)
        share = attained(load, rerun)
        ok = share >= target
        history.append((load, ok))
        probes.append({"load": load, "attainment": round(share, 4), "held": ok, "rerun": rerun})
        low, high = _bounds(history)
        if high is None:  # everything held so far: go up
            if load >= maximum:
                reason = f"every SLO held up to the highest load tried ({maximum:g})"
                break
            load = min(load * 2, maximum)
        elif low is None:  # nothing held yet: go down
            if load <= floor:
                reason = f"the SLOs fail even at {load:g}"
                break
            load = max(high / 2, floor)
            load = float(int(load)) if integer else load
        else:
            middle = float((low + high) // 2) if integer else float(f"{(low + high) / 2:.3g}")
            narrow = (high - low <= tolerance * low) if not integer else False
            if not narrow and middle not in (low, high):  # (a middle equal to an end: as narrow as it gets)
                load = middle
            elif low in reran:
                reason = "bisected to the tolerance; boundary confirmed by a rerun"
                break
            else:
                reran.add(low)
                load = low
    else:
        reason = f"stopped after {max_probes} probes"
    value, above = _bounds(history)
    # Every field given, so the index (which writes the fields that were set) keeps them all.
    return CapacityEntry(by=by, attainment_target=target, value=value, above=above, probes=probes, reason=reason)


def attainment(run_dir: Path) -> float:
    """The share of a load point's requests that met every SLO (its worst repeat when repeated)."""
    from glmbench.results.store import load_summary, repeat_folders

    repeats = repeat_folders(run_dir)  # the run's own summary holds their mean: each repeat is read instead
    if repeats or not (run_dir / "summary.json").is_file():
        shares = [attainment(r) for r in repeats]
        return min(shares) if shares else 0.0  # with repeats the load holds only if every repeat held
    rows = load_summary(run_dir).rows
    return (rows[-1].get("goodput_pct") or 0.0) / 100 if rows else 0.0


def _spec(experiment: Experiment) -> CapacitySpec:
    """The experiment's capacity search (asked of one it applies to)."""
    assert experiment.load is not None and experiment.load.capacity is not None
    return experiment.load.capacity


class _Ask(Exception):
    """Raised by a replay that has run out of measured attainments: the load to measure next."""

    def __init__(self, load: float, rerun: bool) -> None:
        super().__init__(load, rerun)
        self.load, self.rerun = load, rerun


class CapacitySearch:
    """The capacity search of ``load.capacity``, over its SLOs."""

    name: ClassVar[str] = "capacity"
    order: ClassVar[int] = 20
    adaptive: ClassVar[bool] = True
    # The most load held under the SLOs is best: capacity is no load metric with a registered direction.
    objectives: ClassVar[dict[str, tuple[str, str | None]]] = {"capacity": ("capacity", None)}

    def applies(self, experiment: Experiment) -> bool:
        return experiment.load is not None and experiment.load.capacity is not None

    def plan(self, experiment: Experiment) -> list[Point]:
        return []

    def _replay(self, experiment: Experiment, measured: list[float | None]) -> Capacity:
        spec = _spec(experiment)
        answers = iter(measured)

        def attained(load: float, rerun: bool) -> float:
            try:
                return next(answers) or 0.0
            except StopIteration:
                raise _Ask(load, rerun) from None

        return search_capacity(attained, spec.by, spec.start, spec.max, spec.tolerance, spec.attainment,
                               spec.max_probes)

    def next_probe(self, experiment: Experiment, measured: list[float | None]) -> Probe | None:
        from glmbench.experiment.file import Point

        try:
            self._replay(experiment, measured)
        except _Ask as ask:
            by = experiment.load.capacity.by  # type: ignore[union-attr]
            label = f"cap-{'c' if by == 'concurrency' else 'r'}{ask.load:g}" + ("-rerun" if ask.rerun else "")
            return Probe(Point(label, "load", experiment.probe_options(by, ask.load)), read=attainment)
        return None

    def outcome(self, experiment: Experiment, measured: list[float | None]) -> CapacityEntry:
        return self._replay(experiment, measured)

    def describe(self, experiment: Experiment) -> SearchPlan:
        from glmbench.experiment.file import Point

        c = _spec(experiment)
        unit = "in flight" if c.by == "concurrency" else "req/s"
        tag = "c" if c.by == "concurrency" else "r"

        def bound(timed: list[float]) -> float:
            # Every probe timed at the start load: the longest of a search that only goes up.
            return c.max_probes * timed[0]

        return SearchPlan(c.max_probes, f"up to {c.max_probes} capacity probes", f"cap-{tag}<load>, cap-{tag}<load>-rerun",
                          f"capacity search by {c.by}: from {c.start:g} {unit} up to {c.max:g}, doubling then "
                          f"bisecting to a tolerance of {c.tolerance:g}, then the boundary run once more; at most "
                          f"{c.max_probes} probes (the rerun among them); a load holds when {c.attainment:g} of "
                          f"its requests meet every SLO",
                          [Point("cap", "load", experiment.probe_options(c.by, c.start))], bound)

    def summary(self, cell: Any) -> dict[str, Any]:
        cap = cell.capacity
        return {"capacity": cap.value if cap else None, "capacity_by": cap.by if cap else None,
                "capacity_fails_at": cap.above if cap else None}


SEARCH = CapacitySearch()
