"""Can a nightly catch a 10% regression 90% of the time with at most 1% false alarms? On the simulator.

Sixteen repeated runs of one load point on a simulator, and sixteen on the same
simulator with a 10% slower TTFT, each run a real result folder of an
experiment. The run-to-run spread of the baseline gives the advised number of
repeats (:func:`~glmbench.compare.verdict.repeats_needed`); then every way of
drawing that many runs a side from the pools (disjoint draws from the baseline
for the false alarms) is judged by the rule ``glmbench compare`` applies to
repeats. The advised repeats must catch the slowdown in at least 90% of the
draws and raise a false alarm in at most 1%.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from glmbench.compare.verdict import repeats_needed, repeats_verdict
from tests.conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPEATS = 16
THRESHOLD = 0.05


def _runs(folder: Path, cell: dict) -> list[float]:
    [point] = cell["points"]
    run = folder / cell["folder"] / point["folder"]
    return [json.loads((run / f"repeat-{i}" / "summary.json").read_text())["rows"][0]["ttft_ms_mean"]
            for i in range(1, REPEATS + 1)]


def test_advised_repeats_catch_a_10pct_slowdown_90pct_of_the_time_with_at_most_1pct_false_alarms(tmp_path: Path):
    path = tmp_path / "power.yaml"
    path.write_text(f"""schema_version: 1
name: power
servers:
  - {{name: sim, backend: sim, set: {{options.itl_ms: 5}}, grid: {{options.ttft_ms: [100, 110]}}}}
load:
  concurrency: [16]
  options: {{num_prompts: 96, dataset: random, input_len: 32, output_len: 8}}
repeats: {REPEATS}
""")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    [folder] = [p for p in (tmp_path / "r").iterdir() if p.is_dir()]
    base_cell, slow_cell = json.loads((folder / "index.json").read_text())["cells"]
    base, slow = _runs(folder, base_cell), _runs(folder, slow_cell)
    mean = sum(base) / len(base)
    spread = (sum((v - mean) ** 2 for v in base) / (len(base) - 1)) ** 0.5 / mean
    n = repeats_needed(spread, THRESHOLD)
    assert n is not None and n <= 8, f"run-to-run spread {spread:.3%}: {n} repeats"

    rng = random.Random(0)
    draws = list(itertools.combinations(range(REPEATS), n))
    false_alarms = detections = trials = 0
    for _ in range(2000):
        picked = rng.choice(draws)
        others = rng.choice([d for d in itertools.combinations([i for i in range(REPEATS) if i not in picked], n)])
        b = [base[i] for i in picked]
        false_alarms += repeats_verdict(b, [base[i] for i in others], "lower", THRESHOLD).regressed
        detections += repeats_verdict(b, [slow[i] for i in rng.choice(draws)], "lower", THRESHOLD).regressed
        trials += 1
    assert detections / trials >= 0.90, (spread, n, detections / trials)
    assert false_alarms / trials <= 0.01, (spread, n, false_alarms / trials)
    print(f"spread {spread:.2%}, advised {n} repeats: detected {detections / trials:.1%}, "
          f"false alarms {false_alarms / trials:.2%} over {trials} draws")
