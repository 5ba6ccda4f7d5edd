"""BFCL tool conversion, the two rule sets' checkers, text-call recovery and the summary rows.

Each scoring rule has a hand-made case that passes and one that fails, under
BFCL's rules (``check_bfcl``) and LightLLM's script's rules (``check_lightllm``).
The LightLLM OVERALL formula is checked against the published GLM-4.7-Flash
table (1430/2911 = 49.12%).
"""

from __future__ import annotations

import builtins
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from glmbench.bfcl.checker_bfcl import check_bfcl, standardize
from glmbench.bfcl.checker_lightllm import (
    calls_from_text,
    check_lightllm,
    decode_arguments,
)
from glmbench.bfcl.convert import bfcl_tools, decode_java_js, lightllm_tools, sent_name
from glmbench.bfcl.java_js import UnsupportedType
from glmbench.bfcl.scoring import summarize
from glmbench.bfcl.types import CATEGORIES, BFCLEntry, Call, Verdict


def fn(name: str, props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "description": "Does it.",
            "parameters": {"type": "dict", "properties": props, "required": list(required)}}


def entry(category: str, functions: list[dict[str, Any]], truth: list[dict[str, Any]] | None = None) -> BFCLEntry:
    return BFCLEntry(f"{category}_0", category, [[{"role": "user", "content": "q"}]], functions, truth)


def call(name: str, **arguments: Any) -> Call:
    return Call(name, arguments)


# One letter per parameter type, so the schemas below read as BFCL's tables do.
S, I, F, B = ({"type": t, "description": "x"} for t in ("string", "integer", "float", "boolean"))  # noqa: E741

FACTORIAL = fn("math.factorial", {"number": I}, ("number",))
GAMMA = fn("math.gamma", {"number": F}, ("number",))
WEATHER = fn("get_weather", {"city": S, "unit": S, "days": I}, ("city",))
WEATHER_TRUTH = [{"get_weather": {"city": ["New York, NY"], "unit": ["celsius", ""], "days": [3, ""]}}]


def bfcl(category: str, functions: list[dict[str, Any]], truth: Any, calls: list[Call],
         names: dict[str, str] | None = None) -> Verdict:
    verdict = check_bfcl(entry(category, functions, truth), calls, names)
    assert verdict.rules == "bfcl"
    return verdict


def lightllm(category: str, functions: list[dict[str, Any]], truth: Any, calls: list[Call]) -> Verdict:
    verdict = check_lightllm(entry(category, functions, truth), calls)
    assert verdict.rules == "lightllm"
    return verdict


# -- tool conversion ----------------------------------------------------------

def test_bfcl_tools_maps_names_types_and_descriptions():
    doc = fn("geo.distance", {
        "point": {"type": "dict", "description": "p", "properties": {"lat": F, "tag": {"type": "any"}}},
        "pair": {"type": "tuple", "description": "t", "items": {"type": "float"}},
        "rows": {"type": "array", "description": "r", "items": {"type": "array", "items": {"type": "integer"}}},
        "blob": {"type": "any", "description": "b"},
        "odd": {"type": "bytes-ish", "description": "o"},
        "bare": {"description": "no type"},
    })
    original = repr(doc)
    toolset = bfcl_tools([doc], "simple")
    assert repr(doc) == original  # the entry's documents are not touched
    assert toolset.names == {"geo_distance": "geo.distance"}
    tool = toolset.tools[0]
    assert tool["type"] == "function"
    f = tool["function"]
    assert f["name"] == "geo_distance"
    assert f["description"] == "Does it. Note that the provided function is in Python 3 syntax."
    params = f["parameters"]
    assert params["type"] == "object"
    props = params["properties"]
    assert props["point"]["type"] == "object"
    assert props["point"]["properties"]["lat"] == {"type": "number", "description": "x This is a float type value.",
                                                   "format": "float"}
    assert props["point"]["properties"]["tag"]["type"] == "string"
    assert props["pair"]["type"] == "array" and props["pair"]["items"] == {"type": "number"}
    assert props["rows"]["items"] == {"type": "array", "items": {"type": "integer"}}
    assert props["blob"]["type"] == "string" and props["odd"]["type"] == "string" and props["bare"]["type"] == "string"


def test_bfcl_tools_java_sends_strings_with_type_hints():
    doc = fn("Map.merge", {"flag": {"type": "boolean", "description": "Flag."},
                           "ids": {"type": "ArrayList", "description": "Ids.", "items": {"type": "long"}},
                           "obj": {"type": "any", "description": "Obj."}})
    f = bfcl_tools([doc], "java").tools[0]["function"]
    assert f["name"] == "Map_merge"
    assert f["description"].endswith(" Note that the provided function is in Java 8 SDK syntax.")
    props = f["parameters"]["properties"]
    assert all(p["type"] == "string" for p in props.values())
    assert props["flag"]["description"] == "Flag. This is Java boolean type parameter in string representation."
    assert "items" not in props["ids"]
    assert props["ids"]["description"].endswith(
        "in string representation. The list elements are of type long; they are not in string representation.")
    assert props["obj"]["description"] == (
        "Obj. This parameter can be of any type of Java object in string representation.")


def test_bfcl_tools_javascript_moves_dict_schema_into_the_description():
    doc = fn("setup", {"opts": {"type": "dict", "description": "Opts.", "properties": {"a": S}}})
    prop = bfcl_tools([doc], "javascript").tools[0]["function"]["parameters"]["properties"]["opts"]
    assert prop["type"] == "string" and "properties" not in prop
    assert prop["description"].startswith("Opts. This is JavaScript dict type parameter in string representation.")
    assert prop["description"].endswith('following schema; they are not in string representation. '
                                        '{"a": {"type": "string", "description": "x"}}')


def test_lightllm_tools_maps_python_type_names_and_keeps_dotted_names():
    doc = fn("math.hypot", {"xy": {"type": "tuple", "items": {"type": "float"}}, "meta": {"type": "dict"},
                            "n": {"type": "integer"}, "v": {"type": "any"}})
    f = lightllm_tools([doc])[0]["function"]
    assert f["name"] == "math.hypot" and f["description"] == "Does it."
    assert f["parameters"]["type"] == "object"
    props = f["parameters"]["properties"]
    assert props["xy"] == {"type": "array", "items": {"type": "number"}}
    assert props["meta"]["type"] == "object" and props["n"]["type"] == "integer"
    assert props["v"]["type"] == "any"  # the script sends unknown names as they are


def test_sent_name_follows_the_name_map():
    assert sent_name("math.factorial", {"math_factorial": "math.factorial"}) == "math_factorial"
    assert sent_name("math.factorial", {}) == "math.factorial"


# -- java / javascript values ---------------------------------------------------

@pytest.mark.parametrize(("value", "hint", "items", "expected"), [
    ("true", "boolean", None, True),
    ("yes", "boolean", None, "yes"),
    ("-12", "integer", None, -12),
    ("12L", "long", None, 12),
    ("12", "long", None, "12"),
    ("3.5f", "float", None, 3.5),
    ("3.5", "float", None, "3.5"),
    ("2.5e2", "double", None, 250.0),
    ("'a'", "char", None, "'a'"),  # BFCL's char pattern never matches
    ("new int[]{1, 2, 3}", "Array", "integer", [1, 2, 3]),
    ('new String[]{"a", "b"}', "Array", "String", ['"a"', '"b"']),  # BFCL keeps the quotes here
    ('new ArrayList<>(Arrays.asList("a", "b"))', "ArrayList", "String", ["a", "b"]),
    ("new ArrayList<Long>() {{ add(1L); add(2L); }}", "ArrayList", "long", [1, 2]),
    ("new ArrayList<>()", "ArrayList", None, []),
    ('new HashMap<String, Object>() {{ put("k", 50); put("s", "x"); put("b", true); }}', "HashMap", None,
     {"k": 50, "s": "x", "b": True}),
    ("new HashMap<>()", "HashMap", None, {}),
    ("userMap", "HashMap", None, "userMap"),
    ("anything", "any", None, "anything"),
])
def test_decode_java(value, hint, items, expected):
    assert decode_java_js(value, hint, "java", items) == expected


@pytest.mark.parametrize(("value", "hint", "items", "expected"), [
    ("'abc'", "String", None, "abc"),
    ("abc", "String", None, "abc"),
    ("42", "integer", None, 42),
    ("4.2", "float", None, 4.2),
    ("1e3", "float", None, "1e3"),
    ("10n", "Bigint", None, 10),
    ("false", "Boolean", None, False),
    ("[1, 'two', true]", "array", None, [1, "two", True]),
    ("new Array(4, 5)", "array", "integer", [4, 5]),
    ('["a", "b"]', "array", "String", ["a", "b"]),
    ("[[1, 2], [3, 4]]", "array", "array", [[1, 2], [3, 4]]),
    ("{'key': 123, 'on': true, 'list': [1, 2]}", "dict", None, {"key": 123, "on": True, "list": [1, 2]}),
    ("{}", "dict", None, {}),
    ("notADict", "dict", None, "notADict"),
])
def test_decode_javascript(value, hint, items, expected):
    assert decode_java_js(value, hint, "javascript", items) == expected


def test_decode_java_js_refuses_what_bfcl_cannot_convert():
    with pytest.raises(UnsupportedType):
        decode_java_js("new HashSet<>()", "Set", "java")
    with pytest.raises(UnsupportedType):
        decode_java_js("x", "Object", "javascript")
    with pytest.raises(ValueError):
        decode_java_js("x", "String", "kotlin")


# -- BFCL rules -----------------------------------------------------------------

def test_bfcl_simple_needs_the_right_function():
    truth = [{"math.factorial": {"number": [5]}}]
    assert bfcl("simple", [FACTORIAL], truth, [call("math.factorial", number=5)]).ok
    verdict = bfcl("simple", [FACTORIAL], truth, [call("math.gamma", number=5)])
    assert not verdict.ok and verdict.reason == "wrong function: expected math.factorial, got math.gamma"


def test_bfcl_simple_needs_exactly_one_call():
    truth = [{"math.factorial": {"number": [5]}}]
    two = [call("math.factorial", number=5)] * 2
    assert bfcl("simple", [FACTORIAL], truth, two).reason == "expected 1 call, got 2"
    assert bfcl("simple", [FACTORIAL], truth, []).reason == "expected 1 call, got 0"


def test_bfcl_names_compare_in_the_form_they_were_sent():
    truth = [{"math.factorial": {"number": [5]}}]
    names = bfcl_tools([FACTORIAL, GAMMA], "multiple").names
    assert bfcl("simple", [FACTORIAL], truth, [call("math_factorial", number=5)], names).ok
    # BFCL compares the converted expected name: the dotted name was not what was offered.
    assert not bfcl("simple", [FACTORIAL], truth, [call("math.factorial", number=5)], names).ok
    wrong = bfcl("simple", [FACTORIAL], truth, [call("math_gamma", number=5)], names)
    assert wrong.reason == "wrong function: expected math.factorial, got math.gamma"


def test_bfcl_strings_are_standardized():
    assert standardize("New York, NY") == "newyorkny"
    assert standardize("It's A-b_c*d^e/f.") == 'it"sabcdef'
    ok = [call("get_weather", city="new york ny")]
    assert bfcl("simple", [WEATHER], WEATHER_TRUTH, ok).ok
    verdict = bfcl("simple", [WEATHER], WEATHER_TRUTH, [call("get_weather", city="Newark")])
    assert not verdict.ok and verdict.reason == "param 'city': 'Newark' not in ['New York, NY']"


def test_bfcl_int_for_float_but_not_float_for_int_nor_number_as_string():
    truth = [{"math.gamma": {"number": [3.0]}}]
    assert bfcl("simple", [GAMMA], truth, [call("math.gamma", number=3)]).ok
    factorial = [{"math.factorial": {"number": [3]}}]
    assert bfcl("simple", [FACTORIAL], factorial, [call("math.factorial", number=3)]).ok
    verdict = bfcl("simple", [FACTORIAL], factorial, [call("math.factorial", number=3.0)])
    assert not verdict.ok and verdict.reason == "param 'number': 3.0 is not of type integer"
    assert not bfcl("simple", [FACTORIAL], factorial, [call("math.factorial", number="3")]).ok
    assert not bfcl("simple", [FACTORIAL], factorial, [call("math.factorial", number=True)]).ok
    wrong = bfcl("simple", [GAMMA], [{"math.gamma": {"number": [3]}}], [call("math.gamma", number=3.5)])
    assert wrong.reason == "param 'number': 3.5 not in [3]"


def test_bfcl_parameter_absent_from_the_answer_fails():
    truth = [{"get_weather": {"city": ["Paris"]}}]
    assert bfcl("simple", [WEATHER], truth, [call("get_weather", city="Paris")]).ok
    verdict = bfcl("simple", [WEATHER], truth, [call("get_weather", city="Paris", unit="celsius")])
    assert verdict.reason == "unexpected param 'unit'"


def test_bfcl_omission_needs_an_empty_string_and_no_requirement():
    assert bfcl("simple", [WEATHER], WEATHER_TRUTH, [call("get_weather", city="New York, NY")]).ok
    must = [{"get_weather": {"city": ["Paris"], "unit": ["celsius"]}}]
    verdict = bfcl("simple", [WEATHER], must, [call("get_weather", city="Paris")])
    assert verdict.reason == "param 'unit' omitted, but the possible answer does not allow omitting it"
    required = fn("convert", {"value": I, "unit": S}, ("value", "unit"))
    truth = [{"convert": {"value": [1], "unit": ["m", ""]}}]
    assert bfcl("simple", [required], truth, [call("convert", value=1)]).reason == "missing required param 'unit'"


def test_bfcl_null_is_not_an_omission():
    verdict = bfcl("simple", [WEATHER], WEATHER_TRUTH, [call("get_weather", city="New York, NY", unit=None)])
    assert not verdict.ok and verdict.reason == "param 'unit': None is not of type string"


def test_bfcl_lists_compare_in_order_with_strings_standardized():
    doc = fn("pick", {"items": {"type": "array", "items": {"type": "string"}}}, ("items",))
    truth = [{"pick": {"items": [["Red Apple", "pear"], ["pear"]]}}]
    assert bfcl("simple", [doc], truth, [call("pick", items=["red apple", "PEAR"])]).ok
    assert bfcl("simple", [doc], truth, [call("pick", items=["pear"])]).ok
    assert not bfcl("simple", [doc], truth, [call("pick", items=["pear", "red apple"])]).ok
    assert not bfcl("simple", [doc], truth, [call("pick", items=[1])]).ok  # element type


def test_bfcl_lists_of_lists():
    doc = fn("grid", {"rows": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}})
    truth = [{"grid": {"rows": [[[1, 2], [3, 4]]]}}]
    assert bfcl("simple", [doc], truth, [call("grid", rows=[[1, 2], [3, 4]])]).ok
    assert not bfcl("simple", [doc], truth, [call("grid", rows=[[3, 4], [1, 2]])]).ok


def test_bfcl_dicts_compare_key_by_key():
    doc = fn("book", {"guest": {"type": "dict", "properties": {"name": S, "age": I}}}, ("guest",))
    truth = [{"book": {"guest": [{"name": ["Ann Lee"], "age": [30, ""]}]}}]
    assert bfcl("simple", [doc], truth, [call("book", guest={"name": "ann lee", "age": 30})]).ok
    assert bfcl("simple", [doc], truth, [call("book", guest={"name": "Ann Lee"})]).ok
    extra = bfcl("simple", [doc], truth, [call("book", guest={"name": "Ann Lee", "vip": True})])
    assert extra.reason == "param 'guest': unexpected dict key 'vip'"
    missing = bfcl("simple", [doc], [{"book": {"guest": [{"name": ["Ann"], "age": [30]}]}}],
                   [call("book", guest={"name": "Ann"})])
    assert missing.reason == "param 'guest': dict key 'age' missing"


def test_bfcl_lists_of_dicts_compare_in_order():
    doc = fn("order", {"lines": {"type": "array", "items": {"type": "dict"}}}, ("lines",))
    truth = [{"order": {"lines": [[{"sku": ["A"]}, {"sku": ["B"]}]]}}]
    assert bfcl("simple", [doc], truth, [call("order", lines=[{"sku": "a"}, {"sku": "b"}])]).ok
    assert not bfcl("simple", [doc], truth, [call("order", lines=[{"sku": "b"}, {"sku": "a"}])]).ok
    assert not bfcl("simple", [doc], truth, [call("order", lines=[{"sku": "a"}])]).ok


def test_bfcl_variable_names_compare_exactly():
    # The schema says integer but the answer holds a variable name: a string is compared as it is.
    truth = [{"math.factorial": {"number": ["n_items"]}}]
    assert bfcl("simple", [FACTORIAL], truth, [call("math.factorial", number="n_items")]).ok
    assert not bfcl("simple", [FACTORIAL], truth, [call("math.factorial", number="N_ITEMS")]).ok


def test_bfcl_multiple_needs_one_call_of_the_right_function():
    truth = [{"math.gamma": {"number": [2.5]}}]
    docs = [FACTORIAL, GAMMA]
    assert bfcl("multiple", docs, truth, [call("math.gamma", number=2.5)]).ok
    assert bfcl("multiple", docs, truth, [call("math.factorial", number=2)]).reason == \
        "wrong function: expected math.gamma, got math.factorial"
    assert bfcl("multiple", docs, truth, [call("math.gamma", number=2.5)] * 2).reason == "expected 1 call, got 2"


def test_bfcl_parallel_accepts_any_order_and_needs_matching_counts():
    truth = [{"get_weather": {"city": ["Paris"]}}, {"get_weather": {"city": ["Rome"]}}]
    rome, paris = call("get_weather", city="Rome"), call("get_weather", city="Paris")
    assert bfcl("parallel", [WEATHER], truth, [rome, paris]).ok
    assert bfcl("parallel", [WEATHER], truth, [rome]).reason == "expected 2 calls, got 1"
    verdict = bfcl("parallel", [WEATHER], truth, [rome, rome])
    assert verdict.reason == "no call fits expected call 1 (get_weather): param 'city': 'Rome' not in ['Paris']"


def test_bfcl_parallel_matching_is_greedy_as_in_bfcl():
    doc = fn("f", {"x": I}, ("x",))
    truth = [{"f": {"x": [1, 2]}}, {"f": {"x": [1]}}]
    # A perfect matching exists (2 -> first, 1 -> second), but the first expected call
    # takes the first output that fits, as BFCL does, and the second finds nothing.
    assert not bfcl("parallel", [doc], truth, [call("f", x=1), call("f", x=2)]).ok
    assert bfcl("parallel", [doc], truth, [call("f", x=2), call("f", x=1)]).ok


def test_bfcl_parallel_multiple():
    truth = [{"math.factorial": {"number": [5]}}, {"get_weather": {"city": ["Oslo"]}}]
    calls = [call("get_weather", city="oslo"), call("math.factorial", number=5)]
    assert bfcl("parallel_multiple", [FACTORIAL, WEATHER], truth, calls).ok
    assert not bfcl("parallel_multiple", [FACTORIAL, WEATHER], truth, calls[:1] + [call("math.gamma", number=5)]).ok


def test_bfcl_java_values_are_strings_converted_back():
    doc = fn("Cache.put", {"key": {"type": "String"}, "ttl": {"type": "long"}, "sync": {"type": "boolean"},
                           "opts": {"type": "HashMap"}}, ("key", "ttl"))
    truth = [{"Cache.put": {"key": ["user:1"], "ttl": [60], "sync": [True, ""], "opts": [{"mode": ["lru"]}, ""]}}]
    names = {"Cache_put": "Cache.put"}
    opts = 'new HashMap<String, String>() {{ put("mode", "lru"); }}'
    good = call("Cache_put", key="user:1", ttl="60L", sync="true", opts=opts)
    assert bfcl("java", [doc], truth, [good], names).ok
    assert bfcl("java", [doc], truth, [call("Cache_put", key="user:1", ttl=60)], names).reason == \
        "param 'ttl': expected a java value written as a string, got int"
    assert bfcl("java", [doc], truth, [call("Cache_put", key="user:1", ttl="60")], names).reason == \
        "param 'ttl': '60' is not of type long"


def test_bfcl_javascript_values_are_strings_converted_back():
    doc = fn("sum", {"nums": {"type": "array", "items": {"type": "integer"}}, "label": {"type": "String"}},
             ("nums",))
    truth = [{"sum": {"nums": [[1, 2]], "label": ["total", ""]}}]
    assert bfcl("javascript", [doc], truth, [call("sum", nums="[1, 2]", label="'Total'")]).ok
    assert not bfcl("javascript", [doc], truth, [call("sum", nums="[2, 1]")]).ok


def test_bfcl_irrelevance_passes_iff_no_call():
    for category in ("irrelevance", "live_irrelevance"):
        assert bfcl(category, [WEATHER], None, []).ok
        verdict = bfcl(category, [WEATHER], None, [call("get_weather", city="x")])
        assert not verdict.ok and verdict.reason == "expected no call, got 1 (get_weather)"


def test_bfcl_live_relevance_passes_iff_some_call():
    assert bfcl("live_relevance", [WEATHER], None, [call("anything")]).ok
    assert bfcl("live_relevance", [WEATHER], None, []).reason == "expected at least one call, got none"


@pytest.mark.parametrize(("category", "words"), [
    ("rest", "never sends model calls to the network"),
    ("sql", "not scored by BFCL itself"),
    ("multi_turn_base", "scored on its whole conversation"),
])
def test_bfcl_leaves_executed_and_unscored_categories_alone(category, words):
    verdict = bfcl(category, [WEATHER], WEATHER_TRUTH, [])
    assert not verdict.ok and words in verdict.reason


# -- LightLLM's rules -------------------------------------------------------------

def test_lightllm_irrelevance_passes_iff_no_call():
    assert lightllm("irrelevance", [WEATHER], None, []).ok
    assert not lightllm("live_irrelevance", [WEATHER], None, [call("get_weather")]).ok


def test_lightllm_counts_must_match():
    truth = [{"get_weather": {"city": ["Paris"]}}]
    assert lightllm("simple", [WEATHER], truth, [call("get_weather", city="Paris")]).ok
    assert lightllm("parallel", [WEATHER], truth, []).reason == "expected 1 call, got 0"


def test_lightllm_pairs_calls_sorted_by_name_keeping_order_within_a_name():
    truth = [{"get_weather": {"city": ["Paris"]}}, {"add": {"a": [1]}}, {"get_weather": {"city": ["Rome"]}}]
    in_order = [call("get_weather", city="Paris"), call("get_weather", city="Rome"), call("add", a=1)]
    assert lightllm("parallel_multiple", [], truth, in_order).ok
    swapped = [call("get_weather", city="Rome"), call("add", a=1), call("get_weather", city="Paris")]
    assert lightllm("parallel_multiple", [], truth, swapped).reason == "param 'city': 'Rome' not in ['Paris']"


def test_lightllm_names_must_be_equal_exactly():
    truth = [{"math.factorial": {"number": [5]}}]
    assert lightllm("simple", [FACTORIAL], truth, [call("math.factorial", number=5)]).ok
    assert lightllm("simple", [FACTORIAL], truth, [call("math_factorial", number=5)]).reason == \
        "wrong function: expected math.factorial, got math_factorial"


def test_lightllm_needs_every_answer_key_and_ignores_extra_keys():
    verdict = lightllm("simple", [WEATHER], WEATHER_TRUTH, [call("get_weather", city="New York, NY")])
    assert verdict.reason == "missing param 'unit' (every answer key is required, optional ones too)"
    full = call("get_weather", city="new york, ny ", unit="", days=3, extra="ignored")
    assert lightllm("simple", [WEATHER], WEATHER_TRUTH, [full]).ok


def test_lightllm_normalizes_numbers_and_case_but_not_punctuation():
    truth = [{"get_weather": {"city": ["New York, NY"], "unit": ["celsius", ""], "days": [3, ""]}}]
    ok = call("get_weather", city=" NEW YORK, NY", unit="Celsius", days="3.0")
    assert lightllm("simple", [WEATHER], truth, [ok]).ok
    assert not lightllm("simple", [WEATHER], truth, [call("get_weather", city="new york ny", unit="", days=3)]).ok
    assert not lightllm("simple", [WEATHER], truth, [call("get_weather", city="New York, NY", unit="", days=4)]).ok


def test_lightllm_accepts_equal_text_after_normalizing():
    doc = fn("pick", {"ids": {"type": "array"}})
    truth = [{"pick": {"ids": ["[1.0, 2.0]"]}}]  # the answer holds the list as text
    assert lightllm("simple", [doc], truth, [call("pick", ids=[1, 2])]).ok
    assert not lightllm("simple", [doc], truth, [call("pick", ids=[2, 1])]).ok


def test_lightllm_rest_has_no_answers_so_passes_iff_no_call():
    assert lightllm("rest", [WEATHER], None, []).ok
    assert lightllm("rest", [WEATHER], None, [call("requests.get", url="x")]).reason == "expected 0 calls, got 1"


def test_lightllm_scores_sql_with_its_answers():
    doc = fn("sql.execute", {"sql_keyword": S, "table_name": S, "columns": {"type": "array"}})
    truth = [{"sql.execute": {"sql_keyword": ["SELECT"], "table_name": ["students"], "columns": [["name"]]}}]
    good = call("sql.execute", sql_keyword="select", table_name="students", columns=["Name"])
    assert lightllm("sql", [doc], truth, [good]).ok
    assert not lightllm("sql", [doc], truth, [call("sql.execute", sql_keyword="SELECT", table_name="teachers",
                                                   columns=["name"])]).ok


def test_lightllm_leaves_categories_the_script_never_runs_unscored():
    for category in ("live_relevance", "multi_turn_base"):
        verdict = lightllm(category, [WEATHER], None, [])
        assert not verdict.ok and "not a category of LightLLM's script" in verdict.reason


def test_decode_arguments_counts_invalid_json_as_empty():
    assert decode_arguments('{"city": "Paris", "n": 2}') == {"city": "Paris", "n": 2}
    assert decode_arguments('{"city": ') == {}
    assert decode_arguments(None) == {} and decode_arguments("") == {}
    assert decode_arguments("[1, 2]") == {}
    assert decode_arguments({"a": 1}) == {"a": 1}
    assert decode_arguments('{"big": 123456789012345678901234567890}') == {"big": 1.2345678901234568e29}


# -- calls written as text --------------------------------------------------------

def test_calls_from_text_reads_python_call_lists():
    calls = calls_from_text('[get_weather(city="Paris", days=3), add(a=1, b=-2.5)]')
    assert calls == [call("get_weather", city="Paris", days=3), call("add", a=1, b=-2.5)]


def test_calls_from_text_reads_json():
    assert calls_from_text('{"name": "add", "arguments": {"a": 1}}') == [call("add", a=1)]
    assert calls_from_text('[{"name": "add", "arguments": {"a": 1}}, {"x": 1}]') == [call("add", a=1), Call("")]
    assert calls_from_text("[]") == []
    prose = 'I will call {"name": "add", "arguments": {"a": 1}} now.'
    assert calls_from_text(prose) == [call("add", a=1)]


def test_calls_from_text_keeps_the_scripts_quirks():
    # Empty parentheses are a call; the name is the last dotted part; arguments end at the first ")".
    assert calls_from_text("Use print() to see it.") == [Call("print")]
    assert calls_from_text("math.factorial(number=5)") == [call("factorial", number=5)]
    assert calls_from_text("f(point=(1, 2))") == []
    assert calls_from_text("f(a=undefined_name)") == []  # NameError in the script
    assert calls_from_text("f(a=1, a=2)") == []  # a repeated keyword is a SyntaxError
    assert calls_from_text("f(a=2**10, b='ab'*2)") == [call("f", a=1024, b="abab")]
    # Names of the script's own variables resolve, as they do in its eval.
    assert calls_from_text("lookup(key=name)") == [call("lookup", key="lookup")]


def test_calls_from_text_executes_nothing(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(os, "system", lambda *a: ran.append(a) or 0)
    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda *a, **k: ran.append(a[0]) if a[0] == "os" else real_import(*a, **k))
    target = tmp_path / "pwned"
    texts = [
        "__import__('os').system('x')",
        f"f(a=__import__('os').system('touch {target}'))",
        f"open('{target}', 'w').write('x')",
        "f(a=exec, b=os.system)",
        "f(x=[c for c in 'ab'], y=lambda: os)",
    ]
    results = [calls_from_text(t) for t in texts]
    assert not ran and not target.exists()
    assert results[0] == [] and results[1] == [] and results[2] == []
    assert [c.name for c in results[3]] == ["f"] and results[3][0].arguments["a"].startswith("<unevaluated")
    assert results[4] == [call("f", x=["a", "b"], y="<unevaluated: lambda: os>")]


def test_calls_from_text_caps_runaway_arithmetic():
    start = time.monotonic()
    calls = calls_from_text("f(a=9**9**9, b='x'*10**12)")
    assert time.monotonic() - start < 2
    assert calls[0].name == "f" and all(v.startswith("<unevaluated") for v in calls[0].arguments.values())


# -- summaries --------------------------------------------------------------------

# The published GLM-4.7-Flash table (LightLLM's deployment guide; seed copy in
# /work/shared/seeds/lightllm-glm-4.7-flash-deployment.txt).
PUBLISHED = {
    "simple": "62.50", "multiple": "54.50", "parallel": "69.50", "parallel_multiple": "61.50", "java": "66.00",
    "javascript": "48.00", "irrelevance": "83.33", "live_simple": "45.74", "live_multiple": "34.00",
    "live_parallel": "25.00", "live_parallel_multiple": "37.50", "rest": "2.86", "sql": "28.00",
}
PUBLISHED_OVERALL = "49.12"
SEED = Path("/work/shared/seeds/lightllm-glm-4.7-flash-deployment.txt")


def verdict_lists(accuracies: dict[str, str], rules: str) -> dict[str, list[Verdict]]:
    out = {}
    for category, text in accuracies.items():
        total = CATEGORIES[category]
        correct = round(float(text) * total / 100)
        out[category] = [Verdict(True, "", rules)] * correct + [Verdict(False, "x", rules)] * (total - correct)
    return out


@pytest.mark.skipif(not SEED.is_file(), reason="the seed copy of the published table is not here")
def test_published_table_matches_the_seed_copy():
    text = SEED.read_text()
    for category, accuracy in {**PUBLISHED, "OVERALL": PUBLISHED_OVERALL}.items():
        assert re.search(rf"^{category}\s*\n\s*\n?{re.escape(accuracy)}%", text, re.M), category


def test_lightllm_overall_reproduces_the_published_table():
    rows = summarize(verdict_lists(PUBLISHED, "lightllm"), "lightllm")
    assert [r["category"] for r in rows] == [*PUBLISHED, "OVERALL"]
    assert all(r["rules"] == "lightllm" and r["scored"] for r in rows)
    for row in rows[:-1]:
        assert f"{row['accuracy']:.2f}" == PUBLISHED[row["category"]]
    overall = rows[-1]
    assert (overall["correct"], overall["total"]) == (1430, 2911)
    assert f"{overall['accuracy']:.2f}" == PUBLISHED_OVERALL
    assert overall["note"] == "entries passed / entries over 13 categories"


def test_lightllm_overall_says_when_it_is_not_the_published_one():
    rows = summarize({"simple": [Verdict(True)] * 3 + [Verdict(False)]}, "lightllm")
    assert rows[0]["note"] == "4 of 400 entries"
    assert rows[-1]["category"] == "OVERALL" and rows[-1]["accuracy"] == 75.0
    assert "not the published OVERALL" in rows[-1]["note"] and "missing multiple" in rows[-1]["note"]


def test_bfcl_summary_follows_bfcls_formulas():
    def tally(correct: int, total: int) -> list[Verdict]:
        return [Verdict(True, "", "bfcl")] * correct + [Verdict(False, "x", "bfcl")] * (total - correct)

    verdicts = {
        "simple": tally(1, 2), "java": tally(2, 2), "javascript": tally(0, 2),  # simple group: 50
        "multiple": tally(1, 1), "parallel": tally(0, 1), "parallel_multiple": tally(1, 2),
        "irrelevance": tally(4, 4),
        "live_simple": tally(1, 2), "live_multiple": tally(3, 4),
        "rest": tally(0, 3), "sql": tally(0, 5),
    }
    rows = {r["category"]: r for r in summarize(verdicts, "bfcl")}
    assert all(r["rules"] == "bfcl" for r in rows.values())
    assert rows["rest"]["scored"] is False and rows["rest"]["accuracy"] is None
    assert rows["sql"]["scored"] is False and "not scored by BFCL" in rows["sql"]["note"]
    assert rows["NON_LIVE"]["accuracy"] == pytest.approx((50 + 100 + 0 + 50 + 100) / 5)
    assert rows["LIVE"]["accuracy"] == pytest.approx(100 * 4 / 6)
    assert (rows["LIVE"]["correct"], rows["LIVE"]["total"]) == (4, 6)
    assert "live_relevance" in rows["LIVE"]["note"]
    assert "MULTI_TURN" not in rows
    overall = rows["OVERALL"]
    assert overall["accuracy"] == pytest.approx((60 + 100 * 4 / 6) / 2)
    assert "multi-turn not scored" in overall["note"] and "not BFCL's official overall" in overall["note"]
    assert list(rows)[-3:] == ["NON_LIVE", "LIVE", "OVERALL"]


def test_summarize_refuses_unknown_rules():
    with pytest.raises(ValueError):
        summarize({}, "vibes")
