"""Per-category accuracy and the summary rows, under one rule set.

Rows are ``{"category", "accuracy" (percent, None when not scored), "correct",
"total", "scored", "note", "rules"}``: the published table's categories in its
order, then the others present, then the rule set's summary rows in upper case
(its formula: :meth:`~glmbench.bfcl.ruleset.RuleSet.summary`).

Categories a rule set does not score (:attr:`~glmbench.bfcl.ruleset.RuleSet.unscored`)
are listed with ``scored: False`` and the reason, and left out of every summary.
Which category is in which group and the published order come from
:mod:`glmbench.bfcl.categories`; the formulas from the rule sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glmbench.bfcl.categories import COUNTS, NAMES, PUBLISHED_ORDER
from glmbench.bfcl.registry import get_rule_set, rule_set_names
from glmbench.bfcl.ruleset import percent, summary_row
from glmbench.bfcl.types import Verdict

__all__ = ["summarize"]


def summarize(verdicts: Mapping[str, Sequence[Verdict]], rules: str) -> list[dict[str, Any]]:
    """The table of ``verdicts`` (by category) under the rule set called ``rules``."""
    if rules not in rule_set_names():
        raise ValueError(f"rules must be one of {', '.join(rule_set_names())}, not {rules!r}")
    rule_set = get_rule_set(rules)
    rows, tally = [], {}
    for category in _ordered(verdicts):
        found = verdicts[category]
        why = rule_set.unscored.get(category)
        if why:
            rows.append(summary_row(category, None, None, len(found), rules, why, scored=False))
            continue
        correct, total = sum(1 for v in found if v.ok), len(found)
        if total:
            tally[category] = (correct, total)
        expected = COUNTS.get(category)
        note = f"{total} of {expected} entries" if expected is not None and total != expected else ""
        note = note or ("no entries" if not total else "")
        rows.append(summary_row(category, percent(correct, total), correct, total, rules, note))
    rows.extend(rule_set.summary(tally))
    return rows


def _ordered(verdicts: Mapping[str, Sequence[Verdict]]) -> list[str]:
    known = [c for c in PUBLISHED_ORDER if c in verdicts]
    known += [c for c in NAMES if c in verdicts and c not in known]
    return known + sorted(c for c in verdicts if c not in known)
