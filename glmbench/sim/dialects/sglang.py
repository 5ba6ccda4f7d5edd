"""SGLang's face (checked against sglang 0.5.23).

``/health`` and ``/health_generate`` answer 503 while the server starts, then
200 with an empty body. ``/server_info`` (old name ``/get_server_info``) lists
the resolved server arguments at its top level and one ``internal_states``
entry per DP rank, whose ``avg_spec_accept_length`` is the lifetime mean of
tokens per decode step once speculative decoding has run. ``/metrics`` uses
``sglang:`` names with labels in alphabetical order, as the Prometheus
multiprocess collector writes them. Streams: a role-only chunk first,
reasoning in ``reasoning_content``, the usage chunk only when asked for
(``stream_options.include_usage``, or the server flag
``--stream-response-default-include-usage``), and ``continuous_usage_stats``
on its own.

Prefix cache (radix cache) figures as SGLang keeps them: the counter
``sglang:cached_tokens_total``, a finished request's cached prompt tokens by
the same labels as ``sglang:prompt_tokens_total`` (a label set appears with
its first hit: SGLang adds only counts above 0), and the scheduler's gauge
``sglang:cache_hit_rate``, the last prefill's hit tokens over its prompt
tokens.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from glmbench.sim.config import SimConfig
from glmbench.sim.dialect import Dialect
from glmbench.sim.engine import Finished, SimState, compact_json
from glmbench.sim.prometheus import Exposition

__all__ = ["DIALECT", "SglangDialect"]


class SglangDialect(Dialect):
    """SGLang's HTTP server (``python -m sglang.launch_server``)."""

    name = "sglang"
    owned_by = "sglang"
    role_chunk = True
    reasoning_field = "reasoning_content"

    def __init__(self, config: SimConfig) -> None:
        super().__init__(config)
        spec = config.spec_tokens
        defaults: dict[str, Any] = {
            "model_path": config.model, "served_model_name": config.model, "tp_size": 1, "dp_size": 1,
            "speculative_algorithm": "EAGLE" if spec else None, "speculative_num_steps": spec or None,
            "speculative_eagle_topk": 1 if spec else None, "speculative_num_draft_tokens": spec + 1 if spec else None,
            "enable_metrics": config.metrics, "stream_response_default_include_usage": False,
        }
        self.args = {**defaults, **config.server_args}
        self.startup_time = time.time()
        # Requests, prompt tokens, generation tokens, cached prompt tokens by the is_streaming label.
        self.totals: dict[str, list[int]] = {}

    def usage_policy(self, stream_options: dict[str, Any]) -> tuple[bool, bool]:
        default = bool(self.args.get("stream_response_default_include_usage"))
        if not stream_options:
            return default, False
        return bool(stream_options.get("include_usage")) or default, bool(stream_options.get("continuous_usage_stats"))

    def usage(self, prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
        return {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion,
                "prompt_tokens_details": None, "reasoning_tokens": reasoning,
                "completion_tokens_details": {"reasoning_tokens": reasoning} if reasoning else None}

    def model_card(self) -> dict[str, Any]:
        served = self.args["served_model_name"]
        return {"id": served, "object": "model", "created": self.created, "owned_by": self.owned_by,
                "root": served, "max_model_len": self.args.get("context_length") or self.max_model_len}

    def on_finish(self, done: Finished) -> None:
        row = self.totals.setdefault("true" if done.stream else "false", [0, 0, 0, 0])
        row[0] += 1
        row[1] += done.prompt_tokens
        row[2] += done.tokens
        row[3] += done.prefix_hit_tokens

    def _accept_length(self, state: SimState) -> float | None:
        """Lifetime tokens per decode step; None before speculative decoding has run."""
        if not self.config.spec_tokens or not state.spec_drafts:
            return None
        return 1.0 + state.spec_accepted / state.spec_drafts

    def server_info(self, state: SimState) -> dict[str, Any]:
        """What ``/server_info`` returns."""
        internal: dict[str, Any] = {
            **self.args, "world_size": int(self.args.get("tp_size") or 1) * int(self.args.get("dp_size") or 1),
            "startup_time": self.startup_time, "effective_max_running_requests_per_dp": self.config.max_running or 4096,
            "last_gen_throughput": 0.0,
        }
        accept = self._accept_length(state)
        if accept is not None:
            internal["avg_spec_accept_length"] = accept
        info = {**self.args, "startup_time": self.startup_time, "internal_states": [internal], "frontend": "python"}
        info.setdefault("version", "glmbench-sim")
        return info

    def metrics_text(self, state: SimState) -> str:
        page = Exposition(sort_labels=True)
        served = self.args["served_model_name"]
        sched = {"model_name": served, "engine_type": "unified", "tp_rank": "0", "pp_rank": "0", "moe_ep_rank": "0"}
        page.metric("sglang:num_running_reqs", "gauge", [(sched, float(state.running))],
                    "The number of running requests.")
        page.metric("sglang:num_queue_reqs", "gauge", [(sched, float(state.waiting))],
                    "The number of requests in the waiting queue.")
        hit, looked_up = state.last_prefix
        page.metric("sglang:cache_hit_rate", "gauge", [(sched, hit / looked_up if looked_up else 0.0)],
                    "The prefix cache hit rate.")
        accept = self._accept_length(state)
        if accept is not None:
            rate = state.spec_accepted / state.spec_draft_tokens if state.spec_draft_tokens else 0.0
            page.metric("sglang:spec_accept_length", "gauge", [(sched, accept)],
                        "Mean acceptance length of speculative decoding (accepted drafts + bonus token per forward).")
            page.metric("sglang:spec_accept_rate", "gauge", [(sched, rate)],
                        "Speculative acceptance rate (`accepted drafts / proposed drafts` in batch).")
        rows = sorted(self.totals.items())
        for name, col, help_text in (("sglang:prompt_tokens_total", 1, "Number of prefill tokens processed."),
                                     ("sglang:generation_tokens_total", 2, "Number of generation tokens processed."),
                                     ("sglang:num_requests_total", 0, "Number of requests processed.")):
            samples = [({"model_name": served, "engine_type": "unified", "is_streaming": s}, float(row[col]))
                       for s, row in rows]
            page.metric(name, "counter", samples, help_text)
        cached = [({"model_name": served, "engine_type": "unified", "is_streaming": s}, float(row[3]))
                  for s, row in rows if row[3]]
        page.metric("sglang:cached_tokens_total", "counter", cached, "Number of cached prompt tokens.")
        return page.text()

    def add_routes(self, app: web.Application, state: SimState) -> None:
        async def health(_: web.Request) -> web.Response:
            return web.Response(status=503 if state.loading() else 200)

        async def server_info(_: web.Request) -> web.Response:
            return compact_json(self.server_info(state))

        for path in ("/health", "/health_generate"):
            app.router.add_get(path, health)
        app.router.add_get("/server_info", server_info)
        app.router.add_get("/get_server_info", server_info)


DIALECT = SglangDialect
