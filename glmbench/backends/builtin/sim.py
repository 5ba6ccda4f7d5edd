"""The ``sim`` backend: glmbench's simulated server, started as its own process (``python -m glmbench sim``).

The config's ``options`` are the simulator's settings (:class:`~glmbench.sim.config.SimConfig`);
``served_model_name`` is the model it reports. ``configs/sim.yaml`` pins it to
core 1 (``launch.cpus``), so that on a machine with two or more cores it and the
load client do not share one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glmbench import __version__
from glmbench.backends.base import BaseBackend, Scrape, vllm_prefix_hits
from glmbench.backends.config import BackendConfig, apply_overrides
from glmbench.errors import GlmbenchError
from glmbench.metrics.server import spec_acceptance
from glmbench.sim.config import SimConfig, load_sim_config
from glmbench.util.config_file import validate

__all__ = ["SimBackend", "BACKEND", "ANSWER_BOOK_ITL_MS"]

ANSWER_BOOK_ITL_MS = 1.0
"""The ITL of a simulator answering from a book: a BFCL run checks the pipeline, not a speed, so it goes fast
(placeholder replies to entries with no calls run up to max_tokens: 1024 tokens at 20 ms are 20 s each)."""


class SimBackend(BaseBackend):
    """The simulated server; always installed, since it is part of glmbench."""

    name = "sim"
    package = "glmbench"
    install_hint = "reinstall glmbench"
    default_config = "sim"
    readiness = ("/health",)
    module = "glmbench"
    startup_s = 2.0
    uses_gpus = False
    options_model = SimConfig

    def settings(self, cfg: BackendConfig) -> SimConfig:
        """The simulator's settings from the config's ``options``."""
        return validate(SimConfig, {**cfg.options, "model": cfg.served_model_name or cfg.model}, "sim options",
                        "fix the options of the sim config")

    def check(self, cfg: BackendConfig) -> None:
        self.settings(cfg)
        if cfg.speculative:
            raise GlmbenchError("the simulator takes speculative decoding as options.spec_tokens and spec_accept",
                                "move it under options")
        super().check(cfg)

    def args(self, cfg: BackendConfig, port: int) -> list[str]:
        settings = self.settings(cfg).model_dump(mode="json")
        args = ["sim", "--host", cfg.host, "--port", str(port), "--settings", json.dumps(settings, separators=(",", ":"))]
        return args + list(cfg.extra_args)

    def draft_tokens(self, cfg: BackendConfig) -> int | None:
        """The simulator's ``spec_tokens`` (None when 0: it does not speculate)."""
        return self.settings(cfg).spec_tokens or None

    def acceptance(self, before: Scrape, after: Scrape) -> dict[str, float] | None:
        # The simulator exports vLLM's counter names.
        if not before.get("metrics") or not after.get("metrics"):
            return None
        return spec_acceptance(before["metrics"], after["metrics"])

    def prefix_hits(self, before: Scrape, after: Scrape) -> dict[str, Any] | None:
        # vLLM's names too; a sim in another dialect is read through that backend (its stand-in).
        return vllm_prefix_hits(before, after)

    def request_seconds(self, cfg: BackendConfig) -> tuple[float, float]:
        """The simulator's own TTFT and ITL settings (the defaults of ``configs/sim.yaml`` when unset)."""
        return float(cfg.options.get("ttft_ms", 100)) / 1000, float(cfg.options.get("itl_ms", 20)) / 1000

    def answer_book_sets(self, cfg: BackendConfig, book: Path, quick: bool = True) -> list[str]:
        """The book as ``options.answers`` and, when ``quick``, a short ITL (:data:`ANSWER_BOOK_ITL_MS`), unless the
        config has a book of its own; the user's ``--set`` come after these, so theirs win."""
        if cfg.options.get("answers"):
            return []
        return [f"options.answers={json.dumps(str(book))}", *([f"options.itl_ms={ANSWER_BOOK_ITL_MS:g}"] * quick)]

    def with_settings_file(self, cfg: BackendConfig, path: Path, sets: Sequence[str]) -> BackendConfig:
        """``--sim-config FILE``: its settings over the config's options; ``--set`` wins over both."""
        settings = load_sim_config(path, {}).model_dump(mode="json", exclude={"model"})
        data = cfg.model_dump(mode="json")
        data["options"] = {**cfg.options, **settings}
        return validate(BackendConfig, apply_overrides(data, list(sets)), "backend config")

    version = f"glmbench-sim {__version__}"


BACKEND = SimBackend()
