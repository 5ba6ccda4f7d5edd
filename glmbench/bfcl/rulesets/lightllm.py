"""LightLLM's ``eval_bfcl.py`` as a rule set: how the published GLM-4.7-Flash table was asked and scored.

Requests: the script's fixed system prompt, then only the first message of the
first turn as the user message (for a live entry that opens with a system
message, that system text), tools with BFCL's types mapped and dotted names
sent as they are. Decoding: besides the server's calls, the calls written as
text in the content, which the script takes when the server parsed none. The
per-entry rules are :mod:`glmbench.bfcl.checker_lightllm`'s; an API error fails
the entry. Summary: ``OVERALL`` = entries passed / entries, over the scored
categories present (the published 49.12% is 1430/2911 over its 13 categories).
The script has no multi-turn and never runs ``live_relevance``: those are left
unscored, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glmbench.bfcl import checker_lightllm
from glmbench.bfcl.categories import COUNTS, PUBLISHED_ORDER, traits
from glmbench.bfcl.decoding import as_calls, call_dict
from glmbench.bfcl.ruleset import Tally, percent, request_failed, summary_row, sums
from glmbench.bfcl.text_calls import calls_from_text
from glmbench.bfcl.types import BFCLEntry, Verdict
from glmbench.bfcl.versions import V3

__all__ = ["SYSTEM_PROMPT", "LightLLMRules", "RULE_SET"]

SYSTEM_PROMPT = (
    "You are a helpful assistant that can use tools/functions to help answer questions. "
    "When you need to call a function, use the provided tools."
)
"""The fixed system prompt of LightLLM's BFCL script (the published table's runs)."""


class LightLLMRules:
    """LightLLM's BFCL script's requests and rules (the published table); see the module's docstring."""

    name = checker_lightllm.RULES
    title = "LightLLM eval_bfcl.py rules (the published table): OVERALL = entries passed / entries"
    position = 0  # the published table's rules: a suite's default, shown first
    style_help = "LightLLM's script"
    scoring_help = "the published table"
    bfcl_version = V3  # its entries, ground truth and category names are BFCL v3's

    @property
    def unscored(self) -> Mapping[str, str]:
        """Category -> why the script's rules do not score it."""
        return checker_lightllm.UNSCORED

    def messages(self, entry: BFCLEntry) -> list[dict[str, Any]]:
        """Its system prompt and the first message of the first turn, as the user."""
        first_turn = entry.question[0] if entry.question else []
        text = first_turn[0].get("content", "") if first_turn else ""
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]

    def tools(self, entry: BFCLEntry) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """BFCL's types mapped to JSON Schema, names as they are (so no map back)."""
        from glmbench.bfcl.convert import lightllm_tools

        return lightllm_tools(entry.function), {}

    def decoded_fields(self, content: str | None) -> dict[str, Any]:
        """``text_calls``: the calls written in the text, which the script takes when the server parsed none."""
        calls = calls_from_text(content) if content else []
        return {"text_calls": [call_dict(c.name, c.arguments, c.refused) for c in calls]}

    def check(self, entry: BFCLEntry, record: Mapping[str, Any]) -> Verdict:
        """The script's verdict; a conversation is not its to score, even one whose request failed."""
        if traits(entry.category).multi_turn:
            return Verdict(False, checker_lightllm.unscored_reason(entry.category) or "not scored", self.name)
        failed = request_failed(record)
        if failed:
            return Verdict(False, failed, self.name)
        # The script takes the calls written as text when the server parsed none.
        calls = as_calls(record["calls"]) or as_calls(record.get("text_calls") or [])
        return checker_lightllm.check_lightllm(entry, calls)

    def summary(self, tally: Tally) -> list[dict[str, Any]]:
        """``OVERALL`` = entries passed / entries, with a note where it is not the published table's."""
        if not tally:
            return []
        correct, total = sums(tally, list(tally))
        note = f"entries passed / entries over {len(tally)} categories"
        missing = [c for c in PUBLISHED_ORDER if c not in tally]
        extra = [c for c in tally if c not in PUBLISHED_ORDER]
        partial = [c for c, (_, n) in tally.items() if n != COUNTS.get(c, n)]
        if missing or extra or partial:
            why = [f"missing {', '.join(missing)}" if missing else "", f"adds {', '.join(extra)}" if extra else "",
                   f"partial {', '.join(partial)}" if partial else ""]
            note += (f"; not the published OVERALL's {len(PUBLISHED_ORDER)} full categories ("
                     + "; ".join(w for w in why if w) + ")")
        return [summary_row("OVERALL", percent(correct, total), correct, total, self.name, note)]


RULE_SET = LightLLMRules()
