"""Garbage-collector pauses inside a load run's window, with glmbench's pause of the collector and without it.

    python benchmarks/gc_pauses.py                       # 3 runs each way, 1,000 requests of burst and high-conc
    python benchmarks/gc_pauses.py --runs 5 --num-prompts 2000

Each run is its own process (`glmbench run --backend sim`, the ShareGPT dataset
loaded as a user's run loads it); a gc callback times every collection that
starts while a workload's schedule is being kept, and the run's own event-loop
lag (p99, max) comes from its summary. "without" replaces
glmbench.util.collector.collector_paused by a no-op in that process only.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(guard: bool, args: list[str]) -> None:
    import glmbench.load.sender as sender

    if not guard:
        sender.collector_paused = lambda collect=True: contextlib.nullcontext()  # type: ignore[assignment]
    inside = {"on": False}
    keep = sender._keep_schedule

    async def timed(*a, **k):  # type: ignore[no-untyped-def]
        inside["on"] = True
        try:
            return await keep(*a, **k)
        finally:
            inside["on"] = False

    sender._keep_schedule = timed  # type: ignore[assignment]
    pauses: list[tuple[int, float]] = []
    began = [0]

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter_ns()
        elif inside["on"]:
            pauses.append((info["generation"], (time.perf_counter_ns() - began[0]) / 1e6))

    gc.callbacks.append(seen)
    from glmbench.cli.app import main

    sys.argv = ["glmbench", *args]
    with contextlib.suppress(SystemExit):
        main()
    print("PAUSES " + json.dumps(pauses), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--num-prompts", type=int, default=1000)
    parser.add_argument("--child", choices=["with", "without"])
    opts, rest = parser.parse_known_args()
    if opts.child:
        _child(opts.child == "with", rest)
        return
    print("| collector | run | collections in the window | longest (ms) | total (ms) | loop lag p99 (ms) | loop lag max (ms) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(1, opts.runs + 1):
            for mode in ("without", "with"):
                results = Path(tmp) / f"{mode}-{run}"
                res = subprocess.run([sys.executable, __file__, "--child", mode, "run", "--backend", "sim", "-w",
                                      "burst,high-conc", "--num-prompts", str(opts.num_prompts), "--results-dir",
                                      str(results), "-q"], capture_output=True, text=True, env=os.environ)
                line = next((ln for ln in res.stderr.splitlines() if ln.startswith("PAUSES ")), None)
                if line is None:
                    sys.exit(f"the {mode} run printed no pauses (exit {res.returncode}):\n{res.stderr[-2000:]}")
                pauses = json.loads(line[len("PAUSES "):])
                [folder] = list(results.iterdir())
                rows = json.loads((folder / "summary.json").read_text())["rows"]
                p99 = max(r.get("loop_lag_ms_p99") or 0 for r in rows)
                worst = max(r.get("loop_lag_ms_max") or 0 for r in rows)
                longest = max((ms for _, ms in pauses), default=0.0)
                print(f"| {'paused' if mode == 'with' else 'automatic'} | {run} | {len(pauses)} | {longest:.2f} | "
                      f"{sum(ms for _, ms in pauses):.1f} | {p99:.2f} | {worst:.2f} |")


if __name__ == "__main__":
    main()
