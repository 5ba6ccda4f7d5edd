"""Keep CPython's garbage collector out of a measured window, as ``timeit`` does.

A full (generation 2) collection walks every object the process holds: with a
ShareGPT dataset, its prompts and the tokenizer loaded, that took 35 ms, during
which the event loop read no stream and sent no request; now and then one fell
inside a load run and delayed about 1% of first chunks by 35-40 ms (the p99
TTFT moved, the server's own times did not). The young generations cost 8-9 ms
a collection in a 1,000-request burst. Inside :func:`collector_paused` nothing
is collected automatically: reference counting still frees all but cyclic
garbage, of which a load run makes about 9 objects a request (measured: 9,000
for 1,000 requests, collected in 20 ms after the window). The objects alive at
the start are frozen, so that collection after the window does not walk them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused(collect: bool = True) -> Iterator[None]:
    """No automatic garbage collection within the block; what it left behind is collected on leaving.

    ``collect`` first clears what is already garbage (a full collection, so call it before the clock starts; a
    worker process whose start time is fixed collects before it says it is ready, and passes False).
    """
    if collect:
        gc.collect()
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()
        gc.collect(1)  # the window's own cyclic garbage (everything before it was frozen, so still old)
