"""The manifest of a run, built in one place for load and BFCL runs alike."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any, Literal

from glmbench import __version__
from glmbench.api.launch import PreparedLaunch, redacted_config
from glmbench.backends.base import Server
from glmbench.results.schema import BackendInfo, Manifest
from glmbench.results.store import RunStore, clock_pair, git_sha, host_facts, now_iso

__all__ = ["build_manifest", "gpus"]


def gpus() -> list[str]:
    """``name, memory`` of each NVIDIA GPU on this host (empty without nvidia-smi)."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def build_manifest(store: RunStore, prepared: PreparedLaunch, server: Server, *,
                   kind: Literal["load", "bfcl", "equivalence"],
                   suite: str, workloads: list[str], dataset: dict[str, Any], seed: int, repeat: int | None = None,
                   repeats: int = 1, label: str | None = None) -> Manifest:
    """Who, what, where and when: glmbench, the server and its exact command, the host, the data; status running."""
    cfg = prepared.cfg
    # placement has a default (Field(None, ...) in results/schema.py) that mypy sees only with the pydantic plugin
    return Manifest(
        run_id=store.run_id, kind=kind, glmbench_version=__version__, git_sha=git_sha(),
        backend=BackendInfo(name=server.name, version=server.version, command=server.command, env=server.env,
                            url=server.base_url, model=server.model, config=redacted_config(cfg) if cfg else None),
        host=host_facts(), gpu=gpus(), suite=suite, workloads=workloads, dataset=dataset, seed=seed,
        started_at=now_iso(), clock=clock_pair(), repeat=repeat, repeats=repeats, label=label,
    )


def finish_manifest(store: RunStore, manifest: Manifest | None, status: str, progress: Any) -> None:
    """The manifest's final status, if it can still be written (a full disk may say no: a warning, then)."""
    from glmbench.errors import GlmbenchError

    if manifest is None:
        return
    try:
        store.write_manifest(manifest.model_copy(update={"status": status, "finished_at": now_iso()}))
    except GlmbenchError as exc:
        progress.warning(exc.message)
