"""The metrics compare judges, each with its better direction and unit from the registry, and how to resample it
per request.

A BFCL run is judged on its accuracy and, when it was asked as traffic, on its
requests' speed: the load metrics of its load rows, as a load run's. An
equivalence run is judged on one figure per pass: the share of prompts whose
output is the baseline's exactly (:data:`MATCH_RATE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from glmbench.metrics.base import STATS
from glmbench.metrics.registry import ACCURACY, METRICS, Better, Metric

__all__ = ["MetricSpec", "LOAD_METRICS", "DEFAULT_LOAD_METRICS", "DEFAULT_BFCL_LOAD_METRICS", "BFCL_METRIC",
           "MATCH_RATE", "metric_spec", "known_metrics"]


@dataclass(frozen=True)
class MetricSpec:
    """A summary key, the better direction, its display unit, and, for per-request metrics,
    the distribution tag (``ttft``, ``itl``...) and statistic (``mean``, ``p99``) a bootstrap resamples.
    """

    key: str
    better: Better
    unit: str
    tag: str | None = None
    stat: str | None = None

    @property
    def per_request(self) -> bool:
        return self.tag is not None


def _specs(m: Metric) -> list[MetricSpec]:
    assert m.better is not None, f"{m.tag} is compared but has no better direction"
    if not m.stats:
        return [MetricSpec(m.key(), m.better, m.unit)]
    specs = []
    for stat in STATS:
        # ITL is pooled over chunks, so only its mean (a ratio of sums) resamples cleanly by request.
        resample = stat in ("mean", "p99") and not (m.tag.startswith("itl") and stat != "mean")
        specs.append(MetricSpec(m.key(stat), m.better, m.unit, m.tag if resample else None,
                                stat if resample else None))
    return specs


# One-value metrics first, then the distributions: the order `--metric` errors list them in.
LOAD_METRICS: dict[str, MetricSpec] = {
    spec.key: spec
    for m in sorted((m for m in METRICS if m.compared), key=lambda m: bool(m.stats))
    for spec in _specs(m)
}

DEFAULT_LOAD_METRICS = ("output_tok_s", "request_s", "ttft_ms_mean", "ttft_ms_p99", "e2e_ms_mean", "e2e_ms_p99",
                        "itl_ms_mean", "tpot_ms_mean", "spec_accept_length")

# A BFCL run's requests: the load defaults, and how long a tool call takes to start and to finish.
DEFAULT_BFCL_LOAD_METRICS = (*DEFAULT_LOAD_METRICS, "ttft_tool_call_ms_mean", "tool_call_ms_mean")

BFCL_METRIC = MetricSpec(ACCURACY.tag, "higher", ACCURACY.unit)

# An equivalence run's figure: the share (0 to 1) of prompts whose output is the baseline's exactly.
MATCH_RATE = MetricSpec("match_rate", "higher", "share of prompts")


def known_metrics(kind: str) -> list[str]:
    """The metric keys compare accepts for a load, BFCL or equivalence run (BFCL: accuracy, then the load metrics
    of its requests)."""
    if kind == "equivalence":
        return [MATCH_RATE.key]
    return [BFCL_METRIC.key, *LOAD_METRICS] if kind == "bfcl" else list(LOAD_METRICS)


def metric_spec(key: str, kind: str) -> MetricSpec | None:
    """The spec of a metric key, None if compare does not know it for this kind of run."""
    if kind == "equivalence":
        return MATCH_RATE if key == MATCH_RATE.key else None
    if kind == "bfcl" and key == BFCL_METRIC.key:
        return BFCL_METRIC
    return LOAD_METRICS.get(key)
