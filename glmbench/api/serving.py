"""A ready server as a context manager: started from a prepared launch and stopped on the way out, or probed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from glmbench.api.launch import PreparedLaunch
from glmbench.api.progress import Progress
from glmbench.backends.base import Server
from glmbench.backends.launch import keep_client_off, restore_client, start_server
from glmbench.load.client import Target, probe_target, served_model
from glmbench.util.loop import run_async

__all__ = ["serve", "open_endpoint"]


def open_endpoint(prepared: PreparedLaunch, api_key: str | None = None) -> Server:
    """The server at a prepared endpoint, probed (a user error if no OpenAI API answers), model named."""
    assert prepared.endpoint is not None, "open_endpoint needs a launch with an endpoint"
    base, launch, cfg = prepared.endpoint, prepared.launch, prepared.cfg
    name = launch.model or (cfg.served_model_name if cfg else None) or run_async(served_model(Target(base, "", api_key)))
    run_async(probe_target(Target(base, name, api_key)))
    return Server(prepared.label, base, name, backend=prepared.backend)


@contextmanager
def serve(prepared: PreparedLaunch, log: Path | None = None, api_key: str | None = None,
          progress: Progress | None = None) -> Iterator[Server]:
    """Yield a ready server for ``prepared``; one glmbench started is stopped when the block ends, however it ends.

    A server someone else runs is probed instead. A started server logs to
    ``log`` (required then) and is pinned to its configured cores, with this
    process kept off them.
    """
    progress = progress or Progress()
    if prepared.endpoint:
        yield open_endpoint(prepared, api_key)
        return
    cfg, backend = prepared.cfg, prepared.backend
    assert cfg is not None and backend is not None and log is not None, "a started server needs its config and a log"
    progress.server_starting(cfg.backend, log)
    server = start_server(backend, cfg, log, prepared.installed, prepared.plan)
    cores = None
    try:
        cores = keep_client_off(cfg.launch.cpus)
        yield server
    finally:
        if not server.stop():
            progress.warning(f"port {server.port} still answers after the server was stopped")
        restore_client(cores)
