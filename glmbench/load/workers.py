"""One workload from several client processes, when one event loop cannot keep up.

One core's event loop reads about 90,000 reads/s (175,000 token events/s when a
read holds several) within the accuracy targets (benchmarks/README.md). Past what one process should carry, ``--client-workers
N`` splits the load over N processes, each with its own event loop and
connections; without the flag, :func:`auto_workers` picks N from the expected
chunk rate and the free cores:

- The parent serialises every request body and draws the arrival schedule's
  seed once; each worker gets the same bodies, seed and workload.
- Workers take request indices from one shared counter, so an open-loop
  arrival goes to whichever worker is free when it is due, and a closed loop
  keeps its global cap (split into per-worker shares) busy until the last
  request has been handed out.
- Every timestamp is ``perf_counter_ns()``: CLOCK_MONOTONIC, one clock for
  every process of the machine. The parent picks the start ``t0`` once all
  workers are connected and ready, so the workers' records share one time
  axis and merge without any conversion.
- Records come back to the parent over a pipe as each request ends and are
  written to the run's one records file there, so a crash keeps what ended.
- Each worker runs its own loop monitor; the run's self-check takes every
  worker's loop delays and the busiest worker's CPU.

Workers are pinned one per core when the client has a core for each (the
cores left after ``launch.cpus`` kept the client off the server's), and ignore
Ctrl-C: the parent stops them with SIGTERM, and a stopped worker sends the
records of the requests it cut short, marked interrupted, before it exits.
"""

from __future__ import annotations

import asyncio
import gc
import math
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import orjson

from glmbench.datasets.base import Sample
from glmbench.errors import GlmbenchError
from glmbench.load.client import StreamClient, Target
from glmbench.load.sender import WorkloadRun, connections_needed, offered_rate, send_workload
from glmbench.load.workload import RequestSpec, Workload
from glmbench.results.records import RecordWriter, RequestRecord

__all__ = ["run_in_workers", "worker_cores"]

# Message kinds on a worker's pipe to the parent.
_READY, _RECORD, _DONE, _FAILED = b"R", b"C", b"D", b"F"
# Margin between the workers being ready and the shared start: time for the
# start message to reach every worker.
_START_MARGIN_NS = 50_000_000
_READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class _Job:
    """What a worker needs; pickled to the spawned process (no callables: bodies are already serialised)."""

    base_url: str
    model: str
    api_key: str | None
    warmup_path: str
    spec: RequestSpec
    name: str
    workload: Workload
    samples: list[Sample]
    bodies: list[bytes]
    seed: int
    cap: int | None
    core: int | None
    worker: int


class _PipeWriter:
    """A RecordWriter for a worker: each ended request goes to the parent at once (which writes and watches it)."""

    error: OSError | None = None  # as RecordWriter's: the parent's writer is the one that can fail

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def write(self, record: RequestRecord) -> None:
        self.conn.send_bytes(_RECORD + record.to_json())


def worker_cores(workers: int) -> list[int | None]:
    """The core for each worker: one each when the client may use enough cores, else unpinned."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) >= workers:
        return list(allowed[:workers])
    return [None] * workers


def _caps(cap: int | None, workers: int) -> list[int | None]:
    """The global concurrency cap split as evenly as it goes (every share at least one)."""
    if cap is None:
        return [None] * workers
    return [cap // workers + (1 if i < cap % workers else 0) for i in range(workers)]


def _worker(job: _Job, out: Any, start: Any, counter: Any) -> None:
    """A worker process: connect, say ready, wait for the shared start, run its share, report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's; it stops us with SIGTERM
    if job.core is not None:
        os.sched_setaffinity(0, {job.core})

    from glmbench.util.loop import run_async

    def next_index() -> int:
        with counter.get_lock():
            index = counter.value
            counter.value = index + 1
        return index

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        target = Target(job.base_url, job.model, job.api_key, warmup_path=job.warmup_path)
        async with StreamClient(target, job.spec) as client:
            await client.warm_up(connections_needed(len(job.samples), job.cap, offered_rate(job.workload, job.samples)))
            requests = [client.prepare(body) for body in job.bodies]
            gc.collect()  # now, not inside the run: send_workload then only freezes what is left
            out.send_bytes(_READY)
            try:
                t0_ns = int(await loop.run_in_executor(None, start.recv))
            except EOFError:
                return  # stopped before the start
            try:
                run = await send_workload(client, job.name, job.workload, job.samples, job.seed,
                                          _PipeWriter(out), t0_ns=t0_ns, next_index=next_index,
                                          requests=requests, cap=job.cap, worker=job.worker)
            except asyncio.CancelledError:
                return  # stopped by the parent: the cut-short records are sent, the pipe's end says the rest
            facts = {"end_ns": run.end_ns, "client_cpu_s": run.client_cpu_s, "loop_lag_ns": run.loop_lag_ns}
            out.send_bytes(_DONE + orjson.dumps(facts))

    try:
        run_async(main())
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which names it
        try:
            out.send_bytes(_FAILED + f"{type(exc).__name__}: {exc}".encode())
        except OSError:
            pass
    finally:
        out.close()


class _Worker:
    """The parent's handle on one worker: its process, its pipes and a thread pumping its messages into the loop."""

    def __init__(self, ctx: Any, job: _Job, counter: Any) -> None:
        self.records_in, records_out = ctx.Pipe(duplex=False)
        start_in, self.start_out = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker, args=(job, records_out, start_in, counter), daemon=True,
                                   name=f"glmbench-client-{job.worker}")
        self.process.start()
        records_out.close()
        start_in.close()
        # made by pump(), in the loop, which the parent calls on every handle as soon as it is made
        self.ready: asyncio.Future[None]
        self.done: asyncio.Future[dict[str, Any]]

    def pump(self, loop: asyncio.AbstractEventLoop, on_record: Callable[[bytes], None]) -> None:
        self.ready, self.done = loop.create_future(), loop.create_future()

        def settle(future: asyncio.Future[Any], value: Any = None, error: BaseException | None = None) -> None:
            if not future.done():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

        def read() -> None:
            while True:
                try:
                    message = self.records_in.recv_bytes()
                except (EOFError, OSError):
                    error = GlmbenchError("a client worker process ended without reporting",
                                          "see the records kept so far; run with fewer --client-workers")
                    loop.call_soon_threadsafe(settle, self.ready, None, error)
                    loop.call_soon_threadsafe(settle, self.done, None, error)
                    return
                kind, payload = message[:1], message[1:]
                if kind == _RECORD:
                    loop.call_soon_threadsafe(on_record, payload)
                elif kind == _READY:
                    loop.call_soon_threadsafe(settle, self.ready)
                elif kind == _DONE:
                    loop.call_soon_threadsafe(settle, self.done, orjson.loads(payload))
                    return
                else:
                    error = GlmbenchError(f"a client worker failed: {payload.decode(errors='replace')[:200]}",
                                          "run with --client-workers 1 to see the error in this process")
                    loop.call_soon_threadsafe(settle, self.ready, None, error)
                    loop.call_soon_threadsafe(settle, self.done, None, error)
                    return

        threading.Thread(target=read, daemon=True, name="glmbench-client-pump").start()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.start_out.close()  # a worker still waiting for the start gives up

    def reap(self, timeout_s: float = 5.0) -> None:
        self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.records_in.close()
        self.start_out.close()


# What one client process is given to carry, in chunks/s: about half of what one core reads within the
# accuracy targets (benchmarks/README.md), so that its loop stays prompt through waves of requests.
CHUNKS_PER_WORKER = 60_000
# The decode rate assumed for a stream when sizing the client: GLM-4.7-Flash with MTP on one GPU, the high end.
STREAM_CHUNKS_PER_S = 100.0


def expected_streams(workload: Workload, samples: Sequence[Sample]) -> float:
    """How many streams can be open at once: the cap, every request of a burst, or (open loop, a replayed trace
    too) rate x decode time."""
    n = len(samples)
    if not n:
        return 0.0
    cap = workload.max_concurrency or n
    rate = offered_rate(workload, samples)
    if rate is None:
        return float(min(n, cap))
    decode_s = sum(s.output_tokens for s in samples) / n / STREAM_CHUNKS_PER_S
    return float(min(n, cap, rate * decode_s))


def auto_workers(workload: Workload, samples: Sequence[Sample], free_cores: int | None = None) -> tuple[int, str | None]:
    """Client processes for ``workload`` when the user did not say, and the line that says why (None for one)."""
    if free_cores is None:
        free_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    streams = expected_streams(workload, samples)
    rate = streams * STREAM_CHUNKS_PER_S
    needed = max(1, math.ceil(rate / CHUNKS_PER_WORKER))
    workers = max(1, min(needed, free_cores))
    expected = (f"up to {streams:.0f} streams x {STREAM_CHUNKS_PER_S:.0f} chunks/s = {rate / 1000:.0f}k chunks/s "
                f"expected, {CHUNKS_PER_WORKER // 1000}k per client process")
    if workers > 1:
        return workers, f"{workers} client processes ({expected}); --client-workers N sets it"
    if needed > 1:
        return 1, (f"one client process for {expected}: no other core is free; the self-check says "
                   "whether it kept up")
    return 1, None


def _reap_all(handles: list[_Worker]) -> None:
    for handle in handles:
        handle.reap()


async def run_in_workers(client: StreamClient, name: str, workload: Workload, samples: Sequence[Sample], seed: int,
                         writer: RecordWriter, on_done: Callable[[RequestRecord], None] | None,
                         workers: int) -> WorkloadRun:
    """:func:`~glmbench.load.sender.send_workload` over ``workers`` processes; one records file, one clock, one WorkloadRun."""
    cap = workload.max_concurrency
    workers = max(1, min(workers, cap or workers, len(samples)))
    target = client.target
    bodies = [client.body(s) for s in samples]
    ctx = mp.get_context("spawn")  # never fork a process whose event loop and threads are running
    counter = ctx.Value("q", 0)
    jobs = [_Job(target.base_url, target.model, target.api_key, target.warmup_path, client.spec, name, workload,
                 list(samples), bodies, seed, share, core, i)
            for i, (share, core) in enumerate(zip(_caps(cap, workers), worker_cores(workers)), start=1)]
    loop = asyncio.get_running_loop()

    def on_record(payload: bytes) -> None:
        record = RequestRecord.from_dict(orjson.loads(payload))
        writer.write(record)
        if on_done is not None:
            on_done(record)

    handles = [_Worker(ctx, job, counter) for job in jobs]
    for handle in handles:
        handle.pump(loop, on_record)
    run = WorkloadRun(name=name, t0_ns=0)
    try:
        try:
            await asyncio.wait_for(asyncio.gather(*(h.ready for h in handles)), _READY_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise GlmbenchError(f"the client workers were not ready within {_READY_TIMEOUT_S:g} s",
                                "run with fewer --client-workers") from None
        run.t0_ns = perf_counter_ns() + _START_MARGIN_NS
        for handle in handles:
            handle.start_out.send(run.t0_ns)
        facts = await asyncio.gather(*(h.done for h in handles))
    except asyncio.CancelledError:
        for handle in handles:
            handle.stop()
        # Let each stopped worker send its cut-short records before the pipes close.
        await asyncio.wait([h.done for h in handles], timeout=5.0)
        for future in (f for h in handles for f in (h.ready, h.done)):
            if future.done():
                future.exception()  # a stopped worker ending without a report is expected here
        raise
    finally:
        for handle in handles:
            handle.stop()
        await loop.run_in_executor(None, _reap_all, handles)
    run.end_ns = max(f["end_ns"] for f in facts)
    # One core per worker: the busiest worker says whether the client kept up.
    run.client_cpu_s = max(f["client_cpu_s"] for f in facts)
    run.loop_lag_ns = [lag for f in facts for lag in f["loop_lag_ns"]]
    run.workers = workers
    return run
