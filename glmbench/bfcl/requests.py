"""Turn a BFCL entry into a request, and a response back into calls.

Two request styles (see :class:`~glmbench.bfcl.suite.BFCLSuite`) and two modes.
In native mode the body goes to ``/v1/chat/completions`` with OpenAI ``tools``;
in prompt mode glmbench renders the GLM-4.7 prompt (tools in the system turn)
and sends it to ``/v1/completions``, then parses the raw text itself. Decoding
never executes model output, and is bounded (:mod:`glmbench.glm.limits`): a
call whose arguments are over the bounds keeps its name, gets ``{}`` and a
``refused`` reason, which fails the entry under both rule sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry, Call

__all__ = ["LIGHTLLM_SYSTEM_PROMPT", "PreparedRequest", "prepare", "decode", "as_calls", "call_dict"]

# The fixed system prompt of LightLLM's BFCL script (the published table's runs).
LIGHTLLM_SYSTEM_PROMPT = (
    "You are a helpful assistant that can use tools/functions to help answer questions. "
    "When you need to call a function, use the provided tools."
)


@dataclass
class PreparedRequest:
    """The body to send, where to send it, and the map from sent tool names back to BFCL's."""

    endpoint: str  # "chat" or "completions"
    body: dict[str, Any]
    tools: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)


def _messages(entry: BFCLEntry, suite: BFCLSuite) -> list[dict[str, Any]]:
    first_turn = entry.question[0] if entry.question else []
    if suite.style == "lightllm":
        # The script sends only the first message of the first turn, as the user,
        # after its own system prompt (for a live entry that opens with a system
        # message, that system text becomes the user message).
        text = first_turn[0].get("content", "") if first_turn else ""
        return [{"role": "system", "content": LIGHTLLM_SYSTEM_PROMPT}, {"role": "user", "content": text}]
    return [dict(m) for m in first_turn]


def prepare(entry: BFCLEntry, suite: BFCLSuite, model: str) -> PreparedRequest:
    """The request for ``entry`` under ``suite``'s style and mode."""
    from glmbench.bfcl.convert import bfcl_tools, lightllm_tools

    if suite.style == "lightllm":
        tools, names = lightllm_tools(entry.function), {}
    else:
        toolset = bfcl_tools(entry.function, entry.category)
        tools, names = toolset.tools, dict(toolset.names)
    messages = _messages(entry, suite)
    if suite.mode == "prompt":
        from glmbench.glm.template import render_chat

        prompt = render_chat(messages, tools=tools or None, add_generation_prompt=True,
                             enable_thinking=suite.enable_thinking)
        # GLM's <think>, <tool_call> and <arg_*> tokens are not special: they survive the
        # server's default skip_special_tokens, so no extra field is needed.
        body = {"model": model, "prompt": prompt, "max_tokens": suite.max_tokens, "temperature": suite.temperature}
        return PreparedRequest("completions", body, tools, names)
    body = {"model": model, "messages": messages, "max_tokens": suite.max_tokens, "temperature": suite.temperature}
    if tools:
        body["tools"] = tools
        body["tool_choice"] = "auto"
    if not suite.enable_thinking:
        body["chat_template_kwargs"] = {"enable_thinking": False}
    return PreparedRequest("chat", body, tools, names)


def decode(endpoint: str, response: dict[str, Any] | None, tools: list[dict[str, Any]],
           thinking: bool = True) -> dict[str, Any]:
    """Calls from a stored response: ``calls`` (the server's tool_calls, or glmbench's parse of
    the raw text in prompt mode), ``text_calls`` (calls written as text in the content, which
    LightLLM's script also accepts), the answer ``content`` and whether the output was malformed.
    A call dict is ``{"name", "arguments"}``, plus ``"refused"`` (why) when its arguments were refused."""
    from glmbench.bfcl.checker_lightllm import calls_from_text, decode_call_arguments

    out: dict[str, Any] = {"calls": [], "text_calls": [], "content": None, "malformed": False}
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
    if out["content"]:
        out["text_calls"] = [call_dict(c.name, c.arguments, c.refused) for c in calls_from_text(out["content"])]
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
