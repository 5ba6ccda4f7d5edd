"""BFCL v4's rules against BFCL 2026.3.23's own checkers: generated replies and trajectories, every verdict compared.

BFCL's own code runs in a subprocess, from the v4 wheel's Python files unpacked into
a temporary folder (never installed, never imported here), as the v3 differential
test does (tests/test_bfcl_multi_turn.py). Importing its eval runner pulls in its
model handlers and their provider SDKs; the subprocess stands stubs in for the
modules it does not use on these paths (``model_config`` with one function-calling
model that sends ``.`` as ``_``, ``model_handler.base_handler`` and
``model_handler.utils``, and ``dotenv``, ``tqdm``, ``filelock`` where absent).

- Single-turn: for a sample of every v4 single-turn category (real entries), the
  ground truth as glmbench's answer book sends it and many kinds of wrong replies
  made from it (wrong type, wrong value, missing or extra parameter, extra or
  missing call, wrong function, null, no call, ...), judged by BFCL's
  ``_evaluate_single_ast_entry`` / ``_evaluate_single_relevance_entry`` (the AST
  and relevance checkers as its runner applies them) and by glmbench's ``bfcl-v4``
  rule set: every verdict (valid or not) must agree.
- Multi-turn: for a sample of the four v4 multi-turn categories, the kinds of
  trajectories of the v3 test (ground truth, split steps, wrong values, missing,
  extra, early and late calls, ...), judged by BFCL's ``multi_turn_runner`` on v4's
  own classes and by glmbench's checker: every error type must agree, and the
  ground truth's result strings must be BFCL's exactly.

Needs the cached v4 wheel (``glmbench data fetch bfcl --version 2026.3.23``).
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from glmbench.bfcl.categories import traits
from glmbench.bfcl.versions import V4

from .test_bfcl_multi_turn import KINDS, _as_decoded, _unpack_python, perturb

pytestmark = pytest.mark.bfcl_data

SINGLE_TURN = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
               "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
               "live_irrelevance", "live_relevance")
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
SINGLE_TURN_SAMPLE = 80  # entries per category (all of a smaller one)
MULTI_TURN_SAMPLE = 100


@pytest.fixture(scope="module")
def wheel() -> Path:
    from glmbench.bfcl.data import cached_wheel

    path = cached_wheel(V4)
    if path is None:
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA") == "1":
            pytest.fail("GLMBENCH_REQUIRE_BFCL_DATA=1 but the BFCL v4 wheel is not cached: "
                        "run glmbench data fetch bfcl --version 2026.3.23")
        pytest.skip("the BFCL v4 wheel is not cached (glmbench data fetch bfcl --version 2026.3.23)")
    return path


@pytest.fixture(scope="module")
def bfcl_dir(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bfcl_v4")
    _unpack_python(wheel, folder)
    return folder


def _sample(entries: list, categories: tuple[str, ...], n: int) -> list:
    """``n`` entries of each category (all of a smaller one), the same every run (ordered by a hash of the id)."""
    out = []
    for category in categories:
        mine = sorted((e for e in entries if e.category == category), key=lambda e: zlib.crc32(e.id.encode()))
        out += sorted(mine[:n], key=lambda e: e.id)
    return out


def _reference(bfcl_dir: Path, script: str, cases: Any, tmp_path: Path) -> subprocess.Popen:
    source, target = tmp_path / "cases.json", tmp_path / "bfcl.json"
    source.write_text(json.dumps(cases))
    env = dict(os.environ, BFCL_PROJECT_ROOT=str(tmp_path / "bfcl_root"))
    return subprocess.Popen([sys.executable, "-c", _PRELUDE + script, str(bfcl_dir), str(source), str(target)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(reference: subprocess.Popen, tmp_path: Path) -> Any:
    _, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err[-3000:]
    return json.loads((tmp_path / "bfcl.json").read_text())


# BFCL's eval runner, with stand-ins for the modules these paths never use.
_PRELUDE = r'''
import json, pathlib, sys, types
bfcl_dir, source, target = sys.argv[1:4]
sys.path.insert(0, bfcl_dir)

def stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module

# One function-calling model that sends dotted names as "_" (as glmbench's requests do).
stub("bfcl_eval.constants.model_config",
     MODEL_CONFIG_MAPPING={"glmbench": types.SimpleNamespace(underscore_to_dot=True, is_fc_model=True)})
stub("bfcl_eval.model_handler.base_handler", BaseHandler=object)
stub("bfcl_eval.model_handler.utils", parse_prompt_variation_params=lambda text: None)
for name, attrs in (("dotenv", {"load_dotenv": lambda *a, **k: None}), ("tqdm", {"tqdm": lambda x, **k: x})):
    try:
        __import__(name)
    except ImportError:
        stub(name, **attrs)
try:
    import filelock  # noqa: F401
except ImportError:
    import contextlib
    stub("filelock", FileLock=lambda path: contextlib.nullcontext())
import bfcl_eval.eval_checker.eval_runner as runner
from bfcl_eval.constants.enums import Language, ReturnFormat
from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call


class Handler:
    """An FC handler's decoding, on replies already decoded: a list of {name: arguments}; text is no call."""

    def decode_ast(self, result, language=None, has_tool_call_tag=False):
        if isinstance(result, str):
            raise ValueError("the reply is text, not calls")
        return result

    def decode_execute(self, result, has_tool_call_tag=False):
        if result is None:
            raise ValueError("the response did not decode")
        return result
'''

_SINGLE_TURN_REFERENCE = r'''
out = {}
for case in json.load(open(source)):
    category, entry = case["category"], case["entry"]
    if "relevance" in category:
        verdict = runner._evaluate_single_relevance_entry(Handler(), case["id"], case["reply"], entry, "glmbench",
                                                          category)
    else:
        language, fmt = ((Language.JAVA, ReturnFormat.JAVA) if runner.is_java(category) else
                         (Language.JAVASCRIPT, ReturnFormat.JAVASCRIPT) if runner.is_js(category) else
                         (Language.PYTHON, ReturnFormat.PYTHON))
        verdict = runner._evaluate_single_ast_entry(Handler(), case["id"], case["reply"], case["ground_truth"], entry,
                                                    "glmbench", category, language=language, return_format=fmt,
                                                    has_tool_call_tag=False)
    out[case["id"]] = "" if verdict["valid"] else verdict.get("error_type") or "invalid"
json.dump(out, open(target, "w"))
'''

_MULTI_TURN_REFERENCE = r'''
written = []
runner.save_eval_results = lambda result, *args, **kwargs: (written.append(result), (0.0, 0))[1]
out = {"verdicts": {}, "results": {}}
for batch in json.load(open(source)):
    items, model = batch["items"], batch["model_name"]
    written.clear()
    runner.multi_turn_runner(
        Handler(), [{"id": i["id"], "result": i["trajectory"]} for i in items],
        [{"id": i["id"], "initial_config": i["initial_config"], "involved_classes": i["involved_classes"]}
         for i in items],
        [{"id": i["id"], "ground_truth": i["ground_truth"]} for i in items], model, "multi_turn",
        pathlib.Path(bfcl_dir) / "score")
    failed = {row["id"]: row["error"]["error_type"] for row in written[0]}
    out["verdicts"][model] = {i["id"]: failed.get(i["id"], "") for i in items}
    if batch.get("results"):
        for i in items:
            out["results"][i["id"]] = [
                execute_multi_turn_func_call(turn, i["initial_config"], i["involved_classes"], "results", i["id"],
                                             long_context="long_context" in i["id"] or "composite" in i["id"])[0]
                for turn in i["ground_truth"]]
json.dump(out, open(target, "w"))
'''


# -- single-turn replies ---------------------------------------------------------------------------------

AST_KINDS = ("right", "no_call", "empty", "wrong_name", "wrong_value", "wrong_type", "missing_param", "extra_param",
             "null_param", "extra_call", "dropped_call", "reordered", "restyled_string", "int_for_float",
             "float_for_int", "number_as_string")
RELEVANCE_KINDS = ("no_call", "empty", "call", "two_calls")


def _changed(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([1, -1, 7])
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, str):
        return value + " x" if value else "x"
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    if isinstance(value, dict):
        return {**value, "x": 1}
    return "x"


def _other_type(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 1
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, dict):
        return [value]
    return 0


def _restyled(value: str) -> str:
    """The same text as BFCL's standardisation reads it: other case, spaces and punctuation it ignores."""
    return value.upper().replace(" ", "  ") + "." if value else value


def _pick(calls: list[dict], rng: random.Random, want: Any = None) -> tuple[int, str] | None:
    """A (call index, argument name) of ``calls``, one whose value passes ``want`` when given; None without one."""
    places = [(i, k) for i, c in enumerate(calls) for k, v in c["arguments"].items() if want is None or want(v)]
    return rng.choice(places) if places else None


def _reply(kind: str, right: list[dict], tools: list[dict], rng: random.Random) -> list[dict] | str | None:
    """A reply of ``kind`` (calls as {name, arguments}, or text), made from the right calls; None where it does not
    apply to this entry."""
    calls = copy.deepcopy(right)
    if kind == "right":
        return calls
    if kind == "no_call":
        return "I cannot help with that."
    if kind == "empty":
        return []
    if kind in ("call", "two_calls") and not tools:
        return None
    if kind == "call":
        return [{"name": tools[0]["function"]["name"], "arguments": {}}]
    if kind == "two_calls":
        return [{"name": t["function"]["name"], "arguments": {}} for t in (tools * 2)[:2]]
    if not calls:
        return None
    if kind == "wrong_name":
        calls[rng.randrange(len(calls))]["name"] += "_x"
        return calls
    if kind == "extra_call":
        return calls + [copy.deepcopy(calls[rng.randrange(len(calls))])]
    if kind == "dropped_call":
        del calls[rng.randrange(len(calls))]
        return calls
    if kind == "reordered":
        return calls[::-1] if len(calls) > 1 else None
    if kind == "extra_param":
        calls[rng.randrange(len(calls))]["arguments"]["unexpected_parameter"] = 1
        return calls
    wants = {"wrong_value": None, "wrong_type": None, "missing_param": None, "null_param": None,
             "restyled_string": lambda v: isinstance(v, str) and v.strip(),
             "int_for_float": lambda v: isinstance(v, float) and v == int(v),
             "float_for_int": lambda v: isinstance(v, int) and not isinstance(v, bool),
             "number_as_string": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    place = _pick(calls, rng, wants[kind])
    if place is None:
        return None
    i, key = place
    arguments = calls[i]["arguments"]
    value = arguments[key]
    if kind == "missing_param":
        del arguments[key]
    else:
        arguments[key] = {"wrong_value": lambda: _changed(value, rng), "wrong_type": lambda: _other_type(value),
                          "null_param": lambda: None, "restyled_string": lambda: _restyled(value),
                          "int_for_float": lambda: int(value), "float_for_int": lambda: float(value),
                          "number_as_string": lambda: str(value)}[kind]()
    return calls


def test_single_turn_verdicts_agree_with_bfcl_2026_3_23(bfcl_dir: Path, tmp_path: Path) -> None:
    from glmbench.bfcl.data import load_bfcl
    from glmbench.bfcl.registry import get_rule_set
    from glmbench.bfcl.requests import prepare
    from glmbench.bfcl.suite import BFCLSuite
    from glmbench.bfcl.truth_book import truth_book
    from glmbench.sim.answers import request_key

    entries, _ = load_bfcl(list(SINGLE_TURN), "cache", None, V4)
    sample = _sample(entries, SINGLE_TURN, SINGLE_TURN_SAMPLE)
    suite = BFCLSuite(bfcl_version=V4, categories=list(SINGLE_TURN))
    book = {line["key"]: line["tool_calls"] for line in truth_book(sample, suite).lines}
    rules = get_rule_set("bfcl-v4")
    cases, ours = [], {}
    for entry in sample:
        prepared = prepare(entry, suite, "")
        right = book.get(request_key(prepared.body, prepared.endpoint == "chat") or "", [])
        relevance = traits(entry.category).relevance_only
        for kind in (RELEVANCE_KINDS if relevance else AST_KINDS):
            rng = random.Random(zlib.crc32(f"{entry.id}/{kind}".encode()))
            reply = _reply(kind, right, prepared.tools, rng)
            if reply is None:
                continue
            reply = json.loads(json.dumps(reply))
            case_id = f"{entry.id}/{kind}"
            calls = [] if isinstance(reply, str) else reply
            verdict = rules.check(entry, {"calls": calls, "names": prepared.names, "error": None})
            assert verdict.scored, verdict
            ours[case_id] = verdict.ok
            cases.append({"id": case_id, "category": entry.category, "ground_truth": entry.ground_truth,
                          "entry": {"id": entry.id, "question": entry.question, "function": entry.function},
                          "reply": reply if isinstance(reply, str) else [{c["name"]: c["arguments"]} for c in reply]})
    started = time.monotonic()
    theirs = _finish(_reference(bfcl_dir, _SINGLE_TURN_REFERENCE, cases, tmp_path), tmp_path)

    disagree = [(case_id, ok, theirs[case_id]) for case_id, ok in ours.items() if ok != (theirs[case_id] == "")]
    outcomes = Counter((case_id.split("/")[1], "valid" if ok else "invalid") for case_id, ok in ours.items())
    print(f"\nsingle-turn bfcl-v4 vs BFCL 2026.3.23: {len(ours) - len(disagree)}/{len(ours)} verdicts agree "
          f"({len(sample)} entries of {len(SINGLE_TURN)} categories; BFCL took {time.monotonic() - started:.1f} s)")
    for (kind, outcome), n in sorted(outcomes.items()):
        print(f"  {kind:18} {outcome:8} {n}")
    assert len(ours) >= 4000 and len({k for k, _ in outcomes}) == len(set(AST_KINDS) | set(RELEVANCE_KINDS))
    # Both outcomes occur: the right replies pass, the wrong ones fail (the test can fail either way).
    assert outcomes["right", "valid"] >= 0.95 * sum(n for (k, _), n in outcomes.items() if k == "right")
    assert outcomes["wrong_name", "invalid"] == sum(n for (k, _), n in outcomes.items() if k == "wrong_name")
    assert disagree == [], disagree[:20]


def test_multi_turn_verdicts_agree_with_bfcl_2026_3_23(bfcl_dir: Path, tmp_path: Path) -> None:
    from glmbench.bfcl.data import load_bfcl
    from glmbench.bfcl.multi_turn import check_multi_turn, execute_calls, new_environment
    from glmbench.bfcl.multi_turn.environment import Scenario

    entries, _ = load_bfcl(list(MULTI_TURN), "cache", None, V4)
    sample = _sample(entries, MULTI_TURN, MULTI_TURN_SAMPLE)
    batches = []
    for kind in KINDS:
        items = []
        for entry in sample:
            trajectory = perturb(kind, entry.ground_truth, entry.extra["involved_classes"], entry.id)
            if trajectory is not None:
                items.append({"id": entry.id, "initial_config": entry.extra["initial_config"],
                              "involved_classes": entry.extra["involved_classes"],
                              "ground_truth": entry.ground_truth, "trajectory": trajectory})
        batches.append({"model_name": f"glmbench_{kind}", "items": items, "results": kind == "gt"})
    started = time.monotonic()
    reference = _reference(bfcl_dir, _MULTI_TURN_REFERENCE, batches, tmp_path)
    by_id = {e.id: e for e in sample}
    ours = {}  # computed while BFCL's runner works in its own process
    for batch in batches:
        for item in batch["items"]:
            trajectory = item["trajectory"]
            if batch["model_name"] == "glmbench_decoded":
                trajectory = _as_decoded(trajectory)
            ours[batch["model_name"], item["id"]] = check_multi_turn(trajectory, by_id[item["id"]]).error_type
    theirs = _finish(reference, tmp_path)

    disagree = [(model, entry_id, mine, theirs["verdicts"][model][entry_id])
                for (model, entry_id), mine in ours.items() if mine != theirs["verdicts"][model][entry_id]]
    kinds = Counter((model, error or "valid") for (model, _), error in ours.items())
    print(f"\nmulti-turn bfcl-v4 vs BFCL 2026.3.23: {len(ours) - len(disagree)}/{len(ours)} verdicts agree "
          f"({len(sample)} entries, {len(KINDS)} kinds of trajectory) in {time.monotonic() - started:.1f} s")
    for (model, error), n in sorted(kinds.items()):
        print(f"  {model:30} {error:45} {n}")
    assert len(ours) >= 2000 and len(kinds) >= 20  # every kind ran, with a spread of outcomes
    assert disagree == [], disagree[:20]

    # The ground truth's own result strings, call by call, are BFCL 2026.3.23's exactly (v4's classes).
    differing = []
    for entry in sample:
        env = new_environment(Scenario.of(entry))
        mine = [[e.result for e in execute_calls(env, turn)] for turn in entry.ground_truth]
        if mine != theirs["results"][entry.id]:
            differing.append(entry.id)
    assert differing == []
