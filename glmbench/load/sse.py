"""Decode a streamed OpenAI response into what a record needs, one network read at a time.

The client takes the timestamp first, then feeds the read here. An SSE event
gets the timestamp of the read that completed it. The work per event is one
``orjson.loads`` and a few dict look-ups, so that decoding stays spread over
the run instead of piling up when many streams end together.
"""

from __future__ import annotations

import orjson

from glmbench.load.reply import Reply, ReplyError
from glmbench.results.records import RequestRecord
from glmbench.util.text import one_line

__all__ = ["StreamError", "StreamDecoder"]


class StreamError(Exception):
    """The stream broke the protocol: a non-JSON chunk or an error event."""


_EMPTY: dict = {}
_BOM = b"\xef\xbb\xbf"
# No token chunk comes near this; past it an unended event is a broken stream, not one to buffer on.
MAX_EVENT_BYTES = 64 << 20


def _shown(payload: bytes) -> str:
    return repr(payload[:80].decode("utf-8", "replace"))


class StreamDecoder:
    """Fills ``record`` from the reads of one streamed response.

    A chunk is token-bearing when it carries content, reasoning or a tool-call
    delta, or when the server's cumulative ``completion_tokens`` grew (a
    byte-level token can stream as empty text). With continuous usage the
    tokens of each chunk are recorded too.

    Lines end as the SSE spec allows (LF, CRLF or a bare CR, a pair possibly
    split between two reads); an event may carry several ``data:`` lines, which
    join with newlines; one leading byte-order mark is dropped. A chunk whose
    ``id`` differs from the stream's first is refused: two responses were
    mixed on one connection, and counting both would report wrong tokens.

    Given a :class:`~glmbench.load.reply.Reply`, the decoder also hands it
    every choice, so that what was said (reasoning, text, tool calls) is kept
    beside the timing; the record then gets the times of the first and the
    completed tool call and the reasoning tokens.
    """

    __slots__ = ("record", "chat", "finished", "reply", "_buf", "_scan", "_cr", "_started", "_last_count",
                 "_counts_known")

    def __init__(self, record: RequestRecord, api: str, reply: Reply | None = None) -> None:
        self.record = record
        self.chat = api == "chat"
        self.reply = reply
        self.finished = False
        self._buf = bytearray()
        self._scan = 0  # where the search for the next blank line resumes
        self._cr = False  # the last read ended on a CR whose LF may open the next one
        self._started = False  # past the place where a byte-order mark may stand
        self._last_count = 0
        self._counts_known = True

    def feed(self, ts: int, data: bytes) -> None:
        """Take one read; raises :class:`StreamError` on a protocol violation."""
        if not self._started:
            data = self._skip_bom(data)
            if not data:
                return
        buf = self._buf
        if not buf and not self._cr and data[:6] == b"data: " and data.find(b"\n") == len(data) - 2 \
                and data[-1:] == b"\n" and b"\r" not in data:
            self._event(ts, data[6:-2])  # the common case: exactly one whole single-line event
            return
        if self._cr and data[:1] == b"\n":
            data = data[1:]  # the LF of a CRLF pair the last read began
        self._cr = data[-1:] == b"\r"
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf += data
        start = 0
        while (cut := buf.find(b"\n\n", self._scan)) >= 0:
            self._dispatch(ts, bytes(buf[start:cut]))
            start = self._scan = cut + 2
        if start:
            del buf[:start]
        if len(buf) > MAX_EVENT_BYTES:
            raise StreamError(f"an event of over {MAX_EVENT_BYTES >> 20} MiB without an end: "
                              f"{_shown(bytes(buf[:80]))}")
        # An unfinished event is not searched again from its start on the next read.
        self._scan = max(len(buf) - 1, 0)

    def close(self, ts: int) -> bool:
        """End of body: decode a last event without its blank line; True if the stream ended properly.

        Raises :class:`StreamError` when that last event is not a whole chunk
        (a torn last line).
        """
        tail = bytes(self._buf).strip()
        self._buf = bytearray()
        if tail:
            try:
                self._dispatch(ts, tail)
            except StreamError as exc:
                raise StreamError(f"the stream ended inside an event: {exc}") from None
        record = self.record
        if not self._counts_known or len(record.chunk_tokens) != len(record.chunk_ns):
            record.chunk_tokens = []
        if record.output_tokens is None:
            record.output_tokens = len(record.chunk_ns)
            record.output_tokens_source = "chunks"
        if self.reply is not None:
            record.first_tool_call_ns, record.tool_call_end_ns = self.reply.first_call_ns, self.reply.call_end_ns
        return self.finished

    def _skip_bom(self, data: bytes) -> bytes:
        """Drop one leading UTF-8 byte-order mark, even when it comes split over reads."""
        head = bytes(self._buf) + data
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._buf = bytearray(head)  # too short to tell yet
            return b""
        self._buf = bytearray()
        self._started = True
        return head[len(_BOM):] if head.startswith(_BOM) else head

    def _dispatch(self, ts: int, event: bytes) -> None:
        if event.startswith(b"data:") and b"\n" not in event:
            self._event(ts, event[5:].strip())
        elif b"data" in event:
            # Several lines: other fields (event:, id:, comments) may come first;
            # the data lines join with newlines, as the SSE spec says.
            lines = [line[5:].strip() if line.startswith(b"data:") else b""
                     for line in event.split(b"\n") if line.startswith(b"data:") or line == b"data"]
            if lines:
                self._event(ts, b"\n".join(lines))

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
            rid = obj.get("id")
            if record.response_id is None:
                record.response_id = rid if isinstance(rid, str) else ""
            elif rid != record.response_id and rid and record.response_id and isinstance(rid, str):
                raise StreamError(f"two responses in one stream: chunk id {_shown(rid.encode())} after "
                                  f"{_shown(record.response_id.encode())} (a proxy or server mixed replies)")
            count = -1  # no usage count in this chunk: never counts as growth
            usage = obj.get("usage")
            if usage:
                reported = usage.get("completion_tokens")
                if type(reported) is int:
                    record.output_tokens = count = reported
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
                delta, answer, reasoning = None, choice.get("text"), None
            if self.reply is not None:
                self._collect(ts, choice, delta, bool(reasoning and not answer), count)
            grew = count > self._last_count
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
        except ReplyError as exc:
            raise StreamError(f"unusable reply: {exc}") from None
        except (AttributeError, TypeError, IndexError, KeyError) as exc:
            # Valid JSON of the wrong shape (a list where an object belongs, ...): a protocol error too.
            raise StreamError(f"malformed chunk ({type(exc).__name__}): {_shown(payload)}") from None

    def _collect(self, ts: int, choice: dict, delta: dict | None, reasoning_only: bool, count: int) -> None:
        """Hand the choice to the reply; count a chunk of reasoning alone as reasoning tokens."""
        assert self.reply is not None
        self.reply.take(ts, choice, delta)
        if reasoning_only:
            record = self.record
            record.reasoning_tokens = (record.reasoning_tokens or 0) + (
                count - self._last_count if count > self._last_count else 1)
