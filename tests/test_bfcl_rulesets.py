"""BFCL rule sets as plugins: the registry finds them, and a new one is one module that touches no shared code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import glmbench.bfcl.rulesets as plugins
from glmbench.bfcl import registry
from glmbench.bfcl.registry import get_rule_set, options_help, rule_set_names, rule_set_title
from glmbench.bfcl.ruleset import RuleSet
from glmbench.bfcl.runner import score_record
from glmbench.bfcl.scoring import summarize
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry, Verdict

WEATHER = {"name": "get_weather", "description": "d", "parameters": {
    "type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ENTRY = BFCLEntry("simple_0", "simple", [[{"role": "user", "content": "Weather in Paris?"}]], [WEATHER],
                  [{"get_weather": {"city": ["Paris"]}}])
RECORD = {"calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}], "text_calls": [], "names": {},
          "error": None}

# A rule set as a contributor would write it: one module in glmbench/bfcl/rulesets/.
DEMO = '''
from glmbench.bfcl.rulesets.bfcl import BFCLRules
from glmbench.bfcl.types import Verdict


class StrictRules(BFCLRules):
    """BFCL's requests and rules, except that live categories are not scored."""

    name = "strict"
    title = "Strict rules: BFCL's, without live categories"
    position = 2
    style_help = "BFCL's handler again"
    scoring_help = "a demonstration"

    @property
    def unscored(self):
        return {**super().unscored, "live_simple": "not live here"}

    def check(self, entry, record):
        verdict = super().check(entry, record)
        return Verdict(verdict.ok, verdict.reason, self.name)


RULE_SET = StrictRules()
'''


def test_the_registry_finds_the_rule_sets_in_their_order():
    assert rule_set_names() == ("lightllm", "bfcl", "bfcl-v4")
    assert all(isinstance(get_rule_set(name), RuleSet) for name in rule_set_names())
    assert rule_set_title("bfcl").startswith("BFCL v3 AST checker rules")
    assert rule_set_title("gone") == "gone"  # an old summary's table under a rule set no longer known
    assert options_help()["style"] == ("Requests as LightLLM's script (lightllm) or BFCL's handler (bfcl) or "
                                       "BFCL v4's handler (bfcl-v4).")
    with pytest.raises(ValueError, match="known: lightllm, bfcl, bfcl-v4"):
        get_rule_set("vibes")


def test_a_suite_defaults_to_the_first_rule_set_and_refuses_unknown_names():
    suite = BFCLSuite()
    assert (suite.style, suite.scoring) == ("lightllm", "lightllm")
    with pytest.raises(ValueError, match="vibes"):
        BFCLSuite(scoring="vibes")


@pytest.fixture
def demo_rule_set(tmp_path: Path):
    """The demo module dropped beside the built-in rule sets (on the package's path), then taken away."""
    (tmp_path / "strict.py").write_text(DEMO)
    plugins.__path__.append(str(tmp_path))
    registry._found.cache_clear()
    yield
    plugins.__path__.remove(str(tmp_path))
    sys.modules.pop("glmbench.bfcl.rulesets.strict", None)
    registry._found.cache_clear()


def test_a_new_rule_set_is_one_module(demo_rule_set):
    assert rule_set_names() == ("lightllm", "bfcl", "bfcl-v4", "strict")
    verdicts = score_record(dict(RECORD), ENTRY)
    assert list(verdicts) == ["lightllm", "bfcl", "bfcl-v4", "strict"]
    assert verdicts["strict"] == {"ok": True, "reason": "", "rules": "strict"}
    rows = summarize({"simple": [Verdict(True)], "live_simple": [Verdict(True)]}, "strict")
    assert [(r["category"], r["scored"]) for r in rows][:2] == [("simple", True), ("live_simple", False)]
    assert BFCLSuite(style="strict", scoring="strict").scoring == "strict"
    assert "strict (a demonstration)" in options_help()["scoring"]
