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
