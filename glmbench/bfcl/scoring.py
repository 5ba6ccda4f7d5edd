"""Per-category accuracy and the summary rows, under one rule set.

Rows are ``{"category", "accuracy" (percent, None when not scored), "correct",
"total", "scored", "note", "rules"}``: the published table's categories in its
order, then the others present, then summary rows in upper case.

- ``lightllm``: ``OVERALL`` = entries passed / entries, over the scored categories
  present (the published 49.12% is 1430/2911 over its 13 categories).
- ``bfcl``: BFCL v3's summary. ``NON_LIVE`` = unweighted mean of (mean of simple,
  java, javascript), multiple, parallel, parallel_multiple, irrelevance; ``LIVE``
  = entries passed / entries over the live categories; ``MULTI_TURN`` = mean of
  the multi-turn categories; ``OVERALL`` = mean of those three. BFCL counts a
  category it did not evaluate as 0; here a missing part is left out and the
  note says so, rather than averaging a zero.

Categories a rule set does not score (rest and sql under ``bfcl``, multi-turn under ``lightllm``)
are listed with ``scored: False`` and left out of every summary. Which category
is in which group, which is unscored and why, and the published order all come
from :mod:`glmbench.bfcl.categories`; only the formulas are here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glmbench.bfcl.categories import (
    COUNTS,
    NAMES,
    PUBLISHED_ORDER,
    RULE_SETS,
    in_group,
    unscored_reason,
)
from glmbench.bfcl.types import Verdict

__all__ = ["summarize", "NON_LIVE", "LIVE", "MULTI_TURN"]

# BFCL's summary groups, from the category table. NON_LIVE lists the simple group
# first, as its formula takes it: the order of the parts fixes the floating-point
# sums and the order of the names in the notes.
_SIMPLE_GROUP = in_group("non_live_simple")
_NON_LIVE_OTHERS = in_group("non_live")
NON_LIVE = _SIMPLE_GROUP + _NON_LIVE_OTHERS
LIVE = in_group("live")
MULTI_TURN = in_group("multi_turn")

_Tally = dict[str, tuple[int, int]]  # category -> (correct, total)


def summarize(verdicts: Mapping[str, Sequence[Verdict]], rules: str) -> list[dict[str, Any]]:
    """The table of ``verdicts`` (by category) under ``rules`` (``lightllm`` or ``bfcl``)."""
    if rules not in RULE_SETS:
        raise ValueError(f"rules must be one of {', '.join(RULE_SETS)}, not {rules!r}")
    rows, tally = [], {}
    for category in _ordered(verdicts):
        found = verdicts[category]
        why = unscored_reason(category, rules)
        if why:
            rows.append(_row(category, None, None, len(found), rules, why, scored=False))
            continue
        correct, total = sum(1 for v in found if v.ok), len(found)
        if total:
            tally[category] = (correct, total)
        expected = COUNTS.get(category)
        note = f"{total} of {expected} entries" if expected is not None and total != expected else ""
        note = note or ("no entries" if not total else "")
        rows.append(_row(category, _percent(correct, total), correct, total, rules, note))
    rows.extend(_lightllm_summary(tally) if rules == "lightllm" else _bfcl_summary(tally))
    return rows


def _ordered(verdicts: Mapping[str, Sequence[Verdict]]) -> list[str]:
    known = [c for c in PUBLISHED_ORDER if c in verdicts]
    known += [c for c in NAMES if c in verdicts and c not in known]
    return known + sorted(c for c in verdicts if c not in known)


def _percent(correct: int, total: int) -> float | None:
    return 100.0 * correct / total if total else None


def _row(category: str, accuracy: float | None, correct: int | None, total: int | None, rules: str,
         note: str = "", scored: bool = True) -> dict[str, Any]:
    return {"category": category, "accuracy": accuracy, "correct": correct, "total": total,
            "scored": scored, "note": note, "rules": rules}


def _sums(tally: _Tally, categories: Sequence[str]) -> tuple[int, int]:
    parts = [tally[c] for c in categories if c in tally]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _lightllm_summary(tally: _Tally) -> list[dict[str, Any]]:
    if not tally:
        return []
    correct, total = _sums(tally, list(tally))
    note = f"entries passed / entries over {len(tally)} categories"
    missing = [c for c in PUBLISHED_ORDER if c not in tally]
    extra = [c for c in tally if c not in PUBLISHED_ORDER]
    partial = [c for c, (_, n) in tally.items() if n != COUNTS.get(c, n)]
    if missing or extra or partial:
        why = [f"missing {', '.join(missing)}" if missing else "", f"adds {', '.join(extra)}" if extra else "",
               f"partial {', '.join(partial)}" if partial else ""]
        note += (f"; not the published OVERALL's {len(PUBLISHED_ORDER)} full categories ("
                 + "; ".join(w for w in why if w) + ")")
    return [_row("OVERALL", _percent(correct, total), correct, total, "lightllm", note)]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _missing(tally: _Tally, categories: Sequence[str]) -> str:
    absent = [c for c in categories if c not in tally]
    return f"; without {', '.join(absent)} (BFCL would count them as 0)" if absent else ""


def _bfcl_summary(tally: _Tally) -> list[dict[str, Any]]:
    acc = {c: 100.0 * ok / n for c, (ok, n) in tally.items()}
    rows, sections = [], []

    simple_group = _mean([acc[c] for c in _SIMPLE_GROUP if c in acc])
    parts = [simple_group] if simple_group is not None else []
    parts += [acc[c] for c in _NON_LIVE_OTHERS if c in acc]
    non_live = _mean(parts)
    if non_live is not None:
        sections.append(("non-live", non_live))
        note = f"mean(mean({', '.join(_SIMPLE_GROUP)}), {', '.join(_NON_LIVE_OTHERS)})"
        rows.append(_row("NON_LIVE", non_live, *_sums(tally, NON_LIVE), "bfcl", note + _missing(tally, NON_LIVE)))

    live_correct, live_total = _sums(tally, LIVE)
    if live_total:
        live = 100.0 * live_correct / live_total
        sections.append(("live", live))
        note = "entries passed / entries over the live categories"
        rows.append(_row("LIVE", live, live_correct, live_total, "bfcl", note + _missing(tally, LIVE)))

    multi_turn = _mean([acc[c] for c in MULTI_TURN if c in acc])
    if multi_turn is not None:
        sections.append(("multi-turn", multi_turn))
        rows.append(_row("MULTI_TURN", multi_turn, *_sums(tally, MULTI_TURN), "bfcl",
                         "mean of the multi-turn categories; state and response checks per turn as BFCL 2025.6.8's "
                         "eval runner applies them (its irrelevance check is off there, so here too)"
                         + _missing(tally, MULTI_TURN)))

    if sections:
        names = [name for name, _ in sections]
        note = f"mean({', '.join(names)})"
        absent = [name for name in ("non-live", "live", "multi-turn") if name not in names]
        if absent:
            note += (f"; {', '.join(absent)} not scored, so this is not BFCL's official overall"
                     " (which counts a missing part as 0)")
        included = [c for c in tally if c in NON_LIVE + LIVE + MULTI_TURN]
        rows.append(_row("OVERALL", _mean([v for _, v in sections]), *_sums(tally, included), "bfcl", note))
    return rows
