"""Plot axes and legends a reader can use: nothing cut at the image's edge, ticks that say what they are."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="plots need matplotlib")


def _points(**later):
    from glmbench.compare.history import HistoryPoint

    return [HistoryPoint("a", "2026-12-07T13:35:30+00:00", "sim", "sim", "burst", 172.0),
            HistoryPoint("b", "2026-12-07T13:39:30+00:00", "sim", "sim-itl-20-a-long-configuration-name", "burst",
                         156.0, **later)]


def test_history_ticks_between_minutes_read_as_times() -> None:
    from glmbench.compare.history_plot import history_figure

    fig = history_figure(_points(), "ttft_ms_p99", "burst")
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all(":" in label for label in labels), labels  # 13:36:30, never a bare 30


def test_the_saved_history_plot_holds_its_whole_legend(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    from glmbench.compare.history_plot import plot_history

    out = plot_history(_points(), "ttft_ms_p99", "burst", tmp_path / "trend.png")
    pixels = mpimg.imread(out)
    # The legend sits right of the axes: the image ends in a white margin, not flush with the legend's frame.
    assert (pixels[:, -8:, :3] > 0.99).all() and (pixels[:8, :, :3] > 0.99).all()


def test_history_rings_a_run_whose_workload_differs() -> None:
    from glmbench.compare.history_plot import history_figure

    fig = history_figure(_points(differs="num_prompts 30, first run 200"), "ttft_ms_p99", "burst")
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "workload differs from the series' first run" in texts


def test_bfcl_accuracy_vs_load_with_one_point_has_whole_in_flight_ticks() -> None:
    from glmbench.experiment.analysis import ExperimentReport
    from glmbench.report.experiment_figures import bfcl_figure

    point = {"cell": "sim", "point": "bfcl-v3", "kind": "bfcl", "in_flight": 8, "bfcl_overall": 50.0,
             "bfcl_low": 30.0, "bfcl_high": 70.0, "e2e_ms_mean": 900.0}
    fig = bfcl_figure(ExperimentReport("e", Path("."), "complete", points=[point]))
    left = fig.axes[0]
    low, high = left.get_xlim()
    assert low <= 4.5 and high >= 11.5  # not 7.6 .. 8.4 around the one point
    ticks = [t for t in left.get_xticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks)
