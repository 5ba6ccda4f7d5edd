#!/usr/bin/env bash
# On a GPU machine with Ray installed: one simulator cell asking for 1 GPU through Ray's own GPU resource;
# the cell's placement must name the GPU Ray assigned (CUDA_VISIBLE_DEVICES of the cell's task).
# Usage: bash benchmarks/ray_gpu_check.sh OUT_DIR
set -u
out="${1:-/tmp/ray-gpu-check}"; mkdir -p "$out"
nvidia-smi -L
python3 -c "import ray, sys; print('ray', ray.__version__, sys.version.split()[0])" || { echo "no Ray here"; exit 0; }
python3 -m venv --system-site-packages /tmp/gb && . /tmp/gb/bin/activate
pip install --no-deps --no-build-isolation -q -e . 2>&1 | tail -2
python -c "import glmbench.cli.app" || { echo "glmbench's dependencies are missing here"; exit 0; }
export RAY_USAGE_STATS_ENABLED=0
ray start --head --port 36379 --num-gpus 1 --num-cpus 4 --include-dashboard=false --disable-usage-stats >/dev/null
cat > /tmp/gpu.yaml <<'Y'
schema_version: 1
name: gpu
servers:
  - {name: sim, backend: sim, set: {gpus: 1}, grid: {options.ttft_ms: [20, 40]}}
load:
  concurrency: [4]
  options: {num_prompts: 16, dataset: random, input_len: 32, output_len: 8}
Y
glmbench experiment run /tmp/gpu.yaml --on ray --address 127.0.0.1:36379 --results-dir "$out/r" 2>&1 | grep -v "━\|┃\|│"
python - "$out" <<'P'
import glob, json, sys
[index] = glob.glob(sys.argv[1] + "/r/*/index.json")
for cell in json.load(open(index))["cells"]:
    print(cell["label"], cell["status"], "gpus", cell["placement"]["gpus"], "resources", cell["placement"]["resources"])
P
ray stop --force >/dev/null
