"""SGLang and LightLLM launched by glmbench exactly as configured, against stand-ins (simulator in their dialect).

The stand-ins (``glmbench/sim/standins``) take the real servers' command-line
flags, refuse unknown ones, and serve glmbench's simulator speaking SGLang's or
LightLLM's dialect: their readiness behaviour, ``/server_info``, metric names,
usage chunks and reasoning field. So these tests run glmbench's real launch,
readiness, scraping and acceptance code paths for those backends; only the model
behind them is simulated.
"""

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
from glmbench.sim.standins_path import standins_dir

from .conftest import REPO, live_processes, run_cli, url_port

pytestmark = pytest.mark.e2e

STANDIN = ["--set", f"env.PYTHONPATH={standins_dir()}", "--set", "tp=1", "--set", "startup_timeout_s=60"]
SMALL = ["--num-prompts", "12", "--dataset", "random", "--input-len", "32", "--output-len", "40"]


def _only(path: Path) -> Path:
    [one] = list(path.iterdir())
    return one


def _results(run_dir: Path):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    return manifest, summary


def _port(manifest: dict) -> int:
    return url_port(manifest["backend"]["url"])


def test_sglang_eagle_runs_and_its_acceptance_comes_from_server_info(tmp_path):
    res = run_cli("run", "--config", "sglang-eagle", *STANDIN, "--workload", "burst", *SMALL,
                  "--results-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    manifest, summary = _results(_only(tmp_path))
    cmd = manifest["backend"]["command"]
    assert cmd[1:3] == ["-m", "sglang.launch_server"] and "--speculative-num-draft-tokens" in cmd
    assert manifest["backend"]["version"] == "0.0.0+glmbench.standin"
    [row] = summary["rows"]
    assert row["completed"] == 12 and row["failed"] == 0
    # 3 draft tokens accepted with chance 0.7 each: about 1 + 0.7 + 0.49 + 0.343 = 2.53 tokens per step.
    assert 2.0 < row["spec_accept_length"] < 3.1
    assert row["spec_source"].startswith("sglang /server_info")
    assert port_is_free(_port(manifest))


def test_lightllm_mtp_runs_with_the_guides_flags_and_reads_the_histogram(tmp_path):
    model = tmp_path / "GLM-4.7-Flash"
    model.mkdir()
    results = tmp_path / "results"
    res = run_cli("run", "--config", "lightllm-mtp-eagle", "--model", str(model), *STANDIN, "--workload", "burst",
                  *SMALL, "--results-dir", str(results))
    assert res.returncode == 0, res.stderr[-2000:]
    manifest, summary = _results(_only(results))
    assert manifest["backend"]["env"]["LOADWORKER"] == "18"
    [row] = summary["rows"]
    assert row["completed"] == 12
    # mtp_step 4 at 0.7: 1 + 0.7 + 0.49 + 0.343 + 0.24 = 2.77 tokens per step on average.
    assert 2.2 < row["spec_accept_length"] < 3.4
    assert row["spec_source"].startswith("lightllm_request_mtp_avg_token_per_step")
    # LightLLM sends usage only at the end: output tokens still come from the server's usage.
    assert row["output_tokens_from_usage"] == 12


def test_a_server_that_dies_mid_run_ends_the_run_and_keeps_what_finished(tmp_path):
    env_args = ["--set", "env.GLMBENCH_STANDIN_EXIT_AFTER_S=4", "--set", "env.GLMBENCH_STANDIN_STARTUP_S=0.5"]
    res = run_cli("run", "--config", "sglang", *STANDIN, *env_args, "--workload", "steady", "--request-rate", "4",
                  "--num-prompts", "200", "--dataset", "random", "--input-len", "16", "--output-len", "20",
                  "--results-dir", str(tmp_path))
    assert res.returncode == 1, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert "error: server exited with code 3 mid-run during steady" in res.stderr
    run_dir = _only(tmp_path)
    manifest, summary = _results(run_dir)
    assert manifest["status"] == "server-died"
    assert summary["aborted"].startswith("server exited with code 3 mid-run")
    [row] = summary["rows"]
    assert row["interrupted"] and row["completed"] >= 3
    records = (run_dir / "records.jsonl").read_text().splitlines()
    assert len(records) >= row["completed"]
    assert port_is_free(_port(manifest))


def test_readiness_timeout_stops_the_server_and_says_what_to_raise(tmp_path):
    res = run_cli("run", "--config", "sglang", *STANDIN, "--set", "env.GLMBENCH_STANDIN_STARTUP_S=30",
                  "--set", "startup_timeout_s=2", "--num-prompts", "2", "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "server not ready at http://127.0.0.1:" in res.stderr and "/health after" in res.stderr
    assert "startup_timeout_s" in res.stderr
    assert "sglang.launch_server" in res.stderr  # the exact command


def test_sigterm_while_the_server_starts_leaves_nothing_running(tmp_path):
    env = {**os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glmbench", "run", "--config", "sglang", *STANDIN,
         "--set", "env.GLMBENCH_STANDIN_STARTUP_S=30", "--num-prompts", "2", "--results-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    deadline = time.monotonic() + 30
    log = None
    while time.monotonic() < deadline and log is None:
        logs = list(tmp_path.glob("*/server.log"))
        if logs and "sglang.launch_server" in logs[0].read_text():
            log = logs[0]
        time.sleep(0.2)
    assert log is not None
    time.sleep(1.0)  # the stand-in is up and "loading"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    line = log.read_text().splitlines()[0]
    port = int(line.split("--port ")[1].split()[0])
    assert port_is_free(port)
    assert not [cmdline for _, cmdline in live_processes() if f"--port {port} " in cmdline + " "]
