"""Output equivalence (issue 25): the same prompts at temperature 0 against two configurations, token by token.

The comparison's rules on plain data (where a difference starts, its margin, a
changed call or verdict), the two shapes of logprobs a stream brings, and the
whole check against simulators (real processes on 127.0.0.1) told to diverge
at known positions for known prompts: the report names exactly those prompts,
positions and margins, and its gate fails the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmbench.equivalence.diff import NEAR_TIE, batch_invariance, diff_outputs
from glmbench.load.reply import Reply, ReplyError

from .conftest import run_cli

MINI = Path(__file__).parent / "data" / "bfcl_mini"


def _out(prompt: str, tokens: list[str], margins: list[float] | None = None, pass_: str = "alone", copy: int = 0,
         kind: str = "sharegpt", **extra) -> dict:
    margins = margins or [3.0] * len(tokens)
    top = [[[t, -0.05], ["other", -0.05 - m]] for t, m in zip(tokens, margins)]
    return {"prompt": prompt, "kind": kind, "pass": pass_, "copy": copy, "text": "".join(tokens), "tokens": tokens,
            "top": top, "error": None, **extra}


def test_the_first_difference_is_placed_in_tokens_and_characters_with_the_references_margin() -> None:
    ref = [_out("a", ["x ", "y ", "z "], [3.0, 0.02, 3.0]), _out("b", ["p ", "q "]), _out("c", ["m ", "n "])]
    cand = [_out("a", ["x ", "w ", "v "]), _out("b", ["p ", "q "]), _out("c", ["m "])]
    [alone] = diff_outputs(ref, cand, "ref", "cand").passes
    by = {d.prompt: d for d in alone.prompts}
    assert by["b"].match and not by["a"].match and not by["c"].match
    assert (by["a"].token, by["a"].char, by["a"].reference_token, by["a"].candidate_token) == (1, 2, "y ", "w ")
    assert by["a"].margin == pytest.approx(0.02) and by["a"].margin < NEAR_TIE
    assert (by["c"].token, by["c"].char, by["c"].candidate_token) == (1, 2, None)  # the candidate stopped early
    summary = alone.summary()
    assert summary["match_rate"] == pytest.approx(1 / 3) and summary["first_diff_tokens"] == [1, 1]
    assert summary["near_ties"] == 1 and summary["wide_margins"] == 1


def test_a_bfcl_prompt_says_whether_its_calls_and_verdict_changed_and_a_failed_request_is_not_compared() -> None:
    calls = [{"name": "f", "arguments": {"a": 1}}]
    ref = [_out("bfcl-1", ["<tool_call>", "f"], kind="bfcl", calls=calls, verdicts={"bfcl": True}),
           _out("bfcl-2", ["x"], kind="bfcl", calls=[], verdicts={"bfcl": False})]
    cand = [_out("bfcl-1", ["<tool_call>", "g"], kind="bfcl", calls=[{"name": "g", "arguments": {}}],
                 verdicts={"bfcl": False}),
            {**_out("bfcl-2", ["x"], kind="bfcl"), "text": None, "error": "HTTP 500: boom"}]
    [alone] = diff_outputs(ref, cand, "ref", "cand").passes
    one, two = alone.prompts
    assert one.calls_changed and one.verdict_changed and two.error == "HTTP 500: boom"
    assert alone.summary()["compared"] == 1 and alone.summary()["failed"] == 1


def test_without_tokens_a_difference_is_placed_in_characters_and_batch_invariance_compares_a_run_with_itself():
    ref = [{**_out("a", ["ab", "cd"]), "tokens": None, "top": None}]
    cand = [{**_out("a", ["ab", "ce"]), "tokens": None, "top": None}]
    [alone] = diff_outputs(ref, cand, "r", "c").passes
    assert (alone.prompts[0].char, alone.prompts[0].token, alone.prompts[0].margin) == (3, None, None)
    run = [_out("a", ["x ", "y "]), _out("a", ["x ", "z "], pass_="loaded"), _out("a", ["q "], pass_="loaded", copy=1)]
    own = batch_invariance(run, "r")
    assert own is not None and own.name == "alone vs loaded" and own.prompts[0].token == 1  # copy 0 only


def test_a_reply_keeps_each_token_and_its_alternatives_from_either_logprobs_shape() -> None:
    text = Reply(chat=False, logprobs=True)
    text.take(1, {"text": "ab", "logprobs": {"tokens": ["a", "b"], "token_logprobs": [-0.1, -0.2],
                                             "top_logprobs": [{"a": -0.1, "c": -2.0}, {"d": -1.5, "b": -0.2}]}}, None)
    assert text.tokens == ["a", "b"] and text.top == [[("a", -0.1), ("c", -2.0)], [("b", -0.2), ("d", -1.5)]]
    chat = Reply(chat=True, logprobs=True)
    delta = {"content": "hi"}
    chat.take(1, {"delta": delta, "logprobs": {"content": [
        {"token": "hi", "logprob": -0.3, "top_logprobs": [{"token": "hi", "logprob": -0.3},
                                                           {"token": "yo", "logprob": -1.0}]}]}}, delta)
    assert chat.tokens == ["hi"] and chat.top == [[("hi", -0.3), ("yo", -1.0)]]
    with pytest.raises(ReplyError):
        chat.take(2, {"delta": delta, "logprobs": {"content": [{"token": 5}]}}, delta)


def _equivalence_run(start_sim, tmp: Path, name: str, settings: dict) -> Path:
    sim = start_sim("--settings", json.dumps({"outputs": "by-prompt", **settings}), "--ttft-ms", "2", "--itl-ms", "1")
    results = tmp / name
    res = run_cli("equivalence", "run", "--endpoint", sim.url, "--bfcl-data-dir", str(MINI), "--sharegpt", "3",
                  "--bfcl", "16", "--conversations", "1", "--max-tokens", "16", "--loaded", "6", "--results-dir",
                  str(results), "--label", name, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    return run_dir


@pytest.mark.e2e
def test_known_divergences_are_reported_exactly_and_fail_the_gate(start_sim, tmp_path: Path) -> None:
    # The model: a near tie at token 5 of the circle's area, a clear choice at token 9 of the temperature
    # conversion. The reference flips neither; the candidate flips the near tie always and the clear choice only
    # when the server holds other requests too (a batch-dependent bug).
    near, wide = {"prompt": "area of a circle", "at": 5, "margin": 0.01}, {"prompt": "Convert 451 F", "at": 9,
                                                                           "margin": 4.0}
    reference = _equivalence_run(start_sim, tmp_path, "reference",
                                 {"diverge": [{**near, "when": "never"}, {**wide, "when": "never"}]})
    candidate = _equivalence_run(start_sim, tmp_path, "candidate",
                                 {"diverge": [{**near, "when": "always"}, {**wide, "when": "loaded"}]})

    res = run_cli("equivalence", "diff", str(reference), str(candidate), "--format", "json")
    assert res.returncode == 1 and "outputs changed: alone" in res.stderr, res.stderr
    data = json.loads(res.stdout)
    passes = {p["pass"]: p for p in data["passes"]}
    alone, loaded = passes["alone"], passes["loaded"]
    assert [(d["prompt"], d["token"]) for d in alone["differences"]] == [("bfcl-simple_0", 5)]
    [flip] = alone["differences"]
    assert flip["margin"] == pytest.approx(0.01) and flip["reference_token"] != flip["candidate_token"]
    assert sorted((d["prompt"], d["token"]) for d in loaded["differences"]) == [("bfcl-simple_0", 5),
                                                                                  ("bfcl-simple_1", 9)]
    wide = next(d for d in loaded["differences"] if d["prompt"] == "bfcl-simple_1")
    assert wide["margin"] == pytest.approx(4.0)
    assert alone["near_ties"] == 1 and alone["wide_margins"] == 0 and loaded["wide_margins"] == 1
    assert alone["compared"] == alone["matched"] + 1 and data["gates"][0] == {
        "pass": "alone", "required": 1.0, "measured": alone["match_rate"], "held": False}
    # The candidate's own batch invariance names the batch-dependent change, and nothing else.
    summary = json.loads((candidate / "summary.json").read_text())
    assert [(d["prompt"], d["token"]) for d in summary["differences"]] == [("bfcl-simple_1", 9)]
    assert summary["logprobs"] and summary["passes"][1]["in_flight_p50"] >= 2
    # A gate the candidate meets passes; the reference against itself matches everywhere.
    assert run_cli("equivalence", "diff", str(reference), str(candidate), "--require-alone", "0.8").returncode == 0
    same = json.loads(run_cli("equivalence", "diff", str(reference), str(reference), "--format", "json").stdout)
    assert all(p["match_rate"] == 1.0 for p in same["passes"]) and same["passed"]
