"""Server-side figures from scraped Prometheus text: speculative-decoding acceptance."""

from __future__ import annotations

import re

__all__ = ["parse_prometheus", "spec_acceptance"]

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_prometheus(text: str) -> dict[str, float]:
    """Sum of each metric's samples over its labels (enough for the counters glmbench reads)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m:
            try:
                out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
            except ValueError:
                continue
    return out


def spec_acceptance(before: dict[str, float], after: dict[str, float]) -> dict[str, float] | None:
    """Mean acceptance length (1 + accepted/drafts) and rate (accepted/draft tokens) over the run.

    From vLLM's counters ``vllm:spec_decode_num_{drafts,draft_tokens,accepted_tokens}_total``
    (deltas between two scrapes); None when the server drafted nothing.
    """
    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    drafts = delta("vllm:spec_decode_num_drafts_total")
    if drafts <= 0:
        return None
    accepted = delta("vllm:spec_decode_num_accepted_tokens_total")
    draft_tokens = delta("vllm:spec_decode_num_draft_tokens_total")
    result = {"spec_accept_length": 1.0 + accepted / drafts}
    if draft_tokens > 0:
        result["spec_accept_rate"] = accepted / draft_tokens
    return result
