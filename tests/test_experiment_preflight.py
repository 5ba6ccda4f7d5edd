"""An experiment whose servers cannot start here fails before it starts (issue 27).

Each server configuration left to run is looked for where its config would
launch it, as ``glmbench backends`` does: one that is not found stops the
experiment with exit 2 and nothing written, naming which configurations and why
and the next step; ``--dry-run`` says the same under the plan and still exits 0;
``--skip-missing`` runs those that can and records the others as skipped. A
server that fails later for another reason is still recorded while the others
finish (tests/test_experiment.py).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

_FAST = "{options.ttft_ms: 5, options.ttft_dist: fixed, options.itl_ms: 1, options.itl_dist: fixed}"
_OK = f"  - {{name: ok, backend: sim, set: {_FAST}}}\n"
_NO_PYTHON = "  - {name: broken, backend: sim, set: {launch.python: /nonexistent/python}}\n"
_NO_VENV = "  - {name: v, config: vllm, set: {launch.venv: /nonexistent/venv}}\n"


def _write(tmp: Path, servers: str) -> Path:
    path = tmp / "exp.yaml"
    path.write_text(f"""schema_version: 1
name: t
servers:
{servers}
load:
  suite: sharegpt
  workloads: [burst]
  options: {{num_prompts: 4, dataset: random, input_len: 16, output_len: 4}}
""")
    return path


def _backends_here() -> list[str]:
    found = [name for name in ("vllm",) if shutil.which(name)]
    return found + [name for name in ("sglang", "lightllm") if importlib.util.find_spec(name) is not None]


def test_the_shipped_gpu_experiment_without_its_backends_stops_before_anything_is_written(tmp_path: Path) -> None:
    if _backends_here():
        pytest.skip(f"{', '.join(_backends_here())} installed here: this machine can start some of them")
    results = tmp_path / "r"
    res = run_cli("experiment", "run", "glm-4.7-flash", "--results-dir", str(results))
    assert res.returncode == 2, res.stderr
    assert "error: 8 of 8 server configurations cannot start on this machine: vllm, vllm-mtp, vllm-mtp3 (vllm is " \
           "not installed" in res.stderr, res.stderr
    assert "sglang, sglang-eagle (sglang is not installed" in res.stderr
    assert "lightllm, lightllm-mtp-eagle, lightllm-mtp-vanilla (lightllm is not installed" in res.stderr
    assert "next: pip install vllm" in res.stderr and "glmbench backends shows what is found" in res.stderr
    assert "--resume" not in res.stderr and "--skip-missing" not in res.stderr  # neither could help here
    assert not results.exists()


def test_a_mixed_experiment_names_the_configurations_that_cannot_start_and_writes_nothing(tmp_path: Path) -> None:
    results = tmp_path / "r"
    res = run_cli("experiment", "run", str(_write(tmp_path, _OK + _NO_PYTHON + _NO_VENV)), "--results-dir",
                  str(results))
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert ("error: 2 of 3 server configurations cannot start on this machine: broken (cannot launch sim: python "
            "not found: /nonexistent/python); v (vllm is not installed: vllm not found)") in res.stderr, res.stderr
    assert "or --skip-missing to run the 1 that can" in res.stderr
    assert not results.exists()


def test_the_dry_run_says_which_configurations_cannot_start_here_and_why(tmp_path: Path) -> None:
    res = run_cli("experiment", "run", str(_write(tmp_path, _OK + _NO_PYTHON)), "--dry-run")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    broken = next(i for i, line in enumerate(lines) if line.startswith("  broken"))
    assert lines[broken + 2] == "    cannot start here: cannot launch sim: python not found: /nonexistent/python"
    ok = next(i for i, line in enumerate(lines) if line.startswith("  ok"))
    assert "cannot start" not in lines[ok + 2]
    assert ("1 of 2 server configurations cannot start on this machine: broken (cannot launch sim: python not "
            "found: /nonexistent/python): glmbench experiment run stops before starting") in res.stdout
    assert res.stdout.splitlines()[-1].startswith("next: point launch.python at a Python interpreter")
    # On a cluster the nodes' installations count, not this machine's: the dry run does not judge them.
    ray = run_cli("experiment", "run", str(_write(tmp_path, _OK + _NO_PYTHON)), "--dry-run", "--on", "ray")
    assert ray.returncode == 0 and "cannot start" not in ray.stdout


@pytest.mark.e2e
def test_skip_missing_runs_those_that_can_and_records_the_others_as_skipped(tmp_path: Path) -> None:
    results = tmp_path / "r"
    path = _write(tmp_path, _OK + _NO_PYTHON)
    res = run_cli("experiment", "run", str(path), "--results-dir", str(results), "--skip-missing", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    err = " ".join(res.stderr.split())  # the console wraps its lines
    assert "warning: broken: skipped, its server cannot start here (cannot launch sim: python not found" in err
    assert "skipped 1 of 2 server configurations that cannot start here (--skip-missing): broken" in err
    [folder] = list(results.iterdir())
    index = json.loads((folder / "index.json").read_text())
    cells = {c["label"]: c for c in index["cells"]}
    assert cells["ok"]["status"] == "complete"
    assert cells["broken"]["status"] == "skipped" and "python not found" in cells["broken"]["reason"]
    assert [p["status"] for p in cells["broken"]["points"]] == ["not run"]
    assert not (folder / cells["broken"]["folder"]).exists()  # nothing was started for it
    # Resuming without the flag while it still cannot start: stopped before anything, the index as it was.
    before = (folder / "index.json").read_text()
    res = run_cli("experiment", "run", "--resume", str(folder))
    assert res.returncode == 2 and "1 of 1 server configurations cannot start" in res.stderr, res.stderr
    assert (folder / "index.json").read_text() == before


def test_nothing_to_run_is_an_error_even_with_skip_missing_and_the_flag_is_for_this_machine(tmp_path: Path) -> None:
    results = tmp_path / "r"
    res = run_cli("experiment", "run", str(_write(tmp_path, _NO_PYTHON)), "--results-dir", str(results),
                  "--skip-missing")
    assert res.returncode == 2 and "1 of 1 server configurations cannot start" in res.stderr, res.stderr
    assert not results.exists()
    res = run_cli("experiment", "run", str(_write(tmp_path, _OK)), "--skip-missing", "--on", "ray")
    assert res.returncode == 2 and "--skip-missing checks this machine's installations" in res.stderr
