"""A backend for a made-up server, ``python -m myserver.serve``: the whole of a new backend.

Copy this file into ``glmbench/backends/builtin/`` (its module name is free) and
``myserver.yaml`` into ``configs/``; the registry finds every module there that
defines ``BACKEND``, so ``glmbench backends``, ``run --backend myserver`` and
experiments know it with no other edit.
"""

from __future__ import annotations

from typing import ClassVar

from glmbench.backends.base import BaseBackend, flag_pairs
from glmbench.backends.config import BackendConfig

__all__ = ["BACKEND", "MyServerBackend"]


class MyServerBackend(BaseBackend):
    """``python -m myserver.serve``: an OpenAI-compatible server with a ``/health`` endpoint."""

    name = "myserver"
    package = "myserver"  # the Python package glmbench looks for, and whose version it reads
    install_hint = "pip install myserver"
    default_config = "myserver"  # configs/myserver.yaml
    readiness = ("/health", "/v1/models")  # asked in order until each answers 200
    module: ClassVar[str | None] = "myserver.serve"

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        """Every argument after ``python -m myserver.serve``, from the config."""
        return flag_pairs([
            ("--model", cfg.model),
            ("--served-model-name", cfg.served_model_name),
            ("--host", cfg.host),
            ("--port", port),
            ("--tensor-parallel-size", cfg.tp),
            ("--tool-call-parser", cfg.tool_call_parser),
            ("--reasoning-parser", cfg.reasoning_parser),
        ]) + list(cfg.extra_args)


BACKEND = MyServerBackend()
