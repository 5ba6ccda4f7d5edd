"""BFCL v3's categories: one table of every trait glmbench uses (STYLE.md principle 12).

Each :class:`Category` says how many entries BFCL v3 has (DESIGN.md section 6),
the language of its functions, whether it is live, what a correct answer looks
like (one call, one of several functions, calls in any order, no call, some call,
turns of calls), its group in BFCL's official v3 summary, its row in the published
GLM-4.7-Flash table, and why glmbench does not run it at all where it does not.

The data loader, the rule sets, the scoring and summary code, the suite and
the reports read this table; no other module lists categories. Which rule set
leaves which category unscored, and why, is the rule set's own business
(:mod:`glmbench.bfcl.rulesets`). Its order is BFCL's (the loader's order, the
default suite's, the rows after the published ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Category", "TABLE", "NAMES", "COUNTS", "PUBLISHED_ORDER", "GROUPS", "traits", "not_run_reason", "in_group",
]

Language = Literal["python", "java", "javascript", "rest", "sql"]
Expects = Literal["one_call", "one_of_several", "calls_any_order", "no_call", "some_call", "turns"]
Group = Literal["non_live_simple", "non_live", "live", "multi_turn"]

# BFCL's official v3 summary groups, in the order its formula takes them:
# non-live = mean(mean(non_live_simple), each non_live), live = entry-weighted
# mean of live, multi-turn = mean of multi_turn. Categories outside every group
# (rest, sql) are not in BFCL's v3 summary.
GROUPS: tuple[Group, ...] = ("non_live_simple", "non_live", "live", "multi_turn")


@dataclass(frozen=True)
class Category:
    """One BFCL v3 category and every trait of it that glmbench uses.

    ``entries``: BFCL v3's entry count. ``language``: what its functions are
    (``rest`` calls a REST API, ``sql`` writes SQL; both are described in Python
    syntax). ``expects``: what a correct answer is, which picks the check:
    ``one_call`` (the first function), ``one_of_several`` (one call, to the
    function the answer names), ``calls_any_order`` (as many calls as answers,
    any order), ``no_call`` (irrelevance: pass iff no call), ``some_call``
    (relevance: pass iff at least one call), ``turns`` (multi-turn).
    ``group``: its group in BFCL's official summary (:data:`GROUPS`), None when
    outside it. ``published_row``: 1-based row in the published table, None when
    absent. ``not_run``: why glmbench does not ask it at all, or None.
    """

    name: str
    entries: int
    language: Language
    live: bool
    expects: Expects
    group: Group | None
    published_row: int | None = None
    not_run: str | None = None

    @property
    def file_name(self) -> str:
        """Its question (and possible answer) file name, ``BFCL_v3_<name>.json``."""
        return f"BFCL_v3_{self.name}.json"

    @property
    def irrelevance(self) -> bool:
        """Judged only on making no call (irrelevance, live_irrelevance)."""
        return self.expects == "no_call"

    @property
    def relevance_only(self) -> bool:
        """Judged only on whether a call is made, not on which (irrelevance and relevance categories)."""
        return self.expects in ("no_call", "some_call")

    @property
    def multi_turn(self) -> bool:
        """Entries are several turns, with functions built from BFCL's API classes."""
        return self.expects == "turns"

    @property
    def doc_language(self) -> Literal["python", "java", "javascript"]:
        """The syntax its function documents are in: java and javascript, else Python (rest and sql too)."""
        return self.language if self.language in ("java", "javascript") else "python"

    @property
    def answer(self) -> Literal["calls", "none", "http_response", "turns"]:
        """What its possible-answer file holds for glmbench.

        ``none``: judged on whether a call is made, so no answer is read;
        ``http_response``: rest's answers are the responses of executing the
        call, kept aside, never compared with calls; ``turns``: a list of turns
        of call strings; ``calls``: the acceptable calls.
        """
        if self.relevance_only:
            return "none"
        if self.language == "rest":
            return "http_response"
        return "turns" if self.multi_turn else "calls"


def _multi_turn(name: str) -> Category:
    # Played turn by turn against BFCL's simulated APIs (glmbench.bfcl.multi_turn).
    return Category(name, 200, "python", False, "turns", "multi_turn")


_ROWS: tuple[Category, ...] = (
    Category("simple", 400, "python", False, "one_call", "non_live_simple", 1),
    Category("multiple", 200, "python", False, "one_of_several", "non_live", 2),
    Category("parallel", 200, "python", False, "calls_any_order", "non_live", 3),
    Category("parallel_multiple", 200, "python", False, "calls_any_order", "non_live", 4),
    Category("java", 100, "java", False, "one_call", "non_live_simple", 5),
    Category("javascript", 50, "javascript", False, "one_call", "non_live_simple", 6),
    Category("irrelevance", 240, "python", False, "no_call", "non_live", 7),
    Category("live_simple", 258, "python", True, "one_call", "live", 8),
    Category("live_multiple", 1053, "python", True, "one_of_several", "live", 9),
    Category("live_parallel", 16, "python", True, "calls_any_order", "live", 10),
    Category("live_parallel_multiple", 24, "python", True, "calls_any_order", "live", 11),
    Category("live_irrelevance", 882, "python", True, "no_call", "live"),
    Category("live_relevance", 18, "python", True, "some_call", "live"),
    Category("sql", 100, "sql", False, "one_call", None, 13),
    Category("rest", 70, "rest", False, "one_call", None, 12),
    _multi_turn("multi_turn_base"),
    _multi_turn("multi_turn_miss_func"),
    _multi_turn("multi_turn_miss_param"),
    _multi_turn("multi_turn_long_context"),
)

TABLE: dict[str, Category] = {c.name: c for c in _ROWS}
"""Every BFCL v3 category by name, in BFCL's order."""

NAMES: tuple[str, ...] = tuple(TABLE)
"""The category names in BFCL's order."""

COUNTS: dict[str, int] = {c.name: c.entries for c in _ROWS}
"""BFCL v3's entry count of each category."""

PUBLISHED_ORDER: tuple[str, ...] = tuple(
    c.name for c in sorted((c for c in _ROWS if c.published_row is not None), key=lambda c: c.published_row or 0))
"""The rows of the published GLM-4.7-Flash table, in its order (its OVERALL follows them)."""


def _check_table() -> None:
    """Refuse a table that contradicts itself, at import, before it can skew a score."""
    rows = sorted(c.published_row for c in _ROWS if c.published_row is not None)
    if rows != list(range(1, len(rows) + 1)):
        raise ValueError(f"published rows must be 1..{len(rows)} once each, not {rows}")
    for c in _ROWS:
        if c.group is not None and c.group not in GROUPS:
            raise ValueError(f"{c.name}: unknown summary group {c.group!r}")
    if len(TABLE) != len(_ROWS):
        raise ValueError("a category is listed twice")


_check_table()


def traits(name: str) -> Category:
    """The table's entry for ``name``; an unknown name is a ValueError listing the known ones."""
    try:
        return TABLE[name]
    except KeyError:
        raise ValueError(f"unknown BFCL category {name!r}; known: {', '.join(NAMES)}") from None


def not_run_reason(name: str) -> str | None:
    """Why glmbench does not ask category ``name`` at all (multi-turn), or None when it does."""
    category = TABLE.get(name)
    return category.not_run if category else None


def in_group(group: Group) -> tuple[str, ...]:
    """The categories of a BFCL summary group, in table order."""
    return tuple(c.name for c in _ROWS if c.group == group)
