"""Free-running capacity: glmbench's load client against a raw C client, on one core each (issue 28, part 4).

Compiles ``benchmarks/c/sse_server.c`` and ``benchmarks/c/sse_client.c`` with gcc
into a temporary folder, starts the server pinned to the last core (a batched
step loop: every step writes the next token to every active stream, one send
per stream), and pins the clients to core 0. At each point (C streams, M tokens
per reply, a closed loop of R requests) it runs the C client, then glmbench's
client through its library (``StreamClient`` + ``run_workload``, connections
opened first), and compares tokens/s: content tokens over (last end - first
start), the same for both.

    python benchmarks/free_running.py                        # 64 and 512 streams, free-running, 3 runs
    python benchmarks/free_running.py --workers 2            # glmbench with 2 client processes (on core 0 too)
    python benchmarks/free_running.py --streams 512 --itl-us 20000 --ttft-us 100000 --tokens 256   # paced
    python benchmarks/free_running.py --streams 512 --runs 1 --profile /tmp/glmbench.prof           # cProfile
    python benchmarks/free_running.py --tokens-per-step 16   # 16 events a send: the server off the critical path

R is sized from a first round of C requests per client so that a run takes
about ``--seconds``. Every glmbench record must be ok with exactly M tokens and
the C client must count R x M tokens, or the script stops.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import resource
import shutil
import subprocess
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
from glmbench.util.loop import run_async

HERE = Path(__file__).resolve().parent
MODEL = "sse-bench"
PROMPT = "benchmark prompt " * 4


def build(tmp: Path) -> tuple[Path, Path]:
    """The server and the client, compiled into ``tmp``."""
    gcc = shutil.which("gcc") or "/usr/bin/gcc"
    out = []
    for name in ("sse_server", "sse_client"):
        exe = tmp / name
        subprocess.run([gcc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(HERE / "c" / f"{name}.c")],
                       check=True)
        out.append(exe)
    return out[0], out[1]


def cores() -> tuple[int, int]:
    """The client's core (the first) and the server's (the last)."""
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[0], allowed[-1]


def load() -> str:
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_c(client: Path, port: int, core: int, streams: int, requests: int, tokens: int) -> dict:
    """One run of the C client; its JSON line, checked."""
    cmd = ["taskset", "-c", str(core), str(client), "--port", str(port), "--streams", str(streams),
           "--requests", str(requests), "--max-tokens", str(tokens), "--model", MODEL]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"C client failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}{done.stdout}")
    res = json.loads(done.stdout)
    if res["tokens"] != requests * tokens or res["errors"] or res["bad_counts"]:
        sys.exit(f"C client counted wrong: {res} (expected {requests} x {tokens} tokens)")
    res["cpu_pct"] = 100 * res["cpu_s"] / res["duration_s"]
    res["sys_share"] = res["sys_s"] / max(res["cpu_s"], 1e-9)
    return res


def run_glmbench(port: int, tmp: Path, streams: int, requests: int, tokens: int, workers: int,
                 calibrate: float, profile: cProfile.Profile | None = None) -> dict:
    """One run of glmbench's client (this process, pinned to the client's core); with ``calibrate``, a first
    round of ``streams`` requests sizes ``requests`` (0) for a run of about ``calibrate`` seconds."""
    spec = RequestSpec(http_client="wire")
    target = Target(f"http://127.0.0.1:{port}/v1", MODEL)
    records_path = tmp / f"records-{time.monotonic_ns()}.jsonl"

    async def main():
        async with StreamClient(target, spec) as client:
            if workers == 1:  # one tiny request per stream: connections open (workers open their own)
                with RecordWriter(tmp / "warmup.jsonl") as writer:
                    await run_workload(client, "warmup", Workload(title="warmup"),
                                       [Sample("warm up", 2, 2)] * streams, 0, writer)
            n = requests
            if calibrate:
                path = tmp / f"calib-{time.monotonic_ns()}.jsonl"
                with RecordWriter(path) as writer:
                    await run_workload(client, "calibrate", Workload(title="calibrate", max_concurrency=streams),
                                       [Sample(PROMPT, 16, tokens)] * streams, 0, writer, workers=workers)
                n = size_requests(tokens_per_s(list(read_records(path)))[0], streams, tokens, calibrate)
            samples = [Sample(PROMPT, 16, tokens)] * n
            workload = Workload(title="bench", max_concurrency=streams)
            if profile is not None:
                profile.enable()
            try:
                with RecordWriter(records_path) as writer:
                    return await run_workload(client, "bench", workload, samples, 0, writer, workers=workers)
            finally:
                if profile is not None:
                    profile.disable()

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    run = run_async(main())
    sys_s = resource.getrusage(resource.RUSAGE_SELF).ru_stime - usage0.ru_stime  # calibration and warm-up too
    records = list(read_records(records_path))
    wrong = [r for r in records if not r.ok or len(r.chunk_ns) != tokens or r.output_tokens != tokens]
    if wrong:
        r = wrong[0]
        sys.exit(f"glmbench: {len(wrong)} of {len(records)} records not ok or not {tokens} tokens; first: ok={r.ok} "
                 f"chunks={len(r.chunk_ns)} output_tokens={r.output_tokens} error={r.error!r}")
    rate, duration = tokens_per_s(records)
    ttft = np.array([(r.first_content_ns - r.start_ns) / 1e6 for r in records])
    return {"requests": len(records), "tokens": sum(len(r.chunk_ns) for r in records), "duration_s": duration,
            "tokens_per_s": rate, "ttft_ms_mean": float(ttft.mean()), "ttft_ms_p50": float(np.percentile(ttft, 50)),
            "ttft_ms_p99": float(np.percentile(ttft, 99)),
            "e2e_ms_mean": float(np.mean([(r.end_ns - r.start_ns) / 1e6 for r in records])),
            "cpu_pct": 100 * run.client_cpu_s / duration, "sys_share": sys_s / max(run.client_cpu_s, 1e-9),
            "kernel_stamps": all(r.stamps == "kernel" for r in records),
            # What glmbench's own self-check says of the run (the figures it flags, if any).
            "flags": self_check(records, run.loop_lag_ns, run.client_cpu_s, duration, cap=streams)["client_flags"]}


def tokens_per_s(records) -> tuple[float, float]:
    """Content tokens over (last end - first start), as the C client counts; and that span in seconds."""
    span = (max(r.end_ns for r in records) - min(r.start_ns for r in records)) / 1e9
    return sum(len(r.chunk_ns) for r in records) / span, span


def size_requests(rate: float, streams: int, tokens: int, seconds: float) -> int:
    """Requests for about ``seconds`` at ``rate`` tokens/s: whole rounds of ``streams``, at least two."""
    rounds = max(2, math.ceil(seconds * rate / tokens / streams))
    return rounds * streams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, nargs="*", default=[64, 512])
    ap.add_argument("--tokens", type=int, default=512, help="tokens per reply (max_tokens)")
    ap.add_argument("--requests", type=int, default=0, help="requests per run (default: sized for --seconds)")
    ap.add_argument("--seconds", type=float, default=6.0, help="about how long each run takes, when sized")
    ap.add_argument("--runs", type=int, default=3, help="runs of each point; every run is listed, then the median")
    ap.add_argument("--workers", type=int, default=1, help="glmbench client processes (run_workload workers=)")
    ap.add_argument("--itl-us", type=int, default=0, help="server step clock; 0: free-running")
    ap.add_argument("--ttft-us", type=int, default=0, help="server delay of a stream's first token")
    ap.add_argument("--tokens-per-step", type=int, default=1,
                    help="server: tokens (events) in each step's one send; > 1 lowers the server's cost per token")
    ap.add_argument("--profile", type=Path, help="cProfile glmbench's timed runs into this file; top costs printed")
    args = ap.parse_args()

    client_core, server_core = cores()
    os.sched_setaffinity(0, {client_core})  # glmbench's client (and its workers, which inherit it)
    profile = cProfile.Profile() if args.profile else None
    mode = "free-running" if not args.itl_us else f"ITL {args.itl_us} us, TTFT {args.ttft_us} us"
    mode += f", {args.tokens_per_step} token(s) a step"
    print(f"server on core {server_core} ({mode}), clients on core {client_core}; {args.tokens} tokens per reply; "
          f"glmbench workers {args.workers}\n", flush=True)
    head = ("point", "run", "requests", "C tokens/s", "glmbench tokens/s", "ratio", "C TTFT p99 (ms)",
            "glmbench TTFT p99 (ms)", "C CPU% (sys)", "glmbench CPU% (sys)", "C tokens/read", "glmbench self-check",
            "load before")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head), flush=True)
    summary = []
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        server_exe, client_exe = build(tmp)
        port = free_port()
        cmd = ["taskset", "-c", str(server_core), str(server_exe), "--port", str(port), "--itl-us", str(args.itl_us),
               "--ttft-us", str(args.ttft_us), "--tokens-per-step", str(args.tokens_per_step), "--model", MODEL]
        proc = ServerProcess(cmd, tmp / "server.log")
        try:
            proc.wait_ready(f"http://127.0.0.1:{port}/health", 30)
            for streams in args.streams:
                label = f"{streams} streams x {args.tokens} tok"
                if args.requests:
                    n_c = n_g = args.requests
                elif args.itl_us:
                    n_c = n_g = size_requests(streams * 1e6 / args.itl_us, streams, args.tokens, args.seconds)
                else:
                    n_c = size_requests(run_c(client_exe, port, client_core, streams, streams, args.tokens)
                                        ["tokens_per_s"], streams, args.tokens, args.seconds)
                    n_g = 0  # sized by glmbench's own first round
                runs = []
                for run_no in range(1, args.runs + 1):
                    before = load()
                    c = run_c(client_exe, port, client_core, streams, n_c, args.tokens)
                    g = run_glmbench(port, tmp, streams, n_g, args.tokens, args.workers, calibrate=0.0 if n_g else args.seconds,
                                     profile=profile)
                    n_g = g["requests"]
                    runs.append((c, g))
                    row = (label, str(run_no), f"{c['requests']} / {g['requests']}", f"{c['tokens_per_s']:.0f}",
                           f"{g['tokens_per_s']:.0f}", f"{g['tokens_per_s'] / c['tokens_per_s']:.2f}",
                           f"{c['ttft_ms_p99']:.2f}", f"{g['ttft_ms_p99']:.2f}",
                           f"{c['cpu_pct']:.0f} ({100 * c['sys_share']:.0f}%)",
                           f"{g['cpu_pct']:.0f} ({100 * g['sys_share']:.0f}%)", f"{c['tokens'] / c['reads']:.1f}",
                           ", ".join(g["flags"]) or "clean", before)
                    print("| " + " | ".join(row) + " |", flush=True)
                c_med = float(np.median([c["tokens_per_s"] for c, _ in runs]))
                g_med = float(np.median([g["tokens_per_s"] for _, g in runs]))
                summary.append((label, c_med, g_med, float(np.median([c["ttft_ms_p99"] for c, _ in runs])),
                                float(np.median([g["ttft_ms_p99"] for _, g in runs]))))
        finally:
            proc.stop()
    print(f"\nmedians of {args.runs} run(s); {load()} after:\n")
    head = ("point", "C tokens/s", "glmbench tokens/s", "ratio", "C TTFT p99 (ms)", "glmbench TTFT p99 (ms)")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for label, c_med, g_med, c_p99, g_p99 in summary:
        print(f"| {label} | {c_med:.0f} | {g_med:.0f} | {g_med / c_med:.2f} | {c_p99:.2f} | {g_p99:.2f} |")
    if profile is not None:
        profile.dump_stats(str(args.profile))
        print(f"\nglmbench's timed runs, cProfile (written to {args.profile}), top 25 by own time:\n")
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
