"""Load points named by their load (c8, r20, sweep-3, cap-c16) wherever a run shows them: progress, tables,
reports, history and compare; history follows one configuration at one point, under a legend that stays
readable."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from glmbench.compare.history import HistoryPoint
from glmbench.load.options import RunOptions
from tests.conftest import run_cli

# ---------------------------------------------------------------- titles and names


def test_an_overridden_workload_is_titled_by_the_load_that_runs() -> None:
    _, [(name, wl)] = RunOptions(workload="burst", max_concurrency=8).suite_and_workloads()
    assert (name, wl.title) == ("burst", "burst (closed loop, cap 8)")  # was "burst (overridden)"
    _, [(name, wl)] = RunOptions(workload="steady", request_rate=20).suite_and_workloads()
    assert wl.title == "steady (Poisson 20 req/s)"
    _, [(_, wl)] = RunOptions(workload="steady").suite_and_workloads()
    assert wl.title == "steady (5 req/s)"  # the suite's own title when nothing is overridden


def test_a_load_point_names_its_workload() -> None:
    options = RunOptions(workload="burst", max_concurrency=16)
    _, [(name, wl)] = options.suite_and_workloads(point="cap-c16")
    assert (name, wl.title) == ("cap-c16", "cap-c16 (closed loop, cap 16)")
    _, [(name, wl)] = RunOptions(workload="burst").suite_and_workloads(point="burst")
    assert (name, wl.title) == ("burst", "burst")  # a suite workload run as it is keeps its name


# ---------------------------------------------------------------- the history plot


def _points(series: int, runs: int = 3) -> list[HistoryPoint]:
    return [HistoryPoint(f"r{s}-{i}", f"2026-12-0{1 + i}T10:00:{s:02d}+00:00", "vllm",
                         f"a-rather-long-server-configuration-label-{s}", f"c{2 ** (s % 4)}", 10.0 + s + i,
                         ci=(9.0 + s + i, 11.0 + s + i) if s % 2 else None)
            for s in range(series) for i in range(runs - (s % 3 == 0))]


def test_the_history_plot_names_at_most_ten_series_beside_the_axes_without_warnings() -> None:
    from glmbench.compare.history_plot import MAX_SERIES, history_figure

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning (a collapsed layout) fails here instead of reaching stderr
        fig = history_figure(_points(48), "ttft_ms_p99", "burst")  # was: a 48-entry legend over the plot
        fig.canvas.draw()
    [legend] = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == MAX_SERIES and texts[-1] == "39 more series (fewer runs), grey"
    assert all(" · c" in t for t in texts[:-1])  # the point survives a long label being cut
    renderer = fig.canvas.get_renderer()
    [ax] = fig.axes
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1  # outside the axes
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_few_series_are_all_named(tmp_path: Path) -> None:
    from glmbench.compare.history_plot import history_figure, plot_history

    fig = history_figure(_points(3), "ttft_ms_p99", "burst")
    assert len(fig.legends[0].get_texts()) == 3
    assert plot_history(_points(1, runs=1), "ttft_ms_p99", "burst", tmp_path / "one.png").is_file()


# ---------------------------------------------------------------- an experiment on the simulator


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory):
    """An experiment of two servers at burst, c2 and r50, and a plain burst run, in one results folder."""
    tmp = tmp_path_factory.mktemp("night")
    path = tmp / "exp.yaml"
    path.write_text("""schema_version: 1
name: night
servers:
  - {name: fast, backend: sim, set: {options.ttft_ms: 5, options.ttft_dist: fixed, options.itl_dist: fixed,
     options.batch_slowdown: 0}, grid: {options.itl_ms: [1, 4]}}
load:
  workloads: [burst]
  concurrency: [2]
  rate: [50]
  options: {num_prompts: 8, dataset: random, input_len: 16, output_len: 8}
""")
    results = tmp / "results"
    res = run_cli("experiment", "run", str(path), "--results-dir", str(results), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    [folder] = [p for p in results.iterdir() if p.is_dir()]
    sim = tmp / "sim.yaml"
    sim.write_text("sim:\n  ttft_ms: 20\n  itl_ms: 2\n")
    plain = run_cli("run", "--backend", "sim", "--workload", "burst", "--num-prompts", "4", "--dataset", "random",
                    "--input-len", "16", "--output-len", "8", "--sim-config", str(sim), "--results-dir", str(results))
    assert plain.returncode == 0, plain.stderr[-3000:]
    return folder, res


@pytest.mark.e2e
def test_experiment_points_run_and_are_stored_under_their_own_names(night) -> None:
    folder, res = night
    assert "(overridden)" not in res.stderr + res.stdout
    assert "running c2 against " in res.stderr and "c2 (closed loop, cap 2): 8/8 done, 0 failed" in res.stderr
    assert "r50 (Poisson 50 req/s): 8/8 done" in res.stderr
    row = json.loads((folder / "fast_itl_ms=1" / "c2" / "summary.json").read_text())["rows"][0]
    assert (row["workload"], row["title"]) == ("c2", "c2 (closed loop, cap 2)")  # was burst, burst (overridden)
    md = run_cli("report", str(folder / "fast_itl_ms=1" / "c2"), "--format", "md").stdout
    assert "| c2 (closed loop, cap 2) |" in md


def _history(root: Path, workload: str, *more: str):
    res = run_cli("history", str(root), "--metric", "ttft_ms_p99", "--workload", workload, "--format", "json", *more)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), res


@pytest.mark.e2e
def test_history_follows_one_configuration_at_one_point(night, tmp_path: Path) -> None:
    folder, _ = night
    burst, _ = _history(folder.parent, "burst")
    # Was: the c2 and r50 points too (they ran the suite's burst workload), six "configs" of "server point".
    assert sorted((p["config"], p["point"]) for p in burst) == [("fast itl_ms=1", "burst"), ("fast itl_ms=4", "burst"),
                                                                ("sim", "burst")]
    c2, _ = _history(folder.parent, "c2")
    assert sorted((p["config"], p["point"]) for p in c2) == [("fast itl_ms=1", "c2"), ("fast itl_ms=4", "c2")]
    # A point folder written before points were named by their load (its row says burst) is still its point.
    older = tmp_path / "older"
    shutil.copytree(folder, older / folder.name)
    summary_path = older / folder.name / "fast_itl_ms=1" / "c2" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["rows"][0].update(workload="burst", title="burst (overridden)")
    summary_path.write_text(json.dumps(summary))
    assert sorted(p["point"] for p in _history(older, "burst")[0]) == ["burst", "burst"]
    assert sorted(p["config"] for p in _history(older, "c2")[0]) == ["fast itl_ms=1", "fast itl_ms=4"]
    # The table and the plot name the point; the plot leaves no warning on stderr.
    table = run_cli("history", str(folder.parent), "--metric", "ttft_ms_p99", "--workload", "burst",
                    "--plot", str(tmp_path / "trend.png"))
    assert table.returncode == 0 and "point" in table.stdout and (tmp_path / "trend.png").is_file()
    assert "Warning" not in table.stderr and table.stderr.strip() == f"plot: {tmp_path / 'trend.png'}"
    # compare matches a point by its label, whatever each side named its workload (the candidate's name shown).
    res = run_cli("compare", str(older / folder.name), str(folder), "--format", "json", "--max-regression", "99%")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    points = {(p["server"], p["point"]): p for p in json.loads(res.stdout)["points"]}
    assert {r["workload"] for r in points["fast itl_ms=1", "c2"]["rows"]} == {"c2"}
