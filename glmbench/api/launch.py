"""Which server a run talks to: a backend config to start, or an endpoint that already runs.

:func:`prepare` resolves and checks a launch once, before anything starts or any
result folder exists: the config with its overrides, the backend's own checks,
the port, a local model folder and the installation. What it returns is what
:func:`glmbench.api.serve` starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from glmbench.backends.base import Backend
from glmbench.backends.choice import Launch, check_endpoint, options_model, resolve_config
from glmbench.backends.config import BackendConfig, config_names, load_backend_config
from glmbench.backends.launch import (
    Installation,
    LaunchPlan,
    check_launchable,
    find_installation,
    plan_launch,
    redact_env,
)
from glmbench.backends.registry import backends, get_backend
from glmbench.errors import GlmbenchError

__all__ = ["Launch", "PreparedLaunch", "BackendDescription", "resolve_config", "prepare", "redacted_config",
           "describe_backends"]


@dataclass
class PreparedLaunch:
    """A launch resolved and checked: its config (None for a bare endpoint), backend, endpoint and label.

    ``plan`` is the exact command (with its port) and ``installed`` what was
    found, for a server glmbench starts; both are None for an endpoint.
    """

    launch: Launch
    cfg: BackendConfig | None
    backend: Backend | None
    endpoint: str | None
    label: str
    plan: LaunchPlan | None = None
    installed: Installation | None = None

    @property
    def source_label(self) -> str:
        """The backend and its speculative method, for tables (``vllm+mtp``)."""
        return self.cfg.source_label if self.cfg else self.label


def prepare(launch: Launch) -> PreparedLaunch:
    """Resolve and check ``launch`` without starting anything (a user error names what to fix)."""
    if launch.endpoint:
        check_endpoint(launch.endpoint)
        _nothing_to_configure(launch)
        backend = get_backend(launch.backend) if launch.backend else None
        return PreparedLaunch(launch, None, backend, launch.endpoint.rstrip("/"), launch.backend or "external")
    cfg = resolve_config(launch)
    backend = get_backend(cfg.backend)
    if cfg.launch.kind == "external":
        if not cfg.launch.endpoint:
            raise GlmbenchError(f"the {cfg.backend} config is external but names no endpoint",
                                "--set launch.endpoint=http://HOST:PORT/v1, or pass --endpoint")
        check_endpoint(cfg.launch.endpoint, "launch.endpoint")
        backend.check(cfg)
        return PreparedLaunch(launch, cfg, backend, cfg.launch.endpoint.rstrip("/"), cfg.backend)
    # The backend's checks, a taken port, a missing model folder or an absent backend fail here, once.
    plan, installed = check_launchable(backend, cfg)
    return PreparedLaunch(launch, cfg, backend, None, cfg.backend, plan, installed)


def _nothing_to_configure(launch: Launch) -> None:
    """With ``--endpoint`` nothing is started, so options that configure a started server would be ignored: refused."""
    given = [*(f"--set {s}" for s in launch.sets), *([f"--config {launch.config}"] if launch.config else []),
             *([f"--sim-config {launch.sim_settings}"] if launch.sim_settings else [])]
    if given:
        raise GlmbenchError(f"{given[0]} configures a server glmbench launches; with --endpoint {launch.endpoint} "
                            "nothing is launched, so it would be ignored",
                            "drop --endpoint to start the server with it, or drop "
                            + ", ".join(g.split()[0] for g in dict.fromkeys(given)) + " to use the running one")


def redacted_config(cfg: BackendConfig) -> dict[str, Any]:
    """A backend config as it may be written into results: secret-looking env values hidden."""
    data = cfg.model_dump(mode="json")
    data["env"] = redact_env(cfg.env)
    return data


@dataclass(frozen=True)
class BackendDescription:
    """One backend config as ``glmbench backends`` lists it: where it would launch, what was found, the command.

    ``where``: where it was looked for (the interpreter or executable, or the
    container image). ``hint``: the next step when the backend is not found
    (the installation's own, else the backend's install hint). ``command``: the
    exact launch line, or None with ``command_problem`` saying why the config
    cannot launch and ``command_hint`` what to do about it.
    """

    backend: str
    config: str
    found: bool
    version: str | None
    problem: str | None = None
    hint: str | None = None
    command: str | None = None
    command_problem: str | None = None
    where: str | None = None
    command_hint: str | None = None


def describe_backends(configs: Sequence[str] = (), sets: Sequence[str] = ()) -> list[BackendDescription]:
    """Every config shipped in ``configs/`` (each backend's default first, then the rest by backend), then
    ``configs`` (names or paths), each with ``sets`` applied: installed?

    Starts nothing. A config with no port is described on port 8000. A config
    that does not load is a user error; one that loads but cannot launch says
    why in ``command_problem``.
    """
    def load(name: str) -> tuple[BackendConfig, str]:
        return load_backend_config(name, list(sets), options_model=options_model), name

    order = list(backends())
    defaults = {b.default_config for b in backends().values()}
    shipped = sorted(map(load, config_names()), key=lambda found: (
        order.index(found[0].backend) if found[0].backend in order else len(order), found[1] not in defaults,
        found[1]))
    rows = []
    for cfg, name in [*shipped, *map(load, configs)]:
        backend = get_backend(cfg.backend)
        installed = find_installation(backend, cfg)
        command = problem = fix = None
        try:
            command = plan_launch(backend, cfg.model_copy(update={"port": cfg.port or 8000})).describe()
        except GlmbenchError as exc:
            problem, fix = exc.message, exc.hint
        rows.append(BackendDescription(
            backend=backend.name, config=name, found=installed.found, version=installed.version,
            problem=None if installed.found else installed.problem,
            hint=None if installed.found else installed.hint or backend.install_hint,
            command=command, command_problem=problem, where=installed.where, command_hint=fix))
    return rows
