"""Output equivalence in experiments, compare and report (issue 25), against the simulator on 127.0.0.1.

The simulator says the same words for the same prompt everywhere (``outputs: by-prompt``); a ``diverge`` spec on
``<tools>`` makes a server leave that sequence at a given token for the prompts that carry tools (the BFCL ones)
and only those, so a pair of servers differs in exactly the BFCL prompts. An experiment runs an equivalence point
on each server and its report shows each server's outputs against the reference server's, with the suite's gates;
``glmbench compare`` judges two equivalence runs (or two experiments' equivalence points) by the gate, naming the
prompts that differ; ``glmbench report`` shows one equivalence run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REPO, run_cli

pytestmark = pytest.mark.e2e

BFCL_MINI = REPO / "tests" / "data" / "bfcl_mini"
BY_PROMPT = {"outputs": "by-prompt"}
# The BFCL prompts, and only they, carry tools: a server with this diverges at their fourth token.
DIVERGE = {"outputs": "by-prompt", "diverge": [{"prompt": "<tools>", "at": 3, "margin": 0.05}]}
SMALL = {"max_tokens": 12, "sharegpt": 4, "bfcl": 2, "bfcl_data_dir": str(BFCL_MINI), "bfcl_source": "dir",
         "conversations": 1, "loaded": 4}


def _server(name: str, settings: dict) -> str:
    sets = {"options.ttft_ms": 5, "options.itl_ms": 1, **{f"options.{k}": v for k, v in settings.items()}}
    return f"  - {{name: {name}, backend: sim, set: {json.dumps(sets)}}}\n"


def _experiment(tmp: Path, name: str, cand: dict, entry: str | None = None) -> Path:
    entry = entry or f"  - {{suite: equivalence, options: {json.dumps({**SMALL, 'require_loaded': 0.5})}}}\n"
    path = tmp / f"{name}.yaml"
    path.write_text(f"schema_version: 1\nname: {name}\nservers:\n{_server('base', BY_PROMPT)}{_server('cand', cand)}"
                    f"suites:\n{entry}")
    return path


def _run_experiment(path: Path, results: Path) -> Path:
    res = run_cli("experiment", "run", str(path), "--results-dir", str(results), timeout=180)
    # A gate that fails is loud in the report, but the point ran: the experiment completes.
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    [folder] = list(results.iterdir())
    return folder


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An experiment of two servers whose outputs differ in the BFCL prompts (the reference: the first, base)."""
    tmp = tmp_path_factory.mktemp("changed")
    return _run_experiment(_experiment(tmp, "eq", DIVERGE), tmp / "r")


def test_an_experiment_shows_each_server_against_the_reference(changed: Path) -> None:
    index = json.loads((changed / "index.json").read_text())
    assert [(c["label"], [(p["label"], p["kind"], p["status"]) for p in c["points"]]) for c in index["cells"]] == [
        (label, [("equivalence", "equivalence", "complete")]) for label in ("base", "cand")]
    report = json.loads(run_cli("report", str(changed), "--format", "json").stdout)
    points = {p["cell"]: p for p in report["points"]}
    base, cand = points["base"], points["cand"]
    assert base["outputs"]["role"] == "reference" and base["gate"] == "reference"
    outputs = cand["outputs"]
    assert outputs["reference"] == "base" and outputs["held"] is False and cand["gate"] == "FAILED"
    passes = {p["pass"]: p for p in outputs["passes"]}
    bfcl = sorted(p for p in passes["alone"]["differ"])
    assert len(bfcl) == 2 and all(p.startswith("bfcl-") for p in bfcl)
    for name, required, held in (("alone", 1.0, False), ("loaded", 0.5, True)):
        found = passes[name]
        assert (found["compared"], found["matched"]) == (7, 5) and sorted(found["differ"]) == bfcl
        assert found["first_diff_tokens"] == [3, 3] and found["required"] == required and found["held"] is held
        assert found["near_ties"] + found["wide_margins"] == 2
    for p in (base, cand):  # each server's own outputs alone and among 4: the simulator is batch invariant
        assert p["batch_invariance"]["match_rate"] == 1.0
    assert {s["server"]: s["outputs"] for s in report["servers"]} == {"base": "reference", "cand": "FAILED"}

    table = run_cli("report", str(changed))
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert "outputs against the reference server's" in text
    assert "71.4% (5/7)" in text and "FAILED (100% required)" in text and "held (50% required)" in text
    assert "OUTPUTS CHANGED: cand equivalence: alone: 71.4% of prompts match base's, 100% required" in text
    assert all(prompt in text for prompt in bfcl)
    for fmt, shown in (("md", "### Outputs against the reference server's"), ("csv", "FAILED (100% required)"),
                       ("html", "Outputs against the reference server&#x27;s")):
        res = run_cli("report", str(changed), "--format", fmt)
        assert res.returncode == 0 and shown in res.stdout, res.stderr


def test_experiment_compare_fails_when_a_configuration_s_outputs_change(changed: Path, tmp_path: Path) -> None:
    same = _run_experiment(_experiment(tmp_path, "eq", BY_PROMPT), tmp_path / "r")
    quiet = run_cli("compare", str(same), str(same), "--format", "json")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    rows = [r for p in json.loads(quiet.stdout)["points"] for r in p["rows"]]
    assert {(r["workload"], r["metric"], r["candidate"]) for r in rows} == {("alone", "match_rate", 1.0),
                                                                           ("loaded", "match_rate", 1.0)}
    # Tonight cand's outputs differ from last night's in the BFCL prompts: the nightly fails and names them.
    night = run_cli("compare", str(same), str(changed))
    assert night.returncode == 1, night.stdout + night.stderr
    assert "REGRESSION" in night.stdout and "match_rate" in night.stdout and "\\_" not in night.stdout
    # The markdown a nightly keeps names the prompts that changed.
    kept = run_cli("compare", str(same), str(changed), "--format", "md")
    assert kept.returncode == 1, kept.stdout + kept.stderr
    assert "| cand | equivalence | match\\_rate |" in kept.stdout
    assert "2 of 7 prompts differ (bfcl-" in kept.stdout.replace("\\_", "_")


def test_experiment_file_errors_name_the_field(tmp_path: Path) -> None:
    cases = (("  - {suite: equivalence, reference: nobody}\n", "suites.0.reference: 'nobody' is no server"),
             ("  - {suite: equivalence, options: {loaded: -1}}\n", "options.loaded: Input should be greater"),
             ("  - {suite: equivalence, concurrency: [4]}\n", "concurrency and rate are for BFCL ladders"),
             ("  - {suite: bfcl-v3, reference: base}\n", "reference is for an equivalence suite"))
    for entry, message in cases:
        res = run_cli("experiment", "run", str(_experiment(tmp_path, "bad", BY_PROMPT, entry)), "--dry-run")
        assert res.returncode != 0 and message in " ".join(res.stderr.split()), res.stderr


def _equivalence_run(url: str, results: Path, label: str) -> Path:
    res = run_cli("equivalence", "run", "--endpoint", url, "--results-dir", str(results), "--label", label,
                  "--max-tokens", "12", "--sharegpt", "4", "--bfcl", "2", "--conversations", "1", "--loaded", "4",
                  "--bfcl-data-dir", str(BFCL_MINI))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return next(p for p in results.iterdir() if p.name.endswith(label))


def test_compare_and_report_equivalence_runs(start_sim, tmp_path: Path) -> None:
    reference = start_sim("--ttft-ms", "5", "--itl-ms", "1", "--settings", json.dumps(BY_PROMPT))
    changed = start_sim("--ttft-ms", "5", "--itl-ms", "1", "--settings", json.dumps(DIVERGE))
    a = _equivalence_run(reference.url, tmp_path / "r", "ref")
    b = _equivalence_run(changed.url, tmp_path / "r", "cand")

    same = run_cli("compare", str(a), str(a), "--format", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    data = json.loads(same.stdout)
    assert data["kind"] == "equivalence" and not data["regressed"]
    assert [(r["workload"], r["metric"], r["baseline"], r["candidate"], r["verdict"]["rule"]) for r in data["rows"]] \
        == [("alone", "match_rate", 1.0, 1.0, "gate"), ("loaded", "match_rate", 1.0, 1.0, "gate")]

    differ = sorted({o["prompt"] for o in map(json.loads, (b / "outputs.jsonl").read_text().splitlines())
                     if o["kind"] == "bfcl"})
    worse = run_cli("compare", str(a), str(b))
    assert worse.returncode == 1, worse.stdout + worse.stderr
    text = " ".join(worse.stdout.split())
    assert "REGRESSION: outputs changed: alone: 71.4% of prompts match the baseline's" in text
    for prompt in differ:  # each named, where it starts and how close to a tie the reference was
        assert f"alone: {prompt} differs from token 3" in text
    data = json.loads(run_cli("compare", str(a), str(b), "--format", "json").stdout)
    verdicts = {r["workload"]: r["verdict"]["status"] for r in data["rows"]}
    assert verdicts == {"alone": "regression", "loaded": "within noise"}  # loaded is not gated by default

    shown = json.loads(run_cli("report", str(b), "--format", "json").stdout)
    assert shown["kind"] == "equivalence" and [p["pass"] for p in shown["passes"]] == ["alone", "loaded"]
    assert shown["batch_invariance"]["match_rate"] == 1.0 and shown["prompts"] == {"sharegpt": 4, "bfcl": 2,
                                                                                   "conversation": 1}
    table = run_cli("report", str(b), "--format", "table")
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert "equivalence suite equivalence, completions, 12 tokens per prompt" in text
    assert "alone vs among 4" in text and "100.0% (7/7)" in text
    beside = run_cli("report", str(a), str(b))
    assert beside.returncode != 0 and "is an equivalence run" in beside.stderr
