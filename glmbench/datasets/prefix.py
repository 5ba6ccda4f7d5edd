"""The prefix cache hit rate a workload's prompts allow: what an ideal cache would serve, from the block ids alone."""

from __future__ import annotations

from collections.abc import Sequence

from glmbench.datasets.base import Sample

__all__ = ["predicted_prefix_hit"]


def predicted_prefix_hit(samples: Sequence[Sample], block_tokens: int) -> float | None:
    """The share of prompt tokens in blocks already sent earlier, as an infinite prefix cache would match them.

    Prompts are taken in order; each is split into its full blocks of
    ``block_tokens`` (a partial last block is never cached). A block hits only
    when it and every block before it in the same prompt were sent before, the
    way vLLM's and SGLang's prefix caches match: a block is known by its id
    and every id before it (their block hashes chain), so a shared block after
    a different one is a miss. As in vLLM, the block that holds a prompt's last
    token never hits (that token must be computed to sample the next one),
    though it is cached for later prompts. The share is of every prompt token,
    as vLLM counts its queries. Prompts without block ids share nothing. None
    when there are no prompt tokens.
    """
    seen: set[int] = set()
    hit = total = 0
    for sample in samples:
        total += sample.prompt_tokens
        chain, hitting = 0, True
        usable = (sample.prompt_tokens - 1) // block_tokens  # blocks wholly before the last token
        for i, block_id in enumerate(sample.block_ids[: sample.prompt_tokens // block_tokens]):
            chain = hash((chain, block_id))
            if hitting and i < usable and chain in seen:
                hit += block_tokens
            else:
                hitting = False
                seen.add(chain)
    return hit / total if total else None
