"""Run a coroutine on the fastest event loop available (uvloop when installed)."""

from __future__ import annotations

import asyncio
import resource
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_async", "raise_fd_limit"]

T = TypeVar("T")


def raise_fd_limit() -> None:
    """Lift the open-file limit to its hard maximum: 2000 streams need 2000 sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop if it is installed; SIGTERM is taken as Ctrl-C.

    asyncio turns Ctrl-C into a cancellation of the main task, so that every
    ``except CancelledError``/``finally`` on the way out runs (summaries written,
    servers stopped), then raises KeyboardInterrupt. SIGTERM gets the same
    treatment here, whether or not SIGINT is ignored (as in background jobs).
    """
    raise_fd_limit()
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    terminated: list[bool] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        previous = signal.getsignal(signal.SIGTERM)

        def on_term() -> None:
            terminated.append(True)
            task.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_term)
        except (RuntimeError, ValueError, NotImplementedError):  # not the main thread, or no signals here
            return await coro
        try:
            return await coro
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            return runner.run(main())
        except asyncio.CancelledError:
            if terminated:
                raise KeyboardInterrupt from None
            raise
