"""Synthetic prompt text built from token blocks: equal block ids give identical text, so a prefix cache can hit.

A block is a run of words drawn from a fixed corpus by a generator seeded with
the block's id, so the same id gives the same text in every prompt and every
run. The corpus keeps only words that the run's token counter counts as one
token alone and one more after another word: a block of ``n`` words is ``n``
tokens, with the served model's tokenizer as with the approximate count, and a
prompt is cut to its length by counting words.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cached_property

from glmbench.datasets.tokens import TokenCounter
from glmbench.errors import GlmbenchError

__all__ = ["BlockText"]

# Short, common words: most tokenizers hold each (with its leading space) as one token.
_CORPUS = (
    "the of and to in is for on that with as was at by be this from are or an it not have has had "
    "but all can one two three four five six seven eight nine ten new old big small good bad long short "
    "high low more less most many much some any each every other same such only own just also very well "
    "now then here there when where what which who how why yes no up down out over under again once "
    "time year day week month hour world life hand part place case point group number fact way home "
    "work play run walk talk read write think know see look find give take make come go get put keep "
    "model server token batch cache queue value answer state data line word page book table list file "
    "water light sound color river stone tree bird fish city road door room house field plan game "
    "red blue green black white gold silver north south east west left right first last next open close"
).split()
# Fewer usable words than this and blocks would repeat themselves too often to be told apart.
_MIN_WORDS = 32


class BlockText:
    """Text of token blocks for one token counter: blocks by id, and prompts of an exact token length."""

    def __init__(self, counter: TokenCounter, block_tokens: int, namespace: str = "") -> None:
        self.counter = counter
        self.block_tokens = block_tokens
        # Keeps the blocks of one dataset apart from another's (a trace's ids from a shared-prefix group's).
        self.namespace = namespace

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The corpus words that are exactly one token each, alone and after another word."""
        words = tuple(w for w in _CORPUS if self.counter.count(w) == 1 and self.counter.count(f"{w} {w}") == 2)
        if len(words) < _MIN_WORDS:
            raise GlmbenchError(
                f"the tokenizer {self.counter.name} splits too many common words to build prompts of exact lengths",
                "drop --tokenizer to use the approximate count",
            )
        return words

    def block(self, block_id: object, tokens: int | None = None) -> list[str]:
        """The words of block ``block_id``: the same list for the same id, ``tokens`` of them (default a whole block)."""
        rng = random.Random(f"{self.namespace}:{block_id}")
        return rng.choices(self.words, k=self.block_tokens if tokens is None else tokens)

    def prompt(self, block_ids: Sequence[object], tokens: int) -> str:
        """``tokens`` tokens of text: the blocks of ``block_ids`` in order, cut to length.

        Past the listed blocks the text goes on with blocks of its own
        (``(block_ids, k)``), so a prompt longer than its ids is still filled.
        """
        words: list[str] = []
        k = 0
        while len(words) < tokens:
            block_id = block_ids[k] if k < len(block_ids) else ("tail", tuple(block_ids), k)
            words.extend(self.block(block_id, min(self.block_tokens, tokens - len(words))))
            k += 1
        return " ".join(words)
