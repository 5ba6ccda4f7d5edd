"""What a distribution metric is: a tag and one function from records to raw values (its title, unit and
direction are in :mod:`glmbench.metrics.registry`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from glmbench.results.records import RequestRecord

__all__ = ["DistributionMetric", "STATS", "ALL_STATS", "describe_ns"]

# The statistics tables and compare use; ALL_STATS adds the spread a summary keeps beside them.
STATS = ("mean", "p50", "p90", "p99")
ALL_STATS = (*STATS, "std", "max")


class DistributionMetric:
    """A latency-like metric: values in ns, reported in ms as mean, p50, p90, p99 (and std, max).

    Subclasses set ``tag`` and ``description`` and implement :meth:`values`.
    Keys in summaries are ``{tag}_ms_{stat}``.
    """

    tag: ClassVar[str]
    description: ClassVar[str]

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        raise NotImplementedError

    def summarize(self, records: Sequence[RequestRecord]) -> dict[str, float | None]:
        return {f"{self.tag}_ms_{k}": v for k, v in describe_ns(self.values(records)).items()}


def describe_ns(values_ns: Sequence[float]) -> dict[str, float | None]:
    """Mean, percentiles, std and max of ns values, in ms (None when there are no values).

    Percentiles use linear interpolation (numpy's default), as vLLM's and
    SGLang's benchmark clients do.
    """
    if len(values_ns) == 0:
        return dict.fromkeys(ALL_STATS)
    arr = np.asarray(values_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"mean": float(arr.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "std": float(arr.std()), "max": float(arr.max())}
