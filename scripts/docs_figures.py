"""The plots shown on the docs site (``docs/images/*.png``), made again from simulator runs.

``python scripts/docs_figures.py [WORK_DIR]`` runs, with the simulated server
only (no GPU, no network, a few minutes on two cores):

- a load run of two workloads and the same run with speculative decoding
  (3 draft tokens, 70% accepted), side by side: latency CDFs, ITL and TPOT,
  throughput against latency, the acceptance length;
- a BFCL run of 3 entries per category, beside the published LightLLM table
  (``results/reference/lightllm-bfcl``): accuracy with n and Wilson intervals;
- a small experiment (two simulated decoders whose steps slow down as their
  batches grow, a concurrency and a rate ladder, SLOs): throughput against
  latency per ladder and the Pareto frontier;

then writes the figures ``glmbench report --plots`` draws, smaller (85 dpi, 64
colours), into ``docs/images/``. The results stay in WORK_DIR (a temporary
folder when none is given); ``--redraw`` draws the images again from the results
already there, running nothing. The simulator is seeded, but a loaded machine moves
latencies, so the images are alike from run to run, not byte for byte.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["IMAGES", "EXPERIMENT", "main"]

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"

EXPERIMENT = """\
schema_version: 1
name: docs
description: two simulated decoders (speed per user vs batch size) for the docs' plots
servers:
  - name: fast
    backend: sim
    set: {options.ttft_ms: 40, options.itl_ms: 5, options.max_running: 8, options.batch_slowdown: 0.03}
  - name: wide
    backend: sim
    set: {options.ttft_ms: 40, options.itl_ms: 10, options.max_running: 32, options.batch_slowdown: 0.03}
load:
  suite: sharegpt
  concurrency: [1, 2, 4, 8, 16, 32]
  rate: [10, 40]
  options: {num_prompts: 48, dataset: random, input_len: 64, output_len: 32}
repeats: 1
slo: {ttft: 200, tpot: 25}
"""

# (file in docs/images, result folder key, plot name): the figures the docs show.
SHOWN = (
    ("ttft_cdf.png", "runs", "ttft_cdf"),
    ("e2e_cdf.png", "runs", "e2e_cdf"),
    ("itl_tpot.png", "runs", "itl_tpot"),
    ("throughput_latency.png", "runs", "throughput_latency"),
    ("spec_acceptance.png", "runs", "spec_acceptance"),
    ("bfcl_accuracy.png", "bfcl", "bfcl_accuracy"),
    ("experiment_curves.png", "experiment", "curves"),
    ("experiment_pareto.png", "experiment", "pareto"),
)


def _glmbench(*args: str) -> None:
    print("+ glmbench", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "glmbench", *args], check=True, cwd=REPO, stdout=subprocess.DEVNULL)


def _load_runs(work: Path) -> list[Path]:
    common = ["--backend", "sim", "--workload", "burst,steady", "--num-prompts", "60", "--dataset", "random",
              "--input-len", "256", "--output-len", "64", "--set", "options.ttft_ms=60", "--set", "options.itl_ms=12",
              "--results-dir", str(work / "runs")]
    _glmbench("run", *common, "--run-id", "base", "--label", "sim")
    _glmbench("run", *common, "--run-id", "mtp", "--label", "sim MTP k=3", "--set", "options.spec_tokens=3",
              "--set", "options.spec_accept=0.7")
    return [work / "runs" / "base", work / "runs" / "mtp"]


def _bfcl_run(work: Path) -> list[Path]:
    _glmbench("bfcl", "--backend", "sim", "--limit", "3", "--results-dir", str(work / "bfcl"))
    return [_newest(work / "bfcl"), REPO / "results" / "reference" / "lightllm-bfcl"]


def _experiment(work: Path) -> list[Path]:
    path = work / "docs-experiment.yaml"
    path.write_text(EXPERIMENT)
    _glmbench("experiment", "run", str(path), "--results-dir", str(work / "experiments"))
    return [_newest(work / "experiments")]


def _newest(folder: Path) -> Path:
    """The newest result folder in ``folder`` (their names start with the time)."""
    return max(p for p in folder.iterdir() if p.is_dir())


def _small_png(figure: object) -> bytes:
    """A figure as a PNG small enough for the repository: 85 dpi, 64 colours."""
    from PIL import Image

    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=85, metadata={"Software": None})  # type: ignore[attr-defined]
    with Image.open(io.BytesIO(buf.getvalue())) as img:
        out = io.BytesIO()
        img.convert("RGB").quantize(colors=64).save(out, format="png", optimize=True)
    return out.getvalue()


def main(argv: list[str]) -> int:
    """Run the simulator, draw the report's figures, write the shown ones into docs/images."""
    from glmbench.report.axes import quiet
    from glmbench.report.formats.plots import figures
    from glmbench.report.model import open_report

    redraw = "--redraw" in argv
    given = [a for a in argv if a != "--redraw"]
    work = Path(given[0]) if given else Path(tempfile.mkdtemp(prefix="glmbench-docs-"))
    work.mkdir(parents=True, exist_ok=True)
    if redraw:
        folders = {"runs": [work / "runs" / "base", work / "runs" / "mtp"],
                   "bfcl": [_newest(work / "bfcl"), REPO / "results" / "reference" / "lightllm-bfcl"],
                   "experiment": [_newest(work / "experiments")]}
    else:
        folders = {"runs": _load_runs(work), "bfcl": _bfcl_run(work), "experiment": _experiment(work)}
    drawn = {}
    for key, paths in folders.items():
        report = open_report(paths)
        shown = getattr(report, "as_runs", report)
        drawn[key] = {plot.name: plot for plot in figures(shown)}  # type: ignore[arg-type]
    IMAGES.mkdir(parents=True, exist_ok=True)
    with quiet():
        for name, key, plot in SHOWN:
            (IMAGES / name).write_bytes(_small_png(drawn[key][plot].figure))
            print(f"wrote docs/images/{name}")
    print(f"results kept in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
