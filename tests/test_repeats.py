"""Repeats as one result: ``run --repeat N`` prints one set of tables (each figure's mean and 95% interval), its
folder is one result for report, compare and history, and an experiment's repeats are reported the same way."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import pytest

from glmbench.metrics.repeats import combine_rows, interval, total
from glmbench.report.load_run import cell, notes
from glmbench.util.mean_interval import mean_interval, t_quantile_975
from tests.conftest import run_cli

_FAST = ("--dataset", "random", "--input-len", "16", "--output-len", "8")


# ---------------------------------------------------------------- the arithmetic


def test_the_interval_is_students_t_not_the_normal_one() -> None:
    found = mean_interval([1.0, 2.0, 3.0])  # s = 1, n = 3: t(2) = 4.303
    assert found is not None
    mean, low, high = found
    assert mean == 2.0 and math.isclose(high - mean, 4.3027 / math.sqrt(3), rel_tol=1e-4) and math.isclose(low, 4 - high)
    assert mean_interval([5.0]) is None  # one repeat says nothing about the spread
    # Tabled to 30 degrees of freedom, expanded beyond: the two meet, and tend to the normal quantile.
    assert abs(t_quantile_975(31) - 2.0395) < 1e-3 and t_quantile_975(30) > t_quantile_975(31) > 1.96
    assert abs(t_quantile_975(10_000) - 1.96) < 1e-3


def _row(workload: str, ttft: float, completed: int, failed: int = 0, **extra) -> dict:
    return {"workload": workload, "title": workload, "completed": completed, "failed": failed,
            "ttft_ms_mean": ttft, "ttft_ms": ttft, "output_tok_s": 10.0 * ttft, "num_prompts": 6,
            "client_saturated": False, "client_warning": None, "errors": {"timeout": failed} if failed else {},
            **extra}


def test_combined_rows_hold_means_intervals_and_the_repeat_count() -> None:
    rows = combine_rows([[_row("burst", 20, 6), _row("steady", 30, 6)],
                         [_row("burst", 22, 6), _row("steady", 30, 5, 1, client_saturated=True,
                                                         client_warning="loop lag")],
                         [_row("burst", 24, 6)]])  # the third repeat was cut before steady
    burst, steady = rows
    assert [burst["workload"], steady["workload"]] == ["burst", "steady"]
    assert burst["repeats"] == 3 and steady["repeats"] == 2
    assert burst["ttft_ms_mean"] == 22 and burst["ttft_ms"] == 22
    low, high = burst["ttft_ms_mean_ci"]
    assert math.isclose(high - 22, 4.3027 * 2 / math.sqrt(3), rel_tol=1e-4) and math.isclose(low + high, 44)
    assert burst["completed"] == 6 and isinstance(burst["completed"], int)  # agreeing counts stay whole
    assert steady["completed"] == 5.5 and total(steady, "failed") == 1 and steady["errors"] == {"timeout": 1}
    assert steady["client_saturated"] is True and steady["client_warning"] == "loop lag"
    assert "num_prompts_ci" not in burst and "title_ci" not in burst  # intervals for metrics only
    assert interval(burst, "output_tok_s") is not None and interval(_row("x", 1, 1), "output_tok_s") is None


def test_a_combined_row_shows_mean_plus_minus_half_the_interval_and_says_what_it_is() -> None:
    rows = combine_rows([[_row("burst", 20, 6, 1)], [_row("burst", 22, 6, 2)], [_row("burst", 24, 6)]])
    assert cell(rows[0], "ttft_ms_mean", "{:.2f}") == "22.00 ±4.97"
    assert cell(rows[0], "completed", "{:.0f}") == "6"  # the same in every repeat: no ±0
    said = notes(rows)
    assert "figures are means of 3 repeats" in said[0] and "95% confidence interval" in said[0]
    assert "burst: 3 failed over 3 repeats: timeout (x3)" in said  # counted in all, not a mean of 1


# ---------------------------------------------------------------- the command line, on the simulator


@pytest.fixture(scope="module")
def repeated(tmp_path_factory: pytest.TempPathFactory):
    """``run --repeat 3`` of two workloads on the simulator: (its folder, the run's output)."""
    tmp = tmp_path_factory.mktemp("repeated")
    sim = tmp / "sim.yaml"
    sim.write_text("sim:\n  ttft_ms: 20\n  itl_ms: 2\n  max_running: 64\n")
    res = run_cli("run", "--backend", "sim", "--workload", "burst,steady", "--num-prompts", "6",
                  "--request-rate", "20", *_FAST, "--sim-config", str(sim), "--repeat", "3",
                  "--results-dir", str(tmp / "results"))
    assert res.returncode == 0, res.stderr[-3000:]
    [folder] = [p for p in (tmp / "results").iterdir() if p.is_dir()]
    return folder, res


@pytest.mark.e2e
def test_run_repeat_prints_one_set_of_tables_of_means_with_their_interval(repeated) -> None:
    folder, res = repeated
    out = res.stdout
    assert out.count("Requests and throughput") == 1 and out.count("Schedule and client") == 1, out  # was 3 each
    assert "mean of 3 repeats, ± 95% CI" in out and "repeat 1 of 3" not in out
    assert "±" in out and "figures are means of 3 repeats" in out
    assert out.rstrip().endswith(f"results: {folder}")
    # The folder is one result: the run's own manifest and the combined summary beside the repeats.
    summary = json.loads((folder / "summary.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["repeat"] is None and manifest["repeats"] == 3 and manifest["status"] == "complete"
    assert (folder / "config.yaml").is_file()
    burst = summary["rows"][0]
    assert burst["repeats"] == 3 and len(burst["ttft_ms_mean_ci"]) == 2
    each = [json.loads((folder / f"repeat-{i}" / "summary.json").read_text())["rows"][0]["ttft_ms_mean"]
            for i in (1, 2, 3)]
    assert math.isclose(burst["ttft_ms_mean"], sum(each) / 3)
    assert burst["ttft_ms_mean_ci"][0] <= min(each) <= max(each) <= burst["ttft_ms_mean_ci"][1]


@pytest.mark.e2e
def test_report_reads_the_repeat_folder_as_one_result_in_every_format(repeated, tmp_path: Path) -> None:
    folder, _ = repeated
    table = run_cli("report", str(folder))  # was: "no summary.json"
    assert table.returncode == 0, table.stderr
    assert f"{folder.name}: mean of 3 repeats, ± 95% CI" in table.stdout and "±" in table.stdout
    rows = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    assert [r["workload"] for r in rows] == ["burst", "steady"] and all(r["repeats"] == 3 for r in rows)
    assert all(len(r["output_tok_s_ci"]) == 2 for r in rows)
    found = list(csv.DictReader(io.StringIO(run_cli("report", str(folder), "--format", "csv").stdout)))
    assert [r["workload"] for r in found] == ["burst", "steady"] and found[0]["repeats"] == "3"
    assert float(found[0]["output_tok_s_ci_low"]) <= float(found[0]["output_tok_s"]) <= \
        float(found[0]["output_tok_s_ci_high"])
    md = run_cli("report", str(folder), "--format", "md").stdout
    assert "±" in md and "figures are means of 3 repeats" in md
    page, plots = tmp_path / "r.html", tmp_path / "plots"
    done = run_cli("report", str(folder), "--out", str(page), "--plots", str(plots))
    assert done.returncode == 0, done.stderr
    assert page.is_file() and (plots / "ttft_cdf.png").is_file()  # the repeats' records, pooled


@pytest.mark.e2e
def test_report_of_the_repeat_folders_side_by_side_is_the_run_not_three_candidates(repeated) -> None:
    folder, _ = repeated
    repeats = [str(folder / f"repeat-{i}") for i in (1, 2, 3)]
    md = run_cli("report", *repeats, "--format", "md")
    assert md.returncode == 0, md.stderr
    assert "Baseline" not in md.stdout and "repeat-2" not in md.stdout  # was: repeat-2 and -3 with deltas
    assert "figures are means of 3 repeats" in md.stdout
    assert json.loads(run_cli("report", *repeats, "--format", "json").stdout) == \
        json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    # One repeat alone is that repeat.
    one = json.loads(run_cli("report", repeats[1], "--format", "json").stdout)
    assert "repeats" not in one[0]


@pytest.mark.e2e
def test_compare_takes_a_repeat_folder_as_either_side_its_repeats_the_samples(repeated, tmp_path: Path) -> None:
    folder, _ = repeated
    # A run written before runs kept their own summary: its repeats alone.
    older = tmp_path / "older"
    shutil.copytree(folder, older)
    for name in ("summary.json", "manifest.json", "config.yaml"):
        (older / name).unlink()
    for base, cand in ((folder, older), (older, folder), (folder, folder / "repeat-1")):
        res = run_cli("compare", str(base), str(cand), "--metric", "ttft_ms_mean", "--format", "json")
        assert res.returncode == 0, res.stderr
        data = json.loads(res.stdout)
        assert {r["verdict"]["rule"] for r in data["rows"]} == {"repeats"}
        assert "vs 3 runs" in data["rows"][0]["verdict"]["why"]  # the baseline's three repeats
        assert "(sim, 3 repeats)" in data["baseline"]
        assert any("3 repeats" in n and "each run's figure is one sample" in n for n in data["notes"])
    # report and history read the older folder as one result too.
    assert json.loads(run_cli("report", str(older), "--format", "json").stdout)[0]["repeats"] == 3


@pytest.mark.e2e
def test_history_counts_a_repeated_run_once_with_its_interval(repeated) -> None:
    folder, _ = repeated
    res = run_cli("history", str(folder.parent), "--metric", "ttft_ms_mean", "--workload", "burst", "--format",
                  "json")
    assert res.returncode == 0, res.stderr
    [point] = json.loads(res.stdout)  # was: one point per repeat
    assert point["repeats"] == 3 and len(point["ci"]) == 2 and point["run_id"] == folder.name
    table = run_cli("history", str(folder.parent), "--metric", "ttft_ms_mean", "--workload", "burst")
    assert "±" in table.stdout


@pytest.mark.e2e
def test_an_experiments_repeats_are_reported_as_means_with_their_interval(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("""schema_version: 1
name: rep
servers:
  - {name: s, backend: sim, set: {options.ttft_ms: 5, options.itl_ms: 1, options.ttft_dist: fixed,
     options.itl_dist: fixed, options.batch_slowdown: 0}}
load:
  concurrency: [2]
  options: {num_prompts: 8, dataset: random, input_len: 16, output_len: 8}
repeats: 2
""")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    [folder] = [p for p in (tmp_path / "r").iterdir() if p.is_dir()]
    data = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    [point] = data["points"]
    assert point["repeats"] == 2  # was: the last repeat's figures, nothing said
    low, high = point["output_tok_s_ci"]
    each = [json.loads((folder / "s" / "c2" / f"repeat-{i}" / "summary.json").read_text())["rows"][0]["output_tok_s"]
            for i in (1, 2)]
    assert math.isclose(point["output_tok_s"], sum(each) / 2) and low <= min(each) <= max(each) <= high
    [row] = list(csv.DictReader(io.StringIO(run_cli("report", str(folder), "--format", "csv").stdout)))
    assert row["repeats"] == "2" and float(row["output_tok_s_ci_low"]) == low
    assert "means of 2 repeats" in res.stdout
