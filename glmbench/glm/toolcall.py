"""The glm47 tool-call format: parse ``<tool_call>`` blocks from a GLM reply, whole or streamed.

A call is ``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...</tool_call>``;
GLM-4.5/4.6 put a newline after the name and around each pair, and both layouts
parse. Values are typed back by the tool's JSON schema
(:class:`~glmbench.glm.arguments.ArgumentTyper`), so a string-typed zip code
``75001`` stays ``"75001"``.

A block that does not parse (a bad name, stray text between pairs, a missing
closing tag, a block longer than
:data:`~glmbench.glm.limits.MAX_CALL_TEXT_CHARS` or a name longer than
:data:`MAX_NAME_CHARS`) never raises: its raw text stays in the content and is
listed in ``malformed``. The stream and the whole-text parser are one implementation, so
they agree however the text is cut into deltas.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glmbench.glm.arguments import ArgumentTyper
from glmbench.glm.limits import MAX_CALL_TEXT_CHARS
from glmbench.glm.reasoning import ReasoningStream, partial_tag_len

__all__ = [
    "ContentDelta",
    "ReasoningDelta",
    "ToolCallStart",
    "ToolCallArgsDelta",
    "ToolCallEnd",
    "ToolCallMalformed",
    "ToolCallEvent",
    "ParsedMessage",
    "ToolCallStream",
    "parse_tool_calls",
    "MAX_NAME_CHARS",
]

_CALL_START, _CALL_END = "<tool_call>", "</tool_call>"
_KEY_START, _KEY_END = "<arg_key>", "</arg_key>"
_VALUE_START, _VALUE_END = "<arg_value>", "</arg_value>"

# Function names as tool lists spell them: letters, digits, _ - . : / (BFCL keeps dots).
_NAME_SO_FAR = re.compile(r"\s*[\w.:/-]*\s*")
_SPACE = re.compile(r"\s*")
# A block's closing tags must end by here (the buffer starts at the block): MAX_CALL_TEXT_CHARS and a tag.
_BLOCK_END = MAX_CALL_TEXT_CHARS + len(_CALL_END)

MAX_NAME_CHARS = 1024
"""The longest function name (spaces around it included) a block may have; OpenAI allows 64 characters."""


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """Answer text outside tool calls."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Reasoning text (only when the stream was made with ``thinking=True``)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """A call's name is complete; its arguments follow as :class:`ToolCallArgsDelta`."""

    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallArgsDelta:
    """The next piece of the call's JSON arguments, one argument at a time."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    """The call is complete; ``arguments`` is its whole JSON arguments string."""

    index: int
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallMalformed:
    """A ``<tool_call>`` block did not parse; ``text`` (its raw text so far) counts as content.

    ``index`` is the call it cancels when its start was already reported (the index
    is then reused by the next call), else None. The rest of the block follows as
    :class:`ContentDelta`.
    """

    index: int | None
    text: str


ToolCallEvent = ContentDelta | ReasoningDelta | ToolCallStart | ToolCallArgsDelta | ToolCallEnd | ToolCallMalformed
"""Anything :class:`ToolCallStream` reports."""


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A parsed reply in OpenAI shape.

    ``content`` and ``reasoning`` are stripped, None when empty; ``tool_calls``
    are ``{"id", "type": "function", "function": {"name", "arguments"}}`` dicts
    with JSON-string arguments; ``malformed`` lists the raw text of blocks that
    did not parse (they are part of ``content``).
    """

    content: str | None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)

    @property
    def is_malformed(self) -> bool:
        """True when some ``<tool_call>`` block did not parse."""
        return bool(self.malformed)


def parse_tool_calls(
    text: str, tools: Sequence[Mapping[str, Any]] | None = None, thinking: bool = False
) -> ParsedMessage:
    """Parse a whole reply; ``tools`` is the request's OpenAI tools list (used for typing).

    ``thinking=True`` when ``text`` is the raw reply after a thinking prompt: the
    reasoning is split off first (as :func:`~glmbench.glm.reasoning.split_reasoning`
    does). Leave it False for a server's already-split ``content``.
    """
    stream = ToolCallStream(tools, thinking=thinking)
    events = stream.feed(text) + stream.finish()
    content = "".join(e.text for e in events if isinstance(e, (ContentDelta, ToolCallMalformed))).strip()
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta)).strip()
    return ParsedMessage(content or None, reasoning or None, list(stream.tool_calls), list(stream.malformed))


_TEXT, _NAME, _KEY, _AFTER_KEY, _VALUE, _AFTER_VALUE, _SKIP = range(7)


class ToolCallStream:
    """Turns streamed reply text into content, reasoning and tool-call events.

    Call :meth:`feed` with each delta and :meth:`finish` once at the end. A call is
    reported when its name is complete, its arguments one whole argument at a time
    (a value's type may depend on all of it), and its end with the full arguments
    string, which equals the joined argument deltas. Nothing that may be part of a
    tag is reported until the tag is decided. After the stream, ``tool_calls`` and
    ``malformed`` hold what :func:`parse_tool_calls` returns.
    """

    def __init__(self, tools: Sequence[Mapping[str, Any]] | None = None, *, thinking: bool = False) -> None:
        self._typer = ArgumentTyper(tools)
        self._reasoning = ReasoningStream(True) if thinking else None
        self._buf = ""  # text not yet reported; inside a block, the block's whole raw text so far
        self._state = _TEXT
        self._pos = 0  # where the current state's text starts in _buf
        self._searched = 0  # _buf before this offset holds no closing tag (long values are scanned once)
        self._call: dict[str, Any] | None = None  # the call being read, once started
        self._skipped: list[str] = []  # raw text of the malformed block being skipped
        self.tool_calls: list[dict[str, Any]] = []
        """Completed calls, OpenAI shape."""
        self.malformed: list[str] = []
        """Raw text of each block that did not parse."""

    def feed(self, text: str) -> list[ToolCallEvent]:
        """Take one delta; returns the events it completes, in order."""
        events: list[ToolCallEvent] = []
        if self._reasoning is not None:
            reasoning, text = self._reasoning.feed(text)
            if reasoning:
                events.append(ReasoningDelta(reasoning))
        if text:
            self._buf += text
            self._run(events, final=False)
        return events

    def finish(self) -> list[ToolCallEvent]:
        """End of stream: report what was held back; an open block becomes malformed content."""
        events: list[ToolCallEvent] = []
        if self._reasoning is not None:
            reasoning, text = self._reasoning.finish()
            if reasoning:
                events.append(ReasoningDelta(reasoning))
            self._buf += text
        self._run(events, final=True)
        if self._state not in (_TEXT, _SKIP):
            self._abort(events, len(self._buf))
            self._run(events, final=True)
        return events

    # -- the state machine ------------------------------------------------------------

    def _run(self, events: list[ToolCallEvent], final: bool) -> None:
        step = {_TEXT: self._text, _NAME: self._name, _KEY: self._key, _AFTER_KEY: self._after_key,
                _VALUE: self._value, _AFTER_VALUE: self._after_value, _SKIP: self._skip}
        while step[self._state](events, final):
            pass

    def _text(self, events: list[ToolCallEvent], final: bool) -> bool:
        at = self._buf.find(_CALL_START)
        if at < 0:
            keep = 0 if final else partial_tag_len(self._buf, _CALL_START)
            self._emit_content(events, len(self._buf) - keep)
            return False
        self._emit_content(events, at)
        self._enter(_NAME, len(_CALL_START))
        return True

    def _name(self, events: list[ToolCallEvent], final: bool) -> bool:
        lt = self._buf.find("<", self._pos, self._pos + MAX_NAME_CHARS + 1)
        name = self._buf[self._pos:lt if lt >= 0 else self._pos + MAX_NAME_CHARS + 1]
        if len(name) > MAX_NAME_CHARS or not _NAME_SO_FAR.fullmatch(name):
            return self._abort(events, self._pos)  # prose after a stray "<tool_call>", not a name
        if lt < 0:
            return False
        tag = self._tag_at(lt, (_KEY_START, _CALL_END), final)
        if tag is None:
            return False
        if tag == "" or not name.strip():
            return self._abort(events, lt)
        self._call = {"index": len(self.tool_calls), "id": f"call_{uuid.uuid4().hex[:24]}",
                      "name": name.strip(), "args": {}, "json": []}
        events.append(ToolCallStart(self._call["index"], self._call["id"], self._call["name"]))
        if tag == _CALL_END:
            return self._end_call(events, lt + len(tag))
        self._enter(_KEY, lt + len(tag))
        return True

    def _key(self, events: list[ToolCallEvent], final: bool) -> bool:
        end = self._find_close(_KEY_END)
        if end is None:
            return self._too_long(events)
        if end[1] == _CALL_END:  # the block closes inside a key
            return self._abort(events, end[0] + len(_CALL_END), closed=True)
        assert self._call is not None  # _KEY is entered only once _name has started a call
        self._call["key"] = self._buf[self._pos:end[0]].strip()
        self._enter(_AFTER_KEY, end[0] + len(_KEY_END))
        return True

    def _after_key(self, events: list[ToolCallEvent], final: bool) -> bool:
        at = _skip_space(self._buf, self._pos)
        if at > MAX_CALL_TEXT_CHARS:
            return self._abort(events, self._pos)
        tag = self._tag_at(at, (_VALUE_START,), final)
        if tag is None:
            self._pos = at  # the spaces are read: not scanned again on the next delta
            return False
        if tag == "":
            return self._abort(events, at)
        self._enter(_VALUE, at + len(tag))
        return True

    def _value(self, events: list[ToolCallEvent], final: bool) -> bool:
        end = self._find_close(_VALUE_END)
        if end is None:
            return self._too_long(events)
        if end[1] == _CALL_END:  # the block closes inside a value
            return self._abort(events, end[0] + len(_CALL_END), closed=True)
        call = self._call
        assert call is not None  # _VALUE is entered only once _name has started a call
        key, value = call["key"], self._typer.decode(call["name"], call["key"], self._buf[self._pos:end[0]])
        call["args"][key] = value
        piece = ("{" if not call["json"] else ", ") + _dumps(key) + ": " + _dumps(value)
        call["json"].append(piece)
        events.append(ToolCallArgsDelta(call["index"], piece))
        self._enter(_AFTER_VALUE, end[0] + len(_VALUE_END))
        return True

    def _after_value(self, events: list[ToolCallEvent], final: bool) -> bool:
        at = _skip_space(self._buf, self._pos)
        if at > MAX_CALL_TEXT_CHARS:
            return self._abort(events, self._pos)
        tag = self._tag_at(at, (_KEY_START, _CALL_END), final)
        if tag is None:
            self._pos = at  # the spaces are read: not scanned again on the next delta
            return False
        if tag == "":
            return self._abort(events, at)
        if tag == _CALL_END:
            return self._end_call(events, at + len(tag))
        self._enter(_KEY, at + len(tag))
        return True

    def _skip(self, events: list[ToolCallEvent], final: bool) -> bool:
        # the rest of a malformed block, up to its "</tool_call>", is plain content
        at = self._buf.find(_CALL_END)
        if at < 0:
            keep = 0 if final else partial_tag_len(self._buf, _CALL_END)
            self._skipped.append(self._buf[:len(self._buf) - keep])
            self._emit_content(events, len(self._buf) - keep)
            if final:
                self._close_skip()
            return False
        self._skipped.append(self._buf[:at + len(_CALL_END)])
        self._emit_content(events, at + len(_CALL_END))
        self._close_skip()
        return True

    # -- helpers ------------------------------------------------------------------------

    def _enter(self, state: int, pos: int) -> None:
        self._state, self._pos, self._searched = state, pos, pos

    def _emit_content(self, events: list[ToolCallEvent], upto: int) -> None:
        if upto > 0:
            events.append(ContentDelta(self._buf[:upto]))
            self._buf = self._buf[upto:]

    def _tag_at(self, at: int, tags: tuple[str, ...], final: bool) -> str | None:
        """Which of ``tags`` starts at ``at``: the tag, None to wait for more text, "" for none."""
        rest = self._buf[at:]
        for tag in tags:
            if rest.startswith(tag):
                return tag
        if not final and any(tag.startswith(rest) for tag in tags):
            return None
        return ""

    def _find_close(self, tag: str) -> tuple[int, str] | None:
        """The first ``tag`` or ``</tool_call>`` from the current position, whichever comes first.

        None also when it is not within :data:`~glmbench.glm.limits.MAX_CALL_TEXT_CHARS` of the
        block's start (the buffer starts at the block): :meth:`_too_long` then ends the block.
        """
        start = max(self._pos, self._searched - len(_CALL_END))
        found = [(i, t) for t in (tag, _CALL_END) if (i := self._buf.find(t, start, _BLOCK_END)) >= 0]
        if not found:
            self._searched = min(len(self._buf), _BLOCK_END)
            return None
        return min(found)

    def _too_long(self, events: list[ToolCallEvent]) -> bool:
        """No closing tag yet: wait for more text, or, once no closing tag can end within the bound
        whatever text follows, end the block as malformed (so a stream and a whole text agree)."""
        if len(self._buf) < _BLOCK_END:
            return False
        return self._abort(events, self._pos)

    def _end_call(self, events: list[ToolCallEvent], upto: int) -> bool:
        call, self._call = self._call, None
        assert call is not None  # a call ends only after _name has started it
        closing = "}" if call["json"] else "{}"
        events.append(ToolCallArgsDelta(call["index"], closing))
        arguments = "".join(call["json"]) + closing
        events.append(ToolCallEnd(call["index"], arguments))
        self.tool_calls.append({"id": call["id"], "type": "function",
                                "function": {"name": call["name"], "arguments": arguments}})
        self._buf = self._buf[upto:]
        self._enter(_TEXT, 0)
        return True

    def _abort(self, events: list[ToolCallEvent], upto: int, closed: bool = False) -> bool:
        """The block does not parse: its text up to ``upto`` is content, and so is the rest of it.

        ``closed`` when ``upto`` is just past the block's ``</tool_call>``.
        """
        raw = self._buf[:upto]
        events.append(ToolCallMalformed(self._call["index"] if self._call else None, raw))
        self._call = None
        self._buf = self._buf[upto:]
        self._skipped = [raw]
        if closed:
            self._close_skip()
        else:
            self._enter(_SKIP, 0)
        return True

    def _close_skip(self) -> None:
        self.malformed.append("".join(self._skipped))
        self._skipped = []
        self._enter(_TEXT, 0)


def _skip_space(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
