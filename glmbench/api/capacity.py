"""Capacity under SLOs: the highest load at which every SLO holds, and the interval it is known to.

The search is pure: it asks ``attained(load, rerun)`` for the share of requests
that met every SLO at a load, and decides what to try next. Bracket first
(double the load from ``start`` until it fails, or halve it until it holds),
then bisect between the highest load that held and the lowest that failed until
the interval is ``tolerance`` wide, then run the boundary load once more: a
boundary that fails on its rerun counts as failed and the search goes on below it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Capacity", "search_capacity"]


@dataclass
class Capacity:
    """The result: ``value`` held (None if nothing did), ``above`` failed (None if nothing did) or was not tried.

    The capacity lies in ``[value, above)``; ``probes`` lists every load tried in order,
    with its attainment and verdict.
    """

    by: str
    target: float
    value: float | None = None
    above: float | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "attainment_target": self.target, "value": self.value, "above": self.above,
                "probes": self.probes, "reason": self.reason}


def _bounds(history: list[tuple[float, bool]]) -> tuple[float | None, float | None]:
    """The highest load that always held below every failure, and the lowest load that failed."""
    failed = [v for v, ok in history if not ok]
    above = min(failed) if failed else None
    held = [v for v, ok in history if ok and (above is None or v < above)
            and all(ok2 for v2, ok2 in history if v2 == v)]
    return (max(held) if held else None), above


def search_capacity(attained: Callable[[float, bool], float], by: str, start: float, maximum: float,
                    tolerance: float, target: float, max_probes: int) -> Capacity:
    """Search as the module docstring says; ``attained`` runs a load and returns its SLO attainment (0-1)."""
    integer = by == "concurrency"
    floor = 1.0 if integer else min(start, 0.01)
    result = Capacity(by=by, target=target)
    history: list[tuple[float, bool]] = []
    reran: set[float] = set()
    load = float(int(start)) if integer else start
    while len(history) < max_probes:
        rerun = any(v == load for v, _ in history)
        share = attained(load, rerun)
        ok = share >= target
        history.append((load, ok))
        result.probes.append({"load": load, "attainment": round(share, 4), "held": ok, "rerun": rerun})
        low, high = _bounds(history)
        if high is None:  # everything held so far: go up
            if load >= maximum:
                result.reason = f"every SLO held up to the highest load tried ({maximum:g})"
                break
            load = min(load * 2, maximum)
        elif low is None:  # nothing held yet: go down
            if load <= floor:
                result.reason = f"the SLOs fail even at {load:g}"
                break
            load = max(high / 2, floor)
            load = float(int(load)) if integer else load
        else:
            middle = float((low + high) // 2) if integer else float(f"{(low + high) / 2:.3g}")
            narrow = (high - low <= tolerance * low) if not integer else False
            if not narrow and middle not in (low, high):  # (a middle equal to an end: as narrow as it gets)
                load = middle
            elif low in reran:
                result.reason = "bisected to the tolerance; boundary confirmed by a rerun"
                break
            else:
                reran.add(low)
                load = low
    else:
        result.reason = f"stopped after {max_probes} probes"
    result.value, result.above = _bounds(history)
    return result
