"""Which server a command talks to: start one from a backend config, or use an endpoint that runs.

Shared by ``run``, ``bench`` and ``bfcl``: everything that can fail before a
server starts (config, port, model folder, installation) fails before any
result folder is made; the caller stops the returned server in ``finally``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from glmbench.errors import GlmbenchError

__all__ = ["Launch", "Prepared", "resolve_config", "prepare_launch", "open_server"]


@dataclass
class Launch:
    """Which server a run loads: a backend config to start, or an endpoint that already runs."""

    backend: Optional[str] = None
    config: Optional[str] = None
    sets: list[str] = field(default_factory=list)
    endpoint: Optional[str] = None
    model: Optional[str] = None
    sim_settings: Optional[Path] = None


def resolve_config(launch: Launch):
    """The backend config of a launch: ``--config``, else the backend's default config, with ``--set`` and ``--model``."""
    from glmbench.backends.config import load_backend_config
    from glmbench.backends.registry import get_backend

    if launch.config:
        cfg = load_backend_config(launch.config, launch.sets, launch.model)
        if launch.backend and launch.backend != cfg.backend:
            raise GlmbenchError(f"--backend {launch.backend} but {launch.config} is a {cfg.backend} config",
                                "drop --backend, or pass a config of that backend")
    else:
        backend = get_backend(launch.backend or "sim")
        cfg = load_backend_config(backend.default_config, launch.sets, launch.model)
    if launch.sim_settings:
        from glmbench.sim.config import load_sim_config

        from glmbench.backends.config import BackendConfig, apply_overrides

        settings = load_sim_config(launch.sim_settings, {}).model_dump(mode="json", exclude={"model"})
        data = cfg.model_dump(mode="json")
        data["options"] = {**cfg.options, **settings}
        # --set is the most specific: it wins over the settings file too.
        cfg = BackendConfig.model_validate(apply_overrides(data, list(launch.sets)))
    get_backend(cfg.backend).check(cfg)
    return cfg


@dataclass
class Prepared:
    """A launch checked and resolved: its config (None for a bare endpoint), backend, endpoint and label."""

    cfg: Any
    backend: Any
    endpoint: Optional[str]
    label: str
    installed: Any = None


def prepare_launch(launch: Launch) -> Prepared:
    """Resolve and check a launch without starting anything."""
    from glmbench.backends.launch import check_launchable
    from glmbench.backends.registry import get_backend

    cfg = None if launch.endpoint else resolve_config(launch)
    endpoint = launch.endpoint or (cfg.launch.endpoint if cfg and cfg.launch.kind == "external" else None)
    if cfg and cfg.launch.kind == "external" and not endpoint:
        raise GlmbenchError(f"the {cfg.backend} config is external but names no endpoint",
                            "--set launch.endpoint=http://HOST:PORT/v1, or pass --endpoint")
    backend = get_backend(cfg.backend if cfg else launch.backend) if (cfg or launch.backend) else None
    label = cfg.backend if cfg else (launch.backend or "external")
    # A taken port, a missing model folder or an absent backend fail here, before any result folder exists.
    installed = check_launchable(backend, cfg) if cfg and not endpoint else None
    return Prepared(cfg, backend, endpoint, label, installed)


def open_server(prepared: Prepared, launch: Launch, api_key: Optional[str], store, err):
    """The server to talk to: probed at its endpoint, or started (log in the run folder) and ready."""
    from glmbench.backends.base import Server
    from glmbench.backends.launch import keep_client_off, start_server
    from glmbench.load.client import Target, probe_target, served_model
    from glmbench.util.loop import run_async

    cfg, backend = prepared.cfg, prepared.backend
    if prepared.endpoint:
        base = prepared.endpoint.rstrip("/")
        name = launch.model or (cfg.served_model_name if cfg else None) or run_async(served_model(Target(base, "", api_key)))
        run_async(probe_target(Target(base, name, api_key)))
        return Server(prepared.label, base, name, backend=backend)
    err.print(f"starting {cfg.backend} (log: {store.server_log}) ...")
    server = start_server(backend, cfg, store.server_log, prepared.installed)
    keep_client_off(cfg.launch.cpus)
    return server


def redacted_config(cfg) -> dict[str, Any]:
    """A backend config as it may be written into results: secret-looking env values hidden."""
    from glmbench.backends.launch import redact_env

    data = cfg.model_dump(mode="json")
    data["env"] = redact_env(cfg.env)
    return data
