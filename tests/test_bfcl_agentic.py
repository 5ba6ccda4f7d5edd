"""BFCL v4 agentic (memory, web search): loading, BFCL's memory classes, the checker, the differential test, the sim.

Everything but the pure checker tests needs the bfcl-eval==2026.3.23 wheel in
glmbench's BFCL cache (skipped without it, failed with
``GLMBENCH_REQUIRE_BFCL_DATA=1``); memory_kv needs rank_bm25 (``glmbench[bfcl-v4]``).

The differential test runs BFCL 2026.3.23's own code in a subprocess, from the
wheel's Python files unpacked into a temporary folder: its eval runner's
``agentic_runner`` on made-up model results, and its memory classes through its
own harness functions (``execute_multi_turn_func_call``, the snapshot files of
``_flush_memory_to_local_file`` / ``_load_scenario``,
``add_memory_instruction_system_prompt``) on made-up prerequisite chains. Provider
SDKs and parsers the agentic path never uses get stand-ins there.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from glmbench.bfcl.agentic.checker import (
    ANSWER_NOT_FOUND,
    INFERENCE_ERROR,
    NO_LAST_MESSAGE,
    check_agentic_record,
    check_answer,
    check_steps,
    standardize,
)

# -- the checker's rules (no data needed) --------------------------------------------------


@pytest.mark.parametrize("answer, acceptable, ok", [
    ("{'answer': 'Michael', 'context': 'x'}", ["Michael"], True),
    ("{'answer': 'Michaelson'}", ["Michael"], False),          # a word boundary on both sides
    ("April 1, 2024", ["April 1 2024"], True),                 # punctuation removed on both sides
    ("thirty-five years", ["thirty five"], False),             # "-" removed, not made a space: thirtyfive
    ("It's 35.", ["35"], True),
    ("3.5 million", ["35 million"], True),                     # "." removed
    ("STRAWBERRY MATCHA", ["strawberry matcha"], True),
    ("", ["x"], False),
])
def test_the_answer_is_found_as_bfcl_finds_it(answer, acceptable, ok):
    assert check_answer(answer, acceptable).ok is ok


def test_standardize_removes_bfcls_characters_and_lowercases():
    assert standardize("A,b./c-d_e*f^g(h)i 'j'") == 'abcdefghi "j"'


def test_the_last_step_without_a_call_is_the_answer():
    assert check_steps([["Michael", [("core_memory_retrieve", {})]]], ["Michael"]).ok
    assert check_steps([[[("f", {})], "I do not know"]], ["Michael"]).error_type == ANSWER_NOT_FOUND
    assert check_steps([[[("f", {})]]], ["x"]).error_type == NO_LAST_MESSAGE          # only calls
    assert check_steps([["Michael", ""]], ["Michael"]).error_type == NO_LAST_MESSAGE   # the last text is empty
    assert check_steps([["a"], ["Michael"]], ["Michael"]).error_type == INFERENCE_ERROR  # not one turn
    assert check_steps(None, ["x"]).error_type == INFERENCE_ERROR


def test_a_record_is_read_step_by_step_and_an_api_error_fails_it():
    step = {"calls": [], "content": "{'answer': 'Seattle'}"}
    call = {"calls": [{"name": "core_memory_retrieve_all", "arguments": {}}], "content": "Seattle?"}
    record = {"turns": [{"steps": [call, step]}]}
    assert check_agentic_record(record, ["Seattle"]).ok
    assert check_agentic_record({"turns": [{"steps": [step, call]}]}, ["Seattle"]).ok  # text, then a call
    assert check_agentic_record({"turns": [{"steps": [call]}]}, ["Seattle"]).error_type == NO_LAST_MESSAGE
    assert check_agentic_record({**record, "first_error": "HTTP 500"}, ["Seattle"]).error_type == INFERENCE_ERROR


# -- data and backends (the v4 wheel) ------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel() -> Path:
    from glmbench.bfcl.agentic.wheel import V4_WHEEL_NAME
    from glmbench.bfcl.data import cache_dir

    path = cache_dir() / V4_WHEEL_NAME
    if not path.is_file():
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA") == "1":
            pytest.fail(f"GLMBENCH_REQUIRE_BFCL_DATA=1 but {V4_WHEEL_NAME} is not in {cache_dir()}")
        pytest.skip(f"the BFCL v4 wheel is not cached ({V4_WHEEL_NAME})")
    pytest.importorskip("rank_bm25")
    return path


@pytest.fixture(scope="module")
def data(wheel):
    from glmbench.bfcl.agentic.data import load_agentic

    return load_agentic(["memory_kv", "memory_rec_sum", "memory_vector", "web_search_base", "web_search_no_snippet"])


def test_entries_and_prerequisites_load_as_bfcl_builds_them(data):
    assert data.counts == {"memory_kv": 155, "memory_rec_sum": 155, "memory_vector": 155,
                           "web_search_base": 100, "web_search_no_snippet": 100}
    by_id = {e.id: e for e in data.entries}
    kv = by_id["memory_kv_0-customer-0"]
    assert kv.extra["answers"] == ["Michael"] and kv.extra["involved_classes"] == ["MemoryAPI_kv"]
    assert kv.question[0][0]["role"] == "system" and kv.question[0][0]["content"].startswith("For your final answer")
    assert {f["name"] for f in kv.function} >= {"core_memory_add", "archival_memory_key_search"}
    assert by_id["web_search_no_snippet_3"].extra["show_snippet"] is False
    assert by_id["web_search_base_3"].extra["show_snippet"] is True
    chains = {k: [p.id for p in v] for k, v in data.prerequisites.items() if k[0] == "memory_kv"}
    assert sum(len(v) for v in chains.values()) == 37
    assert chains["memory_kv", "notetaker"][0] == "memory_kv_prereq_32-notetaker-0"
    assert all(p.question[0][0]["role"] == "user" for v in data.prerequisites.values() for p in v)


def test_memory_classes_come_from_the_wheel_fresh_and_leave_nothing_in_sys_modules(wheel):
    from glmbench.bfcl.agentic.backends import AgenticModules, new_agentic_environment, restore, snapshot
    from glmbench.bfcl.multi_turn.execute import execute_calls

    env = new_agentic_environment("a", "MemoryAPI_kv", AgenticModules())
    results = [e.result for e in execute_calls(env, ["core_memory_add(key='city', value='Seattle')",
                                                     "core_memory_add(key='bad key', value='x')"])]
    assert results == ['{"status": "Key-value pair added."}',
                       '{"error": "Key must be in snake_case format and cannot contain spaces."}']
    state = snapshot(env.instances["MemoryAPI_kv"])
    other = new_agentic_environment("b", "MemoryAPI_kv", AgenticModules(), state)
    assert type(other.instances["MemoryAPI_kv"]) is not type(env.instances["MemoryAPI_kv"])  # a fresh copy
    assert snapshot(other.instances["MemoryAPI_kv"]) == state
    assert not [m for m in sys.modules if m.startswith(("bfcl_eval", "_glmbench_bfcl_v4"))]
    rec = new_agentic_environment("c", "MemoryAPI_rec_sum", AgenticModules())
    with pytest.raises(ValueError):
        restore(rec.instances["MemoryAPI_rec_sum"], {"memory": 3})
    assert "_flush_memory_to_local_file" not in rec.methods  # private: never called by a model


def test_categories_that_need_what_is_not_here_say_what_they_need(monkeypatch, tmp_path):
    from glmbench.bfcl.agentic.backends import AgenticOptions, not_run_reason

    monkeypatch.delenv("SERPAPI_API_KEY", raising=False)
    assert not_run_reason("memory_vector") == "needs an embedding model (--embedding-model DIR)"
    assert not_run_reason("web_search_base") == "needs a search service (SERPAPI_API_KEY)"
    assert "not a folder" in (not_run_reason("memory_vector", AgenticOptions(embedding_model=tmp_path / "x")) or "")
    assert not_run_reason("memory_rec_sum") is None


def test_a_missing_or_damaged_v4_wheel_is_one_clear_error(tmp_path):
    from glmbench.bfcl.agentic.wheel import v4_wheel
    from glmbench.errors import GlmbenchError

    with pytest.raises(GlmbenchError, match="pip download"):
        v4_wheel(tmp_path / "none.whl")
    (tmp_path / "bad.whl").write_bytes(b"x")
    with pytest.raises(GlmbenchError, match="sha256"):
        v4_wheel(tmp_path / "bad.whl")


# -- the differential test against BFCL 2026.3.23's own code ------------------------------------

_REFERENCE = r'''
import json, pathlib, sys, types
from unittest import mock
wheel_dir, source, target, snapshots = sys.argv[1:5]
sys.path.insert(0, wheel_dir)
stub = types.ModuleType("bfcl_eval.constants.model_config"); stub.MODEL_CONFIG_MAPPING = {}
sys.modules[stub.__name__] = stub
o = types.ModuleType("overrides"); o.final = lambda f: f; o.override = lambda f: f
sys.modules.setdefault("overrides", o)
for name in ("tree_sitter", "tree_sitter_java", "tree_sitter_javascript"):
    try:
        __import__(name)
    except ImportError:
        sys.modules[name] = mock.MagicMock()
for name in ("dotenv", "tqdm"):
    try:
        __import__(name)
    except ImportError:
        m = types.ModuleType(name); m.load_dotenv = lambda *a, **k: None; m.tqdm = lambda x, *a, **k: x
        sys.modules[name] = m
stubbed = []
for _ in range(40):  # provider SDKs and parsers the agentic path never uses: stand-ins until the runner imports
    try:
        import bfcl_eval.eval_checker.eval_runner as runner
        break
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.startswith("bfcl_eval") or exc.name in ("rank_bm25",):
            raise
        for key in [k for k in sys.modules if k.startswith("bfcl_eval")]:
            del sys.modules[key]
        sys.modules[stub.__name__] = stub
        sys.modules[exc.name] = mock.MagicMock()
        stubbed.append(exc.name)
sys.modules[stub.__name__] = stub
from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call
from bfcl_eval.model_handler.utils import add_memory_instruction_system_prompt

from bfcl_eval.constants.default_prompts import ADDITIONAL_SYSTEM_PROMPT_FOR_AGENTIC_RESPONSE_FORMAT as FORMAT
from bfcl_eval.eval_checker.agentic_eval.agentic_checker import agentic_checker

given = json.load(open(source))
failed = {}
runner.save_eval_results = lambda result, *a, **k: failed.update({r["id"]: r["error"]["error_type"] for r in result})

class Handler:
    def decode_execute(self, step, has_tool_call_tag=False):
        if isinstance(step, list):
            return step
        raise ValueError("text: no call")

out = {"cases": [], "memory": {}}
for case in given["cases"]:
    failed.clear()
    runner.agentic_runner(Handler(), [{"id": case["id"], "result": case["result"]}], [{"id": case["id"], "question": []}],
                          [{"id": case["id"], "ground_truth": case["answers"]}], "glmbench", "memory", None)
    out["cases"].append(failed.get(case["id"], ""))

for chain in given["chains"]:
    cls, category, scenario = chain["class"], chain["category"], chain["scenario"]
    model_dir = pathlib.Path(snapshots) / category
    def config(test_id, test_category):
        return {cls: {"model_result_dir": model_dir, "scenario": scenario, "test_id": test_id,
                      "test_category": test_category}}
    for p in chain["prereqs"]:
        init = config(p["id"], category + "_prereq")
        _, instances = execute_multi_turn_func_call([], init, [cls], "glmbench", p["id"])
        question = add_memory_instruction_system_prompt([[{"role": "user", "content": "q"}]], category + "_prereq",
                                                        scenario, instances[cls])
        results, instances = execute_multi_turn_func_call(p["calls"], init, [cls], "glmbench", p["id"])
        instances[cls]._flush_memory_to_local_file()
        out["memory"][p["id"]] = {"prompt": question[0][0]["content"], "results": results}
    for q in chain["questions"]:
        init = config(q["id"], category)
        _, instances = execute_multi_turn_func_call([], init, [cls], "glmbench", q["id"])
        assert q["system"]["content"] == FORMAT
        question = add_memory_instruction_system_prompt([[dict(q["system"]), {"role": "user", "content": "q"}]],
                                                        category, scenario, instances[cls])
        results, _ = execute_multi_turn_func_call(q["calls"], init, [cls], "glmbench", q["id"])
        out["memory"][q["id"]] = {"prompt": question[0][0]["content"], "results": results,
                                  "valid": agentic_checker(results[-1], q["answers"])["valid"]}
from bfcl_eval.utils import get_all_format_sensitivity_configs
from bfcl_eval.model_handler.utils import formulate_system_prompt
out["configs"] = get_all_format_sensitivity_configs()
out["prompts"] = {c: formulate_system_prompt(c, given["functions"]) for c in out["configs"] if "func_doc_fmt=json" in c}
json.dump(out, open(target, "w"))
'''

_FORMAT = "{'answer': %r, 'context': 'because'}"


def _agentic_cases(entries) -> list[dict]:
    """Made-up model results for every entry, of several kinds (seeded by id): ``result`` as BFCL stores it, a
    step being a list of call strings (a decoded call) or text."""
    cases = []
    for entry in entries:
        rng = random.Random(entry.id)
        answers = entry.extra["answers"]
        gt, alt = answers[0], answers[-1]
        call = ["core_memory_retrieve(key='x')"]
        word = gt.split()[0] if gt.split() else gt
        kinds = {
            "gt": [[call, _FORMAT % gt]],
            "alternative": [[_FORMAT % alt]],
            "upper_punct": [[_FORMAT % (gt.upper().replace(" ", " - ") + ".")]],
            "inside_word": [[_FORMAT % ("x" + gt + "y")]],
            "first_word": [[_FORMAT % word]],
            "unknown": [[_FORMAT % "I do not know"]],
            "calls_only": [[call, call]],
            "empty_last": [[_FORMAT % gt, ""]],
            "text_then_call": [[_FORMAT % gt, call]],
            "empty_step": [[_FORMAT % gt, []]],
            "blank_step": [[_FORMAT % gt, [""]]],
            "two_turns": [[_FORMAT % gt], [_FORMAT % gt]],
            "not_a_list": "Error during inference: boom",
            "quote": [[_FORMAT % gt.replace("'", "\u2019") + " don't"]],
            "shuffled": [[_FORMAT % " ".join(rng.sample(gt.split(), len(gt.split())))]],
        }
        for kind, result in kinds.items():
            cases.append({"id": entry.id, "kind": kind, "result": result, "answers": answers})
    return cases


def _as_steps(result):
    """BFCL's stored result as :func:`check_steps` reads it (a list of call strings is a call step)."""
    if not isinstance(result, list):
        return None
    return result


def _memory_script(rng: random.Random, backend: str, answers: list[str], n: int) -> list[str]:
    """Made-up calls for one prerequisite conversation: stores (some of them) answers, with errors among them."""
    calls = []
    for _ in range(n):
        value = rng.choice(answers + ["noise " + str(rng.randrange(100))])
        key = rng.choice(["fact_" + str(rng.randrange(12)), "Bad Key", "note_" + str(rng.randrange(3))])
        if backend == "kv":
            kind = rng.choice(["core", "archival"])
            op = rng.choices(["add", "replace", "remove", "retrieve", "list_keys", "key_search", "clear"],
                             [8, 2, 1, 1, 1, 2, 0.2])[0]
            if op == "add" or op == "replace":
                calls.append(f"{kind}_memory_{op}(key={key!r}, value={value!r})")
            elif op in ("remove", "retrieve"):
                calls.append(f"{kind}_memory_{op}(key={key!r})")
            elif op == "key_search":
                calls.append(f"{kind}_memory_key_search(query={value!r}, k={rng.randrange(1, 6)})")
            else:
                calls.append(f"{kind}_memory_{op}()")
        else:
            op = rng.choices(["append", "update", "replace", "retrieve", "clear"], [8, 1, 2, 1, 0.2])[0]
            if op == "append":
                calls.append(f"memory_append(text={value + '. '!r})")
            elif op == "update":
                calls.append(f"memory_update(text={value!r})")
            elif op == "replace":
                calls.append(f"memory_replace(old_text={'noise'!r}, new_text={value!r})")
            else:
                calls.append(f"memory_{op}()")
    return calls


def _memory_chains(data) -> list[dict]:
    """Per memory category and scenario: made-up calls for each prerequisite conversation and each question."""
    from glmbench.bfcl.agentic.data import SCENARIOS

    chains = []
    for category, backend, cls in (("memory_kv", "kv", "MemoryAPI_kv"), ("memory_rec_sum", "rec_sum",
                                                                            "MemoryAPI_rec_sum")):
        for scenario in SCENARIOS:
            questions = [e for e in data.entries if e.category == category and e.extra["scenario"] == scenario]
            answers = [a for q in questions for a in q.extra["answers"][:1]]
            rng = random.Random(f"{category}/{scenario}")
            prereqs = [{"id": p.id, "calls": _memory_script(rng, backend, answers, rng.randrange(3, 14))}
                       for p in data.prerequisites[category, scenario]]
            reads = (["core_memory_retrieve_all()", "archival_memory_list_keys()",
                      "archival_memory_key_search(query='fact note', k=50)"] if backend == "kv" else
                     ["memory_retrieve()"])
            chains.append({"category": category, "scenario": scenario, "class": cls, "prereqs": prereqs,
                           "questions": [{"id": q.id, "answers": q.extra["answers"], "system": q.question[0][0],
                                          "calls": [rng.choice(reads)]} for q in questions]})
    return chains


def _ours_memory(chain: dict) -> dict:
    from glmbench.bfcl.agentic.backends import AgenticModules, new_agentic_environment, snapshot
    from glmbench.bfcl.agentic.play import memory_system_prompt, with_system
    from glmbench.bfcl.multi_turn.execute import execute_calls

    out = {}
    state: dict = {}
    cls, category, scenario = chain["class"], chain["category"], chain["scenario"]
    for p in chain["prereqs"]:
        env = new_agentic_environment(p["id"], cls, AgenticModules(), state)
        prompt = memory_system_prompt(category + "_prereq", scenario, env.instances[cls])
        results = [e.result for e in execute_calls(env, p["calls"])]
        state = snapshot(env.instances[cls])
        out[p["id"]] = {"prompt": prompt, "results": results}
    for q in chain["questions"]:
        env = new_agentic_environment(q["id"], cls, AgenticModules(), state)
        system = memory_system_prompt(category, scenario, env.instances[cls])
        prompt = with_system([[q["system"], {"role": "user", "content": "q"}]], system)[0][0]["content"]
        results = [e.result for e in execute_calls(env, q["calls"])]
        out[q["id"]] = {"prompt": prompt, "results": results, "valid": check_answer(results[-1], q["answers"]).ok}
    return out


def _unpack_python(wheel: Path, folder: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if member.startswith("bfcl_eval/") and member.endswith(".py") and ".." not in member:
                zf.extract(member, folder)


@pytest.mark.slow
def test_glmbench_agrees_with_bfcls_own_agentic_checker_and_memory(wheel, data, tmp_path):
    """Every made-up agentic result (15 kinds x 665 entries) and every memory chain (2 backends x 5 scenarios):
    verdicts, error types, call results, system prompts and memory verdicts must all agree."""
    cases = _agentic_cases(data.entries)
    chains = _memory_chains(data)
    source, target = tmp_path / "cases.json", tmp_path / "bfcl.json"
    functions = data.entries[0].function
    source.write_text(json.dumps({"cases": cases, "chains": chains, "functions": functions}))
    bfcl_dir = tmp_path / "bfcl"
    _unpack_python(wheel, bfcl_dir)
    env = dict(os.environ, BFCL_PROJECT_ROOT=str(bfcl_dir))
    started = time.monotonic()
    reference = subprocess.Popen([sys.executable, "-c", _REFERENCE, str(bfcl_dir), str(source), str(target),
                                  str(tmp_path / "snapshots")], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    ours_cases = [check_steps(_as_steps(c["result"]), c["answers"]).error_type for c in cases]
    ours_memory = {}
    for chain in chains:
        ours_memory.update(_ours_memory(chain))
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err[-3000:]
    theirs = json.loads(target.read_text())

    disagree = [(c["id"], c["kind"], mine, their) for c, mine, their in zip(cases, ours_cases, theirs["cases"])
                if mine != their]
    outcomes = Counter((c["kind"], e or "valid") for c, e in zip(cases, ours_cases))
    calls = sum(len(v["results"]) for v in ours_memory.values())
    memory_disagree = [k for k, v in ours_memory.items() if v != theirs["memory"][k]]
    valid = sum(1 for v in ours_memory.values() if v.get("valid"))
    questions = sum(1 for v in ours_memory.values() if "valid" in v)
    print(f"\nagentic checker vs BFCL 2026.3.23: {len(cases) - len(disagree)}/{len(cases)} verdicts agree; "
          f"memory: {len(ours_memory) - len(memory_disagree)}/{len(ours_memory)} conversations agree "
          f"({calls} call results, {len(ours_memory)} system prompts, {questions} question verdicts of which "
          f"{valid} valid) in {time.monotonic() - started:.1f} s")
    for (kind, error), n in sorted(outcomes.items()):
        print(f"  {kind:16} {error:30} {n}")
    assert len(cases) == 15 * (3 * 155 + 2 * 100) and len({e for _, e in outcomes}) == 4
    assert disagree == []
    assert len(ours_memory) == 2 * (37 + 155) and memory_disagree == []
    assert 0 < valid < questions  # the memory verdicts have both outcomes

    # format_sensitivity: BFCL's 26 variants, and the system prompt of each with json function documents.
    from glmbench.bfcl.agentic.format_sensitivity import CONFIGS, system_prompt

    assert list(CONFIGS) == theirs["configs"]
    assert {c: system_prompt(c, functions) for c in theirs["prompts"]} == theirs["prompts"]
    assert len(theirs["prompts"]) == 10


def test_format_sensitivity_spread_is_bfcls_max_delta_and_standard_deviation():
    from glmbench.bfcl.agentic.format_sensitivity import parse_config, spread
    from glmbench.errors import GlmbenchError

    figures = spread({"a": (10, 20), "b": (15, 20), "c": (20, 20)})
    assert (figures.max_delta, figures.std, figures.variance) == (50.0, 25.0, 625.0)
    assert spread({"a": (3, 4)}).std == 0.0
    assert parse_config("ret_fmt=json&tool_call_tag=True&func_doc_fmt=xml&prompt_fmt=markdown&style=classic"
                        ).tool_call_tag is True
    with pytest.raises(GlmbenchError):
        parse_config("ret_fmt=yaml")


# -- the simulator answering from BFCL v4's ground truth -----------------------------------------


@pytest.mark.parametrize("mode", ["native", "prompt"])
def test_the_simulator_answering_from_the_ground_truth_scores_full_marks(wheel, data, tmp_path, mode):
    from glmbench.bfcl.agentic.book import agentic_book_lines
    from glmbench.bfcl.runner import PREREQUISITES, run_entries
    from glmbench.bfcl.suite import BFCLSuite

    from .conftest import SimProcess

    entries = [e for e in data.entries if e.category in ("memory_kv", "memory_rec_sum", "memory_vector")]
    book = tmp_path / "book.jsonl"
    book.write_text("".join(json.dumps(line) + "\n" for line in agentic_book_lines(entries, mode)))
    sim = SimProcess(tmp_path, "--settings", json.dumps({"answers": str(book)}), "--ttft-ms", "1", "--itl-ms", "0")
    try:
        suite = BFCLSuite(categories=["simple"], mode=mode, concurrency=32)
        records = asyncio.run(run_entries(entries, suite, sim.url, "m", tmp_path / "bfcl_records.jsonl"))
    finally:
        sim.stop()
    passed = Counter((r["category"], r["verdicts"]["bfcl-v4"]["ok"]) for r in records.values())
    assert passed == {("memory_kv", True): 155, ("memory_rec_sum", True): 155}  # vector: not run, no record
    # The v3 rule sets, whose release has no memory category, store these entries as not scored.
    assert all(v.get("scored") is False for r in records.values() for k, v in r["verdicts"].items() if k != "bfcl-v4")
    prerequisites = [json.loads(line) for line in (tmp_path / PREREQUISITES).read_text().splitlines()]
    assert len(prerequisites) == 2 * 37 and all(not p["error"] for p in prerequisites)
    first = next(r for r in records.values() if r["id"] == "memory_rec_sum_0-customer-0")
    sent = first["request"]["messages"][0]["content"] if mode == "native" else first["request"]["prompt"]
    assert "You have access to an advanced memory system" in sent and "For your final answer" in sent

    # A wrong answer fails: rescored with another entry's answers.
    from glmbench.bfcl.agentic.checker import check_agentic_record

    assert not check_agentic_record(first, ["Seattle"]).ok
