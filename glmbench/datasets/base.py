"""What every dataset produces: prompts with their token lengths."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Sample", "DatasetInfo"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One benchmark request before it is sent.

    ``output_tokens`` becomes ``max_tokens`` (with ``ignore_eos``), as in the
    field's ShareGPT convention. A chat session's sample (dataset ``sessions``)
    also has its later turns: each user message and the tokens its reply may
    have (the recorded reply's length), the first turn being ``prompt``.

    A replayed trace's sample has ``offset_ns``, when it is due after the
    first request (the trace's own time, scaled); a schedule keeps those
    instead of a rate. ``block_ids`` name the prompt's token blocks in order,
    equal ids being equal text, for the predicted prefix hit rate
    (:mod:`glmbench.datasets.prefix`).
    """

    prompt: str
    prompt_tokens: int
    output_tokens: int
    later_turns: tuple[tuple[str, int], ...] = ()
    offset_ns: int | None = None
    block_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """Where the samples came from, recorded in the run manifest."""

    name: str
    source: str
    sha256: str | None
    token_counter: str
    approximate_tokens: bool
    records_read: int
    truncated: bool = False
    # A dataset that brings its own arrival times says so for tables ("trace FILE x2").
    arrivals: str | None = None
    # The block size (tokens) of the samples' block_ids, when they have some: the predicted prefix hit rate's.
    prefix_block_tokens: int | None = None
