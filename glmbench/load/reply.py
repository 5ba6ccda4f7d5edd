"""A streamed reply put back together: reasoning, answer text, tool calls and finish reason, as it arrives.

A benchmark request only needs the stream's timing; a function-calling request
(a BFCL entry sent as traffic) also needs what was said, to decode and score
it. :class:`Reply` collects it from the chunks the stream decoder has already
parsed, and gives back the response the same request would have had unstreamed
(:meth:`Reply.response`), so decoding and scoring are the same for both.

Tool calls come as OpenAI deltas: the first delta of a call carries its
``index``, ``id``, ``type`` and ``function.name``, later ones pieces of
``function.arguments``, which join in order. In a raw completion (prompt mode)
the calls are GLM-4.7 text, found by its ``<tool_call>`` tags. Either way the
reply notes when the first call began and when the last call was complete.

With ``logprobs`` the reply also keeps each generated token and its top
alternatives with their logprobs, from either of the shapes vLLM sends: a text
completion's ``logprobs.tokens`` / ``top_logprobs`` (a mapping per token), or a
chat completion's ``logprobs.content`` (a list of ``token``, ``logprob``,
``top_logprobs``). Servers that give none leave ``tokens`` empty.

What a server sends is bounded: at most :data:`MAX_REPLY_CHARS` of text in all
and :data:`MAX_CALLS` calls, past which the stream is refused as broken (a
reply of the 1,024 tokens BFCL allows is a few KB); at most
:data:`MAX_LOGPROB_TOKENS` tokens with logprobs, :data:`MAX_TOP` alternatives
each.
"""

from __future__ import annotations

from typing import Any

from glmbench.glm.limits import MAX_CALL_TEXT_CHARS

__all__ = ["Reply", "ReplyError", "MAX_REPLY_CHARS", "MAX_CALLS", "MAX_LOGPROB_TOKENS", "MAX_TOP"]

MAX_REPLY_CHARS = 4 * MAX_CALL_TEXT_CHARS
MAX_CALLS = 128
MAX_LOGPROB_TOKENS = 1 << 16
MAX_TOP = 8

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"


class ReplyError(ValueError):
    """The reply broke a bound or the delta format; the stream decoder turns it into a failed request."""


class Reply:
    """What one streamed chat or text completion said, collected chunk by chunk."""

    __slots__ = ("chat", "reasoning", "content", "calls", "finish_reason", "size", "first_call_ns",
                 "call_end_ns", "_tail", "_open", "logprobs", "tokens", "top")

    def __init__(self, chat: bool, logprobs: bool = False) -> None:
        self.chat = chat
        self.logprobs = logprobs
        # Each generated token, and its top alternatives (token, logprob), best first: when asked and given.
        self.tokens: list[str] = []
        self.top: list[list[tuple[str, float]]] = []
        self.reasoning: list[str] = []
        self.content: list[str] = []
        # By the delta's index: [id, name, argument pieces]
        self.calls: dict[int, list[Any]] = {}
        self.finish_reason: str | None = None
        self.size = 0
        self.first_call_ns: int | None = None
        self.call_end_ns: int | None = None
        self._tail = ""  # the end of the text so far, to find a tag split between two chunks
        self._open = False  # inside a <tool_call> block of a raw completion

    def _grow(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_REPLY_CHARS:
            raise ReplyError(f"the reply ran past {MAX_REPLY_CHARS >> 20} MiB of text")

    def take(self, ts: int, choice: dict[str, Any], delta: dict[str, Any] | None) -> None:
        """One chunk's choice (and, for chat, its delta), already parsed; ``ts`` is its read time."""
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            self.finish_reason = finish
        if self.logprobs and choice.get("logprobs"):
            self._logprobs(choice["logprobs"])
        if not self.chat:
            text = choice.get("text")
            if isinstance(text, str) and text:
                self._text(ts, text)
            return
        if delta is None:
            return
        for key, into in (("reasoning_content", self.reasoning), ("reasoning", self.reasoning),
                          ("content", self.content)):
            piece = delta.get(key)
            if isinstance(piece, str) and piece:
                self._grow(piece)
                into.append(piece)
        tool_calls = delta.get("tool_calls")
        if tool_calls:
            if not isinstance(tool_calls, list):
                raise ReplyError("a tool_calls delta that is not a list")
            for call in tool_calls:
                self._call_delta(call)
            if self.first_call_ns is None:
                self.first_call_ns = ts
            self.call_end_ns = ts

    def _call_delta(self, call: Any) -> None:
        if not isinstance(call, dict):
            raise ReplyError("a tool_calls delta item that is not an object")
        index = call.get("index", len(self.calls) - 1 if self.calls else 0)
        if type(index) is not int or not 0 <= index < MAX_CALLS:
            raise ReplyError(f"a tool call index out of range (0..{MAX_CALLS - 1}): {str(index)[:20]!r}")
        slot = self.calls.get(index)
        if slot is None:
            slot = self.calls[index] = [None, "", []]
        if isinstance(call.get("id"), str) and call["id"]:
            slot[0] = call["id"][:200]
        function = call.get("function")
        if isinstance(function, dict):
            name, arguments = function.get("name"), function.get("arguments")
            if isinstance(name, str) and name:
                self._grow(name)
                slot[1] += name  # a name is normally whole in its first delta; some servers split it
            if isinstance(arguments, str) and arguments:
                self._grow(arguments)
                slot[2].append(arguments)
            elif isinstance(arguments, dict):  # a server that sends the arguments already decoded
                slot[2].append(arguments)

    def _logprobs(self, given: Any) -> None:
        """Each token of a chunk's ``logprobs``, in either shape, with its top alternatives best first."""
        if not isinstance(given, dict):
            raise ReplyError("logprobs that are not an object")
        pairs: list[tuple[Any, Any]] = []
        if isinstance(given.get("content"), list):  # chat: [{"token", "logprob", "top_logprobs": [...]}]
            for item in given["content"]:
                if not isinstance(item, dict):
                    raise ReplyError("a logprobs content item that is not an object")
                top = item.get("top_logprobs") or []
                alternatives = [(t.get("token"), t.get("logprob")) for t in top if isinstance(t, dict)] \
                    if isinstance(top, list) else []
                pairs.append((item.get("token"), alternatives or [(item.get("token"), item.get("logprob"))]))
        elif isinstance(given.get("tokens"), list):  # a text completion: tokens and one mapping per token
            tops = given.get("top_logprobs")
            tops = tops if isinstance(tops, list) else []
            logprobs = given.get("token_logprobs")
            logprobs = logprobs if isinstance(logprobs, list) else []
            for i, token in enumerate(given["tokens"]):
                top = tops[i] if i < len(tops) else None
                alternatives = list(top.items()) if isinstance(top, dict) else []
                own = logprobs[i] if i < len(logprobs) else None
                pairs.append((token, alternatives or [(token, own)]))
        for token, alternatives in pairs:
            if len(self.tokens) >= MAX_LOGPROB_TOKENS:
                raise ReplyError(f"logprobs for more than {MAX_LOGPROB_TOKENS:,} tokens")
            if not isinstance(token, str):
                raise ReplyError("a logprobs token that is not text")
            self._grow(token)
            top = sorted(((str(t)[:200], float(lp)) for t, lp in alternatives[:MAX_TOP]
                          if isinstance(lp, (int, float)) and not isinstance(lp, bool)), key=lambda a: -a[1])
            self.tokens.append(token)
            self.top.append(top)

    def _text(self, ts: int, text: str) -> None:
        self._grow(text)
        self.content.append(text)
        seen = self._tail + text
        while True:
            tag = _CLOSE if self._open else _OPEN
            at = seen.find(tag)
            if at < 0:
                break
            seen = seen[at + len(tag):]
            self._open = not self._open
            if self._open and self.first_call_ns is None:
                self.first_call_ns = ts
            if not self._open:
                self.call_end_ns = ts
        self._tail = seen[-(len(_CLOSE) - 1):]

    def response(self) -> dict[str, Any]:
        """The reply as the unstreamed response would carry it: ``choices[0].message`` (chat) or ``.text``."""
        if not self.chat:
            choice: dict[str, Any] = {"index": 0, "text": "".join(self.content), "finish_reason": self.finish_reason}
            return {"object": "text_completion", "choices": [choice]}
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content) or None}
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        calls = []
        for index in sorted(self.calls):
            call_id, name, pieces = self.calls[index]
            decoded = next((p for p in pieces if isinstance(p, dict)), None)
            arguments = decoded if decoded is not None else "".join(p for p in pieces if isinstance(p, str))
            calls.append({"id": call_id or f"call_{index}", "type": "function",
                          "function": {"name": name, "arguments": arguments}})
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        return {"object": "chat.completion", "choices": [choice]}
