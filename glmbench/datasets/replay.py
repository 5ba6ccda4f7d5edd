"""A request trace as benchmark samples: the trace's arrival times and lengths, prompts made to share as it says.

Each request becomes a prompt of its input length and ``max_tokens`` of its
output length, due at its time after the first request, divided by
``time_scale``. Where the trace names its prompt blocks (Mooncake's hash ids)
each id is one block of text (:class:`~glmbench.datasets.blocktext.BlockText`),
so requests that share ids share a token prefix; elsewhere each prompt is text
of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from glmbench.datasets.base import DatasetInfo, Sample
from glmbench.datasets.blocktext import BlockText
from glmbench.datasets.tokens import TokenCounter
from glmbench.datasets.traces.base import TraceFormat, TraceRequest
from glmbench.datasets.traces.registry import detect_trace_format, get_trace_format
from glmbench.errors import GlmbenchError

__all__ = ["TraceWindow", "trace_samples", "read_trace"]

# Blocks of text for a trace without block ids: the prompt is unique, the size only sets how text is drawn.
_TEXT_BLOCK = 512


@dataclass(frozen=True)
class TraceWindow:
    """Which requests of a trace to replay: seconds ``[start_s, end_s)`` after its first request, at most ``limit``."""

    start_s: float = 0.0
    end_s: float | None = None
    limit: int | None = None

    def select(self, requests: Iterable[TraceRequest]) -> tuple[list[TraceRequest], int]:
        """The requests in the window, in time order, and how many rows were read.

        A trace is read in file order, which published traces keep in time
        order: reading stops past the window's end or at ``limit`` requests.
        """
        kept: list[TraceRequest] = []
        origin: int | None = None
        read = 0
        for request in requests:
            read += 1
            origin = request.at_ns if origin is None else origin
            since_s = (request.at_ns - origin) / 1e9
            if self.end_s is not None and since_s >= self.end_s:
                break
            if since_s >= self.start_s:
                kept.append(request)
                if self.limit is not None and len(kept) >= self.limit:
                    break
        return sorted(kept, key=lambda r: r.at_ns), read


def _format(file: Path, name: str) -> TraceFormat:
    return detect_trace_format(file) if name == "auto" else get_trace_format(name)


def read_trace(path: str | Path, trace_format: str = "auto") -> tuple[TraceFormat, Iterator[TraceRequest]]:
    """The format of the trace at ``path`` (``auto``: told from its first line) and its requests as read."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise GlmbenchError(f"trace file not found: {file}", "check --trace-path (glmbench data sample-trace OUT "
                                                             "writes a small one to try)")
    fmt = _format(file, trace_format)
    return fmt, fmt.read(file)


def _sub_blocks(hash_ids: tuple[int, ...], per: int) -> tuple[int, ...]:
    """Each id split into ``per`` ids of its smaller blocks, still equal where the ids were equal."""
    if per == 1:
        return hash_ids
    return tuple(h * per + j for h in hash_ids for j in range(per))


def trace_samples(path: str, trace_format: str, time_scale: float, window: TraceWindow, counter: TokenCounter,
                  block_tokens: int | None = None) -> tuple[list[Sample], DatasetInfo]:
    """The requests of the trace at ``path`` within ``window`` as samples due at their own times / ``time_scale``.

    ``block_tokens`` is the block size of the predicted prefix hit rate (default
    the format's own); it must divide the format's block.
    """
    fmt, requests = read_trace(path, trace_format)
    file = Path(path).expanduser()
    try:
        kept, read = window.select(requests)
    except ValueError as exc:
        raise GlmbenchError(f"{file} is not a {fmt.name} trace: {exc}",
                            "check the file, or pass the right --trace-format") from None
    if not kept:
        raise GlmbenchError(f"no request of {file} lies in the window asked for ({read} rows read)",
                            "widen --trace-start/--trace-end, or check the file")
    native = fmt.block_tokens
    if native is not None:
        block_tokens = block_tokens or native
        if native % block_tokens:
            raise GlmbenchError(f"--prefix-block-tokens {block_tokens} does not divide the {fmt.name} trace's "
                                f"{native}-token blocks", f"use a divisor of {native}, such as 16 or {native}")
    text = BlockText(counter, native or _TEXT_BLOCK, namespace=f"trace:{fmt.name}")
    origin = kept[0].at_ns
    samples = []
    for i, request in enumerate(kept):
        ids = request.hash_ids
        prompt = text.prompt(ids if ids else [("unique", i)], max(1, request.input_tokens))
        block_ids = _sub_blocks(ids, native // block_tokens) if native and block_tokens and ids else ()
        samples.append(Sample(prompt, counter.count(prompt), max(1, request.output_tokens),
                              offset_ns=round((request.at_ns - origin) / time_scale), block_ids=block_ids))
    with file.open("rb") as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    info = DatasetInfo(
        name="trace",
        source=f"{fmt.name} trace: {file} (x{time_scale:g}, {len(samples)} requests from "
               f"{window.start_s:g} s{f' to {window.end_s:g} s' if window.end_s is not None else ''})",
        sha256=sha256,
        token_counter=counter.name,
        approximate_tokens=counter.approximate,
        records_read=read,
        arrivals=f"trace {file.name} x{time_scale:g}",
        prefix_block_tokens=block_tokens if native is not None else None,
    )
    return samples, info
