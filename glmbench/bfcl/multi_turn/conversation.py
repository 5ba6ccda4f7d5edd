"""Play a multi-turn BFCL entry against a server, turn by turn, as BFCL's harness (2025.6.8) does.

Per turn: the turn's user messages join the conversation (a ``miss_func`` turn
that adds the held-out functions has none: BFCL's fixed "I have updated some
more functions" message stands in, and the tools are sent again with them).
Then steps until the model answers without a call: the request (the whole
conversation and the tools), the model's reply appended as the assistant
message, its calls executed on the entry's environment (one fresh set of BFCL's
simulated API instances per entry, kept across turns) and each result sent back
as a ``tool`` message. A reply with no call, or with a call whose arguments do
not decode (or are over glmbench's bounds, :mod:`glmbench.glm.limits`: the
call then keeps a ``refused`` reason in the record), ends the turn; a turn of
more than :data:`MAX_STEPS` steps ends the whole entry (BFCL's force quit: its
trajectory then has fewer turns than the ground truth, which the checker fails
as ``force_terminated``). An API error that persists ends the entry and fails
it with the reason.

Native mode sends ``/v1/chat/completions`` with OpenAI tools; prompt mode renders
the GLM-4.7 prompt of the same conversation and parses the raw completion, as
single-turn entries do. Requests always follow BFCL's own style (its tool
conversion, no system prompt of glmbench's): LightLLM's script has no
multi-turn. The record keeps the first request, every reply, the decoded calls
and the results the model saw, so it can be rescored without a server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from glmbench.bfcl.suite import BFCLSuite
from glmbench.glm.limits import MAX_CALL_TEXT_CHARS

if TYPE_CHECKING:
    from glmbench.bfcl.data import LoadedEntry

__all__ = ["STYLE", "MAX_STEPS", "ADDED_FUNCTIONS_MESSAGE", "Executor", "play", "turn_functions", "turn_messages",
           "trajectory"]

STYLE = "bfcl"
"""The request style a conversation's record names: BFCL's own handler's, whose tool conversion it sends."""

MAX_STEPS = 20
"""BFCL's ``MAXIMUM_STEP_LIMIT``: the step after this many in one turn ends the entry."""

ADDED_FUNCTIONS_MESSAGE = "I have updated some more functions you can choose from. What about now?"
"""BFCL's user message for a turn that only adds the held-out functions (its FC wording)."""

Ask = Callable[[str, dict[str, Any]], Awaitable[tuple[dict | None, str | None, int]]]


Executor = Callable[[list[tuple[str, dict[str, Any]]]], list[str]]
"""An entry's environment: runs decoded calls in order, one result text each (never raises)."""


def _missed(entry: LoadedEntry) -> dict[int, list[dict[str, Any]]]:
    docs = entry.extra.get("missed_function_docs") or {}
    return {int(turn): list(functions) for turn, functions in docs.items()}


def turn_functions(entry: LoadedEntry, turn: int) -> list[dict[str, Any]]:
    """The function documents offered at ``turn``: the entry's, plus those a ``miss_func`` entry added by then."""
    functions = list(entry.function)
    for added_at, docs in sorted(_missed(entry).items()):
        if added_at <= turn:
            functions.extend(docs)
    return functions


def turn_messages(entry: LoadedEntry, turn: int) -> list[dict[str, Any]]:
    """The user messages that open ``turn``."""
    messages = [dict(m) for m in entry.question[turn]]
    if not messages and turn in _missed(entry):
        messages = [{"role": "user", "content": ADDED_FUNCTIONS_MESSAGE}]
    return messages


def _body(messages: list[dict[str, Any]], tools: list[dict[str, Any]], suite: BFCLSuite, model: str) -> dict[str, Any]:
    if suite.mode == "prompt":
        from glmbench.glm.template import render_chat

        prompt = render_chat(messages, tools=tools or None, add_generation_prompt=True,
                             enable_thinking=suite.enable_thinking)
        return {"model": model, "prompt": prompt, "max_tokens": suite.max_tokens, "temperature": suite.temperature}
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": suite.max_tokens,
                            "temperature": suite.temperature}
    if tools:
        body["tools"], body["tool_choice"] = tools, "auto"
    if not suite.enable_thinking:
        body["chat_template_kwargs"] = {"enable_thinking": False}
    return body


def _undecodable(endpoint: str, response: dict[str, Any], step: dict[str, Any]) -> bool:
    """Whether a reply's calls do not decode, as BFCL's decoder would refuse them (then nothing runs)."""
    if step.get("malformed") or any(c.get("refused") for c in step["calls"]):
        return True
    if endpoint != "chat":
        return False
    message = (response.get("choices") or [{}])[0].get("message") or {}
    for tc in message.get("tool_calls") or []:
        raw = (tc.get("function") or {}).get("arguments")
        if isinstance(raw, dict):
            continue
        if isinstance(raw, (str, bytes)) and len(raw) > MAX_CALL_TEXT_CHARS:
            return True
        try:
            if not isinstance(json.loads(raw or "{}"), dict):
                return True
        except (TypeError, ValueError, RecursionError):
            return True
    return False


def _assistant(endpoint: str, response: dict[str, Any], step: dict[str, Any], seq: str) -> dict[str, Any]:
    """The reply as the assistant message of the conversation, with the ids its tool results answer."""
    message: dict[str, Any] = {"role": "assistant", "content": step.get("content") or ""}
    ids = []
    if endpoint == "chat":
        raw = (response.get("choices") or [{}])[0].get("message") or {}
        ids = [tc.get("id") for tc in raw.get("tool_calls") or []]
    calls = []
    for i, call in enumerate(step["sent_calls"]):
        call_id = (ids[i] if i < len(ids) and ids[i] else None) or f"call_{seq}_{i}"
        calls.append({"id": call_id, "type": "function",
                      "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}})
    if calls:
        message["tool_calls"] = calls
    return message


async def play(entry: LoadedEntry, suite: BFCLSuite, model: str, ask: Ask, execute: Executor, *,
               tools_category: str | None = None) -> dict[str, Any]:
    """The conversation of ``entry``: its record fields (``turns``, ``force_terminated``, ``error``, ...).

    ``tools_category``: the category whose tool conversion the functions get (the entry's own when None; BFCL
    v4's agentic entries take multi-turn's)."""
    from glmbench.bfcl.convert import bfcl_tools
    from glmbench.bfcl.decoding import decode_reply

    endpoint = "completions" if suite.mode == "prompt" else "chat"
    messages: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    first_request: dict[str, Any] | None = None
    error: str | None = None
    force_terminated = False
    elapsed_ms = 0.0
    for turn in range(len(entry.question)):
        toolset = bfcl_tools(turn_functions(entry, turn), tools_category or entry.category)
        opened = turn_messages(entry, turn)
        messages.extend(opened)
        steps: list[dict[str, Any]] = []
        turns.append({"user": opened, "functions": [t["function"]["name"] for t in toolset.tools], "steps": steps})
        count = 0
        while True:
            body = _body(messages, toolset.tools, suite, model)
            if first_request is None:
                first_request = body
            started = time.perf_counter_ns()
            response, error, attempts = await ask(endpoint, body)
            latency = (time.perf_counter_ns() - started) / 1e6
            elapsed_ms += latency
            if response is None:
                steps.append({"response": None, "error": error, "attempts": attempts, "latency_ms": latency,
                              "calls": [], "results": []})
                break
            decoded = decode_reply(endpoint, response, toolset.tools, suite.enable_thinking)
            step = {"response": response, "error": None, "attempts": attempts, "latency_ms": latency,
                    "content": decoded["content"], "malformed": decoded["malformed"],
                    "sent_calls": decoded["calls"],
                    "calls": [{**c, "name": toolset.names.get(c["name"], c["name"])} for c in decoded["calls"]],
                    "results": []}
            steps.append(step)
            messages.append(_assistant(endpoint, response, step, f"{turn}_{count}"))
            del step["sent_calls"]  # the names as sent: in the assistant message, not the record
            if not step["calls"] or _undecodable(endpoint, response, step):
                step["decoded"] = False if step["calls"] else None
                break  # BFCL: an empty or undecodable reply ends the turn
            step["results"] = execute([(c["name"], c["arguments"]) for c in step["calls"]])
            for call, result in zip(messages[-1]["tool_calls"], step["results"]):
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
            count += 1
            if count > MAX_STEPS:
                force_terminated = True
                break
        if error is not None or force_terminated:
            break
    return {"endpoint": endpoint, "request": first_request, "turns": turns, "force_terminated": force_terminated,
            "error": error, "latency_ms": elapsed_ms, "steps": sum(len(t["steps"]) for t in turns),
            "calls": [c for t in turns for s in t["steps"] for c in s["calls"]]}


def trajectory(record: dict[str, Any]) -> list[list[list[tuple[str, dict[str, Any]]]]]:
    """A stored conversation as the checker reads it: per turn, per step, the decoded calls.

    Steps whose reply had no call or did not decode are dropped, as BFCL's eval runner drops them.
    """
    out = []
    for turn in record.get("turns") or []:
        steps = []
        for step in turn["steps"]:
            if step.get("calls") and step.get("decoded") is not False:
                steps.append([(c["name"], c.get("arguments") or {}) for c in step["calls"]])
        out.append(steps)
    return out
