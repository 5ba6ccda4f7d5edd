"""AIPerf and GuideLLM (and glmbench's client) against one simulator and its truth log.

Same method as vs_vllm_bench.py: one `glmbench sim` (TTFT 100 ms, ITL 20 ms, one
token per chunk, --truth-log) pinned to the last core; each client, one after the
other, pinned to the other core(s) with `taskset`, at concurrency C with 2C
requests of ~48 prompt tokens and exactly 256 output tokens (ignore_eos). The
tools run offline from their own venvs under ~/.cache/glmbench/ with the local
tiny-model tokenizer (`glmbench tiny-model /tmp/tiny`):

  AIPerf 0.13.0    `aiperf profile --endpoint-type chat --streaming --concurrency C --request-count 2C
                    --isl 48 --isl-stddev 0 --osl 256 --osl-stddev 0 --extra-inputs ignore_eos:true`
                    (reads profile_export.jsonl: per request `request_start_ns` and TTFT, and the
                    summary's TTFT and inter-chunk latency; its token ITL is skipped because it
                    re-tokenizes the text with the tiny tokenizer). NOTE: aiperf 0.13.0 cannot load
                    a local tokenizer folder when HF_HUB_OFFLINE is set (it validates the path as a
                    hub repo id), so it runs without it, with HF_ENDPOINT pointed at a closed port so
                    that any hub call would fail instead of downloading.
  GuideLLM 0.8.1   `guidellm run --scenario FILE` (openai_http backend, concurrent profile, streams C,
                    max_requests 2C, synthetic_text 48/256, extras.body.ignore_eos, json output);
                    HF_HUB_OFFLINE=1. Its JSON keeps each request's response id, start time and TTFT.

Truth for each run is the simulator's log written during that run (cleared between runs):
TTFT true = first write - receipt, where receipt is stamped once the whole request (body
included) has been read; "body wait" (receipt - headers parsed, on the truth row) is the
part of intake spent waiting for the client to finish sending its body (a slow client's
cost, charged to the client's side of the split). "err" = tool mean - truth mean. Both tools stamp
wall-clock time (time.time), not CLOCK_MONOTONIC; the script converts with one offset
(time.time_ns() - time.monotonic_ns(), read at each run) to split TTFT as
vs_vllm_bench.py does: intake = receipt - client start, 1st deliv = client first token -
server first write (means of differences; GuideLLM's joined on response ids). The split is
good to the wall/monotonic drift over a run (microseconds unless NTP steps the clock).

    python benchmarks/vs_aiperf_guidellm.py                         # C = 8 64
    python benchmarks/vs_aiperf_guidellm.py --concurrency 8 64 256 512 --glmbench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from client_accuracy import measure  # noqa: E402

from glmbench.backends.process import ServerProcess, free_port  # noqa: E402
from glmbench.sim.truth import read_truth  # noqa: E402

CACHE = Path("~/.cache/glmbench").expanduser()
AIPERF, GUIDELLM = CACHE / "aiperf-venv" / "bin" / "aiperf", CACHE / "guidellm-venv" / "bin" / "guidellm"
MODEL = "glm-4.7-flash-sim"


def truth_stats(truth_path: Path) -> tuple[dict, dict]:
    time.sleep(0.5)  # let the simulator flush its truth log
    truth = read_truth(truth_path)
    truth_path.write_bytes(b"")
    t_ttft = np.array([(e["write_ns"][0] - e["recv_ns"]) / 1e6 for e in truth.values()])
    t_itl = np.concatenate([np.diff(e["write_ns"]) for e in truth.values()]) / 1e6
    return truth, {"ttft_true_mean": t_ttft.mean(), "ttft_true_p99": np.percentile(t_ttft, 99),
                   "itl_true_mean": t_itl.mean(), "matched": len(truth),
                   "body_wait": np.mean([(e["recv_ns"] - e["head_ns"]) / 1e6 for e in truth.values()])}


def run_tool(cmd: list[str], log: Path, env: dict) -> None:
    with log.open("w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}).returncode
    if code:
        sys.exit(f"{cmd[0]} failed ({code}); the tail of its log:\n{log.read_text()[-3000:]}")


def run_aiperf(port: int, truth_path: Path, tmp: Path, conc: int, tokens: int, tok: str, cores: str) -> dict:
    out = tmp / f"aiperf-c{conc}"
    off = time.time_ns() - time.monotonic_ns()
    run_tool(["taskset", "-c", cores, str(AIPERF), "profile", "--model", MODEL, "--url", f"http://127.0.0.1:{port}",
              "--endpoint-type", "chat", "--streaming", "--concurrency", str(conc), "--request-count", str(2 * conc),
              "--synthetic-input-tokens-mean", "48", "--synthetic-input-tokens-stddev", "0",
              "--output-tokens-mean", str(tokens), "--output-tokens-stddev", "0", "--extra-inputs", "ignore_eos:true",
              "--tokenizer", tok, "--artifact-dir", str(out), "--ui", "none", "--random-seed", "1"],
             tmp / f"aiperf-c{conc}.log", {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": ""})
    truth, res = truth_stats(truth_path)
    summ = json.loads((out / "profile_export_aiperf.json").read_text())
    reqs = [json.loads(line) for line in (out / "profile_export.jsonl").read_text().splitlines() if line.strip()]
    ok = [r for r in reqs if "time_to_first_token" in r["metrics"] and not r.get("error")]
    start = np.array([r["metadata"]["request_start_ns"] - off for r in ok], dtype=np.float64)
    first = start + np.array([r["metrics"]["time_to_first_token"]["value"] * 1e6 for r in ok])
    recv = np.array([e["recv_ns"] for e in truth.values()], dtype=np.float64)
    w0 = np.array([e["write_ns"][0] for e in truth.values()], dtype=np.float64)
    res.update(completed=len(ok), failed=len(reqs) - len(ok), ttft_mean=summ["time_to_first_token"]["avg"],
               ttft_p99=summ["time_to_first_token"]["p99"], itl_mean=summ["inter_chunk_latency"]["avg"],
               intake_mean=(recv.mean() - start.mean()) / 1e6, first_delivery_mean=(first.mean() - w0.mean()) / 1e6,
               chunks_per_s=sum(len(e["write_ns"]) for e in truth.values()) / summ["benchmark_duration"]["avg"])
    return res


def run_guidellm(port: int, truth_path: Path, tmp: Path, conc: int, tokens: int, tok: str, cores: str) -> dict:
    out = tmp / f"guidellm-c{conc}.json"
    scenario = tmp / f"guidellm-c{conc}-scenario.json"
    scenario.write_text(json.dumps({"spec": {
        "backend": {"kind": "openai_http", "target": f"http://127.0.0.1:{port}", "model": MODEL,
                    "request_format": "/v1/chat/completions", "stream": True, "extras": {"body": {"ignore_eos": True}}},
        "profile": {"kind": "concurrent", "streams": conc},
        "tokenizer": {"kind": "huggingface_auto", "model": tok},
        "data": [{"kind": "synthetic_text", "prompt_tokens": 48, "output_tokens": tokens}],
        "constraints": [{"kind": "max_requests", "count": 2 * conc}],
        "outputs": [{"kind": "json", "path": str(out)}]}}))
    off = time.time_ns() - time.monotonic_ns()
    run_tool(["taskset", "-c", cores, str(GUIDELLM), "run", "--scenario", str(scenario), "--disable-progress"],
             tmp / f"guidellm-c{conc}.log", {"HF_HUB_OFFLINE": "1"})
    truth, res = truth_stats(truth_path)
    bench = json.loads(out.read_text())["benchmarks"][0]
    ok = [r for r in bench["requests"]["successful"] if r["response_id"] in truth]
    start = np.array([r["request_start_time"] * 1e9 - off for r in ok])
    first = start + np.array([r["time_to_first_token_ms"] * 1e6 for r in ok])
    recv = np.array([truth[r["response_id"]]["recv_ns"] for r in ok], dtype=np.float64)
    w0 = np.array([truth[r["response_id"]]["write_ns"][0] for r in ok], dtype=np.float64)
    ttft = np.array([r["time_to_first_token_ms"] for r in ok])
    nreq = sum(len(bench["requests"][k]) for k in ("successful", "errored", "incomplete"))
    res.update(completed=len(ok), failed=nreq - len(ok), ttft_mean=ttft.mean(), ttft_p99=np.percentile(ttft, 99),
               itl_mean=float(np.mean([r["inter_token_latency_ms"] for r in ok])),
               intake_mean=(recv - start).mean() / 1e6, first_delivery_mean=(first - w0).mean() / 1e6,
               chunks_per_s=sum(len(e["write_ns"]) for e in truth.values()) / bench["duration"])
    return res


def run_glmbench(port: int, truth_path: Path, tmp: Path, conc: int, tokens: int, tok: str, cores: str) -> dict:
    r = measure(port, truth_path, tmp, conc, None, 2 * conc, tokens)  # compare_with_truth, joined on ids
    return {**r, "completed": 2 * conc - r["failed"]}


def table(conc: int, rows: dict[str, dict]) -> str:
    head = ("source", "chunks/s", "TTFT mean", "TTFT p99", "ITL mean", "intake", "1st deliv", "TTFT err",
            "p99 err", "ITL err", "failed", "body wait")
    lines = [f"### {conc} streams", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, r in rows.items():
        bw = f"{r['body_wait']:.2f}" if "body_wait" in r else ""
        lines.append(f"| sim truth ({label} run) | | {r['ttft_true_mean']:.2f} | {r['ttft_true_p99']:.2f} | "
                     f"{r['itl_true_mean']:.3f} | | | | | | | {bw} |")
        lines.append(f"| **{label}** | {r['chunks_per_s']:.0f} | {r['ttft_mean']:.2f} | {r['ttft_p99']:.2f} | "
                     f"{r['itl_mean']:.3f} | {r['intake_mean']:.2f} | {r['first_delivery_mean']:.2f} | "
                     f"{r['ttft_mean'] - r['ttft_true_mean']:+.2f} | {r['ttft_p99'] - r['ttft_true_p99']:+.2f} | "
                     f"{r['itl_mean'] - r['itl_true_mean']:+.3f} | {r['failed']} | |")
        if r["matched"] != r["completed"]:
            lines.append(f"\nWARNING: {label}: {r['completed']} completed, {r['matched']} truth entries\n")
    return "\n".join(lines)


def version(venv: str, dist: str) -> str:
    py = CACHE / venv / "bin" / "python"
    return subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version('{dist}'))"],
                          capture_output=True, text=True).stdout.strip() or "missing"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="*", default=[8, 64])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--ttft-ms", type=float, default=100)
    ap.add_argument("--itl-ms", type=float, default=20)
    ap.add_argument("--tokenizer", default="/tmp/tiny", help="built with `glmbench tiny-model DIR` if missing")
    ap.add_argument("--glmbench", action="store_true", help="also run glmbench's own client (client_accuracy.py)")
    ap.add_argument("--tools", nargs="*", default=["AIPerf", "GuideLLM"])
    args = ap.parse_args()

    if not (Path(args.tokenizer) / "tokenizer_config.json").exists():
        subprocess.run([sys.executable, "-m", "glmbench", "tiny-model", args.tokenizer, "--force"], check=True)
    cores = sorted(os.sched_getaffinity(0))
    sim_cpu = cores[-1] if len(cores) > 1 else None
    client = cores[:-1] if len(cores) > 1 else cores
    os.sched_setaffinity(0, set(client))
    print(f"clients on cores {client}, simulator on core {sim_cpu}; TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms, "
          f"{args.tokens} tokens, one token per chunk, 2 x C requests; aiperf {version('aiperf-venv', 'aiperf')}, "
          f"guidellm {version('guidellm-venv', 'guidellm')}, Python {sys.version.split()[0]}. All in ms.\n", flush=True)
    runners = {"AIPerf": run_aiperf, "GuideLLM": run_guidellm}
    if args.glmbench:
        runners = {"glmbench": run_glmbench, **runners}
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        port = free_port()
        truth = tmp / "truth.jsonl"
        cmd = [sys.executable, "-m", "glmbench", "sim", "--port", str(port), "--ttft-ms", str(args.ttft_ms),
               "--itl-ms", str(args.itl_ms), "--truth-log", str(truth), "--model", MODEL]
        proc = ServerProcess(cmd + (["--cpu", str(sim_cpu)] if sim_cpu is not None else []), tmp / "sim.log")
        try:
            proc.wait_ready(f"http://127.0.0.1:{port}/health", 30)
            for conc in args.concurrency:
                rows = {}
                for name, fn in runners.items():
                    if name in args.tools or name == "glmbench":
                        rows[name] = fn(port, truth, tmp, conc, args.tokens, args.tokenizer, ",".join(map(str, client)))
                print(table(conc, rows) + "\n", flush=True)
        finally:
            proc.stop()


if __name__ == "__main__":
    main()
