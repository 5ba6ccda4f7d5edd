"""Send one workload from this process: keep the schedule's clock, cap concurrency, record every request.

Open-loop schedules keep their own clock: a request is due at ``t0 + offset``
whatever happened to earlier ones, so a slow server or a late client cannot
hide tail latency. Under a concurrency cap a request is due when a slot frees,
and the slot carries the time it was freed, so the dispatch lag of a closed
loop is measured too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Protocol

from glmbench.datasets.base import Sample
from glmbench.load.client import StreamClient
from glmbench.load.workload import Workload
from glmbench.results.records import INTERRUPTED, RequestRecord
from glmbench.util.collector import collector_paused

__all__ = ["RecordSink", "WorkloadRun", "Job", "keep_schedule", "send_workload", "sleep_until", "LoopMonitor",
           "connections_needed", "own_offsets", "offered_rate"]

# Sleep to this much before a due time, then yield until it: asyncio timers
# round to whole milliseconds, which would add up to 1 ms of dispatch lag.
_SPIN_NS = 1_500_000


class RecordSink(Protocol):
    """Where each ended request goes: a ``RecordWriter``, or a client worker's pipe to the parent."""

    @property
    def error(self) -> OSError | None:
        """The first write error, once there is one: the run stops sending."""

    def write(self, record: RequestRecord) -> None:
        """Keep one ended request."""


@dataclass
class WorkloadRun:
    """Client-side facts about one workload run, beside its records."""

    name: str
    t0_ns: int
    end_ns: int = 0
    client_cpu_s: float = 0.0
    loop_lag_ns: list[int] = field(default_factory=list)
    interrupted: bool = False
    workers: int = 1


class LoopMonitor:
    """Measures how late the event loop wakes a 5 ms timer: the client's own delay."""

    def __init__(self, period_s: float = 0.005) -> None:
        self.period_ns = int(period_s * 1e9)
        self.lags: list[int] = []
        self._task: asyncio.Task | None = None

    async def _watch(self) -> None:
        while True:
            due = perf_counter_ns() + self.period_ns
            await asyncio.sleep(self.period_ns / 1e9)
            self.lags.append(max(0, perf_counter_ns() - due))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> list[int]:
        if self._task is not None:
            self._task.cancel()
        return self.lags


# Requests sent in one go before the event loop reads the open streams again.
_DISPATCH_SLICE = 16

# Connections opened before the clock starts: the in-flight cap, or every request up to this many.
_MAX_OPENED = 1024
_OPEN_LOOP_AHEAD_S = 10.0


def connections_needed(requests: int, cap: int | None, rate: float | None = None) -> int:
    """How many connections to open ahead: as many as can be in flight at once, within reason.

    An open loop gets its first ``_OPEN_LOOP_AHEAD_S`` seconds of arrivals (a server's idle
    keep-alive limit closes the rest before they would be used anyway).
    """
    n = min(requests, cap or requests, _MAX_OPENED)
    if rate:
        n = min(n, max(8, math.ceil(rate * _OPEN_LOOP_AHEAD_S)))
    return max(1, n)


def own_offsets(samples: Sequence[Sample]) -> list[int] | None:
    """The samples' own due times (a replayed trace's), or None when they have none and the workload's rate decides."""
    offsets = [s.offset_ns for s in samples if s.offset_ns is not None]
    return offsets if samples and len(offsets) == len(samples) else None


def offered_rate(workload: Workload, samples: Sequence[Sample]) -> float | None:
    """Mean arrivals per second: a replayed trace's (requests over its span), else the workload's rate."""
    offsets = own_offsets(samples)
    if offsets is None:
        return workload.request_rate
    span_ns = max(offsets) - min(offsets)
    return (len(offsets) - 1) / (span_ns / 1e9) if span_ns > 0 else None


async def sleep_until(due_ns: int) -> None:
    """Wait until ``due_ns`` on the monotonic clock, to within a few microseconds (timers alone round to ms)."""
    wait = due_ns - perf_counter_ns()
    if wait > _SPIN_NS:
        await asyncio.sleep((wait - _SPIN_NS) / 1e9)
    while perf_counter_ns() < due_ns:
        await asyncio.sleep(0)


Job = Callable[[int, int, Callable[[int], None]], Awaitable[None]]
"""What one arrival does: ``job(index, due_ns, free)`` returns the awaitable that sends its request(s) and calls
``free(end_ns)`` the moment its concurrency slot may go to the next arrival (the schedule calls it if the job did
not). A job may send before it returns (the load client's requests do), and may call ``free`` from a read
callback: the next arrival then leaves from inside it."""


async def keep_schedule(count: int, workload: Workload, seed: int, job: Job, *, name: str,
                        t0_ns: int | None = None, next_index: Callable[[], int] | None = None,
                        cap: int | None = None, stopped: Callable[[], bool] = lambda: False,
                        offsets: Sequence[int] | None = None,
                        wave: Callable[[], AbstractContextManager] | None = None) -> WorkloadRun:
    """Start ``job`` for each of ``count`` arrivals on ``workload``'s schedule; return when every job has ended.

    An open loop starts arrival ``i`` at ``t0 + offset[i]`` whatever happened to
    earlier ones; under a cap an arrival also waits for a free slot, and is due
    when that slot was freed. ``next_index`` hands out the arrivals (shared by
    client workers); ``stopped`` ends the schedule early (the records can no
    longer be stored). A job is one request for a load run, a whole
    conversation for a multi-turn BFCL entry. ``offsets``, when given (a
    replayed trace's own times), replace the workload's rate. ``wave``, when
    given, is entered around the first wave (every arrival due at the start that
    has a slot: a burst, a closed loop's first requests), which is launched in
    one go: the load client's :meth:`~glmbench.load.client.StreamClient.wave`
    puts their bytes on the wire back to back.
    """
    # No garbage collection inside the window (a full one took 35 ms: every stream waited); what exists now is
    # frozen first. A caller that fixed the start collected before it was told the start.
    with collector_paused(collect=t0_ns is None):
        return await _keep_schedule(count, workload, seed, job, name=name, t0_ns=t0_ns, next_index=next_index,
                                    cap=cap, stopped=stopped, offsets=offsets, wave=wave)


async def _keep_schedule(count: int, workload: Workload, seed: int, job: Job, *, name: str, t0_ns: int | None,
                         next_index: Callable[[], int] | None, cap: int | None, stopped: Callable[[], bool],
                         offsets: Sequence[int] | None,
                         wave: Callable[[], AbstractContextManager] | None = None) -> WorkloadRun:
    if next_index is None:
        next_index = itertools.count().__next__
    cap = workload.max_concurrency if cap is None else cap
    offsets = workload.offsets_ns(count, seed) if offsets is None else offsets
    loop = asyncio.get_running_loop()
    monitor = LoopMonitor()
    cpu0 = time.process_time()
    run = WorkloadRun(name=name, t0_ns=t0_ns or perf_counter_ns())
    t0 = run.t0_ns
    # A freed slot the schedule itself must fill: when it was freed, and the arrival already drawn for it.
    slots: asyncio.Queue[tuple[int, int | None]] | None = None
    unused = 0  # slots never used yet: the queue gets them after the first wave
    if cap:
        slots = asyncio.Queue()
        unused = cap
    tasks: set[asyncio.Future] = set()
    failed: list[BaseException] = []  # a job that raised (it could not keep its result): the schedule stops
    state = {"launching": False, "closing": False}

    def launch(index: int, due: int) -> None:
        freed = False

        def free(end_ns: int) -> None:
            nonlocal freed
            if freed:
                return
            freed = True
            if slots is not None:
                refill(end_ns)

        try:
            pending = job(index, due, free)
        except Exception as exc:  # noqa: BLE001 - raised once every job has ended
            failed.append(exc)
            free(perf_counter_ns())
            return
        if isinstance(pending, asyncio.Future):
            # A future the job's reply settles (a request already on the wire): watched, not wrapped in a task.
            tasks.add(pending)
            pending.add_done_callback(lambda done: _settled(done, free))
            return
        task = loop.create_task(_ended(pending, free))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _settled(done: asyncio.Future, free: Callable[[int], None]) -> None:
        tasks.discard(done)
        if not done.cancelled() and isinstance(done.exception(), Exception):
            failed.append(done.exception())  # type: ignore[arg-type]
        free(perf_counter_ns())

    async def _ended(pending: Awaitable[None], free: Callable[[int], None]) -> None:
        try:
            await pending
        except Exception as exc:  # noqa: BLE001 - raised once every job has ended
            failed.append(exc)
        finally:
            free(perf_counter_ns())

    def refill(freed_at: int) -> None:
        # A slot freed: the next arrival leaves from right here when it is already due (a closed loop, a
        # burst), inside the read that ended the last one, so a wave of them is on the wire before the loop
        # turns. Anything else (not due yet, a job starting from here, the end) goes to the schedule's loop.
        assert slots is not None
        if state["launching"] or state["closing"] or failed or stopped():
            slots.put_nowait((freed_at, None))
            return
        try:
            index = next_index()
            if index < count and t0 + offsets[index] <= perf_counter_ns():
                state["launching"] = True
                try:
                    launch(index, max(t0 + offsets[index], freed_at))
                finally:
                    state["launching"] = False
                return
            slots.put_nowait((freed_at, index))
        except Exception as exc:  # noqa: BLE001 - called from a read callback: never lost there
            failed.append(exc)
            slots.put_nowait((freed_at, None))

    dispatched = 0
    carried: int | None = None  # an arrival the first wave drew and found not yet due
    monitor.start()
    try:
        if wave is not None and not stopped():
            # The first wave in one go: every arrival due now that has a slot (no read can run in between), as
            # many as connections are opened ahead; the rest of a larger burst goes out in slices below.
            with wave():
                while not failed and (slots is None or unused) and dispatched < _MAX_OPENED:
                    index = next_index()
                    if index >= count or t0 + offsets[index] > perf_counter_ns():
                        carried = index
                        break
                    unused -= slots is not None
                    launch(index, t0 + offsets[index])
                    dispatched += 1
        if slots is not None:
            for _ in range(unused):
                slots.put_nowait((t0, None))
        while True:
            # A slot first, then the next index: with several workers, the index
            # goes to whichever worker has room for it.
            freed_at, drawn = await slots.get() if slots is not None else (0, None)
            if failed or stopped():
                break
            if drawn is None and carried is not None:
                drawn, carried = carried, None
            index = next_index() if drawn is None else drawn
            if index >= count:
                break
            due = t0 + offsets[index]
            if due > perf_counter_ns():
                await sleep_until(due)
            launch(index, max(due, freed_at))
            dispatched += 1
            if dispatched % _DISPATCH_SLICE == 0:
                # A wave of requests (a burst, the first of a closed loop) goes out in slices, with the
                # streams' reads in between: no stream waits for the whole wave.
                await asyncio.sleep(0)
        while tasks:
            # asyncio.wait, not gather: cancelling this wait leaves the jobs to the clean-up below.
            await asyncio.wait(set(tasks))
        if failed:
            raise failed[0]
    except asyncio.CancelledError:
        run.interrupted = True
        state["closing"] = True
        # Every job started reaches its first wait before it is cancelled, so that its own clean-up runs
        # (a request already on the wire is ended and recorded as interrupted, not dropped).
        with contextlib.suppress(asyncio.CancelledError):  # a second Ctrl-C: cancelled below all the same
            await asyncio.sleep(0)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        run.end_ns = perf_counter_ns()
        run.client_cpu_s = time.process_time() - cpu0
        run.loop_lag_ns = monitor.stop()
    return run


async def send_workload(
    client: StreamClient,
    name: str,
    workload: Workload,
    samples: Sequence[Sample],
    seed: int,
    writer: RecordSink,
    on_done: Callable[[RequestRecord], None] | None = None,
    *,
    t0_ns: int | None = None,
    next_index: Callable[[], int] | None = None,
    bodies: Sequence[bytes] | None = None,
    requests: Sequence[bytes] | None = None,
    cap: int | None = None,
    worker: int = 0,
) -> WorkloadRun:
    """Send ``samples`` on ``workload``'s schedule; records go to ``writer`` as they end.

    A client worker process (:mod:`glmbench.load.workers`) runs this with the
    shared start ``t0_ns``, a shared ``next_index`` that hands out request
    indices, the ``requests`` it prepared from the serialised bodies before the clock started
    (:meth:`StreamClient.prepare`), its share ``cap`` of the concurrency
    cap and its number ``worker``. Samples with their own due times (a
    replayed trace, :attr:`Sample.offset_ns`) keep those instead of the rate.
    """
    if requests is None:
        requests = [client.prepare(body) for body in (bodies or [client.body(s) for s in samples])]
    cap = workload.max_concurrency if cap is None else cap
    if t0_ns is None:
        # A caller that fixes the start has warmed its client up already.
        await client.warm_up(connections_needed(len(samples), cap, offered_rate(workload, samples)))

    problems: list[Exception] = []

    def one(index: int, due: int, free: Callable[[int], None]) -> Awaitable[None]:
        sample = samples[index]
        record = RequestRecord(workload=name, index=index, prompt_tokens=sample.prompt_tokens,
                               max_tokens=sample.output_tokens, due_ns=due, worker=worker)
        pending = client.start(record, requests[index], on_end=free)
        if isinstance(pending, asyncio.Future):
            # Settled by the reply's own callbacks, or cancelled with the run: kept either way.
            pending.add_done_callback(lambda _done: kept(record, free))
            return pending
        return ended(record, pending, free)

    async def ended(record: RequestRecord, pending: Awaitable[None], free: Callable[[int], None]) -> None:
        try:
            await pending
        finally:
            kept(record, free)

    def kept(record: RequestRecord, free: Callable[[int], None]) -> None:
        if not record.ok and not record.error:
            record.error = INTERRUPTED
        # The slot first: nothing after it may keep a capped loop from going on.
        free(record.end_ns or perf_counter_ns())
        try:
            writer.write(record)
            if on_done is not None:
                on_done(record)
        except Exception as exc:  # noqa: BLE001 - often inside a reply's callback: raised when the schedule ends
            problems.append(exc)

    run = await keep_schedule(len(samples), workload, seed, one, name=name, t0_ns=t0_ns, next_index=next_index,
                              cap=cap, stopped=lambda: writer.error is not None or bool(problems),
                              offsets=own_offsets(samples), wave=client.wave)
    if problems:
        raise problems[0]
    return run
