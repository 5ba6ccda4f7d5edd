"""Run the simulated server: in the foreground (``glmbench sim``) or inside a test's event loop."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from aiohttp import web

from glmbench.sim.config import SimConfig
from glmbench.sim.server import make_app

__all__ = ["serve_forever", "start_in_loop"]


async def start_in_loop(config: SimConfig, host: str = "127.0.0.1", port: int = 0,
                        truth_log: Path | None = None) -> tuple[web.AppRunner, int]:
    """Start the simulator in the running loop; returns the runner (``await runner.cleanup()``) and the port."""
    runner = web.AppRunner(make_app(config, truth_log), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
    await site.start()
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    return runner, sock.getsockname()[1]


def serve_forever(config: SimConfig, host: str, port: int, truth_log: Path | None = None,
                  cpu: int | None = None, on_ready=None) -> None:
    """Serve until SIGINT or SIGTERM; ``cpu`` pins the process to one core."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})

    async def main() -> None:
        runner, bound = await start_in_loop(config, host, port, truth_log)
        if on_ready is not None:
            on_ready(bound)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    from glmbench.util.loop import run_async

    run_async(main())
