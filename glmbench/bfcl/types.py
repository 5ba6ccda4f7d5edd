"""The nouns every BFCL part shares: an entry, a decoded call, a verdict.

An entry is one line of ``BFCL_v3_<category>.json`` (``BFCL_v4_...`` for BFCL v4)
joined with its line of ``possible_answer/BFCL_v3_<category>.json`` (categories
without answers, such as irrelevance and rest, have ``ground_truth`` None), and
the BFCL release it was read from. A call is what a model asked for, decoded: a
function name and its arguments as a dict (or, when its arguments were over
glmbench's bounds, why they were not decoded). A verdict is one checker's
judgement of one entry, with the reason when it failed, or why it was not
judged at all (a rule set of one release, given an entry the other release
changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.categories import COUNTS, PUBLISHED_ORDER
from glmbench.bfcl.versions import DEFAULT_VERSION
from glmbench.glm.limits import value_problem

__all__ = ["CATEGORIES", "PUBLISHED_CATEGORIES", "BFCLEntry", "Call", "Verdict", "short_repr", "undecoded"]

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
    ``version`` is the BFCL release it comes from (:mod:`glmbench.bfcl.versions`),
    whose category names ``category`` uses.
    """

    id: str
    category: str
    question: list[list[dict[str, Any]]]
    function: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]] | None = None
    version: str = DEFAULT_VERSION


@dataclass(frozen=True)
class Call:
    """One decoded function call: the name as the model wrote it and its arguments.

    ``refused`` says why the arguments were not decoded (over the bounds of
    :mod:`glmbench.glm.limits`); they are then ``{}``, and both rule sets fail
    the entry with that reason. Empty for a call that decoded.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    refused: str = ""

    def problem(self) -> str:
        """Why this call cannot be checked: ``refused``, or arguments over the bounds (made by hand); else ""."""
        if self.refused:
            return self.refused
        return (value_problem(self.arguments) or "") if isinstance(self.arguments, dict) else ""


def undecoded(calls: Sequence[Call]) -> str | None:
    """A verdict's reason when some call was not decoded (see :meth:`Call.problem`), else None.

    Checked before any rule walks the arguments, so no checker recurses into a value past the bounds.
    """
    for number, call in enumerate(calls, 1):
        why = call.problem()
        if why:
            return f"call {number} ({short_repr(call.name, 60)}) not decoded: {why}"
    return None


@dataclass(frozen=True)
class Verdict:
    """One checker's judgement of one entry.

    ``scored`` False: the rules did not judge the entry (``reason`` says why; their
    release has no such entry, or changed it), so it counts in no total.
    ``category``: the category the rules counted it under, where that is not the
    entry's own (a v3 ``simple`` entry is a ``simple_python`` one under v4's rules).
    """

    ok: bool
    reason: str = ""
    rules: str = ""
    scored: bool = True
    category: str = ""


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a verdict's reason.

    Never raises: a value whose ``repr`` fails (nested past Python's recursion
    limit, an integer too long to print) is shown by its type.
    """
    try:
        text = repr(value)
    except (RecursionError, MemoryError, ValueError):
        text = f"<a {type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
