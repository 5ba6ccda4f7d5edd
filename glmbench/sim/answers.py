"""Scripted answers: the simulator replies to a tool-calling request with the calls a file says.

For testing a function-calling evaluation end to end, the simulator can stand in
for a model that answers each question with known calls (a BFCL entry's ground
truth, or deliberately wrong calls). An answer book is JSON Lines, one
``{"key", "tool_calls": [{"name", "arguments"}], "content"}`` per question; the
key of a request is :func:`request_key` of the question's text and the names of
the tools offered, found the same way in a chat request (the last message; the
``tools`` list) and in a raw GLM-4.7 prompt sent to ``/v1/completions`` (the
last ``<|user|>`` turn; the JSON lines of the ``<tools>`` block), so both native
and prompt mode can be scripted with one book. Later in a conversation (a
multi-turn entry) the key is every user message and tool result so far
(:func:`conversation_text`); a request that does not end with the user's turn
has no answer, so the reply to tool results is plain text. Replies in prompt mode are GLM-4.7
text: a short reasoning closed by ``</think>``, then ``<tool_call>`` blocks.

Correctness can depend on load: with ``answer_law`` (:class:`~glmbench.sim.config.SimConfig`)
the chance that a reply is the book's answer is a function of ``in_flight``, the
requests the server holds when this one arrives, itself included; otherwise the
reply is :data:`WRONG`, one call to ``sim_wrong_answer`` that fails under every
BFCL rule set (a call where none was expected, a name that no entry expects).
The draws have a generator of their own, so a law never moves the latency draws.
What each reply meant (its key, ``right``, ``p_right``) goes to the truth log:
see :mod:`glmbench.sim.engine`.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AnswerBook", "Answer", "Reply", "REASONING", "WRONG", "law_at", "request_key", "question_key",
           "conversation_text"]

REASONING = "I should use the tools."
"""The reasoning of every scripted reply, before its text and calls."""

_PARTS = re.compile(r"<\|user\|>(.*?)(?=<\|(?:assistant|observation|user|system)\|>|$)|<tool_response>(.*?)</tool_response>",
                    re.S)
_TOOLS = re.compile(r"<tools>\n(.*?)\n?</tools>", re.S)  # the block, not the "<tools></tools>" of its preamble


def question_key(text: str, tool_names: list[str]) -> str:
    """The key of a question: its text and the sorted names of the tools offered."""
    raw = text.strip() + "\0" + "\0".join(sorted(tool_names))
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _tool_names(tools: Any) -> list[str]:
    names = []
    for tool in tools or []:
        if isinstance(tool, dict):
            fn = tool.get("function", tool)
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                names.append(fn["name"])
    return names


def conversation_text(parts: list[str], has_history: bool) -> str:
    """The text a request is keyed on: its last user message; in a conversation with earlier replies (a
    multi-turn entry's later turns), every user message and tool result so far, in order, so that the same
    words at the same point of two conversations (BFCL's fixed "I have updated some more functions", one
    question asked of two different file systems) are told apart by what the tools answered before."""
    if not parts:
        return ""
    return "\x1e".join(p.strip() for p in parts) if has_history else parts[-1]


def request_key(body: dict[str, Any], chat: bool) -> str | None:
    """The key of a request, or None when it offers no tools or does not end with the user's turn
    (a reply to tool results ends with text, which ends a turn of a multi-turn conversation)."""
    if chat:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        if not body.get("tools") or not messages or messages[-1].get("role", "user") != "user":
            return None
        history = any(m.get("role") in ("assistant", "tool") for m in messages)
        parts = [c if isinstance(c := m.get("content"), str) else "" for m in messages
                 if m.get("role", "user") == "user" or (history and m.get("role") == "tool")]
        return question_key(conversation_text(parts, history), _tool_names(body["tools"]))
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        return None
    if (tools := _TOOLS.search(prompt)) is None:
        # Tools shown in the system prompt's own words (BFCL v4's format_sensitivity variants): the whole prompt.
        return question_key(prompt, []) if "<|user|>" in prompt else None
    decoded = []
    for line in tools.group(1).splitlines():
        try:
            decoded.append(json.loads(line))
        except ValueError:
            continue
    last_user = prompt.rfind("<|user|>")
    tail = prompt[last_user:] if last_user >= 0 else ""
    if not tail or "<|observation|>" in tail or tail.count("<|assistant|>") > 1:
        return None  # the prompt ends with tool results or a reply, not the user's turn
    history = "<|assistant|>" in prompt[:last_user]
    # one of the two groups always matched: the user's text or a tool response
    parts = [m.group(1) if m.group(1) is not None else m.group(2) or "" for m in _PARTS.finditer(prompt)
             if m.group(1) is not None or history]
    return question_key(conversation_text(parts, history), _tool_names(decoded))


class Answer:
    """The reply to one question: calls (name and arguments) and optional text."""

    def __init__(self, tool_calls: list[dict[str, Any]], content: str | None = None) -> None:
        self.tool_calls = tool_calls
        self.content = content

    def calls_json(self) -> list[tuple[str, str]]:
        """Each call's name and its arguments as JSON text, as OpenAI ``tool_calls`` carry them."""
        return [(c["name"], json.dumps(c.get("arguments", {}))) for c in self.tool_calls]

    def glm_text(self) -> str:
        """The reply as GLM-4.7 writes it after ``<|assistant|><think>``."""
        from glmbench.glm.template import render_call

        calls = "".join(render_call(c["name"], c.get("arguments", {})) for c in self.tool_calls)
        return REASONING + "</think>" + (self.content or "") + calls


WRONG = Answer([{"name": "sim_wrong_answer", "arguments": {}}])
"""The reply when the load law draws wrong: a call to a tool no question offers."""


def law_at(points: Sequence[tuple[float, float]], x: float) -> float:
    """The law's value at ``x``: linear between its ``(x, y)`` points (x increasing), flat beyond the ends."""
    xs = [p[0] for p in points]
    i = bisect.bisect_right(xs, x)
    if i == 0:
        return points[0][1]
    if i == len(points):
        return points[-1][1]
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class Reply:
    """What a request is answered with, and why: the book's answer, or :data:`WRONG` when the law drew so."""

    answer: Answer
    key: str
    p_right: float | None  # the law's chance at the request's load; None without a law
    right: bool

    def intent(self) -> dict[str, Any]:
        """The truth log's record of what the reply meant."""
        return {"key": self.key, "right": self.right, "p_right": self.p_right}


class AnswerBook:
    """Answers by request key, read from a JSON Lines file, and the load law that may replace them."""

    def __init__(self, path: Path, law: Sequence[tuple[float, float]] | None = None, seed: int = 0) -> None:
        self.answers: dict[str, Answer] = {}
        with path.open() as f:
            for line in f:
                if line.strip():
                    entry = json.loads(line)
                    self.answers[entry["key"]] = Answer(entry.get("tool_calls", []), entry.get("content"))
        self.law = law
        self.rng = random.Random(seed)  # the law's own draws, apart from the latency draws

    def reply(self, body: dict[str, Any], chat: bool, in_flight: int) -> Reply | None:
        """The reply to a request received with ``in_flight`` requests held (itself included); None off the book."""
        key = request_key(body, chat)
        if key is None or (answer := self.answers.get(key)) is None:
            return None
        if self.law is None:
            return Reply(answer, key, None, True)
        p_right = law_at(self.law, in_flight)
        right = self.rng.random() < p_right
        return Reply(answer if right else WRONG, key, p_right, right)
