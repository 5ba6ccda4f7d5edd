"""Turn a backend config into a running server, and find out whether a backend is installed.

The command is built by the backend; this module adds where it runs (PATH, a
venv, a given Python, or a container), picks or checks the port, checks a local
model folder exists, starts the process in its own group with its log in the
run folder, waits on the backend's readiness endpoints in order, and on any
failure stops the group and reports the exact command, the environment it added
and the log tail.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from glmbench.backends.base import Backend, Server
from glmbench.backends.config import BackendConfig
from glmbench.backends.process import ServerProcess, free_port, port_is_free
from glmbench.errors import GlmbenchError

__all__ = ["LaunchPlan", "Installation", "plan_launch", "find_installation", "start_server", "redact_env",
           "keep_client_off", "restore_client", "check_launchable", "not_installed", "backend_python"]

_SECRET = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """The environment as it may be written down: values of secret-looking names hidden."""
    return {k: ("***" if _SECRET.search(k) else v) for k, v in env.items()}


@dataclass
class LaunchPlan:
    """The exact command, the environment it adds, and where the server will answer."""

    command: list[str]
    env: dict[str, str]
    port: int
    base_url: str
    cleanup: list[str] | None = None

    def describe(self) -> str:
        """The command as a shell line, with the environment it adds (secrets hidden)."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in redact_env(self.env).items())
        return f"{prefix} {shlex.join(self.command)}".strip()


def _python(cfg: BackendConfig) -> str:
    if cfg.launch.venv:
        return str(Path(cfg.launch.venv).expanduser() / "bin" / "python")
    return cfg.launch.python or sys.executable


def backend_python(cfg: BackendConfig) -> str:
    """The interpreter a local launch of ``cfg`` runs: ``launch.venv``'s, else ``launch.python``, else glmbench's."""
    return _python(cfg)


def _is_local_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def plan_launch(backend: Backend, cfg: BackendConfig) -> LaunchPlan:
    """The command for ``cfg``, checked: port free, local model folder present, config values valid."""
    if cfg.launch.kind == "external":
        raise GlmbenchError("an external config starts nothing", "use glmbench run --endpoint URL, or bench")
    backend.check(cfg)
    if cfg.nodes > 1 and cfg.node is None:
        raise GlmbenchError(f"this config spans {cfg.nodes} nodes, one rank on each: a cluster places the ranks",
                            "run it in an experiment with glmbench experiment run FILE --on ray, or set nodes=1")
    if cfg.port and not port_is_free(cfg.port, "127.0.0.1"):
        raise GlmbenchError(f"port {cfg.port} is taken on 127.0.0.1",
                            "stop what listens there, or --set port=0 to pick a free port")
    if _is_local_path(cfg.model) and not Path(cfg.model).expanduser().exists():
        hint = "build it with glmbench tiny-model " + cfg.model if "tiny" in cfg.model else "check --model or the config's model"
        raise GlmbenchError(f"model folder not found: {cfg.model}", hint)
    port = cfg.port or free_port()
    program = backend.program(cfg, _python(cfg))
    if cfg.launch.entry == "cli" and cfg.launch.venv and program and not program[0].startswith("/"):
        program[0] = str(Path(cfg.launch.venv).expanduser() / "bin" / program[0])
    args = backend.args(cfg, port)
    base_url = f"http://127.0.0.1:{port}/v1"
    if cfg.launch.kind == "container":
        return _container_plan(cfg, program, args, port, base_url)
    return LaunchPlan(command=program + args, env=dict(cfg.env), port=port, base_url=base_url)


def _container_plan(cfg: BackendConfig, program: list[str], args: list[str], port: int, base_url: str) -> LaunchPlan:
    if not cfg.launch.image:
        raise GlmbenchError("a container launch needs launch.image",
                            "set launch.image, e.g. --set launch.image=lmsysorg/sglang:latest")
    runtime = cfg.launch.runtime
    name = f"glmbench-{cfg.backend}-{port}"
    # Inside the image the interpreter is the image's own.
    if program and program[0] == _python(cfg):
        program = ["python3", *program[1:]]
    command = [runtime, "run", "--rm", "--name", name, "--network", "host", "--ipc", "host"]
    command += ["--gpus", "all"] if runtime == "docker" else ["--device", "nvidia.com/gpu=all"]
    if _is_local_path(cfg.model):
        model = str(Path(cfg.model).expanduser().resolve())
        command += ["-v", f"{model}:{model}:ro"]
    for key, value in cfg.env.items():
        command += ["-e", f"{key}={value}"]
    command += [*cfg.launch.container_args, cfg.launch.image, *program, *args]
    # The container gets the variables through -e; the runtime itself needs none.
    return LaunchPlan(command=command, env={}, port=port, base_url=base_url, cleanup=[runtime, "rm", "-f", name])


# The cores this process may use as it started: a configured core is there or not whatever pinning
# the load client has had since (kept off one server's cores, it must not lose them for the next).
_CORES_AT_START = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()


def _usable_cpus(cpus: list[int] | None) -> list[int] | None:
    """The configured cores that this machine has; None (no pinning) when none of them is there."""
    if not cpus or not hasattr(os, "sched_getaffinity"):
        return None
    usable = [c for c in cpus if c in _CORES_AT_START]
    return usable or None


def keep_client_off(cpus: list[int] | None) -> set[int] | None:
    """Pin this process (the load client) to the cores the server was not pinned to, if any are left.

    Returns the cores it had before, for :func:`restore_client` once that server stops (None: unchanged).
    """
    usable = _usable_cpus(cpus)
    if not usable:
        return None
    before = set(os.sched_getaffinity(0))
    rest = before - set(usable)
    if not rest or rest == before:
        return None
    os.sched_setaffinity(0, rest)
    return before


def restore_client(before: set[int] | None) -> None:
    """Give this process back the cores :func:`keep_client_off` took from it."""
    if before:
        os.sched_setaffinity(0, before)


@dataclass
class Installation:
    """Whether a backend can be launched with a config, its version, and what is wrong if not."""

    found: bool
    version: str | None
    where: str
    problem: str | None = None
    # The next step when the problem is the config's own interpreter, not a missing backend.
    hint: str | None = None


_VERSION_SCRIPT = """
import importlib.metadata as md, importlib.util as u, json, sys
name = sys.argv[1]
spec = u.find_spec(name)
version = None
for dist in (name, name + "-cpu", name.replace("_", "-")):
    try:
        version = md.version(dist); break
    except md.PackageNotFoundError:
        pass
if spec is not None and version is None:
    try:
        version = getattr(__import__(name), "__version__", None)
    except Exception:
        pass
print(json.dumps({"found": spec is not None, "version": version}))
"""


_PYTHON_HINT = ("point launch.python at a Python interpreter (or launch.venv at a virtual environment) "
                "in the config, e.g. --set launch.python=/usr/bin/python3")


def _chosen_python_hint(cfg: BackendConfig, package: str, python: str) -> str | None:
    """The next step when the config names its interpreter and that one lacks the package; None: the default one."""
    if cfg.launch.venv:
        return f"install {package} into {python}, or point launch.venv at the virtual environment that has it"
    if cfg.launch.python:
        return f"install {package} into {python}, or point launch.python at the interpreter that has it"
    return None  # glmbench's own interpreter: the backend's install hint says what to do


def find_installation(backend: Backend, cfg: BackendConfig, timeout_s: float = 60.0) -> Installation:
    """Look for the backend where ``cfg`` would launch it, without starting it."""
    kind = cfg.launch.kind
    if kind == "external":
        return Installation(True, None, cfg.launch.endpoint or "(no endpoint)")
    if kind == "container":
        runtime = shutil.which(cfg.launch.runtime)
        return Installation(bool(runtime), cfg.launch.image, f"{cfg.launch.runtime} image {cfg.launch.image}",
                            None if runtime else f"{cfg.launch.runtime} not found")
    python = _python(cfg)
    program = backend.program(cfg, python)
    if program[0] != python:  # the backend's own executable
        exe = str(Path(cfg.launch.venv).expanduser() / "bin" / program[0]) if cfg.launch.venv else program[0]
        if not shutil.which(exe):
            return Installation(False, None, exe, f"{program[0]} not found")
    if not (shutil.which(python) or Path(python).is_file()):
        return Installation(False, None, python, f"python not found: {python}", _PYTHON_HINT)
    try:
        out = subprocess.run([python, "-c", _VERSION_SCRIPT, backend.package], capture_output=True, text=True,
                             timeout=timeout_s, env={**os.environ, **cfg.env})
        info = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return Installation(False, None, python, f"cannot run {python}", _PYTHON_HINT)
    if not info["found"]:
        return Installation(False, None, python, f"module {backend.package} not importable by {python}",
                            _chosen_python_hint(cfg, backend.package, python))
    return Installation(True, info["version"], python)


def not_installed(backend: Backend, installed: Installation) -> GlmbenchError:
    """The error for a backend not found where its config would launch it: what is missing, and where to get it."""
    if installed.hint:
        return GlmbenchError(f"cannot launch {backend.name}: {installed.problem}", installed.hint)
    return GlmbenchError(f"{backend.name} is not installed: {installed.problem}", backend.install_hint)


def check_launchable(backend: Backend, cfg: BackendConfig) -> tuple[LaunchPlan, Installation]:
    """Everything that can be known before starting: the config, the port, the model folder, the installation."""
    plan = plan_launch(backend, cfg)
    installed = find_installation(backend, cfg)
    if not installed.found:
        raise not_installed(backend, installed)
    return plan, installed


def start_server(backend: Backend, cfg: BackendConfig, log_path: Path, installed: Installation | None = None,
                 plan: LaunchPlan | None = None) -> Server:
    """Start the server of ``cfg`` and return once every readiness endpoint answers 200.

    ``plan`` and ``installed`` come from :func:`check_launchable`, so that a
    launch is checked once; without them it is checked here.
    """
    if plan is None or installed is None:
        plan, installed = check_launchable(backend, cfg)
    elif not cfg.port and not port_is_free(plan.port):
        plan = plan_launch(backend, cfg)  # the free port picked when it was checked has been taken since
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        log.write(f"# glmbench: {plan.describe()}\n")
    cpus = _usable_cpus(cfg.launch.cpus)
    process = ServerProcess(plan.command, log_path, plan.env, cleanup=plan.cleanup, cpus=cpus)
    root = plan.base_url[: -len("/v1")]
    deadline = time.monotonic() + cfg.startup_timeout_s
    # A rank other than 0 of a server over several nodes answers no HTTP: rank 0's readiness covers it.
    readiness = backend.readiness if backend.serves_http(cfg) else ()
    try:
        for path in readiness:
            process.wait_ready(f"{root}{path}", max(1.0, deadline - time.monotonic()), env_line=plan.describe(),
                               limit_s=cfg.startup_timeout_s)
    except BaseException:
        process.stop()
        raise
    return Server(name=backend.name, base_url=plan.base_url, model=cfg.served_model_name or cfg.model,
                  version=installed.version, process=process, env=redact_env(plan.env), backend=backend)
