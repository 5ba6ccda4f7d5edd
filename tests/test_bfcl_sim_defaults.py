"""BFCL on the simulator glmbench starts (issue 27): meaningful and quick by default.

``glmbench bfcl --backend sim`` answers every entry from BFCL's ground truth (an
answer book written into the run folder) at a 1 ms ITL and says so in one line,
so its scores are near 100% by construction and check the pipeline; ``--sim-answers
none`` or a book of the config's own keep the simulator's own replies. ``run`` on a
BFCL suite takes ``--limit`` and refuses ``--num-prompts``, naming ``--limit``; an
interrupted BFCL run names its own folder to resume.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, at_a_terminal, run_cli

pytestmark = pytest.mark.e2e

MINI = REPO / "tests" / "data" / "bfcl_mini"
SINGLE_TURN = ["simple", "multiple", "parallel", "parallel_multiple", "java", "javascript", "irrelevance",
               "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
               "live_relevance"]
NOTE = "answers from BFCL's ground truth"


def _bfcl(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    results = tmp / "results"
    res = run_cli("bfcl", "--backend", "sim", *args, "--results-dir", str(results), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    return res, run_dir


def _rows(run_dir: Path, rules: str) -> dict[str, dict]:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {row["category"]: row for row in summary["tables"][rules]}


def _options(run_dir: Path) -> dict:
    return yaml.safe_load((run_dir / "config.yaml").read_text())["backend_config"]["options"]


@pytest.mark.parametrize("mode,style", [("native", "lightllm"), ("prompt", "lightllm"), ("native", "bfcl")])
def test_bfcl_on_the_simulator_answers_from_the_ground_truth_by_default(tmp_path: Path, mode: str,
                                                                       style: str) -> None:
    res, run_dir = _bfcl(tmp_path, "--data-dir", str(MINI), "--categories", ",".join(SINGLE_TURN), "--mode", mode,
                         "--style", style, "--scoring", style)
    # Said in one line as it starts, with the way back to the simulator's own replies.
    [note] = [line for line in res.stderr.splitlines() if NOTE in line]
    assert "scores near" in res.stderr and "--sim-answers none" in res.stderr, res.stderr
    assert note.startswith("note: sim answers")
    # The book is in the run folder, the simulator was started on it with a short ITL.
    assert (run_dir / "sim_answers.jsonl").is_file()
    options = _options(run_dir)
    assert options["answers"] == str(run_dir / "sim_answers.jsonl") and options["itl_ms"] == 1
    # Every category of the table shown first passes in full: the ground truth, sent through the simulator,
    # decoded and checked by the suite's own rules (Java/JS values as text where BFCL's requests ask for text).
    rows = _rows(run_dir, style)
    for category in SINGLE_TURN:
        row = rows[category]
        if row.get("scored") is False:
            continue
        assert row["total"] >= 1 and row["correct"] == row["total"], (category, row)
    # The note says what each table scores by construction, and each table scores exactly that: the other rule
    # set too (BFCL's requests send dotted names with "_", which LightLLM's script never passes).
    said = {rules: (int(n), int(m)) for rules, n, m in
            re.findall(r"the (\w+) table (?:scores near 100% \()?(\d+) of (\d+)", " ".join(res.stderr.split()))}
    assert set(said) == {"lightllm", "bfcl"}, res.stderr
    for rules, (passed, total) in said.items():
        scored = [row for c, row in _rows(run_dir, rules).items() if c in SINGLE_TURN and row.get("scored") is not False]
        assert (sum(r["correct"] for r in scored), sum(r["total"] for r in scored)) == (passed, total), rules


def test_sim_answers_none_keeps_the_simulators_own_replies(tmp_path: Path) -> None:
    res, run_dir = _bfcl(tmp_path, "--data-dir", str(MINI), "--categories", "simple", "--limit", "1",
                         "--max-tokens", "8", "--sim-answers", "none")
    assert NOTE not in res.stderr
    assert not (run_dir / "sim_answers.jsonl").exists() and _options(run_dir).get("answers") is None
    assert _rows(run_dir, "lightllm")["simple"]["correct"] == 0  # placeholder text, no call


def test_a_book_of_the_users_own_and_an_itl_they_chose_are_kept(tmp_path: Path) -> None:
    empty = tmp_path / "book.jsonl"
    empty.write_text("")
    res, run_dir = _bfcl(tmp_path, "--data-dir", str(MINI), "--categories", "simple", "--limit", "1",
                         "--max-tokens", "8", "--set", f"options.answers={empty}")
    assert NOTE not in res.stderr and not (run_dir / "sim_answers.jsonl").exists()
    assert _options(run_dir)["answers"] == str(empty)
    assert _rows(run_dir, "lightllm")["simple"]["correct"] == 0

    res, run_dir = _bfcl(tmp_path / "itl", "--data-dir", str(MINI), "--categories", "simple", "--limit", "1",
                         "--set", "options.itl_ms=3")
    assert "ITL 3 ms" in res.stderr and _options(run_dir)["itl_ms"] == 3
    assert _rows(run_dir, "lightllm")["simple"]["correct"] == 1


@pytest.mark.bfcl_data
def test_multi_turn_conversations_are_answered_from_the_ground_truth_too(tmp_path: Path) -> None:
    from glmbench.bfcl.data import cached_wheel

    if cached_wheel() is None:
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA") == "1":
            pytest.fail("BFCL data not cached (GLMBENCH_REQUIRE_BFCL_DATA=1): run glmbench data fetch bfcl")
        pytest.skip("BFCL data not cached: run glmbench data fetch bfcl")
    res, run_dir = _bfcl(tmp_path, "--suite", "bfcl-v3-multi-turn", "--limit", "3")
    assert NOTE in res.stderr
    rows = _rows(run_dir, "bfcl")
    # A base entry and its long-context twin open with the same words and tools and want different calls: one
    # book cannot tell them apart, so one of those may fail; every other conversation passes.
    assert rows["MULTI_TURN"]["total"] == 12 and rows["MULTI_TURN"]["correct"] >= 11, rows["MULTI_TURN"]


def _suite(tmp: Path) -> Path:
    path = tmp / "mini-bfcl.yaml"
    path.write_text(f"schema_version: 1\nkind: bfcl\nname: mini\ncategories: [simple, irrelevance]\n"
                    f"source: dir\ndata_dir: {MINI}\n")
    return path


def test_run_on_a_bfcl_suite_takes_limit(tmp_path: Path) -> None:
    results = tmp_path / "results"
    res = run_cli("run", "--suite", str(_suite(tmp_path)), "--limit", "1", "--results-dir", str(results), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "bfcl: 2 entries" in res.stderr
    [run_dir] = list(results.iterdir())
    rows = _rows(run_dir, "lightllm")
    assert (rows["simple"]["total"], rows["irrelevance"]["total"]) == (1, 1)
    assert rows["OVERALL"]["correct"] == 2


def test_run_on_a_bfcl_suite_refuses_num_prompts_naming_limit(tmp_path: Path) -> None:
    results = tmp_path / "results"
    res = run_cli("run", "--suite", "bfcl-v3", "--num-prompts", "2", "--results-dir", str(results))
    assert res.returncode == 2, res.stderr
    assert "error: --num-prompts: not an option of a BFCL suite (bfcl-v3)" in res.stderr
    assert "--limit N (at most N entries per category)" in res.stderr and "Traceback" not in res.stderr
    assert not results.exists()  # nothing started, nothing written
    res = run_cli("run", "--suite", "bfcl-v3", "-w", "all", "--client-workers", "2", "--results-dir", str(results))
    assert res.returncode == 2 and "--workload, --client-workers: not options of a BFCL suite" in res.stderr
    res = run_cli("run", "--limit", "2", "--results-dir", str(results))
    assert res.returncode == 2 and "--limit is for BFCL suites; sharegpt is a load suite" in res.stderr
    assert "--num-prompts" in res.stderr and not results.exists()


@pytest.mark.parametrize("suite, meant", [("bfcl-v5", "bfcl-v4"), ("bfcl-v3-ful", "bfcl-v3-full")])
def test_an_unknown_suite_is_said_first_with_limit_too(tmp_path: Path, suite: str, meant: str) -> None:
    results = tmp_path / "results"
    res = run_cli("run", "--backend", "sim", "--suite", suite, "--limit", "2", "--results-dir", str(results))
    assert res.returncode == 2, res.stderr
    assert f"error: unknown suite '{suite}'; did you mean {meant}?" in res.stderr, res.stderr
    assert "is a load suite" not in res.stderr and not results.exists()


def test_an_experiments_simulator_answers_its_bfcl_points_from_the_ground_truth(tmp_path: Path) -> None:
    own = tmp_path / "own.jsonl"
    own.write_text("")  # a book of the server's own (none of these questions): kept
    path = tmp_path / "exp.yaml"
    path.write_text(f"""schema_version: 1
name: truth
servers:
  - {{name: base, backend: sim, set: {{options.ttft_ms: 5, options.itl_ms: 2}}}}
  - {{name: own, backend: sim, set: {{options.ttft_ms: 5, options.itl_ms: 2, options.answers: {own}}}}}
suites:
  - suite: bfcl-v3
    options: {{categories: [simple, java, live_multiple], data_dir: {MINI}, source: dir}}
""")
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    said = " ".join(res.stderr.split())
    assert "base: sim answers the BFCL points from BFCL's ground truth (sim_answers.jsonl in the cell's folder)" \
        in said and "bfcl-v3: by construction the lightllm table scores near 100% (7 of 7 entries), the bfcl table 7 of 7" in said
    assert "own: sim answers" not in said
    [folder] = list((tmp_path / "r").iterdir())
    report = json.loads(run_cli("report", str(folder), "--format", "json").stdout)
    overall = {p["cell"]: p["bfcl_overall"] for p in report["points"]}
    assert overall == {"base": 100.0, "own": 0.0}
    # The book is in the cell's folder and the server was started on it, at the ITL the experiment gave it.
    book = folder / "base" / "sim_answers.jsonl"
    assert book.is_file() and not (folder / "own" / "sim_answers.jsonl").exists()
    options = _options(folder / "base" / "bfcl-v3")
    assert options["answers"] == str(book) and options["itl_ms"] == 2
    assert _options(folder / "own" / "bfcl-v3")["answers"] == str(own)


def test_an_interrupted_bfcl_run_names_its_own_folder_to_resume(tmp_path: Path) -> None:
    results = tmp_path / "results"
    # The simulator's own slow replies (20 ms a token, 300 tokens), so the run is still going when interrupted.
    proc = subprocess.Popen([sys.executable, "-m", "glmbench", "bfcl", "--backend", "sim", "--sim-answers", "none",
                             "--data-dir", str(MINI), "--categories", "simple,irrelevance", "--max-tokens", "300",
                             "--concurrency", "1", "--set", "options.ttft_dist=fixed", "--results-dir", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=at_a_terminal)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # interrupt once the first entry is stored
        found = list(results.glob("*/bfcl_records.jsonl"))
        if found and found[0].read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    [run_dir] = list(results.iterdir())
    assert f"resume with glmbench bfcl --resume {run_dir}" in " ".join(out.split()), out
    assert "RUN_DIR" not in out
