"""The simulator's prefix cache: vLLM's automatic prefix caching, in blocks of the prompt's token pieces.

A prompt is cut into full blocks of ``block_tokens`` pieces (a partial last
block is never cached); each block is known by a hash of its pieces chained
with the hash of the block before it, so equal blocks after different
prefixes are different blocks, as in vLLM. A request hits the leading run of
its blocks already cached, and never the block that holds its last token: the
server must compute at least that token to have its logits (vLLM's
``max_cache_hit_length = prompt length - 1``, SGLang's match limit alike).
Then every full block of the prompt is cached.

Capacity is in blocks, least recently used evicted first. A request's blocks
are touched last block first, so its first block is the freshest: a shared
prefix outlives the tails after it, as vLLM frees a request's blocks tail
first into its eviction queue.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

__all__ = ["PrefixCache"]

# Not a piece of any prompt: every piece is a word run or a punctuation mark, and this counts as whitespace.
_SEP = "\x1f"


class PrefixCache:
    """Block hashes, least recently used first; ``capacity`` blocks at most (0: unlimited)."""

    def __init__(self, block_tokens: int, capacity: int = 0) -> None:
        if block_tokens < 1:
            raise ValueError("block_tokens must be at least 1")
        self.block_tokens = block_tokens
        self.capacity = capacity
        self._blocks: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._blocks)

    def block_hashes(self, pieces: Sequence[str]) -> list[bytes]:
        """The chained hash of each full block of ``pieces``."""
        size, hashes, parent = self.block_tokens, [], b""
        for start in range(0, len(pieces) - size + 1, size):
            parent = hashlib.sha256(parent + _SEP.join(pieces[start:start + size]).encode()).digest()
            hashes.append(parent)
        return hashes

    def admit(self, pieces: Sequence[str]) -> int:
        """Look a prompt up and cache its blocks; returns its hit tokens (whole blocks)."""
        hashes = self.block_hashes(pieces)
        lookable = max(len(pieces) - 1, 0) // self.block_tokens
        hits = 0
        while hits < lookable and hashes[hits] in self._blocks:
            hits += 1
        blocks = self._blocks
        for h in reversed(hashes):
            blocks[h] = None
            blocks.move_to_end(h)
        while self.capacity and len(blocks) > self.capacity:
            blocks.popitem(last=False)
        return hits * self.block_tokens
