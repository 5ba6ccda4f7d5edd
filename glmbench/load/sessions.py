"""Multi-turn chat sessions: each turn sends the conversation so far, with the model's own earlier replies.

A session is one arrival of the workload's schedule (all at once, a cap held
as a closed loop, a Poisson or ramped rate), so sessions interleave as users'
chats do; the cap counts sessions, each holding its slot from its first turn
to its last. Within a session, the next turn leaves ``think_time_ms`` after the
previous reply ended: the user reading and typing. Every turn is a request
record of its own (``entry`` the session, ``step`` the turn), so TTFT is
known per turn, and its prompt grows each turn (the server's usage says by how
much): what exercises a backend's prefix cache the way chat traffic does.

A turn whose request fails ends its session (there is no reply to send back).
Sessions run in one client process: their rate is far below what one event
loop carries.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from time import perf_counter_ns
from typing import Any

from glmbench.datasets.base import Sample
from glmbench.load.client import StreamClient
from glmbench.load.reply import Reply
from glmbench.load.sender import RecordSink, WorkloadRun, connections_needed, keep_schedule, sleep_until
from glmbench.load.workload import Workload
from glmbench.results.records import INTERRUPTED, RequestRecord

__all__ = ["send_sessions", "session_spans", "turn_ttfts"]


async def send_sessions(client: StreamClient, name: str, workload: Workload, sessions: Sequence[Sample], seed: int,
                        writer: RecordSink, on_done: Callable[[RequestRecord], None] | None = None, *,
                        think_time_ms: float = 0.0) -> WorkloadRun:
    """Play ``sessions`` on ``workload``'s schedule; each turn's record goes to ``writer`` as it ends."""
    numbers = itertools.count()
    spec = client.spec

    async def job(index: int, due: int, free: Callable[[int], None]) -> None:
        session = sessions[index]
        turns = [(session.prompt, session.output_tokens), *session.later_turns]
        messages: list[dict[str, Any]] = []
        leaves, end = due, 0
        try:
            for step, (text, reply_tokens) in enumerate(turns):
                messages.append({"role": "user", "content": text})
                payload: dict[str, Any] = {"model": client.target.model, "messages": messages,
                                           "max_tokens": reply_tokens, "temperature": spec.temperature}
                if spec.ignore_eos:
                    payload["ignore_eos"] = True
                if step:
                    await sleep_until(leaves)
                record = RequestRecord(workload=name, index=next(numbers), prompt_tokens=0, max_tokens=reply_tokens,
                                       due_ns=leaves, entry=f"session-{index}", step=step)
                reply = Reply(chat=True)
                try:
                    await client.send(record, client.streamed(payload), reply)
                finally:
                    if not record.ok and not record.error:
                        record.error = INTERRUPTED
                    end = record.end_ns or perf_counter_ns()
                    writer.write(record)
                    if on_done is not None:
                        on_done(record)
                if not record.ok or writer.error is not None:
                    return
                said = reply.response()["choices"][0]["message"]
                messages.append({"role": "assistant", "content": said.get("content") or ""})
                leaves = end + int(think_time_ms * 1e6)
        finally:
            free(end or perf_counter_ns())

    await client.warm_up(connections_needed(len(sessions), workload.max_concurrency, workload.request_rate))
    return await keep_schedule(len(sessions), workload, seed, job, name=name,
                               stopped=lambda: writer.error is not None)


def session_spans(records: Sequence[RequestRecord]) -> list[tuple[int, int]]:
    """Each session's time in flight, its first turn out to its last turn's end: what a cap on sessions holds."""
    spans: dict[str, tuple[int, int]] = {}
    for r in records:
        if r.entry is None or not r.start_ns:
            continue
        start, end = spans.get(r.entry, (r.start_ns, r.end_ns))
        spans[r.entry] = (min(start, r.start_ns), max(end, r.end_ns))
    return list(spans.values())


def turn_ttfts(records: Sequence[RequestRecord]) -> list[float | None]:
    """Mean TTFT in ms of each turn (first, second, ...) over the sessions that reached it."""
    by_turn: dict[int, list[float]] = {}
    for r in records:
        if r.ok and r.chunk_ns and r.step is not None:
            by_turn.setdefault(r.step, []).append((r.chunk_ns[0] - r.start_ns) / 1e6)
    return [sum(v) / len(v) if (v := by_turn.get(t)) else None for t in range(max(by_turn, default=-1) + 1)]
