"""What a new user reads first: help that says the defaults and what each command takes, in the user's words,
hints that work when followed, and ``glmbench backends`` readable at a glance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glmbench.errors import GlmbenchError
from tests.conftest import run_cli


def _help(words: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """``glmbench WORDS -h`` as a wide terminal shows it, its lines joined (run in this process)."""
    from glmbench.cli.app import command

    monkeypatch.setenv("COLUMNS", "250")
    command(terminal=True).main([*words, "-h"], prog_name="glmbench", standalone_mode=False)
    return " ".join(word for word in capsys.readouterr().out.split() if word != "│")


def test_run_help_says_where_the_number_of_prompts_comes_from(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from glmbench.load.workload import load_suite

    shown = _help(("run",), capsys, monkeypatch)
    assert f"(default: the suite's; sharegpt: {load_suite('sharegpt').dataset.num_prompts})" in shown
    assert "but for tables nothing else" not in shown
    assert "Any format but table leaves stdout to that output alone and writes the results folder to stderr" in shown


def test_each_command_summary_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """``glmbench -h`` lists each command's first paragraph as written: a line break shows as a stray break."""
    from glmbench.cli.app import command

    for name, sub in command().commands.items():
        summary = (sub.help or "").split("\n\n")[0].strip()
        assert summary and "\n" not in summary, (name, summary)


def test_sim_help_speaks_of_settings_not_source_files(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _help(("sim",), capsys, monkeypatch)
    assert "glmbench/sim/dialects" not in shown and "SimConfig" not in shown
    assert "(docs: The simulated server)" in shown


@pytest.mark.parametrize("command", ["report", "compare"])
def test_report_and_compare_help_say_they_take_experiments_and_reference_tables(
        command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _help((command,), capsys, monkeypatch)
    assert "experiment folder" in shown and "published reference table (results/reference/" in shown


@pytest.mark.parametrize(("url", "fixed"), [
    ("localhost:8000", "http://localhost:8000/v1"),  # was http://localhost:8000, which then fails at /models
    ("localhost:8000/", "http://localhost:8000/v1"),
    ("127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
])
def test_the_url_a_hint_suggests_is_the_api_root(url: str, fixed: str) -> None:
    from glmbench.backends.choice import check_endpoint

    with pytest.raises(GlmbenchError) as caught:
        check_endpoint(url)
    assert caught.value.hint == f"write --endpoint {fixed}"


def test_backends_says_where_it_found_each_and_how_to_build_a_missing_model() -> None:
    import sys

    from glmbench.api.launch import describe_backends

    rows = {r.config: r for r in describe_backends([], ["model=./no-such/tiny-glm"])}
    assert rows["sim"].found and rows["sim"].where == sys.executable
    tiny = rows["vllm-cpu-tiny"]
    assert tiny.command is None and tiny.command_problem == "model folder not found: ./no-such/tiny-glm"
    assert tiny.command_hint == "build it with glmbench tiny-model ./no-such/tiny-glm"


def _rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """``describe_backends`` as two configs: a found simulator with a long settings argument, a missing model."""
    from glmbench.api import launch
    from glmbench.api.launch import BackendDescription

    settings = json.dumps({f"setting_{i}": i for i in range(40)})
    rows = [BackendDescription("sim", "sim", True, "0.1.0", where=str(Path.home() / "venv/bin/python"),
                               command=f"python -m glmbench sim --port 8000 --settings '{settings}'"),
            BackendDescription("vllm", "vllm-cpu-tiny", True, "0.32.0", where="/opt/v/bin/python",
                               command_problem="model folder not found: ./models/tiny-glm",
                               command_hint="build it with glmbench tiny-model ./models/tiny-glm")]
    monkeypatch.setattr(launch, "describe_backends", lambda configs, sets: rows)


def test_backends_cuts_a_long_argument_short_and_prints_the_command_in_full_below(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from glmbench.cli.serve import backends

    _rows(monkeypatch)
    backends([], [], "table")
    out = capsys.readouterr().out
    table, below = out.split("launch commands in full:\n")
    assert "(in full below)" in table and "setting_39" not in table
    assert "yes: ~/venv/bin/python" in table and "yes: /opt/v/bin/python" in table
    assert "build it with glmbench tiny-model" in table
    [line] = below.splitlines()
    assert line.startswith("  sim: python -m glmbench sim --port 8000 --settings '{") and "setting_39" in line


def test_backends_format_json_is_one_object_per_config(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from glmbench.cli.serve import backends

    _rows(monkeypatch)
    backends([], [], "json")
    shown: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert [r["config"] for r in shown] == ["sim", "vllm-cpu-tiny"]
    assert shown[1]["command_hint"] == "build it with glmbench tiny-model ./models/tiny-glm"


def test_history_names_the_workloads_it_found_when_the_one_asked_is_not_there(tmp_path: Path) -> None:
    from glmbench.compare.history import history

    res = run_cli("run", "--dataset", "random", "--input-len", "16", "--output-len", "8", "--num-prompts", "4",
                  "--set", "options.ttft_ms=5", "--set", "options.itl_ms=1", "--results-dir", str(tmp_path), "-q")
    assert res.returncode == 0, res.stderr[-2000:]
    with pytest.raises(GlmbenchError) as caught:
        history(tmp_path, "ttft_ms_p99", "bursty")
    assert caught.value.message == f"no run under {tmp_path} has the workload 'bursty'; did you mean burst?"
    assert caught.value.hint == "pass -w one of those found: burst"
    assert history(tmp_path, "ttft_ms_p99", "burst")[0]  # the name it suggests is found
