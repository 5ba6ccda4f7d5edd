"""The backends glmbench knows: every module of ``glmbench.backends.builtin`` that defines ``BACKEND``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from glmbench.backends.base import Backend
from glmbench.errors import GlmbenchError, did_you_mean

__all__ = ["backends", "get_backend"]


@cache
def backends() -> dict[str, Backend]:
    """Name to backend, in a stable order."""
    import glmbench.backends.builtin as pkg

    found: dict[str, Backend] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        backend = getattr(module, "BACKEND", None)
        if backend is not None:
            found[backend.name] = backend
    return found


def get_backend(name: str) -> Backend:
    """The backend called ``name``, or a user error listing the known ones."""
    known = backends()
    if name not in known:
        raise GlmbenchError(f"unknown backend {name!r}{did_you_mean(name, known)}",
                            f"choose from {', '.join(known)}, or pass --endpoint URL")
    return known[name]
