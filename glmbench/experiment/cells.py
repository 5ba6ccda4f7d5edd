"""An experiment expanded: every server configuration (:class:`~glmbench.experiment.file.Cell`, its grid's
cartesian product) with the points each runs (:class:`~glmbench.experiment.file.Point`), names checked."""

from __future__ import annotations

import itertools
import math

from glmbench.backends.choice import Launch
from glmbench.errors import GlmbenchError
from glmbench.experiment.file import (
    MAX_CELLS,
    Cell,
    Experiment,
    Point,
    cell_label,
    count_cells,
    folder_name,
    set_value,
    suite_label,
)
from glmbench.experiment.searches import registered
from glmbench.util.text import one_line

__all__ = ["cells", "points"]


def points(experiment: Experiment) -> list[Point]:
    """The points every server runs, planned before any starts: each search kind's own, in the registry's order
    (:mod:`glmbench.experiment.searches`), then the suites (a BFCL suite's point per load, an equivalence suite's
    one point, whose ``reference`` :func:`cells` fills in).

    Each point's folder name is checked here, before anything starts.
    """
    out: list[Point] = [p for search in registered() for p in search.plan(experiment)]
    for i, entry in enumerate(experiment.suites):
        kind = entry.kind
        base = suite_label(entry.suite, kind)
        for suffix, pace in entry.loads():
            label = f"{base}-{suffix}" if suffix else base
            folder_name(label, f"suites.{i}")
            out.append(Point(label, kind, suite=entry.suite, suite_fields={**entry.options, **pace},
                             reference=entry.reference))
    labels = [p.label for p in out]
    if len(set(labels)) != len(labels):
        raise GlmbenchError("two points of the experiment have the same label",
                            "give each BFCL suite its own load values, or each suite its own suite file")
    return out


def _references(experiment: Experiment, planned: list[Point], labels: list[str]) -> None:
    """Check that each equivalence point's reference names a server of the experiment; none names the first."""
    for i, spec in enumerate(experiment.suites):
        reference = spec.reference
        if reference is not None and reference not in labels:
            shown = ", ".join(repr(label) for label in labels[:8]) + (" ..." if len(labels) > 8 else "")
            raise GlmbenchError(f"suites.{i}.reference: {reference[:80]!r} is no server of the experiment",
                                f"name one by its label: {shown}")
    for point in planned:
        if point.kind == "equivalence" and point.reference is None and labels:
            point.reference = labels[0]


def cells(experiment: Experiment) -> list[Cell]:
    """Every server configuration: each server, times the cartesian product of its grid.

    The product is counted first: more than :data:`MAX_CELLS` is a user error, before any is built.
    """
    total = count_cells(experiment)
    if total > MAX_CELLS:
        sizes = [math.prod(len(v) for v in spec.grid.values()) for spec in experiment.servers]
        big = sizes.index(max(sizes))
        keys = [f"{len(v)} {one_line(k, 40)}" for k, v in experiment.servers[big].grid.items()]
        grid = " x ".join(keys[:6]) + (f" x ... ({len(keys)} keys)" if len(keys) > 6 else "") if keys else "no grid"
        raise GlmbenchError(f"the experiment has {total:,} server configurations, more than the {MAX_CELLS:,} one "
                            f"experiment may have (the largest, servers.{big}: {grid} = {sizes[big]:,})",
                            "give the grid fewer keys or fewer values per key, or split it over several "
                            "experiment files")
    planned = points(experiment)  # the same for every cell: built (and its suites read) once
    out: list[Cell] = []
    for i, spec in enumerate(experiment.servers):
        keys = list(spec.grid)
        for values in itertools.product(*(spec.grid[k] for k in keys)) if keys else [()]:
            combo = dict(zip(keys, values))
            overrides = {**spec.set, **combo}
            sets = [f"{k}={set_value(v)}" for k, v in overrides.items()]
            origins = {k: f"servers.{i}.{'grid' if k in combo else 'set'}" for k in overrides}
            launch = Launch(backend=spec.backend, config=spec.config, sets=sets, model=spec.model,
                            set_origins=origins)
            label = cell_label(spec, combo)
            folder_name(label, f"servers.{i}")
            out.append(Cell(label, launch, overrides, list(planned), server=i))
    labels = [c.label for c in out]
    if len(set(labels)) != len(labels):
        raise GlmbenchError("two servers of the experiment have the same label",
                            "give each server its own name")
    _references(experiment, planned, labels)
    folders = [c.folder for c in out]
    if len(set(folders)) != len(folders):  # "a b" and "a_b": one folder, two cells
        raise GlmbenchError("two servers of the experiment would share a folder",
                            "give each server its own name")
    return out
