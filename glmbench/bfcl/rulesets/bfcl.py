"""BFCL v3's own rules as a rule set: its function-calling handler's requests, its checkers, its summary.

Requests: the whole first turn as BFCL's handler sends it, tools converted as
it converts them (dotted names as ``_``, types to JSON Schema, Java and
JavaScript parameters as strings with a type hint). The per-entry rules are
:mod:`glmbench.bfcl.checker_bfcl`'s (the AST checker and relevance checks) and,
for multi-turn entries, :mod:`glmbench.bfcl.multi_turn.checker`'s over the
stored conversation; an API error fails the entry. ``rest`` and ``sql`` are
left unscored, with the reason.

Summary, BFCL v3's: ``NON_LIVE`` = unweighted mean of (mean of simple, java,
javascript), multiple, parallel, parallel_multiple, irrelevance; ``LIVE`` =
entries passed / entries over the live categories; ``MULTI_TURN`` = mean of the
multi-turn categories; ``OVERALL`` = mean of those three. BFCL counts a category
it did not evaluate as 0; here a missing part is left out and the note says so,
rather than averaging a zero. The groups come from :mod:`glmbench.bfcl.categories`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glmbench.bfcl import checker_bfcl
from glmbench.bfcl.categories import in_group, traits
from glmbench.bfcl.decoding import as_calls
from glmbench.bfcl.ruleset import Tally, request_failed, summary_row, sums
from glmbench.bfcl.types import BFCLEntry, Verdict
from glmbench.bfcl.versions import V3

__all__ = ["NON_LIVE", "LIVE", "MULTI_TURN", "BFCLRules", "RULE_SET"]

# BFCL's summary groups, from the category table. NON_LIVE lists the simple group
# first, as its formula takes it: the order of the parts fixes the floating-point
# sums and the order of the names in the notes.
_SIMPLE_GROUP = in_group("non_live_simple")
_NON_LIVE_OTHERS = in_group("non_live")
NON_LIVE = _SIMPLE_GROUP + _NON_LIVE_OTHERS
LIVE = in_group("live")
MULTI_TURN = in_group("multi_turn")


class BFCLRules:
    """BFCL v3's handler's requests and its checkers' rules; see the module's docstring."""

    name = checker_bfcl.RULES
    title = "BFCL v3 AST checker rules: overall = mean(non-live, live[, multi-turn])"
    position = 1
    style_help = "BFCL's handler"
    scoring_help = "BFCL's own checker"
    bfcl_version = V3  # its entries, ground truth and category names are BFCL v3's

    @property
    def unscored(self) -> Mapping[str, str]:
        """Category -> why BFCL's rules are not applied to it here."""
        return checker_bfcl.UNSCORED

    def messages(self, entry: BFCLEntry) -> list[dict[str, Any]]:
        """The whole first turn."""
        first_turn = entry.question[0] if entry.question else []
        return [dict(m) for m in first_turn]

    def tools(self, entry: BFCLEntry) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """BFCL's conversion of the entry's functions, and the map from ``_`` names back to dotted ones."""
        from glmbench.bfcl.convert import bfcl_tools

        toolset = bfcl_tools(entry.function, entry.category)
        return toolset.tools, dict(toolset.names)

    def decoded_fields(self, content: str | None) -> dict[str, Any]:
        """Nothing: BFCL judges only the calls the server (or glmbench's parser) decoded."""
        return {}

    def check(self, entry: BFCLEntry, record: Mapping[str, Any]) -> Verdict:
        """BFCL's verdict: the multi-turn checker over a stored conversation, else the checker of one reply."""
        failed = request_failed(record)
        if failed:
            return Verdict(False, failed, self.name)
        if traits(entry.category).multi_turn:
            from glmbench.bfcl.multi_turn.checker import check_multi_turn
            from glmbench.bfcl.multi_turn.conversation import trajectory

            verdict = check_multi_turn(trajectory(dict(record)), entry)
            return Verdict(verdict.ok, verdict.reason, self.name)
        return checker_bfcl.check_bfcl(entry, as_calls(record["calls"]), record.get("names") or {})

    def summary(self, tally: Tally) -> list[dict[str, Any]]:
        """``NON_LIVE``, ``LIVE``, ``MULTI_TURN`` (each when it has entries) and their mean, ``OVERALL``."""
        acc = {c: 100.0 * ok / n for c, (ok, n) in tally.items()}
        rows, sections = [], []

        simple_group = _mean([acc[c] for c in _SIMPLE_GROUP if c in acc])
        parts = [simple_group] if simple_group is not None else []
        parts += [acc[c] for c in _NON_LIVE_OTHERS if c in acc]
        non_live = _mean(parts)
        if non_live is not None:
            sections.append(("non-live", non_live))
            note = f"mean(mean({', '.join(_SIMPLE_GROUP)}), {', '.join(_NON_LIVE_OTHERS)})"
            rows.append(summary_row("NON_LIVE", non_live, *sums(tally, NON_LIVE), self.name,
                                    note + _missing(tally, NON_LIVE)))

        live_correct, live_total = sums(tally, LIVE)
        if live_total:
            live = 100.0 * live_correct / live_total
            sections.append(("live", live))
            note = "entries passed / entries over the live categories"
            rows.append(summary_row("LIVE", live, live_correct, live_total, self.name, note + _missing(tally, LIVE)))

        multi_turn = _mean([acc[c] for c in MULTI_TURN if c in acc])
        if multi_turn is not None:
            sections.append(("multi-turn", multi_turn))
            rows.append(summary_row("MULTI_TURN", multi_turn, *sums(tally, MULTI_TURN), self.name,
                                    "mean of the multi-turn categories; state and response checks per turn as BFCL "
                                    "2025.6.8's eval runner applies them (its irrelevance check is off there, so here "
                                    "too)" + _missing(tally, MULTI_TURN)))

        if sections:
            names = [name for name, _ in sections]
            note = f"mean({', '.join(names)})"
            absent = [name for name in ("non-live", "live", "multi-turn") if name not in names]
            if absent:
                note += (f"; {', '.join(absent)} not scored, so this is not BFCL's official overall"
                         " (which counts a missing part as 0)")
            included = [c for c in tally if c in NON_LIVE + LIVE + MULTI_TURN]
            rows.append(summary_row("OVERALL", _mean([v for _, v in sections]), *sums(tally, included), self.name,
                                    note))
        return rows


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _missing(tally: Tally, categories: Sequence[str]) -> str:
    absent = [c for c in categories if c not in tally]
    return f"; without {', '.join(absent)} (BFCL would count them as 0)" if absent else ""


RULE_SET = BFCLRules()
