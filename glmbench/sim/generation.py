"""One simulated request: how many tokens, which are reasoning, and the bytes each chunk is made of.

:class:`Generation` draws the plan and knows nothing of the wire;
:class:`OpenAIGeneration` writes it as OpenAI chat or text completion chunks,
shaped by a :class:`StreamStyle` (the dialect: reasoning field, role chunk,
one event per token or per step, usage policy), with vLLM's ``logprobs`` when
the request asks. The words come from :mod:`glmbench.sim.outputs` (a
placeholder cycle, or a function of the prompt). :class:`ScriptedGeneration`
replies with an answer book's reply instead of placeholder words, token piece
by token piece, with tool calls as vLLM streams them. A backend's native API
subclasses :class:`Generation` in its dialect module.
"""

from __future__ import annotations

import random
import re
import time
from itertools import accumulate
from typing import Any, Protocol

import orjson

from glmbench.sim.answers import REASONING, Reply
from glmbench.sim.config import SimConfig
from glmbench.sim.outputs import MAX_TOP_LOGPROBS, WORDS, CycleTokens, PromptTokens, Tokens

__all__ = ["Generation", "OpenAIGeneration", "ScriptedGeneration", "StreamStyle", "count_tokens", "openai_prompt",
           "prompt_pieces", "requested_logprobs", "token_pieces", "WORDS"]

_PIECE = re.compile(r"\w{1,5}|[^\w\s]")
# Lossless: every character belongs to a piece, spaces to the piece after them (or a last piece of their own).
# About 4 characters a piece on BFCL's answers, as a real tokenizer on English and JSON: words of up to eight
# characters, punctuation in runs of up to four ('{"', ']]]]'), so deeply nested JSON is not a token per bracket.
_TOKEN_PIECE = re.compile(r"\s*(?:\w{1,8}|[^\w\s]{1,4})|\s+")


def count_tokens(text: str) -> int:
    """A tokenizer-free token count: runs of up to five word characters, and each punctuation mark."""
    return len(_PIECE.findall(text))


def prompt_pieces(text: str) -> list[str]:
    """The prompt's tokens as :func:`count_tokens` counts them (whitespace dropped): what the prefix cache hashes."""
    return _PIECE.findall(text)


def token_pieces(text: str) -> list[str]:
    """``text`` cut into token-sized pieces that join back to it exactly."""
    return _TOKEN_PIECE.findall(text)


def openai_prompt(body: dict[str, Any], chat: bool) -> str:
    """The prompt text of an OpenAI request (all message contents, for chat)."""
    if not chat:
        prompt = body.get("prompt", "")
        return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
    parts = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def requested_logprobs(body: dict[str, Any], chat: bool) -> int | None:
    """How many top candidates per token the request asks for, or None for no logprobs.

    Completions: ``"logprobs": k``. Chat: ``"logprobs": true`` with
    ``"top_logprobs": k`` (0 when absent). Raises ValueError, with the message
    for the client, on a value vLLM would refuse.
    """
    if chat:
        if body.get("logprobs") is not True:
            return None
        name, value = "top_logprobs", body.get("top_logprobs") or 0
    else:
        name, value = "logprobs", body.get("logprobs")
        if value is None or value is False:
            return None
    if not isinstance(value, int) or not 0 <= value <= MAX_TOP_LOGPROBS:
        raise ValueError(f"'{name}' must be an integer from 0 to {MAX_TOP_LOGPROBS}")
    return int(value)


class StreamStyle(Protocol):
    """How a backend shapes an OpenAI-compatible stream (each dialect is one)."""

    reasoning_field: str
    role_chunk: bool  # a role-only chunk (content "") goes out with the first token
    per_token_events: bool  # one SSE event per token, so an MTP step is a burst of events

    def usage_policy(self, stream_options: dict[str, Any]) -> tuple[bool, bool]:
        """(final usage chunk, usage on every chunk) for a request's ``stream_options``."""
        ...

    def usage(self, prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
        """The ``usage`` object."""
        ...


class Generation:
    """A request's plan: prompt and output token counts, the words, the reasoning prefix, finish reason, id.

    With ``outputs: by-prompt`` the words and length are a function of
    ``prompt`` (the prompt text), diverged per the config's ``diverge`` specs
    given ``in_flight`` (the requests the server held at receipt, itself
    included). Subclasses turn the plan into bytes: :meth:`chunk` for the
    tokens of one decode step, :meth:`tail` after the last one,
    :meth:`response` unstreamed.
    """

    chat = False
    # The chance each draft token is accepted for this reply; None: the server's spec_accept.
    spec_accept: float | None = None

    def __init__(self, cfg: SimConfig, rng: random.Random, seq: int, *, prompt_tokens: int,
                 max_tokens: Any, ignore_eos: bool, reasoning: bool, stream: bool, id_prefix: str,
                 model: str, prompt: str = "", in_flight: int = 1) -> None:
        self.prompt_tokens = prompt_tokens
        self.prompt = prompt
        self.max_tokens = cfg.default_max_tokens if max_tokens is None else int(max_tokens)
        self.by_prompt = cfg.outputs == "by-prompt"
        self.diverged_at: int | None = None
        self.tokens: Tokens
        if self.by_prompt:
            plan = PromptTokens(cfg, prompt, max(self.max_tokens, 1), ignore_eos, in_flight)
            self.tokens, self.output_tokens, self.diverged_at = plan, plan.length, plan.diverged_at
        else:
            self.tokens = CycleTokens(cfg.logprob_margin)
            if ignore_eos:
                self.output_tokens = self.max_tokens
            else:
                self.output_tokens = max(1, round(self.max_tokens * rng.uniform(0.5, 1.0)))
        self.finish_reason = "length" if self.output_tokens == self.max_tokens else "stop"
        self.reasoning = min(cfg.reasoning_tokens, self.output_tokens - 1) if reasoning else 0
        self.stream = stream
        self.id = f"{id_prefix}-sim{seq}"
        self.model = model
        self.created = int(time.time())

    def words(self, start: int, end: int) -> str:
        """The words of tokens ``start .. end``, joined."""
        return self.tokens.text(start, end)

    def chunk(self, start: int, count: int) -> bytes:
        raise NotImplementedError

    def intent(self) -> dict[str, Any]:
        """What the reply meant, for the truth log (a scripted reply's key and rightness); nothing for words."""
        return {}

    def truth_fields(self) -> dict[str, Any]:
        """What the truth log adds for this reply: its intent, and ``diverged_at`` with ``outputs: by-prompt``."""
        intent = self.intent()
        return {**intent, "diverged_at": self.diverged_at} if self.by_prompt else intent

    def tail(self) -> bytes:
        return b""

    def response(self) -> dict[str, Any]:
        raise NotImplementedError


class OpenAIGeneration(Generation):
    """A chat or text completion, streamed as ``data: {json}`` events in the dialect's style.

    With ``top_logprobs`` (from :func:`requested_logprobs`), each choice carries
    vLLM's ``logprobs`` for its tokens: completions ``{"text_offset",
    "token_logprobs", "tokens", "top_logprobs": [{word: logprob}]}``, chat
    ``{"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token",
    "logprob", "bytes"}]}]}``. Reasoning tokens are listed in the same
    ``content`` list as the answer's, in order, so every output token has its
    entry.
    """

    def __init__(self, cfg: SimConfig, rng: random.Random, seq: int, body: dict[str, Any], chat: bool,
                 style: StreamStyle, *, in_flight: int = 1, top_logprobs: int | None = None) -> None:
        limit = body.get("max_completion_tokens")
        if limit is None:
            limit = body.get("max_tokens")
        prompt = openai_prompt(body, chat)
        super().__init__(cfg, rng, seq, prompt_tokens=count_tokens(prompt), max_tokens=limit,
                         ignore_eos=bool(body.get("ignore_eos")), reasoning=chat, stream=bool(body.get("stream")),
                         id_prefix="chatcmpl" if chat else "cmpl", model=body.get("model") or cfg.model,
                         prompt=prompt, in_flight=in_flight)
        self.chat = chat
        self.top_logprobs = top_logprobs
        self._offsets: list[int] | None = None
        self.style = style
        self.include_usage, self.continuous_usage = style.usage_policy(body.get("stream_options") or {})
        head = {"id": self.id, "object": "chat.completion.chunk" if chat else "text_completion",
                "created": self.created, "model": self.model}
        self._frame = b"data: " + orjson.dumps(head)[:-1] + b',"choices":['

    def usage(self, completion: int) -> dict[str, Any]:
        return self.style.usage(self.prompt_tokens, completion, min(self.reasoning, completion))

    def delta(self, start: int, end: int) -> dict[str, Any]:
        """The chat delta of tokens ``start .. end``: reasoning words, then content words."""
        words = self.tokens.words(start, end)
        field = self.style.reasoning_field
        if end <= self.reasoning:
            return {field: "".join(words)}
        if start < self.reasoning:
            cut = self.reasoning - start
            return {field: "".join(words[:cut]), "content": "".join(words[cut:])}
        return {"content": "".join(words)}

    def text(self, start: int, end: int) -> str:
        """The completion text of tokens ``start .. end``."""
        return self.words(start, end)

    def logprobs(self, start: int, end: int) -> dict[str, Any]:
        """vLLM's ``logprobs`` object for tokens ``start .. end``."""
        k = self.top_logprobs or 0
        ranked = [self.tokens.ranked(i, max(k, 1)) for i in range(start, end)]
        if self.chat:
            return {"content": [{"token": top[0][0], "logprob": top[0][1], "bytes": list(top[0][0].encode()),
                                 "top_logprobs": [{"token": w, "logprob": lp, "bytes": list(w.encode())}
                                                  for w, lp in top[:k]]} for top in ranked]}
        if self._offsets is None:
            # Offsets count from the start of the output, as vLLM's do across a stream's chunks.
            self._offsets = list(accumulate((len(w) for w in self.tokens.words(0, self.output_tokens)), initial=0))
        return {"text_offset": self._offsets[start:end], "token_logprobs": [top[0][1] for top in ranked],
                "tokens": [top[0][0] for top in ranked], "top_logprobs": [dict(top) for top in ranked]}

    def _event(self, start: int, count: int, role: bool) -> bytes:
        """The event for tokens ``start .. start+count`` (bytes spliced into a cached frame)."""
        end = start + count
        last = end >= self.output_tokens
        if self.chat:
            delta = self.delta(start, end)
            if role:
                delta["role"] = "assistant"
            body = b'{"index":0,"delta":' + orjson.dumps(delta)
        else:
            body = b'{"index":0,"text":' + orjson.dumps(self.text(start, end))
        if self.top_logprobs is not None:
            body += b',"logprobs":' + orjson.dumps(self.logprobs(start, end))
        body += b',"finish_reason":"%b"}]' % self.finish_reason.encode() if last else b',"finish_reason":null}]'
        if self.continuous_usage:
            body += b',"usage":' + orjson.dumps(self.usage(end))
        return self._frame + body + b"}\n\n"

    def chunk(self, start: int, count: int) -> bytes:
        """What one decode step writes: one event, or one per token in a per-token dialect."""
        style = self.style
        first = start == 0 and self.chat
        lead = b""
        if first and style.role_chunk:
            lead = self._frame + b'{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
        if style.per_token_events and count > 1:
            return lead + b"".join(self._event(i, 1, first and i == start and not style.role_chunk)
                                   for i in range(start, start + count))
        return lead + self._event(start, count, first and not style.role_chunk)

    def usage_chunk(self) -> bytes:
        obj: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk" if self.chat else "text_completion",
               "created": self.created, "model": self.model, "choices": [], "usage": self.usage(self.output_tokens)}
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def tail(self) -> bytes:
        return (self.usage_chunk() if self.include_usage else b"") + b"data: [DONE]\n\n"

    def response(self) -> dict[str, Any]:
        text = self.words(0, self.output_tokens)
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if self.reasoning:
                message = {"role": "assistant", self.style.reasoning_field: self.words(0, self.reasoning),
                           "content": self.words(self.reasoning, self.output_tokens)}
            choice: dict[str, Any] = {"index": 0, "message": message}
        else:
            choice = {"index": 0, "text": text}
        if self.top_logprobs is not None:
            choice["logprobs"] = self.logprobs(0, self.output_tokens)
        choice["finish_reason"] = self.finish_reason
        return {"id": self.id, "object": "chat.completion" if self.chat else "text_completion",
                "created": self.created, "model": self.model, "choices": [choice],
                "usage": self.usage(self.output_tokens)}


class ScriptedGeneration(OpenAIGeneration):
    """An answer book's reply, planned as token pieces instead of placeholder words.

    Chat: the reasoning (unless ``chat_template_kwargs.enable_thinking`` is
    false) in the dialect's reasoning field, the answer's content, then per
    call a first piece that opens it (``index``, ``id``, ``type``, ``name``,
    empty ``arguments``) and its JSON arguments in pieces, each tool_calls
    entry carrying only ``index`` and ``function.arguments``, as vLLM streams
    them; the end is ``tool_calls`` (``stop`` without calls). Completions: the
    GLM-4.7 text of the reply in pieces. A stream with more pieces than
    ``max_tokens`` is cut there, ending ``length``. Unstreamed, all the pieces
    make the message whatever ``max_tokens`` says, as unstreamed scripted
    replies always have. No logprobs, and never a divergence.
    """

    def __init__(self, cfg: SimConfig, rng: random.Random, seq: int, body: dict[str, Any], chat: bool,
                 style: StreamStyle, reply: Reply, *, in_flight: int = 1) -> None:
        super().__init__(cfg, rng, seq, body, chat, style, in_flight=in_flight)
        self.reply = reply
        self.diverged_at = None  # the book's reply, never the prompt's words
        self.seq = seq
        self.spec_accept = cfg.spec_accept_answers
        answer = reply.answer
        # (field, text, call): field is the reasoning field, "content", "text", "name" or "arguments".
        self.pieces: list[tuple[str, str, int]] = []
        self.reasoning = 0
        if not chat:
            self.pieces += [("text", t, -1) for t in token_pieces(answer.glm_text())]
        else:
            kwargs = body.get("chat_template_kwargs")
            if not isinstance(kwargs, dict) or kwargs.get("enable_thinking") is not False:
                self.pieces += [(style.reasoning_field, t, -1) for t in token_pieces(REASONING)]
                self.reasoning = len(self.pieces)
            self.pieces += [("content", t, -1) for t in token_pieces(answer.content or "")]
            for i, (name, arguments) in enumerate(answer.calls_json()):
                self.pieces.append(("name", name, i))
                self.pieces += [("arguments", t, i) for t in token_pieces(arguments)]
        self.pieces = self.pieces or [("content", "", -1)]  # nothing to say still ends with one (empty) token
        self.output_tokens = min(len(self.pieces), self.max_tokens) if self.stream else len(self.pieces)
        if len(self.pieces) > self.output_tokens:
            self.finish_reason = "length"
        else:
            self.finish_reason = "tool_calls" if chat and answer.tool_calls else "stop"

    def intent(self) -> dict[str, Any]:
        return self.reply.intent()

    def delta(self, start: int, end: int) -> dict[str, Any]:
        """The pieces ``start .. end`` as one delta; pieces of the same call merge into one tool_calls entry."""
        delta: dict[str, Any] = {}
        calls: list[dict[str, Any]] = []
        for field, text, call in self.pieces[start:end]:
            if field == "name":
                calls.append({"index": call, "id": f"call_sim{self.seq}_{call}", "type": "function",
                              "function": {"name": text, "arguments": ""}})
            elif field == "arguments":
                if calls and calls[-1]["index"] == call:
                    calls[-1]["function"]["arguments"] += text
                else:
                    calls.append({"index": call, "function": {"arguments": text}})
            else:
                delta[field] = delta.get(field, "") + text
        if calls:
            delta["tool_calls"] = calls
        return delta

    def text(self, start: int, end: int) -> str:
        return "".join(text for _, text, _ in self.pieces[start:end])

    def response(self) -> dict[str, Any]:
        if self.chat:
            whole = self.delta(0, self.output_tokens)
            message: dict[str, Any] = {"role": "assistant", "content": whole.get("content")}
            if self.reasoning:
                message[self.style.reasoning_field] = whole.get(self.style.reasoning_field)
            if calls := whole.get("tool_calls"):
                message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
            choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        else:
            choice = {"index": 0, "text": self.text(0, self.output_tokens), "finish_reason": self.finish_reason}
        return {"id": self.id, "object": "chat.completion" if self.chat else "text_completion",
                "created": self.created, "model": self.model, "choices": [choice],
                "usage": self.usage(self.output_tokens)}
