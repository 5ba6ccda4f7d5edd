"""Search kinds: one module each (ladder, sweep, capacity), each a ``SEARCH`` following :class:`Search`.

Found here by name, as backends are found in :mod:`glmbench.backends.registry`:
a new search kind is one new module in this folder (and, when it records an
outcome, its field in :class:`~glmbench.experiment.index.CellEntry`).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING

from glmbench.experiment.searches.base import Probe, Search, SearchPlan

if TYPE_CHECKING:
    from glmbench.experiment.file import Experiment

__all__ = ["Probe", "Search", "SearchPlan", "adaptive_kinds", "get_search", "plans", "registered", "searches"]


@cache
def searches() -> dict[str, Search]:
    """Name to search kind, in the order they run on a server."""
    found: list[Search] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        search = getattr(importlib.import_module(f"{__name__}.{info.name}"), "SEARCH", None)
        if search is not None:
            found.append(search)
    return {s.name: s for s in sorted(found, key=lambda s: (s.order, s.name))}


def registered() -> list[Search]:
    """Every search kind, in the order they run."""
    return list(searches().values())


def get_search(name: str) -> Search:
    """The search kind called ``name`` (a KeyError names the known ones)."""
    known = searches()
    if name not in known:
        raise KeyError(f"no search kind {name!r}; known: {', '.join(known)}")
    return known[name]


def adaptive_kinds() -> frozenset[str]:
    """The kinds of points decided as a server runs (another night may take other steps)."""
    return frozenset(s.name for s in registered() if s.adaptive)


def plans(experiment: Experiment) -> list[SearchPlan]:
    """The dry run's account of each adaptive search the experiment asks for."""
    out = []
    for search in registered():
        plan = search.describe(experiment) if search.applies(experiment) else None
        if plan is not None:
            out.append(plan)
    return out
