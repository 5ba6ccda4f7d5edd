"""Which server a user asks for (:class:`Launch`), and the backend config it resolves to (:func:`resolve_config`).

Below the library layer so that features (an experiment's cells) can name a server
without importing :mod:`glmbench.api`; :mod:`glmbench.api.launch` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from glmbench.backends.config import BackendConfig, load_backend_config
from glmbench.backends.registry import get_backend
from glmbench.errors import GlmbenchError

__all__ = ["Launch", "resolve_config"]


@dataclass
class Launch:
    """What a user asks for: a backend (its default config), a config with overrides, or an endpoint.

    ``sim_settings`` is a settings file of the backend's own over the config's options
    (``--sim-config``); the backend reads it (:meth:`~glmbench.backends.base.Backend.with_settings_file`).
    """

    backend: str | None = None
    config: str | None = None
    sets: list[str] = field(default_factory=list)
    endpoint: str | None = None
    model: str | None = None
    sim_settings: Path | None = None


def resolve_config(launch: Launch) -> BackendConfig:
    """The backend config of a launch: ``--config``, else the backend's default, with ``--set`` and ``--model``."""
    if launch.config:
        cfg = load_backend_config(launch.config, launch.sets, launch.model)
        if launch.backend and launch.backend != cfg.backend:
            raise GlmbenchError(f"--backend {launch.backend} but {launch.config} is a {cfg.backend} config",
                                "drop --backend, or pass a config of that backend")
    else:
        backend = get_backend(launch.backend or "sim")
        cfg = load_backend_config(backend.default_config, launch.sets, launch.model)
    if launch.sim_settings:
        cfg = get_backend(cfg.backend).with_settings_file(cfg, launch.sim_settings, launch.sets)
    return cfg
