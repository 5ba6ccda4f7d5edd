"""SGLang: ``python -m sglang.launch_server --model-path MODEL``, flags as the model card gives them.

Speculative decoding is EAGLE over the model's own MTP layer (3 steps, top-k 1,
4 draft tokens in the model card); SGLang takes the draft from the target model
for GLM-4.7-Flash, so no draft path is needed. Ready when ``/health`` answers
200 (503 while it warms up; after that it runs a one-token generation), then
``/v1/models``. Acceptance: ``/server_info`` ``internal_states[i].avg_spec_accept_length``
(a lifetime mean per data-parallel rank, so the figure of a run comes from the
change of its weighted total), else the ``sglang:spec_accept_length`` gauge
(``--enable-metrics``; last logging window only). Prefix cache hit rate: the
counters ``sglang:cached_tokens_total`` over ``sglang:prompt_tokens_total``
(tokens, added as each request finishes), else the scheduler's
``sglang:cache_hit_rate`` gauge (its last prefill batch, not the run).
"""

from __future__ import annotations

from typing import Any, Literal, cast

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from glmbench.backends.base import (
    BaseBackend,
    Scrape,
    fetch_json,
    fetch_metrics,
    flag_pairs,
    metric_delta,
    prefix_share,
)
from glmbench.backends.config import BackendConfig

__all__ = ["SGLangBackend", "SGLangSpeculative", "BACKEND"]

_CACHED = "sglang:cached_tokens_total"
_PROMPT = "sglang:prompt_tokens_total"
_HIT_RATE = "sglang:cache_hit_rate"


class SGLangSpeculative(BaseModel):
    """``--speculative-*`` flags. SGLang wants steps, top-k and draft tokens all set or all unset."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["EAGLE", "EAGLE3", "NEXTN", "STANDALONE", "NGRAM"] = "EAGLE"
    num_steps: int | None = Field(3, ge=1)
    eagle_topk: int | None = Field(1, ge=1)
    num_draft_tokens: int | None = Field(4, ge=1)
    draft_model_path: str | None = None

    @model_validator(mode="after")
    def _all_or_none(self) -> SGLangSpeculative:
        given = [v is not None for v in (self.num_steps, self.eagle_topk, self.num_draft_tokens)]
        if any(given) and not all(given):
            raise ValueError("set num_steps, eagle_topk and num_draft_tokens together (SGLang refuses a partial set)")
        if self.eagle_topk == 1 and self.num_steps and self.num_draft_tokens != self.num_steps + 1:
            raise ValueError("with eagle_topk 1, SGLang forces num_draft_tokens = num_steps + 1")
        return self


class SGLangBackend(BaseBackend):
    """SGLang's server (needs CUDA or Intel AMX; tested here against the simulator's SGLang dialect)."""

    name = "sglang"
    package = "sglang"
    install_hint = "pip install 'sglang[all]' in its own venv (GPU machine), then --set launch.venv=PATH"
    default_config = "sglang"
    readiness = ("/health", "/v1/models")
    module = "sglang.launch_server"
    speculative_model = SGLangSpeculative
    startup_s = 180.0
    multinode = "--nnodes --node-rank --dist-init-addr on every node; HTTP on rank 0"

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        spec = cast("SGLangSpeculative | None", self.speculative(cfg))  # validated by speculative_model, this class
        pairs: list[tuple[str, Any]] = [
            ("--model-path", cfg.model),
            ("--host", cfg.host),
            ("--port", port),
            ("--served-model-name", cfg.served_model_name),
            ("--tp-size", cfg.tp if cfg.tp > 1 else None),
            ("--dp-size", cfg.dp if cfg.dp > 1 else None),
            ("--tool-call-parser", cfg.tool_call_parser),
            ("--reasoning-parser", cfg.reasoning_parser),
        ]
        if spec is not None:
            pairs += [
                ("--speculative-algorithm", spec.algorithm),
                ("--speculative-num-steps", spec.num_steps),
                ("--speculative-eagle-topk", spec.eagle_topk),
                ("--speculative-num-draft-tokens", spec.num_draft_tokens),
                ("--speculative-draft-model-path", spec.draft_model_path),
            ]
        if cfg.nodes > 1 and cfg.node is not None:
            pairs += [("--nnodes", cfg.nodes), ("--node-rank", cfg.node.rank), ("--dist-init-addr", cfg.node.head)]
        pairs.append(("--mem-fraction-static", cfg.options.get("mem_fraction_static")))
        # Prometheus metrics are off unless asked for; glmbench always wants them.
        pairs.append(("--enable-metrics", True))
        return flag_pairs(pairs) + list(cfg.extra_args)

    async def scrape(self, session: aiohttp.ClientSession, root_url: str) -> Scrape:
        info = await fetch_json(session, f"{root_url}/server_info")
        if info is None:
            info = await fetch_json(session, f"{root_url}/get_server_info")
        return {"metrics": await fetch_metrics(session, root_url), "server_info": _internal_states(info)}

    def draft_tokens(self, cfg: BackendConfig) -> int | None:
        """``num_steps``: the draft's depth, so a step gives at most ``num_steps + 1`` tokens."""
        spec = cast("SGLangSpeculative | None", self.speculative(cfg))
        return spec.num_steps if spec else None

    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None:
        states = after.get("server_info") or []
        lengths = [s.get("avg_spec_accept_length") for s in states if isinstance(s, dict)]
        accepted = [float(x) for x in lengths if isinstance(x, (int, float)) and x > 0]
        if accepted:
            return {"spec_accept_length": sum(accepted) / len(accepted),
                    "spec_source": "sglang /server_info avg_spec_accept_length (lifetime mean)"}  # type: ignore[dict-item]
        metrics = after.get("metrics") or {}
        if metrics.get("sglang:spec_accept_length"):
            result: dict[str, Any] = {"spec_accept_length": metrics["sglang:spec_accept_length"],
                                      "spec_source": "sglang:spec_accept_length gauge (last window)"}
            if "sglang:spec_accept_rate" in metrics:
                result["spec_accept_rate"] = metrics["sglang:spec_accept_rate"]
            return result
        return None

    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        """Cached over prompt tokens from the tokenizer's counters (both counted as requests finish); without
        the cached-token counter, the scheduler's ``sglang:cache_hit_rate`` gauge at the end (its last prefill)."""
        metrics = after.get("metrics") or {}
        if _CACHED in metrics:
            return prefix_share(before, after, _CACHED, _PROMPT, f"{_CACHED} / {_PROMPT}")
        # SGLang adds a request's cached tokens only when above 0: no counter is no hit yet, or an older SGLang.
        if _HIT_RATE in metrics and metric_delta(before.get("metrics"), metrics, _PROMPT) > 0:
            return {"prefix_hit_rate": metrics[_HIT_RATE], "prefix_source": f"{_HIT_RATE} gauge (last prefill batch)"}
        return None


def _internal_states(info: Any) -> list[dict[str, Any]] | None:
    """The per-rank ``internal_states`` of a ``/server_info`` answer (the only part glmbench keeps)."""
    if not isinstance(info, dict):
        return None
    states = info.get("internal_states")
    if not isinstance(states, list):
        return None
    keep = ("avg_spec_accept_length", "last_gen_throughput", "memory_usage")
    return [{k: s.get(k) for k in keep if k in s} for s in states if isinstance(s, dict)]


BACKEND = SGLangBackend()
