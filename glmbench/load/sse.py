"""Decode a streamed OpenAI response into what a record needs, one network read at a time.

The client takes the timestamp first, then feeds the read here. An SSE event
gets the timestamp of the read that completed it. The work per event is one
``orjson.loads`` and a few dict look-ups, so that decoding stays spread over
the run instead of piling up when many streams end together.
"""

from __future__ import annotations

import orjson

from glmbench.results.records import RequestRecord
from glmbench.util.text import one_line

__all__ = ["StreamError", "StreamDecoder"]


class StreamError(Exception):
    """The stream broke the protocol: a non-JSON chunk or an error event."""


_EMPTY: dict = {}


def _shown(payload: bytes) -> str:
    return repr(payload[:80].decode("utf-8", "replace"))


class StreamDecoder:
    """Fills ``record`` from the reads of one streamed response.

    A chunk is token-bearing when it carries content, reasoning or a tool-call
    delta, or when the server's cumulative ``completion_tokens`` grew (a
    byte-level token can stream as empty text). With continuous usage the
    tokens of each chunk are recorded too.
    """

    __slots__ = ("record", "chat", "finished", "_buf", "_last_count", "_counts_known")

    def __init__(self, record: RequestRecord, api: str) -> None:
        self.record = record
        self.chat = api == "chat"
        self.finished = False
        self._buf = b""
        self._last_count = 0
        self._counts_known = True

    def feed(self, ts: int, data: bytes) -> None:
        """Take one read; raises :class:`StreamError` on a protocol violation."""
        if not self._buf and data[:6] == b"data: " and data.find(b"\n\n") == len(data) - 2:
            self._event(ts, data[6:-2])  # the common case: exactly one whole event
            return
        buf = self._buf + data if self._buf else data
        if b"\r" in data:
            buf = buf.replace(b"\r\n", b"\n")
        start = 0
        while (cut := buf.find(b"\n\n", start)) >= 0:
            event = buf[start:cut]
            start = cut + 2
            if event.startswith(b"data:") and b"\n" not in event:
                self._event(ts, event[5:].strip())
            elif b"data:" in event:
                # Several lines: other fields (event:, id:, comments) may come first;
                # the data lines join with newlines, as the SSE spec says.
                self._event(ts, b"\n".join(
                    line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")))
        self._buf = buf[start:]

    def close(self, ts: int) -> bool:
        """End of body: decode a last event without its blank line; True if the stream ended properly."""
        tail = self._buf.strip()
        if tail.startswith(b"data:"):
            self._event(ts, tail[5:].strip())
        self._buf = b""
        record = self.record
        if not self._counts_known or len(record.chunk_tokens) != len(record.chunk_ns):
            record.chunk_tokens = []
        if record.output_tokens is None:
            record.output_tokens = len(record.chunk_ns)
            record.output_tokens_source = "chunks"
        return self.finished

    def _event(self, ts: int, payload: bytes) -> None:
        if payload == b"[DONE]":
            self.finished = True
            return
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise StreamError(f"non-JSON chunk: {_shown(payload)}") from None
        if type(obj) is not dict:
            raise StreamError(f"unexpected chunk: {_shown(payload)}")
        try:
            record = self.record
            if "error" in obj and obj["error"]:
                err = obj["error"]
                message = err.get("message", err) if isinstance(err, dict) else err
                raise StreamError(f"server error in stream: {one_line(message)}")
            if record.response_id is None:
                rid = obj.get("id")
                record.response_id = rid if isinstance(rid, str) else ""
            count = None
            usage = obj.get("usage")
            if usage:
                count = usage.get("completion_tokens")
                if type(count) is int:
                    record.output_tokens = count
                else:
                    count = None
                prompt = usage.get("prompt_tokens")
                if type(prompt) is int:
                    record.server_prompt_tokens = prompt
            choices = obj.get("choices")
            if not choices:
                return
            choice = choices[0]
            if choice.get("finish_reason"):
                self.finished = True
            if self.chat:
                delta = choice.get("delta") or _EMPTY
                answer = delta.get("content") or delta.get("tool_calls")
                reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            else:
                answer, reasoning = choice.get("text"), None
            grew = count is not None and count > self._last_count
            if not (answer or reasoning or grew):
                return
            record.chunk_ns.append(ts)
            if reasoning and record.first_reasoning_ns is None:
                record.first_reasoning_ns = ts
            if answer and record.first_content_ns is None:
                record.first_content_ns = ts
            if grew:
                record.chunk_tokens.append(count - self._last_count)
                self._last_count = count
            else:
                self._counts_known = False
        except (AttributeError, TypeError, IndexError, KeyError) as exc:
            # Valid JSON of the wrong shape (a list where an object belongs, ...): a protocol error too.
            raise StreamError(f"malformed chunk ({type(exc).__name__}): {_shown(payload)}") from None
