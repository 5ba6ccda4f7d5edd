"""glmbench and `vllm bench serve`, the same workload, against one real vLLM CPU server.

One vLLM CPU server (configs/vllm-cpu-tiny.yaml, the tiny random GLM-4.7-Flash) is
started through glmbench's own launcher, which pins it to core 1 with
VLLM_CPU_OMP_THREADS_BIND=1; this script and both clients stay on core 0. Per
concurrency C (N = max(8, 4C) prompts, all sent at once, at most C in flight,
64 prompt tokens, 64 output tokens with ignore_eos, temperature 0):

  (a) `glmbench bench --dataset random --workload burst` (its summary.json and records.jsonl)
  (b) `vllm bench serve --backend openai-chat --dataset-name random --ignore-eos
       --request-rate inf` from the vLLM CPU venv (--save-detailed)

in the order a, b, b, a, so that a drift of the server shows up as a difference
between the two runs of the same client. The server's /metrics counters
(vllm:prompt_tokens_total, vllm:generation_tokens_total) are read around every run:
the prompt tokens the server actually prefilled per request (chat template
included), whichever client sent them. glmbench's random prompts are words,
vLLM's are decoded random token ids, so the two can differ by a few tokens.

Definitions: vLLM's TTFT runs from just before its aiohttp `post()` (it includes
connection set-up and writing the request); glmbench's `TTFT` runs from the
request on the wire (wire_ns) and its records also give it from send_ns, the
same start as vLLM's. TPOT is (E2E - TTFT) / (output tokens - 1) in both; ITL
is the mean gap between chunks. glmbench asks for continuous_usage_stats (usage
in every chunk: more server work per token); --plain-usage turns it off. "diff" is vLLM minus glmbench over glmbench,
both clients averaged over their two runs.

    python benchmarks/real_vllm_agreement.py                    # C = 1 4 16
    python benchmarks/real_vllm_agreement.py --concurrency 4    # one point
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from glmbench.backends.config import load_backend_config
from glmbench.backends.launch import keep_client_off, start_server
from glmbench.backends.registry import get_backend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from all_clients import VLLM_BENCH, VLLM_PY, dist_version  # noqa: E402

IN_LEN, OUT_LEN, SERVED = 64, 64, "glm-4.7-flash-tiny"
EXTRA: list[str] = []  # --plain-usage: usage only at the end of the stream, as vLLM's client asks
KEYS = ("tok_s", "ttft", "ttft_send", "tpot", "itl", "e2e", "prompt_tok", "out_tok")


def counters(base_url: str) -> dict[str, float]:
    """vLLM's prompt and generation token counters, summed over label sets."""
    text = urllib.request.urlopen(base_url[: -len("/v1")] + "/metrics", timeout=10).read().decode()
    out = {"prompt": 0.0, "gen": 0.0, "req": 0.0}
    for name, key in (("vllm:prompt_tokens_total", "prompt"), ("vllm:generation_tokens_total", "gen"),
                      ("vllm:request_success_total", "req")):
        for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M):
            out[key] += float(m.group(1))
    return out


def run_glmbench(url: str, tmp: Path, conc: int, n: int, tok: str, tag: str, seed: int) -> dict:
    res = tmp / f"gb-{tag}"
    cmd = [sys.executable, "-m", "glmbench", "bench", "--endpoint", url, "--backend", "vllm", "--model", SERVED,
           "--dataset", "random", "--input-len", str(IN_LEN), "--output-len", str(OUT_LEN), "--tokenizer", tok,
           "--num-prompts", str(n), "--max-concurrency", str(conc), "--workload", "burst", "--seed", str(seed),
           "--results-dir", str(res), *EXTRA]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"glmbench bench failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    run_dir = next(res.glob("*/summary.json")).parent
    row = json.loads((run_dir / "summary.json").read_text())["rows"][0]
    recs = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line.strip()]
    recs = [r for r in recs if r["ok"]]
    gap = float(np.mean([(r["wire_ns"] - r["send_ns"]) / 1e6 for r in recs]))
    return {"tok_s": row["output_tok_s"], "ttft": row["ttft_ms_mean"], "ttft_send": row["ttft_ms_mean"] + gap,
            "tpot": row["tpot_ms_mean"], "itl": row["itl_ms_mean"], "e2e": row["e2e_ms_mean"],
            "wire_gap": gap,
            "client_prompt": float(np.mean([r["prompt_tokens"] for r in recs])),
            "completed": row["completed"], "failed": row["failed"]}


def run_vllm(url: str, tmp: Path, conc: int, n: int, tok: str, tag: str, seed: int) -> dict:
    name = f"vllm-{tag}.json"
    cmd = [str(VLLM_PY), "-c", VLLM_BENCH, "--backend", "openai-chat",
           "--base-url", url[: -len("/v1")], "--endpoint", "/v1/chat/completions", "--model", SERVED,
           "--tokenizer", tok, "--dataset-name", "random", "--random-input-len", str(IN_LEN),
           "--random-output-len", str(OUT_LEN), "--ignore-eos", "--temperature", "0", "--seed", str(seed),
           "--max-concurrency", str(conc), "--num-prompts", str(n), "--request-rate", "inf",
           "--percentile-metrics", "ttft,tpot,itl,e2el", "--save-result", "--save-detailed",
           "--result-dir", str(tmp), "--result-filename", name]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"vllm bench serve failed:\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}")
    rep = json.loads((tmp / name).read_text())
    return {"tok_s": rep["output_throughput"], "ttft": rep["mean_ttft_ms"], "ttft_send": rep["mean_ttft_ms"],
            "tpot": rep["mean_tpot_ms"], "itl": rep["mean_itl_ms"], "e2e": rep["mean_e2el_ms"],
            "client_prompt": rep["total_input_tokens"] / rep["completed"],
            "completed": rep["completed"], "failed": n - rep["completed"]}


def measured(fn, url, tmp, conc, n, tok, tag, seed) -> dict:
    """One client run, with the server's own token counts per request around it."""
    before = counters(url)
    r = fn(url, tmp, conc, n, tok, tag, seed)  # a fresh seed per run: no prefix-cache hits
    after = counters(url)
    done = max(after["req"] - before["req"], 1)
    r["prompt_tok"] = (after["prompt"] - before["prompt"]) / done
    r["out_tok"] = (after["gen"] - before["gen"]) / done
    return r


def table(conc: int, n: int, runs: list[tuple[str, dict]]) -> str:
    head = ("run", "out tok/s", "TTFT", "TTFT from send", "TPOT", "ITL", "E2E", "prompt tok (server)",
            "prompt tok (client)", "out tok", "failed")
    lines = [f"### C = {conc}, N = {n}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, r in runs:
        lines.append(f"| {label} | {r['tok_s']:.1f} | {r['ttft']:.2f} | {r['ttft_send']:.2f} | {r['tpot']:.3f} | "
                     f"{r['itl']:.3f} | {r['e2e']:.1f} | {r['prompt_tok']:.1f} | {r['client_prompt']:.1f} | "
                     f"{r['out_tok']:.1f} | {r['failed']} |")
    mean = {c: {k: np.mean([r[k] for lab, r in runs if lab.startswith(c)]) for k in KEYS} for c in ("glm", "vllm")}
    g, v = mean["glm"], mean["vllm"]
    lines.append("| **diff (vLLM vs glmbench)** | " + " | ".join(
        f"{100 * (v[k] - g[k]) / g[k]:+.1f}%" for k in ("tok_s", "ttft", "ttft_send", "tpot", "itl", "e2e"))
        + f" | {v['prompt_tok'] - g['prompt_tok']:+.1f} | | | |")
    gaps = [r["wire_gap"] for lab, r in runs if lab.startswith("glm")]
    lines.append(f"\nglmbench send->wire (connection + write) mean: {np.mean(gaps):.2f} ms")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 16])
    ap.add_argument("--model-dir", default="/tmp/tiny-agree", help="built with `glmbench tiny-model DIR` if missing")
    ap.add_argument("--plain-usage", action="store_true",
                    help="glmbench without continuous_usage_stats (vLLM's client asks for usage only at the end)")
    args = ap.parse_args()
    if args.plain_usage:
        EXTRA.extend(["--extra-body", '{"stream_options": {"include_usage": true, "continuous_usage_stats": false}}'])
    tok = args.model_dir
    if not (Path(tok) / "config.json").exists():
        subprocess.run([sys.executable, "-m", "glmbench", "tiny-model", tok, "--force"], check=True)
    version = dist_version(VLLM_PY, "vllm-cpu")
    cfg = load_backend_config("vllm-cpu-tiny", [], model=tok)
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        server = start_server(get_backend("vllm"), cfg, tmp / "server.log")
        try:
            keep_client_off(cfg.launch.cpus)  # this process and both clients: the cores the server is not on
            print(f"vllm-cpu {version}: server on cores {cfg.launch.cpus}, clients on "
                  f"{sorted(os.sched_getaffinity(0))}; {IN_LEN} in / {OUT_LEN} out, ignore_eos. ms.\n", flush=True)
            run_glmbench(server.base_url, tmp, 2, 4, tok, "warm", 9999)  # first requests pay one-off set-up
            for conc in args.concurrency:
                n = max(8, 4 * conc)
                runs = []
                for i, (label, fn) in enumerate((("glmbench", run_glmbench), ("vllm", run_vllm),
                                                 ("vllm", run_vllm), ("glmbench", run_glmbench))):
                    runs.append((f"{label} #{i // 2 + 1}",
                                 measured(fn, server.base_url, tmp, conc, n, tok, f"c{conc}-{i}", 100 * conc + i)))
                print(table(conc, n, runs) + "\n", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
