"""Function calling under load in experiments (issue 24): BFCL ladders as points, accuracy floors, curves.

Against the simulator started by the experiment (a real process on 127.0.0.1),
answering from an answer book by a load law: right with chance 0.95 alone and
0.5 at eight in flight. A BFCL suite given as a ladder is one point per load,
each with its accuracy, its 95% interval, its tool-calling latency and the
server's acceptance; the accuracy floor of ``slo`` marks the points below it,
keeps their servers off the Pareto frontier and out of "best"; acceptance is
per point, so a simulator that drafts tool-call JSON better than prose shows it;
the report draws accuracy and latency against load.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmbench.bfcl.suite import BFCLSuite

from .conftest import run_cli
from .test_bfcl_pipeline import _load, write_book
from .test_bfcl_traffic import _simple_entries

pytestmark = pytest.mark.e2e


def _experiment(tmp: Path, floor: int) -> Path:
    data = _simple_entries(tmp / "data", 60)
    book = tmp / "book.jsonl"
    write_book(book, _load(["simple"], data), BFCLSuite())
    options = (f"options.ttft_ms: 30, options.itl_ms: 3, options.answers: {book}, "
               f"'options.answer_law': [[1, 0.95], [8, 0.5]]")
    path = tmp / "exp.yaml"
    path.write_text(f"""schema_version: 1
name: fc-load
servers:
  - {{name: base, backend: sim, set: {{{options}}}}}
  - {{name: mtp, backend: sim, set: {{{options}, options.spec_tokens: 1, options.spec_accept: 0.3,
                                    options.spec_accept_answers: 0.9}}}}
load:
  concurrency: [4]
  options: {{num_prompts: 12, dataset: random, input_len: 32, output_len: 16}}
suites:
  - suite: bfcl-v3
    concurrency: [1, 8]
    options: {{categories: [simple], data_dir: {data}, source: dir}}
slo: {{ttft: 1000, accuracy: {floor}}}
""")
    return path


def _points(report: dict) -> dict[tuple[str, str], dict]:
    return {(p["cell"], p["point"]): p for p in report["points"]}


def test_a_bfcl_ladder_is_a_point_per_load_with_accuracy_latency_and_acceptance(tmp_path: Path) -> None:
    res = run_cli("experiment", "run", str(_experiment(tmp_path, 70)), "--results-dir", str(tmp_path / "r"),
                  timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    [folder] = list((tmp_path / "r").iterdir())
    report = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    points = _points(report)
    assert set(points) == {(c, p) for c in ("base", "mtp") for p in ("c4", "bfcl-v3-c1", "bfcl-v3-c8")}
    for cell in ("base", "mtp"):
        alone, loaded = points[cell, "bfcl-v3-c1"], points[cell, "bfcl-v3-c8"]
        assert (alone["in_flight"], loaded["in_flight"]) == (1, 8)
        assert alone["schedule"] == "closed loop, cap 1" and loaded["schedule"] == "closed loop, cap 8"
        # The law: right 95% of the time alone, about half at eight in flight.
        assert alone["bfcl_low"] <= alone["bfcl_overall"] <= alone["bfcl_high"]
        assert loaded["bfcl_overall"] < alone["bfcl_overall"] and loaded["bfcl_high"] < 90
        for p in (alone, loaded):
            assert p["completed"] == 60 and p["ttft_tool_call_ms_mean"] > 0 and p["tool_call_ms_mean"] > 0
            assert p["cap_held_pct"] is None or 0 <= p["cap_held_pct"] <= 100  # held is tests/test_bfcl_traffic.py's
        # Below the floor of 70% at eight in flight: marked, and the server's load point is not ranked.
        assert loaded["below_floor"] and loaded["pareto"] == "below floor" and not alone.get("below_floor")
        assert "BFCL accuracy is under the floor" in points[cell, "c4"]["not_ranked"]
    # Acceptance is read per point, so traffic classes differ as the server's drafts do (tool-call JSON 0.9,
    # prose 0.3 in this simulator); none without speculation.
    assert points["mtp", "c4"]["spec_accept_rate"] == pytest.approx(0.3, abs=0.1)
    assert all(points["mtp", p]["spec_accept_rate"] > 0.75 for p in ("bfcl-v3-c1", "bfcl-v3-c8"))
    assert all(points["base", p].get("spec_accept_rate") is None for p in ("c4", "bfcl-v3-c1", "bfcl-v3-c8"))
    assert not any(s["best"] for s in report["servers"])  # both below the floor: no best
    assert all(s["pareto"] == "below the accuracy floor" for s in report["servers"])
    text = run_cli("report", str(folder)).stdout
    assert "below the accuracy floor" in text and "(95% CI)" in " ".join(text.split())
    html = tmp_path / "report.html"
    assert run_cli("report", str(folder), "--out", str(html)).returncode == 0
    assert "BFCL accuracy and tool-calling latency vs load" in html.read_text()


@pytest.mark.parametrize(("suites", "error"), [
    ("[{suite: bfcl-v3, concurrency: [0]}]", "concurrency values must be >= 1"),
    ("[{suite: bfcl-v3, options: {concurrency: 4}}]", "options may not set concurrency"),
    ("[{suite: bfcl-v3, concurrency: [2]}, {suite: bfcl-v3, concurrency: [2]}]", "two points"),
])
def test_a_bad_bfcl_ladder_is_refused_before_anything_starts(tmp_path: Path, suites: str, error: str) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(f"schema_version: 1\nname: bad\nservers: [{{backend: sim}}]\nsuites: {suites}\n")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 2 and error in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "r").exists()


def test_an_unknown_slo_or_floor_category_is_refused(tmp_path: Path) -> None:
    for slo, error in (("{accuracy.simpel: 50}", "unknown BFCL category simpel"), ("{latency: 5}", "unknown SLO")):
        path = tmp_path / "exp.yaml"
        path.write_text(f"schema_version: 1\nname: bad\nservers: [{{backend: sim}}]\nsuites: [bfcl-v3]\nslo: {slo}\n")
        res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"))
        assert res.returncode == 2 and error in res.stderr, res.stderr


def test_dry_run_lists_each_load_of_a_bfcl_ladder(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("schema_version: 1\nname: plan\nservers: [{backend: sim}]\n"
                    "suites: [{suite: bfcl-v3, concurrency: [1, 32], rate: [2.5]}]\n")
    res = run_cli("experiment", "run", str(path), "--dry-run", "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    for label in ("bfcl-v3-c1", "bfcl-v3-c32", "bfcl-v3-r2.5"):
        assert label in res.stdout


def test_a_floor_may_name_a_v4_category() -> None:
    """BFCL v4's names (simple_python, memory_kv, ...) are floors as v3's are; a name of neither is refused."""
    from glmbench.experiment.file import Experiment

    base = {"schema_version": 1, "name": "floors", "servers": [{"backend": "sim"}], "suites": ["bfcl-v4"]}
    floors = Experiment.model_validate({**base, "slo": {"accuracy.simple_python": 60, "accuracy.memory_kv": 20,
                                                            "accuracy.simple": 60}}).accuracy_floor
    assert floors == {"simple_python": 60, "memory_kv": 20, "simple": 60}
    with pytest.raises(ValueError, match="unknown BFCL category simple_pyton"):
        Experiment.model_validate({**base, "slo": {"accuracy.simple_pyton": 60}})
