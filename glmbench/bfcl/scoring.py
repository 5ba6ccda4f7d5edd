"""Per-category accuracy and the summary rows, under one rule set.

Rows are ``{"category", "accuracy" (percent, None when not scored), "correct",
"total", "scored", "note", "rules"}``: the published table's categories in its
order, then the others present, then the rule set's summary rows in upper case
(its formula: :meth:`~glmbench.bfcl.ruleset.RuleSet.summary`). Categories are
named as the rule set's BFCL release names them (a v3 run's ``simple`` entries
are a ``simple_python`` row under v4's rules).

Categories a rule set does not score (:attr:`~glmbench.bfcl.ruleset.RuleSet.unscored`)
are listed with ``scored: False`` and the reason, and left out of every summary.
Entries the rules did not judge (a verdict with ``scored`` False: their release
changed the entry) count in no total; the row says how many and why, and a
category with none judged is listed as not scored.
Which category is in which group and the published order come from
:mod:`glmbench.bfcl.categories`; the formulas from the rule sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glmbench.bfcl.categories import counts, row_order
from glmbench.bfcl.registry import get_rule_set, rule_set_names
from glmbench.bfcl.ruleset import percent, summary_row
from glmbench.bfcl.types import Verdict

__all__ = ["summarize"]

_NOT_SCORED = "not scored: "


def summarize(verdicts: Mapping[str, Sequence[Verdict]], rules: str) -> list[dict[str, Any]]:
    """The table of ``verdicts`` (by category, as the rule set's release names it) under the rule set ``rules``."""
    if rules not in rule_set_names():
        raise ValueError(f"rules must be one of {', '.join(rule_set_names())}, not {rules!r}")
    rule_set = get_rule_set(rules)
    expected_counts = counts(rule_set.bfcl_version)
    rows, tally = [], {}
    for category in _ordered(verdicts, rule_set.bfcl_version):
        found = verdicts[category]
        why = rule_set.unscored.get(category)
        if why:
            rows.append(summary_row(category, None, None, len(found), rules, why, scored=False))
            continue
        judged = [v for v in found if v.scored]
        skipped = [v for v in found if not v.scored]
        if skipped and not judged:
            rows.append(summary_row(category, None, None, len(found), rules, _skipped(skipped), scored=False))
            continue
        correct, total = sum(1 for v in judged if v.ok), len(judged)
        if total:
            tally[category] = (correct, total)
        expected = expected_counts.get(category)
        note = f"{total} of {expected} entries" if expected is not None and total != expected else ""
        note = note or ("no entries" if not total else "")
        if skipped:
            note = "; ".join(n for n in (note, _skipped(skipped)) if n)
        rows.append(summary_row(category, percent(correct, total), correct, total, rules, note))
    rows.extend(rule_set.summary(tally))
    return rows


def _skipped(skipped: Sequence[Verdict]) -> str:
    """The note on the entries these rules did not judge: how many, and the first one's reason."""
    reason = skipped[0].reason
    reason = reason[len(_NOT_SCORED):] if reason.startswith(_NOT_SCORED) else reason
    return f"{len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} of this run not scored here ({reason})"


def _ordered(verdicts: Mapping[str, Sequence[Verdict]], version: str) -> list[str]:
    known = [c for c in row_order(version) if c in verdicts]
    return known + sorted(c for c in verdicts if c not in known)
