"""The launcher with real processes: start, readiness, faults at start-up, and nothing left running.

Servers here are glmbench's simulator started through the same launcher every
backend uses (``python -m glmbench sim`` on 127.0.0.1).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from glmbench.backends.config import load_backend_config
from glmbench.backends.launch import find_installation, start_server
from glmbench.backends.process import ServerProcess, port_is_free
from glmbench.backends.registry import get_backend
from glmbench.errors import GlmbenchError

from .conftest import REPO, at_a_terminal, live_processes, url_port

pytestmark = pytest.mark.e2e


def _group_gone(pgid: int, wait_s: float = 3.0) -> bool:
    """No live process left in the group (a zombie waiting for init to reap it counts as gone)."""
    deadline = time.monotonic() + wait_s
    while True:
        live = [cmdline for group, cmdline in live_processes() if group == pgid]
        if not live or time.monotonic() > deadline:
            return not live
        time.sleep(0.1)


def test_start_waits_for_readiness_and_stop_leaves_nothing(tmp_path):
    cfg = load_backend_config("sim", ["options.ttft_ms=1", "options.itl_ms=1"])
    server = start_server(get_backend("sim"), cfg, tmp_path / "server.log")
    try:
        port = url_port(server.base_url)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as resp:
            assert resp.status == 200
        assert server.version == __import__("glmbench").__version__
        assert server.command[:3] == [sys.executable, "-m", "glmbench"]
        assert (tmp_path / "server.log").read_text().startswith("# glmbench: ")
    finally:
        server.stop()
    assert _group_gone(server.process.proc.pid)
    assert port_is_free(port)


def test_stop_kills_children_that_outlive_the_leader(tmp_path):
    # A leader that starts a child in its group and ignores SIGTERM: both must go.
    script = ("import subprocess, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)")
    proc = ServerProcess([sys.executable, "-c", script], tmp_path / "log")
    time.sleep(0.5)
    started = time.monotonic()
    proc.stop(grace_s=1.0)
    assert time.monotonic() - started < 8
    assert _group_gone(proc.proc.pid)


def test_a_server_that_exits_while_starting_is_reported_with_command_and_log(tmp_path):
    cfg = load_backend_config("sim", ["extra_args=[--no-such-flag]"])
    with pytest.raises(GlmbenchError) as info:
        start_server(get_backend("sim"), cfg, tmp_path / "server.log")
    message = info.value.message
    assert "server exited with code 2 while starting" in message
    assert "-m glmbench sim" in message and "--no-such-flag" in message  # the exact command
    assert "No such option" in message  # the log tail
    assert str(tmp_path / "server.log") in info.value.hint


def test_a_backend_that_is_not_installed_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cfg = load_backend_config("vllm", ["port=0"])
    installed = find_installation(get_backend("vllm"), cfg)
    assert not installed.found and installed.problem == "vllm not found"
    with pytest.raises(GlmbenchError, match="vllm is not installed: vllm not found") as info:
        start_server(get_backend("vllm"), cfg, tmp_path / "server.log")
    assert "install-vllm-cpu.sh" in info.value.hint
    cfg = load_backend_config("sglang", [f"launch.python={sys.executable}"])
    installed = find_installation(get_backend("sglang"), cfg)
    assert not installed.found and "module sglang not importable" in installed.problem


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glmbench", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def test_backends_lists_every_backend():
    res = _run("backends")
    assert res.returncode == 0, res.stderr
    for name in ("vllm", "sglang", "lightllm", "transformers", "sim"):
        assert name in res.stdout
    assert "--speculative" not in res.stdout or "sglang" in res.stdout


def test_serve_prints_the_url_and_ctrl_c_stops_the_server(tmp_path):
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "glmbench", "serve", "--backend", "sim", "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=at_a_terminal)
    try:
        line = proc.stdout.readline()
        url = line.split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), line
        port = url_port(url)
        with urllib.request.urlopen(url.replace("/v1", "/health")) as resp:
            assert resp.status == 200
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read()
    assert port_is_free(port)


def test_run_with_a_taken_port_is_one_line_and_starts_nothing(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = _run("run", "--backend", "sim", "--set", f"port={port}", "--num-prompts", "2",
                   "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"error: port {port} is taken on 127.0.0.1")
    assert not list(tmp_path.iterdir())  # no result folder for a run that never started
    assert "next: stop what listens there, or --set port=0" in res.stderr


def test_external_config_needs_an_endpoint(tmp_path):
    res = _run("run", "--backend", "vllm", "--set", "launch.kind=external", "--num-prompts", "2",
               "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "is external but names no endpoint" in res.stderr


def test_bench_reads_acceptance_the_backends_way_from_a_running_server(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "2", "--spec-tokens", "3", "--spec-accept", "0.6")
    results = tmp_path / "results"
    res = _run("bench", "--endpoint", sim.url, "--backend", "vllm", "--workload", "burst", "--num-prompts", "8",
               "--dataset", "random", "--input-len", "16", "--output-len", "64", "--results-dir", str(results))
    assert res.returncode == 0, res.stderr
    import json

    [run_dir] = list(results.iterdir())
    row = json.loads((run_dir / "summary.json").read_text())["rows"][0]
    # 3 drafts at 0.6 each: expected accepted prefix 0.6 + 0.36 + 0.216 = 1.18, so length about 2.18.
    assert 1.6 < row["spec_accept_length"] < 2.8
    assert row["spec_source"] == "vllm:spec_decode_* counters"
    metrics = [json.loads(line) for line in (run_dir / "server_metrics.jsonl").read_text().splitlines()]
    assert [m["at"] for m in metrics][0] == "start" and metrics[-1]["at"] == "end"
    assert all("wall" in m and "t_ns" in m for m in metrics)
