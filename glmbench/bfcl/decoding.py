"""A stored reply back into calls, the same way for every rule set, executing nothing.

The calls are the server's ``tool_calls`` (native mode) or glmbench's own glm47
parse of the raw completion (prompt mode); their arguments are decoded by one
rule, LightLLM's script's (invalid JSON counts as ``{}``; BFCL itself fails the
whole output instead), so every rule set judges the same calls. Decoding is
bounded (:mod:`glmbench.glm.limits`): a call whose arguments are over the bounds
keeps its name, gets ``{}`` and a ``refused`` reason, which fails the entry under
every rule set. What a rule set reads besides these calls (LightLLM's script
also takes calls written in the text) it decodes itself
(:meth:`~glmbench.bfcl.ruleset.RuleSet.decoded_fields`).
"""

from __future__ import annotations

import json
from typing import Any

from glmbench.bfcl.text_calls import jsonable
from glmbench.bfcl.types import Call
from glmbench.glm.limits import MAX_ARGUMENT_DEPTH, MAX_CALL_TEXT_CHARS, text_size, value_problem

__all__ = ["decode_arguments", "decode_call_arguments", "decode_reply", "call_dict", "as_calls"]


def decode_arguments(arguments: Any) -> dict[str, Any]:
    """A tool call's ``arguments`` as a dict: JSON text decoded; empty, invalid or non-object JSON is ``{}``.

    LightLLM's script counts invalid JSON as ``{}``. (BFCL itself fails the
    whole output to decode instead; glmbench scores every rule set from the same
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


def decode_reply(endpoint: str, response: dict[str, Any] | None, tools: list[dict[str, Any]],
                 thinking: bool = True) -> dict[str, Any]:
    """``calls`` (the server's tool_calls, or glmbench's parse of the raw text in prompt mode), the answer
    ``content`` and whether the output was ``malformed``, from a stored response (None: nothing to decode)."""
    out: dict[str, Any] = {"calls": [], "content": None, "malformed": False}
    if not response or not response.get("choices"):
        return out
    choice = response["choices"][0]
    if endpoint == "completions":
        from glmbench.glm.toolcall import parse_tool_calls

        parsed = parse_tool_calls(choice.get("text") or "", tools, thinking=thinking)
        out["calls"] = [call_dict(tc["function"]["name"], *decode_call_arguments(tc["function"]["arguments"]))
                        for tc in parsed.tool_calls]
        out["content"] = parsed.content
        out["malformed"] = parsed.is_malformed
    else:
        message = choice.get("message") or {}
        for tc in message.get("tool_calls") or []:
            fn = tc.get("function") or {}
            out["calls"].append(call_dict(str(fn.get("name", "")), *decode_call_arguments(fn.get("arguments"))))
        out["content"] = message.get("content")
    return out


def call_dict(name: str, arguments: Any, refused: str = "") -> dict[str, Any]:
    """A decoded call as records store it: ``{"name", "arguments"}``, plus ``"refused"`` (why) when it was."""
    call = {"name": name, "arguments": arguments if isinstance(arguments, dict) else {}}
    if refused:
        call["refused"] = refused
    return call


def as_calls(items: list[dict[str, Any]]) -> list[Call]:
    """Stored call dicts as :class:`Call` objects."""
    return [Call(c["name"], c.get("arguments") or {}, c.get("refused") or "") for c in items]
