"""vLLM's face: ``/health`` (503 while loading), ``vllm:`` counters, usage chunk on request.

Prefix caching as vLLM V1 (0.32) counts it at scheduling:
``vllm:prefix_cache_queries_total``, the prompt tokens looked up (all of
them, not only full blocks), and ``vllm:prefix_cache_hits_total``, the tokens
the cache served; both shown, at 0, with the cache off, as vLLM shows them.
"""

from __future__ import annotations

from aiohttp import web

from glmbench.sim.config import SimConfig
from glmbench.sim.dialect import Dialect
from glmbench.sim.engine import SimState
from glmbench.sim.prometheus import Exposition

__all__ = ["DIALECT", "VllmDialect"]


class VllmDialect(Dialect):
    """vLLM's OpenAI server; the reasoning field follows ``reasoning_field`` (older vLLM: ``reasoning_content``)."""

    name = "vllm"

    def __init__(self, config: SimConfig) -> None:
        super().__init__(config)
        self.reasoning_field = config.reasoning_field

    def metrics_text(self, state: SimState) -> str:
        page = Exposition()
        labels = {"model_name": self.config.model}
        for name, kind, value in (
            ("vllm:num_requests_running", "gauge", state.running),
            ("vllm:num_requests_waiting", "gauge", state.waiting),
            ("vllm:request_success_total", "counter", state.requests_ok),
            ("vllm:prompt_tokens_total", "counter", state.prompt_tokens_total),
            ("vllm:generation_tokens_total", "counter", state.generation_tokens_total),
            ("vllm:spec_decode_num_drafts_total", "counter", state.spec_drafts),
            ("vllm:spec_decode_num_draft_tokens_total", "counter", state.spec_draft_tokens),
            ("vllm:spec_decode_num_accepted_tokens_total", "counter", state.spec_accepted),
            ("vllm:prefix_cache_queries_total", "counter", state.prefix_queries),
            ("vllm:prefix_cache_hits_total", "counter", state.prefix_hits),
        ):
            page.metric(name, kind, [(labels, value)])
        return page.text()

    def add_routes(self, app: web.Application, state: SimState) -> None:
        async def health(_: web.Request) -> web.Response:
            return web.Response(status=503 if state.loading() else 200, text="")

        app.router.add_get("/health", health)


DIALECT = VllmDialect
