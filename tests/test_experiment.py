"""Experiments against glmbench's simulator (real processes): cells started once, points as result folders,
a cell that cannot start recorded while the others finish, Ctrl-C then resume to the same result."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, at_a_terminal, live_processes, run_cli

pytestmark = pytest.mark.e2e

_FAST = "{options.ttft_ms: 5, options.ttft_dist: fixed, options.itl_dist: fixed, options.batch_slowdown: 0}"


def _write(tmp: Path, servers: str, extra: str = "") -> Path:
    path = tmp / "exp.yaml"
    path.write_text(f"""schema_version: 1
name: t
servers:
{servers}
load:
  suite: sharegpt
  workloads: [burst]
  concurrency: [2]
  rate: [50]
  options: {{num_prompts: 8, dataset: random, input_len: 16, output_len: 8}}
slo: {{ttft: 200, tpot: 3}}
{extra}""")
    return path


def _index(results: Path) -> tuple[Path, dict]:
    [folder] = [p for p in results.iterdir() if p.is_dir()]
    return folder, json.loads((folder / "index.json").read_text())


def test_cells_and_points_are_result_folders_and_a_cell_that_cannot_start_is_recorded(tmp_path: Path) -> None:
    servers = (f"  - {{name: fast, backend: sim, set: {_FAST}, grid: {{options.itl_ms: [1, 4]}}}}\n"
               "  - {name: broken, backend: sim, set: {launch.python: /nonexistent/python}}\n")
    results = tmp_path / "r"
    res = run_cli("experiment", "run", str(_write(tmp_path, servers)), "--results-dir", str(results), timeout=300)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert "error: 1 of 3 server configurations did not finish (first: broken: cannot launch sim" in res.stderr
    folder, index = _index(results)
    assert index["status"] == "incomplete"
    cells = {c["label"]: c for c in index["cells"]}
    assert set(cells) == {"fast itl_ms=1", "fast itl_ms=4", "broken"}
    assert cells["broken"]["status"] == "failed" and "python not found" in cells["broken"]["reason"]
    assert {p["status"] for p in cells["broken"]["points"]} == {"not run"}
    for label in ("fast itl_ms=1", "fast itl_ms=4"):
        cell = cells[label]
        assert cell["status"] == "complete" and cell["command"] and cell["server_log"]
        assert [p["label"] for p in cell["points"]] == ["burst", "c2", "r50"]
        for point in cell["points"]:
            run_dir = folder / cell["folder"] / point["folder"]
            summary = json.loads((run_dir / "summary.json").read_text())
            manifest = json.loads((run_dir / "manifest.json").read_text())
            assert manifest["label"] == f"{label} {point['label']}" and manifest["status"] == "complete"
            assert manifest["backend"]["command"] == cell["command"]  # the one server of the cell
            assert summary["rows"][0]["completed"] == 8
    # The SLO (TPOT 3 ms) holds at ITL 1 ms, not at 4 ms: goodput says so.
    def goodput(label: str) -> float:
        cell = cells[label]
        run = folder / cell["folder"] / cell["points"][1]["folder"]
        return json.loads((run / "summary.json").read_text())["rows"][0]["goodput_request_s"]
    assert goodput("fast itl_ms=1") > 0 and goodput("fast itl_ms=4") == 0
    # The table names every point; reports read the point folders like any run, labelled, not by timestamp.
    assert res.stdout.count("complete") == 2 + 6 and "not run" in res.stdout  # 2 servers, 6 points
    point = folder / cells["fast itl_ms=1"]["folder"] / "c2"
    report = run_cli("report", str(point), str(folder / cells["fast itl_ms=4"]["folder"] / "c2"), "--format", "md")
    assert report.returncode == 0 and "fast itl\\_ms=1 c2" in report.stdout
    # The experiment's own report: one row per server; the slower decoder is dominated on the Pareto axes.
    data = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    servers = {s["server"]: s for s in data["servers"]}
    assert servers["fast itl_ms=1"]["dominated"] is False and servers["fast itl_ms=4"]["dominated"] is True
    assert servers["broken"]["status"] == "failed" and servers["broken"]["dominated"] is None
    assert servers["fast itl_ms=1"]["best_output_tok_s"] > servers["fast itl_ms=4"]["best_output_tok_s"]
    assert data["objective"] == "goodput" and [s["server"] for s in data["servers"] if s["best"]] == ["fast itl_ms=1"]
    html, plots = tmp_path / "e.html", tmp_path / "plots"
    page = run_cli("report", str(folder), "--out", str(html), "--plots", str(plots))
    assert page.returncode == 0, page.stderr
    assert "on the frontier" in page.stdout and "dominated" in page.stdout
    assert "Pareto frontier" in html.read_text() and (plots / "pareto.png").is_file()
    md = run_cli("report", str(folder), "--format", "md").stdout
    assert "### Servers" in md and "| fast itl\\_ms=4 | complete |" in md


def test_ctrl_c_keeps_everything_and_resume_finishes_the_rest(tmp_path: Path) -> None:
    servers = f"  - {{name: a, backend: sim, set: {_FAST}, grid: {{options.itl_ms: [30, 31]}}}}\n"
    path, results = _write(tmp_path, servers), tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "glmbench", "experiment", "run", str(path), "--results-dir",
                             str(results)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=at_a_terminal)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # interrupt once the first cell's second point has started
        found = list(results.glob("*/index.json"))
        if found and '"c2"' in found[0].read_text() and list(results.glob("*/a_itl_ms=30/c2/records.jsonl")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "--resume" in err and "Traceback" not in err
    folder, index = _index(results)
    assert index["status"] == "interrupted"
    first = index["cells"][0]
    assert first["points"][0]["status"] == "complete" and first["points"][1]["status"] == "interrupted"
    command = first["command"]
    port = command[command.index("--port") + 1]
    assert not [cmd for _, cmd in live_processes() if f"glmbench sim --host 127.0.0.1 --port {port} " in cmd]
    kept = (folder / first["folder"] / "burst" / "records.jsonl").stat().st_mtime_ns

    res = run_cli("experiment", "run", "--resume", str(folder), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    _, index = _index(results)
    assert index["status"] == "complete"
    assert all(p["status"] == "complete" for c in index["cells"] for p in c["points"])
    assert (folder / first["folder"] / "burst" / "records.jsonl").stat().st_mtime_ns == kept  # not run again
    assert not (folder / first["folder"] / "c2-2").exists()  # the cut-short point was replaced, not duplicated


@pytest.mark.parametrize("body,error", [
    ("servers: []\nload: {workloads: [burst]}", "servers: List should have at least 1 item"),
    ("servers: [{name: x}]\nload: {workloads: [burst]}", "a server needs a backend or a config"),
    ("servers: [{backend: sim}]\nload: {concurrency: [0]}", "concurrency values must be >= 1"),
    ("servers: [{backend: sim}]\nload: {workloads: [burst], options: {workload: x}}", "options may not set workload"),
    ("servers: [{backend: sim, colour: red}]\nload: {workloads: [burst]}", "servers.0.colour"),
    ("servers: [{config: no-such-config}]\nload: {workloads: [burst]}", "no-such-config"),
    ("servers: [{backend: sim}]\nload: {workloads: [burst], options: {bogus: 1}}", "unknown run option bogus"),
    ("servers: [{backend: sim}]\nload: {workloads: [nope]}", "unknown workload 'nope'"),
    ("servers: [{backend: sim}]\nload: {suite: nosuite, workloads: [burst]}", "unknown suite 'nosuite'"),
    ("servers: [{backend: sim}]\nsuites: [no-such-bfcl-suite]", "no-such-bfcl-suite"),
    ("servers: [{backend: sim, set: {options.itl_ms: -1}}]\nload: {workloads: [burst]}", "itl_ms"),
])
def test_a_bad_experiment_file_is_two_lines_before_anything_starts(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"schema_version: 1\nname: bad\n{body}\n")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 2 and error in res.stderr, res.stderr
    assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    assert not (tmp_path / "r").exists()


def test_dry_run_prints_the_plan_and_starts_nothing(tmp_path: Path) -> None:
    res = run_cli("experiment", "run", "cpu-sim", "--dry-run", "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    assert "3 server configurations x 5 points" in res.stdout and "estimated duration: about" in res.stdout
    assert "--set options.itl_ms=20" in res.stdout
    assert not (tmp_path / "r").exists()


def test_the_shipped_gpu_experiment_plans_every_seed_configuration(tmp_path: Path) -> None:
    """Checked as far as this machine can: the file validates, every config resolves, the plan is printed."""
    res = run_cli("experiment", "run", "glm-4.7-flash", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "8 server configurations x 5 points" in res.stdout
    for config in ("vllm-mtp3", "sglang-eagle", "lightllm-mtp-vanilla"):
        assert f"--config {config}" in res.stdout
    assert "points: burst, high-conc, moderate, steady, bfcl-v3" in res.stdout


@pytest.mark.real
@pytest.mark.slow
def test_vllm_cpu_baseline_and_mtp_over_a_ladder(tiny_model_dir, tmp_path: Path) -> None:
    """Real vLLM (CPU build): two server cells, each started once for a two-point ladder; MTP's acceptance read."""
    import os

    venv = Path(os.environ.get("VLLM_CPU_VENV", "~/.cache/glmbench/vllm-cpu-venv")).expanduser()
    if not (venv / "bin" / "python").exists():
        if os.environ.get("GLMBENCH_REQUIRE_REAL_BACKENDS") == "1":
            pytest.fail(f"no vLLM CPU venv at {venv} (GLMBENCH_REQUIRE_REAL_BACKENDS=1)")
        pytest.skip(f"no vLLM CPU venv at {venv}: run scripts/install-vllm-cpu.sh")
    path = tmp_path / "vllm.yaml"
    path.write_text(f"""schema_version: 1
name: vllm-cpu
servers:
  - name: vllm
    config: vllm-cpu-tiny
    model: {tiny_model_dir}
    set: {{launch.venv: {venv}}}
    grid: {{speculative: [null, {{method: mtp, num_speculative_tokens: 1}}]}}
load:
  concurrency: [1, 4]
  options: {{num_prompts: 8, dataset: random, input_len: 32, output_len: 24}}
""")
    results = tmp_path / "r"
    res = run_cli("experiment", "run", str(path), "--results-dir", str(results), timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    folder, index = _index(results)
    assert [c["label"] for c in index["cells"]] == ["vllm speculative=off",
                                                    "vllm speculative=method:mtp/num_speculative_tokens:1"]
    accept = {}
    for cell in index["cells"]:
        assert cell["status"] == "complete" and "vllm.entrypoints.openai.api_server" in cell["command"]
        for point in cell["points"]:
            [row] = json.loads((folder / cell["folder"] / point["folder"] / "summary.json").read_text())["rows"]
            assert row["completed"] == 8 and row["failed"] == 0, row["errors"]
            accept[cell["label"], point["label"]] = row.get("spec_accept_length")
        port = cell["command"][cell["command"].index("--port") + 1]
        assert not [cmd for _, cmd in live_processes() if f"--port {port} " in cmd]
    assert accept["vllm speculative=off", "c1"] is None
    assert 1.0 <= accept["vllm speculative=method:mtp/num_speculative_tokens:1", "c4"] < 1.2  # random MTP weights


def test_compare_of_two_experiments_flags_the_slowed_server(tmp_path: Path) -> None:
    def experiment(ttft_b: int, name: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        fixed = "options.itl_ms: 2, options.ttft_dist: fixed, options.itl_dist: fixed, options.batch_slowdown: 0"
        path.write_text(f"""schema_version: 1
name: night
servers:
  - {{name: a, backend: sim, set: {{options.ttft_ms: 40, {fixed}}}}}
  - {{name: b, backend: sim, set: {{options.ttft_ms: {ttft_b}, {fixed}}}}}
load:
  concurrency: [4]
  options: {{num_prompts: 24, dataset: random, input_len: 16, output_len: 8}}
""")
        return path

    folders = []
    for ttft_b, name in ((40, "base"), (160, "slow")):
        res = run_cli("experiment", "run", str(experiment(ttft_b, name)), "--results-dir", str(tmp_path / name),
                      timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        [folder] = [p for p in (tmp_path / name).iterdir() if p.is_dir()]
        folders.append(folder)
    # A wide threshold: server a's own run-to-run noise (a loaded CI machine) must not pass for a regression.
    res = run_cli("compare", str(folders[0]), str(folders[1]), "--format", "json", "--max-regression", "25%")
    assert res.returncode == 1, res.stderr
    data = json.loads(res.stdout)
    flagged = {(p["server"], r["metric"]) for p in data["points"] for r in p["rows"]
               if r["verdict"]["status"] == "regression"}
    assert ("b", "ttft_ms_mean") in flagged and not any(server == "a" for server, _ in flagged)
    assert 0.25 <= data["detectable"]["ttft_ms_mean"] < 1.0
    same = run_cli("compare", str(folders[0]), str(folders[0]))
    assert same.returncode == 0 and "OK: no regression" in same.stdout and "detectable change" in same.stdout


def test_the_nightly_example_runs_one_experiment_and_compares_it() -> None:
    import yaml

    workflow = yaml.safe_load((REPO / "examples" / "nightly.yml").read_text())
    [job] = workflow["jobs"].values()
    assert "strategy" not in job  # no matrix written by hand: the experiment file is the matrix
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "glmbench experiment run" in script and 'glmbench compare "$BASELINES/last-good" "$RUN"' in script
    assert (REPO / job["env"]["EXPERIMENT"]).is_file()


def test_sweep_runs_synchronous_then_all_at_once_then_rates_between(tmp_path: Path) -> None:
    """GuideLLM's sweep on a simulator decoding 4 at a time (100 ms a request): about 10 req/s one at a time,
    about 40 all at once, and three Poisson rates evenly between."""
    path = tmp_path / "sweep.yaml"
    path.write_text("""schema_version: 1
name: sweep
servers:
  - {name: s, backend: sim, set: {options.ttft_ms: 20, options.itl_ms: 10, options.ttft_dist: fixed,
     options.itl_dist: fixed, options.batch_slowdown: 0, options.prefill_ms_per_1k: 0, options.max_running: 4}}
load:
  sweep: {points: 3}
  options: {num_prompts: 16, dataset: random, input_len: 16, output_len: 8}
""")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    _, index = _index(tmp_path / "r")
    [cell] = index["cells"]
    sweep = cell["sweep"]
    assert 7 < sweep["sync_request_s"] < 12 and 25 < sweep["max_request_s"] < 50
    rates = sweep["rates"]
    assert len(rates) == 3 and sweep["sync_request_s"] < rates[0] < rates[1] < rates[2] < sweep["max_request_s"]
    assert [p["label"] for p in cell["points"]] == ["sweep-sync", "sweep-max", *[f"sweep-r{r:g}" for r in rates]]
    assert all(p["status"] == "complete" for p in cell["points"])


def test_a_bfcl_suite_runs_against_every_server_of_the_experiment(tmp_path: Path) -> None:
    suite = tmp_path / "bfcl-mini.yaml"
    suite.write_text(f"kind: bfcl\nname: bfcl-mini\ncategories: [simple, irrelevance]\nsource: dir\n"
                     f"data_dir: {REPO / 'tests' / 'data' / 'bfcl_mini'}\nconcurrency: 4\n")
    path = tmp_path / "exp.yaml"
    path.write_text(f"""schema_version: 1
name: fc
servers:
  - {{name: sim, backend: sim, set: {{options.ttft_ms: 5, options.itl_ms: 1, options.default_max_tokens: 8}}}}
suites: [{suite}]
objective: bfcl
""")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    folder, index = _index(tmp_path / "r")
    [cell] = index["cells"]
    [point] = cell["points"]
    assert (point["label"], point["kind"], point["status"]) == ("bfcl-mini", "bfcl", "complete")
    manifest = json.loads((folder / cell["folder"] / point["folder"] / "manifest.json").read_text())
    assert manifest["kind"] == "bfcl" and manifest["label"] == f"sim {point['label']}"
    data = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    [server] = data["servers"]
    assert server["bfcl_overall"] is not None and server["best"]  # the simulator answers in text: irrelevance passes


def test_the_report_tables_name_and_rank_metrics_as_the_registry_does(tmp_path: Path) -> None:
    """Headers, formats and which end is best come from the metric registry; the tables read as before."""
    from glmbench.report.experiment import (
        ExperimentReport,
        _mark_best,
        point_table,
        server_table,
    )

    def server(name: str, tok: float, ttft: float) -> dict:
        return {"server": name, "status": "complete", "reason": None, "capacity": None, "capacity_by": None,
                "capacity_fails_at": None, "best_output_tok_s": tok, "best_output_at": "c8",
                "best_ttft_ms_p99": ttft, "best_ttft_at": "c1", "max_goodput_request_s": 1.5,
                "max_goodput_at": "c8", "bfcl_overall": 71.25, "dominated": False}

    point = {"cell": "a", "point": "c8", "status": "complete", "output_tok_s": 1234.56, "ttft_ms_mean": 50.04,
             "ttft_ms_p99": 61.26, "tpot_ms_mean": 5.012, "goodput_request_s": 1.5, "bfcl_overall": 71.25,
             "reason": None}
    report = ExperimentReport("t", tmp_path, "complete", objective="ttft",
                              servers=[server("a", 900.0, 80.0), server("b", 1200.0, 60.0)], points=[point])
    _mark_best(report)  # TTFT: the lowest is best
    assert [r["best"] for r in report.servers] == [False, True]
    report.objective = "throughput"
    _mark_best(report)
    assert [r["best"] for r in report.servers] == [False, True]
    report.servers[0]["best_output_tok_s"] = 1500.0
    _mark_best(report)
    assert [r["best"] for r in report.servers] == [True, False]
    headers, rows = server_table(report)
    assert headers == ["server", "status", "capacity under SLO", "best output tok/s", "best TTFT p99 ms",
                       "max goodput req/s", "BFCL overall %", "Pareto"]
    assert rows[0] == ["a (best)", "complete", "-", "1500 (c8)", "80.0 (c1)", "1.50 (c8)", "71.25", "on the frontier"]
    headers, rows = point_table(report)
    assert headers == ["server", "point", "status", "output tok/s", "TTFT mean ms", "TTFT p99 ms", "TPOT mean ms",
                       "goodput req/s", "BFCL overall %"]  # no point has a reason: no "why"
    assert rows == [["a", "c8", "complete", "1235", "50.0", "61.3", "5.01", "1.50", "71.25"]]
