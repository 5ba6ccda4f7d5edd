"""The simulator's dialects: one serving backend's HTTP face each (vLLM, SGLang, LightLLM).

A dialect owns what differs between backends: health and readiness routes,
``/metrics`` names, the shape of a stream (reasoning field, role chunk, one
event per token or per step, usage policy) and the backend's own endpoints.

A dialect is one module in this folder whose ``DIALECT`` is its :class:`Dialect`
subclass; :data:`DIALECTS` finds every such module, and ``SimConfig.dialect``
accepts exactly their names.
"""

from __future__ import annotations

import importlib

from glmbench.sim.config import SimConfig, dialect_names
from glmbench.sim.dialect import Dialect

__all__ = ["Dialect", "DIALECTS", "dialect_for"]


def _discover() -> dict[str, type[Dialect]]:
    found: dict[str, type[Dialect]] = {}
    for name in dialect_names():
        dialect = importlib.import_module(f"{__name__}.{name}").DIALECT
        assert dialect.name == name, f"the dialect in {name}.py must be named {name!r}"
        found[name] = dialect
    return found


DIALECTS: dict[str, type[Dialect]] = _discover()
"""Dialect name to class, in name order: every module of this folder (its ``DIALECT``)."""


def dialect_for(config: SimConfig) -> Dialect:
    """The dialect the config names."""
    return DIALECTS[config.dialect](config)
