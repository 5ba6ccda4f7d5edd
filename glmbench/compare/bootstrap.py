"""Seeded bootstrap intervals on a candidate/baseline ratio, resampling requests.

Each side's requests are resampled independently (with replacement) and the
statistic recomputed; the interval is the percentile interval of the ratio.
A request contributes one value (TTFT, E2E, TPOT) or, for pooled ITL, the sum
and count of its gaps, so the pooled mean is resampled by request, not by gap
(gaps of one request are not independent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glmbench.results.records import RequestRecord

__all__ = ["RequestSample", "request_sample", "ratio_interval", "RESAMPLES", "SEED", "LEVEL"]

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95


@dataclass(frozen=True)
class RequestSample:
    """Per-request sums and counts of one metric (count 1 for single-valued metrics), in ms."""

    sums: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.sums)


def request_sample(records: Sequence[RequestRecord], tag: str) -> RequestSample:
    """The per-request values of distribution metric ``tag``, computed by glmbench's own metric definitions."""
    from glmbench.metrics.summary import DISTRIBUTIONS

    metric = next(m for m in DISTRIBUTIONS if m.tag == tag)
    sums, counts = [], []
    for record in records:
        values = metric.values([record])
        if values:
            sums.append(float(np.sum(values)) / 1e6)
            counts.append(len(values))
    return RequestSample(np.asarray(sums, dtype=np.float64), np.asarray(counts, dtype=np.float64))


def _statistic(sample: RequestSample, idx: np.ndarray, stat: str) -> np.ndarray:
    """``stat`` of each resample (rows of ``idx``)."""
    if stat == "mean":
        return sample.sums[idx].sum(axis=1) / sample.counts[idx].sum(axis=1)
    if not np.all(sample.counts == 1):
        raise ValueError(f"{stat} resamples only single-valued metrics")
    return np.percentile(sample.sums[idx], float(stat.removeprefix("p")), axis=1)


def ratio_interval(baseline: RequestSample, candidate: RequestSample, stat: str,
                   resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> tuple[float, float] | None:
    """The ``level`` percentile interval of candidate ``stat`` / baseline ``stat``; None with under 2 requests a side."""
    if len(baseline) < 2 or len(candidate) < 2:
        return None
    rng = np.random.default_rng(seed)
    base = _statistic(baseline, rng.integers(0, len(baseline), (resamples, len(baseline))), stat)
    cand = _statistic(candidate, rng.integers(0, len(candidate), (resamples, len(candidate))), stat)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = cand / base
    ratios = ratios[np.isfinite(ratios)]
    if len(ratios) == 0:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)
