"""The load client against the simulated server (a real ``glmbench sim`` process on 127.0.0.1).

Measured TTFT and ITL are checked against the simulator's own log of when it
wrote each chunk; faults are checked to end as failed requests with a reason.
"""

from __future__ import annotations

import json

import pytest

from glmbench.datasets.base import Sample
from glmbench.errors import GlmbenchError
from glmbench.load.client import StreamClient, Target, probe_target, served_model
from glmbench.load.runner import run_workload
from glmbench.load.workload import RequestSpec, Workload
from glmbench.results.records import RecordWriter, read_records
from glmbench.sim.config import SimConfig
from glmbench.sim.run import start_in_loop
from glmbench.sim.truth import compare_with_truth, read_truth
from glmbench.util.loop import run_async

from .conftest import peak_in_flight, run_load

pytestmark = pytest.mark.e2e


def test_measured_ttft_and_itl_match_the_simulators_ground_truth(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "50", "--itl-ms", "10")
    samples = [Sample("hello " * 20, 20, 32)] * 16
    run, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=8), samples)
    assert all(r.ok for r in records), [r.error for r in records]
    assert all(r.output_tokens == 32 and r.output_tokens_source == "usage" for r in records)
    truth = compare_with_truth(records, read_truth(sim.truth))
    assert truth["matched"] == 16
    # The simulator's schedule: TTFT 50 ms, ITL 10 ms (its timers are ms-granular).
    assert 49.0 <= truth["ttft_true_mean"] <= 53.0
    assert abs(truth["itl_true_mean"] - 10.0) < 0.2
    # The client's clock agrees with what was sent: chunks seen well within 1 ms on average (a hair below
    # zero is possible: the simulator stamps a chunk once its write call has returned).
    assert -0.2 <= truth["delivery_mean"] < 1.0
    assert abs(truth["itl_mean"] - truth["itl_true_mean"]) < 0.2
    assert truth["ttft_mean"] - truth["ttft_true_mean"] < 5.0


def test_mtp_chunks_carry_several_tokens_and_are_weighted(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "10", "--itl-ms", "8", "--spec-tokens", "3", "--spec-accept", "0.7")
    samples = [Sample("hi", 1, 40)] * 4
    _, records = run_load(sim.url, tmp_path, Workload(title="t"), samples)
    assert all(r.ok for r in records)
    for r in records:
        assert sum(r.chunk_tokens) == 40 == r.output_tokens
        assert len(r.chunk_ns) == len(r.chunk_tokens) < 40
        assert max(r.chunk_tokens) > 1


def test_reasoning_is_timed_apart_from_the_answer(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "10", "--itl-ms", "5", "--reasoning-tokens", "6")
    _, records = run_load(sim.url, tmp_path, Workload(title="t"), [Sample("hi", 1, 12)] * 2)
    for r in records:
        assert r.ok and r.first_reasoning_ns == r.chunk_ns[0]
        assert r.first_content_ns == r.chunk_ns[6]


def test_completions_api(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "2")
    _, records = run_load(sim.url, tmp_path, Workload(title="t"), [Sample("hi", 1, 10)] * 3,
                          RequestSpec(api="completions"))
    assert all(r.ok and r.output_tokens == 10 and len(r.chunk_ns) == 10 for r in records)


def test_open_loop_keeps_its_own_clock(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "2")
    samples = [Sample("hi", 1, 4)] * 40
    run, records = run_load(sim.url, tmp_path, Workload(title="t", request_rate=40.0), samples)
    dues = sorted(r.due_ns - run.t0_ns for r in records)
    assert dues[0] == 0
    # 40 Poisson arrivals at 40 req/s last about a second; each leaves close to when it was due.
    assert 0.4e9 < dues[-1] < 2.5e9
    lags = [r.start_ns - r.due_ns for r in records]
    assert min(lags) >= 0 and sum(lags) / len(lags) < 5e6


def test_concurrency_cap_is_never_exceeded(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "20", "--itl-ms", "2")
    _, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=3), [Sample("hi", 1, 8)] * 12)
    assert peak_in_flight(records) == 3


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("http500", "HTTP 500"), ("cut", "stream cut mid-way"), ("badjson", "non-JSON chunk")],
)
def test_faults_become_failed_requests_with_a_reason(tmp_path, fault, reason):
    async def main():
        runner, port = await start_in_loop(SimConfig(ttft_ms=5, itl_ms=1, faults={fault: 1.0}))
        try:
            async with StreamClient(Target(f"http://127.0.0.1:{port}/v1", "m"), RequestSpec()) as client:
                with RecordWriter(tmp_path / "r.jsonl") as writer:
                    await run_workload(client, "w", Workload(title="t"), [Sample("hi", 1, 10)] * 3, 0, writer)
        finally:
            await runner.cleanup()

    run_async(main())
    records = list(read_records(tmp_path / "r.jsonl"))
    assert len(records) == 3
    assert all(not r.ok and r.error.startswith(reason) for r in records), [r.error for r in records]


def test_a_stalled_stream_times_out_and_is_recorded(tmp_path):
    async def main():
        runner, port = await start_in_loop(SimConfig(ttft_ms=5, itl_ms=1, faults={"stall": 1.0}))
        try:
            spec = RequestSpec(timeout_s=0.5)
            async with StreamClient(Target(f"http://127.0.0.1:{port}/v1", "m"), spec) as client:
                with RecordWriter(tmp_path / "r.jsonl") as writer:
                    await run_workload(client, "w", Workload(title="t"), [Sample("hi", 1, 10)] * 2, 0, writer)
        finally:
            await runner.cleanup()

    run_async(main())
    records = list(read_records(tmp_path / "r.jsonl"))
    assert [r.error for r in records] == ["timeout after 0.5 s (--timeout)"] * 2
    assert all(len(r.chunk_ns) == 1 for r in records)  # what arrived before the stall is kept


def test_unreachable_endpoint_is_a_user_error():
    with pytest.raises(GlmbenchError, match="cannot reach http://127.0.0.1:9/v1"):
        run_async(probe_target(Target("http://127.0.0.1:9/v1", "m"), timeout_s=2))


def test_served_model_is_read_from_v1_models(start_sim):
    sim = start_sim("--model", "my-glm")
    assert run_async(served_model(Target(sim.url, ""))) == "my-glm"


def test_sim_metrics_and_health(start_sim):
    import urllib.request

    sim = start_sim("--ttft-ms", "1", "--itl-ms", "1")
    with urllib.request.urlopen(f"http://127.0.0.1:{sim.port}/health") as resp:
        assert resp.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{sim.port}/metrics") as resp:
        text = resp.read().decode()
    assert "vllm:num_requests_running" in text and "vllm:generation_tokens_total" in text


def test_sim_rejects_bad_requests(tmp_path):
    import aiohttp

    async def main():
        runner, port = await start_in_loop(SimConfig())
        try:
            async with aiohttp.ClientSession() as s:
                async with s.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=b"not json") as r:
                    assert r.status == 400 and "JSON" in (await r.json())["error"]["message"]
                async with s.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"messages": [], "max_tokens": 0}) as r:
                    assert r.status == 400
                async with s.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                                  json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}) as r:
                    body = await r.json()
                    assert r.status == 200 and body["usage"]["completion_tokens"] <= 3
        finally:
            await runner.cleanup()

    run_async(main())


def test_batched_decode_writes_every_streams_chunk_at_the_same_step(start_sim, tmp_path):
    """``decode: batched``: one step clock for all streams, as a GPU batch emits tokens; the client still agrees."""
    sim = start_sim("--settings", json.dumps({"decode": "batched", "ttft_ms": 30, "itl_ms": 20}))
    samples = [Sample("hello " * 20, 20, 12)] * 16
    run, records = run_load(sim.url, tmp_path, Workload(title="t", max_concurrency=16), samples)
    assert all(r.ok for r in records), [r.error for r in records]
    truth = read_truth(sim.truth)
    writes = sorted(ns for entry in truth.values() for ns in entry["write_ns"])
    # Chunks leave in bursts, one per step: gaps inside a burst are tiny, between bursts about one step.
    gaps_ms = [(b - a) / 1e6 for a, b in zip(writes, writes[1:])]
    # The step clock is 20 ms; a loaded machine delays single steps (the next one is then due on the clock again),
    # so medians are held to the clock and single gaps only to its order.
    bursts = sorted(g for g in gaps_ms if g > 5)
    assert bursts and 15 <= bursts[len(bursts) // 2] <= 25 and all(g <= 45 for g in bursts), bursts
    assert len(bursts) <= 14  # 16 requests x 12 tokens in about 13 steps, not 192 separate writes
    for entry in truth.values():
        steps = sorted((b - a) / 1e6 for a, b in zip(entry["write_ns"], entry["write_ns"][1:]))
        assert 18 <= steps[len(steps) // 2] <= 22 and all(5 <= s <= 45 for s in steps), steps
    measured = compare_with_truth(records, truth)
    assert measured["matched"] == 16 and abs(measured["itl_mean"] - measured["itl_true_mean"]) < 0.5
