"""The library layer as a Python user meets it: the README's example, run exactly as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def _readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- python-example:.*?-->\n```python\n(.*?)```", readme, re.S)
    assert match, "README.md has no marked Python example"
    return match.group(1)


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 12
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    workload, completed, tok_s, *_ = done.stdout.split()
    assert (workload, completed) == ("burst", "50") and int(tok_s) > 0
    assert done.stderr == ""  # the library never prints
    [folder] = list((tmp_path / "results").iterdir())
    assert (folder / "summary.json").is_file() and (folder / "manifest.json").is_file()
    assert (tmp_path / "sim.log").is_file()


def test_run_load_raises_a_user_error_before_anything_starts(tmp_path: Path) -> None:
    from glmbench.api import Launch, RunOptions, run_load
    from glmbench.errors import GlmbenchError

    with pytest.raises(GlmbenchError, match="unknown workload"):
        run_load(Launch(backend="sim"), RunOptions(workload="nope", results_dir=tmp_path))
    assert not any(tmp_path.iterdir())


def test_options_are_one_model_shared_by_run_and_bench() -> None:
    """Every RunOptions field is a flag of both commands, under the same name."""
    import inspect

    from glmbench.api import RunOptions
    from glmbench.cli.run import bench, run

    fields = set(RunOptions.model_fields) - {"repeat"}  # repeats need a server of glmbench's own
    for command in (run, bench):
        assert fields <= set(inspect.signature(command).parameters), command.__name__
    assert "repeat" in inspect.signature(run).parameters


def test_every_server_in_turn_gets_its_own_cores_and_the_client_gets_them_back(tmp_path: Path) -> None:
    """Two servers one after the other (as an experiment runs its cells): each pinned to its core, the client off it."""
    import os

    from glmbench.api import Launch
    from glmbench.api.launch import prepare
    from glmbench.api.serving import serve

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("pinning needs two cores")
    server_core = cores[-1]
    for i in range(2):
        prepared = prepare(Launch(backend="sim", sets=[f"launch.cpus=[{server_core}]"]))
        with serve(prepared, tmp_path / f"sim-{i}.log") as server:
            assert os.sched_getaffinity(server.process.proc.pid) == {server_core}
            assert server_core not in os.sched_getaffinity(0)
        assert sorted(os.sched_getaffinity(0)) == cores
