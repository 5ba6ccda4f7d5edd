"""The experiment file model: moved to :mod:`glmbench.experiment.file` (and its expansion to
:mod:`glmbench.experiment.cells`); kept here for callers of the library."""

from glmbench.experiment.cells import cells, points
from glmbench.experiment.file import (
    MAX_CELLS,
    Cell,
    Experiment,
    LoadSpec,
    Point,
    ServerSpec,
    count_cells,
    experiment_path,
    folder_name,
    load_experiment,
)

__all__ = ["MAX_CELLS", "Cell", "Experiment", "LoadSpec", "Point", "ServerSpec", "cells", "count_cells",
           "experiment_path", "folder_name", "load_experiment", "points"]
