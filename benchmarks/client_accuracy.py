"""How far glmbench's load client is from the truth, and how many chunks/s it keeps up with.

Starts the simulator as its own process pinned to the last core, with a truth
log of the moment each chunk left; runs glmbench's client pinned to the first
core(s); joins the two on response ids.

    python benchmarks/client_accuracy.py                      # the default sweep
    python benchmarks/client_accuracy.py --concurrency 512 --requests 1024
    python benchmarks/client_accuracy.py --itl-ms 5 --ttft-ms 50 --concurrency 128 256 512 --rates --workers 1 2 4

Prints, per load point and number of client processes: measured vs true TTFT
(mean and p99), the server's intake (its receipt of the whole request minus the
client putting it on the wire: its accept queue), the client's own TTFT error
(first-chunk timestamp minus the server's first write, mean and p99), ITL
measured vs true (and the p99s' difference), the client's own E2E error (last
chunk; the E2E p99s' difference includes intake), the per-chunk
delivery p99, the client's event-loop delay, CPU and self-check verdict; the
open-loop points' achieved rate and dispatch lag; each point against the
targets (TTFT error mean <= 1 ms and p99 <= 5 ms, ITL error <= 0.2 ms); and the
most chunks/s per client process count at which the delivery delay stays under
1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from glmbench.backends.process import ServerProcess, free_port
from glmbench.datasets.base import Sample
from glmbench.load.client import StreamClient, Target
from glmbench.load.runner import run_workload
from glmbench.load.workload import RequestSpec, Workload
from glmbench.metrics.client import self_check
from glmbench.results.records import RecordWriter, read_records
from glmbench.sim.truth import compare_with_truth, read_truth
from glmbench.util.loop import run_async


def start_sim(tmp: Path, ttft_ms: float, itl_ms: float, cpu: int | None,
              model: str = "glm-4.7-flash-sim", decode: str = "per-request",
              settings: dict | None = None) -> tuple[ServerProcess, int, Path]:
    port = free_port()
    truth = tmp / f"truth-{port}.jsonl"
    cmd = [sys.executable, "-m", "glmbench", "sim", "--port", str(port), "--ttft-ms", str(ttft_ms),
           "--itl-ms", str(itl_ms), "--truth-log", str(truth), "--model", model]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    settings = {**({"decode": decode} if decode != "per-request" else {}), **(settings or {})}
    if settings:
        cmd += ["--settings", json.dumps(settings)]
    proc = ServerProcess(cmd, tmp / f"sim-{port}.log")
    proc.wait_ready(f"http://127.0.0.1:{port}/health", 30)
    return proc, port, truth


def take_truth(path: Path) -> dict[str, dict]:
    """The truth log of the run that just ended, then cleared for the next one."""
    time.sleep(0.5)  # let the simulator flush it
    truth = read_truth(path)
    path.write_bytes(b"")
    return truth


def pin_client() -> int | None:
    """Keep this process off the last core, which the simulator gets; that core (None on a one-core machine)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    os.sched_setaffinity(0, set(cores[:-1]))
    return cores[-1]


def span_rate(times_ns) -> float:
    """Requests per second between the first and the last of ``times_ns``: (n - 1) / span."""
    times = sorted(times_ns)
    return (len(times) - 1) / ((times[-1] - times[0]) / 1e9) if len(times) > 1 else float("nan")


def measure(port: int, truth_path: Path, tmp: Path, concurrency: int | None, rate: float | None,
            requests: int, tokens: int, warm: bool = True, workers: int = 1, http_client: str = "wire") -> dict:
    """One load point through glmbench's client, against the truth log.

    ``warm`` opens the connections first (one tiny request per stream), so that
    a storm of new connections (the server's accept queue) stays out of the
    figures; ``workers`` > 1 sends from that many client processes.
    """
    samples = [Sample("benchmark prompt " * 16, 48, tokens)] * requests
    spec = RequestSpec(http_client=http_client)
    records_path = tmp / f"records-{time.monotonic_ns()}.jsonl"
    workload = Workload(title="bench", max_concurrency=concurrency, request_rate=rate)

    async def main():
        async with StreamClient(Target(f"http://127.0.0.1:{port}/v1", "sim"), spec) as client:
            if warm and workers == 1:
                warm_up = [Sample("warm up", 2, 2)] * (concurrency or 64)
                with RecordWriter(tmp / "warmup.jsonl") as writer:
                    await run_workload(client, "warmup", Workload(title="warmup"), warm_up, 0, writer)
            with RecordWriter(records_path) as writer:
                return await run_workload(client, "bench", workload, samples, 0, writer, workers=workers)

    run = run_async(main())
    cpu = run.client_cpu_s
    records = list(read_records(records_path))
    result = compare_with_truth(records, take_truth(truth_path))
    duration = (run.end_ns - run.t0_ns) / 1e9
    chunks = sum(len(r.chunk_ns) for r in records)
    result.update(self_check(records, run.loop_lag_ns, cpu, duration, cap=concurrency))
    result["chunks_per_s"] = chunks / duration
    result["failed"] = sum(1 for r in records if not r.ok)
    # The client's own delay: how much later it read each chunk than the kernel received it.
    delays = [d for r in records for d in r.chunk_delay_ns]
    result["client_delay_p99"] = float(np.percentile(delays, 99)) / 1e6 if delays else float("nan")
    result["kernel_stamps"] = bool(records) and all(r.stamps == "kernel" for r in records if r.ok)
    if rate:
        result["scheduled_rate"] = span_rate([r.due_ns for r in records])
        result["achieved_rate"] = span_rate([r.start_ns for r in records])
    lags = [(r.start_ns - r.due_ns) / 1e6 for r in records]
    result["dispatch_lag_mean"] = sum(lags) / len(lags)
    # The first wave (every request due at the start: a burst, a closed loop's first N): its last on the wire.
    first = [r.wire_ns for r in records if r.due_ns == run.t0_ns and r.wire_ns]
    result["first_wave_ms"] = (max(first) - run.t0_ns) / 1e6 if first else float("nan")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="*", default=[8, 64, 128, 256, 384, 512])
    ap.add_argument("--rates", type=float, nargs="*", default=[5, 10, 50])
    ap.add_argument("--requests", type=int, default=0, help="requests per point (default 2 x concurrency, 30 s of arrivals)")
    ap.add_argument("--bursts", type=int, nargs="*", default=[],
                    help="burst points: N requests all due at once (the first wave's spread is the figure)")
    ap.add_argument("--runs", type=int, default=1, help="runs of each point; every run is listed, then the median")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--ttft-ms", type=float, default=100)
    ap.add_argument("--itl-ms", type=float, default=20)
    ap.add_argument("--decode", choices=["per-request", "batched"], default="per-request",
                    help="the simulator's decode: batched writes every stream's chunk at one step clock, as a GPU")
    ap.add_argument("--events-per-write", type=int, default=1,
                    help="N > 1: every step writes N tokens as N events in one write (LightLLM's style under MTP), "
                         "for event rates past what one server core can send as single writes")
    ap.add_argument("--http-client", choices=["wire", "aiohttp"], default="wire",
                    help="wire: plain sockets with kernel receive stamps (the default); aiohttp: the earlier client")
    ap.add_argument("--workers", type=int, nargs="*", default=[1],
                    help="client processes to try at each point (glmbench run --client-workers)")
    args = ap.parse_args()

    sim_cpu = pin_client()
    print(f"client on cores {sorted(os.sched_getaffinity(0))}, simulator on core {sim_cpu}; "
          f"TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms, {args.tokens} tokens, "
          f"{args.events_per_write} token(s) per write, one event each, "
          f"{args.decode} decode, {args.http_client} client. All in ms.\n")
    head = ("load", "run", "procs", "chunks/s", "TTFT meas", "TTFT true", "intake", "1st deliv", "1st deliv p99",
            "p99 meas", "p99 true", "ITL meas", "ITL true", "ITL err", "ITL p99 err", "E2E err", "E2E p99 err",
            "deliv p99", "read delay p99", "loop p99", "issue lag p99", "1st wave", "CPU%", "self-check", "failed")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head), flush=True)
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        settings = ({"dialect": "lightllm", "spec_tokens": args.events_per_write - 1, "spec_accept": 1.0}
                    if args.events_per_write > 1 else None)
        proc, port, truth = start_sim(tmp, args.ttft_ms, args.itl_ms, sim_cpu, decode=args.decode, settings=settings)
        try:
            points = [(f"{c} streams", c, None, args.requests or 2 * c) for c in args.concurrency]
            points += [(f"{r:g} req/s", None, r, args.requests or int(30 * r)) for r in args.rates]
            points += [(f"burst {n}", None, None, n) for n in args.bursts]
            medians: list[str] = []
            capacity: dict[int, float] = {}
            verdicts, notes = [], []
            runs_of_point: dict[tuple[str, int], list[dict]] = {}
            for label, conc, rate, n in points:
                for workers, run_no in ((w, i) for w in args.workers for i in range(1, args.runs + 1)):
                    res = measure(port, truth, tmp, conc, rate, n, args.tokens, workers=workers,
                                  http_client=args.http_client)
                    runs_of_point.setdefault((label, workers), []).append(res)
                    if res["delivery_mean"] < 1.0 and res["first_delivery_mean"] < 1.0:
                        capacity[workers] = max(capacity.get(workers, 0.0), res["chunks_per_s"])
                    check = "**saturated**" if res["client_saturated"] else "ok"
                    row = (label, str(run_no), str(workers), f"{res['chunks_per_s']:.0f}", f"{res['ttft_mean']:.2f}",
                           f"{res['ttft_true_mean']:.2f}", f"{res['intake_mean']:.2f}",
                           f"{res['first_delivery_mean']:.2f}", f"{res['first_delivery_p99']:.2f}",
                           f"{res['ttft_p99']:.2f}", f"{res['ttft_true_p99']:.2f}", f"{res['itl_mean']:.3f}",
                           f"{res['itl_true_mean']:.3f}", f"{res['itl_mean'] - res['itl_true_mean']:+.3f}",
                           f"{res['itl_p99'] - res['itl_true_p99']:+.3f}",
                           f"{res['e2e_mean'] - res['e2e_true_mean'] - res['intake_mean']:+.2f}",
                           f"{res['e2e_p99'] - res['e2e_true_p99']:+.2f}",
                           f"{res['delivery_p99']:.2f}", f"{res['client_delay_p99']:.2f}", f"{res['loop_lag_ms_p99']:.2f}",
                           f"{res['issue_lag_ms_p99']:.2f}", f"{res['first_wave_ms']:.2f}",
                           f"{res['client_cpu_pct']:.0f}", check, str(res["failed"]))
                    print("| " + " | ".join(row) + " |", flush=True)
                    if rate:
                        notes.append(f"{label} x{workers}: schedule {res['scheduled_rate']:.3f} req/s, sent "
                                     f"{res['achieved_rate']:.3f} req/s "
                                     f"({100 * (res['achieved_rate'] / res['scheduled_rate'] - 1):+.2f}%), "
                                     f"dispatch lag mean {res['dispatch_lag_mean']:.3f} ms")
                    # The client's own error: its first-chunk timestamp against the server's
                    # first write (TTFT, mean and p99) and its ITL mean against the server's gaps.
                    mean_err, p99_err = res["first_delivery_mean"], res["first_delivery_p99"]
                    itl_err = res["itl_mean"] - res["itl_true_mean"]
                    ok = abs(mean_err) <= 1.0 and abs(p99_err) <= 5.0 and abs(itl_err) <= 0.2
                    verdicts.append(f"{label} x{workers}: TTFT error mean {mean_err:+.2f} ms, p99 {p99_err:+.2f} ms; "
                                    f"ITL error {itl_err:+.3f} ms -> {'met' if ok else 'NOT met'}")
            if args.runs > 1:
                for (label, workers), results in runs_of_point.items():
                    med = {key: float(np.median([r[key] for r in results]))
                           for key in ("first_delivery_mean", "first_delivery_p99", "issue_lag_ms_p99",
                                       "first_wave_ms", "chunks_per_s")}
                    clean = sum(not r["client_saturated"] for r in results)
                    medians.append(f"  {label} x{workers}, median of {len(results)}: TTFT error mean "
                                   f"{med['first_delivery_mean']:+.2f} ms, p99 {med['first_delivery_p99']:+.2f} ms; "
                                   f"issue lag p99 {med['issue_lag_ms_p99']:.2f} ms; first wave on the wire "
                                   f"{med['first_wave_ms']:.2f} ms; {med['chunks_per_s']:.0f} chunks/s; "
                                   f"self-check clean in {clean} of {len(results)}")
                print("\nmedians:\n" + "\n".join(medians))
            print("\n" + "\n".join(notes))
            print("\nthe client's own error (targets: TTFT mean <= 1 ms, p99 <= 5 ms; ITL mean <= 0.2 ms):")
            print("\n".join(f"  {v}" for v in verdicts))
            for workers, chunks in sorted(capacity.items()):
                print(f"most chunks/s with {workers} client process(es) and mean delivery delay under 1 ms: "
                      f"{chunks:.0f}")
        finally:
            proc.stop()


if __name__ == "__main__":
    main()
