"""A BFCL run's latency beside its accuracy: in every report format, and in compare's verdict.

Against the simulator (a real process on 127.0.0.1) answering from an answer
book: the same entries asked as traffic of a fast server (TTFT 20 ms) and a slow
one (TTFT 200 ms), and unstreamed. Reports of a traffic run show a latency table
(schedule in its title, one line per load row) under the accuracy tables, and of
an unstreamed run exactly what they showed before; compare judges accuracy and
speed in one comparison, so a slower server fails it while accuracy holds.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from glmbench.bfcl.suite import BFCLSuite
from glmbench.compare import compare_results
from glmbench.compare.sides import load_side
from glmbench.report.formats.base import render
from glmbench.report.formats.registry import get_format
from glmbench.report.model import BFCLRunReport
from glmbench.results.records import read_records
from glmbench.results.schema import BFCLSummary

from .conftest import SimProcess, run_cli
from .test_bfcl_pipeline import MINI, _load, write_book

pytestmark = pytest.mark.e2e

CATEGORIES = ["simple", "multiple", "parallel", "irrelevance", "live_simple"]
SCHEDULE = "closed loop, cap 4"


def _bfcl(sim: SimProcess, results: Path, *args: str) -> tuple[Path, str]:
    res = run_cli("bfcl", "--endpoint", sim.url, "--data-dir", str(MINI), "--categories", ",".join(CATEGORIES),
                  "--concurrency", "4", *args, "--results-dir", str(results), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    return run_dir, res.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """Traffic runs against a fast and a slow server, and an unstreamed run against each, made once."""
    root = tmp_path_factory.mktemp("bfcl-load")
    book = root / "book.jsonl"
    write_book(book, _load(CATEGORIES, MINI), BFCLSuite(mode="native"))
    out: dict[str, Path | str] = {}
    for name, ttft in (("fast", "20"), ("slow", "200")):
        sim = SimProcess(root, "--settings", json.dumps({"answers": str(book)}), "--ttft-ms", ttft, "--itl-ms", "1")
        try:
            out[name], out[f"{name}-stdout"] = _bfcl(sim, root / name)
            out[f"{name}-unstreamed"], _ = _bfcl(sim, root / f"{name}-unstreamed", "--no-stream")
        finally:
            sim.stop()
    return out


def _compare(base: Path, cand: Path) -> tuple[int, dict]:
    res = run_cli("compare", str(base), str(cand), "--format", "json")
    assert res.returncode in (0, 1), res.stderr[-3000:]
    return res.returncode, json.loads(res.stdout)


def test_the_runs_are_what_the_comparisons_need(runs):
    for name in ("fast", "slow"):
        summary = json.loads((runs[name] / "summary.json").read_text())
        assert summary["schedule"] == SCHEDULE and [r["workload"] for r in summary["load"]] == ["all"]
        assert summary["load"][0]["ttft_tool_call_ms_mean"] is not None
        unstreamed = json.loads((runs[f"{name}-unstreamed"] / "summary.json").read_text())
        assert unstreamed["load"] == [] and unstreamed["schedule"] is None
    # glmbench bfcl ends with the same tables as glmbench report: the latency table among them.
    assert f"Latency ({SCHEDULE})" in runs["fast-stdout"] and "TTFT call mean ms" in runs["fast-stdout"]


def test_a_slower_server_fails_compare_on_speed_while_accuracy_holds(runs):
    code, result = _compare(runs["fast"], runs["slow"])
    assert code == 1 and result["regressed"]
    accuracy = [r for r in result["rows"] if r["metric"] == "accuracy"]
    speed = [r for r in result["rows"] if r["metric"] != "accuracy"]
    assert accuracy and speed and {r["workload"] for r in speed} == {"all"}
    assert all(r["verdict"]["status"] == "ok" for r in accuracy)  # the same answers from the same book
    regressed = {r["metric"]: r for r in result["rows"] if r["verdict"]["status"] == "regression"}
    assert "ttft_ms_mean" in regressed and "ttft_tool_call_ms_mean" in regressed and "accuracy" not in regressed
    assert regressed["ttft_ms_mean"]["verdict"]["rule"] == "bootstrap"  # resampled over the run's records
    assert regressed["ttft_ms_mean"]["candidate"] > 5 * regressed["ttft_ms_mean"]["baseline"]
    md = run_cli("compare", str(runs["fast"]), str(runs["slow"]), "--format", "md")
    assert md.returncode == 1 and "(accuracy 0, speed " in md.stdout and "| all | ttft_ms_mean |" in md.stdout


def test_a_run_compared_with_itself_flags_nothing(runs):
    code, result = _compare(runs["fast"], runs["fast"])
    assert code == 0 and not result["regressed"]
    metrics = {r["metric"] for r in result["rows"]}
    assert "accuracy" in metrics and {"ttft_ms_mean", "e2e_ms_p99", "tool_call_ms_mean"} <= metrics
    assert all(r["verdict"]["status"] == "ok" for r in result["rows"])


def test_unstreamed_runs_compare_on_accuracy_as_before(runs):
    code, result = _compare(runs["fast-unstreamed"], runs["slow-unstreamed"])
    assert code == 0 and {r["metric"] for r in result["rows"]} == {"accuracy"}
    assert not any("speed" in n for n in result["notes"])
    # One side timed, the other not: accuracy alone, and a note saying why speed was left out.
    code, mixed = _compare(runs["fast-unstreamed"], runs["slow"])
    assert code == 0 and {r["metric"] for r in mixed["rows"]} == {"accuracy"}
    assert any(n.startswith("speed not compared: the baseline was not asked as traffic") for n in mixed["notes"])
    # --metric picks speed alone on BFCL runs too.
    only = compare_results(runs["fast"], runs["slow"], metrics=["ttft_ms_p99"])
    assert [(r.workload, r.metric) for r in only.rows] == [("all", "ttft_ms_p99")]


def _shown(run_dir: Path, fmt: str) -> str:
    res = run_cli("report", str(run_dir), "--format", fmt, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


@pytest.mark.parametrize("fmt, marks", [
    ("table", [f"Latency ({SCHEDULE})", "TTFT call mean ms", "call done mean ms"]),
    ("md", [f"**Latency ({SCHEDULE})**", "| workload | completed | failed | req/s | TTFT mean ms |"]),
    ("csv", ["workload,completed,failed,request_s,ttft_ms_mean,ttft_ms_p99,ttft_tool_call_ms_mean"]),
    ("html", [f"BFCL latency ({SCHEDULE})", "TTFT call mean ms"]),
    ("json", ['"schedule": "closed loop, cap 4"', '"table": "latency"']),
])
def test_every_format_shows_the_latency_of_a_traffic_run_and_not_of_an_unstreamed_one(runs, fmt, marks):
    traffic, unstreamed = _shown(runs["fast"], fmt), _shown(runs["fast-unstreamed"], fmt)
    for mark in marks:
        assert mark in traffic and mark not in unstreamed
    assert "OVERALL" in traffic and "OVERALL" in unstreamed  # the accuracy tables stay
    if fmt == "json":
        # The array it always was: the accuracy rows as before, then the load rows, told apart by "table".
        rows, before = json.loads(traffic), json.loads(unstreamed)
        accuracy = [r for r in rows if "table" not in r]
        assert [(r["rules"], r["category"]) for r in accuracy] == [(r["rules"], r["category"]) for r in before]
        [latency] = [r for r in rows if r.get("table") == "latency"]
        assert latency["workload"] == "all" and latency["rules"] is None and latency["ttft_ms_mean"] > 0
    if fmt == "csv":
        latency = list(csv.DictReader(io.StringIO(traffic.split("\n\n")[1])))
        assert [r["workload"] for r in latency] == ["all"] and latency[0]["schedule"] == SCHEDULE


def _console_text(report: BFCLRunReport) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=160, color_system=None)
    for item in render(get_format("table"), report).console or ():
        console.print(item)
    return console.file.getvalue()  # type: ignore[attr-defined]


_ROW = {"workload": "all", "title": "every request", "completed": 9, "failed": 1, "request_s": 2.0,
        "ttft_ms_mean": 31.25, "ttft_ms_p99": 40.0, "ttft_tool_call_ms_mean": 50.0, "tool_call_ms_mean": 70.0,
        "e2e_ms_mean": 120.0, "e2e_ms_p99": 200.0, "output_tok_s": 80.0, "spec_accept_rate": 0.71,
        "client_saturated": True, "client_warning": "concurrency cap 8 not held (cap held 40% of arrivals)",
        "errors": {"HTTP 500: <script>alert(1)</script> *bold*": 1}}
_TABLES = {"lightllm": [{"category": "simple", "accuracy": 50.0, "correct": 1, "total": 2},
                        {"category": "OVERALL", "accuracy": 50.0, "correct": 1, "total": 2}]}


def test_a_warning_flags_its_row_and_server_text_stays_data():
    report = BFCLRunReport("run", BFCLSummary(run_id="r", mode="native", style="lightllm", tables=_TABLES,
                                              schedule="closed loop, cap 8", load=[_ROW]))
    text = _console_text(report)
    assert "Latency (closed loop, cap 8)" in text and "all *" in text and "accept rate" in text and "0.71" in text
    assert "* all: concurrency cap 8 not held" in text and "<script>" in text  # shown as text: a console has no HTML
    md = render(get_format("md"), report).text or ""
    assert "&lt;script&gt;" in md and "<script>" not in md and "\\*bold\\*" in md
    assert "| all \\* | 9 | 1 | 2.00 | 31.2 | 40.0 | 50.00 | 70.00 | 120 | 200 | 80.0 | 0.71 |" in md
    # Without the server's acceptance rate, no column for it.
    plain = BFCLRunReport("run", BFCLSummary(run_id="r", mode="native", style="lightllm", tables=_TABLES,
                                             schedule="Poisson 5 req/s",
                                             load=[{k: v for k, v in _ROW.items() if k != "spec_accept_rate"}]))
    assert "accept rate" not in (render(get_format("md"), plain).text or "")


def test_a_summary_without_load_rows_renders_as_before():
    old = BFCLRunReport("run", BFCLSummary(run_id="r", mode="native", style="lightllm", tables=_TABLES))
    assert "Latency" not in _console_text(old) and render(get_format("table"), old).width is None
    for name in ("md", "json", "csv"):
        text = render(get_format(name), old).text or ""
        assert "Latency" not in text and "ttft" not in text


def test_html_escapes_what_a_server_sent_in_the_latency_notes(runs, tmp_path):
    hostile = tmp_path / "hostile"
    shutil.copytree(runs["fast"], hostile)
    summary = json.loads((hostile / "summary.json").read_text())
    summary["load"][0].update(failed=1, errors=_ROW["errors"], client_saturated=True,
                              client_warning=_ROW["client_warning"])
    (hostile / "summary.json").write_text(json.dumps(summary))
    html = _shown(hostile, "html")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "all *" in html and "concurrency cap 8 not held" in html


def test_bfcl_requests_are_matched_to_their_traffic_class_by_entry_category(runs, tmp_path):
    mixed = tmp_path / "mixed"
    shutil.copytree(runs["fast"], mixed)
    # Two entries become multi-turn ones, as a run asking both kinds would have them; the summary gets the
    # traffic classes' rows beside "all".
    lines = [json.loads(line) for line in (mixed / "bfcl_records.jsonl").read_text().splitlines()]
    multi = {lines[0]["id"], lines[1]["id"]}
    for record in lines:
        if record["id"] in multi:
            record["category"] = "multi_turn_base"
    (mixed / "bfcl_records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    summary = json.loads((mixed / "summary.json").read_text())
    summary["load"] += [{**summary["load"][0], "workload": name} for name in ("single-turn", "multi-turn")]
    (mixed / "summary.json").write_text(json.dumps(summary))

    [run] = load_side(mixed, "baseline").runs
    requests = list(read_records(mixed / "records.jsonl"))
    assert len(run.records("all")) == len(requests) and run.records("bfcl") == []
    assert {r.entry for r in run.records("multi-turn")} == multi
    assert {r.entry for r in run.records("single-turn")} == {r.entry for r in requests} - multi

    result = compare_results(mixed, mixed, metrics=["ttft_ms_mean"])
    # Each row resampled over its own requests: two multi-turn requests are enough for a bootstrap.
    assert [(r.workload, r.verdict.rule) for r in result.rows] == [
        ("all", "bootstrap"), ("single-turn", "bootstrap"), ("multi-turn", "bootstrap")]
