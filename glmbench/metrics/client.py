"""The client's self-check: was the load generator itself the bottleneck?

With user-space stamps (aiohttp, https, platforms without kernel receive
stamps) a chunk is stamped when the event loop gets round to its read: a late
loop (too many streams for one core) stamps every chunk late and overstates
TTFT. Kernel receive stamps are the data's arrival whatever the loop does, but
a stream read more than one inter-token gap late still merges two chunks under
the later one's stamp. Either way a late loop also sends requests after their
scheduled time, so the offered load is not the one asked for. Three of the client's own measurements say so: the
loop monitor's wake-up delay, the issue lag (HTTP call issued minus the time
the schedule set for it) and the client's CPU use. A run past the limits is
flagged in the summary, the tables and the report rather than printed as if it
were right.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from glmbench.results.records import RequestRecord

__all__ = ["client_health", "issue_lags", "read_delays", "concurrency_held", "client_overloaded", "load_not_held",
           "CLIENT_SATURATED", "CAP_NOT_HELD", "HELD_LIMIT_PCT",
           "LOOP_LAG_MEAN_LIMIT_MS", "LOOP_LAG_LIMIT_MS", "ISSUE_LAG_MEAN_LIMIT_MS",
           "ISSUE_LAG_LIMIT_MS", "CPU_LIMIT_PCT"]

# A healthy loop wakes a timer within about a millisecond on average; a p99
# past 10 ms or a mean past 1 ms means timestamps are being taken late. A
# single descheduling by the OS (a busy shared machine) moves neither.
LOOP_LAG_MEAN_LIMIT_MS = 1.0
LOOP_LAG_LIMIT_MS = 10.0
# The same limits for requests leaving later than the schedule said.
ISSUE_LAG_MEAN_LIMIT_MS = 1.0
ISSUE_LAG_LIMIT_MS = 10.0
CPU_LIMIT_PCT = 90.0


# How a row's client_warning starts when the client itself was past a limit (its latencies overstated); a
# warning that a concurrency cap was not held starts CAP_NOT_HELD. Rows that are saturated either way are
# told apart by these (client_overloaded, load_not_held).
CLIENT_SATURATED = "client saturated, latencies overstated"
CAP_NOT_HELD = "concurrency {cap} not held"


def client_overloaded(row: Mapping[str, Any]) -> bool:
    """Whether a summary row's client was itself past a limit of :func:`client_health` (its latencies
    overstated), rather than only its load's cap not held."""
    warning = row.get("client_warning") or ""
    return bool(row.get("client_saturated")) and (warning.startswith(CLIENT_SATURATED) or not warning)


def load_not_held(row: Mapping[str, Any]) -> bool:
    """Whether a summary row's concurrency cap was not held (:func:`concurrency_held`): its figures are for the
    load that arrived, not the one asked."""
    prefix = CAP_NOT_HELD.split("{cap}")
    return bool(row.get("client_saturated")) and any(
        part.startswith(prefix[0]) and prefix[1] in part for part in (row.get("client_warning") or "").split("; "))


def issue_lags(records: Sequence[RequestRecord]) -> list[int]:
    """HTTP call issued minus due, for the requests the schedule spread out.

    Requests due at the first instant (a burst, a closed loop's first wave) are
    left out: they cannot all leave at once, and the last of them waiting for
    the others is the schedule's doing, not a sign of a saturated client.
    """
    if not records:
        return []
    first = min(r.due_ns for r in records)
    return [r.send_ns - r.due_ns for r in records if r.send_ns and r.due_ns != first]


def _ms(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64) / 1e6 if len(values) else np.zeros(1)


def client_health(loop_lag_ns: Sequence[int], client_cpu_s: float, duration_s: float,
                  issue_lag_ns: Sequence[int] = ()) -> dict[str, object]:
    """Loop delay and issue lag percentiles, client CPU share, and a saturation verdict with its reasons."""
    lags, issue = _ms(loop_lag_ns), _ms(issue_lag_ns)
    p99, issue_p99 = float(np.percentile(lags, 99)), float(np.percentile(issue, 99))
    cpu_pct = 100.0 * client_cpu_s / max(duration_s, 1e-9)
    reasons = []
    if float(lags.mean()) > LOOP_LAG_MEAN_LIMIT_MS:
        reasons.append(f"event-loop delay mean {lags.mean():.2f} ms > {LOOP_LAG_MEAN_LIMIT_MS:g} ms")
    if p99 > LOOP_LAG_LIMIT_MS:
        reasons.append(f"event-loop delay p99 {p99:.1f} ms > {LOOP_LAG_LIMIT_MS:g} ms")
    if float(issue.mean()) > ISSUE_LAG_MEAN_LIMIT_MS:
        reasons.append(f"requests issued {issue.mean():.2f} ms late on average > {ISSUE_LAG_MEAN_LIMIT_MS:g} ms")
    if issue_p99 > ISSUE_LAG_LIMIT_MS:
        reasons.append(f"issue lag p99 {issue_p99:.1f} ms > {ISSUE_LAG_LIMIT_MS:g} ms")
    if cpu_pct > CPU_LIMIT_PCT:
        reasons.append(f"client CPU {cpu_pct:.0f}% of a core > {CPU_LIMIT_PCT:g}%")
    return {
        "loop_lag_ms_mean": float(lags.mean()),
        "loop_lag_ms_p99": p99,
        "loop_lag_ms_max": float(lags.max()),
        "issue_lag_ms_mean": float(issue.mean()),
        "issue_lag_ms_p99": issue_p99,
        "client_cpu_pct": cpu_pct,
        "client_saturated": bool(reasons),
        "client_warning": (f"{CLIENT_SATURATED}: " + "; ".join(reasons)
                           + " (rerun with --client-workers N, one per free core)") if reasons else None,
    }


def read_delays(records: Sequence[RequestRecord]) -> dict[str, object]:
    """What stamped the chunks (``kernel``, ``user`` or ``mixed``) and, with kernel stamps, the client's read delay.

    A kernel stamp is the data's arrival at the socket; the client's delay
    (read minus arrival) no longer moves the figures, and is reported as such.
    """
    kinds = {r.stamps for r in records if r.chunk_ns}
    out: dict[str, object] = {"receive_stamps": kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)}
    delays = [d for r in records for d in r.chunk_delay_ns]
    if delays:
        ms = _ms(delays)
        out["read_delay_ms_mean"] = float(ms.mean())
        out["read_delay_ms_p99"] = float(np.percentile(ms, 99))
    return out


# Of the arrivals after the first ``cap``, the share that must find at least cap - 1 in flight.
HELD_LIMIT_PCT = 90.0


def concurrency_held(sessions: Sequence[tuple[int, int]], cap: int) -> dict[str, object]:
    """Whether a concurrency cap was held: how many were in flight as each arrival left.

    ``sessions`` are (start, end) in ns of each arrival: a request, or a whole
    conversation when the cap holds conversations. Under a cap held as a closed
    loop an arrival leaves the moment a slot frees, so it finds the other
    ``cap - 1`` slots busy: ``cap`` in flight, itself included, or ``cap - 1``
    when another slot freed within the client's reaction time (well under a
    millisecond) and its arrival is a moment behind; streams that end together
    make that common at short requests and high caps. The first ``cap``
    arrivals ramp up and are left out. Reported: the median and least in
    flight and the share of arrivals that found at least ``cap - 1``; the cap
    counts as not held when that share is under :data:`HELD_LIMIT_PCT` or the
    median under ``cap - 1``, as when a client slow to send again lets the
    load sag (the issue lag says by how much).
    """
    ordered = sorted(sessions)
    starts = [s for s, _ in ordered]
    ends = sorted(e for _, e in ordered)
    counts = [bisect.bisect_right(starts, s) - bisect.bisect_right(ends, s) for s in starts[cap:]]
    if not counts:
        return {"in_flight_p50": None, "in_flight_min": None, "cap_held_pct": None, "cap_warning": None}
    held = 100.0 * sum(c >= cap - 1 for c in counts) / len(counts)
    median = float(np.percentile(counts, 50))
    out: dict[str, object] = {"in_flight_p50": median, "in_flight_min": min(counts), "cap_held_pct": held,
                              "cap_warning": None}
    if held < HELD_LIMIT_PCT or median < cap - 1:
        out["cap_warning"] = (f"{CAP_NOT_HELD.format(cap=cap)}: {held:.0f}% of arrivals found at least {cap - 1} others "
                              f"in flight (median {median:g}, least {min(counts)}); the figures are for the load "
                              f"that arrived")
    return out
