"""What ``glmbench experiment run --on ray`` costs over running cells here, and how it scales with nodes.

Starts a local Ray cluster of ``--nodes`` nodes on this machine (``ray start``; each
node one ``fake_gpu`` and one CPU for cells), then runs the same experiment of
``--cells`` simulator cells (one 1-GPU server each, one short load point) three
ways and reads each cell's start and end from the experiment's ``index.json``:

- here, one cell after another (``--on local``);
- on Ray with one node (cells still one after another: the driver's overhead per cell);
- on Ray with every node (cells in parallel).

Then packs and unpacks result folders of growing size as the driver does when a
cell comes back (the cost per result folder). Prints one table; figures go in
``benchmarks/README.md``. Stops every Ray process on this machine when done.

    python benchmarks/ray_scale.py --cells 8 --nodes 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).parent / "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
NODE = ["--num-cpus", "1", "--object-store-memory", str(100 * 1024 * 1024), "--disable-usage-stats"]


def _seconds(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def _experiment(folder: Path, cells: int, prompts: int) -> Path:
    path = folder / "scale.yaml"
    ttfts = ", ".join(str(10 + i) for i in range(cells))
    path.write_text(f"""schema_version: 1
name: scale
servers:
  - {{name: sim, backend: sim, set: {{gpus: 1, options.itl_ms: 5}}, grid: {{options.ttft_ms: [{ttfts}]}}}}
load:
  concurrency: [4]
  options: {{num_prompts: {prompts}, dataset: random, input_len: 32, output_len: 16}}
""")
    return path


def _run(path: Path, results: Path, *extra: str) -> dict:
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "glmbench", "experiment", "run", str(path), "--results-dir",
                          str(results), *extra], cwd=REPO, capture_output=True, text=True, env=ENV)
    wall = time.monotonic() - started
    if out.returncode != 0:
        sys.exit(f"experiment failed: {out.stderr[-2000:]}")
    [folder] = [p for p in results.iterdir() if p.is_dir()]
    index = json.loads((folder / "index.json").read_text())
    cell_s = [_seconds(c["started_at"], c["finished_at"]) for c in index["cells"]]
    point_s = [p["seconds"] for c in index["cells"] for p in c["points"]]
    return {"wall": wall, "cell_s": statistics.median(cell_s), "point_s": statistics.median(point_s)}


def _start_cluster(nodes: int) -> str:
    subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True)
    port = 46379
    subprocess.run([RAY, "start", "--head", "--port", str(port), *NODE, "--include-dashboard=false",
                    "--resources", '{"fake_gpu": 1}'], env=ENV, check=True, capture_output=True)
    for _ in range(nodes - 1):
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", *NODE, "--resources", '{"fake_gpu": 1}'],
                       env=ENV, check=True, capture_output=True)
    return f"127.0.0.1:{port}"


def _pack_costs() -> list[tuple[int, float, float]]:
    """(bytes of records, pack ms, unpack ms) for result folders of growing size."""
    from glmbench.api.on_ray import _pack, _unpack

    rows = []
    for requests in (100, 2_000, 20_000):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "cell" / "c4"
            folder.mkdir(parents=True)
            record = json.dumps({"request_id": "x" * 24, "ttft_ms": 123.456, "itl_ms": [12.3] * 64, "ok": True})
            (folder / "records.jsonl").write_text("\n".join(record for _ in range(requests)) + "\n")
            (folder / "summary.json").write_text(json.dumps({"rows": [{"x": 1}]}))
            started = time.perf_counter()
            packed = _pack(Path(tmp) / "cell")
            packed_s = time.perf_counter() - started
            started = time.perf_counter()
            _unpack(packed, Path(tmp) / "back")
            unpacked_s = time.perf_counter() - started
            rows.append(((folder / "records.jsonl").stat().st_size, packed_s * 1000, unpacked_s * 1000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        path = _experiment(tmpdir, args.cells, args.prompts)
        results = {"here, one after another": _run(path, tmpdir / "local")}
        try:
            one = _start_cluster(1)
            results["Ray, 1 node"] = _run(path, tmpdir / "ray1", "--on", "ray", "--address", one,
                                          "--gpu-resource", "fake_gpu")
            many = _start_cluster(args.nodes)
            results[f"Ray, {args.nodes} nodes"] = _run(path, tmpdir / "rayN", "--on", "ray", "--address", many,
                                                       "--gpu-resource", "fake_gpu")
        finally:
            subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True)
    local = results["here, one after another"]
    print(f"{args.cells} simulator cells, one point of {args.prompts} requests each; {os.cpu_count()} cores")
    print(f"{'how':<26}{'wall s':>8}{'cell s (median)':>17}{'point s (median)':>18}{'vs here, per cell s':>21}")
    for how, r in results.items():
        print(f"{how:<26}{r['wall']:>8.1f}{r['cell_s']:>17.2f}{r['point_s']:>18.2f}"
              f"{(r['wall'] - local['wall']) / args.cells:>21.2f}")
    print("\nresult folder sent back: records bytes, pack ms, unpack ms")
    for size, pack_ms, unpack_ms in _pack_costs():
        print(f"{size:>12,}{pack_ms:>10.1f}{unpack_ms:>10.1f}")


if __name__ == "__main__":
    main()
