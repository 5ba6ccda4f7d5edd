"""A new BFCL rule set: BFCL's own rules, except that a reply of more than ``MAX_CALLS`` calls fails.

One module in ``glmbench/bfcl/rulesets/`` defining ``RULE_SET``, an object that
follows the ``RuleSet`` protocol (``glmbench/bfcl/ruleset.py``);
``glmbench/bfcl/registry.py`` finds it by its file. Subclassing BFCL's rule set
keeps its requests (``--style capped`` sends what ``--style bfcl`` sends), its
categories left unscored and its summary formula; only the per-entry check
changes. Every run is scored under every rule set, so ``glmbench rescore``
gives stored runs this table too.

Only entries answered by the calls of one reply are capped; a multi-turn
entry's calls are per step of its conversation, and BFCL's rules judge it as
they do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glmbench.bfcl.categories import traits
from glmbench.bfcl.rulesets.bfcl import BFCLRules
from glmbench.bfcl.types import BFCLEntry, Verdict

__all__ = ["MAX_CALLS", "RULE_SET", "CappedRules"]

MAX_CALLS = 4


class CappedRules(BFCLRules):
    """BFCL v3's requests and rules, and at most ``MAX_CALLS`` calls in a reply."""

    name = "capped"
    title = f"BFCL v3 AST checker rules, at most {MAX_CALLS} calls a reply"
    position = 2  # after lightllm (0) and bfcl (1): never the default
    style_help = "BFCL's handler"
    scoring_help = f"BFCL's checker, at most {MAX_CALLS} calls a reply"

    def check(self, entry: BFCLEntry, record: Mapping[str, Any]) -> Verdict:
        calls = record.get("calls") or []
        if traits(entry.category).answer == "calls" and len(calls) > MAX_CALLS and not record.get("error"):
            return Verdict(False, f"{len(calls)} calls in one reply, more than {MAX_CALLS}", self.name)
        verdict = super().check(entry, record)
        return Verdict(verdict.ok, verdict.reason, self.name)  # under this rule set's name


RULE_SET = CappedRules()
