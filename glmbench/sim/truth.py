"""Compare a client's records with the simulator's ground-truth log of when each chunk left."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import orjson

from glmbench.results.records import RequestRecord

__all__ = ["read_truth", "compare_with_truth"]


def read_truth(path: Path) -> dict[str, dict]:
    """The truth log by response id."""
    out = {}
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                entry = orjson.loads(line)
                out[entry["id"]] = entry
    return out


def compare_with_truth(records: Iterable[RequestRecord], truth: dict[str, dict]) -> dict[str, float]:
    """Measured against sent, in ms: TTFT, ITL and E2EL means and p99s, and the per-chunk delivery delay.

    True TTFT is the server's first write minus its receipt of the whole
    request (body read); true ITL the gaps between its writes. ``delivery`` is the client's chunk
    timestamp minus the server's write time: loopback transit plus the client's
    own delay, the part a client adds to every figure. ``intake`` is the
    server's receipt of a request minus the client putting it on the wire:
    transit plus the server's own accept and parse time, part of real TTFT
    but outside the simulator's notion of it. ``body_wait`` is the part of
    intake between the server parsing the headers and having the whole body:
    a client slow to send its body.
    """
    samples: list[list[float]] = [[] for _ in range(10)]  # ns, one list per figure
    m_ttft, t_ttft, m_itl, t_itl, m_e2e, t_e2e, delivery, first_delivery, intake, body_wait = samples
    matched = 0
    for r in records:
        entry = truth.get(r.response_id or "")
        if not r.ok or entry is None:
            continue
        writes = entry["write_ns"]
        if len(writes) != len(r.chunk_ns) and sum(entry.get("tokens", ())) == len(r.chunk_ns):
            # One event per token (LightLLM's style): a step of k tokens is k events in one write.
            writes = [w for w, k in zip(writes, entry["tokens"]) for _ in range(k)]
        if len(writes) != len(r.chunk_ns):
            continue
        matched += 1
        m_ttft.append(r.chunk_ns[0] - r.start_ns)
        t_ttft.append(writes[0] - entry["recv_ns"])
        m_e2e.append(r.chunk_ns[-1] - r.start_ns)
        t_e2e.append(writes[-1] - entry["recv_ns"])
        m_itl.extend(np.diff(r.chunk_ns))
        t_itl.extend(np.diff(writes))
        delivery.extend(np.asarray(r.chunk_ns) - np.asarray(writes))
        first_delivery.append(r.chunk_ns[0] - writes[0])
        intake.append(entry["recv_ns"] - r.start_ns)
        body_wait.append(entry["recv_ns"] - entry.get("head_ns", entry["recv_ns"]))

    def stat(values: list, q: float | None = None) -> float:
        if not values:
            return float("nan")
        arr = np.asarray(values, dtype=np.float64) / 1e6
        return float(arr.mean() if q is None else np.percentile(arr, q))

    return {
        "matched": matched,
        "ttft_mean": stat(m_ttft), "ttft_true_mean": stat(t_ttft),
        "ttft_p99": stat(m_ttft, 99), "ttft_true_p99": stat(t_ttft, 99),
        "itl_mean": stat(m_itl), "itl_true_mean": stat(t_itl),
        "itl_p99": stat(m_itl, 99), "itl_true_p99": stat(t_itl, 99),
        "e2e_mean": stat(m_e2e), "e2e_true_mean": stat(t_e2e),
        "e2e_p99": stat(m_e2e, 99), "e2e_true_p99": stat(t_e2e, 99),
        "delivery_mean": stat(delivery), "delivery_p99": stat(delivery, 99),
        "first_delivery_mean": stat(first_delivery), "first_delivery_p99": stat(first_delivery, 99),
        "intake_mean": stat(intake), "intake_p99": stat(intake, 99), "body_wait_mean": stat(body_wait),
    }
