"""The aiohttp application of the simulated server: OpenAI routes shared by all dialects, plus the dialect's own.

The schedule, admission and faults live in :mod:`glmbench.sim.engine`; the
chunks' bytes in :mod:`glmbench.sim.generation`; what differs between
vLLM, SGLang and LightLLM in :mod:`glmbench.sim.dialects`.
"""

from __future__ import annotations

from pathlib import Path
from time import perf_counter_ns

import orjson
from aiohttp import web

from glmbench.sim.answers import AnswerBook
from glmbench.sim.config import SimConfig
from glmbench.sim.dialects import Dialect, dialect_for
from glmbench.sim.engine import SimState, error_response, run_generation
from glmbench.sim.generation import OpenAIGeneration, ScriptedGeneration, requested_logprobs

__all__ = ["SimState", "make_app", "STATE", "DIALECT"]

STATE: web.AppKey[SimState] = web.AppKey("state", SimState)
DIALECT: web.AppKey[Dialect] = web.AppKey("dialect", Dialect)


async def _openai(request: web.Request, state: SimState, dialect: Dialect, chat: bool) -> web.StreamResponse:
    head_ns = perf_counter_ns()
    if state.loading():
        return error_response(503, "the server is still loading")
    try:
        raw = await request.read()
        recv_ns = perf_counter_ns()  # the whole request is in: a slow sender's delay is not the server's
        body = orjson.loads(raw)
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return error_response(400, "request body is not a JSON object")
    if chat and not isinstance(body.get("messages"), list):
        return error_response(400, "'messages' must be a list")
    try:
        top_logprobs = requested_logprobs(body, chat)
    except ValueError as exc:
        return error_response(400, str(exc))
    in_flight = state.held() + 1  # counted by run_generation below: nothing yields in between
    reply = state.answers.reply(body, chat, in_flight) if state.answers is not None else None
    try:
        gen = (OpenAIGeneration(state.config, state.rng, state.next_seq(), body, chat, dialect, in_flight=in_flight,
                                top_logprobs=top_logprobs) if reply is None
               else ScriptedGeneration(state.config, state.rng, state.next_seq(), body, chat, dialect, reply,
                                       in_flight=in_flight))
    except (TypeError, ValueError):
        return error_response(400, "'max_tokens' must be an integer")
    if gen.max_tokens < 1:
        return error_response(400, "'max_tokens' must be at least 1")
    return await run_generation(request, state, gen, recv_ns, head_ns, in_flight)


def make_app(config: SimConfig, truth_log: Path | None = None) -> web.Application:
    """The simulated server's routes: chat and text completions, models, metrics, and the dialect's own."""
    dialect = dialect_for(config)
    state = SimState(config, truth_log, on_finish=dialect.on_finish)
    state.answers = AnswerBook(Path(config.answers), config.answer_law, config.seed) if config.answers else None
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = state
    app[DIALECT] = dialect

    async def chat(request: web.Request) -> web.StreamResponse:
        return await _openai(request, state, dialect, chat=True)

    async def completions(request: web.Request) -> web.StreamResponse:
        return await _openai(request, state, dialect, chat=False)

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [dialect.model_card()]})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=dialect.metrics_text(state), content_type="text/plain")

    async def on_cleanup(_: web.Application) -> None:
        state.close()

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", completions)
    app.router.add_get("/v1/models", models)
    if config.metrics:
        app.router.add_get("/metrics", metrics)
    dialect.add_routes(app, state)
    app.on_cleanup.append(on_cleanup)
    return app
