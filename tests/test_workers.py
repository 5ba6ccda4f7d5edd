"""Several client processes, one workload: one schedule, one clock, one records file, and the self-check.

Servers here are real ``glmbench sim`` processes on 127.0.0.1; the workers
are real spawned processes. The simulator's truth log (when each chunk left,
on the machine's CLOCK_MONOTONIC) is the referee for the clock.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from glmbench.datasets.base import DatasetInfo, Sample
from glmbench.load.bench import Plan, run_plan
from glmbench.load.client import StreamClient, Target
from glmbench.load.runner import run_workload
from glmbench.load.schedule import arrival_offsets_ns
from glmbench.load.workers import _caps
from glmbench.load.workload import RequestSpec, Suite, Workload
from glmbench.results.records import RecordWriter, read_records
from glmbench.results.schema import BackendInfo, Manifest
from glmbench.results.store import RunStore
from glmbench.sim.truth import compare_with_truth, read_truth
from glmbench.util.loop import run_async

from .conftest import peak_in_flight, run_load

pytestmark = pytest.mark.e2e
MODEL = "glm-4.7-flash-sim"


def test_cap_shares_add_up_to_the_cap():
    assert _caps(None, 3) == [None, None, None]
    assert _caps(5, 2) == [3, 2]
    assert _caps(512, 4) == [128] * 4
    assert all(sum(_caps(c, w)) == c and min(_caps(c, w)) >= 1 for c in range(4, 40) for w in range(1, 5))


def test_two_workers_keep_one_open_loop_schedule_on_one_clock(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "20", "--itl-ms", "5")
    samples = [Sample("hi " * 8, 8, 16)] * 40
    run, records = run_load(sim.url, tmp_path, Workload(title="t", request_rate=40.0), samples, workers=2, seed=7)
    assert run.workers == 2
    assert all(r.ok for r in records), [r.error for r in records]
    # Every request exactly once, from both processes, into one file.
    assert sorted(r.index for r in records) == list(range(40))
    assert {r.worker for r in records} == {1, 2}
    # The one schedule: each request due at the shared t0 plus its seeded arrival offset.
    offsets = arrival_offsets_ns(40, 40.0, 1.0, 7)
    assert all(r.due_ns - run.t0_ns == offsets[r.index] for r in records)
    assert all(0 <= r.send_ns - r.due_ns < 20_000_000 for r in records)
    # One clock: against the simulator's log of when each chunk left, every
    # chunk of both workers was stamped just after it was written.
    # The simulator stamps a chunk once its write call has returned, which on another core can be a few
    # tens of microseconds after the client has read it: a mean a hair below zero is still one clock.
    truth = compare_with_truth(records, read_truth(sim.truth))
    assert truth["matched"] == 40
    assert -0.2 <= truth["delivery_mean"] < 1.0
    for worker in (1, 2):
        mine = compare_with_truth([r for r in records if r.worker == worker], read_truth(sim.truth))
        assert -0.2 <= mine["first_delivery_mean"] < 2.0


def test_two_workers_keep_the_global_concurrency_cap(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "20", "--itl-ms", "2")
    samples = [Sample("hi", 1, 10)] * 25
    run, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=5), samples, workers=2)
    assert len(records) == 25 and all(r.ok for r in records)
    assert peak_in_flight(records) == 5
    # A closed loop: after the first wave, each request is due when a slot frees.
    late = [r for r in records if r.due_ns != run.t0_ns]
    assert len(late) == 20 and all(r.send_ns >= r.due_ns for r in late)


def test_more_workers_than_the_cap_allows_are_not_started(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "1")
    run, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=1), [Sample("hi", 1, 4)] * 4,
                                workers=3)
    assert run.workers == 1 and peak_in_flight(records) == 1 and len(records) == 4


def test_cancelling_keeps_the_cut_short_requests_and_leaves_no_process(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "10", "--itl-ms", "20")
    samples = [Sample("hi", 1, 400)] * 6  # 8 s streams
    path = tmp_path / "records.jsonl"

    async def main():
        async with StreamClient(Target(sim.url, MODEL), RequestSpec()) as client:
            with RecordWriter(path) as writer:
                task = asyncio.ensure_future(run_workload(client, "w", Workload(title="t"), samples, 0, writer,
                                                          workers=2))
                await asyncio.sleep(3.0)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

    started = time.monotonic()
    run_async(main())
    assert time.monotonic() - started < 8.0
    records = list(read_records(path))
    assert sorted(r.index for r in records) == list(range(6))
    assert all(not r.ok and r.error == "interrupted before the stream ended" and r.chunk_ns for r in records)
    assert not multiprocessing.active_children()


def test_run_with_client_workers_from_the_command_line(tmp_path, fast_sim_config):
    res = subprocess.run([sys.executable, "-m", "glmbench", "run", "--backend", "sim", "--sim-config",
                          str(fast_sim_config), "--workload", "steady", "--num-prompts", "12", "--request-rate", "20",
                          "--client-workers", "2", "--results-dir", str(tmp_path / "results")],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "client procs" in res.stdout
    (run_dir,) = (tmp_path / "results").iterdir()
    (row,) = orjson.loads((run_dir / "summary.json").read_bytes())["rows"]
    assert row["client_workers"] == 2 and row["completed"] == 12 and not row["client_saturated"]
    assert {r.worker for r in read_records(run_dir / "records.jsonl")} == {1, 2}


def test_client_workers_zero_is_a_one_line_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "glmbench", "run", "--backend", "sim", "--client-workers", "0",
                          "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "client-workers" in res.stderr
    assert not any(tmp_path.iterdir())


class _SlowProgress:
    """A progress display that blocks the event loop for ``block_s`` per finished request: an overloaded client."""

    def __init__(self, block_s: float) -> None:
        self.block_s = block_s

    def workload_started(self, name: str, title: str, total: int) -> None:
        pass

    def request_done(self, record) -> None:
        time.sleep(self.block_s)

    def workload_done(self, row: dict) -> None:
        pass


def _run_plan(url: str, results: Path, block_s: float) -> Path:
    suite = Suite(name="t", workloads={"steady": Workload(title="Poisson 40 req/s", request_rate=40.0)})
    samples = [Sample("hi " * 8, 8, 16)] * 60
    info = DatasetInfo(name="fixed", source="test", sha256=None, token_counter="none", approximate_tokens=False,
                       records_read=60)
    store = RunStore(results, f"block-{block_s:g}")
    plan = Plan(suite=suite, workloads=list(suite.workloads.items()), samples=samples, dataset=info)
    store.write_manifest(Manifest(run_id=store.run_id, status="complete", glmbench_version="test",
                                  backend=BackendInfo(name="sim", url=url, model=MODEL), host={}, suite="t",
                                  workloads=["steady"], dataset={}, seed=0, started_at="2026-11-22T00:00:00Z"))
    run_async(run_plan(plan, Target(url, MODEL), store, _SlowProgress(block_s)))
    return store.path


def test_the_self_check_flags_a_deliberately_overloaded_client_everywhere_it_is_shown(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "10", "--itl-ms", "2")
    healthy = _run_plan(sim.url, tmp_path, 0.0)
    # 30 ms of blocking per finished request at 40 req/s: the loop is late, requests leave late.
    overloaded = _run_plan(sim.url, tmp_path, 0.03)

    (ok_row,) = orjson.loads((healthy / "summary.json").read_bytes())["rows"]
    (bad_row,) = orjson.loads((overloaded / "summary.json").read_bytes())["rows"]
    assert not ok_row["client_saturated"], ok_row["client_warning"]
    assert bad_row["client_saturated"]
    assert bad_row["issue_lag_ms_p99"] > 10 and bad_row["loop_lag_ms_p99"] > 10
    # Requests left late: the figures from schedule and the rate are named; and the streams were read late.
    assert {"ttft_due", "e2e_due", "offered_load"} <= set(bad_row["client_flags"]), bad_row["client_warning"]
    assert "client sent late: TTFT from schedule, E2E from schedule and the request rate off" in bad_row["client_warning"]
    if bad_row["receive_stamps"] == "kernel":
        # A 30 ms block holds 15 of the 2 ms steps: reads merge chunks written apart, which moves TTFT (a first
        # read) and ITL; the kernel's stamp of the last chunk is its arrival, so E2E is not moved.
        assert bad_row["merged_reads"] > 0 and {"ttft", "itl"} & set(bad_row["client_flags"])
        assert "e2e" not in bad_row["client_flags"]
    else:
        assert {"ttft", "itl", "e2e"} <= set(bad_row["client_flags"])
    read_late = "client read late: " + bad_row["client_warning"].split("client read late: ")[1].split(" (")[0]

    # The table, the markdown and the HTML report all carry the flag and the reason.
    for fmt in ("table", "md"):
        res = subprocess.run([sys.executable, "-m", "glmbench", "report", str(overloaded), "--format", fmt],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "Poisson 40 req/s *" in res.stdout and read_late in res.stdout
    html = tmp_path / "report.html"
    res = subprocess.run([sys.executable, "-m", "glmbench", "report", str(healthy), str(overloaded), "--out", str(html)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert read_late in html.read_text()
    # And a comparison against it says which of its verdicts are not to be trusted.
    res = subprocess.run([sys.executable, "-m", "glmbench", "compare", str(healthy), str(overloaded)],
                         capture_output=True, text=True, timeout=60)
    out = " ".join((res.stdout + res.stderr).split())
    said = out.split("candidate steady: its ")[1].split(" verdicts are not to be trusted: ")
    assert "from schedule" in said[0] and said[1].startswith("client read late"), out
    assert "--client-workers" in out
