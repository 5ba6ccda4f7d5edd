"""LightLLM's ``eval_bfcl.py`` scoring rules, the ones behind the published GLM-4.7-Flash table.

The script's rules, written from it:

- the calls are the response's ``tool_calls`` (arguments as JSON; invalid JSON
  counts as ``{}``, see :func:`decode_arguments`), or, when there are none, the
  calls written in the text content (:func:`calls_from_text`);
- (glmbench's own bound, not the script's) a call whose arguments are over the
  bounds of :mod:`glmbench.glm.limits` fails the entry, with the reason;
- a category with ``irrelevance`` in its name passes iff there is no call;
- otherwise the expected calls are the possible answer's, for the categories
  whose answer files the script loads (all of its categories but ``rest`` and
  ``irrelevance``); for the others (``rest``) there are none, so an entry passes
  iff there is no call;
- the number of calls must match; both sides are sorted by name (a stable sort:
  calls of one function keep their order) and paired; names must be equal
  exactly; every key of the answer must be present, optional ones too; extra
  keys are ignored; a value matches when it equals one acceptable value after
  :func:`normalize` (numbers and numeric strings as floats, other strings
  lower-cased and stripped, recursively in lists and dict values), or has the
  same text after normalizing.

The script never runs ``live_relevance`` or multi-turn categories; they are not
scored under these rules (:data:`UNSCORED`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from glmbench.bfcl import categories
from glmbench.bfcl.text_calls import calls_from_text, jsonable
from glmbench.bfcl.types import BFCLEntry, Call, Verdict, short_repr, undecoded
from glmbench.glm.limits import MAX_ARGUMENT_DEPTH, MAX_CALL_TEXT_CHARS, text_size, value_problem

__all__ = ["RULES", "UNSCORED", "unscored_reason", "decode_arguments", "decode_call_arguments", "calls_from_text",
           "normalize", "check_lightllm"]

RULES = "lightllm"

# The categories whose possible answers the script loads; a view of the category table.
ANSWERED = frozenset(c.name for c in categories.TABLE.values() if c.lightllm_answers)

# Category -> why these rules leave it unscored; a view of the category table.
UNSCORED: dict[str, str] = categories.unscored_by(RULES)


def unscored_reason(category: str) -> str | None:
    """Why LightLLM's rules leave ``category`` unscored, or None when they score it."""
    return categories.unscored_reason(category, RULES)


def decode_arguments(arguments: Any) -> dict[str, Any]:
    """A tool call's ``arguments`` as a dict: JSON text decoded; empty, invalid or non-object JSON is ``{}``.

    LightLLM's script counts invalid JSON as ``{}``. (BFCL itself fails the
    whole output to decode instead; glmbench scores both rule sets from the same
    decoded calls.) Values come back JSON-safe (:func:`~glmbench.bfcl.text_calls.jsonable`).
    Arguments over glmbench's bounds are ``{}`` too: :func:`decode_call_arguments` says why.
    """
    return decode_call_arguments(arguments)[0]


def decode_call_arguments(arguments: Any) -> tuple[dict[str, Any], str]:
    """As :func:`decode_arguments`, with why the arguments were refused ("" when they were not).

    Refused, as ``{}``: text longer than :data:`~glmbench.glm.limits.MAX_CALL_TEXT_CHARS`
    (not parsed at all), and a value over the bounds of :mod:`glmbench.glm.limits`
    (nested too deep, too many values, too much text, a huge integer), checked
    with a loop before anything walks the value.
    """
    if isinstance(arguments, dict):
        value = arguments
    elif not arguments or not isinstance(arguments, (str, bytes)):
        return {}, ""
    elif len(arguments) > MAX_CALL_TEXT_CHARS:
        return {}, f"arguments: {len(arguments):,} characters of text, over {text_size(MAX_CALL_TEXT_CHARS)}"
    else:
        try:
            value = json.loads(arguments)
        except RecursionError:  # json gives up at Python's recursion limit, far past the bound
            return {}, f"arguments: nested deeper than {MAX_ARGUMENT_DEPTH} levels"
        except ValueError:
            return {}, ""
        if not isinstance(value, dict):
            return {}, ""
    problem = value_problem(value)
    if problem:
        return {}, problem
    return jsonable(value), ""


def normalize(value: Any) -> Any:
    """The script's normal form: numbers and numeric strings as float, other strings lower-cased and stripped."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value.lower().strip()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return value
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


def _matches(value: Any, accepted: Any) -> bool:
    got = normalize(value)
    options = accepted if isinstance(accepted, list) else [accepted]
    for option in options:
        want = normalize(option)
        if got == want or str(got) == str(want):
            return True
    return False


def expected_calls(entry: BFCLEntry) -> list[tuple[str, dict[str, Any]]]:
    """The calls the script expects for ``entry``: (name, {param: acceptable values})."""
    truth = entry.ground_truth if entry.category in ANSWERED else None
    if isinstance(truth, dict):
        truth = [truth]
    out: list[tuple[str, dict[str, Any]]] = []
    for item in truth or []:
        if not isinstance(item, dict):
            continue
        if "name" in item and "arguments" in item:
            args = item["arguments"]
            out.append((item["name"], args if isinstance(args, dict) else {}))
            continue
        for name, args in item.items():
            out.append((name, args if isinstance(args, dict) else {}))
    return out


def check_lightllm(entry: BFCLEntry, calls: Sequence[Call]) -> Verdict:
    """``calls`` for ``entry`` under LightLLM's script's rules."""
    why = unscored_reason(entry.category)
    if why:
        return Verdict(False, why, RULES)
    why = undecoded(calls)
    if why:
        return Verdict(False, why, RULES)
    if categories.traits(entry.category).irrelevance:
        if not calls:
            return Verdict(True, "", RULES)
        return Verdict(False, f"expected no call, got {len(calls)} ({', '.join(c.name for c in calls)})", RULES)
    reason = _compare(list(calls), expected_calls(entry))
    return Verdict(reason is None, reason or "", RULES)


def _compare(calls: list[Call], expected: list[tuple[str, dict[str, Any]]]) -> str | None:
    if len(calls) != len(expected):
        word = "call" if len(expected) == 1 else "calls"
        return f"expected {len(expected)} {word}, got {len(calls)}"
    got_sorted = sorted(calls, key=lambda c: c.name)
    want_sorted = sorted(expected, key=lambda e: e[0])
    for call, (name, accepted_args) in zip(got_sorted, want_sorted):
        if call.name != name:
            return f"wrong function: expected {name}, got {call.name}"
        arguments = call.arguments if isinstance(call.arguments, dict) else {}
        for param, accepted in accepted_args.items():
            if param not in arguments:
                return f"missing param '{param}' (every answer key is required, optional ones too)"
            if not _matches(arguments[param], accepted):
                return f"param '{param}': {short_repr(arguments[param])} not in {short_repr(accepted)}"
    return None


