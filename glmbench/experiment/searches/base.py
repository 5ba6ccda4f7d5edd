"""The search seam: how an experiment decides which load points a server runs.

A search kind is one module in this package with a ``SEARCH`` object that follows
:class:`Search`; :mod:`glmbench.experiment.searches` finds them. The runner, the
plan, the report and compare ask the search, never its name: it plans the points
known before anything starts, picks the next point from the figures measured so
far, bounds its duration for ``--dry-run``, and says what the report shows of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from glmbench.experiment.file import Experiment, Point

__all__ = ["Probe", "Search", "SearchPlan", "PlannedSearch"]


@dataclass
class Probe:
    """A point a search runs as it goes, and how to read the figure that decides the next one.

    With ``read`` the point must complete (a search cannot go on without its figure); without, it is run and
    recorded like any point, whatever its outcome.
    """

    point: Point
    read: Callable[[Path], float] | None = None


@dataclass
class SearchPlan:
    """What ``--dry-run`` says of a search: its most points per server, their labels, and what it does."""

    points: int
    count: str  # "7 sweep points", "up to 12 capacity probes"
    labels: str  # the points' labels, as a pattern
    text: str  # what the search does, in a line
    timed: list[Point] = field(default_factory=list)  # the points the estimate times, built once
    bound: Callable[[list[float]], float] = sum  # a rough upper bound of its duration from the timed points'


class Search(Protocol):
    """One kind of search over load points (a ladder, a sweep, a capacity search)."""

    name: ClassVar[str]
    """The registry's key, the kind of the index entries of its points, and the cell entry field of its outcome."""
    order: ClassVar[int]
    """Where it runs among the kinds (lower first), on every server."""
    adaptive: ClassVar[bool]
    """Whether it decides its points as it runs (another night may take other steps)."""
    objectives: ClassVar[dict[str, tuple[str, str | None]]]
    """Objectives it adds: name -> (server row key, the metric whose direction says which end is best; None:
    higher is best)."""

    def applies(self, experiment: Experiment) -> bool:
        """Whether the experiment file asks for this search."""
        ...

    def plan(self, experiment: Experiment) -> list[Point]:
        """The points known before anything starts, in order (their folder names checked)."""
        ...

    def next_probe(self, experiment: Experiment, measured: list[float | None]) -> Probe | None:
        """The next point from the figures read so far (one per probe run, in order); None when done."""
        ...

    def outcome(self, experiment: Experiment, measured: list[float | None]) -> BaseModel | None:
        """What the cell's index entry records of a finished search (None: nothing)."""
        ...

    def describe(self, experiment: Experiment) -> SearchPlan | None:
        """The dry run's account of an adaptive search (None for one whose points are all planned)."""
        ...

    def summary(self, cell: Any) -> dict[str, Any]:
        """The fields it adds to a server's report row, from the cell's index entry (the same keys for every cell)."""
        ...


class PlannedSearch:
    """A search whose points are all planned before anything starts: it decides nothing as it runs.

    Such a search sets ``name`` and ``order`` and writes ``applies`` and ``plan``;
    it has no probe, no outcome, no dry-run account of its own (its points are
    listed with the planned ones) and adds nothing to a server's report row.
    """

    name: ClassVar[str]
    order: ClassVar[int]
    adaptive: ClassVar[bool] = False
    objectives: ClassVar[dict[str, tuple[str, str | None]]] = {}

    def next_probe(self, experiment: Experiment, measured: list[float | None]) -> Probe | None:
        return None

    def outcome(self, experiment: Experiment, measured: list[float | None]) -> BaseModel | None:
        return None

    def describe(self, experiment: Experiment) -> SearchPlan | None:
        return None

    def summary(self, cell: Any) -> dict[str, Any]:
        return {}
