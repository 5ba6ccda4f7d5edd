"""What a dialect is: the parts of a serving backend's HTTP face that differ from one backend to the next."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from aiohttp import web

from glmbench.sim.config import SimConfig
from glmbench.sim.engine import Finished, SimState

__all__ = ["Dialect"]


class Dialect:
    """One backend's face: health and readiness, ``/metrics`` names, stream shape, extra routes.

    The shared server (chat and text completions, ``/v1/models``, the
    schedule) asks its dialect for these and never tests a backend's name. A
    dialect is also the :class:`~glmbench.sim.generation.StreamStyle` of its
    OpenAI streams. The defaults here are the plain OpenAI conventions.
    """

    name: ClassVar[str]
    owned_by: ClassVar[str] = "glmbench-sim"
    max_model_len: ClassVar[int] = 131072
    role_chunk: bool = False
    per_token_events: bool = False
    binds_after_load: ClassVar[bool] = False  # the port refuses connections until the model is loaded
    reasoning_field: str = "reasoning"

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.args: dict[str, Any] = dict(config.server_args)
        self.created = int(time.time())

    def usage_policy(self, stream_options: dict[str, Any]) -> tuple[bool, bool]:
        """(final usage chunk, usage on every chunk): both on request, the second only with the first."""
        include = bool(stream_options.get("include_usage"))
        return include, include and bool(stream_options.get("continuous_usage_stats"))

    def usage(self, prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def model_card(self) -> dict[str, Any]:
        """The one entry of ``/v1/models``."""
        return {"id": self.config.model, "object": "model", "owned_by": self.owned_by,
                "max_model_len": self.max_model_len}

    def on_finish(self, done: Finished) -> None:
        """Count a finished request in figures the dialect keeps itself."""

    def metrics_text(self, state: SimState) -> str:
        """The ``/metrics`` page."""
        raise NotImplementedError

    def add_routes(self, app: web.Application, state: SimState) -> None:
        """Health checks and the backend's own endpoints."""
        raise NotImplementedError
