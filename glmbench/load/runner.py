"""Drive one workload: from this process (:mod:`glmbench.load.sender`) or from client worker processes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from glmbench.datasets.base import Sample
from glmbench.load.client import StreamClient
from glmbench.load.sender import WorkloadRun, send_workload
from glmbench.load.workers import run_in_workers
from glmbench.load.workload import Workload
from glmbench.results.records import RecordWriter, RequestRecord

__all__ = ["WorkloadRun", "run_workload"]


async def run_workload(client: StreamClient, name: str, workload: Workload, samples: Sequence[Sample], seed: int,
                       writer: RecordWriter, on_done: Callable[[RequestRecord], None] | None = None, *,
                       workers: int = 1) -> WorkloadRun:
    """Send ``samples`` on ``workload``'s schedule; records go to ``writer`` as they end.

    With ``workers`` > 1 the requests are sent by that many client processes,
    on one schedule and one clock, into the same records file.
    """
    if workers > 1:
        return await run_in_workers(client, name, workload, samples, seed, writer, on_done, workers)
    return await send_workload(client, name, workload, samples, seed, writer, on_done)
