"""The simulator's core, the same in every dialect: admission, the decode schedule, faults, counters.

Each streamed request follows an absolute schedule: first token due at
admission + TTFT, then one decode step every ITL (stretched by
``batch_slowdown`` as more requests run). A step late by more than one ITL
restarts the schedule from now instead of bursting to catch up, as a real
server would. With ``decode: batched`` there is one step clock for every
request, as in a GPU's batched decode: a step every ITL from the simulator's
start, each request's first token at the first step after its prefill, and
every running stream's chunk written at each step, in one burst. With a truth log, the time right after each chunk was handed to
the socket is recorded: that, not the configured latency, is the ground truth.

A request is held from its receipt (its body read) to the end of its response:
queued for a running slot, then running. ``in_flight``, the requests held
when one arrives, itself included, is what the load laws read:
``ttft_ms_per_in_flight`` adds TTFT per other request held, and the answer
book's ``answer_law`` (:mod:`glmbench.sim.answers`) makes replies wrong.

The truth log is JSON Lines, one line per response, keyed by ``id`` (the
response id). A stream that ran to its end writes ``{"id", "head_ns",
"recv_ns", "admit_ns", "write_ns", "tokens", "prompt_tokens", "in_flight"}``
(``write_ns`` and ``tokens`` one per decode step), plus the reply's intent
``"key", "right", "p_right"`` when an answer book answered it. An
unstreamed reply from the book writes ``{"id", "recv_ns", "in_flight", "key",
"right", "p_right"}``, with no ``write_ns``. With ``outputs: by-prompt`` every
line has ``"diverged_at"``: the output position where the reply left its
prompt's own words (a ``diverge`` spec), or null; and every unstreamed reply
writes its line (``{"id", "recv_ns", "in_flight", "diverged_at"}`` at least).
With ``prefix_cache`` every line has ``"prefix_hit_tokens"`` and
``"prefix_query_tokens"`` (the prompt tokens looked up), and every unstreamed
reply writes its line too. Other unstreamed replies write nothing.

With ``prefix_cache`` a request is looked up in the prefix cache
(:mod:`glmbench.sim.prefix_cache`) when it is admitted to a running slot, and
its blocks cached: ``prefix_queries`` counts its prompt tokens and
``prefix_hits`` its hit tokens then, as vLLM's counters do; the prefill part
of its TTFT is for the tokens the cache did not serve
(``prefill_hit_discount``).
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import IO, Any

import orjson
from aiohttp import web

from glmbench.sim.answers import AnswerBook
from glmbench.sim.config import SimConfig, draw
from glmbench.sim.generation import Generation, prompt_pieces
from glmbench.sim.prefix_cache import PrefixCache

__all__ = ["Finished", "SimState", "compact_json", "error_response", "run_generation"]


@dataclass(frozen=True)
class Finished:
    """A request that ran to its end: what the dialects' metrics count."""

    stream: bool
    prompt_tokens: int
    steps: list[int]  # tokens of each decode step, the first included
    prefix_hit_tokens: int = 0  # prompt tokens the prefix cache served

    @property
    def tokens(self) -> int:
        return sum(self.steps)


class SimState:
    """The counters every dialect's ``/metrics`` draws on, the latency draws and the ground-truth log.

    ``on_finish`` is called with each :class:`Finished` request, for the
    figures a dialect keeps itself.
    """

    def __init__(self, config: SimConfig, truth_log: Path | None = None,
                 on_finish: Callable[[Finished], None] | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.started = time.monotonic()
        self.running = 0
        self.waiting = 0
        self.requests_total = 0
        self.requests_ok = 0
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.spec_drafts = 0
        self.spec_draft_tokens = 0
        self.spec_accepted = 0
        self.prefix = PrefixCache(config.prefix_block_tokens, config.prefix_cache_blocks) if config.prefix_cache else None
        self.prefix_queries = 0  # prompt tokens looked up in the prefix cache
        self.prefix_hits = 0  # of them, tokens it served
        self.last_prefix: tuple[int, int] = (0, 0)  # the last admitted request's (hit, looked-up) tokens
        self.seq = 0
        self.gate = asyncio.Semaphore(config.max_running) if config.max_running else None
        self.ticker = _Ticker()
        self.epoch_ns = perf_counter_ns()  # step 0 of the batched step clock
        self._on_finish = on_finish
        self._truth: IO[bytes] | None = truth_log.open("ab") if truth_log else None
        self.answers: AnswerBook | None = None  # the scripted replies (--answers), set by the server

    def step_at_or_after(self, t_ns: int) -> int:
        """The batched step clock's first step at or after ``t_ns``."""
        period = int(self.config.itl_ms * 1e6)
        if period <= 0:
            return t_ns
        return self.epoch_ns - (self.epoch_ns - t_ns) // period * period

    def loading(self) -> bool:
        """True during the configured startup time."""
        return time.monotonic() - self.started < self.config.startup_s

    def held(self) -> int:
        """Requests received and not yet answered in full: running, or queued for a running slot."""
        return self.running + self.waiting

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def look_up_prefix(self, gen: Generation) -> dict[str, int]:
        """Look a request's prompt up in the prefix cache and count it; its truth-log fields (none without a cache)."""
        if self.prefix is None:
            return {}
        hit = self.prefix.admit(prompt_pieces(gen.prompt))
        self.prefix_queries += gen.prompt_tokens
        self.prefix_hits += hit
        self.last_prefix = (hit, gen.prompt_tokens)
        return {"prefix_hit_tokens": hit, "prefix_query_tokens": gen.prompt_tokens}

    def finish(self, done: Finished) -> None:
        """Count a request that ran to its end."""
        self.requests_ok += 1
        self.generation_tokens_total += done.tokens
        if self.config.spec_tokens:
            self.spec_drafts += len(done.steps)
            self.spec_draft_tokens += len(done.steps) * self.config.spec_tokens
            self.spec_accepted += done.tokens - len(done.steps)
        if self._on_finish is not None:
            self._on_finish(done)

    def log_truth(self, entry: dict[str, Any]) -> None:
        if self._truth is not None:
            self._truth.write(orjson.dumps(entry) + b"\n")
            self._truth.flush()

    def close(self) -> None:
        self.ticker.close()
        if self._truth is not None:
            self._truth.close()
            self._truth = None


def compact_json(obj: Any, status: int = 200) -> web.Response:
    """A JSON response without spaces, as the real servers (FastAPI) write it."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def error_response(status: int, message: str) -> web.Response:
    """An OpenAI-style error body."""
    return web.json_response({"error": {"message": message, "type": "BadRequestError", "code": status}}, status=status)


async def _sleep_until(due_ns: int) -> None:
    wait = due_ns - perf_counter_ns()
    if wait > 0:
        await asyncio.sleep(wait / 1e9)


async def run_generation(request: web.Request, state: SimState, gen: Generation, recv_ns: int,
                         head_ns: int | None = None, in_flight: int | None = None) -> web.StreamResponse:
    """Count the request, maybe fault it, wait for a running slot, then serve it on schedule.

    ``recv_ns`` is when the whole request had been read (the truth log's
    receipt), ``head_ns`` when its headers had been parsed: the gap is the
    client still sending its body. ``in_flight`` is the requests held at its
    receipt, itself included; a caller that read it already (to choose the
    reply) passes it, and nothing may yield in between, or it is counted here.
    """
    in_flight = state.held() + 1 if in_flight is None else in_flight
    cfg = state.config
    state.requests_total += 1
    state.prompt_tokens_total += gen.prompt_tokens
    fault = cfg.pick_fault(state.rng) if cfg.faults else None
    if fault == "http500":
        return error_response(500, "simulated internal server error")

    state.waiting += 1
    if state.gate is not None:
        await state.gate.acquire()
    state.waiting -= 1
    state.running += 1
    try:
        return await _serve(request, state, gen, fault, recv_ns, head_ns or recv_ns, in_flight)
    finally:
        state.running -= 1
        if state.gate is not None:
            state.gate.release()


async def _serve(request: web.Request, state: SimState, gen: Generation, fault: str | None,
                 recv_ns: int, head_ns: int, in_flight: int) -> web.StreamResponse:
    cfg, rng = state.config, state.rng
    admit_ns = perf_counter_ns()
    prefix = state.look_up_prefix(gen)
    hit = prefix.get("prefix_hit_tokens", 0)
    prefilled = gen.prompt_tokens - cfg.prefill_hit_discount * hit
    ttft_ms = (draw(rng, cfg.ttft_ms, cfg.ttft_dist, cfg.ttft_cv) + cfg.prefill_ms_per_1k * prefilled / 1000
               + cfg.ttft_ms_per_in_flight * (in_flight - 1))
    due = admit_ns + int(ttft_ms * 1e6)
    if cfg.decode == "batched":
        due = state.step_at_or_after(due)

    steps: list[int] = []
    left = gen.output_tokens
    while left > 0:
        k = min(cfg.step_tokens(rng, gen.spec_accept) if cfg.spec_tokens else 1, left)
        steps.append(k)
        left -= k

    if not gen.stream:
        for _ in steps[1:]:
            due += int(draw(rng, cfg.itl_ms, cfg.itl_dist, cfg.itl_cv) * 1e6)
        await _sleep_until(due)
        if fields := {**gen.truth_fields(), **prefix}:
            state.log_truth({"id": gen.id, "recv_ns": recv_ns, "in_flight": in_flight, **fields})
        state.finish(Finished(False, gen.prompt_tokens, steps, hit))
        return compact_json(gen.response())

    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    # The first write goes through aiohttp so that the headers leave first; the
    # ticker then writes the remaining chunks straight to the transport.
    await _sleep_until(due)
    stream = _Stream(state, gen, steps, request, fault)
    if fault == "cut" and len(steps) == 1:
        assert request.transport is not None  # prepare() above has just written on it
        request.transport.close()
        return resp
    await resp.write(stream.next_chunk())
    stream.write_ns.append(perf_counter_ns())
    if len(steps) > 1:
        if fault != "stall":
            state.ticker.add(stream, stream.next_due(due))
        await stream.done
    if stream.cut or fault == "stall":
        return resp
    # The truth is on disk before the stream's end leaves: a client that has the end can read it.
    state.log_truth({"id": gen.id, "head_ns": head_ns, "recv_ns": recv_ns, "admit_ns": admit_ns, "write_ns": stream.write_ns,
                     "tokens": steps, "prompt_tokens": gen.prompt_tokens, "in_flight": in_flight, **gen.truth_fields(),
                     **prefix})
    tail = gen.tail()
    if tail:
        await resp.write(tail)
    await resp.write_eof()
    state.finish(Finished(True, gen.prompt_tokens, steps, hit))
    return resp


class _Stream:
    """A request being decoded: which step is next, and when its chunks left."""

    __slots__ = ("state", "gen", "steps", "step", "sent", "transport", "fault", "write_ns", "done", "cut")

    def __init__(self, state: SimState, gen: Generation, steps: list[int], request: web.Request,
                 fault: str | None) -> None:
        self.state, self.gen, self.steps, self.fault = state, gen, steps, fault
        self.step = 0
        self.sent = 0
        self.transport = request.transport
        self.write_ns: list[int] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.cut = False

    def next_chunk(self) -> bytes:
        k = self.steps[self.step]
        data = self.gen.chunk(self.sent, k)
        self.step += 1
        self.sent += k
        return data

    def next_due(self, due: int) -> int:
        """The next step's due time: one ITL on, stretched by the batch; late steps restart from now."""
        cfg = self.state.config
        if cfg.decode == "batched":
            step = due + int(cfg.itl_ms * 1e6)
            now = perf_counter_ns()
            return self.state.step_at_or_after(now) if now - step > int(cfg.itl_ms * 1e6) else step
        itl_ns = int(draw(self.state.rng, cfg.itl_ms, cfg.itl_dist, cfg.itl_cv)
                     * (1 + cfg.batch_slowdown * (self.state.running - 1)) * 1e6)
        now = perf_counter_ns()
        return now + itl_ns if now - (due + itl_ns) > itl_ns else due + itl_ns

    def finish(self, cut: bool = False) -> None:
        self.cut = cut
        if not self.done.done():
            self.done.set_result(None)

    def write_step(self) -> bool:
        """Write the next chunk; False when the stream has no more steps for the ticker."""
        transport = self.transport
        if transport is None or transport.is_closing():
            self.finish(cut=True)
            return False
        if self.fault and self.step == len(self.steps) // 2:
            if self.fault == "cut":
                transport.close()
                self.finish(cut=True)
                return False
            if self.fault == "badjson":
                _write_chunked(transport, b"data: {this is not json\n\n")
        _write_chunked(transport, self.next_chunk())
        self.write_ns.append(perf_counter_ns())
        if self.step >= len(self.steps):
            self.finish()
            return False
        return True


def _write_chunked(transport: asyncio.BaseTransport, data: bytes) -> None:
    transport.write(b"%x\r\n%b\r\n" % (len(data), data))  # type: ignore[attr-defined]


class _Ticker:
    """One task that writes every due chunk of every stream: no task switch or timer per chunk."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, _Stream]] = []
        self._seq = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def add(self, stream: _Stream, due: int) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, stream))
        assert self._wake is not None  # made together with the task
        self._wake.set()

    async def _run(self) -> None:
        heap, wake = self._heap, self._wake
        assert wake is not None
        while True:
            if not heap:
                wake.clear()
                await wake.wait()
                continue
            wait = heap[0][0] - perf_counter_ns()
            if wait > 0:
                # A stream added meanwhile is due at least one ITL after its first
                # chunk, so a short plain sleep never misses it by more than 2 ms.
                await asyncio.sleep(min(wait, 2_000_000) / 1e9)
                continue
            now = perf_counter_ns()
            while heap and heap[0][0] <= now:
                due, _, stream = heapq.heappop(heap)
                if stream.write_step():
                    self._seq += 1
                    heapq.heappush(heap, (stream.next_due(due), self._seq, stream))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
