"""The garbage collector stays out of a load run's window (no process started: the schedule runs jobs in-process)."""

from __future__ import annotations

import asyncio
import gc

from glmbench.load.sender import keep_schedule
from glmbench.load.workload import Workload
from glmbench.util.collector import collector_paused


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_nothing_is_collected_inside_and_the_cycles_made_there_are_collected_on_leaving() -> None:
    collections: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    before = gc.get_threshold(), gc.isenabled()
    gc.callbacks.append(seen)
    try:
        with collector_paused():
            collections.clear()
            assert not gc.isenabled() and gc.get_freeze_count() > 0
            for _ in range(50_000):  # far past the young generation's threshold
                _Cycle()
            assert collections == []
            assert gc.get_count()[0] >= 50_000
        assert gc.isenabled() and gc.get_freeze_count() == 0 and (gc.get_threshold(), gc.isenabled()) == before
        assert collections and gc.get_count()[0] < 1_000  # the window's cycles went on leaving
    finally:
        gc.callbacks.remove(seen)


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with collector_paused(collect=False):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_schedule_runs_every_job_with_the_collector_paused() -> None:
    seen: list[tuple[bool, bool]] = []

    async def job(index: int, due: int, free) -> None:
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        await asyncio.sleep(0)

    run = asyncio.run(keep_schedule(20, Workload(title="t", max_concurrency=4), 0, job, name="t"))
    assert not run.interrupted and len(seen) == 20 and set(seen) == {(False, True)}
    assert gc.isenabled() and gc.get_freeze_count() == 0
