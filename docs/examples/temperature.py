"""A new option of ``run`` and ``bench``: ``--temperature``, the sampling temperature of every request.

Two edits in ``glmbench/load/options.py``: the field below, added to
``RunOptions`` itself (a Flag beside its type says its help and which commands
take it; without ``commands`` every command built from the model does), and
its entry in ``_REQUEST``, the options that ``RunOptions.suite_and_workloads``
applies to the suite's ``request`` section (``temperature`` is already a
field there, 0 by default).

Here the field is on a subclass, so that the test can build the real ``run``
and ``bench`` commands from it without changing glmbench.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from glmbench.load import options
from glmbench.util.flag import Flag

__all__ = ["REQUEST", "WithTemperature"]


class WithTemperature(options.RunOptions):
    """RunOptions with the new field, as it reads in RunOptions."""

    # --8<-- [start:field]
    temperature: Annotated[float | None, Field(ge=0.0), Flag("Sampling temperature of every request "
                                                             "(default: the suite's, 0).")] = None
    # --8<-- [end:field]


REQUEST = {**options._REQUEST, "temperature": "temperature"}
