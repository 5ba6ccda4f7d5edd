"""The options of a load run, :class:`~glmbench.load.options.RunOptions`, where the library layer is imported from.

The model itself lives in :mod:`glmbench.load.options`, below this layer, so the
CLI can build ``run`` and ``bench`` from its fields without importing the library.
"""

from __future__ import annotations

from glmbench.load.options import RunOptions

__all__ = ["RunOptions"]
