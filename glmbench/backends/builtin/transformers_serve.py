"""Transformers: ``transformers serve MODEL`` (the ``serving`` extra), one model loaded at start.

The model given on the command line is loaded before the port opens and every
request must name the same string, so the served name is the model path.
``/health`` says ready; ``/v1/models`` only lists the Hugging Face cache and
there is no ``/metrics``. It rejects unknown request fields, ``ignore_eos``
among them: the same effect is asked for as ``min_new_tokens`` in its
``generation_config`` field. Tool calls and reasoning are parsed only when the
tokenizer carries a ``response_template`` (the tiny model has one). Streams end
on ``finish_reason`` with usage, without ``[DONE]``; requests are served one
after another unless continuous batching is on.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from glmbench.backends.base import BaseBackend, flag_pairs
from glmbench.backends.config import BackendConfig
from glmbench.errors import GlmbenchError

__all__ = ["TransformersBackend", "BACKEND"]


class TransformersBackend(BaseBackend):
    """``transformers serve`` with a forced model."""

    name = "transformers"
    package = "transformers"
    install_hint = "pip install 'glmbench[serve]' (transformers[serving] and requests)"
    default_config = "transformers"
    readiness = ("/health",)
    # Its /v1/models fails (HTTP 500) without a Hugging Face cache, and the next
    # request on a fresh connection is then reset: open connections on /health.
    warmup_path = "/health"
    cli: ClassVar[tuple[str, ...]] = ("transformers", "serve")
    startup_s = 20.0

    def check(self, cfg: BackendConfig) -> None:
        if cfg.speculative:
            raise GlmbenchError("transformers serve has no speculative decoding", "remove 'speculative' from the config")
        super().check(cfg)
        if cfg.served_model_name and cfg.served_model_name != cfg.model:
            raise GlmbenchError("transformers serve answers only to the model path it loaded",
                                "set served_model_name: null in the config")

    def program(self, cfg: BackendConfig, python: str) -> list[str]:
        return list(self.cli)

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        opts = cfg.options
        return [cfg.model] + flag_pairs([
            ("--host", cfg.host),
            ("--port", port),
            ("--device", opts.get("device")),
            ("--dtype", opts.get("dtype")),
            ("--continuous-batching", bool(opts.get("continuous_batching"))),
            ("--log-level", opts.get("log_level", "info")),
        ]) + list(cfg.extra_args)

    def adapt_request(self, payload: dict[str, Any]) -> None:
        """``ignore_eos`` is refused (HTTP 422); ``min_new_tokens = max_tokens`` does the same."""
        if payload.pop("ignore_eos", False) and payload.get("max_tokens"):
            payload["generation_config"] = json.dumps({"min_new_tokens": payload["max_tokens"]})


BACKEND = TransformersBackend()
