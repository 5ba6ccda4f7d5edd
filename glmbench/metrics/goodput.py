"""Goodput: completed requests per second that met every service-level objective."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from glmbench.errors import GlmbenchError
from glmbench.results.records import RequestRecord

__all__ = ["parse_slos", "goodput"]

_SLO_KEYS = ("ttft", "tpot", "e2e")


def parse_slos(items: Sequence[str]) -> dict[str, float]:
    """``["ttft:500", "tpot:50"]`` (ms) to ``{"ttft": 500.0, "tpot": 50.0}``; vLLM's ``--goodput`` syntax."""
    slos: dict[str, float] = {}
    for item in items:
        key, _, value = item.partition(":")
        key = key.strip().lower().replace("e2el", "e2e")
        try:
            ms = float(value)
        except ValueError:
            ms = -1.0
        if key not in _SLO_KEYS or ms <= 0:
            raise GlmbenchError(f"bad --goodput {item!r}",
                                "write KEY:MS with KEY one of ttft, tpot, e2e, e.g. --goodput ttft:500")
        slos[key] = ms
    return slos


def goodput(records: Sequence[RequestRecord], slos: Mapping[str, float], duration_s: float) -> dict[str, float]:
    """Requests/s meeting all SLOs (ms), and their share of all requests."""
    def meets(r: RequestRecord) -> bool:
        ttft = (r.chunk_ns[0] - r.start_ns) / 1e6
        e2e = (r.chunk_ns[-1] - r.start_ns) / 1e6
        tokens = r.output_tokens or 0
        tpot = (e2e - ttft) / (tokens - 1) if tokens > 1 else 0.0
        values = {"ttft": ttft, "tpot": tpot, "e2e": e2e}
        return all(values[k] <= limit for k, limit in slos.items())

    good = sum(1 for r in records if r.ok and r.chunk_ns and meets(r))
    return {"goodput_request_s": good / duration_s, "goodput_pct": 100.0 * good / max(len(records), 1)}
