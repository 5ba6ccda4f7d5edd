"""A BFCL run's summary from its stored records, under every rule set.

Each table is in its rule set's BFCL release's categories: an entry is counted
under the category its stored verdict names (a v3 ``simple`` entry under v4's
``simple_python``), and one its rules did not judge (``"scored": false``) in no
total. The entries and the categories not run of a category that release does
not have (v3's sql in a v4 table, v4's memory in a v3 one) are left out of its
table; the others are listed under that release's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from glmbench.bfcl.categories import same_category, table
from glmbench.bfcl.registry import get_rule_set, rule_set_names
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry, Verdict
from glmbench.results.schema import BFCLSummary
from glmbench.util.proportion import wilson_interval

__all__ = ["summarize_run"]

# The verdict of a record stored before its rule set existed (a run resumed after glmbench gained rules).
_NOT_YET: dict[str, Any] = {"ok": False, "scored": False,
                            "reason": "not scored: stored before these rules existed (glmbench rescore RUN_DIR "
                                      "scores it)"}


def summarize_run(run_id: str, suite: BFCLSuite, entries: Iterable[BFCLEntry],
                  records: Mapping[str, Mapping[str, Any]], not_run: Mapping[str, str],
                  interrupted: bool = False) -> BFCLSummary:
    """Per-category tables under each rule set, from the records of the entries asked.

    An entry without a record (the run was interrupted) is left out of its
    category's total, and the summary says the run was interrupted. Each row
    carries its accuracy's 95% Wilson interval (:func:`_with_interval`).
    """
    from glmbench.bfcl.scoring import summarize

    tables: dict[str, list[dict[str, Any]]] = {}
    for rules in rule_set_names():  # every rule set gets a table, in the registry's order
        version = get_rule_set(rules).bfcl_version
        verdicts: dict[str, list[Verdict]] = {}
        for entry in entries:
            record = records.get(entry.id)
            if record is None:
                continue
            v = (record.get("verdicts") or {}).get(rules) or _NOT_YET
            shown = same_category(entry.category, entry.version, version)
            if shown is None and entry.category in table(entry.version):
                continue  # a category this release does not have (v3's sql under v4's rules): no row of its table
            category = v.get("category") or shown or entry.category
            verdicts.setdefault(category, []).append(
                Verdict(bool(v["ok"]), v.get("reason", ""), rules, scored=v.get("scored", True) is not False))
        rows = summarize(verdicts, rules)
        for category, why in not_run.items():
            shown = same_category(category, suite.bfcl_version, version)
            if shown is None:
                continue  # a category this release does not have
            rows.append({"category": shown, "accuracy": None, "correct": None, "total": None,
                         "scored": False, "note": f"not run: {why}", "rules": rules})
        tables[rules] = [_with_interval(row) for row in rows]
    return BFCLSummary(run_id=run_id, primary=suite.scoring, mode=suite.mode, style=suite.style, tables=tables,
                       not_run=dict(not_run), interrupted=interrupted)


def _with_interval(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with ``accuracy_low`` and ``accuracy_high``: the 95% Wilson interval of its accuracy, in percent.

    None where the accuracy is not ``correct`` of ``total`` (a row not scored, or a
    summary row that is a mean of category accuracies, as BFCL's own OVERALL is):
    the interval of the pooled entries would not be that accuracy's.
    """
    correct, total, accuracy = row.get("correct"), row.get("total"), row.get("accuracy")
    interval: tuple[float | None, float | None] = (None, None)
    if accuracy is not None and correct is not None and total and abs(accuracy - 100 * correct / total) < 1e-9:
        low, high = wilson_interval(correct, total)
        interval = (100 * low, 100 * high)
    return {**row, "accuracy_low": interval[0], "accuracy_high": interval[1]}
