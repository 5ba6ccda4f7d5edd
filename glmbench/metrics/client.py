"""The client's self-check: which figures its own lateness moved, by how much, and why.

A load client can be late in two ways, and each moves different figures:

- **Late sends.** A request sent after the schedule's time for it (the issue
  lag: request on the wire minus due; in a closed loop, minus the moment its
  slot freed) makes the figures counted from the schedule (TTFT and E2E from
  schedule) longer than the server made them, and the load that reached the
  server is not the one asked: a rate arrives late, a closed loop's slots stand
  idle. TTFT, ITL and E2E run from the request's own send and are not moved.
- **Late reads.** With user-space stamps (aiohttp, ``https://``) a chunk is
  stamped when the event loop gets round to its read: a late loop overstates
  TTFT, ITL and E2E, and the loop monitor's wake-up delay measures it. Kernel
  receive stamps are the data's arrival whatever the loop does, except that a
  read takes its last packet's stamp: a stream read more than one inter-token
  gap late puts chunks written apart under one stamp, which moves ITL and, on
  a stream's first read, TTFT, never E2E. Those reads are counted and their
  effect estimated (:mod:`glmbench.metrics.merged_reads`).

A figure is flagged when the client's error in it passes its bar: TTFT and E2E
1 ms mean and 5 ms p99, ITL 0.2 ms mean and 5 ms p99 (the targets the client
is benchmarked against), the figures from schedule and the load when the issue
lag passes 1 ms mean or 10 ms p99. The client's CPU is reported but flags
nothing: a busy client moves a figure only through late reads or late sends,
which are measured themselves; past 90% of a core it is named as the likely
cause. A concurrency cap not held (:func:`concurrency_held`) flags the load too.
The summary row says which figures (``client_flags``), whether any
(``client_saturated``) and, in one line, what is off, why and what to do
(``client_warning``).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from glmbench.metrics.merged_reads import MergedReads, merged_reads
from glmbench.results.records import RequestRecord

__all__ = ["self_check", "client_health", "issue_lags", "read_delays", "concurrency_held", "flagged", "in_words",
           "client_overloaded", "load_not_held", "FIGURES", "LATENCIES", "FROM_SCHEDULE",
           "LATE_READS", "LATE_SENDS", "CLIENT_SATURATED", "CAP_NOT_HELD", "HELD_LIMIT_PCT",
           "TTFT_ERROR_MEAN_LIMIT_MS", "TTFT_ERROR_P99_LIMIT_MS", "ITL_ERROR_MEAN_LIMIT_MS", "ITL_ERROR_P99_LIMIT_MS",
           "LOOP_LAG_MEAN_LIMIT_MS", "LOOP_LAG_LIMIT_MS", "ISSUE_LAG_MEAN_LIMIT_MS", "ISSUE_LAG_LIMIT_MS",
           "CPU_LIMIT_PCT"]

# The client's own error a figure may carry (benchmarks/README.md measures the client against them).
TTFT_ERROR_MEAN_LIMIT_MS = 1.0
TTFT_ERROR_P99_LIMIT_MS = 5.0
ITL_ERROR_MEAN_LIMIT_MS = 0.2
ITL_ERROR_P99_LIMIT_MS = 5.0
# With user-space stamps a read is as late as the loop: its wake-up delay stands for the stamps' error, against
# the TTFT bars. A single descheduling by the OS (a busy shared machine) moves neither.
LOOP_LAG_MEAN_LIMIT_MS = TTFT_ERROR_MEAN_LIMIT_MS
LOOP_LAG_LIMIT_MS = TTFT_ERROR_P99_LIMIT_MS
# Requests leaving later than the schedule said: the figures from schedule and the load asked.
ISSUE_LAG_MEAN_LIMIT_MS = 1.0
ISSUE_LAG_LIMIT_MS = 10.0
# Named as the likely cause of a flag past this; a flag of its own only through what it makes late.
CPU_LIMIT_PCT = 90.0

FIGURES: dict[str, str] = {
    "ttft": "TTFT", "itl": "ITL", "e2e": "E2E",
    "ttft_due": "TTFT from schedule", "e2e_due": "E2E from schedule", "offered_load": "the load asked",
}
"""The figures the self-check may flag (``client_flags``), by name, with their words in a warning. ``ttft``
stands for every first-token figure (reasoning, answer, tool call), ``itl`` for TPOT too and ``e2e`` for the tool
call's completion; ``offered_load`` is the rate or the concurrency asked."""
LATENCIES = ("ttft", "itl", "e2e")
"""The figures counted from the request's own send: late reads move them, late sends do not."""
FROM_SCHEDULE = ("ttft_due", "e2e_due", "offered_load")
"""The figures counted from the schedule, and the load itself: late sends move them."""

# How the parts of a warning start: the client read late (latencies off), sent late (figures from schedule and
# the load off), or a cap was not held. Rows written before the self-check named its figures start
# CLIENT_SATURATED; they are read as latencies off, as they were meant.
LATE_READS = "client read late"
LATE_SENDS = "client sent late"
CLIENT_SATURATED = "client saturated, latencies overstated"
CAP_NOT_HELD = "concurrency {cap} not held"
_NEXT_STEP = "rerun with --client-workers N, one per free core"


def flagged(row: Mapping[str, Any]) -> list[str]:
    """The figures a summary row's client could not vouch for (names of :data:`FIGURES`): its ``client_flags``;
    for a row without them (written before they existed), read from its warning."""
    flags = row.get("client_flags")
    if isinstance(flags, list):
        return [f for f in flags if isinstance(f, str)]
    if not row.get("client_saturated"):
        return []
    warning = row.get("client_warning") or ""
    if not warning:
        return list(LATENCIES)
    cap = CAP_NOT_HELD.split("{cap}")
    out: dict[str, None] = {}
    for part in warning.split("; "):
        if part.startswith((CLIENT_SATURATED, LATE_READS)):
            out.update(dict.fromkeys(LATENCIES))
        elif part.startswith(LATE_SENDS):
            out.update(dict.fromkeys(FROM_SCHEDULE))
        elif part.startswith(cap[0]) and cap[1] in part:
            out["offered_load"] = None
    return list(out)


def in_words(flags: Sequence[str]) -> str:
    """Flagged figures in words: ``["ttft", "itl", "e2e"]`` -> ``"TTFT, ITL and E2E"``."""
    words = [FIGURES.get(f, f) for f in flags]
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]])) if words else ""


def client_overloaded(row: Mapping[str, Any]) -> bool:
    """Whether a summary row's client read late enough to move a latency counted from the send (TTFT, ITL,
    E2E), rather than only sending late or not holding its load's cap."""
    return any(f in LATENCIES for f in flagged(row))


def load_not_held(row: Mapping[str, Any]) -> bool:
    """Whether a summary row's load was not the one asked (a concurrency cap not held, :func:`concurrency_held`,
    or requests that left late): its figures are for the load that arrived."""
    return "offered_load" in flagged(row)


def issue_lags(records: Sequence[RequestRecord]) -> list[int]:
    """Request on the wire (else the HTTP call issued) minus due, for the requests the schedule spread out.

    That is what the figures from schedule hold of the client's own delay
    (``ttft_due - ttft``): counted to the wire, it takes in what a client does
    between issuing the call and writing it (aiohttp's own queue, a connection
    opened). Requests due at the first instant (a burst, a closed loop's first
    wave) are left out: they cannot all leave at once, and the last of them
    waiting for the others is the schedule's doing, not a late client.
    """
    if not records:
        return []
    first = min(r.due_ns for r in records)
    return [r.start_ns - r.due_ns for r in records if r.start_ns and r.due_ns != first]


def _ms(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64) / 1e6 if len(values) else np.zeros(1)


def self_check(records: Sequence[RequestRecord], loop_lag_ns: Sequence[int], client_cpu_s: float, duration_s: float,
               *, cap: int | None = None, cap_warning: str | None = None) -> dict[str, object]:
    """The client's part of a summary row: loop delay, issue lag, CPU, the merged reads of kernel-stamped
    streams, and which figures are off (``client_flags``), whether any (``client_saturated``) and why
    (``client_warning``). ``cap`` names a closed loop's concurrency in the warning; ``cap_warning`` is
    :func:`concurrency_held`'s verdict, when the cap was not held."""
    done = [r for r in records if r.ok and r.chunk_ns]
    user = any(r.stamps != "kernel" for r in done)
    return _verdict(_ms(loop_lag_ns), _ms(issue_lags(records)), _cpu_pct(client_cpu_s, duration_s),
                    "user-space receive stamps" if user else None, merged_reads(records), cap, cap_warning)


def client_health(loop_lag_ns: Sequence[int], client_cpu_s: float, duration_s: float,
                  issue_lag_ns: Sequence[int] = ()) -> dict[str, object]:
    """:func:`self_check` without the records: what stamped the chunks is not known, so a late loop is taken to
    overstate the latencies, as it does with user-space stamps."""
    return _verdict(_ms(loop_lag_ns), _ms(issue_lag_ns), _cpu_pct(client_cpu_s, duration_s),
                    "receive stamps not known", None, None, None)


def _cpu_pct(client_cpu_s: float, duration_s: float) -> float:
    return 100.0 * client_cpu_s / max(duration_s, 1e-9)


def _over(name: str, value: float, limit: float, fmt: str = "{:.2f}") -> str | None:
    """``"{name} {value} ms > {limit} ms"`` when the value's size passes the limit, else None."""
    return f"{name} {fmt.format(value)} ms > {limit:g} ms" if abs(value) > limit else None


def _late_reads_user(loop: np.ndarray, stamps: str) -> str | None:
    reasons = [r for r in (_over("event-loop delay mean", float(loop.mean()), LOOP_LAG_MEAN_LIMIT_MS),
                           _over("event-loop delay p99", float(np.percentile(loop, 99)), LOOP_LAG_LIMIT_MS, "{:.1f}"))
               if r]
    if not reasons:
        return None
    return f"{LATE_READS}: TTFT, ITL and E2E overstated ({stamps}, {', '.join(reasons)})"


def _late_reads_kernel(merges: MergedReads) -> tuple[list[str], str | None]:
    ttft = [r for r in (_over("TTFT mean", merges.ttft_error_ms_mean, TTFT_ERROR_MEAN_LIMIT_MS, "{:+.2f}"),
                        _over("TTFT p99", merges.ttft_error_ms_p99, TTFT_ERROR_P99_LIMIT_MS, "{:+.1f}")) if r]
    itl = [r for r in (_over("ITL mean", merges.itl_error_ms_mean, ITL_ERROR_MEAN_LIMIT_MS, "{:+.2f}"),
                       _over("ITL p99", merges.itl_error_ms_p99, ITL_ERROR_P99_LIMIT_MS, "{:+.1f}")) if r]
    off = (["ttft"] if ttft else []) + (["itl"] if itl else [])
    if not off:
        return [], None
    names = in_words(off)
    reads = "read" if merges.late == 1 else "reads"
    return off, (f"{LATE_READS}: {names} off (kernel receive stamps, {merges.late:,} {reads} held chunks written "
                 f"apart under one stamp, estimated {', '.join(ttft + itl)}), E2E not moved")


def _late_sends(issue: np.ndarray, cap: int | None) -> str | None:
    reasons = [r for r in (_over("issue lag mean", float(issue.mean()), ISSUE_LAG_MEAN_LIMIT_MS),
                           _over("issue lag p99", float(np.percentile(issue, 99)), ISSUE_LAG_LIMIT_MS, "{:.1f}"))
               if r]
    if not reasons:
        return None
    if cap:
        # A closed loop's load is the concurrency it held, which concurrency_held judges on its own: a wave
        # refilled a few ms late leaves it held when requests last seconds, and not held when they do not.
        return f"{LATE_SENDS}: TTFT from schedule and E2E from schedule off ({', '.join(reasons)})"
    return f"{LATE_SENDS}: TTFT from schedule, E2E from schedule and the request rate off ({', '.join(reasons)})"


def _verdict(loop: np.ndarray, issue: np.ndarray, cpu_pct: float, loop_stamps: str | None, merges: MergedReads | None,
             cap: int | None, cap_warning: str | None) -> dict[str, object]:
    """The row's client fields. ``loop_stamps`` names the stamps the loop's delay moves (None: no chunk was stamped
    by the loop); ``merges`` is the kernel-stamped records' merged reads (None: there were none)."""
    out: dict[str, object] = {
        "loop_lag_ms_mean": float(loop.mean()),
        "loop_lag_ms_p99": float(np.percentile(loop, 99)),
        "loop_lag_ms_max": float(loop.max()),
        "issue_lag_ms_mean": float(issue.mean()),
        "issue_lag_ms_p99": float(np.percentile(issue, 99)),
        "client_cpu_pct": cpu_pct,
    }
    flags: dict[str, None] = {}
    parts: list[str] = []
    if loop_stamps and (said := _late_reads_user(loop, loop_stamps)):
        flags.update(dict.fromkeys(LATENCIES))
        parts.append(said)
    if merges is not None:
        out.update(merged_reads=merges.late, merged_chunks=merges.late_chunks, merged_reads_server=merges.server,
                   ttft_merge_error_ms_mean=merges.ttft_error_ms_mean, ttft_merge_error_ms_p99=merges.ttft_error_ms_p99,
                   itl_merge_error_ms_mean=merges.itl_error_ms_mean, itl_merge_error_ms_p99=merges.itl_error_ms_p99)
        off, said = _late_reads_kernel(merges)
        if said:
            flags.update(dict.fromkeys(off))
            parts.append(said)
    late = bool(parts)
    if said := _late_sends(issue, cap):
        flags.update(dict.fromkeys(FROM_SCHEDULE[:2] if cap else FROM_SCHEDULE))
        parts.append(said if late else f"{said}, TTFT, ITL and E2E run from the send and are not moved")
        late = True
    if late and cpu_pct > CPU_LIMIT_PCT:
        parts.append(f"client CPU {cpu_pct:.0f}% of a core")
    if late:
        parts.append(_NEXT_STEP)
    if cap_warning:
        flags["offered_load"] = None
        parts.append(cap_warning)
    out.update(client_flags=list(flags), client_saturated=bool(flags), client_warning="; ".join(parts) or None)
    return out


def read_delays(records: Sequence[RequestRecord]) -> dict[str, object]:
    """What stamped the chunks (``kernel``, ``user`` or ``mixed``) and, with kernel stamps, the client's read delay.

    A kernel stamp is the data's arrival at the socket; the client's delay
    (read minus arrival) moves a figure only where a read took chunks written
    apart (``merged_reads``), and is reported as such.
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
