"""The client's self-check: was the load generator itself the bottleneck?

Timestamps are taken when the event loop gets round to a read. If the loop is
late (too many streams for one core), every timestamp is late and TTFT is
overstated. The loop monitor's wake-up delay and the client's CPU use say so;
a run past the limits is flagged in the summary and the tables rather than
printed as if it were right.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["client_health", "LOOP_LAG_MEAN_LIMIT_MS", "LOOP_LAG_LIMIT_MS", "CPU_LIMIT_PCT"]

# A healthy loop wakes a timer within about a millisecond on average; a p99
# past 10 ms or a mean past 1 ms means timestamps are being taken late. A
# single descheduling by the OS (a busy shared machine) moves neither.
LOOP_LAG_MEAN_LIMIT_MS = 1.0
LOOP_LAG_LIMIT_MS = 10.0
CPU_LIMIT_PCT = 90.0


def client_health(loop_lag_ns: Sequence[int], client_cpu_s: float, duration_s: float) -> dict[str, object]:
    """Loop delay percentiles, client CPU share, and a saturation verdict with its reason."""
    lags = np.asarray(loop_lag_ns, dtype=np.float64) / 1e6 if len(loop_lag_ns) else np.zeros(1)
    p99 = float(np.percentile(lags, 99))
    cpu_pct = 100.0 * client_cpu_s / max(duration_s, 1e-9)
    reasons = []
    if float(lags.mean()) > LOOP_LAG_MEAN_LIMIT_MS:
        reasons.append(f"event-loop delay mean {lags.mean():.2f} ms > {LOOP_LAG_MEAN_LIMIT_MS:g} ms")
    if p99 > LOOP_LAG_LIMIT_MS:
        reasons.append(f"event-loop delay p99 {p99:.1f} ms > {LOOP_LAG_LIMIT_MS:g} ms")
    if cpu_pct > CPU_LIMIT_PCT:
        reasons.append(f"client CPU {cpu_pct:.0f}% of a core > {CPU_LIMIT_PCT:g}%")
    return {
        "loop_lag_ms_mean": float(lags.mean()),
        "loop_lag_ms_p99": p99,
        "loop_lag_ms_max": float(lags.max()),
        "client_cpu_pct": cpu_pct,
        "client_saturated": bool(reasons),
        "client_warning": ("client saturated, latencies overstated: " + "; ".join(reasons)) if reasons else None,
    }
