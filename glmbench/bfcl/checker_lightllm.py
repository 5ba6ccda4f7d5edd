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

from collections.abc import Sequence
from typing import Any

from glmbench.bfcl import categories
from glmbench.bfcl.decoding import decode_arguments, decode_call_arguments
from glmbench.bfcl.text_calls import SCRIPT_ANSWERED, calls_from_text
from glmbench.bfcl.types import BFCLEntry, Call, Verdict, short_repr, undecoded

__all__ = ["RULES", "UNSCORED", "unscored_reason", "decode_arguments", "decode_call_arguments", "calls_from_text",
           "normalize", "check_lightllm"]

RULES = "lightllm"

# The categories whose possible answers the script loads.
ANSWERED = frozenset(SCRIPT_ANSWERED)

_NOT_ITS_CATEGORY = "not a category of LightLLM's script"
UNSCORED: dict[str, str] = {
    "live_relevance": f"{_NOT_ITS_CATEGORY} (its generic rule would pass only entries with no call)",
    # Every multi-turn category, by its trait, so one added to the table is left out here too.
    **{c.name: f"{_NOT_ITS_CATEGORY} (it sends only the first message)"
       for c in categories.TABLE.values() if c.multi_turn},
}
"""Category -> why these rules leave it unscored (shown in its row); every other category is scored."""


def unscored_reason(category: str) -> str | None:
    """Why LightLLM's rules leave ``category`` unscored, or None when they score it."""
    return UNSCORED.get(category)


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


