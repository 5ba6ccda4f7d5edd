"""BFCL v4's format_sensitivity: function documents, return-format decoders, the run and its spread.

The differential test runs BFCL 2026.3.23's own code in a subprocess, from the
wheel's files unpacked into a temporary folder: its function-document formatters
(``format_function_doc``), its prompting system prompt on its own
format_sensitivity entries (``load_dataset_entry`` then
``system_prompt_pre_processing_chat_model``) and its prompt-mode decoder
(``default_decode_ast_prompting`` and ``is_function_calling_format_output``) on
generated replies. Needs the bfcl-eval==2026.3.23 wheel in glmbench's BFCL cache
(skipped without it).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from glmbench.bfcl.agentic.format_decoding import decode_format_reply, encode_calls, truth_reply
from glmbench.bfcl.agentic.format_sensitivity import CONFIGS, parse_config


@pytest.fixture(scope="module")
def wheel() -> Path:
    from glmbench.bfcl.agentic.wheel import v4_wheel
    from glmbench.errors import GlmbenchError

    try:
        return v4_wheel()
    except GlmbenchError as exc:
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA"):
            raise
        pytest.skip(exc.message)


@pytest.fixture(scope="module")
def entries(wheel):
    from glmbench.bfcl.agentic.format_sensitivity import load_entries

    return load_entries(wheel=wheel)


def _config(ret: str, tag: bool) -> str:
    return next(c for c in CONFIGS if parse_config(c).return_format == ret and parse_config(c).tool_call_tag == tag)


# -- decoders: rules that need no data ------------------------------------------------------------


@pytest.mark.parametrize("ret, tag, text, calls", [
    ("python", False, "[f(a=1, b='x'), g()]", [("f", {"a": 1, "b": "x"}), ("g", {})]),
    ("python", False, "f(a=-2, b=2*3, c=x, d=h(y=1), e=k(1))", [("f", {"a": -2, "b": 6, "c": "x",
                                                                    "d": {"h": {"y": 1}}, "e": "k(1)"})]),
    ("python", True, "I will call <TOOLCALL>[f(a=[1, (2, 3)])]</TOOLCALL>", [("f", {"a": [1, [2, 3]]})]),
    ("json", False, 'Sure: [{"function": "f", "parameters": {"a": 1}}] done', [("f", {"a": 1})]),
    ("json", False, "no json here", []),
    ("verbose_xml", False, '<functions><function name="f"><params><param name="a" type="object" '
                           'value="{\'k\': 1}"/></params></function></functions>', [("f", {"a": {"k": 1}})]),
    ("concise_xml", True, '<TOOLCALL><functions><function name="f"><param name="a" type="boolean">True</param>'
                          '</function></functions></TOOLCALL>', [("f", {"a": True})]),
])
def test_a_reply_decodes_to_its_calls(ret, tag, text, calls):
    reply = decode_format_reply(text, _config(ret, tag))
    assert reply.error == ""
    assert [(c["name"], c["arguments"]) for c in reply.calls] == calls


@pytest.mark.parametrize("ret, tag, text, error", [
    ("python", True, "[f(a=1)]", "no <TOOLCALL> tag"),
    ("python", False, "[f(a=not_a_value + 1)]", "arithmetic"),
    ("python", False, "[f(a=lambda: 1)]", "unsupported"),
    ("json", False, "[7]", ""),                                   # not an object: no call, BFCL's [] too
    ("json", False, '[{"function": "f"}]', "without 'function' or 'parameters'"),
    ("json", False, '[{"function": "f", "parameters": [1]}]', "decoder_wrong_output_format"),
    ("verbose_xml", False, "<functions><function></function></functions>", "without a name"),
    ("concise_xml", False, '<functions><function name="f"><param name="a" type="integer">x</param>'
                           '</function></functions>', "is not an integer"),
    ("concise_xml", False, "<functions><function name='f'>", "no <functions> element"),
])
def test_a_reply_that_does_not_decode_says_why(ret, tag, text, error):
    reply = decode_format_reply(text, _config(ret, tag))
    assert reply.calls == [] and error in reply.error


def test_a_reply_over_the_bounds_is_not_read_and_model_text_is_never_run(tmp_path):
    from glmbench.glm.limits import MAX_CALL_TEXT_CHARS

    assert "characters" in decode_format_reply("[" + "f()," * MAX_CALL_TEXT_CHARS + "]", CONFIGS[0]).error
    marker = tmp_path / "ran"
    text = f"[f(a=__import__('pathlib').Path({str(marker)!r}).touch() or 1 + 1)]"
    assert decode_format_reply(text, _config("python", False)).error
    assert not marker.exists()


def test_calls_written_in_each_return_format_read_back_as_they_are():
    calls = [("f.g", {"s": "a <b> & 'c' \"d\"", "i": -3, "x": 2.5, "b": False, "n": None, "l": [1, "two"],
                      "d": {"k": [{"z": True}, 1]}}), ("h", {})]  # no "}]" inside: BFCL's JSON reading ends there
    for config in CONFIGS:
        reply = decode_format_reply(encode_calls(calls, config), config)
        assert reply.error == "" and [(c["name"], c["arguments"]) for c in reply.calls] == calls, config


# -- the differential test against BFCL 2026.3.23's own code ---------------------------------------

_REFERENCE = r'''
import copy, json, sys, types
from unittest import mock
wheel_dir, source, target = sys.argv[1:4]
sys.path.insert(0, wheel_dir)
stub = types.ModuleType("bfcl_eval.constants.model_config"); stub.MODEL_CONFIG_MAPPING = {}
sys.modules[stub.__name__] = stub
o = types.ModuleType("overrides"); o.final = lambda f: f; o.override = lambda f: f
sys.modules.setdefault("overrides", o)
for name in ("tree_sitter", "tree_sitter_java", "tree_sitter_javascript", "tenacity"):
    try:
        __import__(name)
    except ImportError:
        sys.modules[name] = mock.MagicMock()
for name in ("dotenv", "tqdm"):
    try:
        __import__(name)
    except ImportError:
        m = types.ModuleType(name); m.load_dotenv = lambda *a, **k: None; m.tqdm = lambda x, *a, **k: x
        sys.modules[name] = m
for _ in range(40):
    try:
        import bfcl_eval.model_handler.utils as mu
        import bfcl_eval.utils as bu
        break
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.startswith("bfcl_eval"):
            raise
        for key in [k for k in sys.modules if k.startswith("bfcl_eval")]:
            del sys.modules[key]
        sys.modules[stub.__name__] = stub
        sys.modules[exc.name] = mock.MagicMock()
from bfcl_eval.constants.enums import ReturnFormat

def norm(v):
    if isinstance(v, dict):
        return {k if isinstance(k, str) else str(norm(k)): norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return v if -2**63 <= v < 2**63 else float(v)
    return str(v)

given = json.load(open(source))
out = {"docs": [], "prompts": {}, "decoded": [], "configs": bu.get_all_format_sensitivity_configs()}
for functions in given["docs"]:
    out["docs"].append({f: mu.format_function_doc(copy.deepcopy(functions), f) for f in ("xml", "python", "json")})
for entry in bu.load_dataset_entry("format_sensitivity"):
    if entry["id"].split(":")[-1] in given["prompt_ids"]:
        out["prompts"][entry["id"]] = mu.system_prompt_pre_processing_chat_model(
            copy.deepcopy(entry["question"][0]), entry["function"], entry["id"])
for text, config in given["replies"]:
    ret, tag, _, _, _ = mu.parse_prompt_variation_params(config)
    try:
        decoded = mu.default_decode_ast_prompting(text, ReturnFormat(ret), tag)
    except Exception as exc:
        out["decoded"].append({"error": "ast_decoder:decoder_failed"})
        continue
    if not bu.is_function_calling_format_output(decoded):
        out["decoded"].append({"error": "ast_decoder:decoder_wrong_output_format"})
        continue
    out["decoded"].append({"calls": [[str(list(c)[0]), norm(list(c.values())[0])] for c in decoded]})
json.dump(out, open(target, "w"))
'''

_HAND_MADE = [
    "[f(a=1), 'x']", "f(1, 2, a=3)", "[f(a=+1), g(b=not 1), h(c=~2)]", "[f(a=-'x')]", "[f(a={1: 2, 'k': [3]})]",
    "[f(a=x[1], b=x.y, c=f'{x}')]", "[f(a={**d})]", "[f(**k)]", "a.b.c(x=1)", "'[f(a=1)]'", "```python\nf(a=1)\n```",
    "[f(a=1)", "f(a=1)]", "[]", "", "   ", "[f(a='}]')]", '[{"function": "f", "parameters": {"a": "}]"}}]',
    '{"function": "f", "parameters": {}}', '[{"function": ["f"], "parameters": {}}]', '[{"function": 1, "parameters": {}}]',
    '["x", {"function": "f", "parameters": {}}]', '[1, 2]', '[true]', '"text"', '[{"a": 1}] and [{"function": "f", '
    '"parameters": {}}]', '[ { "function" : "f" , "parameters" : { } } , {"function": "g", "parameters": {"x": [1]}} ]',
    "[" + "9" * 5000 + "]", '[{"function": "f", "parameters": {"a": ' + "9" * 5000 + "}}]",
    '<functions><function name="f"><param name="a" type="integer">12</param><param name="b">t</param></function>'
    '</functions>',
    '<functions><function name="f"><param name="a" type="float"> 1e3 </param><param name="n" type="null">x</param>'
    '</function></functions>',
    '<functions><function name="f"><param type="string">x</param></function></functions>',
    '<functions><function name="f"><params><param name="a" value="v"/></params><param name="b" value="w"/>'
    '</function></functions>',
    '<functions><function name="f"><param name="a" type="array" value="[1,"/></function></functions>',
    '<functions><function name="f"><param name="a" type="tuple" value="(1, 2)"/><param value="1"/></function>'
    '</functions>',
    '<functions><function name="f"><param name="a" type="dict">{"k": {1, 2}}</param></function></functions>',
    '<functions><!DOCTYPE x [<!ENTITY e "boom">]><function name="&e;"/></functions>',
    '<functions><function name="f"></functions>', 'text <functions></functions> text',
    '[{"function": "f", "parameters": [1]}]', '[{"function": "f", "parameters": "x"}]',
    '<TOOLCALL></TOOLCALL>', '<TOOLCALL>[f(a=1)]</TOOLCALL><TOOLCALL>[g()]</TOOLCALL>', '<toolcall>[f()]</toolcall>',
]
_NOISE = list("[]{}<>()'\",=:/ \n`") + ["<TOOLCALL>", "</TOOLCALL>", "<functions>", "</functions>", "true", "1.5"]


def _replies(entries: list[Any]) -> list[tuple[str, str]]:
    rng = random.Random(29)
    replies = [(truth_reply(e), e.extra["variant"]) for e in entries]
    for text, config in list(replies):
        mutated = list(text)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(mutated) + 1)
            if rng.random() < 0.5 and at < len(mutated):
                del mutated[at]
            else:
                mutated.insert(at, rng.choice(_NOISE))
        replies.append(("".join(mutated), config))
    replies += [(text, config) for text in _HAND_MADE for config in CONFIGS]
    return replies


def _doc_functions(entries: list[Any]) -> list[list[dict[str, Any]]]:
    made_up = [
        {"name": "a.b", "description": "D", "parameters": {"type": "dict", "properties": {
            "x": {"type": "string", "enum": ["p", "q"], "default": "p", "description": "X, with a comma"},
            "y": {"type": "array", "items": {"type": "integer"}},
            "z": {"type": "dict", "description": "Z", "required": ["u"], "properties": {
                "u": {"type": "float"}, "v": {"type": "dict", "additionalProperties": {"type": "string"},
                                              "properties": {"w": {"type": "tuple", "items": {"type": "any"}}}}}},
            "m": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "boolean"}}},
            "t": {"type": "any", "default": None}}}},
        {"name": "none", "parameters": {"type": "dict", "properties": {}}},
        {"name": "req", "description": "", "parameters": {"type": "dict", "required": [], "properties": {
            "k": {"type": "list", "description": "d"}}}},
    ]
    seen: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        seen.setdefault(e.extra["source_id"], e.function)
    return [made_up, *seen.values()]


def test_glmbench_agrees_with_bfcls_own_formatters_prompts_and_decoders(wheel, entries, tmp_path):
    """Function documents (all 200 entries' functions and made-up ones), the system prompt of every variant of 12
    entries as BFCL's prompting handlers build it, and BFCL's decoder on replies in every return format (every
    entry's ground truth, each mutated at random, and hand-made ones): all must agree."""
    from glmbench.bfcl.agentic.format_sensitivity import function_documents, messages

    docs = _doc_functions(entries)
    prompt_ids = sorted({e.extra["source_id"] for e in entries})[::17]
    replies = _replies(entries)
    source, target, folder = tmp_path / "given.json", tmp_path / "bfcl.json", tmp_path / "bfcl"
    source.write_text(json.dumps({"docs": docs, "prompt_ids": prompt_ids, "replies": replies}))
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if member.startswith("bfcl_eval/") and ".." not in member and (
                    member.endswith(".py") or member.startswith("bfcl_eval/data/")):
                zf.extract(member, folder)
    env = dict(os.environ, BFCL_PROJECT_ROOT=str(folder))
    reference = subprocess.Popen([sys.executable, "-c", _REFERENCE, str(folder), str(source), str(target)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    ours_docs = [{f: function_documents(copy.deepcopy(fs), f) for f in ("xml", "python", "json")} for fs in docs]
    ours_prompts = {e.id: messages(e, wheel) for e in entries if e.extra["source_id"] in prompt_ids}
    ours = []
    for text, config in replies:
        reply = decode_format_reply(text, config)
        ours.append({"error": reply.error.split(":", 2)[0] + ":" + reply.error.split(":", 2)[1]} if reply.error
                    else {"calls": [[c["name"], c["arguments"]] for c in reply.calls]})
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err[-3000:]
    theirs = json.loads(target.read_text())

    assert list(CONFIGS) == theirs["configs"]
    doc_disagree = [i for i, (a, b) in enumerate(zip(ours_docs, theirs["docs"])) if a != b]
    prompt_disagree = [k for k in theirs["prompts"] if ours_prompts.get(k) != theirs["prompts"][k]]
    decode_disagree = [(r, a, b) for r, a, b in zip(replies, ours, theirs["decoded"]) if a != b]
    kinds = Counter(d.get("error", "calls") for d in ours)
    print(f"\nformat_sensitivity vs BFCL 2026.3.23: documents {len(docs) - len(doc_disagree)}/{len(docs)} function "
          f"lists x 3 formats; system prompts {len(theirs['prompts']) - len(prompt_disagree)}/"
          f"{len(theirs['prompts'])}; decoded replies {len(replies) - len(decode_disagree)}/{len(replies)} {dict(kinds)}")
    assert len(theirs["prompts"]) == len(prompt_ids) * 26 == len(ours_prompts)
    assert doc_disagree == [] and prompt_disagree == []
    assert decode_disagree[:5] == []
    assert kinds["calls"] > 5000 and kinds["ast_decoder:decoder_failed"] > 1000
    assert kinds["ast_decoder:decoder_wrong_output_format"] >= 6


# -- a run: the simulator answering each variant from the ground truth --------------------------------


def test_the_simulator_answering_in_each_variants_format_scores_full_marks(wheel, entries, tmp_path):
    from glmbench.bfcl.agentic.format_sensitivity import load_entries, spread
    from glmbench.bfcl.results import summarize_run
    from glmbench.bfcl.runner import rescore, run_entries
    from glmbench.bfcl.suite import BFCLSuite
    from glmbench.bfcl.truth_book import truth_book, write_truth_book

    from .conftest import SimProcess

    asked = load_entries(limit=2, wheel=wheel)
    assert len(asked) == 2 * 26 and [e.id for e in asked] == [e.id for e in entries[:52]]
    suite = BFCLSuite(categories=["format_sensitivity"], bfcl_version="2026.3.23", mode="prompt", concurrency=16,
                      limit=2)
    book = truth_book(asked, suite)
    write_truth_book(tmp_path / "book.jsonl", book.lines)
    sim = SimProcess(tmp_path, "--settings", json.dumps({"answers": str(tmp_path / "book.jsonl")}),
                     "--ttft-ms", "1", "--itl-ms", "0")
    try:
        records = asyncio.run(run_entries(asked, suite, sim.url, "m", tmp_path / "bfcl_records.jsonl"))
    finally:
        sim.stop()
    assert len(records) == 52 and {r["variant"] for r in records.values()} == set(CONFIGS)
    v4 = [r["verdicts"]["bfcl-v4"] for r in records.values()]
    assert all(v["ok"] for v in v4), [v["reason"] for v in v4 if not v["ok"]][:3]
    summary = summarize_run("r", suite, asked, records, {})
    rows = {row["category"]: row for row in summary.tables["bfcl-v4"]}
    assert rows["FORMAT_SENSITIVITY"]["max_delta"] == 0.0 and rows["FORMAT_SENSITIVITY"]["std"] == 0.0
    assert all(rows[f"format_sensitivity:{c}"]["accuracy"] == 100.0 for c in CONFIGS)
    assert rows["OVERALL"]["accuracy"] is None  # reported apart: in no score

    # Rescored from the records alone, a wrong reply fails its variant and the spread moves.
    by_id = {e.id: e for e in asked}
    broken = {**records[asked[0].id], "response": {"choices": [{"text": "no calls"}]}}
    again = {r["id"]: r for r in rescore([broken, *(r for r in records.values() if r["id"] != broken["id"])], by_id)}
    assert not again[asked[0].id]["verdicts"]["bfcl-v4"]["ok"]
    rows = {row["category"]: row for row in summarize_run("r", suite, asked, again, {}).tables["bfcl-v4"]}
    assert rows["FORMAT_SENSITIVITY"]["max_delta"] == 50.0
    assert spread({"a": (1, 2), "b": (2, 2)}).max_delta == 50.0


def test_a_suite_limits_format_sensitivity_per_variant_and_native_mode_does_not_run_it(wheel):
    from glmbench.api.bfcl_run import suite_entries
    from glmbench.bfcl.suite import BFCLSuite

    for mode, asked, why in (("prompt", 2 * 26, None), ("native", 0, "needs prompt mode (--mode prompt)")):
        suite = BFCLSuite(categories=["simple_python", "format_sensitivity"], bfcl_version="2026.3.23", mode=mode,
                          limit=2)
        entries, _, not_run = suite_entries(suite)
        assert Counter(e.category for e in entries) == Counter({"simple_python": 2, "format_sensitivity": asked}) - Counter()
        assert (not_run.get("format_sensitivity") or "").startswith(why or "") and bool(not_run) == bool(why)
