"""BFCL multi-turn end to end: ``glmbench bfcl`` plays every conversation against a server and scores it.

The server is glmbench's simulator with an answer book: at the start of every
turn that has ground-truth calls it replies with that turn's calls (keyed on the
conversation's user messages so far and the tools offered, so a ``miss_func``
turn's fixed message is told apart), and to the tool results with plain text,
which ends the turn. Played through the real runner (requests, the environment,
tool messages, records) in native and prompt mode, the ground truth must score
100% under BFCL's rules; wrong answers must fail with BFCL's error types.
Needs the cached bfcl-eval wheel (``glmbench data fetch bfcl``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from glmbench.bfcl.convert import bfcl_tools
from glmbench.bfcl.multi_turn.conversation import turn_functions, turn_messages
from glmbench.bfcl.multi_turn.environment import BFCLModules, Scenario, new_environment
from glmbench.bfcl.multi_turn.execute import execute_calls, parse_call
from glmbench.bfcl.types import BFCLEntry
from glmbench.sim.answers import conversation_text, question_key

from .conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.bfcl_data]

CATEGORIES = ["multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context"]


@pytest.fixture(scope="module")
def entries() -> list[BFCLEntry]:
    from glmbench.bfcl.data import cached_wheel, load_bfcl

    if cached_wheel() is None:
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA") == "1":
            pytest.fail("BFCL data not cached (GLMBENCH_REQUIRE_BFCL_DATA=1): run glmbench data fetch bfcl")
        pytest.skip("BFCL data not cached: run glmbench data fetch bfcl")
    return load_bfcl(CATEGORIES, "auto", None)[0]


def _as_tool_call(text: str, functions: list[dict]) -> dict:
    """A ground-truth call string as the model would send it: positional arguments named as the function's."""
    parsed = parse_call(text)
    [doc] = [f for f in functions if f["name"] == parsed.name]
    names = list((doc.get("parameters") or {}).get("properties") or {})
    return {"name": parsed.name, "arguments": {**dict(zip(names, parsed.args)), **parsed.kwargs}}


def _names(entry: BFCLEntry, turn: int) -> list[str]:
    return [t["function"]["name"] for t in bfcl_tools(turn_functions(entry, turn), entry.category).tools]


def write_book(path: Path, entries: list[BFCLEntry], wrong: bool = False) -> dict[str, dict[str, str]]:
    """Each turn's ground-truth calls, keyed as the simulator keys the turn's first request: the user
    messages and tool results so far (the results from playing the ground truth on the entry's environment).
    Returns each entry's answers by key ("none" where it must get none)."""
    answers: dict[str, dict[str, str]] = {}
    with path.open("w") as f:
        for entry in entries:
            env = new_environment(Scenario.of(entry), BFCLModules())
            parts: list[str] = []
            for turn, truth in enumerate(entry.ground_truth):
                parts += [m["content"] for m in turn_messages(entry, turn) if m["role"] == "user"]
                key_text = conversation_text(parts, turn > 0)
                if not truth:
                    # The simulator's plain text, no call, as the ground truth: no answer under this key.
                    answers.setdefault(entry.id, {})[question_key(key_text, _names(entry, turn))] = "none"
                    continue
                names = _names(entry, turn)
                # A few miss_func ground truths call a held-out function before its turn (BFCL's data):
                # the simulator sends it anyway, as the ground truth says.
                calls = [_as_tool_call(c, turn_functions(entry, len(entry.question))) for c in truth]
                if wrong:  # one argument off in the first call of each turn
                    first = calls[0]
                    key = next(iter(first["arguments"]), None)
                    calls[0] = {**first, "arguments": {**first["arguments"], key: "wrong"}} if key else \
                        {**first, "name": first["name"] + "_nope"}
                key = question_key(key_text, names)
                answers.setdefault(entry.id, {})[key] = json.dumps(calls, sort_keys=True)
                f.write(json.dumps({"key": key, "tool_calls": calls}) + "\n")
                parts += [e.result for e in execute_calls(env, [(c["name"], c["arguments"]) for c in calls])]
    return answers


def apart(entries: list[BFCLEntry], answers: dict[str, dict[str, str]]) -> list[list[BFCLEntry]]:
    """Entries in groups whose answers never clash: a few pairs of BFCL entries (a base entry and its
    long-context twin) open with the same words and tools but want different calls, which one answer
    book cannot tell apart (the request carries nothing else)."""
    groups: list[tuple[list[BFCLEntry], dict[str, str]]] = []
    for entry in entries:
        mine = answers.get(entry.id, {})
        for members, taken in groups:
            if all(taken.get(k, v) == v for k, v in mine.items()):
                members.append(entry)
                taken.update(mine)
                break
        else:
            groups.append(([entry], dict(mine)))
    return [members for members, _ in groups]


def _run(start_sim, tmp_path: Path, book: Path, *args: str) -> tuple[dict, Path, float]:
    sim = start_sim("--settings", json.dumps({"answers": str(book)}), "--ttft-ms", "1", "--itl-ms", "0")
    results = tmp_path / "results"
    started = time.monotonic()
    res = run_cli("bfcl", "--endpoint", sim.url, "--suite", "bfcl-v3-multi-turn", *args, "--results-dir",
                  str(results), timeout=1200)
    seconds = time.monotonic() - started
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    return json.loads((run_dir / "summary.json").read_text()), run_dir, seconds


def _rows(summary: dict) -> dict[str, dict]:
    return {row["category"]: row for row in summary["tables"]["bfcl"]}


@pytest.mark.slow
def test_all_800_conversations_played_with_the_ground_truth_score_full_marks(start_sim, tmp_path, entries):
    answers = write_book(tmp_path / "all.jsonl", entries)
    first, *others = apart(entries, answers)
    assert len(first) > 780 and sum(len(g) for g in others) < 20
    write_book(tmp_path / "book.jsonl", first)
    # Two long-context ground truths run to about 1,400 tokens: room for them, or the stream is cut (length).
    summary, run_dir, seconds = _run(start_sim, tmp_path, tmp_path / "book.jsonl", "--max-tokens", "4096")
    records_path = run_dir / "bfcl_records.jsonl"
    # The clashing few are asked again on --resume, each group against a book of its own.
    for n, group in enumerate(others):
        ids = {e.id for e in group}
        kept = [line for line in records_path.read_text().splitlines() if json.loads(line)["id"] not in ids]
        records_path.write_text("\n".join(kept) + "\n")
        book = tmp_path / f"book{n}.jsonl"
        write_book(book, group)
        sim = start_sim("--settings", json.dumps({"answers": str(book)}), "--ttft-ms", "1", "--itl-ms", "0")
        res = run_cli("bfcl", "--endpoint", sim.url, "--resume", str(run_dir), timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = _rows(summary)
    for category in CATEGORIES:
        assert rows[category]["total"] == 200 and rows[category]["accuracy"] == 100.0, rows[category]
    assert rows["MULTI_TURN"]["accuracy"] == 100.0 and "irrelevance check is off" in rows["MULTI_TURN"]["note"]
    # The LightLLM table keeps its categories: multi-turn is listed as not scored there.
    lightllm = {row["category"]: row for row in summary["tables"]["lightllm"]}
    assert lightllm["multi_turn_base"]["scored"] is False
    records = [json.loads(line) for line in records_path.read_text().splitlines()]
    assert len(records) == 800
    # Every executed call's result is stored as the model saw it, with the turns as BFCL's harness plays them.
    sample = next(r for r in records if r["id"] == "multi_turn_base_0")
    first_step = sample["turns"][0]["steps"][0]
    assert [c["name"] for c in first_step["calls"]] == ["cd", "mkdir", "mv"] and len(first_step["results"]) == 3
    assert sample["turns"][0]["steps"][1]["calls"] == []  # the reply to the results ends the turn
    miss = next(r for r in records if r["category"] == "multi_turn_miss_func")
    assert any(t["user"] and t["user"][0]["content"].startswith("I have updated some more functions")
               for t in miss["turns"])
    print(f"800 multi-turn entries against the simulator: {seconds:.0f} s ({len(first)} in the first run)")
    # Rescoring from the records alone gives the same table.
    res = run_cli("rescore", str(run_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    assert _rows(json.loads((run_dir / "summary.json").read_text()))["MULTI_TURN"]["accuracy"] == 100.0


def test_prompt_mode_plays_the_same_conversations_through_the_glm_template(start_sim, tmp_path, entries):
    book = tmp_path / "book.jsonl"
    write_book(book, entries)
    summary, _, _ = _run(start_sim, tmp_path, book, "--mode", "prompt", "--limit", "5")
    rows = _rows(summary)
    for category in CATEGORIES:
        assert rows[category]["total"] == 5 and rows[category]["accuracy"] == 100.0, rows[category]


def test_wrong_arguments_fail_with_bfcls_error_types(start_sim, tmp_path, entries):
    book = tmp_path / "book.jsonl"
    write_book(book, entries, wrong=True)
    summary, run_dir, _ = _run(start_sim, tmp_path, book, "--limit", "10")
    rows = _rows(summary)
    assert all(rows[c]["accuracy"] < 50.0 for c in CATEGORIES), {c: rows[c]["accuracy"] for c in CATEGORIES}
    reasons = [r["verdicts"]["bfcl"]["reason"] for r in
               map(json.loads, (run_dir / "bfcl_records.jsonl").read_text().splitlines())
               if not r["verdicts"]["bfcl"]["ok"]]
    assert reasons and all(r.startswith("multi_turn:") for r in reasons), reasons[:5]
    assert any(r.startswith(("multi_turn:instance_state_mismatch", "multi_turn:execution_response_mismatch"))
               for r in reasons)
