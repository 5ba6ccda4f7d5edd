"""Which server a user asks for (:class:`Launch`), and the backend config it resolves to (:func:`resolve_config`).

Below the library layer so that features (an experiment's cells) can name a server
without importing :mod:`glmbench.api`; :mod:`glmbench.api.launch` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel

from glmbench.backends.config import BackendConfig, load_backend_config
from glmbench.backends.registry import backends, get_backend
from glmbench.errors import GlmbenchError

__all__ = ["Launch", "resolve_config", "options_model", "check_endpoint"]


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
    set_origins: dict[str, str] = field(default_factory=dict)
    """Where each override key was given when not by ``--set`` (an experiment file's ``servers.0.set``): errors
    name it there."""


def options_model(backend: str) -> type[BaseModel] | None:
    """The model of ``backend``'s config options (the simulator's settings), or None: free-form or unknown."""
    known = backends()
    return known[backend].options_model if backend in known else None


def check_endpoint(url: str, option: str = "--endpoint") -> str:
    """``url`` when it is an http:// or https:// URL with a host; else a user error naming ``option`` and the URL.

    Without this, ``127.0.0.1:8000/v1`` reaches the HTTP client as a URL of scheme ``127.0.0.1`` and fails as if
    something else answered there.
    """
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    fixed = f"http://{url.rstrip('/')}" if "://" not in url else "http://HOST:PORT/v1"
    if not urlsplit(fixed).path.endswith("/v1"):  # the API root: a bare host and port would fail next at /models
        fixed += "/v1"
    raise GlmbenchError(f"{option} {url}: the URL needs http:// (or https://) and a host",
                        f"write {option} {fixed}")


def resolve_config(launch: Launch) -> BackendConfig:
    """The backend config of a launch: ``--config``, else the backend's default, with ``--set`` and ``--model``."""
    if launch.config:
        cfg = load_backend_config(launch.config, launch.sets, launch.model, options_model, launch.set_origins)
        if launch.backend and launch.backend != cfg.backend:
            raise GlmbenchError(f"--backend {launch.backend} but {launch.config} is a {cfg.backend} config",
                                "drop --backend, or pass a config of that backend")
    else:
        backend = get_backend(launch.backend or "sim")
        cfg = load_backend_config(backend.default_config, launch.sets, launch.model, options_model,
                                  launch.set_origins)
    if launch.sim_settings:
        cfg = get_backend(cfg.backend).with_settings_file(cfg, launch.sim_settings, launch.sets)
    return cfg
