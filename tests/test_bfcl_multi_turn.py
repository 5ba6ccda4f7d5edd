"""BFCL v3 multi-turn: the environment from the wheel, the safe executor, and the checker against BFCL's own.

The parsing and formatting tests need nothing; every other test needs the cached
``bfcl-eval`` wheel (``glmbench data fetch bfcl``), is marked ``bfcl_data`` and is
skipped without it, or fails when ``GLMBENCH_REQUIRE_BFCL_DATA=1``.

The differential test runs BFCL's own eval runner (``multi_turn_runner`` of
``bfcl_eval/eval_checker/eval_runner.py``) in a subprocess, from the wheel's
Python files unpacked into a temporary folder. Importing that runner pulls in
BFCL's model handlers and their provider SDKs through
``bfcl_eval.constants.model_config``; the subprocess puts a stub with an empty
``MODEL_CONFIG_MAPPING`` in :data:`sys.modules` instead (the multi-turn path never
reads it), and a stub ``dotenv`` when python-dotenv is absent. Its handler's
``decode_execute`` returns a step's call strings as they are, and raises for a
step recorded as ``None``, as a real handler does for text it cannot decode.
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pytest

from glmbench.bfcl.multi_turn import (
    ERROR_PREFIX,
    InvalidCall,
    check_multi_turn,
    drop_empty_steps,
    execute_call,
    execute_calls,
    format_result,
    new_environment,
    parse_call,
)
from glmbench.bfcl.multi_turn.checker import (
    EMPTY_TURN,
    FORCE_TERMINATED,
    INFERENCE_ERROR,
    RESPONSE_MISMATCH,
    STATE_MISMATCH,
)
from glmbench.bfcl.multi_turn.environment import (
    CLASS_MODULES,
    BFCLModules,
    Environment,
    Scenario,
)
from glmbench.bfcl.multi_turn.execute import render_call
from glmbench.bfcl.types import Call

MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")

# Entries whose own ground truth fails BFCL's checker when replayed, with the reason.
# Empty: all 800 ground truths of BFCL v3 (wheel 2025.6.8) pass, here and in BFCL.
GT_REPLAY_ALLOWLIST: dict[str, str] = {}


# -- fixtures -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel() -> Path:
    from glmbench.bfcl.data import cached_wheel

    path = cached_wheel()
    if path is None:
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA") == "1":
            pytest.fail("GLMBENCH_REQUIRE_BFCL_DATA=1 but the BFCL wheel is not cached: run glmbench data fetch bfcl")
        pytest.skip("the BFCL wheel is not cached (glmbench data fetch bfcl)")
    return path


@pytest.fixture(scope="module")
def entries(wheel: Path) -> list:
    from glmbench.bfcl.data import load_bfcl

    loaded, info = load_bfcl(list(MULTI_TURN), source="cache")
    assert info.counts == {c: 200 for c in MULTI_TURN}
    return loaded


@pytest.fixture(scope="module")
def by_id(entries: list) -> dict:
    return {e.id: e for e in entries}


def one_step_per_turn(ground_truth: list[list[str]]) -> list[list[list[str]]]:
    """The ground truth as a model trajectory: each turn's calls as one step, no step for an empty turn."""
    return [[list(turn)] if turn else [] for turn in ground_truth]


# -- parsing (no data needed) ------------------------------------------------------------

@pytest.mark.parametrize("text, name, args, kwargs", [
    ("cd(folder='document')", "cd", (), {"folder": "document"}),
    ("  mv(source='a', destination='b') ", "mv", (), {"source": "a", "destination": "b"}),
    ("sort('final_report.pdf')", "sort", ("final_report.pdf",), {}),
    ("add(a=-3, b=2.5e3)", "add", (), {"a": -3, "b": 2500.0}),
    ("f(x=[1, -2.0, 'a', None, True], y={'k': (1, 2)}, z={3})", "f", (),
     {"x": [1, -2.0, "a", None, True], "y": {"k": (1, 2)}, "z": {3}}),
    ("pwd()", "pwd", (), {}),
])
def test_literal_calls_parse(text, name, args, kwargs):
    parsed = parse_call(text)
    assert (parsed.name, parsed.args, dict(parsed.kwargs or {})) == (name, args, kwargs)


@pytest.mark.parametrize("text, why", [
    ("cd(folder=os.getcwd())", "not a literal"),
    ("ls(a=__import__('os'))", "not a literal"),
    ("cd(folder=x)", "not a literal"),
    ("cd(folder='a' + 'b')", "not a literal"),
    ("cd(folder=[c for c in 'ab'])", "not a literal"),
    ("cd(folder=f'{1}')", "not a literal"),
    ("cd(folder=d['k'])", "not a literal"),
    ("cd(folder=lambda: 1)", "not a literal"),
    ("cd(*['a'])", "*arguments"),
    ("cd(**{'folder': 'a'})", "**arguments"),
    ("os.system('true')", "plain name"),
    ("getattr(x, 'y')('z')", "plain name"),
    ("cd", "not a call"),
    ("cd(folder='a'); rm(file_name='b')", "not a call"),
    ("cd(folder='a'", "not a call"),
    ("cd(folder='a', folder='b')", "argument 'folder' given twice"),
])
def test_anything_but_a_literal_call_is_refused(text, why):
    with pytest.raises(InvalidCall, match=re.escape(why)):
        parse_call(text)


def test_results_are_formatted_as_bfcl_formats_them():
    from decimal import Decimal

    assert format_result("as is") == "as is"
    assert format_result({"result": 660.0, "b": [1, "x"]}) == '{"result": 660.0, "b": [1, "x"]}'
    assert format_result({"result": 660}) != format_result({"result": 660.0})
    assert format_result(["a", "b"]) == "['a', 'b']"  # lists are str()ed, not json.dumps'ed
    assert format_result(None) == "None"
    assert format_result(3.5) == "3.5"
    assert format_result({"result": Decimal("1.5")}) == "{'result': Decimal('1.5')}"  # json cannot write it

    class Sub(dict):
        pass

    assert format_result(Sub(a=1)) == "{'a': 1}"  # only an exact dict goes through json


def test_steps_that_are_empty_or_did_not_decode_are_dropped():
    trajectory = [[None, [], [""], ["cd(folder='a')"], [" "]], [], [[], None]]
    assert drop_empty_steps(trajectory) == [[["cd(folder='a')"], [" "]], [], []]
    with pytest.raises(TypeError):
        drop_empty_steps([["cd(folder='a')"]])


# -- time limit (no data needed) -------------------------------------------------------------

class _Spinner:
    """A method that runs until told to stop and, like some of BFCL's, swallows every Exception."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def spin(self) -> str:
        try:
            while not self.stop.is_set():
                pass
        except Exception:
            return "swallowed"
        return "stopped"


def _spin_environment(spinner: _Spinner) -> Environment:
    return Environment(Scenario("spin_0", ("Spinner",)), {"Spinner": spinner}, {"spin": "Spinner"},
                       modules=None)  # type: ignore[arg-type]


def test_a_call_past_its_time_limit_is_stopped_in_the_main_thread():
    spinner = _Spinner()
    env = _spin_environment(spinner)
    before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    done = execute_call(env, "spin()", time_limit_s=0.2)
    assert time.monotonic() - started < 3
    assert done.status == "timeout" and done.result.startswith(ERROR_PREFIX) and "time limit" in done.result
    assert env.broken is None  # the call was stopped: the environment stays usable
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_call_past_its_time_limit_off_the_main_thread_breaks_the_environment():
    spinner = _Spinner()
    env = _spin_environment(spinner)
    out: list = []
    worker = threading.Thread(target=lambda: out.append(execute_call(env, "spin()", time_limit_s=0.2)))
    worker.start()
    worker.join(10)
    try:
        assert out and out[0].status == "timeout"
        assert env.broken and "may still be running" in env.broken
        again = execute_call(env, "spin()", time_limit_s=0.2)
        assert again.status == "invalid" and "not run" in again.result
    finally:
        spinner.stop.set()


# -- the environment ----------------------------------------------------------------------------

bfcl_data = pytest.mark.bfcl_data


@bfcl_data
def test_each_environment_is_fresh_and_private(by_id):
    entry = by_id["multi_turn_long_context_0"]
    scenario = Scenario.of(entry)
    assert scenario.long_context and not Scenario.of(by_id["multi_turn_base_0"]).long_context
    first, second = new_environment(scenario), new_environment(scenario)
    assert list(first.instances) == list(dict.fromkeys(entry.extra["involved_classes"]))
    assert all(a is not b and type(a) is not type(b) for a, b in zip(first.instances.values(),
                                                                     second.instances.values()))
    assert not any(name == "bfcl_eval" or name.startswith(("bfcl_eval.", "_glmbench_bfcl_env"))
                   for name in sys.modules)
    # BFCL's scenario data in the entry is copied, never changed by a call.
    before = json.dumps(entry.extra["initial_config"], sort_keys=True)
    execute_calls(first, [c for turn in entry.ground_truth for c in turn])
    assert json.dumps(entry.extra["initial_config"], sort_keys=True) == before


@bfcl_data
def test_no_two_classes_share_a_public_method_and_stateless_math_gets_no_scenario(wheel):
    modules = BFCLModules()
    owners: dict[str, list[str]] = {}
    for class_name in CLASS_MODULES:
        for name in dir(modules.environment_class(class_name)):
            if not name.startswith("_") and callable(getattr(modules.environment_class(class_name), name)):
                owners.setdefault(name, []).append(class_name)
    assert {n: o for n, o in owners.items() if len(o) > 1} == {}
    env = new_environment(Scenario("x_0", ("MathAPI",), {"MathAPI": {"anything": 1}}))
    assert vars(env.instances["MathAPI"]).keys() == {"_api_description"}


@bfcl_data
def test_a_missing_mpmath_or_class_is_one_clear_error(wheel, monkeypatch):
    from glmbench.errors import GlmbenchError

    monkeypatch.setitem(sys.modules, "mpmath", None)  # import mpmath now raises ImportError
    with pytest.raises(GlmbenchError) as caught:
        new_environment(Scenario("multi_turn_base_9", ("MathAPI",)))
    assert "MathAPI cannot be loaded" in caught.value.message and caught.value.hint == "pip install mpmath"
    with pytest.raises(GlmbenchError, match="unknown BFCL multi-turn class 'Shell'"):
        new_environment(Scenario("multi_turn_base_9", ("Shell",)))
    with pytest.raises(ValueError, match="not a multi-turn entry"):
        Scenario.of({"id": "simple_0"})


@bfcl_data
def test_calls_run_on_the_right_instance_with_bfcl_result_strings(by_id):
    env = new_environment(Scenario.of(by_id["multi_turn_base_0"]))
    assert execute_call(env, "pwd()").result == '{"current_working_directory": "/workspace"}'
    assert execute_call(env, "cd(folder='document')").result == '{"current_working_directory": "document"}'
    as_string = execute_call(env, "ls()").result
    assert execute_call(env, Call("ls", {})).result == as_string
    assert execute_call(env, ("ls", {"a": False})).result == as_string
    assert execute_call(env, Call("ls", {})).call == "ls()"
    assert execute_call(env, ("cd", {"folder": ".."})).call == "cd(folder='..')"
    bad = execute_call(env, "cd(folder='document', depth=2)")
    assert bad.status == "error"
    assert bad.result == ERROR_PREFIX + "GorillaFileSystem.cd() got an unexpected keyword argument 'depth'"
    tweets = execute_call(env, "get_user_tweets(username='analyst_pro')")
    assert tweets.status == "ok" and tweets.result.startswith("[{'id': 0")  # a list: str(), as BFCL


@bfcl_data
@pytest.mark.parametrize("call, why", [
    ("_load_scenario(scenario={})", "private"),
    ("__init__()", "private"),
    ("root()", "no function named 'root'"),  # a public attribute, not a method
    ("long_context()", "no function named 'long_context'"),
    ("post_tweet(content='x')", "belongs to TwitterAPI, which this entry does not involve"),
    ("exit()", "no function named 'exit'"),
    ("eval(source='1')", "no function named 'eval'"),
    (Call("cd", {"folder": object()}), "not plain data"),
    (("cd", {"folder": print}), "not plain data"),
    (("os.system", {}), "not a function name"),
])
def test_only_public_methods_of_involved_classes_run(by_id, call, why):
    env = new_environment(Scenario.of(by_id["multi_turn_base_1"]))  # GorillaFileSystem only
    done = execute_call(env, call)
    assert done.status == "invalid" and why in done.result and done.result.startswith(ERROR_PREFIX)


@bfcl_data
def test_a_non_literal_argument_is_never_evaluated(by_id, tmp_path):
    marker = tmp_path / "marker"
    env = new_environment(Scenario.of(by_id["multi_turn_base_0"]))
    calls = [f"ls(a=__import__('pathlib').Path({str(marker)!r}).touch())",
             f"cd(folder=open({str(marker)!r}, 'w').name)",
             f"mkdir(dir_name=[__import__('pathlib').Path({str(marker)!r}).touch() for _ in 'a'])"]
    for call in calls:
        done = execute_call(env, call)
        assert done.status == "invalid" and "not a literal value" in done.result
    trajectory = one_step_per_turn(by_id["multi_turn_base_0"].ground_truth)
    trajectory[0][0][0] = calls[1]
    verdict = check_multi_turn(trajectory, by_id["multi_turn_base_0"])
    assert not verdict.ok and verdict.error_type == STATE_MISMATCH  # mkdir then ran in the wrong folder
    assert not marker.exists()


_WATCHED_EVENTS = ("open", "os.", "shutil.", "socket.", "subprocess.", "ctypes.", "urllib.", "http.", "sqlite3.")
_audit: dict = {"on": False, "seen": []}


def _audit_hook(event: str, args: tuple) -> None:
    if _audit["on"] and event.startswith(_WATCHED_EVENTS):
        _audit["seen"].append((event, repr(args)[:200]))


@bfcl_data
def test_every_ground_truth_replays_as_valid_and_touches_no_file_process_or_socket(entries):
    """All 800 entries, each ground-truth turn as one step; an audit hook watches for the outside world."""
    for entry in entries:  # a first pass loads whatever the environment imports lazily (_strptime, ...)
        execute_calls(new_environment(Scenario.of(entry)), [c for turn in entry.ground_truth for c in turn])
    sys.addaudithook(_audit_hook)  # stays for the process; records only while "on"
    failed = {}
    _audit["on"], _audit["seen"] = True, []
    try:
        open(os.devnull).close()  # the hook sees what it should
        assert [event for event, _ in _audit["seen"]] == ["open"]
        _audit["seen"] = []
        for entry in entries:
            verdict = check_multi_turn(one_step_per_turn(entry.ground_truth), entry)
            if not verdict.ok:
                failed[entry.id] = verdict.reason
    finally:
        _audit["on"] = False
    assert _audit["seen"] == []
    assert set(failed) == set(GT_REPLAY_ALLOWLIST), failed


# -- the checker on made-up mistakes ---------------------------------------------------------

@bfcl_data
def test_a_wrong_argument_value_fails_the_state_check(by_id):
    entry = by_id["multi_turn_base_0"]
    trajectory = one_step_per_turn(entry.ground_truth)
    trajectory[0][0][1] = "mkdir(dir_name='tmp')"
    verdict = check_multi_turn(trajectory, entry)
    assert (verdict.ok, verdict.error_type, verdict.turn) == (False, STATE_MISMATCH, 0)
    assert verdict.details["differences"] == {"GorillaFileSystem": ["root"]}
    assert verdict.reason.startswith(STATE_MISMATCH + ": turn 0: GorillaFileSystem state differs")


@bfcl_data
def test_a_missing_step_fails(by_id):
    entry = by_id["multi_turn_base_0"]
    trajectory = one_step_per_turn(entry.ground_truth)
    del trajectory[0][0][2]  # the mv: the file system differs
    assert check_multi_turn(trajectory, entry).error_type == STATE_MISMATCH
    entry = by_id["multi_turn_base_1"]
    trajectory = one_step_per_turn(entry.ground_truth)
    del trajectory[2][0][1]  # the grep changes nothing, but its result is missing
    verdict = check_multi_turn(trajectory, entry)
    assert (verdict.error_type, verdict.turn) == (RESPONSE_MISMATCH, 2)
    assert verdict.details["missing"][0].startswith('{"matching_lines"')
    trajectory = one_step_per_turn(entry.ground_truth)
    trajectory[3] = [None, [""]]  # a turn with nothing decoded
    assert (check_multi_turn(trajectory, entry).error_type, check_multi_turn(trajectory, entry).turn) == (EMPTY_TURN, 3)


@bfcl_data
def test_a_call_to_a_class_not_involved_runs_nothing(by_id):
    entry = by_id["multi_turn_base_1"]  # GorillaFileSystem only
    trajectory = one_step_per_turn(entry.ground_truth)
    trajectory[1][0].insert(0, "post_tweet(content='hello')")  # refused, harmless
    assert check_multi_turn(trajectory, entry).ok
    trajectory[0][0][0] = "post_tweet(content='hello')"  # instead of ls(a=True): its result is missing
    verdict = check_multi_turn(trajectory, entry)
    assert (verdict.error_type, verdict.turn) == (RESPONSE_MISMATCH, 0)


@bfcl_data
def test_turn_count_split_steps_and_no_trajectory(by_id):
    entry = by_id["multi_turn_base_2"]
    trajectory = one_step_per_turn(entry.ground_truth)
    verdict = check_multi_turn(trajectory[:-1], entry)
    assert (verdict.ok, verdict.error_type) == (False, FORCE_TERMINATED)
    split = [[None, *[[call] for call in turn], [""], []] for turn in entry.ground_truth]
    assert check_multi_turn(split, entry).ok
    assert check_multi_turn(None, entry).error_type == INFERENCE_ERROR


@bfcl_data
def test_calls_in_a_turn_without_ground_truth_still_change_later_state(by_id):
    entry = next(e for e in by_id.values() if e.category == "multi_turn_miss_func"
                 and any(not t for t in e.ground_truth[:-1]) and "GorillaFileSystem" in e.extra["involved_classes"])
    empty = next(i for i, t in enumerate(entry.ground_truth) if not t)
    trajectory = one_step_per_turn(entry.ground_truth)
    assert check_multi_turn(trajectory, entry).ok
    trajectory[empty] = [["mkdir(dir_name='unexpected')"]]
    verdict = check_multi_turn(trajectory, entry)
    assert (verdict.error_type, verdict.turn) == (STATE_MISMATCH, empty + 1)


# -- the differential test against BFCL's own runner -------------------------------------------------

_REFERENCE = r'''
import json, pathlib, sys, types
wheel_dir, source, target = sys.argv[1:4]
sys.path.insert(0, wheel_dir)
stub = types.ModuleType("bfcl_eval.constants.model_config")
stub.MODEL_CONFIG_MAPPING = {}
sys.modules[stub.__name__] = stub
try:
    import dotenv  # noqa: F401
except ImportError:
    dotenv = types.ModuleType("dotenv")
    dotenv.load_dotenv = lambda *a, **k: None
    sys.modules["dotenv"] = dotenv
import bfcl_eval.eval_checker.eval_runner as runner
from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call

written = []
runner.write_list_of_dicts_to_file = lambda name, rows, subdir=None: written.append(rows)

class Handler:
    def decode_execute(self, step):
        if step is None:
            raise ValueError("the response did not decode")
        return step

out = {"verdicts": {}, "results": {}}
for batch in json.load(open(source)):
    items, model = batch["items"], batch["model_name"]
    written.clear()
    runner.multi_turn_runner(
        Handler(), [{"id": i["id"], "result": i["trajectory"]} for i in items],
        [{"id": i["id"], "initial_config": i["initial_config"], "involved_classes": i["involved_classes"]}
         for i in items],
        [{"id": i["id"], "ground_truth": i["ground_truth"]} for i in items], model, "multi_turn",
        pathlib.Path(wheel_dir) / "score")
    failed = {row["id"]: row["error"]["error_type"] for row in written[0][1:]}
    out["verdicts"][model] = {i["id"]: failed.get(i["id"], "") for i in items}
    if batch.get("results"):
        for i in items:
            out["results"][i["id"]] = [
                execute_multi_turn_func_call(turn, i["initial_config"], i["involved_classes"], "results", i["id"],
                                             long_context="long_context" in i["id"] or "composite" in i["id"])[0]
                for turn in i["ground_truth"]]
json.dump(out, open(target, "w"))
'''

# One public method per class, to call a class an entry does not involve.
_ONE_CALL = {
    "GorillaFileSystem": "ls(a=True)", "MathAPI": "add(a=1, b=2)", "MessageAPI": "list_users()",
    "TwitterAPI": "posting_get_login_status()", "TicketAPI": "ticket_get_login_status()",
    "TradingBot": "get_current_time()", "TravelAPI": "list_all_airports()", "VehicleControlAPI": "get_current_speed()",
}
KINDS = ("gt", "gt_split", "decoded", "truncated", "wrong_value", "non_literal", "missing_call", "not_involved",
         "extra_not_involved", "duplicate", "reversed", "early", "late", "empty_turn")


def _changed(value, rng: random.Random):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([1, -1, 7])
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, str):
        return value + "_x" if value else "x"
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    if isinstance(value, dict):
        return {**value, "x": 1}
    return "x"


def _edit_argument(call: str, rng: random.Random, replace) -> str | None:
    """``call`` with one argument (positional or keyword, chosen by ``rng``) replaced; None without arguments."""
    tree = ast.parse(call, mode="eval").body
    places = [(tree.args, i) for i in range(len(tree.args))] + [(tree.keywords, i) for i in range(len(tree.keywords))]
    if not places:
        return None
    where, i = rng.choice(places)
    if where is tree.args:
        where[i] = replace(where[i])
    else:
        where[i].value = replace(where[i].value)
    return ast.unparse(tree)


def _wrong(node: ast.expr, rng: random.Random) -> ast.expr:
    return ast.parse(repr(_changed(ast.literal_eval(node), rng)), mode="eval").body


def perturb(kind: str, ground_truth: list[list[str]], involved: list[str], entry_id: str):
    """One made-up trajectory of ``kind`` for an entry (None when the kind does not apply); seeded by id and kind."""
    rng = random.Random(zlib.crc32(f"{entry_id}/{kind}".encode()))
    turns = [list(t) for t in ground_truth]
    noise = [None, [], [""]]
    if kind == "gt":
        return one_step_per_turn(turns)
    if kind == "gt_split":  # one call per step, with steps that did not decode or are empty in between
        return [[step for call in t for step in ([[call], rng.choice(noise)] if rng.random() < 0.3 else [[call]])]
                + ([rng.choice(noise)] if rng.random() < 0.5 else []) for t in turns]
    if kind == "truncated":
        return one_step_per_turn(turns[:-1])
    if kind == "decoded":  # keyword calls as BFCL writes decoded tool calls; glmbench gets them as Call objects
        return [[[_rendered(call) for call in step] for step in turn] for turn in one_step_per_turn(turns)]
    filled = [i for i, t in enumerate(turns) if t]
    i = rng.choice(filled)
    j = rng.randrange(len(turns[i]))
    others = [c for c in _ONE_CALL if c not in involved]
    if kind == "wrong_value":
        changed = _edit_argument(turns[i][j], rng, lambda node: _wrong(node, rng))
        if changed is None:
            return None
        turns[i][j] = changed
    elif kind == "non_literal":
        changed = _edit_argument(turns[i][j], rng, lambda node: ast.parse("os.getcwd()", mode="eval").body)
        if changed is None:
            return None
        turns[i][j] = changed
    elif kind == "missing_call":
        del turns[i][j]
    elif kind == "not_involved":
        turns[i][j] = _ONE_CALL[rng.choice(others)]
    elif kind == "extra_not_involved":
        turns[i].insert(j, _ONE_CALL[rng.choice(others)])
    elif kind == "duplicate":
        turns[i].insert(j, turns[i][j])
    elif kind == "reversed":
        several = [k for k in filled if len(turns[k]) > 1]
        if not several:
            return None
        turns[rng.choice(several)].reverse()
    elif kind == "early":  # a call of the next turn made one turn early
        if i + 1 >= len(turns) or not turns[i + 1]:
            return None
        turns[i].append(turns[i + 1].pop(0))
    elif kind == "late":  # a call made one turn late
        if i + 1 >= len(turns):
            return None
        turns[i + 1].insert(0, turns[i].pop())
    elif kind == "empty_turn":
        trajectory = one_step_per_turn(turns)
        trajectory[i] = rng.choice([[], [None], [[]], [[""]]])
        return trajectory
    return one_step_per_turn(turns)


def _rendered(call: str) -> str:
    parsed = parse_call(call)
    return call if parsed.args else render_call(parsed.name, dict(parsed.kwargs or {}))


def _as_decoded(trajectory):
    """Keyword-only call strings as the Call objects a tool-call decoder gives."""
    def decoded(call: str):
        parsed = parse_call(call)
        return call if parsed.args else Call(parsed.name, dict(parsed.kwargs or {}))
    return [[[decoded(call) for call in step] for step in turn] for turn in trajectory]


def _unpack_python(wheel: Path, folder: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if member.startswith("bfcl_eval/") and member.endswith(".py") and ".." not in member:
                zf.extract(member, folder)


@bfcl_data
@pytest.mark.slow
def test_glmbench_agrees_with_bfcls_own_runner(wheel, entries, by_id, tmp_path):
    """Every kind of made-up trajectory for all 800 entries: the verdicts (valid, error type) must agree."""
    batches = []
    for kind in KINDS:
        items = []
        for entry in entries:
            trajectory = perturb(kind, entry.ground_truth, entry.extra["involved_classes"], entry.id)
            if trajectory is not None:
                items.append({"id": entry.id, "initial_config": entry.extra["initial_config"],
                              "involved_classes": entry.extra["involved_classes"],
                              "ground_truth": entry.ground_truth, "trajectory": trajectory})
        batches.append({"model_name": f"glmbench_{kind}", "items": items, "results": kind == "gt"})
    source, target = tmp_path / "trajectories.json", tmp_path / "bfcl.json"
    source.write_text(json.dumps(batches))
    bfcl_dir = tmp_path / "bfcl"
    _unpack_python(wheel, bfcl_dir)
    env = dict(os.environ, BFCL_PROJECT_ROOT=str(bfcl_dir))
    started = time.monotonic()
    reference = subprocess.Popen([sys.executable, "-c", _REFERENCE, str(bfcl_dir), str(source), str(target)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ours = {}  # computed while BFCL's runner works in its own process
    for batch in batches:
        for item in batch["items"]:
            trajectory = item["trajectory"]
            if batch["model_name"] == "glmbench_decoded":
                trajectory = _as_decoded(trajectory)
            verdict = check_multi_turn(trajectory, by_id[item["id"]])
            ours[batch["model_name"], item["id"]] = verdict.error_type
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err[-3000:]
    theirs = json.loads(target.read_text())

    total = len(ours)
    disagreements = [(model, entry_id, mine, theirs["verdicts"][model][entry_id])
                     for (model, entry_id), mine in ours.items() if mine != theirs["verdicts"][model][entry_id]]
    agreement = 1 - len(disagreements) / total
    kinds = Counter((model, error or "valid") for (model, _), error in ours.items())
    print(f"\nmulti-turn checker vs BFCL 2025.6.8: {total - len(disagreements)}/{total} verdicts agree "
          f"({agreement:.4%}) in {time.monotonic() - started:.1f} s")
    for (model, error), n in sorted(kinds.items()):
        print(f"  {model:30} {error:45} {n}")
    assert total >= 9000 and len(kinds) >= 20  # every kind ran, with a spread of outcomes
    assert agreement >= 0.999, disagreements[:20]

    # The ground truth's own result strings, call by call, are BFCL's exactly.
    differing = []
    for entry in entries:
        env_ = new_environment(Scenario.of(entry))
        mine = [[e.result for e in execute_calls(env_, turn)] for turn in entry.ground_truth]
        if mine != theirs["results"][entry.id]:
            differing.append(entry.id)
    assert differing == []
