"""Counting tokens: the served model's tokenizer when one is on disk, else an estimate.

The estimate is labelled approximate in the manifest and the tables: ShareGPT
filtering and ``max_tokens`` then differ from a run that used the real tokenizer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from glmbench.errors import GlmbenchError

__all__ = ["TokenCounter", "ApproxCounter", "HFTokenizerCounter", "make_counter", "approximate_effect"]

# Datasets of recorded conversations: a length filter picks their prompts and each request's max_tokens is its
# reference reply's length, both counted in tokens. The others build each prompt to a token count.
_FILTERED = ("sharegpt", "sessions")


def approximate_effect(dataset: str | None) -> str:
    """What an approximate token count changes in a run of ``dataset`` (None: not recorded), in words for a note."""
    if dataset in _FILTERED:
        return "which prompts the ShareGPT length filter keeps and each request's max_tokens differ"
    if dataset is None:
        return "prompt lengths (and for ShareGPT its length filter and max_tokens) differ"
    return "the prompts' lengths in the model's tokens differ from those asked"

# Roughly one token per short word piece or punctuation mark: close to BPE
# counts on English prose (within ~15% on ShareGPT for GLM's tokenizer family).
_PIECE = re.compile(r"\w{1,5}|[^\w\s]")


class TokenCounter(Protocol):
    """Counts tokens of a text; ``name`` and ``approximate`` go into the manifest."""

    name: str
    approximate: bool

    def count(self, text: str) -> int: ...


class ApproxCounter:
    """Tokenizer-free estimate: one token per word piece of up to 5 characters."""

    name = "approx-wordpiece"
    approximate = True

    def count(self, text: str) -> int:
        return len(_PIECE.findall(text))


class HFTokenizerCounter:
    """A Hugging Face ``tokenizer.json`` read with the ``tokenizers`` package."""

    approximate = False

    def __init__(self, path: Path) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise GlmbenchError(
                "reading a tokenizer needs the 'tokenizers' package",
                "pip install tokenizers, or drop --tokenizer to use the approximate count",
            ) from None
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.is_file():
            raise GlmbenchError(f"no tokenizer.json at {path}", "pass the model folder or its tokenizer.json to --tokenizer")
        self._tok = Tokenizer.from_file(str(file))
        self.name = f"hf:{file}"

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)


def make_counter(tokenizer: str | None, model: str | None = None) -> TokenCounter:
    """The counter for a run: an explicit ``--tokenizer``, else the model's folder if local, else the estimate."""
    if tokenizer:
        return HFTokenizerCounter(Path(tokenizer).expanduser())
    if model:
        local = Path(model).expanduser()
        if (local / "tokenizer.json").is_file():
            return HFTokenizerCounter(local)
    return ApproxCounter()
