"""Capacity search: the pure bracket-and-bisect on synthetic SLO attainment, and on simulators of known capacity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmbench.api.capacity import search_capacity
from tests.conftest import run_cli


def _step(capacity: float):
    """Every SLO holds up to ``capacity``, and half the requests miss above it."""
    return lambda load, rerun: 1.0 if load <= capacity else 0.5


@pytest.mark.parametrize("true", [0.3, 1.0, 18.2, 700.0])
def test_rate_capacity_is_bracketed_within_the_tolerance(true: float) -> None:
    found = search_capacity(_step(true), "rate", 1.0, 1024.0, 0.1, 0.99, 20)
    assert found.value <= true < found.above
    assert (found.above - found.value) <= 0.1 * found.value + 1e-9
    assert found.probes[-1]["rerun"] and found.probes[-1]["load"] == found.value  # the boundary, run twice


@pytest.mark.parametrize("true", [1, 2, 5, 8, 33])
def test_concurrency_capacity_is_exact(true: int) -> None:
    found = search_capacity(_step(true), "concurrency", 1, 64, 0.1, 0.99, 20)
    assert (found.value, found.above) == (true, true + 1)


def test_edges_and_a_boundary_that_fails_on_its_rerun() -> None:
    everything = search_capacity(lambda load, rerun: 1.0, "rate", 1, 64, 0.1, 0.99, 20)
    assert (everything.value, everything.above) == (64, None) and "highest load tried" in everything.reason
    nothing = search_capacity(lambda load, rerun: 0.0, "concurrency", 1, 64, 0.1, 0.99, 20)
    assert (nothing.value, nothing.above) == (None, 1) and "fail even at 1" in nothing.reason
    # 10 holds once and fails when run again: the capacity is below it.
    flaky = search_capacity(lambda load, rerun: 0.0 if load > 10 or (load == 10 and rerun) else 1.0,
                            "rate", 1, 1024, 0.05, 0.99, 30)
    assert flaky.value < 10 <= flaky.above
    bounded = search_capacity(_step(18.2), "rate", 1, 1024, 0.0001, 0.99, 6)
    assert len(bounded.probes) == 6 and "stopped after 6 probes" in bounded.reason


@pytest.mark.e2e
def test_simulators_of_known_capacity(tmp_path: Path) -> None:
    """A simulator decoding at most N requests at once (fixed 20 ms TTFT, 10 ms ITL, 8 tokens): any request past
    the N-th waits a whole request (~100 ms) for a slot, so with a 60 ms TTFT SLO the capacity is exactly N in
    flight. Three servers, N = 2, 4, 8: the search finds each."""
    path = tmp_path / "cap.yaml"
    path.write_text("""schema_version: 1
name: cap
servers:
  - name: sim
    backend: sim
    set: {options.ttft_ms: 20, options.itl_ms: 10, options.ttft_dist: fixed, options.itl_dist: fixed,
          options.batch_slowdown: 0, options.prefill_ms_per_1k: 0}
    grid: {options.max_running: [2, 4, 8]}
load:
  capacity: {by: concurrency, start: 1, max: 64}
  options: {num_prompts: 24, dataset: random, input_len: 16, output_len: 8}
slo: {ttft: 60}
""")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    [index_path] = (tmp_path / "r").glob("*/index.json")
    cells = json.loads(index_path.read_text())["cells"]
    assert [(c["capacity"]["value"], c["capacity"]["above"]) for c in cells] == [(2, 3), (4, 5), (8, 9)]
    md = run_cli("report", str(index_path.parent), "--format", "md").stdout
    assert "| sim max\\_running=4 | complete | 4 in flight (fails at 5) |" in md  # the servers table
