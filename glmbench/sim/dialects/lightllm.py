"""LightLLM's face (checked against LightLLM 87881ae).

The port refuses connections until the model is loaded; after that
``/health`` (GET, HEAD) and ``/healthz`` answer ``{"message": "Ok"}``.
``/metrics`` has ``lightllm_`` names labelled with ``model_name`` (the
``--model_name`` value, ``default_model_name`` unless given), and the
histogram ``lightllm_request_mtp_avg_token_per_step``: one observation per
finished request, its tokens over its decode steps. OpenAI streams: a
role-only chunk first, one event per token (an MTP step arrives as a burst
of events), reasoning in ``reasoning``, and a usage chunk before ``[DONE]``
always, whatever ``stream_options`` says, never on every chunk. The native
API: ``/generate`` and ``/generate_stream``, whose events are ``data:{json}``
with no space and no ``[DONE]``.

Prompt cache figures, observed as a request finishes (as its HTTP server
does): the histogram ``lightllm_cache_length`` (the prompt tokens the cache
served; buckets of a hundredth of ``max_req_total_len``), the histogram
``lightllm_cache_ratio`` (that over the prompt's tokens) and the gauge
``lightllm_cache_hit_rate`` (the latest request's ratio), beside the counter
``lightllm_prompt_tokens_total``.

The truth log keeps one time per write (a decode step), so it lines up with
a client's chunks only for single-token steps here.
"""

from __future__ import annotations

import random
from time import perf_counter_ns
from typing import Any

import orjson
from aiohttp import web

from glmbench.sim.config import SimConfig
from glmbench.sim.dialect import Dialect
from glmbench.sim.engine import (
    Finished,
    SimState,
    compact_json,
    error_response,
    run_generation,
)
from glmbench.sim.generation import Generation, count_tokens
from glmbench.sim.prometheus import Exposition, Histogram

__all__ = ["DIALECT", "LightllmDialect", "NativeGeneration"]

_MTP_HIST = "lightllm_request_mtp_avg_token_per_step"
_CACHE_LEN = "lightllm_cache_length"
_CACHE_RATIO = "lightllm_cache_ratio"


class LightllmDialect(Dialect):
    """LightLLM's HTTP server (``python -m lightllm.server.api_server``)."""

    name = "lightllm"
    owned_by = "lightllm"
    role_chunk = True
    per_token_events = True
    binds_after_load = True
    reasoning_field = "reasoning"

    def __init__(self, config: SimConfig) -> None:
        super().__init__(config)
        self.label = {"model_name": str(self.args.get("model_name", config.model))}
        mtp_step = int(self.args.get("mtp_step", config.spec_tokens) or 0)
        bounds = [i / 10.0 + 1.0 for i in range(10 * mtp_step)] if mtp_step else [1.0, 2.0]
        self.tokens_per_step = Histogram(bounds)
        total_len = float(self.args.get("max_req_total_len") or self.max_model_len)
        self.cache_length = Histogram([total_len / 100.0 * (i + 1) for i in range(-1, 100)])
        self.cache_ratio = Histogram([(i + 1) / 10.0 for i in range(-1, 10)])
        self.last_cache_ratio = 0.0
        self.prompt_tokens = 0
        self.generation_tokens = 0

    def usage_policy(self, stream_options: dict[str, Any]) -> tuple[bool, bool]:
        return True, False

    def usage(self, prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0}}

    def model_card(self) -> dict[str, Any]:
        return {"id": self.config.model, "object": "model", "created": self.created, "owned_by": self.owned_by,
                "max_model_len": self.args.get("max_req_total_len") or self.max_model_len}

    def on_finish(self, done: Finished) -> None:
        self.prompt_tokens += done.prompt_tokens
        self.generation_tokens += done.tokens
        self.tokens_per_step.observe(done.tokens / max(len(done.steps), 1))
        self.last_cache_ratio = done.prefix_hit_tokens / done.prompt_tokens if done.prompt_tokens else 0.0
        self.cache_length.observe(done.prefix_hit_tokens)
        self.cache_ratio.observe(self.last_cache_ratio)

    def metrics_text(self, state: SimState) -> str:
        page, label = Exposition(), self.label
        for name, kind, value, help_text in (
            ("lightllm_request_count_total", "counter", state.requests_total, "The total number of requests"),
            ("lightllm_request_success_total", "counter", state.requests_ok, "The number of successful requests"),
            ("lightllm_queue_size", "gauge", state.waiting, "Queue size"),
            ("lightllm_prompt_tokens_total", "counter", self.prompt_tokens, "Total number of prefill tokens processed"),
            ("lightllm_generation_tokens_total", "counter", self.generation_tokens,
             "Total number of generation tokens processed"),
            ("lightllm_num_running_reqs", "gauge", state.running, "Number of running requests"),
            ("lightllm_cache_hit_rate", "gauge", self.last_cache_ratio,
             "Prefix cache hit rate of latest completed request"),
        ):
            page.metric(name, kind, [(label, float(value))], help_text)
        page.histogram(_MTP_HIST, self.tokens_per_step, label, "Average number of tokens per step", show_empty=False)
        page.histogram(_CACHE_LEN, self.cache_length, label, "Length of tokens which hit prompt cache", show_empty=False)
        page.histogram(_CACHE_RATIO, self.cache_ratio, label, "cache length / input_length", show_empty=False)
        return page.text()

    def add_routes(self, app: web.Application, state: SimState) -> None:
        async def health(_: web.Request) -> web.Response:
            if state.loading():
                return compact_json({"message": "Error"}, status=503)
            return compact_json({"message": "Ok"})

        async def ok(_: web.Request) -> web.Response:
            return compact_json({"status": "ok"})

        async def server_info(_: web.Request) -> web.Response:
            return compact_json(self.args)

        async def model_name(_: web.Request) -> web.Response:
            return compact_json({"model_name": self.label["model_name"]})

        async def generate(request: web.Request) -> web.StreamResponse:
            return await _native(request, state, stream=False)

        async def generate_stream(request: web.Request) -> web.StreamResponse:
            return await _native(request, state, stream=True)

        app.router.add_get("/health", health)  # aiohttp answers HEAD on GET routes too
        app.router.add_get("/healthz", health)
        for path, handler in (("/liveness", ok), ("/readiness", ok), ("/get_server_info", server_info),
                              ("/get_model_name", model_name)):
            app.router.add_get(path, handler)
            app.router.add_post(path, handler)
        app.router.add_post("/generate", generate)
        app.router.add_post("/generate_stream", generate_stream)


class NativeGeneration(Generation):
    """A request to LightLLM's own API: the prompt in ``inputs`` (whose words ``outputs: by-prompt`` says), sampling
    in ``parameters``."""

    def __init__(self, cfg: SimConfig, rng: random.Random, seq: int, body: dict[str, Any], stream: bool,
                 in_flight: int = 1) -> None:
        inputs, params = body["inputs"], body.get("parameters") or {}
        if not isinstance(inputs, str) or not isinstance(params, dict):
            raise TypeError("'inputs' must be a string and 'parameters' an object")
        super().__init__(cfg, rng, seq, prompt_tokens=count_tokens(inputs), max_tokens=params.get("max_new_tokens"),
                         ignore_eos=bool(params.get("ignore_eos")), reasoning=False, stream=stream,
                         id_prefix="generate", model=cfg.model, prompt=inputs, in_flight=in_flight)

    def _event(self, index: int) -> bytes:
        last = index + 1 >= self.output_tokens
        event = {
            "token": {"id": index % 1000 + 1000, "text": self.words(index, index + 1), "logprob": -0.5,
                      "special": False, "count_output_tokens": index + 1, "prompt_tokens": self.prompt_tokens,
                      "logprobs": {}},
            "generated_text": None, "finished": last, "finish_reason": self.finish_reason if last else None,
            "details": None, "input_usage": None,
        }
        return b"data:" + orjson.dumps(event) + b"\n\n"

    def chunk(self, start: int, count: int) -> bytes:
        """One event per token, however many tokens the step made."""
        return b"".join(self._event(i) for i in range(start, start + count))

    def response(self) -> dict[str, Any]:
        return {"generated_text": [self.words(0, self.output_tokens)], "count_output_tokens": self.output_tokens,
                "finish_reason": self.finish_reason, "prompt_tokens": self.prompt_tokens,
                "logprobs": [{} for _ in range(self.output_tokens)]}


async def _native(request: web.Request, state: SimState, stream: bool) -> web.StreamResponse:
    head_ns = perf_counter_ns()
    if state.loading():
        return error_response(503, "the server is still loading")
    try:
        raw = await request.read()
        recv_ns = perf_counter_ns()
        body = orjson.loads(raw)
        in_flight = state.held() + 1  # counted by run_generation below: nothing yields in between
        gen = NativeGeneration(state.config, state.rng, state.next_seq(), body, stream, in_flight)
    except (ValueError, TypeError, KeyError, AttributeError):
        return error_response(400, "expected {\"inputs\": str, \"parameters\": {\"max_new_tokens\": int, ...}}")
    if gen.max_tokens < 1:
        return error_response(400, "'max_new_tokens' must be at least 1")
    return await run_generation(request, state, gen, recv_ns, head_ns, in_flight)


DIALECT = LightllmDialect
