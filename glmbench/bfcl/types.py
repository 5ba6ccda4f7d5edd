"""The nouns every BFCL part shares: an entry, a decoded call, a verdict.

An entry is one line of ``BFCL_v3_<category>.json`` joined with its line of
``possible_answer/BFCL_v3_<category>.json`` (categories without answers, such as
irrelevance and rest, have ``ground_truth`` None). A call is what a model asked
for, decoded: a function name and its arguments as a dict. A verdict is one
checker's judgement of one entry, with the reason when it failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.categories import COUNTS, PUBLISHED_ORDER

__all__ = ["CATEGORIES", "PUBLISHED_CATEGORIES", "BFCLEntry", "Call", "Verdict", "short_repr"]

# Views of the category table (glmbench.bfcl.categories), kept under these names for their importers.
CATEGORIES: dict[str, int] = COUNTS
PUBLISHED_CATEGORIES: tuple[str, ...] = PUBLISHED_ORDER


@dataclass(frozen=True)
class BFCLEntry:
    """One BFCL test case.

    ``question`` is BFCL's list of turns, each a list of ``{"role", "content"}``
    messages; ``function`` the BFCL function documents offered; ``ground_truth``
    the list of acceptable calls ``[{func_name: {param: [acceptable values]}}]``
    (``""`` among the values marks a parameter that may be omitted), or None.
    """

    id: str
    category: str
    question: list[list[dict[str, Any]]]
    function: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Call:
    """One decoded function call: the name as the model wrote it and its arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """One checker's judgement of one entry."""

    ok: bool
    reason: str = ""
    rules: str = ""


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a verdict's reason."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
