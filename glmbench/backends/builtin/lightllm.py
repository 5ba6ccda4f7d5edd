"""LightLLM: ``python -m lightllm.server.api_server --model_dir MODEL``, as its GLM-4.7-Flash guide.

Flags use underscores. MTP is ``--mtp_mode eagle_with_att|vanilla_with_att
--mtp_step 4 --mtp_draft_model_dir MODEL`` (the draft is the model's own MTP
layer). Ready when ``/health`` answers 200 (the port only opens once the model
is loaded). Acceptance: the histogram ``lightllm_request_mtp_avg_token_per_step``
at ``/metrics``, one observation per request; the run's mean is the change of
its ``_sum`` over the change of its ``_count`` (its buckets top out at the
configured step, so percentiles from them would be clipped). Prefix (prompt)
cache hit rate: the change of the histogram ``lightllm_cache_length``'s ``_sum``
(tokens the cache served, observed as each request finishes) over the change of
the counter ``lightllm_prompt_tokens_total`` (counted at the same place; older
LightLLM without it: the ``lightllm_request_input_length`` histogram's ``_sum``).
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from glmbench.backends.base import BaseBackend, Scrape, flag_pairs, metric_delta, prefix_share
from glmbench.backends.config import BackendConfig

__all__ = ["LightLLMBackend", "LightLLMSpeculative", "BACKEND"]

_HIST = "lightllm_request_mtp_avg_token_per_step"
_CACHED = "lightllm_cache_length_sum"
_PROMPT = "lightllm_prompt_tokens_total"
_PROMPT_OLD = "lightllm_request_input_length_sum"


class LightLLMSpeculative(BaseModel):
    """``--mtp_*`` flags; GLM-4.7-Flash takes only the ``*_with_att`` modes."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["eagle_with_att", "vanilla_with_att"] = "eagle_with_att"
    step: int = Field(4, ge=1)
    draft_model_dir: str | None = None


class LightLLMBackend(BaseBackend):
    """LightLLM's API server (GPU only; tested here against the simulator's LightLLM dialect)."""

    name = "lightllm"
    package = "lightllm"
    install_hint = "install LightLLM from source or use its container image (--set launch.kind=container)"
    default_config = "lightllm"
    readiness = ("/health",)
    module = "lightllm.server.api_server"
    speculative_model = LightLLMSpeculative
    startup_s = 180.0
    multinode = "--nnodes --node_rank --nccl_host --nccl_port on every node; HTTP on rank 0"

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        spec = cast("LightLLMSpeculative | None", self.speculative(cfg))  # validated by speculative_model, this class
        opts = cfg.options
        pairs: list[tuple[str, Any]] = [
            ("--model_dir", cfg.model),
            ("--tp", cfg.tp),
            ("--dp", cfg.dp if cfg.dp > 1 else None),
            ("--max_req_total_len", opts.get("max_req_total_len")),
            ("--chunked_prefill_size", opts.get("chunked_prefill_size")),
            ("--batch_max_tokens", opts.get("batch_max_tokens")),
            ("--llm_prefill_att_backend", opts.get("llm_prefill_att_backend")),
            ("--llm_decode_att_backend", opts.get("llm_decode_att_backend")),
            ("--graph_max_batch_size", opts.get("graph_max_batch_size")),
            ("--tool_call_parser", cfg.tool_call_parser),
            ("--reasoning_parser", cfg.reasoning_parser),
        ]
        if spec is not None:
            pairs += [
                ("--mtp_step", spec.step),
                ("--mtp_mode", spec.mode),
                ("--mtp_draft_model_dir", spec.draft_model_dir or cfg.model),
            ]
        if cfg.nodes > 1 and cfg.node is not None:
            pairs += [("--nnodes", cfg.nodes), ("--node_rank", cfg.node.rank),
                      ("--nccl_host", cfg.node.host), ("--nccl_port", cfg.node.port)]
        pairs += [("--host", cfg.host), ("--port", port)]
        return flag_pairs(pairs) + list(cfg.extra_args)

    def draft_tokens(self, cfg: BackendConfig) -> int | None:
        """``mtp_step``: the tokens the MTP layers draft per step."""
        spec = cast("LightLLMSpeculative | None", self.speculative(cfg))
        return spec.step if spec else None

    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None:
        count = metric_delta(before.get("metrics"), after.get("metrics"), f"{_HIST}_count")
        if count <= 0:
            return None
        total = metric_delta(before.get("metrics"), after.get("metrics"), f"{_HIST}_sum")
        return {"spec_accept_length": total / count,
                "spec_source": f"{_HIST} (mean over {int(count)} requests)"}  # type: ignore[dict-item]

    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        metrics = after.get("metrics") or {}
        if _CACHED not in metrics:
            return None
        prompt = _PROMPT if _PROMPT in metrics else _PROMPT_OLD
        return prefix_share(before, after, _CACHED, prompt, f"{_CACHED} / {prompt}")


BACKEND = LightLLMBackend()
