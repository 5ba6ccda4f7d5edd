"""One workload's summary: every metric, flat, JSON-ready, keyed in snake_case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glmbench.results.records import RequestRecord
from glmbench.metrics.base import DistributionMetric
from glmbench.metrics.client import client_health, issue_lags
from glmbench.metrics.goodput import goodput
from glmbench.metrics.itl import ITL, ITLTokenWeighted
from glmbench.metrics.latency import (
    E2EL, TPOT, TTFT, DispatchLag, E2ELFromDue, SendOverhead, TTFTAnswer, TTFTFromDue, TTFTReasoning,
)
from glmbench.metrics.throughput import error_reasons, throughput

__all__ = ["DISTRIBUTIONS", "summarize_workload"]

DISTRIBUTIONS: tuple[DistributionMetric, ...] = (
    TTFT(), ITL(), TPOT(), E2EL(), ITLTokenWeighted(), TTFTReasoning(), TTFTAnswer(),
    TTFTFromDue(), E2ELFromDue(), DispatchLag(), SendOverhead(),
)


def summarize_workload(
    workload: str,
    title: str,
    records: Sequence[RequestRecord],
    t0_ns: int,
    loop_lag_ns: Sequence[int] = (),
    client_cpu_s: float = 0.0,
    slos: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary row of one workload; the published table's columns are ``output_tok_s``, ``ttft_ms``, ``e2e_ms``."""
    row: dict[str, Any] = {"workload": workload, "title": title}
    row.update(throughput(records, t0_ns))
    for metric in DISTRIBUTIONS:
        row.update(metric.summarize(records))
    row["ttft_ms"] = row["ttft_ms_mean"]
    row["e2e_ms"] = row["e2e_ms_mean"]
    if slos:
        row.update(goodput(records, slos, row["duration_s"]))
        row["goodput_slos"] = dict(slos)
    row.update(client_health(loop_lag_ns, client_cpu_s, row["duration_s"], issue_lags(records)))
    row["errors"] = error_reasons(records)
    if extra:
        row.update(extra)
    return row
