"""compare and history say when two runs asked different workloads, and their wording reads right to a user."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from glmbench.compare import compare_results
from glmbench.compare.experiments import ExperimentComparison
from glmbench.compare.render import to_markdown
from glmbench.compare.verdict import interval_verdict
from tests.conftest import REPO, run_cli

REFERENCE = REPO / "results" / "reference" / "lightllm-4xh200"


def _load_run(root: Path, name: str, prompts: int, started: str, rate: float | None = 5.0,
              dataset: dict | None = None) -> Path:
    """A load run folder: one ``steady`` workload of ``prompts`` prompts, its manifest, summary and config.yaml."""
    from glmbench.results.schema import BackendInfo, LoadSummary, Manifest
    from glmbench.results.store import RunStore

    store = RunStore(root, name)
    schedule = f"Poisson {rate:g} req/s" if rate else "all at t=0"
    row = {"workload": "steady", "title": "steady (5 req/s)", "description": schedule, "num_prompts": prompts,
           "completed": prompts, "failed": 0, "output_tok_s": 700.0 * prompts / 200, "ttft_ms_p99": 170.0,
           "client_saturated": False, "client_warning": None, "errors": {}}
    store.write_summary(LoadSummary(run_id=name, rows=[row]))
    spec = {"name": "sharegpt", "num_prompts": prompts, **(dataset or {})}
    store.write_manifest(Manifest(run_id=name, status="complete", glmbench_version="test",
                                  backend=BackendInfo(name="sim", url="http://127.0.0.1:1/v1", model="m"), host={},
                                  suite="sharegpt", workloads=["steady"],
                                  dataset={"name": spec["name"], "approximate_tokens": True}, seed=0,
                                  started_at=started))
    store.write_config({"suite": {"name": "sharegpt", "dataset": spec,
                                  "workloads": {"steady": {"title": "steady (5 req/s)", "request_rate": rate}}},
                        "workloads": ["steady"], "backend": "sim"})
    return store.path


def test_compare_notes_a_different_prompt_count_in_every_format(tmp_path: Path) -> None:
    big = _load_run(tmp_path, "big", 200, "2026-12-07T13:35:43+00:00")
    small = _load_run(tmp_path, "small", 30, "2026-12-07T13:39:13+00:00")
    result = compare_results(big, small, metrics=["output_tok_s"])
    assert result.regressions  # 85% less throughput from 30 prompts: judged, and said to be unlike
    note = "num_prompts differs: 200 vs 30: throughput and tail latencies are not like for like"
    assert note in result.notes and result.unlike == [note]
    assert any("exit code follows the verdicts alone" in n for n in result.notes)
    assert result.to_json()["like_for_like"] is False and result.to_json()["workload_differences"] == [note]
    md = to_markdown(result)
    assert "not like for like" in md.splitlines()[2] and "num\\_prompts differs: 200 vs 30" in md
    table = run_cli("compare", str(big), str(small), "--metric", "output_tok_s")
    assert table.returncode == 1 and "num_prompts differs: 200 vs 30" in table.stdout
    assert "the workloads differ: not like for like" in table.stdout
    # The same workload twice: nothing to say.
    same = compare_results(big, _load_run(tmp_path, "big2", 200, "2026-12-08T00:00:00+00:00"),
                           metrics=["output_tok_s"])
    assert same.unlike == [] and same.to_json()["like_for_like"] is True


def test_compare_names_each_setting_that_differs(tmp_path: Path) -> None:
    a = _load_run(tmp_path, "a", 50, "2026-12-07T00:00:00+00:00", rate=5.0,
                  dataset={"name": "random", "random_input_len": 1024})
    b = _load_run(tmp_path, "b", 50, "2026-12-07T01:00:00+00:00", rate=10.0,
                  dataset={"name": "random", "random_input_len": 256})
    notes = compare_results(a, b, metrics=["output_tok_s"]).unlike
    assert any(n.startswith("schedule differs: Poisson 5 req/s vs Poisson 10 req/s: the load differs") for n in notes)
    assert any(n.startswith("random_input_len differs: 1024 vs 256: prompt or reply lengths differ") for n in notes)
    assert not any("num_prompts" in n for n in notes)


def test_against_the_published_table_the_note_names_it_once(tmp_path: Path) -> None:
    run = _load_run(tmp_path, "run", 200, "2026-12-07T00:00:00+00:00")
    notes = compare_results(REFERENCE, run, metrics=["output_tok_s"]).notes
    published = next(n for n in notes if "published table" in n)
    assert "published table (published table" not in published
    assert published.startswith("baseline is a published table (LightLLM")
    assert "num_prompts differs: 2000 vs 200: throughput and tail latencies are not like for like" in notes


def test_the_interval_says_better_for_a_lower_is_better_metric_that_fell() -> None:
    # TTFT fell 5.7% to 19.1%: better, not "worse".
    why = interval_verdict(0.809, 0.943, "lower", 0.05, -0.12).why
    assert "19.1% .. 5.7% worse" not in why and "-19.1%" not in why
    assert "5.7% .. 19.1% better" in why
    assert "5.0% .. 10.0% worse" in interval_verdict(1.05, 1.10, "lower", 0.05, 0.07).why
    assert "2.0% better .. 3.0% worse" in interval_verdict(0.98, 1.03, "lower", 0.05, 0.0).why


def test_the_repeats_advice_says_what_none_means() -> None:
    from glmbench.compare.compare import Comparison, Row
    from glmbench.compare.verdict import Verdict

    def point(metric: str, spread: float | None) -> tuple[str, str, Comparison]:
        verdict = Verdict("ok", "threshold", "", 0.05, spread)
        row = Row("burst", metric, "", "higher", 1.0, 1.0, 0.0, verdict)
        return "sim", "burst", Comparison("a", "b", "load", 0.05, [row])

    result = ExperimentComparison("a", "b", 0.05, [point("output_tok_s", None), point("ttft_ms_p99", 0.18),
                                                   point("tpot_ms_mean", 0.005)])
    assert result.repeats_shown("output_tok_s").startswith("unknown: single runs give this figure no spread")
    assert result.repeats_shown("ttft_ms_p99").startswith("none: the rule's noise margin (2 x spread)")
    assert result.repeats_shown("tpot_ms_mean") == "2"
    assert "none suffices" not in to_experiments_markdown(result)


def to_experiments_markdown(result: ExperimentComparison) -> str:
    from glmbench.compare.experiments import to_markdown as markdown

    return markdown(result)


def test_history_marks_a_run_whose_workload_differs_from_its_series_first(tmp_path: Path) -> None:
    from glmbench.compare.history import history

    _load_run(tmp_path, "a-200", 200, "2026-12-07T13:35:43+00:00")
    _load_run(tmp_path, "b-30", 30, "2026-12-07T13:39:13+00:00")
    _load_run(tmp_path, "c-200", 200, "2026-12-07T13:43:10+00:00")
    points, _ = history(tmp_path, "output_tok_s", "steady")
    assert [p.differs for p in points] == [None, "num_prompts 30, first run 200", None]
    table = run_cli("history", str(tmp_path), "-m", "output_tok_s", "-w", "steady")
    assert table.returncode == 0 and "num_prompts 30, first run 200" in table.stdout
    assert "not like for like" in table.stdout
    data = json.loads(run_cli("history", str(tmp_path), "-m", "output_tok_s", "-w", "steady", "-f", "json").stdout)
    assert [p["differs"] for p in data] == [None, "num_prompts 30, first run 200", None]
    md = run_cli("history", str(tmp_path), "-m", "output_tok_s", "-w", "steady", "-f", "md").stdout
    assert "num\\_prompts 30, first run 200" in md


def test_a_config_without_a_load_suite_asks_nothing(tmp_path: Path) -> None:
    from glmbench.compare.asked import asked

    folder = tmp_path / "bfcl"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({"bfcl_suite": {"name": "bfcl-v3"}}))
    assert asked(folder, None, {"workload": "all"}) == {}
