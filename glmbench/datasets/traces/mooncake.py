"""Mooncake's trace (JSON lines): ``timestamp`` in ms, ``input_length``, ``output_length``, ``hash_ids``.

Each hash id names one 512-token block of the prompt, in order; equal ids are
equal blocks (FAST'25 Mooncake traces, ``kvcache-ai/Mooncake``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from glmbench.datasets.traces.base import TraceRequest

__all__ = ["FORMAT", "MooncakeFormat"]


class MooncakeFormat:
    """Mooncake's JSONL trace."""

    name = "mooncake"
    block_tokens: int | None = 512

    def recognises(self, first_line: str) -> bool:
        try:
            record = orjson.loads(first_line)
        except orjson.JSONDecodeError:
            return False
        return isinstance(record, dict) and {"timestamp", "input_length", "output_length"} <= record.keys()

    def read(self, path: Path) -> Iterator[TraceRequest]:
        with path.open("rb") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                    hash_ids = tuple(int(h) for h in record.get("hash_ids") or ())
                    yield TraceRequest(round(float(record["timestamp"]) * 1e6), int(record["input_length"]),
                                       int(record["output_length"]), hash_ids)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise ValueError(f"line {line_no}: not a Mooncake record ({type(exc).__name__}: {exc})") from None


FORMAT = MooncakeFormat()
