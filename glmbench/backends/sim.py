"""The ``sim`` backend: the simulated server, started as its own process on its own core."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from glmbench import __version__
from glmbench.backends.base import Server
from glmbench.backends.process import ServerProcess, free_port
from glmbench.sim.config import SimConfig

__all__ = ["SimBackend"]


class SimBackend:
    """Runs ``python -m glmbench sim`` with a :class:`SimConfig`; pinned to the last core when there are two or more."""

    name = "sim"

    def __init__(self, config: SimConfig, startup_timeout_s: float = 30.0) -> None:
        self.config = config
        self.startup_timeout_s = startup_timeout_s

    def start(self, log_path: Path, model: str | None) -> Server:
        config = self.config.model_copy(update={"model": model}) if model else self.config
        config_path = log_path.parent / "sim.yaml"
        config_path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        port = free_port()
        command = [sys.executable, "-m", "glmbench", "sim", "--host", "127.0.0.1", "--port", str(port),
                   "--config", str(config_path)]
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cores) >= 2:
            command += ["--cpu", str(cores[-1])]
        process = ServerProcess(command, log_path)
        try:
            process.wait_ready(f"http://127.0.0.1:{port}/health", self.startup_timeout_s)
        except BaseException:
            process.stop()
            raise
        return Server(self.name, f"http://127.0.0.1:{port}/v1", config.model, f"glmbench-sim {__version__}", process)
