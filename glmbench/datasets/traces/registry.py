"""The trace formats glmbench reads: every module of this package that defines ``FORMAT``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from glmbench.datasets.traces.base import TraceFormat
from glmbench.errors import GlmbenchError

__all__ = ["trace_formats", "get_trace_format", "detect_trace_format"]


@cache
def trace_formats() -> dict[str, TraceFormat]:
    """Name to format, in a stable order."""
    import glmbench.datasets.traces as pkg

    found: dict[str, TraceFormat] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if fmt is not None:
            found[fmt.name] = fmt
    return found


def get_trace_format(name: str) -> TraceFormat:
    """The format called ``name``, or a user error listing the known ones."""
    known = trace_formats()
    if name not in known:
        raise GlmbenchError(f"unknown trace format {name!r}", f"choose from {', '.join(known)}, or auto")
    return known[name]


def detect_trace_format(path: Path) -> TraceFormat:
    """The format of the trace file at ``path``, told from its first line (a CSV header or a JSON record)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline().strip()
    except OSError as exc:
        raise GlmbenchError(f"cannot read trace {path}: {exc.strerror or exc}", "check --trace-path") from None
    for fmt in trace_formats().values():
        if fmt.recognises(first):
            return fmt
    raise GlmbenchError(f"{path} is in no trace format glmbench knows (first line: {first[:80]!r})",
                        f"pass --trace-format ({', '.join(trace_formats())}), or check the file")
