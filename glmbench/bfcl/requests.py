"""Turn a BFCL entry into a request, and a response back into the fields a record keeps.

The request style is the suite's rule set's (:attr:`~glmbench.bfcl.suite.BFCLSuite.style`:
its messages and tools); the mode is the suite's. In native mode the body goes
to ``/v1/chat/completions`` with OpenAI ``tools``; in prompt mode glmbench
renders the GLM-4.7 prompt (tools in the system turn) and sends it to
``/v1/completions``, then parses the raw text itself. Decoding
(:mod:`glmbench.bfcl.decoding`) never executes model output and is bounded;
each rule set adds the fields it reads besides the decoded calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.categories import traits
from glmbench.bfcl.decoding import as_calls, call_dict, decode_reply
from glmbench.bfcl.registry import get_rule_set, rule_sets
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry
from glmbench.errors import GlmbenchError

__all__ = ["PreparedRequest", "prepare", "decode", "decoded", "as_calls", "call_dict"]


@dataclass
class PreparedRequest:
    """The body to send, where to send it, and the map from sent tool names back to BFCL's."""

    endpoint: str  # "chat" or "completions"
    body: dict[str, Any]
    tools: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)
    variant: str | None = None
    """BFCL v4's format_sensitivity: the prompt format asked (its reply is decoded in that format)."""


def prepare(entry: BFCLEntry, suite: BFCLSuite, model: str) -> PreparedRequest:
    """The request for ``entry`` under ``suite``'s style and mode."""
    if traits(entry.category).expects == "format_variants":
        return _format_variant(entry, suite, model)
    style = get_rule_set(suite.style)
    tools, names = style.tools(entry)
    messages = style.messages(entry)
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


def _format_variant(entry: BFCLEntry, suite: BFCLSuite, model: str) -> PreparedRequest:
    """A format_sensitivity entry in prompt mode: its variant's system prompt (BFCL's, functions shown in it),
    rendered with GLM-4.7's template without tools."""
    from glmbench.bfcl.agentic.format_sensitivity import NATIVE_NOT_RUN, messages, variant_of
    from glmbench.glm.template import render_chat

    if suite.mode != "prompt":
        raise GlmbenchError(f"format_sensitivity {NATIVE_NOT_RUN}", "run it with --mode prompt")
    prompt = render_chat(messages(entry), tools=None, add_generation_prompt=True, enable_thinking=suite.enable_thinking)
    body = {"model": model, "prompt": prompt, "max_tokens": suite.max_tokens, "temperature": suite.temperature}
    return PreparedRequest("completions", body, [], {}, variant_of(entry))


def decode(endpoint: str, response: dict[str, Any] | None, tools: list[dict[str, Any]],
           thinking: bool = True, variant: str | None = None) -> dict[str, Any]:
    """A record's decoded fields from a stored response (None: none came back).

    ``calls`` (the server's tool_calls, or glmbench's parse of the raw text in
    prompt mode), then every rule set's own fields (LightLLM's script's
    ``text_calls``, the calls written as text), the answer ``content`` and
    whether the output was ``malformed``. A call dict is ``{"name", "arguments"}``,
    plus ``"refused"`` (why) when its arguments were refused. A format_sensitivity reply (``variant``) is
    decoded in its variant's return format, after the reasoning (:mod:`glmbench.bfcl.agentic.format_decoding`),
    with ``decode_error`` (BFCL's error type and why; "" when it decoded).
    """
    if variant:
        return _variant_reply(response, variant)
    reply = decode_reply(endpoint, response, tools, thinking)
    return decoded(reply["calls"], reply["content"], reply["malformed"])


def decoded(calls: list[dict[str, Any]], content: str | None, malformed: bool = False) -> dict[str, Any]:
    """A record's decoded fields from calls already decoded and the reply's text: see :func:`decode`."""
    out: dict[str, Any] = {"calls": calls}
    for rule_set in rule_sets():
        out.update(rule_set.decoded_fields(content))
    out["content"], out["malformed"] = content, malformed
    return out


def _variant_reply(response: dict[str, Any] | None, variant: str) -> dict[str, Any]:
    from glmbench.bfcl.agentic.format_decoding import decode_format_reply

    choices = (response or {}).get("choices") or [{}]
    text = str(choices[0].get("text") or "")
    text = text[text.rfind("</think>") + len("</think>"):] if "</think>" in text else text
    reply = decode_format_reply(text, variant)
    out = decoded(reply.calls, text, bool(reply.error))
    out["decode_error"] = reply.error
    return out
