"""BFCL's categories, per release: one table of every trait glmbench uses (STYLE.md principle 12).

Each :class:`Category` says how many entries its BFCL release has (DESIGN.md
sections 6 and 14), the language of its functions, whether it is live, what a
correct answer looks like (one call, one of several functions, calls in any
order, no call, some call, turns of calls, an answer in words after agentic
steps, calls under many prompt formats), its group in that release's official
summary, its row in the published GLM-4.7-Flash table, and why glmbench does
not run it at all where it does not.

There is one table per release (:data:`TABLES`, by :mod:`~glmbench.bfcl.versions`
version): BFCL v3 (2025.6.8, the default; :data:`TABLE`, :data:`NAMES`,
:data:`COUNTS` are its) and BFCL v4 (2026.3.23). v4 names its categories its own
way: ``simple``, ``java`` and ``javascript`` became ``simple_python``,
``simple_java`` and ``simple_javascript`` (:attr:`Category.formerly`), and
glmbench uses v4's names for v4 (a v4 suite lists ``simple_python``; a v4 table
has a ``simple_python`` row). The other names are shared, with v4's counts where
they changed (``live_irrelevance`` 884, ``live_relevance`` 16).

The data loader, the rule sets, the scoring and summary code, the suite and
the reports read these tables; no other module lists categories. Which rule set
leaves which category unscored, and why, is the rule set's own business
(:mod:`glmbench.bfcl.rulesets`). Each table's order is BFCL's (the loader's
order, the default suite's, the rows after the published ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from glmbench.bfcl.versions import DEFAULT_VERSION, V3, V4, check_version, version_info

__all__ = [
    "Category", "TABLE", "NAMES", "COUNTS", "PUBLISHED_ORDER", "GROUPS", "V4_GROUPS", "TABLES", "traits",
    "not_run_reason", "in_group", "table", "names", "counts", "same_category", "row_order",
]

Language = Literal["python", "java", "javascript", "rest", "sql"]
Expects = Literal["one_call", "one_of_several", "calls_any_order", "no_call", "some_call", "turns",
                  "agentic_answer", "format_variants"]
Group = Literal["non_live_simple", "non_live", "live", "multi_turn", "irrelevance", "relevance", "web_search",
                "memory", "format_sensitivity"]

# BFCL's official v3 summary groups, in the order its formula takes them:
# non-live = mean(mean(non_live_simple), each non_live), live = entry-weighted
# mean of live, multi-turn = mean of multi_turn. Categories outside every group
# (rest, sql) are not in BFCL's v3 summary.
GROUPS: tuple[Group, ...] = ("non_live_simple", "non_live", "live", "multi_turn")

# BFCL v4's summary groups (its eval_runner_helper.py): non-live = mean(mean(non_live_simple), each
# non_live), live = entry-weighted mean of live, irrelevance = mean of irrelevance, multi-turn = mean,
# web search = mean, memory = mean, agentic = mean(web search, memory); relevance is shown, not in the
# overall; format_sensitivity is reported apart (its spread across prompt formats), never scored.
V4_GROUPS: tuple[Group, ...] = ("non_live_simple", "non_live", "live", "irrelevance", "relevance", "multi_turn",
                                "web_search", "memory", "format_sensitivity")


@dataclass(frozen=True)
class Category:
    """One BFCL category of one release and every trait of it that glmbench uses.

    ``entries``: the release's entry count. ``language``: what its functions are
    (``rest`` calls a REST API, ``sql`` writes SQL; both are described in Python
    syntax). ``expects``: what a correct answer is, which picks the check:
    ``one_call`` (the first function), ``one_of_several`` (one call, to the
    function the answer names), ``calls_any_order`` (as many calls as answers,
    any order), ``no_call`` (irrelevance: pass iff no call), ``some_call``
    (relevance: pass iff at least one call), ``turns`` (multi-turn),
    ``agentic_answer`` (v4's memory and web search: steps of calls, then an
    answer in words that must name the expected answer), ``format_variants``
    (v4's format sensitivity: single-turn entries asked under many prompt formats).
    ``group``: its group in the release's official summary (:data:`GROUPS`,
    :data:`V4_GROUPS`), None when outside it. ``published_row``: 1-based row in
    the published table, None when absent. ``not_run``: why glmbench does not
    ask it at all, or None. ``version``: its release. ``formerly``: its name in
    the release before (v4's ``simple_python`` was ``simple``). ``file_stem``:
    the name in its data files where that is not its own (v4's three memory
    categories read ``BFCL_v4_memory.json``).
    """

    name: str
    entries: int
    language: Language
    live: bool
    expects: Expects
    group: Group | None
    published_row: int | None = None
    not_run: str | None = None
    version: str = V3
    formerly: str | None = None
    file_stem: str | None = None

    @property
    def file_name(self) -> str:
        """Its question (and possible answer) file name, ``BFCL_v3_<name>.json`` (``BFCL_v4_...`` for v4)."""
        return f"{version_info(self.version).prefix}_{self.file_stem or self.name}.json"

    @property
    def own_loader(self) -> bool:
        """Its entries are built by a loader of their own (v4's agentic and format-sensitivity entries), not
        read from one JSON Lines file with its possible answers."""
        return self.expects in ("agentic_answer", "format_variants")

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
    def answer(self) -> Literal["calls", "none", "http_response", "turns", "texts"]:
        """What its possible-answer file holds for glmbench.

        ``none``: judged on whether a call is made, so no answer is read;
        ``http_response``: rest's answers are the responses of executing the
        call, kept aside, never compared with calls; ``turns``: a list of turns
        of call strings; ``texts``: the acceptable answers in words (agentic);
        ``calls``: the acceptable calls.
        """
        if self.relevance_only:
            return "none"
        if self.language == "rest":
            return "http_response"
        if self.expects == "agentic_answer":
            return "texts"
        return "turns" if self.multi_turn else "calls"


def _multi_turn(name: str, version: str = V3) -> Category:
    # Played turn by turn against BFCL's simulated APIs (glmbench.bfcl.multi_turn), its release's own.
    return Category(name, 200, "python", False, "turns", "multi_turn", version=version)


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

def _v4(name: str, entries: int, language: Language, live: bool, expects: Expects, group: Group,
        formerly: str | None = None, not_run: str | None = None, file_stem: str | None = None) -> Category:
    return Category(name, entries, language, live, expects, group, None, not_run, V4, formerly, file_stem)


def _web_search(name: str) -> Category:
    # Both read BFCL_v4_web_search.json (100 questions), the second showing search results without snippets.
    # What a run needs for it (a search service) is said by glmbench.bfcl.agentic.backends.not_run_reason.
    return _v4(name, 100, "python", False, "agentic_answer", "web_search", None, None, "web_search")


def _memory(backend: str) -> Category:
    # All three read BFCL_v4_memory.json (155 questions), each after its scenario's prerequisite conversations;
    # what a backend needs (rank_bm25, an embedding model) is said by glmbench.bfcl.agentic.backends.not_run_reason.
    return _v4(f"memory_{backend}", 155, "python", False, "agentic_answer", "memory", None, None, "memory")


_V4_ROWS: tuple[Category, ...] = (
    _v4("simple_python", 400, "python", False, "one_call", "non_live_simple", "simple"),
    _v4("simple_java", 100, "java", False, "one_call", "non_live_simple", "java"),
    _v4("simple_javascript", 50, "javascript", False, "one_call", "non_live_simple", "javascript"),
    _v4("multiple", 200, "python", False, "one_of_several", "non_live"),
    _v4("parallel", 200, "python", False, "calls_any_order", "non_live"),
    _v4("parallel_multiple", 200, "python", False, "calls_any_order", "non_live"),
    _v4("irrelevance", 240, "python", False, "no_call", "irrelevance"),
    _v4("live_simple", 258, "python", True, "one_call", "live"),
    _v4("live_multiple", 1053, "python", True, "one_of_several", "live"),
    _v4("live_parallel", 16, "python", True, "calls_any_order", "live"),
    _v4("live_parallel_multiple", 24, "python", True, "calls_any_order", "live"),
    _v4("live_irrelevance", 884, "python", True, "no_call", "irrelevance"),
    _v4("live_relevance", 16, "python", True, "some_call", "relevance"),
    _multi_turn("multi_turn_base", V4),
    _multi_turn("multi_turn_miss_func", V4),
    _multi_turn("multi_turn_miss_param", V4),
    _multi_turn("multi_turn_long_context", V4),
    _web_search("web_search_base"),
    _web_search("web_search_no_snippet"),
    _memory("kv"),
    _memory("vector"),
    _memory("rec_sum"),
    # 200 single-turn entries (BFCL_v4_format_sensitivity.json names them) under 26 prompt formats each.
    # Asked in prompt mode only (glmbench.bfcl.agentic.format_sensitivity says so in native mode).
    _v4("format_sensitivity", 5200, "python", False, "format_variants", "format_sensitivity"),
)

TABLE: dict[str, Category] = {c.name: c for c in _ROWS}
"""Every BFCL v3 category by name, in BFCL's order."""

NAMES: tuple[str, ...] = tuple(TABLE)
"""The category names in BFCL's order."""

COUNTS: dict[str, int] = {c.name: c.entries for c in _ROWS}
"""BFCL v3's entry count of each category."""

TABLES: dict[str, dict[str, Category]] = {V3: TABLE, V4: {c.name: c for c in _V4_ROWS}}
"""Every release's table (by :mod:`~glmbench.bfcl.versions` version), each in BFCL's order."""

PUBLISHED_ORDER: tuple[str, ...] = tuple(
    c.name for c in sorted((c for c in _ROWS if c.published_row is not None), key=lambda c: c.published_row or 0))
"""The rows of the published GLM-4.7-Flash table, in its order (its OVERALL follows them)."""


def _check_table() -> None:
    """Refuse a table that contradicts itself, at import, before it can skew a score."""
    rows = sorted(c.published_row for c in _ROWS if c.published_row is not None)
    if rows != list(range(1, len(rows) + 1)):
        raise ValueError(f"published rows must be 1..{len(rows)} once each, not {rows}")
    for version, groups, listed in ((V3, GROUPS, _ROWS), (V4, V4_GROUPS, _V4_ROWS)):
        for c in listed:
            if c.group is not None and c.group not in groups:
                raise ValueError(f"{c.name}: unknown summary group {c.group!r}")
            if c.version != version:
                raise ValueError(f"{c.name}: listed under {version}, says {c.version}")
            if c.formerly is not None and c.formerly not in TABLE:
                raise ValueError(f"{c.name}: formerly {c.formerly!r}, not a v3 category")
        if len(TABLES[version]) != len(listed):
            raise ValueError(f"a {version} category is listed twice")


_check_table()


def table(version: str = DEFAULT_VERSION) -> dict[str, Category]:
    """The categories of BFCL release ``version`` by name, in its order (a ValueError for an unknown version)."""
    return TABLES[check_version(version)]


def names(version: str = DEFAULT_VERSION) -> tuple[str, ...]:
    """The category names of release ``version``, in its order."""
    return tuple(table(version))


def counts(version: str = DEFAULT_VERSION) -> dict[str, int]:
    """The entry count of each category of release ``version``."""
    return {c.name: c.entries for c in table(version).values()}


def traits(name: str, version: str | None = None) -> Category:
    """The entry for ``name`` in release ``version``'s table; an unknown name is a ValueError listing the known ones.

    Without a version: v3's entry, else v4's (a name v4 alone has). What a category's entries look like and how
    they are checked (language, expects, live) is the same in both releases; its count and group are the
    release's own, so ask with the version for those.
    """
    if version is not None:
        found = table(version).get(name)
        if found is None:
            raise ValueError(f"unknown BFCL {version_info(version).label} category {name!r}; known: "
                             f"{', '.join(table(version))}")
        return found
    for listed in TABLES.values():
        if name in listed:
            return listed[name]
    raise ValueError(f"unknown BFCL category {name!r}; known: {', '.join(NAMES)} "
                     f"(v4: {', '.join(n for n in TABLES[V4] if n not in TABLE)})")


def not_run_reason(name: str, version: str = DEFAULT_VERSION) -> str | None:
    """Why glmbench does not ask category ``name`` of release ``version`` at all, or None when it does."""
    category = table(version).get(name)
    return category.not_run if category else None


def in_group(group: Group, version: str = DEFAULT_VERSION) -> tuple[str, ...]:
    """The categories of a summary group of release ``version``, in table order."""
    return tuple(c.name for c in table(version).values() if c.group == group)


def same_category(name: str, from_version: str, to_version: str) -> str | None:
    """The category of release ``to_version`` that is ``name`` of release ``from_version`` (v3's ``simple`` is v4's
    ``simple_python`` and back, a shared name is itself), or None when that release has no such category (v4's
    memory in v3, v3's sql in v4)."""
    source = table(from_version).get(name)
    if source is None:
        return None
    target = table(to_version)
    renamed = next((c.name for c in target.values() if c.formerly == name), None)
    if renamed is not None:
        return renamed
    if source.formerly is not None and source.formerly in target:
        return source.formerly
    return name if name in target else None


def row_order(version: str = DEFAULT_VERSION) -> tuple[str, ...]:
    """The order of the category rows of a table of release ``version``: v3's published table's rows first (its
    order), then the rest of the release's categories in BFCL's order."""
    listed = table(version)
    published = [c.name for c in sorted((c for c in listed.values() if c.published_row is not None),
                                        key=lambda c: c.published_row or 0)]
    return tuple(dict.fromkeys([*published, *listed]))
