"""glmbench compare and history: verdict rules on synthetic numbers, and the commands on simulator runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from glmbench.compare import compare_results, parse_threshold
from glmbench.compare.verdict import (
    interval_verdict,
    paired_proportion_verdict,
    proportion_verdict,
    repeats_verdict,
    threshold_verdict,
)
from glmbench.errors import GlmbenchError
from tests.conftest import REPO, run_cli

REFERENCE = REPO / "results" / "reference"


def test_threshold_direction_per_metric():
    assert threshold_verdict(100, 110, "lower", 0.05, "x").status == "regression"
    assert threshold_verdict(100, 110, "higher", 0.05, "x").status == "improvement"
    assert threshold_verdict(100, 103, "lower", 0.05, "x").status == "ok"


def test_repeats_spread_widens_the_margin():
    noisy = repeats_verdict([100, 120, 80], [110, 130, 90], "lower", 0.05)
    assert noisy.status == "within noise" and noisy.rule == "repeats"
    tight = repeats_verdict([100, 101, 99], [110, 111, 109], "lower", 0.05)
    assert tight.regressed


def test_interval_must_lie_wholly_past_the_threshold():
    assert interval_verdict(1.08, 1.20, "lower", 0.05, 0.14).regressed
    assert interval_verdict(0.98, 1.30, "lower", 0.05, 0.14).status == "within noise"
    assert interval_verdict(0.80, 0.90, "higher", 0.05, 0.15).regressed


def test_one_entry_in_a_small_category_is_not_a_regression():
    assert proportion_verdict(10, 16, 9, 16, 0.05).status != "regression"
    assert proportion_verdict(250, 400, 150, 400, 0.05).regressed


def test_paired_entries_find_a_loss_that_independent_samples_cannot():
    # 30 of 400 entries lost, none gained: as independent samples that is noise ...
    assert proportion_verdict(300, 400, 270, 400, 0.05).status == "within noise"
    # ... but on the same entries every changed verdict went one way.
    paired = paired_proportion_verdict(270, 30, 0, 100, 0.05)
    assert paired.regressed and paired.rule == "paired (McNemar)" and "30 lost" in paired.why
    # Changes both ways that cancel out are not a regression, nor is no change at all.
    assert paired_proportion_verdict(290, 10, 10, 90, 0.05).status == "ok"
    assert paired_proportion_verdict(300, 0, 0, 100, 0.05).status == "ok"
    assert paired_proportion_verdict(0, 0, 0, 5, 0.05).status == "ok"


def _bfcl_folder(root: Path, name: str, outcomes: dict[str, bool], records: bool = True) -> Path:
    """A BFCL result folder: lightllm-rules verdicts per entry of one category, its summary and manifest."""
    from glmbench.bfcl.scoring import summarize
    from glmbench.bfcl.types import Verdict
    from glmbench.results.schema import BackendInfo, BFCLSummary, Manifest
    from glmbench.results.store import RunStore

    store = RunStore(root, name)
    verdicts = {"simple": [Verdict(ok, "" if ok else "wrong value", "lightllm") for ok in outcomes.values()]}
    store.write_summary(BFCLSummary(run_id=name, mode="native", style="lightllm",
                                    tables={"lightllm": summarize(verdicts, "lightllm")}))
    store.write_manifest(Manifest(run_id=name, kind="bfcl", status="complete", glmbench_version="test",
                                  backend=BackendInfo(name="sim", url="http://127.0.0.1:1/v1", model="m"), host={},
                                  suite="bfcl-v3", workloads=["simple"], dataset={}, seed=0,
                                  started_at="2026-11-22T00:00:00Z"))
    if records:
        with (store.path / "bfcl_records.jsonl").open("w") as f:
            for entry_id, ok in outcomes.items():
                f.write(json.dumps({"id": entry_id, "category": "simple",
                                    "verdicts": {"lightllm": {"ok": ok, "reason": ""}}}) + "\n")
    return store.path


def test_bfcl_runs_of_the_same_entries_are_compared_entry_by_entry(tmp_path):
    base = {f"simple_{i}": i < 300 for i in range(400)}
    cand = {f"simple_{i}": i < 270 for i in range(400)}  # the same entries, 30 lost
    result = compare_results(_bfcl_folder(tmp_path, "base", base), _bfcl_folder(tmp_path, "cand", cand))
    (row,) = [r for r in result.rows if r.workload == "simple"]
    assert row.verdict.rule == "paired (McNemar)" and row.verdict.regressed and result.exit_code == 1
    assert any("entry by entry" in n for n in result.notes)
    # Without per-entry records, the same counts are independent samples: within noise.
    result = compare_results(_bfcl_folder(tmp_path, "base-nr", base, records=False),
                             _bfcl_folder(tmp_path, "cand-nr", cand, records=False))
    (row,) = [r for r in result.rows if r.workload == "simple"]
    assert row.verdict.rule == "two-proportion" and row.verdict.status == "within noise"


def test_parse_threshold():
    assert parse_threshold("5%") == pytest.approx(0.05)
    assert parse_threshold("0.1") == pytest.approx(0.1)
    with pytest.raises(GlmbenchError):
        parse_threshold("5")


def test_reference_tables_load_and_compare_with_themselves():
    for name in ("lightllm-4xh200", "lightllm-bfcl"):
        result = compare_results(REFERENCE / name, REFERENCE / name)
        assert result.exit_code == 0 and result.rows
    bfcl = compare_results(REFERENCE / "lightllm-bfcl", REFERENCE / "lightllm-bfcl")
    overall = next(r for r in bfcl.rows if r.workload == "OVERALL")
    assert overall.baseline == pytest.approx(49.12)


def _sim_run(tmp_path: Path, name: str, config: Path, *extra: str) -> Path:
    out = tmp_path / name
    res = run_cli("run", "--backend", "sim", "--workload", "burst", "--num-prompts", "40", "--dataset", "random",
                  "--input-len", "64", "--output-len", "32", "--sim-config", str(config), "--results-dir", str(out),
                  *extra, timeout=180)
    assert res.returncode == 0, res.stderr
    return next(out.iterdir())


@pytest.fixture
def slow_sim_config(tmp_path: Path) -> Path:
    path = tmp_path / "sim-slow.yaml"
    path.write_text("sim:\n  ttft_ms: 20\n  itl_ms: 4\n  max_running: 64\n")
    return path


def test_compare_flags_a_slower_candidate_but_not_a_rerun(tmp_path, fast_sim_config, slow_sim_config):
    base = _sim_run(tmp_path, "base", fast_sim_config)
    again = _sim_run(tmp_path, "again", fast_sim_config)
    slow = _sim_run(tmp_path, "slow", slow_sim_config)

    same = run_cli("compare", str(base), str(again), "--metric", "itl_ms_mean", "--metric", "tpot_ms_mean",
                   "--format", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    assert {r["verdict"]["rule"] for r in json.loads(same.stdout)["rows"]} == {"bootstrap"}

    worse = run_cli("compare", str(base), str(slow), "--format", "md")
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "### Regressions" in worse.stdout and "itl_ms_mean" in worse.stdout and "tpot_ms_mean" in worse.stdout

    # A folder of repeats is one side: its spread is used.
    repeats = tmp_path / "repeats"
    repeats.mkdir()
    for run in (base, again):
        shutil.copytree(run, repeats / run.parent.name)
    rep = run_cli("compare", str(repeats), str(slow), "--metric", "itl_ms_mean", "--format", "json")
    assert rep.returncode == 1
    assert json.loads(rep.stdout)["rows"][0]["verdict"]["rule"] == "repeats"

    ref = run_cli("compare", str(REFERENCE / "lightllm-4xh200"), str(base), "--format", "md")
    assert ref.returncode in (0, 1), ref.stderr
    assert "hardware differs" in ref.stdout and "threshold" in ref.stdout

    # Three runs plus the two copies in repeats/.
    hist = run_cli("history", str(tmp_path), "--metric", "itl_ms_mean", "--workload", "burst",
                   "--plot", str(tmp_path / "trend.png"), "--format", "json")
    assert hist.returncode == 0, hist.stderr
    assert len(json.loads(hist.stdout)) == 5 and (tmp_path / "trend.png").stat().st_size > 0


def test_bad_inputs_are_one_line_errors(tmp_path):
    for args in (("compare", str(tmp_path / "missing"), str(REFERENCE / "lightllm-4xh200")),
                 ("compare", str(REFERENCE / "lightllm-bfcl"), str(REFERENCE / "lightllm-4xh200")),
                 ("compare", str(tmp_path), str(REFERENCE / "lightllm-4xh200")),
                 ("history", str(tmp_path), "--metric", "ttft_ms_p99", "--workload", "burst")):
        res = run_cli(*args)
        assert res.returncode == 2 and res.stderr.startswith("error: ") and "next: " in res.stderr
        assert "Traceback" not in res.stderr
