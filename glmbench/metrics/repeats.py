"""Repeats of one run as one result: per workload, each metric's mean over the repeats with its 95% interval.

``glmbench run --repeat N`` (and an experiment's ``repeats``) measures every
workload N times against one server. What a reader wants of that is one row per
workload: the mean of each metric and how far it can be trusted, the way AIPerf
reports several profile runs. A combined row keeps the summary row's keys, so
every table, report and plot reads it as it reads one run's, and adds:

- ``repeats``: how many repeats the row combines;
- ``{key}_ci``: ``[low, high]``, the two-sided 95% Student t interval of the
  mean of a registered metric ``key`` over the repeats (with two or more).

Counts (``completed``, ``failed``) are means per repeat too; ``errors`` adds the
repeats' reasons up (how often each happened in all). A flag (``client_saturated``,
``interrupted``) holds if it held in any repeat; texts that differ are joined, and lists of names
(``client_flags``) are merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glmbench.metrics.registry import lookup, published
from glmbench.results.schema import LoadSummary
from glmbench.util.mean_interval import mean_interval

__all__ = ["REPEATS", "CI_SUFFIX", "is_metric_key", "combine_rows", "combine_summaries", "interval", "total"]

REPEATS = "repeats"
"""The key of a combined row that says how many repeats it combines."""

CI_SUFFIX = "_ci"
"""``{key}_ci`` holds a combined metric's 95% interval ``[low, high]``."""

# The published table's short keys (``ttft_ms``) are a family's mean under another name: metrics too.
_PUBLISHED_KEYS = frozenset(m.published_key for m in published())


def is_metric_key(key: str) -> bool:
    """Whether ``key`` is a registered metric's summary-row key (or a published table's alias of one)."""
    return lookup(key) is not None or key in _PUBLISHED_KEYS


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mean(values: list[Any]) -> Any:
    mean = sum(values) / len(values)
    # Whole counts that agree stay whole (6 completed in every repeat is 6, not 6.0).
    return int(mean) if all(isinstance(v, int) for v in values) and float(mean).is_integer() else mean


def _combine(key: str, values: list[Any]) -> Any:
    """The combined value of one key from each repeat's value (None where a repeat has none)."""
    given = [v for v in values if v is not None]
    if not given:
        return None
    if all(isinstance(v, bool) for v in given):
        return any(given)
    if all(_number(v) for v in given):
        return _mean(given)
    if key == "errors" and all(isinstance(v, dict) for v in given):
        out: dict[str, int] = {}
        for reasons in given:
            for reason, count in reasons.items():
                out[reason] = out.get(reason, 0) + int(count)
        return out
    if all(isinstance(v, str) for v in given):
        return "; ".join(dict.fromkeys(given))
    if all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in given):
        return list(dict.fromkeys(x for v in given for x in v))  # names (client_flags): any repeat's
    return given[0]


def combine_rows(repeats: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per workload (in the order they first ran) from each repeat's summary rows.

    A workload missing from a repeat (cut short) combines the repeats that have it.
    """
    by_workload: dict[str, list[dict[str, Any]]] = {}
    for rows in repeats:
        for row in rows:
            by_workload.setdefault(row["workload"], []).append(row)
    out = []
    for rows in by_workload.values():
        keys = list(dict.fromkeys(k for row in rows for k in row if not k.endswith(CI_SUFFIX) and k != REPEATS))
        combined: dict[str, Any] = {k: _combine(k, [row.get(k) for row in rows]) for k in keys}
        for key in keys:
            values = [row[key] for row in rows if _number(row.get(key))]
            if is_metric_key(key) and (found := mean_interval(values)) is not None:
                combined[key + CI_SUFFIX] = [found[1], found[2]]
        combined[REPEATS] = len(rows)
        out.append(combined)
    return out


def combine_summaries(summaries: Sequence[LoadSummary], run_id: str) -> LoadSummary:
    """The summary of a repeated run named ``run_id``: its rows combined (:func:`combine_rows`); stopped early
    when a repeat was, approximate when any repeat's token counts were."""
    stopped = next((s for s in summaries if s.aborted), None)
    return LoadSummary(run_id=run_id, approximate_tokens=any(s.approximate_tokens for s in summaries),
                       aborted=stopped.aborted if stopped else None, aborted_by=stopped.aborted_by if stopped else None,
                       rows=combine_rows([s.rows for s in summaries]))


def interval(row: dict[str, Any], key: str) -> tuple[float, float] | None:
    """The 95% interval of ``key`` in a combined row, or None (one run's row, or one repeat)."""
    found = row.get(key + CI_SUFFIX)
    if isinstance(found, (list, tuple)) and len(found) == 2 and all(_number(v) for v in found):
        return float(found[0]), float(found[1])
    return None


def total(row: dict[str, Any], key: str) -> float | None:
    """A count summed over a combined row's repeats (its mean times the repeats); the count itself for one run."""
    value = row.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return value * int(row.get(REPEATS) or 1)
