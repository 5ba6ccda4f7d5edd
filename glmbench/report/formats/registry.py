"""The output formats glmbench knows: every module of :mod:`glmbench.report.formats` that defines ``FORMAT``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from glmbench.errors import GlmbenchError
from glmbench.report.formats.base import OutputFormat

__all__ = ["DEFAULT", "formats", "printed_formats", "get_format"]

# What --format prints when none is named; listed first.
DEFAULT = "table"


@cache
def formats() -> dict[str, OutputFormat]:
    """Name to format: the default first, then by name."""
    import glmbench.report.formats as pkg

    found: dict[str, OutputFormat] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        fmt = getattr(importlib.import_module(f"{pkg.__name__}.{info.name}"), "FORMAT", None)
        if fmt is not None:
            found[fmt.name] = fmt
    return dict(sorted(found.items(), key=lambda item: (item[0] != DEFAULT, item[0])))


def printed_formats() -> dict[str, OutputFormat]:
    """The formats ``--format`` offers (those printed, not only written as files)."""
    return {name: fmt for name, fmt in formats().items() if fmt.printed}


def get_format(name: str, printed: bool = True) -> OutputFormat:
    """The format called ``name`` (among those printed, unless ``printed`` is False), or a user error naming them."""
    known = printed_formats() if printed else formats()
    if name not in known:
        raise GlmbenchError(f"unknown report format {name!r}", f"use one of {', '.join(known)}")
    return known[name]
