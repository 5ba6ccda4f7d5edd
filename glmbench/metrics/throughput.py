"""Counts and throughput over a workload's duration."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from glmbench.results.records import RequestRecord

__all__ = ["throughput", "error_reasons"]


def throughput(records: Sequence[RequestRecord], t0_ns: int) -> dict[str, float | int | None]:
    """Requests, tokens and rates; duration runs from the workload's start to its last response.

    Output tokens come from the server's usage where it sent one; ``output_tokens_from_usage``
    says how many requests had it.
    """
    ok = [r for r in records if r.ok]
    end = max((r.end_ns for r in records if r.end_ns), default=t0_ns)
    duration_s = max(end - t0_ns, 1) / 1e9
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    in_tokens = sum(r.server_prompt_tokens if r.server_prompt_tokens is not None else r.prompt_tokens for r in ok)
    return {
        "completed": len(ok),
        "failed": len(records) - len(ok),
        "duration_s": duration_s,
        "request_s": len(ok) / duration_s,
        "output_tok_s": out_tokens / duration_s,
        "total_tok_s": (in_tokens + out_tokens) / duration_s,
        "input_tokens": in_tokens,
        "output_tokens": out_tokens,
        "output_tokens_from_usage": sum(1 for r in ok if r.output_tokens_source == "usage"),
    }


def error_reasons(records: Sequence[RequestRecord], top: int = 5) -> dict[str, int]:
    """The commonest failure reasons and how often each occurred."""
    return dict(Counter(r.error or "unknown" for r in records if not r.ok).most_common(top))
