"""What every trace format yields: requests with their arrival time, token lengths and (some) block ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["TraceRequest", "TraceFormat"]


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """One request of a trace: when it arrived (ns on the trace's own clock) and its token lengths.

    ``hash_ids`` name the prompt's blocks of the format's ``block_tokens``
    tokens in order, equal ids being equal blocks (Mooncake's); empty when the
    trace does not say what prompts share.
    """

    at_ns: int
    input_tokens: int
    output_tokens: int
    hash_ids: tuple[int, ...] = ()


class TraceFormat(Protocol):
    """A trace file format: its name, whether a file is in it, and its requests.

    ``block_tokens`` is the size of the blocks its ``hash_ids`` name (None for a
    format without them). A module of :mod:`glmbench.datasets.traces` that
    defines ``FORMAT`` adds one; nothing else needs to change.
    """

    name: str
    block_tokens: int | None

    def recognises(self, first_line: str) -> bool:
        """True when a file starting with ``first_line`` (a header, or the first record) is in this format."""

    def read(self, path: Path) -> Iterator[TraceRequest]:
        """The file's requests in file order; a malformed one raises ValueError naming its line."""
