"""BFCL faults from the independent fault rig (issue 22): hostile tool calls cost bounded time and memory.

A model's call is data: however deep, large or expensive its arguments, glmbench
decodes, executes and scores it within bounds and gives a reason, and a run
keeps every other entry's record. Cases:

- 7: the executor never raises on a decoded argument, however deep (10^5 levels);
- 8: arguments nested past the bound (700 levels, the rig's case, and 10^5) make
  that call undecodable with a reason in single- and multi-turn runs, in every
  decoder and checker, never a crash;
- 9: calls of BFCL's classes whose arguments would make the work unbounded
  (a square root to 10^7 digits, a huge power, a string repeated past 1 MiB) are
  refused with their class's error in well under a second, and calls below the
  bounds give exactly the results they always did;
- minor: a call written as 80 MB of text is refused before parsing, with a reason.

The tests that run BFCL's classes need the cached wheel (``bfcl_data``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from glmbench.bfcl.checker_bfcl import check_bfcl
from glmbench.bfcl.checker_lightllm import check_lightllm, decode_arguments, decode_call_arguments
from glmbench.bfcl.multi_turn import ERROR_PREFIX, InvalidCall, execute_call, parse_call
from glmbench.bfcl.multi_turn.environment import Environment, Scenario
from glmbench.bfcl.requests import decode
from glmbench.bfcl.runner import score_record
from glmbench.bfcl.text_calls import calls_from_text
from glmbench.bfcl.types import BFCLEntry, Call, short_repr
from glmbench.glm.limits import MAX_ARGUMENT_DEPTH, value_problem
from glmbench.glm.toolcall import ToolCallStream, parse_tool_calls

DEEP = f"nested deeper than {MAX_ARGUMENT_DEPTH} levels"
MINI = Path(__file__).parent / "data" / "bfcl_mini"


def nested(depth: int) -> list:
    """``[[[...]]]``, ``depth`` lists deep, built without recursion."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def chat_response(name: str, arguments: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": name, "arguments": arguments}}]}}]}


class _Echo:
    def echo(self, value: Any = None) -> dict:
        return {"value": "ran"}


def _echo_environment() -> Environment:
    return Environment(Scenario("echo_0", ("Echo",)), {"Echo": _Echo()}, {"echo": "Echo"},
                       modules=None)  # type: ignore[arg-type]


# -- 7: the executor never raises on a decoded argument ----------------------------------------------

@pytest.mark.parametrize("value, why", [
    (nested(100_000), DEEP),
    ({"a": nested(100_000)}, DEEP),
    (list(range(300_000)), "more than 100,000 values"),
    ("x" * (2 << 20), "more than 1 MiB of text"),
    (10 ** 5000, "an integer of more than 4,000 digits"),
], ids=["deep", "deep-in-dict", "wide", "long-text", "huge-int"])
def test_execute_call_never_raises_on_a_decoded_argument(value, why):
    env = _echo_environment()
    for call in (("echo", {"value": value}), Call("echo", {"value": value})):
        started = time.monotonic()
        done = execute_call(env, call)
        assert time.monotonic() - started < 2
        assert done.status == "invalid" and done.result.startswith(ERROR_PREFIX) and why in done.result
        assert done.call == "echo(...)"
    assert execute_call(env, ("echo", {"value": [[1]]})).result == '{"value": "ran"}'  # within the bounds: runs


@pytest.mark.parametrize("text", [
    "echo(value=" + "-" * 700 + "1)",          # parses, then not a literal: its text is shown, not unparsed
    "echo(value=" + "1+" * 700 + "1)",
    "echo(value=" + "-" * 100_000 + "1)",      # past the parser's own limits
    "echo(value=" + "[" * 150 + "]" * 150 + ")",  # a literal, past the depth bound
])
def test_a_deep_call_written_as_text_is_refused_with_a_reason(text):
    done = execute_call(_echo_environment(), text)
    assert done.status == "invalid" and len(done.result) > len(ERROR_PREFIX) + 10


# -- 8: arguments nested past the bound: undecodable with a reason, never a crash -----------------

@pytest.mark.parametrize("depth", [700, 100_000])
def test_deep_json_arguments_are_refused_with_a_reason(depth):
    text = '{"radius": ' + nested_json(depth) + "}"
    assert decode_call_arguments(text) == ({}, f"arguments: {DEEP}")
    assert decode_arguments(text) == {}
    out = decode("chat", chat_response("geometry.circle_area", text), [])
    [call] = out["calls"]
    assert call == {"name": "geometry.circle_area", "arguments": {}, "refused": f"arguments: {DEEP}"}
    orjson.dumps(out)  # the record can be written


def test_a_refused_call_fails_the_entry_under_both_rules_with_its_reason():
    entry = BFCLEntry("simple_0", "simple", [[{"role": "user", "content": "area?"}]],
                      [{"name": "geometry.circle_area", "parameters": {
                          "type": "dict", "properties": {"radius": {"type": "float"}}, "required": ["radius"]}}],
                      [{"geometry.circle_area": {"radius": [3.0]}}])
    out = decode("chat", chat_response("geometry.circle_area", '{"radius": ' + nested_json(700) + "}"), [])
    record = {"id": entry.id, "category": entry.category, "error": None, "names": {}, **out}
    verdicts = score_record(record, entry)
    for rules in ("lightllm", "bfcl"):
        assert not verdicts[rules]["ok"] and DEEP in verdicts[rules]["reason"]
        assert verdicts[rules]["reason"].startswith("call 1 ('geometry.circle_area') not decoded")


@pytest.mark.parametrize("depth", [700, 100_000])
def test_checkers_never_recurse_into_a_value_past_the_bounds(depth):
    entry = BFCLEntry("simple_0", "simple", [[{"role": "user", "content": "area?"}]],
                      [{"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "array"}}}}],
                      [{"f": {"x": [[1]]}}])
    call = Call("f", {"x": nested(depth)})  # made by hand, not through a decoder
    for check in (check_bfcl, check_lightllm):
        verdict = check(entry, [call])
        assert not verdict.ok and DEEP in verdict.reason
    assert short_repr(nested(100_000)).startswith("<a list")


def test_calls_written_as_text_with_deep_arguments_are_refused():
    [call] = calls_from_text('{"name": "f", "arguments": {"x": ' + nested_json(700) + "}}")
    assert call.name == "f" and call.arguments == {} and DEEP in call.refused
    [call] = calls_from_text('[{"name": "f", "arguments": {"x": ' + nested_json(700) + "}}]")
    assert DEEP in call.refused
    [call] = calls_from_text("f(x=" + "[" * 150 + "]" * 150 + ")")
    assert DEEP in call.refused


def test_the_glm_parser_keeps_a_deep_value_as_text():
    value = nested_json(700)
    parsed = parse_tool_calls(f"<tool_call>f<arg_key>x</arg_key><arg_value>{value}</arg_value></tool_call>")
    [call] = parsed.tool_calls
    assert json.loads(call["function"]["arguments"]) == {"x": value}  # a value that does not decode stays text


def test_value_problem_is_a_loop():
    assert value_problem(nested(1_000_000)) == f"arguments: {DEEP}"
    assert value_problem({"a": nested(MAX_ARGUMENT_DEPTH - 1)}) is None
    assert value_problem({"a": nested(MAX_ARGUMENT_DEPTH)}) == f"arguments: {DEEP}"


def test_a_deep_reply_in_a_conversation_ends_the_turn_with_a_reason():
    import asyncio

    from glmbench.bfcl.data import LoadedEntry
    from glmbench.bfcl.multi_turn.conversation import play
    from glmbench.bfcl.suite import BFCLSuite

    entry = LoadedEntry("multi_turn_base_0", "multi_turn_base", [[{"role": "user", "content": "go"}]],
                        [{"name": "cd", "parameters": {"type": "dict", "properties": {"folder": {"type": "string"}}}}],
                        [["cd(folder='a')"]])
    ran: list = []

    async def ask(endpoint, body):
        return chat_response("cd", '{"folder": ' + nested_json(100_000) + "}"), None, 1

    fields = asyncio.run(play(entry, BFCLSuite(style="bfcl"), "m", ask, lambda calls: ran.extend(calls) or []))
    [step] = fields["turns"][0]["steps"]
    assert step["decoded"] is False and DEEP in step["calls"][0]["refused"] and not ran
    orjson.dumps(fields)


def test_a_raw_reply_that_cannot_be_stored_is_left_out_with_a_reason():
    from glmbench.bfcl.runner import _storable

    deep = {"extra": nested(300)}  # a server's own field, past orjson's 255 levels
    single = {"id": "simple_0", "response": deep, "calls": [], "verdicts": {}}
    stored = orjson.loads(_storable(single))
    assert stored["response"] is None and "not stored" in stored["response_not_stored"] and stored["id"] == "simple_0"
    conversation = {"id": "multi_turn_base_0", "turns": [{"steps": [{"response": deep, "calls": [], "results": []}]}]}
    stored = orjson.loads(_storable(conversation))
    assert stored["turns"][0]["steps"][0]["response"] is None and stored["response_not_stored"]
    assert orjson.loads(_storable({"id": "x", "response": {"ok": 1}})) == {"id": "x", "response": {"ok": 1}}


# -- 8, end to end: a run keeps every record ------------------------------------------------------

def _key_of_turn(entry: BFCLEntry, turn: int) -> str:
    from glmbench.bfcl.convert import bfcl_tools
    from glmbench.bfcl.multi_turn.conversation import turn_functions, turn_messages
    from glmbench.sim.answers import conversation_text, question_key

    parts = [m["content"] for t in range(turn + 1) for m in turn_messages(entry, t) if m["role"] == "user"]
    names = [t["function"]["name"] for t in bfcl_tools(turn_functions(entry, turn), entry.category).tools]
    return question_key(conversation_text(parts, turn > 0), names)


@pytest.mark.e2e
@pytest.mark.bfcl_data
def test_a_run_with_hostile_calls_keeps_every_record_with_reasons(start_sim, tmp_path):
    from glmbench.bfcl.data import cached_wheel, load_bfcl
    from glmbench.bfcl.requests import prepare
    from glmbench.bfcl.suite import BFCLSuite
    from glmbench.sim.answers import request_key

    from .conftest import run_cli

    if cached_wheel() is None:
        pytest.skip("BFCL data not cached: run glmbench data fetch bfcl")
    entries = {e.id: e for e in load_bfcl(["simple", "multi_turn_base"], "dir", MINI)[0]}
    deep = nested(700)
    prepared = prepare(entries["simple_0"], BFCLSuite(categories=["simple"]), "m")
    book = [
        {"key": request_key(prepared.body, True), "tool_calls": [{"name": "geometry.circle_area",
                                                                  "arguments": {"radius": deep}}]},
        {"key": _key_of_turn(entries["multi_turn_base_0"], 0), "tool_calls": [{"name": "cd",
                                                                               "arguments": {"folder": deep}}]},
        {"key": _key_of_turn(entries["multi_turn_base_1"], 0), "tool_calls": [
            {"name": "square_root", "arguments": {"number": 2, "precision": 10 ** 7}}]},
    ]
    path = tmp_path / "book.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in book))
    sim = start_sim("--settings", json.dumps({"answers": str(path)}), "--ttft-ms", "1", "--itl-ms", "0")
    results = tmp_path / "results"
    started = time.monotonic()
    res = run_cli("bfcl", "--endpoint", sim.url, "--data-dir", str(MINI), "--categories", "simple,multi_turn_base",
                  "--results-dir", str(results), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert time.monotonic() - started < 120
    [run_dir] = list(results.iterdir())
    records = {r["id"]: r for r in map(json.loads, (run_dir / "bfcl_records.jsonl").read_text().splitlines())}
    assert set(records) == set(entries)
    simple = records["simple_0"]
    assert simple["calls"][0]["refused"] == f"arguments: {DEEP}"
    # Every rule set that judges it fails it on its arguments (BFCL v4's has no twin of this made-up entry).
    assert all(not v["ok"] and (DEEP in v["reason"] or v.get("scored") is False) for v in simple["verdicts"].values())
    [step] = records["multi_turn_base_0"]["turns"][0]["steps"]
    assert step["decoded"] is False and step["calls"][0]["refused"] == f"arguments: {DEEP}"
    step = records["multi_turn_base_1"]["turns"][0]["steps"][0]
    assert "precision 10,000,000 is over 10,000 digits" in step["results"][0]


# -- 9: calls that would run without bound are refused, with the class's error ----------------------

def _env(*classes: str, entry_id: str = "multi_turn_base_0", config: dict | None = None) -> Environment:
    from glmbench.bfcl.data import cached_wheel
    from glmbench.bfcl.multi_turn.environment import new_environment

    if cached_wheel() is None:
        pytest.skip("BFCL data not cached: run glmbench data fetch bfcl")
    return new_environment(Scenario(entry_id, classes, config or {}))


def _dict_error(result: str) -> str:
    return json.loads(result)["error"]


HOSTILE = [
    ("MathAPI", "square_root(number=2, precision=10000000)", "dict", "precision 10,000,000 is over 10,000 digits"),
    ("MathAPI", ("square_root", {"number": 2.0, "precision": 2**62}), "dict", "precision"),
    ("MathAPI", ("logarithm", {"value": 2, "base": 10, "precision": 10**7}), "dict", "precision 10,000,000"),
    ("MathAPI", ("logarithm", {"value": 2, "base": 10, "precision": 1e9}), "dict", "precision 1,000,000,000"),
    ("MathAPI", ("logarithm", {"value": 2, "base": 10, "precision": "100000000"}), "dict", "precision 100,000,000"),
    ("MathAPI", ("power", {"base": 10, "exponent": 10**9}), "dict", "more than 10,000 digits"),
    ("MathAPI", ("power", {"base": 2, "exponent": 10**3999}), "dict", "more than 10,000 digits"),
    ("MathAPI", ("round_number", {"number": 5, "decimal_places": -10**9}), "dict", "decimal_places"),
    ("TravelAPI", ("compute_exchange_rate", {"base_currency": "USD", "target_currency": "JPY", "value": "x" * 10**6}),
     "raise", "would make a result over 1 MiB"),
]


@pytest.mark.bfcl_data
@pytest.mark.parametrize("class_name, call, shape, why", HOSTILE, ids=[h[3][:30] for h in HOSTILE])
def test_calls_that_would_run_without_bound_are_refused_quickly(class_name, call, shape, why):
    env = _env(class_name)
    started = time.monotonic()
    done = execute_call(env, call)
    assert time.monotonic() - started < 2
    assert done.status == "refused"
    if shape == "dict":
        assert why in _dict_error(done.result) and "did not run" in _dict_error(done.result)
    else:
        assert done.result.startswith(ERROR_PREFIX) and why in done.result


@pytest.mark.bfcl_data
def test_a_long_date_in_long_context_and_a_full_id_space_are_refused():
    env = _env("TravelAPI", entry_id="multi_turn_long_context_0")
    date = "2024-11-15" + "9" * 100_000
    done = execute_call(env, ("get_flight_cost", {"travel_from": "SFO", "travel_to": "LAX", "travel_date": date,
                                                  "travel_class": "first"}))
    assert done.status == "refused" and done.result.startswith(ERROR_PREFIX) and "over 1 MiB" in done.result
    short = execute_call(env, ("get_flight_cost", {"travel_from": "SFO", "travel_to": "LAX",
                                                   "travel_date": "2024-11-15", "travel_class": "first"}))
    assert short.status == "ok" and "travel_cost_list" in short.result

    env = _env("MessageAPI")
    api = env.instances["MessageAPI"]
    api.generated_ids = set(range(10000, 100000))
    execute_call(env, "message_login(user_id='USR001')")
    started = time.monotonic()
    done = execute_call(env, "send_message(receiver_id='USR002', message='hi')", time_limit_s=30)
    assert time.monotonic() - started < 2
    assert done.status == "refused" and "every message id" in _dict_error(done.result)
    api.generated_ids.discard(54321)  # one id free: the draw ends, and the call runs as in BFCL
    assert execute_call(env, "send_message(receiver_id='USR002', message='hi')").status == "ok"


@pytest.mark.bfcl_data
@pytest.mark.parametrize("class_name, method, arguments", [
    ("MathAPI", "square_root", {"number": 2, "precision": 10}),
    ("MathAPI", "square_root", {"number": 2, "precision": 10_000}),
    ("MathAPI", "square_root", {"number": -4, "precision": 10**12}),  # the method's own error comes first
    ("MathAPI", "logarithm", {"value": 980.0, "base": 20, "precision": 10}),
    ("MathAPI", "power", {"base": 2, "exponent": 100}),
    ("MathAPI", "power", {"base": 2, "exponent": 20_000}),  # runs; too long to print, as in BFCL
    ("MathAPI", "power", {"base": 2.5, "exponent": 10**9}),
    ("MathAPI", "round_number", {"number": 1234, "decimal_places": -2}),
    ("MathAPI", "round_number", {"number": 1.5, "decimal_places": -10**9}),
    ("TravelAPI", "compute_exchange_rate", {"base_currency": "USD", "target_currency": "JPY", "value": "ab"}),
    ("TravelAPI", "compute_exchange_rate", {"base_currency": "RMB", "target_currency": "USD", "value": 20000.0}),
])
def test_calls_within_the_bounds_give_the_results_they_always_did(class_name, method, arguments):
    from glmbench.bfcl.multi_turn import format_result

    env = _env(class_name)
    done = execute_call(env, (method, arguments))
    assert done.status in ("ok", "error")
    try:
        expected = format_result(getattr(_env(class_name).instances[class_name], method)(**arguments))
    except Exception as exc:  # noqa: BLE001 - as BFCL records a call that raises
        expected = ERROR_PREFIX + str(exc)
    assert done.result == expected


@pytest.mark.bfcl_data
def test_the_guards_cover_every_public_method_of_every_class():
    from glmbench.bfcl.multi_turn.environment import CLASS_MODULES, BFCLModules
    from glmbench.bfcl.multi_turn.guards import GUARDS, UNGUARDED

    _env("MathAPI")  # skips without the wheel
    modules = BFCLModules()
    for class_name in CLASS_MODULES:
        cls = modules.environment_class(class_name)
        public = {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}
        guarded = {method for owner, method in GUARDS if owner == class_name}
        assert not guarded & UNGUARDED[class_name], class_name
        assert guarded | UNGUARDED[class_name] == public, class_name


@pytest.mark.bfcl_data
def test_the_checker_replays_hostile_calls_in_bounded_time():
    from glmbench.bfcl.multi_turn import check_multi_turn

    _env("MathAPI")
    entry = {"id": "multi_turn_base_1", "involved_classes": ["MathAPI"], "initial_config": {},
             "ground_truth": [["square_root(number=9.0, precision=3)"]]}
    hostile = [("square_root", {"number": 2, "precision": 10**7}), ("power", {"base": 10, "exponent": 10**9}),
               ("square_root", {"number": 9.0, "precision": 3})]
    started = time.monotonic()
    verdict = check_multi_turn([[hostile]], entry)
    assert time.monotonic() - started < 2
    assert verdict.ok  # the refused calls ran nothing; the right call's result is there


# -- minor: a call written as text is bounded before it is parsed ----------------------------------

def test_a_huge_call_written_as_text_is_refused_before_parsing_with_a_reason():
    text = "echo(value=[" + "1," * (40 << 20) + "1])"  # 80 MB
    started = time.monotonic()
    with pytest.raises(InvalidCall, match=r"call text over 256 KiB \(83,886,\d+ characters\)"):
        parse_call(text)
    done = execute_call(_echo_environment(), text)
    assert time.monotonic() - started < 2
    assert done.status == "invalid" and "call text over 256 KiB" in done.result


def test_a_parser_out_of_memory_still_gives_a_reason(monkeypatch):
    import ast

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(ast, "parse", no_memory)
    with pytest.raises(InvalidCall) as caught:
        parse_call("echo(value=1)")
    assert str(caught.value) == "not a call: MemoryError"


def test_tool_call_text_over_the_bound_is_malformed_not_parsed():
    value = "[" + "1," * (1 << 20) + "1]"  # 2 MiB in one GLM-4.7 block
    text = f"<tool_call>f<arg_key>x</arg_key><arg_value>{value}</arg_value></tool_call>after"
    started = time.monotonic()
    parsed = parse_tool_calls(text)
    assert time.monotonic() - started < 2
    assert parsed.tool_calls == [] and parsed.malformed and parsed.content.endswith("after")
    stream, events = ToolCallStream(), []
    for i in range(0, len(text), 64 << 10):  # a stream agrees with the whole text, and stays linear
        events += stream.feed(text[i:i + (64 << 10)])
    events += stream.finish()
    assert stream.tool_calls == [] and stream.malformed == parsed.malformed
    assert "over 1 MiB" in decode_call_arguments(json.dumps({"x": value}))[1]


def test_calls_written_as_text_are_found_in_linear_time():
    started = time.monotonic()
    assert calls_from_text("a(" * 200_000) == []  # no ")": no call, and no scan to the end from every "("
    assert calls_from_text("a" * 500_000 + "(x=1") == []
    assert calls_from_text("x" * (2 << 20) + " f(a=1)") == []  # over 1 MiB: not searched
    assert time.monotonic() - started < 2
    assert calls_from_text("see f(a=1) and g(b=[1, 2])") == [Call("f", {"a": 1}), Call("g", {"b": [1, 2]})]
