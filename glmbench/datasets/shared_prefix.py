"""Groups of prompts that share a system prompt, as SGLang's ``generated-shared-prefix`` dataset makes them.

``num_groups`` system prompts of ``system_prompt_len`` tokens; each group has
``prompts_per_group`` prompts, its system prompt, a blank line and a question
of ``question_len`` tokens of its own; every reply ``output_len`` tokens.
SGLang's ``bench_serving`` builds the prompts group by group and then shuffles
them (``random.shuffle``); so does this, seeded, so a group's prompts arrive
spread over the run rather than one after another. Text is words of a fixed
corpus (:mod:`glmbench.datasets.blocktext`) where SGLang decodes random token ids.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from glmbench.datasets.base import DatasetInfo, Sample
from glmbench.datasets.blocktext import BlockText
from glmbench.datasets.tokens import TokenCounter

__all__ = ["SharedPrefixShape", "shared_prefix_samples", "SEPARATOR", "DEFAULT_BLOCK_TOKENS"]

# Between the system prompt and the question, as SGLang joins them.
SEPARATOR = "\n\n"
# vLLM's KV cache block: the unit its prefix cache matches.
DEFAULT_BLOCK_TOKENS = 16


@dataclass(frozen=True)
class SharedPrefixShape:
    """The five numbers of SGLang's ``--gsp-*`` options, with its defaults; lengths in tokens."""

    num_groups: int = 64
    prompts_per_group: int = 16
    system_prompt_len: int = 2048
    question_len: int = 128
    output_len: int = 256

    def describe(self) -> str:
        """One line for the manifest: ``64 groups x 16 prompts, system prompt 2048, ...``."""
        return (f"{self.num_groups} groups x {self.prompts_per_group} prompts, system prompt {self.system_prompt_len}, "
                f"question {self.question_len}, output {self.output_len} tokens")


def shared_prefix_samples(shape: SharedPrefixShape, count: int, seed: int, counter: TokenCounter,
                          block_tokens: int = DEFAULT_BLOCK_TOKENS) -> tuple[list[Sample], DatasetInfo]:
    """The first ``count`` prompts of the seeded shuffle (all ``num_groups x prompts_per_group`` at most).

    Each sample's block ids (blocks of ``block_tokens``, for the predicted
    prefix hit rate) are its group's for the blocks wholly inside the system
    prompt, and its own after.
    """
    text = BlockText(counter, 512, namespace=f"shared-prefix:{seed}")
    ids = itertools.count()
    shared_blocks = shape.system_prompt_len // block_tokens
    samples = []
    for group in range(shape.num_groups):
        system = text.prompt([("system", group)], shape.system_prompt_len)
        group_ids = tuple(next(ids) for _ in range(shared_blocks))
        for member in range(shape.prompts_per_group):
            question = text.prompt([("question", group, member)], shape.question_len)
            prompt = system + SEPARATOR + question
            tokens = counter.count(prompt)
            own = tuple(next(ids) for _ in range(max(0, tokens // block_tokens - shared_blocks)))
            samples.append(Sample(prompt, tokens, shape.output_len, block_ids=group_ids + own))
    random.Random(seed).shuffle(samples)
    samples = samples[:count]
    info = DatasetInfo(
        name="shared-prefix",
        source=f"synthetic: {shape.describe()}",
        sha256=None,
        token_counter=counter.name,
        approximate_tokens=counter.approximate,
        records_read=len(samples),
        prefix_block_tokens=block_tokens,
    )
    return samples, info
