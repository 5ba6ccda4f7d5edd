"""BFCL v4's own rules (``bfcl-eval==2026.3.23``) as a rule set: v4's data, its checkers, its leaderboard summary.

What changed from BFCL v3 (2025.6.8), read from the two wheels side by side
(``eval_checker/``, ``constants/``, ``utils.py``, ``model_handler/``):

- **Data.** Files are ``BFCL_v4_*``; ``simple``, ``java``, ``javascript`` became
  ``simple_python``, ``simple_java``, ``simple_javascript``. Matched by content
  (question and functions, :mod:`glmbench.bfcl.counterparts`), every single-turn
  entry of v3 has a v4 twin but 9: 7 whose question or functions changed
  (parallel 2, irrelevance 2, live_simple 2, live_multiple 1) and 2 of
  live_relevance, which v4 dropped (18 -> 16, renumbered, its repeated id gone);
  live_irrelevance gained 2 (882 -> 884). Among the twins 7 ground truths changed
  (simple 1, parallel 2, parallel_multiple 1, javascript 1, live_simple 1,
  live_parallel 1). In each multi-turn category 108-109 of 200 questions and
  67-70 ground truths changed, entries gained ``excluded_function`` (read by no
  code of BFCL's), and the function documents of six of the eight classes
  changed: no multi-turn entry has a twin.
- **Multi-turn environment.** Every simulated API but MathAPI changed: ``cd``
  takes one folder level and says so for a path, ``list_all_following`` returns
  a dict, ``delete_message`` takes no message id, ``get_user_login_status`` says
  ``login_status``, TradingBot lost ``update_market_status`` and refuses a buy
  beyond the balance, TravelAPI's prices and its token countdown changed,
  VehicleControlAPI casts distances to float, TwitterAPI's ``comment`` returns its
  error instead of raising it. So a conversation is scored on its own release's
  classes (:mod:`glmbench.bfcl.multi_turn.environment`), and a v3 conversation
  has no v4 twin.
- **Checkers.** The AST checker's rules are unchanged (its language became an
  enum; ``is_java`` no longer matches ``javascript``); the relevance and
  irrelevance checks are unchanged; ``multi_turn_checker.py`` is byte-identical,
  and the runner around it is the same (inference error, force-terminated on a
  turn count mismatch, empty or undecodable steps dropped, the irrelevance check
  still switched off). New: the agentic checker (memory, web search: the last
  reply without a call must contain an expected answer) and the format-sensitivity
  runner (accuracy per prompt format, then their max delta and standard deviation).
- **Requests.** Native tool calling is asked as v3 asked it (the language hint on
  every function, types mapped, ``.`` as ``_``, the same step limit of 20 and the
  same message for added functions), except that v4 hints the entry's own
  functions once at load time, so functions a ``miss_func`` turn adds arrive
  without the hint (glmbench's conversation sends them with it, as for v3). The
  prompting system prompt changed (format-sensitivity configurations); glmbench's
  prompt mode renders GLM-4.7's own template, so it does not apply here.
- **Summary** (``eval_runner_helper.py``): non-live = mean(mean(simple_python,
  simple_java, simple_javascript), multiple, parallel, parallel_multiple), without
  irrelevance now; live = entry-weighted mean of live_simple, live_multiple,
  live_parallel, live_parallel_multiple, without relevance and irrelevance now;
  irrelevance = mean(irrelevance, live_irrelevance); relevance = live_relevance
  (shown, in no overall); multi-turn = mean of its four; web search = mean(base,
  no_snippet); memory = mean(kv, vector, rec_sum); agentic = mean(web search,
  memory); overall = 10% non-live + 10% live + 10% irrelevance + 30% multi-turn
  + 40% agentic. Format sensitivity is reported apart, never in a score.

Per entry these rules are BFCL v3's own (:mod:`glmbench.bfcl.checker_bfcl`, the
multi-turn checker on v4's classes); an API error fails the entry. BFCL counts a
category it did not evaluate as 0; here a part that was not run is left out, named
with what it needs, and the overall is marked partial with the weights renormalised
over the parts scored: it is then not the leaderboard's Overall Acc.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from glmbench.bfcl.categories import counts, in_group, not_run_reason, traits
from glmbench.bfcl.ruleset import Tally, request_failed, summary_row, sums
from glmbench.bfcl.rulesets.bfcl import BFCLRules
from glmbench.bfcl.types import BFCLEntry, Verdict
from glmbench.bfcl.versions import V4

__all__ = ["WEIGHTS", "BFCLV4Rules", "RULE_SET"]

NAME = "bfcl-v4"
_SIMPLE = in_group("non_live_simple", V4)
_NON_LIVE_OTHERS = in_group("non_live", V4)
_LIVE = in_group("live", V4)
_IRRELEVANCE = in_group("irrelevance", V4)
_RELEVANCE = in_group("relevance", V4)
_MULTI_TURN = in_group("multi_turn", V4)
_WEB_SEARCH = in_group("web_search", V4)
_MEMORY = in_group("memory", V4)

WEIGHTS: dict[str, int] = {"non-live": 10, "live": 10, "irrelevance": 10, "multi-turn": 30, "agentic": 40}
"""BFCL v4's overall: each part's weight, in percent."""

_FORMAT_SENSITIVITY = ("format_sensitivity is reported apart (accuracy per prompt format, their max delta and "
                       "standard deviation), never in a score")


@dataclasses.dataclass(frozen=True)
class _Part:
    """One summary row's figure: its accuracy (None without entries), the categories in it, and its note."""

    accuracy: float | None
    categories: tuple[str, ...]
    note: str


class BFCLV4Rules(BFCLRules):
    """BFCL v4's data and rules, with its leaderboard's summary; see the module's docstring."""

    name = NAME
    title = ("BFCL v4 rules (bfcl-eval 2026.3.23, the leaderboard's): overall = 10% non-live + 10% live + "
             "10% irrelevance + 30% multi-turn + 40% agentic")
    position = 2
    style_help = "BFCL v4's handler"
    scoring_help = "BFCL v4's own checkers and leaderboard summary"
    bfcl_version = V4

    @property
    def unscored(self) -> Mapping[str, str]:
        """Category -> why these rules give it no score: format sensitivity, which is reported apart."""
        return {"format_sensitivity": _FORMAT_SENSITIVITY}

    def check(self, entry: BFCLEntry, record: Mapping[str, Any]) -> Verdict:
        """BFCL v4's verdict: v3's checkers (unchanged in v4) on v4's entry, multi-turn on v4's classes.

        An agentic entry (memory, web search) is judged by BFCL's agentic checker (glmbench.bfcl.agentic); a
        format-sensitivity one is reported apart, not scored.
        """
        expects = traits(entry.category).expects
        if expects == "agentic_answer":
            from glmbench.bfcl.agentic.checker import check_agentic_entry

            return dataclasses.replace(check_agentic_entry(entry, dict(record)), rules=self.name)
        if expects == "format_variants":
            return self._format_variant(entry, record)
        return dataclasses.replace(super().check(entry, record), rules=self.name)

    def summary(self, tally: Tally) -> list[dict[str, Any]]:
        """The leaderboard's columns: each group, then ``OVERALL`` weighted as BFCL v4 weighs it."""
        acc = {c: 100.0 * ok / n for c, (ok, n) in tally.items()}
        simple = _mean_of(acc, _SIMPLE, "Non-Live Simple AST")
        non_live_parts = [(simple.accuracy, _SIMPLE)] + [(acc.get(c), (c,)) for c in _NON_LIVE_OTHERS]
        non_live = _mean_of_parts(non_live_parts, "Non-Live AST Acc: mean(mean(simple_python, simple_java, "
                                                  "simple_javascript), multiple, parallel, parallel_multiple)")
        live = _weighted(tally, _LIVE, "Live Acc: entries passed / entries over live_simple, live_multiple, "
                                       "live_parallel, live_parallel_multiple")
        irrelevance = _mean_of(acc, _IRRELEVANCE, "Irrelevance Detection: mean(irrelevance, live_irrelevance)")
        relevance = _mean_of(acc, _RELEVANCE, "Relevance Detection: live_relevance (in no overall)")
        multi_turn = _mean_of(acc, _MULTI_TURN, "Multi Turn Acc: mean of the four multi-turn categories; state and "
                                                "response checks per turn (its irrelevance check is off in v4 too)")
        web_search = _mean_of(acc, _WEB_SEARCH, "Web Search Acc: mean(web_search_base, web_search_no_snippet)")
        memory = _mean_of(acc, _MEMORY, "Memory Acc: mean(memory_kv, memory_vector, memory_rec_sum)")
        agentic = _mean_of_parts([(web_search.accuracy, _WEB_SEARCH), (memory.accuracy, _MEMORY)],
                                 "Agentic Acc: mean(web search, memory)")
        rows = [self._row(name, part, tally) for name, part in (
            ("NON_LIVE", non_live), ("NON_LIVE_SIMPLE", simple), ("LIVE", live), ("MULTI_TURN", multi_turn),
            ("WEB_SEARCH", web_search), ("MEMORY", memory), ("AGENTIC", agentic), ("RELEVANCE", relevance),
            ("IRRELEVANCE", irrelevance))]
        rows.append(self._format_sensitivity(tally))
        sections = {"non-live": non_live, "live": live, "irrelevance": irrelevance, "multi-turn": multi_turn,
                    "agentic": agentic}
        rows.append(self._overall(sections, tally))
        return rows

    def _format_variant(self, entry: BFCLEntry, record: Mapping[str, Any]) -> Verdict:
        """A format_sensitivity entry: BFCL's AST checker on its source entry (a reply that did not decode in its
        variant's format fails), counted under ``format_sensitivity:<variant>``, a category of no score."""
        from glmbench.bfcl.agentic.format_sensitivity import VARIANT_PREFIX, source_entry, variant_of

        shown = VARIANT_PREFIX + variant_of(entry)
        failed = request_failed(record)
        if failed or record.get("decode_error"):
            return Verdict(False, failed or str(record["decode_error"]), self.name, category=shown)
        verdict = super().check(source_entry(entry), record)
        return dataclasses.replace(verdict, rules=self.name, category=shown)

    def _format_sensitivity(self, tally: Tally) -> dict[str, Any]:
        """BFCL's format-sensitivity figures over the variants scored (their rows precede the summary rows):
        max delta, standard deviation and variance of their accuracies, in points; in no score."""
        from glmbench.bfcl.agentic.format_sensitivity import VARIANT_PREFIX, spread

        column = "Format Sensitivity Max Delta and Standard Deviation: "
        variants = {c[len(VARIANT_PREFIX):]: n for c, n in tally.items() if c.startswith(VARIANT_PREFIX)}
        if not variants:
            why = not_run_reason("format_sensitivity", V4)
            return summary_row("FORMAT_SENSITIVITY", None, None, None, self.name,
                               column + (f"not run: {why}" if why else _FORMAT_SENSITIVITY), scored=False)
        figures = spread(variants)
        correct, total = sums(tally, [VARIANT_PREFIX + c for c in variants])
        row = summary_row("FORMAT_SENSITIVITY", None, correct, total, self.name,
                          f"{column}max delta {figures.max_delta:.2f}, standard deviation {figures.std:.2f} points "
                          f"over {len(variants)} prompt formats (their rows above); {_FORMAT_SENSITIVITY}",
                          scored=False)
        return {**row, "max_delta": figures.max_delta, "std": figures.std, "variance": figures.variance,
                "variants": len(variants)}

    def _row(self, name: str, part: _Part, tally: Tally) -> dict[str, Any]:
        if part.accuracy is None:
            return summary_row(name, None, None, None, self.name, part.note, scored=False)
        return summary_row(name, part.accuracy, *sums(tally, part.categories), self.name, part.note)

    def _overall(self, sections: Mapping[str, _Part], tally: Tally) -> dict[str, Any]:
        scored = {name: part for name, part in sections.items() if part.accuracy is not None}
        formula = " + ".join(f"{WEIGHTS[name]}% {name}" for name in WEIGHTS)
        if not scored:
            return summary_row("OVERALL", None, None, None, self.name, f"Overall Acc: {formula}; nothing scored",
                               scored=False)
        weight = sum(WEIGHTS[name] for name in scored)
        accuracy = sum(WEIGHTS[name] * (part.accuracy or 0.0) for name, part in scored.items()) / weight
        note = f"Overall Acc: {formula}"
        missing = [name for name in WEIGHTS if name not in scored]
        if missing:
            why = ", ".join(f"{name} ({WEIGHTS[name]}%, {_why_absent(sections[name].categories)})" for name in missing)
            note += (f"; PARTIAL, without {why}: the weights are renormalised over the {weight}% scored, so this is "
                     "not the leaderboard's Overall Acc (which counts a missing part as 0)")
        absent = [c for part in scored.values() for c in part.categories if c not in tally]
        if absent:
            # A part scored without some of its categories (web search not run, say): so is the overall.
            note += (f"; PARTIAL, its parts scored without {', '.join(absent)} (their rows say why; the leaderboard "
                     "counts a missing category as 0)")
        included = tuple(c for part in scored.values() for c in part.categories if c in tally)
        partial = _partial(tally, included)
        if partial:
            note += f"; partial categories: {partial}"
        return summary_row("OVERALL", accuracy, *sums(tally, included), self.name, note)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _why_absent(categories: Sequence[str]) -> str:
    """Why categories have no score here: not run (their rows say what they need), or not asked in this run."""
    if categories and all(not_run_reason(c, V4) for c in categories):
        return "not run here: their rows say what they need"
    return "none scored here: their rows, where present, say why"


def _mean_of(acc: Mapping[str, float], categories: Sequence[str], column: str) -> _Part:
    """The unweighted mean of the categories present, noting those absent (BFCL counts them as 0)."""
    present = [c for c in categories if c in acc]
    if not present:
        return _Part(None, tuple(categories), f"{column}: {_why_absent(categories)}")
    return _Part(_mean([acc[c] for c in present]), tuple(categories), column + _without(acc, categories))


def _mean_of_parts(parts: Sequence[tuple[float | None, tuple[str, ...]]], column: str) -> _Part:
    """The unweighted mean of parts (each a figure over its categories), noting the parts without a figure."""
    present = [value for value, _ in parts if value is not None]
    categories = tuple(c for _, cs in parts for c in cs)
    if not present:
        return _Part(None, categories, f"{column}: {_why_absent(categories)}")
    absent = [c for value, cs in parts if value is None for c in cs]
    note = f"; without {', '.join(absent)} ({_why_absent(absent)}; BFCL would count them as 0)" if absent else ""
    return _Part(_mean(present), categories, column + note)


def _weighted(tally: Tally, categories: Sequence[str], column: str) -> _Part:
    """Entries passed / entries over the categories present."""
    correct, total = sums(tally, categories)
    if not total:
        return _Part(None, tuple(categories), f"{column}: {_why_absent(categories)}")
    return _Part(100.0 * correct / total, tuple(categories), column + _without(tally, categories))


def _without(present: Mapping[str, Any], categories: Sequence[str]) -> str:
    absent = [c for c in categories if c not in present]
    return f"; without {', '.join(absent)} ({_why_absent(absent)}; BFCL would count them as 0)" if absent else ""


def _partial(tally: Tally, categories: Sequence[str]) -> str:
    """The categories scored on fewer entries than BFCL v4 has: ``name (n of m)`` each, or how many when many."""
    expected = counts(V4)
    short = [f"{c} ({tally[c][1]} of {expected[c]})" for c in categories
             if c in tally and tally[c][1] != expected.get(c, tally[c][1])]
    return ", ".join(short) if len(short) <= 3 else f"{len(short)} categories on fewer entries than BFCL v4 has"


RULE_SET = BFCLV4Rules()
