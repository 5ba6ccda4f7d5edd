"""Per-request latency metrics: the field's definitions (vLLM ``benchmarks/serve.py``) and glmbench's additions."""

from __future__ import annotations

from collections.abc import Sequence

from glmbench.metrics.base import DistributionMetric
from glmbench.results.records import RequestRecord

__all__ = ["TTFT", "TTFTReasoning", "TTFTAnswer", "TTFTToolCall", "ToolCallDone",
           "E2EL", "TPOT", "TTFTFromDue", "E2ELFromDue", "DispatchLag", "SendOverhead"]


def _ok(records: Sequence[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if r.ok and r.chunk_ns]


class TTFT(DistributionMetric):
    tag = "ttft"
    description = "first token-bearing chunk (content or reasoning) minus the request going on the wire"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.chunk_ns[0] - r.start_ns for r in _ok(records)]


class TTFTReasoning(DistributionMetric):
    tag = "ttft_reasoning"
    description = "first reasoning token minus send (requests that streamed reasoning)"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.first_reasoning_ns - r.start_ns for r in _ok(records) if r.first_reasoning_ns is not None]


class TTFTAnswer(DistributionMetric):
    tag = "ttft_answer"
    description = "first answer (non-reasoning) token minus send: what a user waits for after thinking"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.first_content_ns - r.start_ns for r in _ok(records) if r.first_content_ns is not None]


class TTFTToolCall(DistributionMetric):
    tag = "ttft_tool_call"
    description = "first token of a tool call minus send (requests that called a tool): when an agent's tool can start"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.first_tool_call_ns - r.start_ns for r in _ok(records) if r.first_tool_call_ns is not None]


class ToolCallDone(DistributionMetric):
    tag = "tool_call"
    description = "the chunk that completed the last tool call minus send (requests that called a tool)"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.tool_call_end_ns - r.start_ns for r in _ok(records) if r.tool_call_end_ns is not None]


class E2EL(DistributionMetric):
    tag = "e2e"
    description = "last token-bearing chunk minus send"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.chunk_ns[-1] - r.start_ns for r in _ok(records)]


class TPOT(DistributionMetric):
    tag = "tpot"
    description = "(E2E latency - TTFT) / (output tokens - 1), per request with more than one token"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [(r.chunk_ns[-1] - r.chunk_ns[0]) / (tokens - 1)
                for r in _ok(records) if (tokens := r.output_tokens or 0) > 1]


class TTFTFromDue(DistributionMetric):
    tag = "ttft_due"
    description = "first token minus the time the schedule wanted the request sent (open loop: a late client cannot hide it)"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.chunk_ns[0] - r.due_ns for r in _ok(records)]


class E2ELFromDue(DistributionMetric):
    tag = "e2e_due"
    description = "last token minus the scheduled send time"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.chunk_ns[-1] - r.due_ns for r in _ok(records)]


class DispatchLag(DistributionMetric):
    tag = "dispatch_lag"
    description = "request on the wire minus its scheduled time, all requests: the client's own lateness"

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.start_ns - r.due_ns for r in records if r.start_ns]


class SendOverhead(DistributionMetric):
    tag = "send_overhead"
    description = ("request on the wire minus HTTP call issued: connecting and the client's own queueing, "
                   "which vLLM's client counts into TTFT and glmbench does not")

    def values(self, records: Sequence[RequestRecord]) -> list[float]:
        return [r.wire_ns - r.send_ns for r in records if r.wire_ns and r.send_ns]
