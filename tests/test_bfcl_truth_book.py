"""The answer book of BFCL's ground truth (issue 27): answers every rule set passes, and what each table scores.

Where one answer passes both rule sets the book gives it (a Java number as text,
an optional key BFCL's document does not know left out); where the rule sets want
different answers, the suite's own rules (the table shown first) get theirs and
the book counts, with why, the entries the other table cannot pass, so the note a
run prints tells what each table scores by construction.
"""

from __future__ import annotations

from typing import Any

from glmbench.bfcl.registry import get_rule_set
from glmbench.bfcl.requests import decoded, prepare
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.truth_book import truth_book
from glmbench.bfcl.types import BFCLEntry

QUESTION = [[{"role": "user", "content": "Change my latte: large, oat milk."}]]


def _verdicts(entry: BFCLEntry, suite: BFCLSuite, calls: list[dict[str, Any]]) -> dict[str, bool]:
    """Each rule set's verdict on ``calls`` as the reply to ``entry``'s request."""
    names = prepare(entry, suite, "").names
    record = {**decoded(calls, None), "names": names}
    return {rules: get_rule_set(rules).check(entry, record).ok for rules in ("lightllm", "bfcl")}


def _drink(id: str = "live_multiple_0-0-0", question: list = QUESTION, size: str = "large") -> BFCLEntry:
    function = {"name": "ChaDri.change_drink", "description": "Change a drink.", "parameters": {
        "type": "dict", "required": ["drink_id"], "properties": {
            "drink_id": {"type": "string", "description": "The drink."},
            "new_preferences": {"type": "dict", "description": "What changes.", "properties": {
                "size": {"type": "string"}, "milk_type": {"type": "string"}}}}}}
    truth = [{"ChaDri.change_drink": {"drink_id": ["latte"],
                                      "new_preferences": [{"size": [size], "milk_type": ["oat", "oatmilk"]}]}}]
    return BFCLEntry(id, "live_multiple", question, [function], truth)


def test_a_java_number_is_sent_as_text_which_both_rule_sets_pass() -> None:
    # LightLLM-style requests declare the type as BFCL writes it; BFCL's checker wants Java values as text, and
    # LightLLM's script reads the text "3" as the number 3: one answer passes both.
    entry = BFCLEntry("java_18", "java", [[{"role": "user", "content": "Count the roles on page 3."}]],
                      [{"name": "SysRoleController.queryPageRoleCount", "description": "Count roles.",
                        "parameters": {"type": "dict", "required": ["pageNo"], "properties": {
                            "pageNo": {"type": "integer", "description": "The page."}}}}],
                      [{"SysRoleController.queryPageRoleCount": {"pageNo": [3]}}])
    suite = BFCLSuite()
    book = truth_book([entry], suite)
    [line] = book.lines
    assert line["tool_calls"] == [{"name": "SysRoleController.queryPageRoleCount", "arguments": {"pageNo": "3"}}]
    assert _verdicts(entry, suite, line["tool_calls"]) == {"lightllm": True, "bfcl": True}
    assert book.passes("lightllm") == book.passes("bfcl") == 1 and not book.short


def test_an_optional_key_the_functions_document_does_not_know_is_left_out_for_bfcls_rules() -> None:
    # BFCL's data has a key its document lacks ("operating_system0"), with "" among its values: BFCL's checker
    # passes the call only without it, LightLLM's script only with it.
    function = {"name": "get_aws_pricing", "description": "Prices.", "parameters": {
        "type": "dict", "required": ["memory"], "properties": {
            "memory": {"type": "integer", "description": "GiB."},
            "operating_system": {"type": "string", "description": "OS."}}}}
    entry = BFCLEntry("live_simple_9-5-0", "live_simple", [[{"role": "user", "content": "Price 2 GiB on Linux."}]],
                      [function], [{"get_aws_pricing": {"memory": [2], "operating_system0": ["", "Linux"]}}])
    suite = BFCLSuite(scoring="bfcl")
    book = truth_book([entry], suite)
    [line] = book.lines
    assert line["tool_calls"] == [{"name": "get_aws_pricing", "arguments": {"memory": 2}}]
    assert _verdicts(entry, suite, line["tool_calls"]) == {"lightllm": False, "bfcl": True}
    assert book.short == {"lightllm": {"where its rules want an optional parameter sent": 1}}


def test_a_nested_dict_gets_one_value_where_the_suites_rules_want_it_and_the_other_table_is_counted() -> None:
    entry = _drink()
    # BFCL's rules shown first: one allowed value at every level of the dict.
    bfcl_first = BFCLSuite(scoring="bfcl")
    book = truth_book([entry], bfcl_first)
    [call] = book.lines[0]["tool_calls"]
    assert call["arguments"]["new_preferences"] == {"size": "large", "milk_type": "oat"}
    assert _verdicts(entry, bfcl_first, [call]) == {"lightllm": False, "bfcl": True}
    assert (book.passes("bfcl"), book.passes("lightllm")) == (1, 0)
    assert book.expected() == ("by construction the bfcl table scores near 100% (1 of 1 entries), the lightllm "
                               "table 0 of 1 (1 where its rules want a dict's lists of allowed values as written)")
    # LightLLM's script shown first compares the dict as written, lists and all: no answer passes both.
    book = truth_book([entry], BFCLSuite())
    [call] = book.lines[0]["tool_calls"]
    assert call["arguments"]["new_preferences"] == {"size": ["large"], "milk_type": ["oat", "oatmilk"]}
    assert book.short == {"bfcl": {"where its rules want one of a dict's allowed values, not the lists": 1}}
    assert book.expected().startswith("by construction the lightllm table scores near 100% (1 of 1 entries), "
                                      "the bfcl table 0 of 1 (1 where")


def test_two_entries_with_one_question_and_other_calls_are_counted_as_the_book_cannot_tell_them_apart() -> None:
    first, second = _drink("live_multiple_0-0-0"), _drink("live_multiple_1-0-1", size="small")
    other = _drink("live_multiple_2-0-2", [[{"role": "user", "content": "A small latte, oat milk."}]], "small")
    book = truth_book([first, second, other], BFCLSuite(scoring="bfcl"))
    # The simulator keeps the last line of a key: the first entry gets the second's answer.
    assert len({line["key"] for line in book.lines}) == 2
    same = "with the question and tools of another entry that wants other calls"
    assert book.short["bfcl"] == {same: 1} and book.passes("bfcl") == 2
    assert f"the bfcl table scores near 100% (2 of 3 entries: 1 {same})" not in book.expected()  # 67%: not near
    assert book.expected().startswith(f"by construction the bfcl table 2 of 3 (1 {same})")
