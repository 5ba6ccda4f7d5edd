"""Experiments on a Ray cluster: moved to :mod:`glmbench.experiment.executors.ray`; the options and the
connection check are kept here for the CLI and callers of the library."""

from glmbench.experiment.executors.ray import (
    RayExecutor,
    RayOptions,
    connect,
    import_ray,
)

__all__ = ["RayExecutor", "RayOptions", "connect", "import_ray"]
