"""Per-request records: raw monotonic nanoseconds and token counts, streamed to disk.

Every timestamp is ``time.perf_counter_ns()`` of the client process (the same
CLOCK_MONOTONIC the simulator uses, so both can be compared). A record is
written as soon as its request ends, so a crash or Ctrl-C keeps what finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

__all__ = ["RequestRecord", "RecordWriter", "read_records", "INTERRUPTED"]

INTERRUPTED = "interrupted before the stream ended"
"""The error of a request cut short by Ctrl-C (or the run stopping): it ended because the run did, not the server."""


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request.

    ``due_ns`` is when the schedule wanted it sent (an open-loop arrival, or for
    a capped loop the moment a slot was freed); ``send_ns`` is when the client
    issued the HTTP call and ``wire_ns`` when the request body was handed to the
    socket (after connecting and after any wait for the client's own event
    loop). Latencies run from ``start_ns``: the wire time when known, else the
    issue time. ``chunk_ns`` holds one timestamp per token-bearing chunk
    and ``chunk_tokens`` the tokens each carried when the server reported them
    (continuous usage), else it is empty. ``worker`` is the client process that
    sent it when several did (1..N), else 0.

    ``stamps`` says what the chunk times are: ``"kernel"``, the kernel's
    receive time of each read (``SO_TIMESTAMPNS``, on the monotonic clock), or
    ``"user"``, when the client's event loop got round to the read. With kernel
    stamps ``chunk_delay_ns`` holds, per chunk, how much later the client read
    it: its own delay, which no longer moves the figures.

    A function-calling request (a BFCL entry sent as traffic) also has
    ``first_tool_call_ns``, the first chunk of a tool call (a ``tool_calls``
    delta, or in a raw completion the chunk that opens ``<tool_call>``),
    ``tool_call_end_ns``, the chunk that completed the last call, and
    ``reasoning_tokens``, the tokens that came as reasoning; ``entry`` names
    the BFCL entry and ``step`` numbers a request within its conversation (from 0).
    These stay out of the stored line while they are None, as in every load run.
    """

    workload: str
    index: int
    prompt_tokens: int
    max_tokens: int
    due_ns: int
    send_ns: int = 0
    wire_ns: int = 0
    end_ns: int = 0
    chunk_ns: list[int] = field(default_factory=list)
    chunk_tokens: list[int] = field(default_factory=list)
    first_reasoning_ns: int | None = None
    first_content_ns: int | None = None
    output_tokens: int | None = None
    output_tokens_source: str = "usage"
    server_prompt_tokens: int | None = None
    ok: bool = False
    error: str | None = None
    http_status: int | None = None
    response_id: str | None = None
    worker: int = 0
    stamps: str = "user"
    chunk_delay_ns: list[int] = field(default_factory=list)
    first_tool_call_ns: int | None = None
    tool_call_end_ns: int | None = None
    reasoning_tokens: int | None = None
    entry: str | None = None
    step: int | None = None

    @property
    def start_ns(self) -> int:
        """When the request left: its wire time, else the time the call was issued."""
        return self.wire_ns or self.send_ns

    def to_json(self) -> bytes:
        data = {name: getattr(self, name) for name in _FIELDS}
        for name in _UNSET_LEFT_OUT:
            if data[name] is None:
                del data[name]
        return orjson.dumps(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_FIELDS = tuple(f.name for f in fields(RequestRecord))
# The function-calling fields: a load run's lines stay as they were without them.
_UNSET_LEFT_OUT = ("first_tool_call_ns", "tool_call_end_ns", "reasoning_tokens", "entry", "step")


class RecordWriter:
    """Appends records as JSON lines, one ``write`` system call each, so a crash loses at most the last.

    A failed write (a full disk, a removed folder) never raises into the load
    loop, which must go on returning concurrency slots and cancelling cleanly:
    the writer keeps the first error in ``error`` and counts the records it could
    not store in ``lost``; the run watches ``error`` and stops.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: OSError | None = None
        self.lost = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: RequestRecord) -> None:
        if self.error is not None or self._fd is None:
            self.lost += 1
            return
        data = memoryview(record.to_json() + b"\n")
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            self.error = exc
            self.lost += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: Path) -> Iterator[RequestRecord]:
    """Records from a JSONL file; a torn line (killed mid-write, a full disk) or a line that is no record is skipped."""
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
                if isinstance(data, dict):
                    yield RequestRecord.from_dict(data)
            except (orjson.JSONDecodeError, TypeError):
                continue
