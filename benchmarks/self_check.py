"""Does the client's self-check flag exactly the figures its own lateness moved? Precision and recall.

Starts the simulator pinned to the last core with a truth log of when each
request arrived and each chunk left; runs glmbench's client (core 0) with delays
of known size injected into the client process only, by wrapping it here
(nothing in glmbench is changed):

- ``loop``: the event loop is blocked for D ms about every ``--period-ms`` (a
  garbage collection, a busy callback, a descheduled process): reads and sends
  both wait;
- ``send``: each request waits uniform(0, 2D) ms (mean D) before it is sent,
  without blocking the loop: only sends are late.

over a grid of D, closed and open loop, user-space stamps (``aiohttp``) and
kernel receive stamps (``wire``). Each run's truth, from the simulator's log, is
which figures the client moved past their bars (the bars of
``glmbench.metrics.client``):

- TTFT: each request's first-chunk stamp minus the server's first write, mean >
  1 ms or p99 > 5 ms;
- ITL: pooled gaps as measured against the server's, the means more than 0.2 ms
  apart or the p99s more than 5 ms;
- E2E: last-chunk stamp minus the server's last write, mean > 1 ms or p99 > 5 ms;
- from schedule: what the figures from schedule hold of the client's own delay
  (``ttft_due - ttft``: the request on the wire minus the time the schedule set
  for it, for the requests the schedule spread out), mean > 1 ms or p99 > 10
  ms. The client's stamps of its own sends are on the schedule's clock and
  exact, so this is the self-check's own measure (its issue lag): the family
  checks the wording, not an estimate. The server's receipt minus due (which
  adds the server's intake, its own part of TTFT) is printed beside it.

The flags are the self-check's (``glmbench.metrics.client.self_check``, what
every summary row carries): ``ttft``, ``itl``, ``e2e``, and ``ttft_due`` for the
figures from schedule. Prints a table per run and precision and recall per
figure family and overall.

    python benchmarks/self_check.py                    # the default grid: 66 runs (~5 min on 2 cores)
    python benchmarks/self_check.py --delays 0 10 --clients wire --loads closed
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from client_accuracy import pin_client, start_sim, take_truth  # benchmarks/ is on sys.path when run as a script

from glmbench.datasets.base import Sample
from glmbench.load.client import StreamClient, Target
from glmbench.load.runner import run_workload
from glmbench.load.workload import RequestSpec, Workload
from glmbench.metrics.client import (
    ISSUE_LAG_LIMIT_MS,
    ISSUE_LAG_MEAN_LIMIT_MS,
    ITL_ERROR_MEAN_LIMIT_MS,
    ITL_ERROR_P99_LIMIT_MS,
    TTFT_ERROR_MEAN_LIMIT_MS,
    TTFT_ERROR_P99_LIMIT_MS,
    self_check,
)
from glmbench.results.records import RecordWriter, RequestRecord, read_records
from glmbench.util.loop import run_async

FAMILIES = ("ttft", "itl", "e2e", "schedule")
# The self-check's flag that stands for each family.
FLAG = {"ttft": "ttft", "itl": "itl", "e2e": "e2e", "schedule": "ttft_due"}


async def _block_loop(delay_ms: float, period_ms: float, rng: random.Random) -> None:
    """Block the event loop for ``delay_ms`` about every ``period_ms`` (jittered, so as not to beat with the
    simulator's step or the loop monitor's 5 ms timer)."""
    while True:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * period_ms / 1e3)
        time.sleep(delay_ms / 1e3)


def _delay_sends(client: StreamClient, delay_ms: float, rng: random.Random) -> None:
    """Each request of ``client`` waits uniform(0, 2 x delay_ms) before it is sent; the loop goes on meanwhile.

    The sender calls ``client.start`` (or ``client.send`` in older versions) when a request is due; the wrapper
    sleeps first, then makes the call, so that the request's own send time is the late one."""
    name = "start" if hasattr(client, "start") else "send"
    sent: Callable[..., Awaitable[None]] = getattr(client, name)

    def late(*args: Any, **kwargs: Any) -> Awaitable[None]:
        async def after() -> None:
            await asyncio.sleep(rng.uniform(0, 2 * delay_ms) / 1e3)
            await sent(*args, **kwargs)
        return after()

    setattr(client, name, late)


def _over(values: list[float], mean_limit: float, p99_limit: float) -> tuple[float, float, bool]:
    arr = np.asarray(values, dtype=np.float64) / 1e6 if values else np.zeros(1)
    mean, p99 = float(arr.mean()), float(np.percentile(arr, 99))
    return mean, p99, abs(mean) > mean_limit or abs(p99) > p99_limit


def truth_of(records: list[RequestRecord], truth: dict[str, dict]) -> dict[str, Any]:
    """The client's true error in each family against the simulator's log, and whether it passes the bars."""
    first_err, last_err, gaps, true_gaps, sched, received = [], [], [], [], [], []
    first_due = min((r.due_ns for r in records), default=0)
    for r in records:
        if r.due_ns != first_due and r.start_ns:
            sched.append(r.start_ns - r.due_ns)
        entry = truth.get(r.response_id or "")
        if entry is None:
            continue
        if r.due_ns != first_due:
            received.append(entry["recv_ns"] - r.due_ns)
        writes = entry["write_ns"]
        if len(writes) != len(r.chunk_ns) and sum(entry.get("tokens", ())) == len(r.chunk_ns):
            # One event per token (LightLLM's style): a step of k tokens is k events in one write.
            writes = [w for w, k in zip(writes, entry["tokens"]) for _ in range(k)]
        if not r.ok or len(writes) != len(r.chunk_ns):
            continue
        first_err.append(r.chunk_ns[0] - writes[0])
        last_err.append(r.chunk_ns[-1] - writes[-1])
        gaps.extend(np.diff(r.chunk_ns))
        true_gaps.extend(np.diff(writes))
    out: dict[str, Any] = {"matched": len(first_err)}
    out["ttft_mean"], out["ttft_p99"], ttft_off = _over(first_err, TTFT_ERROR_MEAN_LIMIT_MS, TTFT_ERROR_P99_LIMIT_MS)
    out["e2e_mean"], out["e2e_p99"], e2e_off = _over(last_err, TTFT_ERROR_MEAN_LIMIT_MS, TTFT_ERROR_P99_LIMIT_MS)
    out["sched_mean"], out["sched_p99"], sched_off = _over(sched, ISSUE_LAG_MEAN_LIMIT_MS, ISSUE_LAG_LIMIT_MS)
    out["recv_mean"], out["recv_p99"], _ = _over(received, 0, 0)
    g, t = np.asarray(gaps, dtype=np.float64) / 1e6, np.asarray(true_gaps, dtype=np.float64) / 1e6
    out["itl_mean"] = float(g.mean() - t.mean()) if len(g) else 0.0
    out["itl_p99"] = float(np.percentile(g, 99) - np.percentile(t, 99)) if len(g) else 0.0
    itl_off = abs(out["itl_mean"]) > ITL_ERROR_MEAN_LIMIT_MS or abs(out["itl_p99"]) > ITL_ERROR_P99_LIMIT_MS
    out["off"] = {f for f, off in zip(FAMILIES, (ttft_off, itl_off, e2e_off, sched_off)) if off}
    return out


def measure(port: int, truth_path: Path, tmp: Path, client_kind: str, conc: int | None, rate: float | None,
            requests: int, tokens: int, inject: str, delay_ms: float, period_ms: float, seed: int) -> dict[str, Any]:
    """One run: the records, the self-check's verdict on them and the truth."""
    samples = [Sample("benchmark prompt " * 16, 48, tokens)] * requests
    workload = Workload(title="bench", max_concurrency=conc, request_rate=rate)
    path = tmp / f"records-{time.monotonic_ns()}.jsonl"
    rng = random.Random(seed)

    async def main():
        async with StreamClient(Target(f"http://127.0.0.1:{port}/v1", "sim"), RequestSpec(http_client=client_kind)) \
                as client:
            with RecordWriter(tmp / "warmup.jsonl") as writer:  # connections open before the clock
                await run_workload(client, "warmup", Workload(title="warmup"), [Sample("warm up", 2, 2)] * (conc or 32),
                                   0, writer)
            blocker = None
            if inject == "send" and delay_ms:
                _delay_sends(client, delay_ms, rng)
            elif inject == "loop" and delay_ms:
                blocker = asyncio.get_running_loop().create_task(_block_loop(delay_ms, period_ms, rng))
            try:
                with RecordWriter(path) as writer:
                    return await run_workload(client, "bench", workload, samples, seed, writer)
            finally:
                if blocker is not None:
                    blocker.cancel()

    run = run_async(main())
    records = list(read_records(path))
    truth = truth_of(records, take_truth(truth_path))
    check = self_check(records, run.loop_lag_ns, run.client_cpu_s, (run.end_ns - run.t0_ns) / 1e9, cap=conc)
    flags = set(check["client_flags"])  # type: ignore[arg-type]
    truth["flagged"] = {f for f in FAMILIES if FLAG[f] in flags}
    truth["check"] = check
    truth["failed"] = sum(1 for r in records if not r.ok)
    return truth


def _cell(family: str, res: dict[str, Any]) -> str:
    off, flagged = family in res["off"], family in res["flagged"]
    return {(True, True): "off, flagged", (False, False): "-", (True, False): "**off, missed**",
            (False, True): "**flagged, not off**"}[off, flagged]


def _series(args: argparse.Namespace) -> list[tuple[int, str, str, str, float]]:
    """(events per write, client, load, injection, D) of every run, in order: the whole grid at one event per
    write; with ``--together N``, the wire client again against a server writing N events at once, under loop
    blocks only (its chunks share stamps by the server's doing; aiohttp's user stamps see nothing of that)."""
    grid = [(kind, d) for kind in args.inject for d in args.delays if d]
    grid = [("none", 0.0)] * (0 in args.delays) + sorted(grid)
    runs = [(1, c, load, kind, d) for c in args.clients for load in args.loads for kind, d in grid]
    if args.together > 1 and "wire" in args.clients:
        runs += [(args.together, "wire", load, kind, d) for load in args.loads for kind, d in grid if kind != "send"]
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", nargs="*", default=["wire", "aiohttp"], choices=["wire", "aiohttp"])
    ap.add_argument("--loads", nargs="*", default=["closed", "open"], choices=["closed", "open"])
    ap.add_argument("--concurrency", type=int, default=32, help="the closed loop's streams")
    ap.add_argument("--rate", type=float, default=40.0, help="the open loop's Poisson rate (req/s)")
    ap.add_argument("--requests", type=int, default=160)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--ttft-ms", type=float, default=50)
    ap.add_argument("--itl-ms", type=float, default=10)
    ap.add_argument("--inject", nargs="*", default=["loop", "send"], choices=["loop", "send"])
    ap.add_argument("--delays", type=float, nargs="*", default=[0, 1, 2, 5, 10, 20, 40], help="D in ms")
    ap.add_argument("--period-ms", type=float, default=100.0, help="how often a loop block comes, on average")
    ap.add_argument("--decode", choices=["per-request", "batched"], default="per-request")
    ap.add_argument("--together", type=int, default=3,
                    help="N > 1: the wire client's runs again against a server that writes N events at once "
                         "(LightLLM's one event per token under MTP); 1: none")
    args = ap.parse_args()

    sim_cpu = pin_client()
    print(f"client on cores {sorted(os.sched_getaffinity(0))}, simulator on core {sim_cpu}; TTFT {args.ttft_ms:g} ms, "
          f"ITL {args.itl_ms:g} ms, {args.tokens} tokens, {args.decode} decode; closed loop {args.concurrency} streams, "
          f"open loop {args.rate:g} req/s, {args.requests} requests a run; loop blocks about every "
          f"{args.period_ms:g} ms. Errors in ms (ITL: the means' and the p99s' difference; from schedule: on "
          f"the wire minus due); est.: the self-check's estimate from merged reads (kernel stamps).\n")
    head = ("events/write", "client", "load", "inject", "D ms", "TTFT err mean/p99", "est. TTFT p99",
            "ITL err mean/p99", "est. ITL p99", "E2E err mean/p99", "sched mean/p99", "server recv - due", "loop p99",
            "merged reads late/server", "flags", "TTFT", "ITL", "E2E", "from schedule")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head), flush=True)
    runs: list[dict[str, Any]] = []
    sims: dict[int, tuple[Any, int, Path]] = {}
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        try:
            for n, (events, client_kind, load, inject, delay) in enumerate(_series(args)):
                if events not in sims:
                    settings = ({"dialect": "lightllm", "spec_tokens": events - 1, "spec_accept": 1.0}
                                if events > 1 else None)
                    sims[events] = start_sim(tmp, args.ttft_ms, args.itl_ms, sim_cpu, decode=args.decode,
                                             settings=settings)
                _, port, truth = sims[events]
                conc, rate = (args.concurrency, None) if load == "closed" else (None, args.rate)
                res = measure(port, truth, tmp, client_kind, conc, rate, args.requests, args.tokens, inject, delay,
                              args.period_ms, seed=n)
                runs.append(res)
                check = res["check"]
                merged = "-" if "merged_reads" not in check else f"{check['merged_reads']}/{check['merged_reads_server']}"
                est = [f"{check[k]:+.1f}" if k in check else "-" for k in ("ttft_merge_error_ms_p99",
                                                                           "itl_merge_error_ms_p99")]
                row = (str(events), client_kind, f"{conc} streams" if conc else f"{rate:g} req/s", inject, f"{delay:g}",
                       f"{res['ttft_mean']:+.2f} / {res['ttft_p99']:+.1f}", est[0],
                       f"{res['itl_mean']:+.3f} / {res['itl_p99']:+.1f}", est[1],
                       f"{res['e2e_mean']:+.2f} / {res['e2e_p99']:+.1f}",
                       f"{res['sched_mean']:.2f} / {res['sched_p99']:.1f}",
                       f"{res['recv_mean']:.2f} / {res['recv_p99']:.1f}", f"{check['loop_lag_ms_p99']:.1f}",
                       merged, ",".join(check["client_flags"]) or "-", *(_cell(f, res) for f in FAMILIES))
                print("| " + " | ".join(row) + " |", flush=True)
                if res["failed"]:
                    print(f"  ({res['failed']} requests failed)", flush=True)
        finally:
            for proc, _, _ in sims.values():
                proc.stop()

    print("\n| figure | runs off | flagged | right flags | precision | recall |\n|---|---|---|---|---|---|")
    tp_all = fp_all = fn_all = 0
    for family in FAMILIES:
        tp = sum(1 for r in runs if family in r["off"] and family in r["flagged"])
        fp = sum(1 for r in runs if family not in r["off"] and family in r["flagged"])
        fn = sum(1 for r in runs if family in r["off"] and family not in r["flagged"])
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        print(f"| {family} | {tp + fn} | {tp + fp} | {tp} | {_ratio(tp, tp + fp)} | {_ratio(tp, tp + fn)} |")
    print(f"| **all** | {tp_all + fn_all} | {tp_all + fp_all} | {tp_all} | {_ratio(tp_all, tp_all + fp_all)} | "
          f"{_ratio(tp_all, tp_all + fn_all)} |")
    print(f"\n{len(runs)} runs, {len(runs) * len(FAMILIES)} figure verdicts")


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f} ({a}/{b})" if b else "- (0/0)"


if __name__ == "__main__":
    main()
