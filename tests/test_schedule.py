"""Arrival schedules and the workload runner, without a server.

The runner is driven with an in-process fake client whose requests take a fixed
time, so the closed loop, the concurrency cap and the open-loop clock can be
checked exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
from time import perf_counter_ns

import pytest

from glmbench.datasets.base import Sample
from glmbench.errors import GlmbenchError
from glmbench.load.runner import run_workload
from glmbench.load.schedule import arrival_offsets_ns
from glmbench.load.workload import Workload, load_suite
from glmbench.results.records import RecordWriter, RequestRecord, read_records
from glmbench.util.loop import run_async


def test_burst_sends_everything_at_zero():
    assert arrival_offsets_ns(5, None, 1.0, seed=0) == [0] * 5


def test_poisson_rate_and_spread():
    offsets = arrival_offsets_ns(20_001, 10.0, 1.0, seed=1)
    gaps = [(b - a) / 1e9 for a, b in zip(offsets, offsets[1:])]
    assert offsets[0] == 0
    assert statistics.fmean(gaps) == pytest.approx(0.1, rel=0.03)
    # Exponential gaps: coefficient of variation 1.
    assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("burstiness", [0.25, 4.0])
def test_gamma_burstiness_keeps_the_rate_and_changes_the_spread(burstiness):
    offsets = arrival_offsets_ns(20_001, 5.0, burstiness, seed=2)
    gaps = [(b - a) / 1e9 for a, b in zip(offsets, offsets[1:])]
    assert statistics.fmean(gaps) == pytest.approx(0.2, rel=0.05)
    # Gamma with shape k has CV 1/sqrt(k): burstier below 1, more regular above.
    assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(burstiness ** -0.5, rel=0.08)


@pytest.mark.parametrize(("count", "rate", "seed"), [(150, 5.0, 0), (300, 10.0, 3), (1500, 50.0, 9), (2, 1.0, 1)])
def test_the_offered_rate_is_exactly_the_one_asked_for(count, rate, seed):
    offsets = arrival_offsets_ns(count, rate, 1.0, seed)
    assert offsets[0] == 0 and offsets == sorted(offsets)
    # (count - 1) gaps of mean 1/rate, whatever the draw: the achieved rate is the rate.
    assert (count - 1) / (offsets[-1] / 1e9) == pytest.approx(rate, rel=1e-9)


def test_same_seed_same_schedule_other_seed_other_schedule():
    assert arrival_offsets_ns(100, 5.0, 1.0, seed=7) == arrival_offsets_ns(100, 5.0, 1.0, seed=7)
    assert arrival_offsets_ns(100, 5.0, 1.0, seed=7) != arrival_offsets_ns(100, 5.0, 1.0, seed=8)


def test_shipped_suite_holds_the_published_profiles():
    suite = load_suite("sharegpt")
    assert suite.dataset.num_prompts == 2000
    w = suite.workloads
    assert list(w) == ["burst", "high-conc", "moderate", "steady"]
    assert w["burst"].request_rate is None and w["burst"].max_concurrency is None
    assert w["high-conc"].request_rate is None and w["high-conc"].max_concurrency == 512
    assert w["moderate"].request_rate == 10 and w["steady"].request_rate == 5
    assert [n for n, _ in suite.select("all")] == list(w)
    assert [n for n, _ in suite.select("steady,burst")] == ["steady", "burst"]
    with pytest.raises(GlmbenchError, match="unknown workload 'nope'"):
        suite.select("nope")


def test_inf_rate_means_burst():
    assert Workload(title="t", request_rate="inf").request_rate is None


class FakeClient:
    """Stands in for StreamClient: every request takes ``service_s`` and streams one token."""

    def __init__(self, service_s: float) -> None:
        self.service_ns = int(service_s * 1e9)
        self.running = 0
        self.peak = 0

    def body(self, sample: Sample) -> bytes:
        return sample.prompt.encode()

    async def warm_up(self, connections: int = 1) -> None:
        return None

    def prepare(self, body: bytes) -> bytes:
        return body

    def start(self, record: RequestRecord, request: bytes, reply=None, on_end=None):
        return self.send(record, request)

    def wave(self):
        return contextlib.nullcontext()

    async def send(self, record: RequestRecord, body: bytes) -> None:
        record.send_ns = record.wire_ns = perf_counter_ns()
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(self.service_ns / 1e9)
        self.running -= 1
        record.chunk_ns = [perf_counter_ns()]
        record.output_tokens = 1
        record.end_ns = perf_counter_ns()
        record.ok = True


def _run(tmp_path, workload: Workload, n: int, service_s: float):
    client = FakeClient(service_s)
    path = tmp_path / "r.jsonl"

    async def main():
        with RecordWriter(path) as writer:
            return await run_workload(client, "w", workload, [Sample("p", 1, 1)] * n, 3, writer)

    run = run_async(main())
    return run, sorted(read_records(path), key=lambda r: r.index), client


def test_closed_loop_cap_sends_the_next_request_when_one_finishes(tmp_path):
    run, records, client = _run(tmp_path, Workload(title="t", max_concurrency=4), 12, 0.05)
    assert client.peak == 4
    assert len(records) == 12 and all(r.ok for r in records)
    # First four are due at t0; each later one is due when a slot freed, and leaves right then.
    assert all(r.due_ns == run.t0_ns for r in records[:4])
    assert all(r.due_ns > run.t0_ns for r in records[4:])
    ends = sorted(r.end_ns for r in records)
    for r in records[4:]:
        assert r.due_ns in ends
        assert 0 <= r.start_ns - r.due_ns < 20_000_000
    # Three waves of 50 ms.
    assert 0.14 < (run.end_ns - run.t0_ns) / 1e9 < 0.6


def test_open_loop_keeps_its_clock_when_the_server_is_slow(tmp_path):
    # 20 req/s of 0.5 s requests: many overlap; arrivals still follow the schedule.
    workload = Workload(title="t", request_rate=20.0)
    run, records, client = _run(tmp_path, workload, 20, 0.5)
    expected = arrival_offsets_ns(20, 20.0, 1.0, seed=3)
    assert [r.due_ns - run.t0_ns for r in records] == expected
    assert client.peak > 2
    lags = [r.start_ns - r.due_ns for r in records]
    assert min(lags) >= 0 and statistics.fmean(lags) < 5_000_000


def test_open_loop_with_a_cap_waits_for_both_the_clock_and_a_slot(tmp_path):
    workload = Workload(title="t", request_rate=1000.0, max_concurrency=2)
    run, records, client = _run(tmp_path, workload, 6, 0.05)
    assert client.peak == 2
    # At 1000 req/s the schedule is far ahead of the slots: from the third on, a slot decides.
    assert all(r.due_ns >= run.t0_ns + 40_000_000 for r in records[2:])


def _window_rates(offsets: list[int], windows: int) -> list[float]:
    """Arrivals per second in each of ``windows`` equal stretches of the schedule."""
    end = offsets[-1]
    counts = [0] * windows
    for x in offsets:
        counts[min(windows - 1, x * windows // max(end, 1))] += 1
    return [c / (end / 1e9 / windows) for c in counts]


@pytest.mark.parametrize("ramp", ["linear", "exponential"])
def test_a_rate_ramp_moves_the_rate_from_start_to_end(ramp):
    from glmbench.load.workload import Workload

    count, r0, r1 = 20_001, 2.0, 20.0
    offsets = Workload(title="t", request_rate=r0, ramp=ramp, ramp_to=r1).offsets_ns(count, seed=4)
    assert offsets[0] == 0 and offsets == sorted(offsets)
    span = offsets[-1] / 1e9
    if ramp == "linear":
        assert span == pytest.approx(2 * (count - 1) / (r0 + r1), rel=1e-9)

        def rate(s):
            return r0 + (r1 - r0) * s / span
    else:
        assert span == pytest.approx((count - 1) * math.log(r1 / r0) / (r1 - r0), rel=1e-9)

        def rate(s):
            return r0 * (r1 / r0) ** (s / span)
    measured = _window_rates(offsets, 10)
    # Each window's arrivals against the ramp's expected ones there (Simpson's rule on the rate is exact enough),
    # within four standard deviations of a Poisson count: a wrong ramp is off by far more.
    for i, got in enumerate(measured):
        a, b = span * i / 10, span * (i + 1) / 10
        want = (rate(a) + 4 * rate((a + b) / 2) + rate(b)) / 6 * (b - a)
        assert abs(got * (b - a) - want) <= 4 * math.sqrt(want), (i, got * (b - a), want)


@pytest.mark.parametrize("burstiness", [0.25, 1.0, 4.0])
def test_a_ramp_keeps_the_burstiness_of_every_stretch(burstiness):
    from glmbench.load.workload import Workload

    offsets = Workload(title="t", request_rate=5.0, ramp="linear", ramp_to=15.0,
                       burstiness=burstiness).offsets_ns(40_001, seed=5)
    # Gaps divided by the rate's expected gap at that time are gamma(k) with mean 1: CV 1/sqrt(k).
    span = offsets[-1]
    normalised = [(b - a) / 1e9 * (5.0 + 10.0 * a / span) for a, b in zip(offsets, offsets[1:])]
    cv = statistics.pstdev(normalised) / statistics.fmean(normalised)
    assert statistics.fmean(normalised) == pytest.approx(1.0, rel=0.03)
    assert cv == pytest.approx(burstiness ** -0.5, rel=0.08)


def test_a_ramp_needs_both_ends_and_a_start_rate():
    from pydantic import ValidationError

    from glmbench.load.workload import Workload

    for bad in ({"ramp": "linear"}, {"ramp_to": 5.0, "request_rate": 1.0}, {"ramp": "linear", "ramp_to": 5.0}):
        with pytest.raises(ValidationError):
            Workload(title="t", **bad)
    assert Workload(title="t", request_rate=2, ramp="linear", ramp_to=8).describe() == \
        "Poisson 2 req/s ramping (linear) to 8 req/s"


def test_a_slot_freed_inside_a_read_sends_the_next_request_right_there():
    """A closed loop's replacement leaves inside the callback that freed its slot (the read that ended the last
    reply), not a loop turn later: a wave of ends is a wave of sends before the loop reads anything else."""
    from glmbench.load.sender import keep_schedule

    started: list[int] = []
    inside: list[tuple[int, list[int]]] = []  # (request freed, requests started when its callback returned)

    async def main():
        loop = asyncio.get_running_loop()

        def job(index, due, free):
            started.append(index)
            done = loop.create_future()

            def end():  # as the wire client's read callback does: free the slot, then the awaiter resumes
                free(perf_counter_ns())
                inside.append((index, list(started)))
                done.set_result(None)

            loop.call_later(0.001 * (1 + index % 3), end)
            return done

        return await keep_schedule(12, Workload(title="t", max_concurrency=3), 0, job, name="t")

    run = run_async(main())
    assert not run.interrupted and sorted(started) == list(range(12))
    # Each of the first nine ends started the next arrival before its callback returned; the last three had none.
    for n, (_index, seen) in enumerate(inside[:9]):
        assert len(seen) == 3 + n + 1, inside
    assert all(len(seen) == 12 for _index, seen in inside[9:])


def test_a_job_that_raises_from_a_read_callback_stops_the_schedule_with_its_error():
    from glmbench.load.sender import keep_schedule

    async def main():
        loop = asyncio.get_running_loop()
        calls = 0

        def job(index, due, free):
            nonlocal calls
            calls += 1
            if calls > 4:
                raise RuntimeError("cannot keep the record")
            done = loop.create_future()
            loop.call_later(0.001, lambda: (free(perf_counter_ns()), done.set_result(None)))
            return done

        return await keep_schedule(10, Workload(title="t", max_concurrency=2), 0, job, name="t")

    with pytest.raises(RuntimeError, match="cannot keep the record"):
        run_async(main())
