"""The aiohttp application of the simulated server.

Each streamed request follows an absolute schedule: first token due at
admission + TTFT, then one decode step every ITL (stretched by
``batch_slowdown`` as more requests run). A step late by more than one ITL
restarts the schedule from now instead of bursting to catch up, as a real
server would. With a truth log, the time right after each chunk was handed to
the socket is recorded: that, not the configured latency, is the ground truth.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import re
import time
from pathlib import Path
from time import perf_counter_ns
from typing import IO, Any

import orjson
from aiohttp import web

from glmbench.sim.config import SimConfig, draw

__all__ = ["SimState", "make_app", "STATE"]

_PIECE = re.compile(r"\w{1,5}|[^\w\s]")
_WORDS = ("the ", "model ", "streams ", "a ", "token ", "per ", "step ", "and ", "then ", "stops ")


class SimState:
    """Counters shown on ``/metrics`` and the optional ground-truth log."""

    def __init__(self, config: SimConfig, truth_log: Path | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.running = 0
        self.waiting = 0
        self.requests_total = 0
        self.requests_ok = 0
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.spec_drafts = 0
        self.spec_draft_tokens = 0
        self.spec_accepted = 0
        self.seq = 0
        self.gate = asyncio.Semaphore(config.max_running) if config.max_running else None
        self.ticker = _Ticker()
        self._truth: IO[bytes] | None = truth_log.open("ab") if truth_log else None

    def log_truth(self, entry: dict[str, Any]) -> None:
        if self._truth is not None:
            self._truth.write(orjson.dumps(entry) + b"\n")
            self._truth.flush()

    def close(self) -> None:
        self.ticker.close()
        if self._truth is not None:
            self._truth.close()
            self._truth = None

    def metrics_text(self) -> str:
        lines = [
            ("vllm:num_requests_running", "gauge", self.running),
            ("vllm:num_requests_waiting", "gauge", self.waiting),
            ("vllm:request_success_total", "counter", self.requests_ok),
            ("vllm:prompt_tokens_total", "counter", self.prompt_tokens_total),
            ("vllm:generation_tokens_total", "counter", self.generation_tokens_total),
            ("vllm:spec_decode_num_drafts_total", "counter", self.spec_drafts),
            ("vllm:spec_decode_num_draft_tokens_total", "counter", self.spec_draft_tokens),
            ("vllm:spec_decode_num_accepted_tokens_total", "counter", self.spec_accepted),
        ]
        out = []
        for name, kind, value in lines:
            out.append(f"# TYPE {name} {kind}\n{name}{{model_name=\"{self.config.model}\"}} {value}\n")
        return "".join(out)


def _prompt_text(body: dict[str, Any], chat: bool) -> str:
    if not chat:
        prompt = body.get("prompt", "")
        return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
    parts = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "BadRequestError", "code": status}}, status=status)


async def _sleep_until(due_ns: int) -> None:
    wait = due_ns - perf_counter_ns()
    if wait > 0:
        await asyncio.sleep(wait / 1e9)


class _Generation:
    """One request's plan: how many tokens, which are reasoning, and its chunk encoder."""

    def __init__(self, state: SimState, body: dict[str, Any], chat: bool) -> None:
        cfg = state.config
        self.chat = chat
        self.prompt_tokens = len(_PIECE.findall(_prompt_text(body, chat)))
        limit = body.get("max_completion_tokens")
        if limit is None:
            limit = body.get("max_tokens")
        self.max_tokens = cfg.default_max_tokens if limit is None else int(limit)
        if body.get("ignore_eos"):
            self.output_tokens = self.max_tokens
        else:
            self.output_tokens = max(1, round(self.max_tokens * state.rng.uniform(0.5, 1.0)))
        self.finish_reason = "length" if self.output_tokens == self.max_tokens else "stop"
        self.reasoning = min(cfg.reasoning_tokens, self.output_tokens - 1) if chat else 0
        options = body.get("stream_options") or {}
        self.include_usage = bool(options.get("include_usage"))
        self.continuous_usage = bool(options.get("continuous_usage_stats"))
        state.seq += 1
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-sim{state.seq}"
        self.model = body.get("model") or cfg.model
        self.created = int(time.time())
        head = {"id": self.id, "object": "chat.completion.chunk" if chat else "text_completion",
                "created": self.created, "model": self.model}
        self._frame = b"data: " + orjson.dumps(head)[:-1] + b',"choices":['

    def usage(self, completion: int) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
                "total_tokens": self.prompt_tokens + completion}

    def chunk(self, start: int, count: int, reasoning_field: str) -> bytes:
        """The SSE event for tokens ``start .. start+count`` (bytes spliced into a cached frame)."""
        end = start + count
        words = [_WORDS[i % len(_WORDS)] for i in range(start, end)]
        last = end >= self.output_tokens
        if self.chat:
            if end <= self.reasoning:
                delta = {reasoning_field: "".join(words)}
            elif start < self.reasoning:
                cut = self.reasoning - start
                delta = {reasoning_field: "".join(words[:cut]), "content": "".join(words[cut:])}
            else:
                delta = {"content": "".join(words)}
            if start == 0:
                delta["role"] = "assistant"
            body = b'{"index":0,"delta":' + orjson.dumps(delta)
        else:
            body = b'{"index":0,"text":' + orjson.dumps("".join(words))
        body += b',"finish_reason":"%b"}]' % self.finish_reason.encode() if last else b',"finish_reason":null}]'
        if self.continuous_usage and self.include_usage:
            body += b',"usage":' + orjson.dumps(self.usage(end))
        return self._frame + body + b"}\n\n"

    def usage_chunk(self) -> bytes:
        obj = {"id": self.id, "object": "chat.completion.chunk" if self.chat else "text_completion",
               "created": self.created, "model": self.model, "choices": [], "usage": self.usage(self.output_tokens)}
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def full_text(self) -> str:
        return "".join(_WORDS[i % len(_WORDS)] for i in range(self.output_tokens))


async def _generate(request: web.Request, state: SimState, chat: bool) -> web.StreamResponse:
    recv_ns = perf_counter_ns()
    try:
        body = orjson.loads(await request.read())
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return _error(400, "request body is not a JSON object")
    if chat and not isinstance(body.get("messages"), list):
        return _error(400, "'messages' must be a list")
    try:
        gen = _Generation(state, body, chat)
    except (TypeError, ValueError):
        return _error(400, "'max_tokens' must be an integer")
    if gen.max_tokens < 1:
        return _error(400, "'max_tokens' must be at least 1")
    cfg = state.config
    state.requests_total += 1
    state.prompt_tokens_total += gen.prompt_tokens
    fault = cfg.pick_fault(state.rng) if cfg.faults else None
    if fault == "http500":
        return _error(500, "simulated internal server error")

    state.waiting += 1
    if state.gate is not None:
        await state.gate.acquire()
    state.waiting -= 1
    state.running += 1
    try:
        return await _serve(request, state, gen, body, fault, recv_ns)
    finally:
        state.running -= 1
        if state.gate is not None:
            state.gate.release()


async def _serve(request: web.Request, state: SimState, gen: _Generation, body: dict[str, Any],
                 fault: str | None, recv_ns: int) -> web.StreamResponse:
    cfg, rng = state.config, state.rng
    admit_ns = perf_counter_ns()
    ttft_ms = draw(rng, cfg.ttft_ms, cfg.ttft_dist, cfg.ttft_cv) + cfg.prefill_ms_per_1k * gen.prompt_tokens / 1000
    due = admit_ns + int(ttft_ms * 1e6)

    steps: list[int] = []
    left = gen.output_tokens
    while left > 0:
        k = min(cfg.step_tokens(rng) if cfg.spec_tokens else 1, left)
        steps.append(k)
        left -= k

    if not body.get("stream"):
        for _ in steps[1:]:
            due += int(draw(rng, cfg.itl_ms, cfg.itl_dist, cfg.itl_cv) * 1e6)
        await _sleep_until(due)
        _count_tokens(state, steps)
        state.requests_ok += 1
        message: dict[str, Any] = {"role": "assistant", "content": gen.full_text()}
        choice = ({"index": 0, "message": message, "finish_reason": gen.finish_reason} if gen.chat
                  else {"index": 0, "text": gen.full_text(), "finish_reason": gen.finish_reason})
        return web.json_response({"id": gen.id, "object": "chat.completion" if gen.chat else "text_completion",
                                  "created": gen.created, "model": gen.model, "choices": [choice],
                                  "usage": gen.usage(gen.output_tokens)})

    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    # The first write goes through aiohttp so that the headers leave first; the
    # ticker then writes the remaining chunks straight to the transport.
    await _sleep_until(due)
    stream = _Stream(state, gen, steps, request, fault)
    if fault == "cut" and len(steps) == 1:
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
    if gen.include_usage:
        await resp.write(gen.usage_chunk())
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    _count_tokens(state, steps)
    state.requests_ok += 1
    state.log_truth({"id": gen.id, "recv_ns": recv_ns, "admit_ns": admit_ns, "write_ns": stream.write_ns,
                     "tokens": steps, "prompt_tokens": gen.prompt_tokens})
    return resp


class _Stream:
    """A request being decoded: which step is next, and when its chunks left."""

    __slots__ = ("state", "gen", "steps", "step", "sent", "transport", "fault", "write_ns", "done", "cut")

    def __init__(self, state: SimState, gen: _Generation, steps: list[int], request: web.Request,
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
        data = self.gen.chunk(self.sent, k, self.state.config.reasoning_field)
        self.step += 1
        self.sent += k
        return data

    def next_due(self, due: int) -> int:
        """The next step's due time: one ITL on, stretched by the batch; late steps restart from now."""
        cfg = self.state.config
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


def _count_tokens(state: SimState, steps: list[int]) -> None:
    state.generation_tokens_total += sum(steps)
    if state.config.spec_tokens:
        state.spec_drafts += len(steps)
        state.spec_draft_tokens += len(steps) * state.config.spec_tokens
        state.spec_accepted += sum(steps) - len(steps)


STATE: web.AppKey[SimState] = web.AppKey("state", SimState)


def make_app(config: SimConfig, truth_log: Path | None = None) -> web.Application:
    """The simulated server's routes: chat and text completions, models, health, metrics."""
    state = SimState(config, truth_log)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = state

    async def chat(request: web.Request) -> web.StreamResponse:
        return await _generate(request, state, chat=True)

    async def completions(request: web.Request) -> web.StreamResponse:
        return await _generate(request, state, chat=False)

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": config.model, "object": "model", "owned_by": "glmbench-sim", "max_model_len": 131072}]})

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=state.metrics_text(), content_type="text/plain")

    async def on_cleanup(_: web.Application) -> None:
        state.close()

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.on_cleanup.append(on_cleanup)
    return app
