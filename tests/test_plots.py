"""The plots as a performance engineer reads them, checked on the figures' own artists: percentile marks and tails
on latency CDFs, ITL and TPOT distributions, p50 and p99 against throughput, ladders joined in load order with
their points named, SLO lines, log axes where the values span a wide range and axes from zero where they do not,
error bars where a result has intervals, BFCL bars with their n and Wilson intervals, the k + 1 reference of
speculative decoding, axis labels true to the hardware, one CSV shape for runs and experiments, and no matplotlib
warning on stderr."""

from __future__ import annotations

import csv
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

from glmbench.backends.config import BackendConfig
from glmbench.experiment.analysis import ExperimentReport
from glmbench.results.records import RequestRecord
from glmbench.results.schema import BackendInfo, BFCLSummary, LoadSummary, Manifest
from glmbench.util.proportion import wilson_interval
from tests.conftest import run_cli

pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install pandas matplotlib")

from glmbench.report import experiment_figures as ef  # noqa: E402  (after the skip: it needs matplotlib)
from glmbench.report import figures  # noqa: E402
from glmbench.report.runs import ReportRun  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test's figures closed after it (pyplot keeps every figure it made until told)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")

MS = 1_000_000


# -- hand-made runs ------------------------------------------------------------------------------------------------

def _record(workload: str, i: int, ttft_ms: float, itl_ms: float = 10.0, chunks: int = 5, per_chunk: int = 1) -> RequestRecord:
    start = i * 1000 * MS
    stamps = [start + int(ttft_ms * MS) + int(k * itl_ms * MS) for k in range(chunks)]
    return RequestRecord(workload=workload, index=i, prompt_tokens=10, max_tokens=chunks * per_chunk, due_ns=start,
                         send_ns=start, wire_ns=start, end_ns=stamps[-1], chunk_ns=stamps,
                         chunk_tokens=[per_chunk] * chunks, first_content_ns=stamps[0],
                         output_tokens=chunks * per_chunk, ok=True)


def _manifest(backend: str = "sim", config: dict[str, Any] | None = None, gpu: list[str] | None = None,
              command: list[str] | None = None) -> Manifest:
    cfg = config if config is not None else BackendConfig(backend=backend, model="m").model_dump(mode="json")
    return Manifest(run_id="r", status="complete", glmbench_version="t", gpu=gpu or [],
                    backend=BackendInfo(name=backend, config=cfg, url="http://127.0.0.1:1/v1", model="m",
                                        command=command if command is not None else ["serve"]),
                    host={}, suite="sharegpt", workloads=["burst"], dataset={}, seed=0, started_at="2026-01-01T00:00:00Z")


def _run(label: str, rows: list[dict[str, Any]], records: list[RequestRecord], manifest: Manifest | None = None,
         tmp: Path = Path("/nonexistent")) -> ReportRun:
    run = ReportRun(label=label, path=tmp, summary=LoadSummary(run_id=label, rows=rows), manifest=manifest)
    run.records = records  # type: ignore[misc]  (a cached property, filled by hand)
    return run


def _gids(ax: Any) -> list[str]:
    return [a.get_gid() for a in ax.get_children() if a.get_gid()]


def _marks(ax: Any, gid: str) -> list[tuple[float, float]]:
    return [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ax.lines if line.get_gid() == gid]


# -- latency CDFs -------------------------------------------------------------------------------------------------

def test_latency_cdfs_mark_p50_p90_p99_share_one_x_range_and_show_the_tail_on_a_log_axis() -> None:
    fast = [_record("burst", i, 100 + i) for i in range(100)]
    slow = [_record("steady", i, 150 + 2 * i) for i in range(100)]
    row = {"workload": "burst", "ttft_ms_p99": 198.5}  # the table's figure, where the mark goes
    fig = figures.cdf_figure([_run("a", [row], fast + slow)], "ttft")
    (top_burst, top_steady), (tail_burst, tail_steady) = fig.axes[0:2], fig.axes[2:4]
    assert top_burst.get_xlim() == top_steady.get_xlim() == tail_burst.get_xlim()  # one range: they compare
    assert top_burst.get_xscale() == "linear" and top_burst.get_xlim()[0] == 0  # 100-350 ms: no log, from 0
    for stat, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        [(_, y)] = _marks(top_burst, stat)
        [(_, tail_y)] = _marks(tail_burst, stat)
        assert y == q and tail_y == pytest.approx(1 - q)
        assert f"guide-{stat}" in _gids(top_steady)
    assert _marks(top_burst, "p99")[0][0] == 198.5
    assert _marks(top_steady, "p50")[0][0] == pytest.approx(150 + 2 * 49.5)  # no row: the values' own
    assert tail_burst.get_yscale() == "log" and tail_steady.get_yscale() == "log"


def test_latencies_spanning_decades_get_a_log_axis() -> None:
    records = [_record("burst", i, 50 * 1.07 ** i) for i in range(100)]  # 50 ms to 40 s
    fig = figures.cdf_figure([_run("a", [], records)], "ttft")
    assert fig.axes[0].get_xscale() == "log" and fig.axes[1].get_xscale() == "log"


def test_cdf_marks_carry_a_repeated_run_s_interval_as_error_bars() -> None:
    records = [_record("burst", i, 100 + i) for i in range(50)]
    plain = figures.cdf_figure([_run("a", [{"workload": "burst", "ttft_ms_p99": 149.0}], records)], "ttft")
    assert "ci" not in _gids(plain.axes[0])
    row = {"workload": "burst", "ttft_ms_p99": 149.0, "ttft_ms_p99_ci": [140.0, 160.0], "repeats": 3}
    fig = figures.cdf_figure([_run("a", [row], records)], "ttft")
    [bars] = [c for c in fig.axes[0].collections if c.get_gid() == "ci"]
    [[(low, y), (high, _)]] = bars.get_segments()
    assert (low, high, y) == (140.0, 160.0, 0.99)


# -- ITL and TPOT ---------------------------------------------------------------------------------------------------

def test_itl_and_tpot_distributions_split_itl_per_token_where_chunks_carry_several() -> None:
    plain = [_record("burst", i, 100, itl_ms=20) for i in range(40)]
    mtp = [_record("burst", i, 100, itl_ms=22, per_chunk=3) for i in range(40)]
    fig = figures.itl_tpot_figure([_run("base", [], plain), _run("mtp", [], mtp)])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["burst: ITL", "burst: ITL per token", "burst: TPOT"]
    itl, per_token, tpot = fig.axes
    assert {"p50", "p99"} <= set(_gids(itl)) and {"p50", "p99"} <= set(_gids(tpot))
    # The MTP run's tokens come 3 to a 22 ms chunk: 7.3 ms per token, against 20 ms.
    p50s = sorted(line.get_xdata()[0] for line in per_token.lines if line.get_gid() == "p50")
    assert p50s == [pytest.approx(22 / 3), pytest.approx(20)]
    only = figures.itl_tpot_figure([_run("base", [], plain)])
    assert [ax.get_title() for ax in only.axes] == ["burst: ITL", "burst: TPOT"]


# -- throughput against latency -------------------------------------------------------------------------------------

def _rows() -> list[dict[str, Any]]:
    return [{"workload": w, "output_tok_s": tok, "ttft_ms_p50": t50, "ttft_ms_p99": t99, "tpot_ms_p50": 20.0,
             "tpot_ms_p99": 25.0, "e2e_ms_p50": 1000.0, "e2e_ms_p99": 1500.0, "ttft_ms_mean": 999.0}
            for w, tok, t50, t99 in (("burst", 900.0, 100.0, 150.0), ("steady", 500.0, 110.0, 120.0))]


def test_throughput_latency_draws_p50_and_p99_and_never_joins_workloads() -> None:
    fig = figures.throughput_latency_figure([_run("a", _rows(), [])])
    ttft = fig.axes[0]
    assert sorted(_marks(ttft, "p50")) == [(500.0, 110.0), (900.0, 100.0)]
    assert sorted(_marks(ttft, "p99")) == [(500.0, 120.0), (900.0, 150.0)]
    assert 999.0 not in [y for line in ttft.lines for y in line.get_ydata()]  # no mean
    for line in ttft.lines:  # each line stays at one throughput: p50 to p99 of one workload
        assert len(set(line.get_xdata())) == 1
    assert ttft.get_xlim()[0] == 0 and ttft.get_ylim()[0] == 0  # no truncated axis
    assert "ci" not in _gids(ttft)
    rows = _rows()
    rows[0].update(ttft_ms_p99_ci=[140.0, 170.0], output_tok_s_ci=[850.0, 950.0], repeats=3)
    assert "ci" in _gids(figures.throughput_latency_figure([_run("a", rows, [])]).axes[0])


# -- experiments: curves and Pareto ---------------------------------------------------------------------------------

def _point(cell: str, label: str, ladder: str | None, tok: float, ttft: float, in_flight: int | None = None,
           rate: float | None = None, kind: str = "load", **extra: Any) -> dict[str, Any]:
    return {"cell": cell, "point": label, "kind": kind, "status": "complete", "ladder": ladder, "output_tok_s": tok,
            "ttft_ms_p50": ttft * 0.8, "ttft_ms_p99": ttft, "tpot_ms_p50": 10.0, "tpot_ms_p99": 12.0,
            "tpot_ms_mean": 10.0, "in_flight": in_flight, "rate": rate, "output_tok_s_per_gpu": tok,
            "tok_s_per_user": 100.0, "on_frontier": True, "hardware": "simulator", "gpus": 1, **extra}


def _experiment(points: list[dict[str, Any]], slo: dict[str, float] | None = None) -> ExperimentReport:
    return ExperimentReport(name="exp", path=Path("/nonexistent"), status="complete", points=points,
                            servers=[{"server": "a", "pareto": "on the frontier"}], slo=slo or {})


def test_experiment_curves_join_each_ladder_in_load_order_name_the_points_and_draw_the_slo() -> None:
    points = [  # in the order they ran, c32 overloaded (less throughput than c8), a search probing up and down
        _point("a", "c8", "concurrency", 800.0, 90.0, in_flight=8),
        _point("a", "c1", "concurrency", 100.0, 50.0, in_flight=1),
        _point("a", "c32", "concurrency", 700.0, 2000.0, in_flight=32),
        _point("a", "r20", "rate", 600.0, 80.0, rate=20.0),
        _point("a", "r5", "rate", 200.0, 55.0, rate=5.0),
        _point("a", "cap-c16", "capacity", 750.0, 400.0, in_flight=16, kind="capacity"),
        _point("a", "cap-c4", "capacity", 390.0, 60.0, in_flight=4, kind="capacity"),
        _point("a", "steady", None, 450.0, 70.0, rate=5.0),
    ]
    fig = ef.curves_figure(_experiment(points, slo={"ttft": 200.0, "tpot": 25.0}))
    ttft_p99 = fig.axes[1]
    lines = {line.get_gid(): line for line in ttft_p99.lines if line.get_gid() in ("concurrency", "rate", "capacity")}
    assert list(lines["concurrency"].get_xdata()) == [100.0, 800.0, 700.0]  # c1, c8, c32: load order, not throughput
    assert list(lines["rate"].get_xdata()) == [200.0, 600.0]
    assert list(lines["capacity"].get_xdata()) == [390.0, 750.0]
    [alone] = [line for line in ttft_p99.lines if line.get_gid() == "alone"]
    assert list(alone.get_xdata()) == [450.0]  # a workload of its own: joined to nothing
    named = {t.get_text() for t in ttft_p99.texts if t.get_gid() == "point-label"}
    assert {"c1", "c8", "r5", "steady"} <= named
    [slo] = [line for line in ttft_p99.lines if line.get_gid() == "slo"]
    assert slo.get_ydata()[0] == 200.0 and "SLO TTFT 200 ms" in slo.get_label()
    assert ttft_p99.get_yscale() == "log"  # 40 ms to 2 s
    assert fig.axes[2].get_yscale() == "linear" and fig.axes[2].get_ylim()[0] == 0  # TPOT 8-25 ms, from 0
    assert [line.get_ydata()[0] for line in fig.axes[3].lines if line.get_gid() == "slo"] == [25.0]
    assert fig.axes[0].get_title() == "TTFT p50" and fig.axes[0].get_ylim() == ttft_p99.get_ylim()
    assert "ci" not in _gids(ttft_p99)
    points[0]["ttft_ms_p99_ci"] = [80.0, 100.0]
    assert "ci" in _gids(ef.curves_figure(_experiment(points)).axes[1])


def test_load_order_runs_a_sweep_from_one_at_a_time_to_all_at_once() -> None:
    sweep = [_point("a", n, "sweep", 1.0, 1.0, in_flight=c, rate=r, kind="sweep")
             for n, c, r in (("sweep-max", None, None), ("sweep-r8", None, 8.0), ("sweep-sync", 1, None),
                             ("sweep-r2", None, 2.0))]
    [(name, ordered)] = ef.ladders(sweep)
    assert name == "sweep" and [p["point"] for p in ordered] == ["sweep-sync", "sweep-r2", "sweep-r8", "sweep-max"]


@pytest.mark.parametrize("hardware, expected, not_expected", [
    (["gpu"], "output tok/s per GPU", "per server"),
    (["simulator"], "per server (simulator, no GPU)", "per GPU"),
    (["cpu"], "per server (CPU, no GPU)", "per GPU"),
    (["endpoint"], "per server (external endpoint, GPUs unknown)", "per GPU"),
    (["gpu", "simulator"], "per GPU, per server where not on GPUs (simulator, no GPU)", None),
])
def test_pareto_throughput_is_per_gpu_only_where_gpus_served(hardware: list[str], expected: str,
                                                             not_expected: str | None) -> None:
    points = [_point("a", f"c{i}", "concurrency", 100.0 * (i + 1), 50.0, in_flight=i + 1, hardware=h)
              for i, h in enumerate(hardware)]
    fig = ef.pareto_figure(_experiment(points))
    label = fig.axes[0].get_ylabel()
    assert expected in label and (not_expected is None or not_expected not in label)
    plots = ef.experiment_plots(_experiment(points))
    assert plots[0].name == "pareto" and expected.replace("output tok/s ", "") in plots[0].title


def test_the_point_s_hardware_comes_from_its_manifest(tmp_path: Path) -> None:
    from glmbench.experiment.analysis import _hardware
    from glmbench.results.store import RunStore

    for name, manifest, expected in (
        ("sim", _manifest("sim", gpu=["NVIDIA H100 80GB"]), "simulator"),  # the simulator uses no GPU, even on one
        ("cpu", _manifest("vllm"), "cpu"),
        ("gpu", _manifest("vllm", gpu=["NVIDIA H100 80GB, 81559 MiB"]), "gpu"),
        ("url", _manifest("vllm", command=[], gpu=["NVIDIA H100 80GB"]), "endpoint"),
    ):
        store = RunStore(tmp_path, name)
        store.write_manifest(manifest)
        assert _hardware(store.path) == expected, name
    assert _hardware(tmp_path / "none") is None


def test_a_point_s_load_comes_from_its_config_named_by_the_suite_or_by_its_load(tmp_path: Path) -> None:
    import yaml

    from glmbench.experiment.analysis import _load_pace

    def config(workloads: list[str], suite: dict[str, dict[str, Any]]) -> Path:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        (folder / "config.yaml").write_text(yaml.safe_dump({"suite": {"workloads": suite}, "workloads": workloads}))
        return folder

    def suite(cap: int | None = None, rate: float | None = None) -> dict[str, dict[str, Any]]:
        # The ladder's override is applied to every workload of the suite; each keeps its own other value.
        return {"burst": {"max_concurrency": cap, "request_rate": rate},
                "high-conc": {"max_concurrency": cap or 512, "request_rate": rate},
                "steady": {"max_concurrency": cap, "request_rate": rate or 5.0}}

    assert _load_pace(config(["c8"], suite(cap=8))) == {"in_flight": 8, "rate": None}
    assert _load_pace(config(["r20"], suite(rate=20.0))) == {"in_flight": None, "rate": 20.0}
    assert _load_pace(config(["sweep-max"], suite())) == {"in_flight": None, "rate": None}
    assert _load_pace(config(["burst"], suite(cap=8))) == {"in_flight": 8, "rate": None}  # named by the suite's
    assert _load_pace(config(["steady"], suite())) == {"in_flight": None, "rate": 5.0}
    assert _load_pace(tmp_path / "none") == {}


# -- BFCL and speculative decoding ----------------------------------------------------------------------------------

def test_bfcl_bars_carry_n_and_the_wilson_interval() -> None:
    rows = [{"category": "simple", "accuracy": 100.0, "correct": 3, "total": 3},  # written before the interval
            {"category": "multiple", "accuracy": 50.0, "correct": 20, "total": 40, "accuracy_low": 35.0,
             "accuracy_high": 65.0},
            {"category": "OVERALL", "accuracy": 75.0, "correct": 23, "total": 43, "accuracy_low": None,
             "accuracy_high": None}]  # a mean of categories: no interval of its own
    summary = BFCLSummary(run_id="b", primary="lightllm", mode="native", style="lightllm", tables={"lightllm": rows})
    run = ReportRun(label="b", path=Path("/nonexistent"), summary=summary, manifest=None)
    ax = figures.bfcl_figure([run]).axes[0]
    [bars] = [c for c in ax.collections if c.get_gid() == "ci"]
    low, high = wilson_interval(3, 3)
    spans = [(float(a[1]), float(b[1])) for a, b in bars.get_segments()]
    assert spans[0] == (pytest.approx(100 * low), pytest.approx(100 * high))  # 3 of 3 is 44-100%, not 100%
    assert spans[1] == (35.0, 65.0) and spans[2] == (75.0, 75.0)
    assert [t.get_text() for t in ax.texts] == ["3/3", "20/40", "23/43"]


def test_acceptance_plot_shows_k_plus_one() -> None:
    rows = [{"workload": "burst", "spec_accept_length": 2.5, "spec_source": "vllm:spec_decode_* counters"}]
    sim = BackendConfig(backend="sim", model="m", options={"spec_tokens": 3}).model_dump(mode="json")
    fig = figures.spec_figure([_run("mtp", rows, [], _manifest("sim", sim))])
    [limit] = [line for line in fig.axes[0].lines if line.get_gid() == "k+1"]
    assert limit.get_ydata()[0] == 4 and "k = 3 draft tokens" in limit.get_label()
    assert "vllm:spec_decode_* counters" in fig.axes[0].get_title()
    assert fig.axes[0].get_ylim()[1] > 4


@pytest.mark.parametrize("backend, speculative, k", [
    ("vllm", {"method": "mtp", "num_speculative_tokens": 2}, 2),
    ("sglang", {"num_steps": 3, "eagle_topk": 1, "num_draft_tokens": 4}, 3),
    ("lightllm", {"step": 4}, 4),
    ("vllm", None, None),
])
def test_each_backend_reads_its_own_draft_tokens(backend: str, speculative: dict[str, Any] | None, k: int | None):
    config = BackendConfig(backend=backend, model="m", speculative=speculative).model_dump(mode="json")
    assert figures.draft_tokens(_run("r", [], [], _manifest(backend, config))) == k


# -- CSV ------------------------------------------------------------------------------------------------------------

def test_the_experiment_csv_has_the_run_csv_s_raw_keys_and_unrounded_values() -> None:
    from glmbench.report.formats.base import render
    from glmbench.report.formats.registry import get_format
    from glmbench.report.model import ExperimentView

    point = _point("a", "c8", "concurrency", 812.345678, 91.234567, in_flight=8, client_saturated=True,
                   below_floor=["simple 40% < 60%"], outputs={"role": "compared"}, ttft_ms_p99_ci=[80.5, 101.25])
    view = ExperimentView(Path("/nonexistent"))
    view.report = _experiment([point])  # type: ignore[misc]  (a cached property, filled by hand)
    text = render(get_format("csv"), view).text or ""
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert list(row)[:3] == ["cell", "point", "kind"]
    assert row["output_tok_s"] == "812.345678" and row["ttft_ms_p99"] == "91.234567"  # not "812", not "91.2"
    assert (row["ttft_ms_p99_ci_low"], row["ttft_ms_p99_ci_high"]) == ("80.5", "101.25")
    assert row["client_saturated"] == "True" and row["below_floor"] == "simple 40% < 60%"
    assert "outputs" not in row and "TTFT p99 ms" not in text
    run = render(get_format("csv"), _load_run_report([{"workload": "burst", "ttft_ms_p99": 91.234567}])).text or ""
    assert "ttft_ms_p99" in run.splitlines()[0]


def _load_run_report(rows: list[dict[str, Any]]) -> Any:
    from glmbench.report.model import LoadRunReport

    return LoadRunReport("r", LoadSummary(run_id="r", rows=rows))


# -- matplotlib stays quiet -----------------------------------------------------------------------------------------

def test_matplotlib_warnings_never_surface(caplog: pytest.LogCaptureFixture) -> None:
    # A glyph the default font lacks: matplotlib warns when the figure is drawn.
    records = [_record("burst", i, 100 + i) for i in range(20)]
    run = _run("run \U0001F680", [{"workload": "burst", **_rows()[0]}], records)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="matplotlib"):
        warnings.simplefilter("always")
        plots = figures.make_plots([run])
        for plot in plots:
            for kind in figures.FILE_TYPES:
                figures.figure_bytes(plot, kind)
        ef.experiment_plots(_experiment([_point("a", "c1 \U0001F680", "concurrency", 1.0, 1.0, in_flight=1)]))
    assert {p.name for p in plots} >= {"ttft_cdf", "e2e_cdf", "itl_tpot", "throughput_latency"}
    assert not caught, [str(w.message) for w in caught]
    assert not caplog.records


@pytest.mark.e2e
def test_a_simulated_speculative_run_renders_every_plot_with_nothing_on_stderr(tmp_path: Path) -> None:
    res = run_cli("run", "--backend", "sim", "--workload", "burst", "--num-prompts", "12", "--dataset", "random",
                  "--input-len", "16", "--output-len", "16", "--set", "options.ttft_ms=20", "--set", "options.itl_ms=2",
                  "--set", "options.spec_tokens=3", "--set", "options.spec_accept=0.7", "--label", "mtp \U0001F680",
                  "--results-dir", str(tmp_path / "results"), "--run-id", "mtp", timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    plots = tmp_path / "plots"
    res = run_cli("report", str(tmp_path / "results" / "mtp"), "--plots", str(plots))
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines() == [f"wrote {len(list(plots.iterdir()))} plot files to {plots}"]
    names = {p.stem for p in plots.iterdir()}
    assert {"ttft_cdf", "e2e_cdf", "itl_tpot", "throughput_latency", "spec_acceptance", "timeline_1"} <= names
