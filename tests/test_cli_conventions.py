"""The conventions a command-line user expects of every command: ``--version``, ``-h``, placeholders that name
a kind of value (never a Python type), help text shown as written, one vocabulary across commands, output a
script can read (``--format json``, ``--quiet``) and tables, never raw markdown, on the terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import run_cli

# What Typer writes for a value when nothing says otherwise: a Python type (<str>, <list[str]>, <bool>, <Path>).
_PYTHON_TYPE = re.compile(r"<(?:str|int|float|bool|path|Path|dict|list\[[^>]*\]|[a-z]+ range)>")
_FAST = ("--dataset", "random", "--input-len", "16", "--output-len", "8", "--num-prompts", "4")


def _commands() -> list[tuple[str, ...]]:
    """Every command and group under ``glmbench``, as the words after ``glmbench``."""
    from glmbench.cli.app import command

    def walk(cmd: Any, words: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [words]
        for name, sub in getattr(cmd, "commands", {}).items():
            if not sub.hidden:
                found += walk(sub, (*words, name))
        return found

    return walk(command(), ())


def _help(words: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """``glmbench WORDS -h`` as the terminal shows it, run in this process (one command tree, built as main does)."""
    from glmbench.cli.app import command

    monkeypatch.setenv("COLUMNS", "250")
    code = command(terminal=True).main([*words, "-h"], prog_name="glmbench", standalone_mode=False)
    out = capsys.readouterr().out
    assert code in (0, None), (words, out)
    return out


def test_version() -> None:
    from glmbench import __version__

    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout == f"glmbench {__version__}\n" and not res.stderr


def test_every_command_takes_h_and_shows_no_python_type(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _commands()
    assert ("run",) in commands and ("experiment", "run") in commands and len(commands) > 15
    for words in commands:
        shown = _help(words, capsys, monkeypatch)
        assert "Usage:" in shown and "-h" in shown, words
        assert not _PYTHON_TYPE.search(shown), (words, _PYTHON_TYPE.findall(shown))


def test_placeholders_say_what_a_value_is(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _help(("run",), capsys, monkeypatch)
    for option, placeholder in (("--set", "KEY=VALUE"), ("--endpoint", "URL"), ("--num-prompts", "INTEGER"),
                                ("--request-rate", "NUMBER"), ("--goodput", "KEY:MS"), ("--results-dir", "PATH")):
        assert re.search(rf"{option}\s+{placeholder}\s", shown), (option, placeholder)
    assert re.search(r"--help\s+-h\s+Show this message", shown)  # a flag: no placeholder
    report = _help(("report",), capsys, monkeypatch)
    assert "Usage: glmbench report [OPTIONS] RUN_DIRS..." in report


def test_help_text_is_shown_as_written(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Typer reads help as rich markup on the terminal: ``[ray]`` in an install command would vanish."""
    assert "pip install 'glmbench[ray]'" in " ".join(_help(("experiment", "run"), capsys, monkeypatch).split())


def test_the_docs_reference_shows_the_same_placeholders() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("docgen_placeholders", Path(__file__).parents[1] / "scripts"
                                                  / "docgen.py")
    assert spec and spec.loader
    docgen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docgen)
    page = docgen.cli_reference()
    assert not _PYTHON_TYPE.search(page.replace("&lt;", "<").replace("&gt;", ">"))
    assert "| `--set KEY=VALUE` |" in page and "| `-h, --help` |" in page and "| `--version` |" in page


def test_run_and_bench_take_concurrency_as_bfcl_does_and_still_max_concurrency(tmp_path: Path) -> None:
    for command in ("run", "bench"):
        for spelt in ("--concurrency", "--max-concurrency"):
            extra = ("--endpoint", "http://127.0.0.1:9/v1") if command == "bench" else ()
            res = run_cli(command, spelt, "0", *extra, "--results-dir", str(tmp_path))
            assert res.returncode == 2 and res.stderr.startswith("error: --concurrency: "), (command, spelt, res.stderr)


def test_run_format_json_puts_the_summary_rows_alone_on_stdout(tmp_path: Path, fast_sim_config: Path) -> None:
    res = run_cli("run", *_FAST, "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path / "r"),
                  "--format", "json")
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(res.stdout)
    assert [r["workload"] for r in rows] == ["burst"] and rows[0]["completed"] == 4
    [folder] = list((tmp_path / "r").iterdir())
    assert f"results: {folder}" in res.stderr


def test_run_quiet_prints_only_the_results_folder(tmp_path: Path, fast_sim_config: Path) -> None:
    res = run_cli("run", *_FAST, "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path / "r"), "-q")
    assert res.returncode == 0, res.stderr[-2000:]
    [folder] = list((tmp_path / "r").iterdir())
    assert res.stdout == f"{folder}\n" and res.stderr == ""


@pytest.mark.parametrize("command", ["run", "bench", "bfcl"])
def test_scripted_commands_take_format_and_quiet(command: str) -> None:
    from glmbench.cli.app import command as root

    params = {p.name: p for p in root().commands[command].params}
    assert params["format"].opts == ["--format", "-f"] and params["quiet"].opts == ["--quiet", "-q"]


def test_an_unknown_run_format_is_refused_before_anything_runs(tmp_path: Path) -> None:
    res = run_cli("run", "--format", "jsn", "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "error: --format jsn: no such format; did you mean json?" in res.stderr
    assert not any(tmp_path.iterdir())


def test_serve_takes_a_port_and_sim_takes_sim_config_as_run_does() -> None:
    from glmbench.cli.app import command

    commands = command().commands
    assert "--port" in {o for p in commands["serve"].params for o in p.opts}
    [sim_config] = [p for p in commands["sim"].params if p.name == "config"]
    assert sim_config.opts[0] == "--sim-config" and "--config" in sim_config.opts  # the old spelling still works
    assert "--sim-config" in {o for p in commands["run"].params for o in p.opts}


def test_serve_listens_on_the_port_asked(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from glmbench.backends.process import free_port
    from tests.conftest import REPO

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "glmbench", "serve", "--port", str(port), "--log",
                             str(tmp_path / "serve.log")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"http://127.0.0.1:{port}/v1 "), line + (proc.stderr.read() if proc.poll() else "")
    finally:
        proc.terminate()
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()


def _markdown_in(text: str) -> list[str]:
    """Markdown that a terminal would show raw: escapes, HTML entities, table rules, bold."""
    return [m for m in ("\\_", "&lt;", "&gt;", "|---", "**") if m in text]


def test_compare_of_experiments_is_tables_on_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from glmbench.compare.experiments import ExperimentComparison
    from glmbench.compare.render import print_experiments

    verdict = SimpleNamespace(why="ttft_ms_mean 40 -> 160 <worse>", rule="bootstrap", detectable=0.2, spread=0.05,
                              regressed=True)
    row = SimpleNamespace(metric="ttft_ms_mean", baseline=40.0, candidate=160.0, verdict=verdict)
    both = ExperimentComparison("base_night", "cand_night", 0.05,
                                points=[("srv_b", "c_4", SimpleNamespace(regressions=[row], rows=[row], unlike=[]))],
                                incomplete=[("srv_c", "c_4", "failed in the candidate")])
    print_experiments(both)
    out = capsys.readouterr().out
    assert not _markdown_in(out), _markdown_in(out)
    assert "REGRESSION" in out and "srv_b" in out and "<worse>" in out and "detectable change" in out
    assert "┃" in out or "│" in out  # drawn as tables


def test_parsers_is_tables_on_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from glmbench.cli.parsers import conformance_console, conformance_tables
    from glmbench.util.text import safe_console

    counts = {"agree": 5, "differ": 1, "crash": 0}
    differs = SimpleNamespace(case_id="typed_args-3", modes=("whole",), fields=("calls",), crash=None,
                              got={"content": "<tool_call>x"}, expected={"content": None}, note="a_note")
    backend = SimpleNamespace(backend="vllm", version="0.32.0", config="vllm-cpu-tiny",
                              parsers={"tool": "glm47", "reasoning": "glm45"}, modes=("whole",),
                              rows=[SimpleNamespace(kind="typed_args", cases=6, counts={"whole": counts}),
                                    SimpleNamespace(kind="all", cases=6, counts={"whole": counts})],
                              differences=[differs], bfcl_effect=[])
    result = SimpleNamespace(backends=[backend])
    assert "typed\\_args" in "\n".join(conformance_tables(result))  # markdown escapes: right for --format md
    console = safe_console(width=140)
    for item in conformance_console(result):
        console.print(item)
    out = capsys.readouterr().out
    assert not _markdown_in(out), _markdown_in(out)
    assert "typed_args" in out and "<tool_call>x" in out and "5 / 1" in out


def test_parsers_defaults_to_tables() -> None:
    from glmbench.cli.app import command

    [fmt] = [p for p in command().commands["parsers"].params if p.name == "format"]
    assert fmt.default == "table"
