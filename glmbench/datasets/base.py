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
    """

    prompt: str
    prompt_tokens: int
    output_tokens: int
    later_turns: tuple[tuple[str, int], ...] = ()


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
