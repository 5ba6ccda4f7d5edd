"""A new latency metric: decode time, the last token-bearing chunk minus the first.

A distribution metric is a tag, a description and one function from records to
raw nanoseconds; its title, unit and direction are declared once, as a
``Metric`` of the registry. Add ``DECODE`` to ``METRICS`` in
``glmbench/metrics/registry.py`` (written there as ``_latency("decode", "decode
time", DecodeTime)``) and every summary row gets ``decode_ms_{mean,p50,p90,p99,std,max}``,
the row model checks it, and reports, ``compare``, ``history`` and the metric
reference name it.
"""

from __future__ import annotations

from collections.abc import Sequence

from glmbench.metrics.base import ALL_STATS, DistributionMetric
from glmbench.metrics.registry import Metric
from glmbench.results.records import RequestRecord

__all__ = ["DECODE", "DecodeTime"]


class DecodeTime(DistributionMetric):
    """Time spent streaming the answer, per request with more than one token-bearing chunk."""

    tag = "decode"
    description = "last token-bearing chunk minus the first, per request with more than one chunk"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.chunk_ns[-1] - r.chunk_ns[0] for r in records if r.ok and len(r.chunk_ns) > 1]


DECODE = Metric("decode", "decode time", "ms", "lower", stats=ALL_STATS, compared=True, calc=DecodeTime)
