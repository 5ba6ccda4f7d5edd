"""Capacity under SLOs: moved to :mod:`glmbench.experiment.searches.capacity`; kept here for callers of the library."""

from glmbench.experiment.searches.capacity import Capacity, search_capacity

__all__ = ["Capacity", "search_capacity"]
