"""One workload's summary: every metric, flat, JSON-ready, keyed in snake_case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glmbench.metrics.base import DistributionMetric
from glmbench.metrics.client import concurrency_held, read_delays, self_check
from glmbench.metrics.goodput import goodput
from glmbench.metrics.registry import distributions, published
from glmbench.metrics.row import validated_row
from glmbench.metrics.throughput import error_reasons, throughput
from glmbench.results.records import RequestRecord

__all__ = ["DISTRIBUTIONS", "summarize_workload"]

# One calculator per registered distribution, in the registry's (the row's) order.
DISTRIBUTIONS: tuple[DistributionMetric, ...] = tuple(m.calc() for m in distributions() if m.calc)


def summarize_workload(
    workload: str,
    title: str,
    records: Sequence[RequestRecord],
    t0_ns: int,
    loop_lag_ns: Sequence[int] = (),
    client_cpu_s: float = 0.0,
    slos: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
    cap: int | None = None,
    sessions: Sequence[tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The summary row of one workload, checked against ``SummaryRow``; the published table's columns are
    ``output_tok_s``, ``ttft_ms``, ``e2e_ms``.

    The client's self-check (:func:`self_check`) says which figures the client's own lateness moved. Under a
    concurrency ``cap`` the row also says whether it was held (:func:`concurrency_held`), over ``sessions``
    (start, end) when the cap holds more than one request each (a conversation), else over the requests; a
    cap not held flags the load asked (``client_flags``).
    """
    row: dict[str, Any] = {"workload": workload, "title": title}
    row.update(throughput(records, t0_ns))
    for metric in DISTRIBUTIONS:
        row.update(metric.summarize(records))
    # The published table shows a distribution's mean under its own short key.
    for m in published():
        if m.stats:
            row[m.published_key] = row[m.key("mean")]
    if slos:
        row.update(goodput(records, slos, row["duration_s"]))
        row["goodput_slos"] = dict(slos)
    held: dict[str, object] = {}
    if cap:
        if sessions is None:
            sessions = [(r.start_ns, r.end_ns) for r in records if r.start_ns and r.end_ns]
        held = concurrency_held(sessions, cap)
    warning = held.pop("cap_warning", None)
    row.update(self_check(records, loop_lag_ns, client_cpu_s, row["duration_s"], cap=cap,
                          cap_warning=warning if isinstance(warning, str) else None))
    row.update(held)
    row.update(read_delays(records))
    row["errors"] = error_reasons(records)
    if extra:
        row.update(extra)
    return validated_row(row)
