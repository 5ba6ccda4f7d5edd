"""Calls written as text, recovered the way LightLLM's BFCL script does, without executing anything.

When a response has no ``tool_calls``, the script looks for calls in the text
content, in this order:

1. the whole text as JSON: a list is taken as the calls as it stands, an object
   as one call (``name`` and ``arguments`` keys; missing ones count as ``""``
   and ``{}``); any other JSON value falls through to the patterns below;
2. every non-overlapping ``word(...)`` (the name is ``\\w+``, the arguments run
   to the *first* ``)``), whose arguments the script evaluates with Python's
   ``eval("dict(<arguments>)")``: a failure drops that call, empty parentheses
   give a call with no arguments;
3. every ``{"name": "...", "arguments": {...}}`` (arguments without nested
   braces) whose arguments parse as JSON.

glmbench reproduces step 2 without ``eval``: the arguments are parsed with
:mod:`ast` and compiled (compiling runs nothing), so exactly the texts the
script rejects as syntax are rejected, then evaluated over plain data by
:mod:`glmbench.bfcl.pyexpr`, and ``dict()``'s own checks are applied to the
result. Because the arguments can never contain ``)``, the script's ``eval``
cannot call anything either: what it can do is read names, which resolve here
as there: the script's variables (``name``, ``response``, ``args_str``,
``calls``, ``args``...) to their values, its module's constants to theirs, its
other module names and Python's builtins to an opaque value that equals
nothing; any other name fails the call, as ``NameError`` does. Values come back
JSON-safe (:func:`jsonable`), which keeps the script's verdicts.

glmbench's own bounds (:mod:`glmbench.glm.limits`), which the script does not
have: a text longer than :data:`~glmbench.glm.limits.MAX_CALL_TEXT_CHARS` is not
searched (no calls); a call whose arguments text is longer than
:data:`~glmbench.glm.limits.MAX_LITERAL_TEXT_CHARS`, or whose arguments are over
the value bounds, is kept with ``{}`` and the reason in
:attr:`~glmbench.bfcl.types.Call.refused`. The ``word(...)`` pattern is applied
so that no text makes it backtrack more than linearly (see ``_CALL_IN_TEXT``).
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from typing import Any

from glmbench.bfcl.categories import PUBLISHED_ORDER, TABLE
from glmbench.bfcl.pyexpr import Opaque, evaluate
from glmbench.bfcl.types import Call
from glmbench.glm.limits import MAX_CALL_TEXT_CHARS, MAX_LITERAL_TEXT_CHARS, text_size, value_problem

__all__ = ["calls_from_text", "jsonable", "SCRIPT_ANSWERED"]

# The script's r"(\w+)\s*\((.*?)\)". A match can only start where a word starts (one starting inside a
# word would end where the match from its start ends, and that one is found first), so the look-behind
# changes no match and keeps \w+ from being tried at every letter of a long word; and the text is cut
# after its last ")", past which no match can end, so no attempt scans to the end and fails.
_CALL_IN_TEXT = re.compile(r"(?<!\w)(\w+)\s*\((.*?)\)", re.DOTALL)
_SCRIPT_PATTERN = r"(\w+)\s*\((.*?)\)"  # as the script's variable ``func_pattern`` holds it
_JSON_CALL_IN_TEXT = re.compile(r'\{"name":\s*"([^"]+)",\s*"arguments":\s*(\{[^}]+\})\}')

# What a name in the script's eval can resolve to besides its local variables.
_SCRIPT_GLOBALS = frozenset({
    "argparse", "json", "os", "re", "ast", "time", "ThreadPoolExecutor", "as_completed", "List", "Dict",
    "Any", "Optional", "Tuple", "dataclass", "defaultdict", "tqdm", "OpenAI", "hf_hub_download",
    "BFCL_REPO", "TEST_CATEGORIES", "ANSWER_FILES", "EvalResult", "download_bfcl_file",
    "load_jsonl_or_json", "load_bfcl_data", "fix_schema_types", "convert_to_openai_tools",
    "parse_function_call", "extract_tool_calls_from_response", "normalize_value",
    "value_matches_expected", "compare_function_calls", "parse_expected_output", "BFCLEvaluator", "main",
    "__name__", "__doc__", "__file__", "__builtins__", "__spec__", "__loader__", "__package__",
    "__cached__", "__annotations__",
}) | frozenset(dir(builtins))
SCRIPT_ANSWERED: tuple[str, ...] = tuple(c for c in PUBLISHED_ORDER if TABLE[c].answer == "calls")
"""The categories whose possible answers the script loads: its own (the published table's rows) whose
answers are calls, so not irrelevance (no answers) nor rest (its answers are HTTP responses)."""

# The script's module constants an eval can read; its categories are the published table's rows, in order.
_SCRIPT_CONSTANTS = {
    "BFCL_REPO": "gorilla-llm/Berkeley-Function-Calling-Leaderboard",
    "TEST_CATEGORIES": {c: TABLE[c].file_name for c in PUBLISHED_ORDER},
    "ANSWER_FILES": {c: f"possible_answer/{TABLE[c].file_name}" for c in SCRIPT_ANSWERED},
}

_INT64 = 2**63


def calls_from_text(text: str | None) -> list[Call]:
    """The calls LightLLM's script recovers from a response's text content (executing nothing)."""
    if not text or len(text) > MAX_CALL_TEXT_CHARS:
        return []
    scope: dict[str, Any] = {**_SCRIPT_CONSTANTS, "response": text, "func_pattern": _SCRIPT_PATTERN}
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        if isinstance(parsed, list):
            return [_json_call(item) for item in parsed]
        if isinstance(parsed, dict):
            return [_json_call(parsed)]
        scope["parsed"] = parsed
    calls: list[Call] = []
    found: list[dict[str, Any]] = []  # the script's own list of calls so far, which its eval can read
    searched = text[:text.rfind(")") + 1]
    scope["matches"] = _CALL_IN_TEXT.findall(searched)
    for match in _CALL_IN_TEXT.finditer(searched):
        name, args_text = match.group(1), match.group(2).strip()
        if len(args_text) > MAX_LITERAL_TEXT_CHARS:
            calls.append(Call(name, {}, f"arguments: {len(args_text):,} characters of text, "
                                        f"over {text_size(MAX_LITERAL_TEXT_CHARS)}"))
            continue
        scope.update(name=name, args_str=args_text, calls=[dict(c) for c in found])
        arguments = _dict_call(args_text, scope) if args_text else {}
        if arguments is not None:
            calls.append(_call(name, arguments))
            found.append({"name": name, "arguments": arguments})
            scope["args"] = arguments  # the script's loop variable, visible to later evals
    for match in _JSON_CALL_IN_TEXT.finditer(text):
        try:
            arguments = json.loads(match.group(2))
        except (ValueError, RecursionError):
            continue
        calls.append(_call(match.group(1), arguments if isinstance(arguments, dict) else {}))
    return calls


def _call(name: str, arguments: dict[Any, Any]) -> Call:
    """A recovered call, its arguments JSON-safe, or ``{}`` and the reason when they are over the bounds."""
    problem = value_problem(arguments)
    return Call(name, {}, problem) if problem else Call(name, jsonable(arguments))


def _json_call(item: Any) -> Call:
    """One element of a JSON list/object taken as a call (the script reads ``name`` and ``arguments``)."""
    if not isinstance(item, dict):
        return Call("", {})  # the script fails such an entry either way
    name, arguments = item.get("name", ""), item.get("arguments", {})
    return _call(name if isinstance(name, str) else "", arguments if isinstance(arguments, dict) else {})


def _dict_call(args_text: str, scope: dict[str, Any]) -> dict[Any, Any] | None:
    """What ``eval(f"dict({args_text})")`` would return in the script, or None where it would raise."""
    try:
        tree = ast.parse(f"dict({args_text})", mode="eval")
        compile(tree, "<model text>", "eval")  # compile-time errors (repeated keyword...) as eval has them
        call = tree.body
        if not isinstance(call, ast.Call):
            return None
        positional = evaluate(ast.List(elts=call.args, ctx=ast.Load()), scope, _SCRIPT_GLOBALS)
        keywords: dict[str, Any] = {}
        for kw in call.keywords:
            value = evaluate(kw.value, scope, _SCRIPT_GLOBALS)
            if kw.arg is not None:
                items = [(kw.arg, value)]
            elif isinstance(value, dict):
                items = list(value.items())
            else:
                return None  # ** of a non-mapping: TypeError (a module or function, in practice)
            for key, item in items:
                if not isinstance(key, str) or key in keywords:
                    return None  # TypeError: keywords must be strings / got multiple values
                keywords[key] = item
        if not isinstance(positional, list) or any(isinstance(p, Opaque) for p in positional):
            return None  # dict() of a module, function or the like: TypeError in practice
        return dict(*positional, **keywords)  # dict()'s own checks, on plain data only
    except Exception:  # noqa: BLE001 - only plain data was touched: any error is one eval would raise too
        return None


def jsonable(value: Any) -> Any:
    """``value`` as JSON can store it, keeping LightLLM's verdicts: the script compares numbers as
    floats and other values by their text, so huge ints become floats, sets/bytes/complex their
    text, and an opaque value a text that equals no answer.

    Raises ValueError for a value over the bounds of :mod:`glmbench.glm.limits` (callers check
    first, with :func:`~glmbench.glm.limits.value_problem`), so the walk below never runs deeper.
    """
    problem = value_problem(value, "value")
    if problem:
        raise ValueError(problem)
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Opaque):
        return repr(value)
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        if -_INT64 <= value < _INT64:
            return value
        try:
            return float(value)
        except OverflowError:
            return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(_jsonable(k)): _jsonable(v) for k, v in value.items()}
    return str(value)
