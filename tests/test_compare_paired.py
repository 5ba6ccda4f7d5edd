"""BFCL accuracy entry by entry (an exact McNemar test), and the Wilson interval on each BFCL accuracy."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from glmbench.compare import compare_results
from glmbench.compare.verdict import PAIRED_RULE, mcnemar_p_value, paired_proportion_verdict
from tests.conftest import run_cli

THRESHOLD = 0.05  # compare's default: compare_results(threshold=0.05), --max-regression 5%


def _bfcl_folder(root: Path, name: str, outcomes: dict[str, dict[str, bool]], records: bool = True) -> Path:
    """A BFCL result folder: lightllm-rules verdicts per entry (``outcomes`` by category), summary and manifest."""
    from glmbench.bfcl.scoring import summarize
    from glmbench.bfcl.types import Verdict
    from glmbench.results.schema import BackendInfo, BFCLSummary, Manifest
    from glmbench.results.store import RunStore

    store = RunStore(root, name)
    verdicts = {cat: [Verdict(ok, "" if ok else "wrong value", "lightllm") for ok in entries.values()]
                for cat, entries in outcomes.items()}
    store.write_summary(BFCLSummary(run_id=name, mode="native", style="lightllm",
                                    tables={"lightllm": summarize(verdicts, "lightllm")}))
    store.write_manifest(Manifest(run_id=name, kind="bfcl", status="complete", glmbench_version="test",
                                  backend=BackendInfo(name="sim", url="http://127.0.0.1:1/v1", model="m"), host={},
                                  suite="bfcl-v3", workloads=list(outcomes), dataset={}, seed=0,
                                  started_at="2026-11-22T00:00:00Z"))
    if records:
        with (store.path / "bfcl_records.jsonl").open("w") as f:
            for category, entries in outcomes.items():
                for entry_id, ok in entries.items():
                    f.write(json.dumps({"id": entry_id, "category": category,
                                        "verdicts": {"lightllm": {"ok": ok, "reason": ""}}}) + "\n")
    return store.path


def _row(result, category: str):
    (row,) = [r for r in result.rows if r.workload == category]
    return row


def _baseline(seed: int = 0, n: int = 400) -> dict[str, bool]:
    """``n`` simple entries, each passing with chance 0.6 (about 240 pass)."""
    rng = random.Random(seed)
    return {f"simple_{i}": rng.random() < 0.6 for i in range(n)}


def _redraw(outcomes: dict[str, bool], rng: random.Random, k: int = 15) -> dict[str, bool]:
    """``outcomes`` with ``k`` entries drawn again at their pass chance (0.6): the noise of a rerun."""
    again = dict(outcomes)
    for entry_id in rng.sample(sorted(outcomes), k):
        again[entry_id] = rng.random() < 0.6
    return again


# ---- the test on plain numbers


def test_exact_mcnemar_p_values():
    assert mcnemar_p_value(0, 0) == 1.0
    assert mcnemar_p_value(20, 0) == pytest.approx(2 * 0.5 ** 20, rel=1e-12)
    assert mcnemar_p_value(5, 1) == pytest.approx(0.21875, rel=1e-12)
    assert mcnemar_p_value(1, 5) == mcnemar_p_value(5, 1)
    assert mcnemar_p_value(7, 7) == 1.0
    # Large counts stay exact: no float overflow in 2 ** n.
    assert 0 < mcnemar_p_value(2100, 1900) < 0.01


def test_the_verdict_needs_both_significance_and_the_margin():
    # 20 of 400 lost, none gained, baseline 60%: p ~ 2e-6 and 5 points past a 3-point margin.
    lost = paired_proportion_verdict(220, 20, 0, 160, THRESHOLD)
    assert lost.status == "regression" and lost.rule == PAIRED_RULE == "paired (McNemar)"
    assert lost.why.startswith("0 gained, 20 lost of 400 same entries") and "exact McNemar p = 1.91e-06" in lost.why
    assert paired_proportion_verdict(220, 0, 20, 160, THRESHOLD).status == "improvement"
    # Significant but inside the margin: 8 of 400 lost is 2 points, under 5% of 60%.
    assert paired_proportion_verdict(232, 8, 0, 160, THRESHOLD).status == "ok"
    # Past the margin but not significant: 3 of 16 lost is 19 points, but p = 0.25.
    small = paired_proportion_verdict(7, 3, 0, 6, THRESHOLD)
    assert small.status == "within noise" and "p = 0.25" in small.why
    # Changes both ways that cancel out, and no change at all.
    assert paired_proportion_verdict(230, 10, 10, 150, THRESHOLD).status == "ok"
    assert paired_proportion_verdict(0, 0, 0, 5, THRESHOLD).status == "ok"


def test_detectable_is_the_smallest_significant_net_loss_for_the_changes_seen():
    # 100 entries changed: the smallest net loss with p < 0.05 is 22 (61 lost, 39 gained), not 20 (60, 40).
    assert mcnemar_p_value(61, 39) < 0.05 <= mcnemar_p_value(60, 40)
    verdict = paired_proportion_verdict(200, 50, 50, 100, THRESHOLD)
    assert verdict.detectable == pytest.approx(22 / 400 / 0.625)
    # Few changes: the threshold is the larger bound; no entries passed on the baseline: none to be relative to.
    assert paired_proportion_verdict(220, 20, 0, 160, THRESHOLD).detectable == THRESHOLD
    assert paired_proportion_verdict(0, 0, 3, 5, THRESHOLD).detectable is None


# ---- compare on BFCL folders


def test_a_five_point_drop_on_the_same_entries_is_a_regression(tmp_path):
    base = _baseline()
    passing = [i for i, ok in base.items() if ok]
    assert 220 < len(passing) < 260
    cand = {**base, **{i: False for i in passing[:20]}}  # 20 of 400 lost: 5 points
    base_dir, cand_dir = _bfcl_folder(tmp_path, "base", {"simple": base}), _bfcl_folder(tmp_path, "cand", {"simple": cand})
    result = compare_results(base_dir, cand_dir)
    row = _row(result, "simple")
    assert row.verdict.rule == PAIRED_RULE and row.verdict.regressed and result.exit_code == 1
    assert "0 gained, 20 lost of 400 same entries" in row.verdict.why
    # The CLI fails the check.
    res = run_cli("compare", str(base_dir), str(cand_dir), "--format", "json")
    assert res.returncode == 1, res.stdout + res.stderr
    assert json.loads(res.stdout)["regressed"] is True


@pytest.mark.parametrize("seed", range(20))
def test_two_runs_of_the_same_server_are_not_flagged(tmp_path, seed):
    rng = random.Random(seed)
    truth = _baseline(seed)
    base, cand = _redraw(truth, rng), _redraw(truth, rng)
    result = compare_results(_bfcl_folder(tmp_path, "base", {"simple": base}),
                             _bfcl_folder(tmp_path, "cand", {"simple": cand}))
    for row in result.rows:
        assert row.verdict.rule == PAIRED_RULE and row.verdict.status in ("ok", "within noise"), row.verdict


def test_the_cli_passes_two_runs_of_the_same_server(tmp_path):
    rng = random.Random(7)
    truth = _baseline(7)
    res = run_cli("compare", str(_bfcl_folder(tmp_path, "base", {"simple": _redraw(truth, rng)})),
                  str(_bfcl_folder(tmp_path, "cand", {"simple": _redraw(truth, rng)})), "--format", "md")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK: no regression" in res.stdout and PAIRED_RULE in res.stdout


def test_overall_is_paired_only_when_every_category_is(tmp_path):
    simple, multiple = _baseline(1), {f"multiple_{i}": i % 2 == 0 for i in range(200)}
    worse = {**simple, **{i: False for i in [i for i, ok in simple.items() if ok][:20]}}
    result = compare_results(_bfcl_folder(tmp_path, "base", {"simple": simple, "multiple": multiple}),
                             _bfcl_folder(tmp_path, "cand", {"simple": worse, "multiple": multiple}))
    assert {r.workload: r.verdict.rule for r in result.rows} == {
        "simple": PAIRED_RULE, "multiple": PAIRED_RULE, "OVERALL": PAIRED_RULE}
    overall = _row(result, "OVERALL")
    assert "0 gained, 20 lost of 600 same entries" in overall.verdict.why and overall.verdict.regressed
    # The candidate asked other multiple entries: that category and OVERALL are independent samples.
    other = {f"multiple_{i + 1000}": ok for i, ok in enumerate(multiple.values())}
    result = compare_results(_bfcl_folder(tmp_path, "base2", {"simple": simple, "multiple": multiple}),
                             _bfcl_folder(tmp_path, "cand2", {"simple": worse, "multiple": other}))
    assert {r.workload: r.verdict.rule for r in result.rows} == {
        "simple": PAIRED_RULE, "multiple": "two-proportion", "OVERALL": "two-proportion"}


def test_a_category_with_other_entries_is_not_paired(tmp_path):
    base = _baseline(2)
    cand = {f"simple_{i + 1}": ok for i, ok in enumerate(base.values())}  # the same outcomes, one id along
    result = compare_results(_bfcl_folder(tmp_path, "base", {"simple": base}),
                             _bfcl_folder(tmp_path, "cand", {"simple": cand}))
    assert {r.verdict.rule for r in result.rows} == {"two-proportion"}
    assert not any("entry by entry" in n for n in result.notes)


# ---- the Wilson interval on each accuracy


def _summary():
    """A summary from ``summarize_run``: simple 7 of 10 and live_simple 1 of 4, under every rule set."""
    from glmbench.bfcl.registry import rule_set_names
    from glmbench.bfcl.results import summarize_run
    from glmbench.bfcl.suite import BFCLSuite
    from glmbench.bfcl.types import BFCLEntry

    entries = [BFCLEntry(f"{cat}_{i}", cat, [[{"role": "user", "content": "q"}]], [])
               for cat, n in (("simple", 10), ("live_simple", 4)) for i in range(n)]
    passed = {f"simple_{i}" for i in range(7)} | {"live_simple_0"}
    records = {e.id: {"id": e.id, "category": e.category,
                      "verdicts": {r: {"ok": e.id in passed, "reason": ""} for r in rule_set_names()}}
               for e in entries}
    return summarize_run("run", BFCLSuite(categories=["simple", "live_simple"]), entries, records,
                         {"multiple": "skipped"})


def test_summary_rows_carry_the_wilson_interval_of_their_accuracy():
    from glmbench.util.proportion import wilson_interval

    summary = _summary()
    rows = {(row["rules"], row["category"]): row for rows in summary.tables.values() for row in rows}
    simple = rows["lightllm", "simple"]
    low, high = wilson_interval(7, 10)
    assert simple["accuracy_low"] == pytest.approx(100 * low) and simple["accuracy_high"] == pytest.approx(100 * high)
    assert 39 < simple["accuracy_low"] < simple["accuracy"] == 70.0 < simple["accuracy_high"] < 90
    overall = rows["lightllm", "OVERALL"]  # entries passed / entries: 8 of 14
    assert overall["accuracy_low"] < overall["accuracy"] < overall["accuracy_high"]
    # BFCL's OVERALL is a mean of parts, not 8 of 14: no interval of 8 of 14 passes for it.
    bfcl_overall = next(row for (rules, cat), row in rows.items() if rules != "lightllm" and cat == "OVERALL")
    assert bfcl_overall["accuracy"] != pytest.approx(100 * 8 / 14)
    assert bfcl_overall["accuracy_low"] is None and bfcl_overall["accuracy_high"] is None
    not_run = rows["lightllm", "multiple"]
    assert not_run["accuracy"] is None and not_run["accuracy_low"] is None


def test_reports_show_the_interval_and_old_summaries_still_render():
    from glmbench.report.bfcl_run import CSV_FIELDS, score_cells
    from glmbench.report.formats.base import render
    from glmbench.report.formats.registry import get_format
    from glmbench.report.model import BFCLRunReport
    from glmbench.results.schema import BFCLSummary

    summary = _summary()
    simple = next(row for row in summary.tables["lightllm"] if row["category"] == "simple")
    assert score_cells(simple) == ("70.00% (39.7-89.2)", "7/10")
    md = render(get_format("md"), BFCLRunReport("run", summary)).text or ""
    assert "| simple | 70.00% (39.7-89.2) | 7/10 |" in md
    csv = (render(get_format("csv"), BFCLRunReport("run", summary)).text or "").splitlines()
    assert csv[0] == ",".join(CSV_FIELDS) and "accuracy_low" in CSV_FIELDS
    assert any(line.startswith("lightllm,simple,70.0,39.6") for line in csv)
    assert render(get_format("table"), BFCLRunReport("run", summary)).console
    # A summary written before the interval was stored: the cells as before, the CSV columns empty.
    old = BFCLSummary(run_id="old", mode="native", style="lightllm",
                      tables={"lightllm": [{"category": "simple", "accuracy": 50.0, "correct": 1, "total": 2}]})
    assert score_cells(old.tables["lightllm"][0]) == ("50.00%", "1/2")
    assert "lightllm,simple,50.0,,,1,2," in (render(get_format("csv"), BFCLRunReport("old", old)).text or "")
