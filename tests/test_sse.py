"""The SSE decoder on hand-written byte streams: splits, line endings, usage, reasoning, faults."""

from __future__ import annotations

import orjson
import pytest

from glmbench.load.sse import StreamDecoder, StreamError
from glmbench.results.records import RequestRecord


def event(obj) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else orjson.dumps(obj)) + b"\n\n"


def chat(content=None, reasoning=None, usage=None, finish=None, tool_calls=None, reasoning_key="reasoning") -> dict:
    delta = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta[reasoning_key] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    out = {"id": "r1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        out["usage"] = usage
    return out


def usage(completion: int, prompt: int = 7) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def decode(reads: list[tuple[int, bytes]], api: str = "chat") -> tuple[RequestRecord, bool]:
    record = RequestRecord(workload="w", index=0, prompt_tokens=7, max_tokens=10, due_ns=0)
    dec = StreamDecoder(record, api)
    for ts, data in reads:
        dec.feed(ts, data)
    return record, dec.close(reads[-1][0] + 1)


def test_one_event_per_read_with_continuous_usage():
    stream = [
        (10, event(chat(content="He", usage=usage(1)))),
        (20, event(chat(content="llo", usage=usage(2)))),
        (30, event(chat(content="", finish="stop", usage=usage(2)))),
        (31, event({"id": "r1", "choices": [], "usage": usage(2)})),
        (32, b"data: [DONE]\n\n"),
    ]
    r, finished = decode(stream)
    assert finished
    assert r.chunk_ns == [10, 20] and r.chunk_tokens == [1, 1]
    assert r.output_tokens == 2 and r.output_tokens_source == "usage"
    assert r.server_prompt_tokens == 7 and r.response_id == "r1"
    assert r.first_content_ns == 10 and r.first_reasoning_ns is None


def test_an_event_split_over_reads_gets_the_time_of_the_read_that_completed_it():
    whole = event(chat(content="Hi")) + event(chat(content=" there")) + b"data: [DONE]\n\n"
    r, finished = decode([(5, whole[:9]), (6, whole[9:30]), (9, whole[30:])])
    assert finished and r.chunk_ns == [9, 9]
    # No per-chunk usage: token counts per chunk are unknown, the total falls back to chunks.
    assert r.chunk_tokens == [] and r.output_tokens == 2 and r.output_tokens_source == "chunks"


def test_crlf_line_endings_and_multiline_data_fields():
    body = (b"data: " + orjson.dumps(chat(content="a")) + b"\r\n\r\n"
            + b'data: {"id": "r1", "choices": [{"delta":\ndata: {"content": "b"}, "finish_reason": null}]}\n\n'
            + b"data: [DONE]\r\n\r\n")
    r, finished = decode([(1, body)])
    assert finished and len(r.chunk_ns) == 2


def test_empty_text_chunk_counts_when_the_servers_token_count_grows():
    # vLLM can stream a byte-level token as "" while completion_tokens grows.
    stream = [
        (10, event(chat(content="x", usage=usage(1)))),
        (20, event(chat(content="", usage=usage(2)))),
        (30, event(chat(content="", usage=usage(2)))),  # keep-alive-like: nothing new
        (40, event(chat(content="y", finish="length", usage=usage(3)))),
    ]
    r, finished = decode(stream)
    assert finished and r.chunk_ns == [10, 20, 40] and r.chunk_tokens == [1, 1, 1]


def test_mtp_chunks_carry_several_tokens():
    stream = [(10, event(chat(content="abc", usage=usage(3)))), (20, event(chat(content="de", usage=usage(5), finish="stop")))]
    r, _ = decode(stream)
    assert r.chunk_tokens == [3, 2] and r.output_tokens == 5


@pytest.mark.parametrize("key", ["reasoning", "reasoning_content"])
def test_reasoning_then_answer_then_tool_call(key):
    call = [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}]
    stream = [
        (10, event(chat(reasoning="think", reasoning_key=key))),
        (20, event(chat(reasoning="ing", reasoning_key=key))),
        (30, event(chat(tool_calls=call))),
        (40, event(chat(content="done", finish="tool_calls"))),
    ]
    r, finished = decode(stream)
    assert finished and r.chunk_ns == [10, 20, 30, 40]
    assert r.first_reasoning_ns == 10 and r.first_content_ns == 30


def test_completions_api_reads_text():
    body = event({"id": "c", "choices": [{"index": 0, "text": "hi", "finish_reason": None}]})
    body += event({"id": "c", "choices": [{"index": 0, "text": "!", "finish_reason": "length"}]})
    r, finished = decode([(3, body)], api="completions")
    assert finished and r.chunk_ns == [3, 3] and r.first_content_ns == 3


def test_a_last_event_without_its_blank_line_is_still_read():
    r, finished = decode([(1, event(chat(content="a"))), (2, b"data: [DONE]")])
    assert finished


def test_stream_without_done_or_finish_reason_is_unfinished():
    r, finished = decode([(1, event(chat(content="a")))])
    assert not finished and r.chunk_ns == [1]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"data: {not json\n\n", "non-JSON chunk"),
        (b"data: [1, 2]\n\n", "unexpected chunk"),
        (event({"error": {"message": "CUDA out of memory", "code": 500}}), "server error in stream: CUDA out of memory"),
    ],
)
def test_protocol_violations_raise_stream_error(payload, message):
    record = RequestRecord(workload="w", index=0, prompt_tokens=1, max_tokens=1, due_ns=0)
    dec = StreamDecoder(record, "chat")
    with pytest.raises(StreamError, match=message):
        dec.feed(1, payload)


def test_comments_and_other_fields_are_ignored():
    body = b": keep-alive\n\nevent: message\ndata: " + orjson.dumps(chat(content="a", finish="stop")) + b"\n\n"
    r, finished = decode([(4, body)])
    assert finished and r.chunk_ns == [4]


def _lines(body: bytes, end: bytes) -> bytes:
    return body.replace(b"\n", end)


@pytest.mark.parametrize("end", [b"\r", b"\r\n"], ids=["bare-cr", "crlf"])
def test_every_legal_line_end_split_anywhere_reads_the_same(end):
    """A CR whose LF comes in the next read is one line end, not two (two would cut a multi-line event)."""
    body = _lines(b'data: {"id": "r1", "choices": [{"index": 0,\ndata: "delta": {"content": "a"}}]}\n\n'
                  + event(chat(content="b", finish="stop")) + b"data: [DONE]\n\n", end)
    for cut in range(1, len(body)):
        r, finished = decode([(1, body[:cut]), (2, body[cut:])])
        assert finished and len(r.chunk_ns) == 2, cut


def test_a_leading_byte_order_mark_is_dropped_even_split_over_reads():
    body = b"\xef\xbb\xbf" + event(chat(content="a", finish="stop")) + b"data: [DONE]\n\n"
    for cut in range(1, 5):
        r, finished = decode([(1, body[:cut]), (2, body[cut:])])
        assert finished and r.chunk_ns == [2], cut


def test_a_chunk_of_another_response_is_refused():
    """Two replies mixed on one connection: counting both would report another request's tokens as this one's."""
    other = {**chat(content="x"), "id": "r2"}
    record = RequestRecord(workload="w", index=0, prompt_tokens=1, max_tokens=1, due_ns=0)
    dec = StreamDecoder(record, "chat")
    dec.feed(1, event(chat(content="a")))
    with pytest.raises(StreamError, match="two responses in one stream"):
        dec.feed(2, event(other))


@pytest.mark.parametrize("tail", [b'data: {"id": "r1", "choi', b"data: " + b"x" * (10 << 20)],
                         ids=["torn", "10MB-unended"])
def test_a_torn_last_line_fails_the_stream_with_a_reason(tail):
    record = RequestRecord(workload="w", index=0, prompt_tokens=1, max_tokens=1, due_ns=0)
    dec = StreamDecoder(record, "chat")
    dec.feed(1, event(chat(content="a", finish="stop")))
    for i in range(0, len(tail), 1 << 16):
        dec.feed(2, tail[i:i + (1 << 16)])
    with pytest.raises(StreamError, match="the stream ended inside an event: non-JSON chunk"):
        dec.close(3)


def test_an_event_that_never_ends_is_refused_at_the_bound_not_buffered_on():
    from glmbench.load.sse import MAX_EVENT_BYTES

    record = RequestRecord(workload="w", index=0, prompt_tokens=1, max_tokens=1, due_ns=0)
    dec = StreamDecoder(record, "chat")
    piece = b"x" * (1 << 20)
    dec.feed(1, b"data: ")
    buffer = dec._buf
    with pytest.raises(StreamError, match="without an end"):
        for _ in range(MAX_EVENT_BYTES // len(piece) + 1):
            dec.feed(2, piece)
    # Each read of the long line was appended to the same buffer, not copied into a new one.
    assert dec._buf is buffer and len(buffer) > MAX_EVENT_BYTES
