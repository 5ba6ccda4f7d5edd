"""BFCL's ground truth as an answer book: the simulator then answers every entry as BFCL expects.

A BFCL run against glmbench's simulator measures nothing about a model (it has
none); what it can check is the pipeline around one: requests, the server's
tool-call streaming, decoding, both rule sets, latency under load. With this
book (:mod:`glmbench.sim.answers`) a correct pipeline scores near 100% by
construction, so a drop is a glmbench or dialect bug, not noise.

One line per request the simulator will see that has calls to give, keyed as
the simulator keys it (:func:`~glmbench.sim.answers.request_key`):

- a single-turn entry: the request :func:`~glmbench.bfcl.requests.prepare` makes,
  answered with the first acceptable value of every parameter (and of every key
  of a dict value) that the ground truth does not let be omitted. Where the
  request declares a Java or JavaScript parameter as a string (BFCL's own style
  does, with a type hint), the value is written as that language's expression,
  as BFCL's converters read it back (:mod:`glmbench.bfcl.java_js`). Entries with
  no ground truth (irrelevance, rest, sql) get no line: the simulator's plain
  text, no call, is what they expect.
- a multi-turn entry: the first request of each turn with ground-truth calls,
  keyed on the user messages and tool results so far, the results those calls
  give on the entry's own environment (BFCL's simulated APIs). A few entries
  (a base entry and its long-context twin) open with the same words and tools
  and want different calls: one book cannot tell them apart, so those score
  below 100%.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmbench.bfcl.categories import traits
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry

__all__ = ["truth_book", "write_truth_book"]

# Java and JavaScript parameters are declared as strings (BFCL sends a type hint): a model answers them as text.
_TEXT_ARGUMENTS = ("java", "javascript")


@dataclass(frozen=True)
class _Reading:
    """One way of reading a possible answer as a call. BFCL's checker unwraps a dict's keys as possible answers in
    turn and lets ``""`` mark a parameter that may be omitted; LightLLM's script compares a dict as written and
    wants every key: each rule set passes the calls one reading makes."""

    unwrap: bool
    omit: bool


_READINGS = (_Reading(True, True), _Reading(False, True), _Reading(True, False), _Reading(False, False))


def _first_value(values: list[Any], reading: _Reading) -> tuple[Any, bool]:
    """The first acceptable value that is not BFCL's "may be omitted" marker (``""``), and whether the parameter is
    sent (one with no other value is left out, or, when the reading does not omit, sent as ``""``)."""
    for value in values:
        if value != "":
            return (_chosen(value, reading) if reading.unwrap else value), True
    return "", not reading.omit


def _chosen(value: Any, reading: _Reading) -> Any:
    """A value whose dicts (alone or in a list) are possible answers in turn, ``{key: [values]}``, with one chosen."""
    if isinstance(value, dict):
        out = {}
        for key, values in value.items():
            if not isinstance(values, list):
                return value  # not a possible answer's dict: a value as it is
            chosen, keep = _first_value(values, reading)
            if keep:
                out[key] = chosen
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_chosen(v, reading) for v in value]
    return value


def _literal(value: Any, language: str) -> str:
    """An element of a Java or JavaScript collection: text quoted, booleans and numbers as written."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, language) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_literal(v, language)}" for k, v in value.items()) + "}"
    return str(value)


def _as_text(value: Any, type_hint: str, items_type: str | None, language: str) -> str:
    """``value`` as the Java or JavaScript expression that BFCL's converter reads back as it."""
    if isinstance(value, str):
        return value
    if language == "java":
        if type_hint == "long":
            return f"{value}L"
        if type_hint == "float":
            return f"{value}f"
        if type_hint == "HashMap" and isinstance(value, dict):
            puts = " ".join(f"put({json.dumps(k)}, {_literal(v, language)});" for k, v in value.items())
            return f"new HashMap<String, Object>() {{{{ {puts} }}}}"
        if type_hint == "ArrayList" and isinstance(value, list):
            return "new ArrayList<>(Arrays.asList(" + ", ".join(_literal(v, language) for v in value) + "))"
        if type_hint == "Array" and isinstance(value, list):
            # String elements keep their quotes in BFCL's conversion: written bare, they come back as they were.
            shown = [v if isinstance(v, str) and items_type == "String" else _literal(v, language) for v in value]
            return f"new {items_type or 'Object'}[]{{" + ", ".join(shown) + "}"
    elif type_hint == "Bigint":
        return f"{value}n"
    return _literal(value, language)


def _property_types(function: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Each parameter's declared type and element type, in a BFCL function document."""
    properties = (function.get("parameters") or {}).get("properties") or {}
    return {name: (str(p.get("type", "")), (p.get("items") or {}).get("type")) for name, p in properties.items()
            if isinstance(p, dict)}


def _sent_as_text(tools: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The parameters each tool of a request declares as strings, by the tool's sent name."""
    out = {}
    for tool in tools:
        fn = tool.get("function", tool)
        properties = (fn.get("parameters") or {}).get("properties") or {}
        out[fn.get("name", "")] = {n for n, p in properties.items() if isinstance(p, dict) and p.get("type") == "string"}
    return out


def _calls(entry: BFCLEntry, prepared: Any, reading: _Reading) -> list[dict[str, Any]]:
    """The ground truth's calls as the server would send them (sent names), read one way."""
    assert entry.ground_truth  # entries without one get no line
    sent_as = {original: sent for sent, original in prepared.names.items()}
    as_text = _sent_as_text(prepared.tools) if entry.category in _TEXT_ARGUMENTS else {}
    declared = {f.get("name"): _property_types(f) for f in entry.function}
    calls = []
    for call in entry.ground_truth:
        [(name, params)] = call.items()
        sent = sent_as.get(name, name)
        arguments = {}
        for param, values in params.items():
            value, keep = _first_value(values, reading)
            if keep:
                if param in as_text.get(sent, ()):
                    type_hint, items_type = declared.get(name, {}).get(param, ("", None))
                    value = _as_text(value, type_hint, items_type, entry.category)
                arguments[param] = value
        calls.append({"name": sent, "arguments": arguments})
    return calls


def _single_turn(entry: BFCLEntry, suite: BFCLSuite) -> dict[str, Any] | None:
    """The line answering ``entry``: the first reading of its ground truth that the suite's own rules (its
    ``scoring``, the table shown first; where they do not score the category, the first rules that do) pass, else
    the first. Without a ground truth, none where plain text passes (irrelevance), else a call of the first tool
    offered where that passes (relevance: any call does)."""
    from glmbench.bfcl.registry import get_rule_set, rule_sets
    from glmbench.bfcl.requests import decoded, prepare
    from glmbench.sim.answers import request_key

    prepared = prepare(entry, suite, "")
    key = request_key(prepared.body, prepared.endpoint == "chat")
    if key is None:
        return None
    scoring = [get_rule_set(suite.scoring), *rule_sets()]
    rules = next((r for r in scoring if entry.category not in r.unscored), scoring[0])

    def passes(calls: list[dict[str, Any]]) -> bool:
        return rules.check(entry, {**decoded(calls, None), "names": prepared.names}).ok

    if not entry.ground_truth:
        if passes([]) or not prepared.tools:
            return None
        any_call = [{"name": prepared.tools[0].get("function", {}).get("name", ""), "arguments": {}}]
        return {"key": key, "tool_calls": any_call} if passes(any_call) else None
    tried: list[list[dict[str, Any]]] = []
    for reading in _READINGS:
        calls = _calls(entry, prepared, reading)
        if calls in tried:
            continue
        if passes(calls):
            return {"key": key, "tool_calls": calls}
        tried.append(calls)
    return {"key": key, "tool_calls": tried[0]}


def _multi_turn(entry: Any, modules: Any) -> list[dict[str, Any]]:
    from glmbench.bfcl.convert import bfcl_tools
    from glmbench.bfcl.multi_turn.conversation import turn_functions, turn_messages
    from glmbench.bfcl.multi_turn.environment import Scenario, new_environment
    from glmbench.bfcl.multi_turn.execute import execute_calls, parse_call
    from glmbench.sim.answers import conversation_text, question_key

    env = new_environment(Scenario.of(entry), modules)
    # A few miss_func ground truths call a held-out function before its turn (BFCL's data): sent anyway.
    documents = {f["name"]: f for f in turn_functions(entry, len(entry.question))}
    parts: list[str] = []
    lines = []
    for turn, truth in enumerate(entry.ground_truth or []):
        parts += [m["content"] for m in turn_messages(entry, turn) if m["role"] == "user"]
        if not truth:
            continue  # a turn that wants no call: the simulator's plain text is its answer
        calls: list[tuple[str, dict[str, Any]]] = []
        for text in truth:
            parsed = parse_call(text)
            names = list((documents.get(parsed.name, {}).get("parameters") or {}).get("properties") or {})
            calls.append((parsed.name, {**dict(zip(names, parsed.args)), **(parsed.kwargs or {})}))
        offered = [t["function"]["name"] for t in bfcl_tools(turn_functions(entry, turn), entry.category).tools]
        lines.append({"key": question_key(conversation_text(parts, turn > 0), offered),
                      "tool_calls": [{"name": name, "arguments": arguments} for name, arguments in calls]})
        parts += [e.result for e in execute_calls(env, list(calls))]
    return lines


def truth_book(entries: Sequence[BFCLEntry], suite: BFCLSuite) -> list[dict[str, Any]]:
    """The answer book's lines (``{"key", "tool_calls"}``) that answer ``entries``, asked under ``suite``, with
    their ground truth. Multi-turn entries need BFCL's simulated APIs (the cached wheel), as their run does."""
    lines: list[dict[str, Any]] = []
    modules = None
    for entry in entries:
        if traits(entry.category).multi_turn:
            if modules is None:
                from glmbench.bfcl.multi_turn.environment import BFCLModules

                modules = BFCLModules()
            lines += _multi_turn(entry, modules)
        elif (line := _single_turn(entry, suite)) is not None:
            lines.append(line)
    return lines


def write_truth_book(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    """Write the lines of :func:`truth_book` as the JSON Lines file the simulator reads (``options.answers``); a
    failure to write is a user error naming the file."""
    from glmbench.results.store import replace_file

    replace_file(Path(path), "".join(json.dumps(line) + "\n" for line in lines).encode())
