"""Inter-token latency: pooled per chunk (the field's figure) and weighted by tokens (MTP-aware)."""

from __future__ import annotations

from collections.abc import Sequence

from glmbench.metrics.base import DistributionMetric
from glmbench.results.records import RequestRecord

__all__ = ["ITL", "ITLTokenWeighted"]


class ITL(DistributionMetric):
    tag = "itl"
    description = "gaps between consecutive token-bearing chunks, pooled over requests (vLLM's definition)"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        gaps: list[float] = []  # whole ns here
        for r in records:
            if r.ok and len(r.chunk_ns) > 1:
                ts = r.chunk_ns
                gaps.extend(b - a for a, b in zip(ts, ts[1:]))
        return gaps


class ITLTokenWeighted(DistributionMetric):
    tag = "itl_token"
    description = ("each chunk gap split evenly over the tokens that chunk carried: with MTP a chunk of k tokens "
                   "counts k times at gap/k; needs per-chunk token counts from the server (continuous usage)")

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        gaps: list[float] = []
        for r in records:
            if not (r.ok and len(r.chunk_ns) > 1 and len(r.chunk_tokens) == len(r.chunk_ns)):
                continue
            ts, ks = r.chunk_ns, r.chunk_tokens
            for i in range(1, len(ts)):
                k = max(1, ks[i])
                gaps.extend([(ts[i] - ts[i - 1]) / k] * k)
        return gaps
