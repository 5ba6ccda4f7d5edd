"""BFCL v3's own scoring rules (its AST checker and relevance checks), written from those rules.

Per category:

- ``simple``, ``java``, ``javascript``, ``live_simple``: exactly one call, checked
  against the first function document and the first possible answer;
- ``multiple``, ``live_multiple``: as many calls as possible answers (one), the
  first checked against the document named by the answer;
- categories with ``parallel`` in the name: the counts must match and, for each
  expected call in order, the first unused call that fits is taken (greedy);
- ``irrelevance``, ``live_irrelevance``: pass iff no call; ``live_relevance``: pass
  iff at least one call;
- ``rest`` is scored by BFCL by executing calls against live APIs, and BFCL v3
  does not score ``sql`` at all: these are not scored here (see :data:`UNSCORED`);
- ``multi_turn_*`` is scored on a whole conversation, by
  :mod:`glmbench.bfcl.multi_turn.checker`, never on one reply.

Which check a category gets is its ``expects`` in :mod:`glmbench.bfcl.categories`.
Before any of them, a call whose arguments were not decoded (over glmbench's
bounds, :mod:`glmbench.glm.limits`) fails the entry with the reason.

One call is checked as BFCL does: the name (compared in the form it was sent:
``math.factorial`` went out as ``math_factorial``), every schema-required
parameter present, every given parameter known to the schema *and* to the
possible answer, a type check (ints accepted for Python floats, never floats for
ints, nor numbers as strings; a value of the possible answer's own type counts
as a "variable" and is compared exactly), then the value: strings after
:func:`standardize`, lists element-wise (strings standardized one level deep),
dicts key by key, anything else by equality; a parameter left out must list
``""`` among its possible values. Java and JavaScript values arrive as strings
and are converted first (:mod:`glmbench.bfcl.java_js`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from glmbench.bfcl import categories
from glmbench.bfcl.convert import language_of, sent_name
from glmbench.bfcl.java_js import JAVA_TYPES, JS_TYPES, UnsupportedType, decode_java_js
from glmbench.bfcl.types import BFCLEntry, Call, Verdict, short_repr, undecoded

__all__ = ["RULES", "UNSCORED", "unscored_reason", "standardize", "check_bfcl"]

RULES = "bfcl"

UNSCORED: dict[str, str] = {
    "sql": "sql is not scored by BFCL itself (its v3 evaluation skips the category)",
    "rest": "rest is scored by executing calls against live web APIs; glmbench never sends model calls to the network",
}
"""Category -> why these rules leave it unscored (shown in its row); every other category is scored."""

PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}
_PYTHON_NESTED = ("array", "tuple")
_JAVA_JS_NESTED = ("Array", "ArrayList", "array")
_STANDARDIZE = re.compile(r"[ ,./\-_*^]")


def unscored_reason(category: str) -> str | None:
    """Why BFCL's rules leave ``category`` unscored here, or None when they score it."""
    return UNSCORED.get(category)


def standardize(text: str) -> str:
    """BFCL's string form for comparison: ASCII spaces and ``,./-_*^`` removed, lower case, ``'`` as ``"``."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def check_bfcl(entry: BFCLEntry, calls: Sequence[Call], names: dict[str, str] | None = None) -> Verdict:
    """``calls`` for ``entry`` under BFCL's rules; ``names`` maps sent tool names back to BFCL's."""
    why = unscored_reason(entry.category)
    if why:
        return Verdict(False, why, RULES)
    names = names or {}
    why = undecoded(calls)
    if why:
        return Verdict(False, why, RULES)
    expects = categories.traits(entry.category).expects
    if expects == "turns":
        return Verdict(False, "a multi-turn entry is scored on its whole conversation (BFCL's multi-turn checker), "
                              "not on one reply", RULES)
    if expects in ("no_call", "some_call"):
        return _relevance(expects, calls, names)
    if not entry.ground_truth:
        return Verdict(False, "no possible answer for this entry", RULES)
    reason = _check_ast(entry, list(calls), names)
    return Verdict(reason is None, reason or "", RULES)


def _relevance(expects: str, calls: Sequence[Call], names: dict[str, str]) -> Verdict:
    if expects == "no_call":
        if not calls:
            return Verdict(True, "", RULES)
        called = ", ".join(names.get(c.name, c.name) for c in calls)
        return Verdict(False, f"expected no call, got {len(calls)} ({called})", RULES)
    if calls:
        return Verdict(True, "", RULES)
    return Verdict(False, "expected at least one call, got none", RULES)


class _Context:
    def __init__(self, language: str, names: dict[str, str]) -> None:
        self.language = language
        self.names = names


def _calls_word(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


def _find_doc(functions: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((doc for doc in functions if doc.get("name") == name), None)


def _answer_name(answer: Any) -> str | None:
    return next(iter(answer)) if isinstance(answer, dict) and answer else None


def _check_ast(entry: BFCLEntry, calls: list[Call], names: dict[str, str]) -> str | None:
    ctx = _Context(language_of(entry.category), names)
    answers = entry.ground_truth or []
    expects = categories.traits(entry.category).expects
    if expects == "calls_any_order":
        return _parallel(entry.function, calls, answers, ctx)
    if expects == "one_of_several":
        if len(calls) != len(answers):
            return f"expected {_calls_word(len(answers))}, got {len(calls)}"
        name = _answer_name(answers[0])
        doc = _find_doc(entry.function, name) if name else None
        if not name or doc is None:  # doc is already None for an empty name; the test narrows name
            return f"no function document for the possible answer {name}"
        return _check_call(doc, calls[0], answers[0][name], ctx)
    if len(calls) != 1:
        return f"expected 1 call, got {len(calls)}"
    name = _answer_name(answers[0])
    if not entry.function or name is None:
        return "no function document or possible answer for this entry"
    return _check_call(entry.function[0], calls[0], answers[0][name], ctx)


def _parallel(functions: list[dict[str, Any]], calls: list[Call], answers: list[Any], ctx: _Context) -> str | None:
    if len(calls) != len(answers):
        return f"expected {_calls_word(len(answers))}, got {len(calls)}"
    used: set[int] = set()
    for i, answer in enumerate(answers):
        name = _answer_name(answer)
        doc = _find_doc(functions, name) if name else None
        if doc is None:
            return f"no function document for the possible answer {name}"
        reasons = []
        for index, call in enumerate(calls):
            if index in used:
                continue
            why = _check_call(doc, call, answer[name], ctx)
            if why is None:
                used.add(index)
                break
            reasons.append(why)
        else:
            detail = next((r for r in reasons if not r.startswith("wrong function")), reasons[-1] if reasons else "")
            return f"no call fits expected call {i + 1} ({name}): {detail}"
    return None


def _check_call(doc: dict[str, Any], call: Call, answer: dict[str, list[Any]], ctx: _Context) -> str | None:
    expected = doc.get("name", "")
    if call.name != sent_name(expected, ctx.names):
        return f"wrong function: expected {expected}, got {ctx.names.get(call.name, call.name)}"
    parameters = doc.get("parameters") or {}
    properties = parameters.get("properties") or {}
    arguments = call.arguments if isinstance(call.arguments, dict) else {}
    for param in parameters.get("required") or []:
        if param not in arguments:
            return f"missing required param '{param}'"
    for param, value in arguments.items():
        if param not in properties or param not in answer:
            return f"unexpected param '{param}'"
        why = _check_value(param, value, properties[param], answer[param], ctx.language)
        if why:
            return why
    for param, accepted in answer.items():
        if param not in arguments and not _has(accepted, ""):
            return f"param '{param}' omitted, but the possible answer does not allow omitting it"
    return None


def _has(container: Any, value: Any) -> bool:
    try:
        return value in container
    except TypeError:
        return False


def _types_for(prop: dict[str, Any], language: str) -> tuple[type, type | None, str | None] | str:
    """(type, element type, element type name) for a parameter, or why BFCL has none."""
    table = {"java": JAVA_TYPES, "javascript": JS_TYPES}.get(language, PYTHON_TYPES)
    nested = _JAVA_JS_NESTED if language in ("java", "javascript") else _PYTHON_NESTED
    ptype = prop.get("type")
    if ptype not in table:
        return f"type {ptype!r} is not one BFCL's {language} checker knows"
    items_type = (prop.get("items") or {}).get("type") if ptype in nested else None
    if items_type is not None and items_type not in table:
        return f"element type {items_type!r} is not one BFCL's {language} checker knows"
    return table[ptype], table.get(items_type) if items_type else None, items_type


def _check_value(param: str, value: Any, prop: dict[str, Any], accepted: list[Any], language: str) -> str | None:
    types = _types_for(prop, language)
    if isinstance(types, str):
        return f"param '{param}': {types}"
    ptype: str = prop["type"]  # present: _types_for found it in the type table
    expected_type, element_type, items_type = types
    if language in ("java", "javascript"):
        if type(value) is not str:
            return f"param '{param}': expected a {language} value written as a string, got {type(value).__name__}"
        try:
            value = decode_java_js(value, ptype, language, items_type)
        except UnsupportedType as exc:
            return f"param '{param}': {exc}"
    if ptype == "tuple" and type(value) is tuple:
        value = list(value)
    if language == "python" and ptype == "float" and type(value) is int:
        value = float(value)  # Python would accept an int for a float
    ok, is_variable = _type_ok(value, accepted, expected_type, element_type)
    if not ok:
        return f"param '{param}': {short_repr(value)} is not of type {ptype}"
    if not is_variable:
        if expected_type is dict:
            return _dict_reason(param, value, accepted)
        if expected_type is list and element_type is dict:
            return _dicts_reason(param, value, accepted)
        if expected_type is str:
            if standardize(value) in [standardize(a) for a in accepted if type(a) is str]:
                return None
            return f"param '{param}': {short_repr(value)} not in {short_repr(accepted)}"
        if expected_type is list:
            if [_std(v) for v in value] in [_std_all(a) for a in accepted]:
                return None
            return f"param '{param}': {short_repr(value)} not in {short_repr(accepted)}"
    if not _has(accepted, value):
        return f"param '{param}': {short_repr(value)} not in {short_repr(accepted)}"
    return None


def _answer_type(accepted: list[Any]) -> type | None:
    """The type of the first possible value that is not the omission marker ``""``."""
    return next((type(a) for a in accepted if not (type(a) is str and a == "")), None)


def _type_ok(value: Any, accepted: list[Any], expected: type[Any], element: type | None) -> tuple[bool, bool]:
    """BFCL's type check: (passes, is a "variable"), elements checked one level deep.

    A value whose type differs from the schema's but matches the possible
    answer's type is a variable name (the answer holds it as a string) and is
    compared exactly, without standardizing.
    """
    answer_type = _answer_type(accepted)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if element is None:
            return True, is_variable
        for option in accepted:
            # Each element must fit the element type, or the type of that option's first element.
            if type(option) is not list or all(_type_ok(v, option, element, None)[0] for v in value):
                return True, is_variable
        return False, False
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, False


def _std(value: Any) -> Any:
    return standardize(value) if type(value) is str else value


def _std_all(option: Any) -> list[Any] | None:
    """A possible value's elements standardized (``""`` gives ``[]``, as in BFCL), or None."""
    return [_std(x) for x in option] if isinstance(option, (list, tuple, str)) else None


def _dict_reason(param: str, value: dict[str, Any], accepted: list[Any]) -> str | None:
    reason = f"param '{param}': {short_repr(value)} matches no possible dict"
    for option in accepted:
        if not isinstance(option, dict):
            continue  # "" (omitted), or a variable name: not a dict to compare with
        why = None
        for key, item in value.items():
            if key not in option:
                why = f"param '{param}': unexpected dict key '{key}'"
                break
            if _std(item) not in (_std_all(option[key]) or []):
                why = f"param '{param}': key '{key}': {short_repr(item)} not in {short_repr(option[key])}"
                break
        if why is None:
            missing = [k for k, v in option.items() if k not in value and not _has(v, "")]
            if missing:
                why = f"param '{param}': dict key '{missing[0]}' missing"
        if why is None:
            return None
        reason = why
    return reason


def _dicts_reason(param: str, value: list[Any], accepted: list[Any]) -> str | None:
    """A list of dicts against each possible list, dict by dict in order; ``""`` accepts ``[]``."""
    reason = f"param '{param}': {short_repr(value)} matches no possible list"
    for option in accepted:
        if not isinstance(option, (list, str)):
            continue
        if len(value) != len(option):
            reason = f"param '{param}': expected {len(option)} dicts, got {len(value)}"
            continue
        why = None
        for item, expected in zip(value, option):
            why = (_dict_reason(param, item, [expected]) if isinstance(item, dict)
                   else f"param '{param}': {short_repr(item)} is not a dict")
            if why:
                break
        if why is None:
            return None
        reason = why
    return reason
