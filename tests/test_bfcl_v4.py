"""BFCL v4 beside v3: the release in the suite, v4's data and classes, one run scored under both, v4's summary.

The table, suite and summary tests need no data. Those marked ``bfcl_data`` need both
wheels cached (``glmbench data fetch bfcl --version all``) and are skipped without
them, or fail when ``GLMBENCH_REQUIRE_BFCL_DATA=1``. The end-to-end tests run
``glmbench bfcl`` against the simulator answering from v4's ground truth.
The differential tests against BFCL 2026.3.23's own checkers are in
tests/test_bfcl_v4_checkers.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from glmbench.bfcl import categories, registry
from glmbench.bfcl.categories import same_category, traits
from glmbench.bfcl.registry import get_rule_set
from glmbench.bfcl.ruleset import stored_verdict
from glmbench.bfcl.rulesets.bfcl_v4 import WEIGHTS
from glmbench.bfcl.scoring import summarize
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry, Verdict
from glmbench.bfcl.versions import V3, V4, VERSIONS
from glmbench.errors import GlmbenchError

from .conftest import run_cli

V4_SCORED = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
             "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
             "live_irrelevance", "live_relevance", "multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param",
             "multi_turn_long_context")
AGENTIC = ("web_search_base", "web_search_no_snippet", "memory_kv", "memory_vector", "memory_rec_sum")


def _need_wheels() -> None:
    from glmbench.bfcl.data import cached_wheel

    if cached_wheel(V3) is None or cached_wheel(V4) is None:
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA") == "1":
            pytest.fail("GLMBENCH_REQUIRE_BFCL_DATA=1 but a BFCL wheel is not cached: "
                        "run glmbench data fetch bfcl --version all")
        pytest.skip("both BFCL wheels are needed (glmbench data fetch bfcl --version all)")


@pytest.fixture(scope="module")
def v4_entries() -> dict[str, BFCLEntry]:
    from glmbench.bfcl.data import load_bfcl

    _need_wheels()
    return {e.id: e for e in load_bfcl(None, "cache", None, V4)[0]}


@pytest.fixture(scope="module")
def v3_entries() -> dict[str, BFCLEntry]:
    from glmbench.bfcl.data import load_bfcl

    _need_wheels()
    return {e.id: e for e in load_bfcl(None, "cache", None, V3)[0]}


# -- the category tables and the suite (no data) ---------------------------------------------------------

def test_v4_has_its_own_names_counts_and_groups_and_v3_is_as_it_was():
    v4 = categories.table(V4)
    assert list(v4) == [*V4_SCORED, *AGENTIC, "format_sensitivity"]
    assert categories.counts(V3) == categories.COUNTS and len(categories.COUNTS) == 19  # v3 untouched
    assert (v4["live_irrelevance"].entries, v4["live_relevance"].entries) == (884, 16)
    assert (categories.COUNTS["live_irrelevance"], categories.COUNTS["live_relevance"]) == (882, 18)
    assert v4["simple_python"].file_name == "BFCL_v4_simple_python.json"
    assert v4["memory_kv"].file_name == "BFCL_v4_memory.json" and v4["web_search_no_snippet"].own_loader
    assert traits("simple_java").doc_language == "java" and traits("irrelevance", V4).group == "irrelevance"
    assert traits("irrelevance").group == "non_live"  # v3's
    assert categories.in_group("irrelevance", V4) == ("irrelevance", "live_irrelevance")
    assert categories.in_group("live", V4) == ("live_simple", "live_multiple", "live_parallel",
                                               "live_parallel_multiple")
    # The agentic categories run where what they need is provided; the runner says what is missing.
    assert all(categories.not_run_reason(c, V4) is None for c in AGENTIC)
    from glmbench.bfcl.agentic.backends import AgenticOptions
    from glmbench.bfcl.agentic.backends import not_run_reason as agentic_not_run

    if "SERPAPI_API_KEY" not in os.environ:
        assert "SERPAPI_API_KEY" in agentic_not_run("web_search_base", AgenticOptions())
    assert "embedding model" in agentic_not_run("memory_vector", AgenticOptions())
    with pytest.raises(ValueError, match="unknown BFCL v4 category 'simple'"):
        traits("simple", V4)


@pytest.mark.parametrize("name, source, target, expected", [
    ("simple", V3, V4, "simple_python"), ("java", V3, V4, "simple_java"), ("simple_javascript", V4, V3, "javascript"),
    ("multiple", V4, V3, "multiple"), ("live_relevance", V3, V4, "live_relevance"), ("sql", V3, V4, None),
    ("memory_kv", V4, V3, None), ("format_sensitivity", V4, V4, "format_sensitivity"), ("nope", V3, V4, None),
])
def test_a_category_of_one_release_is_named_in_the_other(name, source, target, expected):
    assert same_category(name, source, target) == expected


def test_a_v4_suite_takes_v4_names_and_v4_rules_and_a_v3_suite_is_unchanged():
    v3 = BFCLSuite()
    assert (v3.bfcl_version, v3.style, v3.scoring, v3.categories) == (V3, "lightllm", "lightllm",
                                                                     list(categories.NAMES))
    v4 = BFCLSuite(bfcl_version=V4)
    assert (v4.style, v4.scoring, v4.categories) == ("bfcl-v4", "bfcl-v4", list(categories.table(V4)))
    assert BFCLSuite(bfcl_version=V4, style="bfcl", categories=["multiple"]).style == "bfcl"
    with pytest.raises(ValueError, match=r"unknown category simple; did you mean simple_python\?"):
        BFCLSuite(bfcl_version=V4, categories=["simple"])
    with pytest.raises(ValueError, match=r"simple_python is BFCL v4's: a suite with bfcl_version 2026.3.23, such "
                                         r"as bfcl-v4"):
        BFCLSuite(categories=["simple_python"])
    with pytest.raises(ValueError, match="unknown BFCL version '4'; known: 2025.6.8, 2026.3.23"):
        BFCLSuite(bfcl_version="4")


def test_the_v4_suites_name_their_release_and_rules():
    from glmbench.api import load_bfcl_suite

    for name, scored in (("bfcl-v4", [*V4_SCORED, *AGENTIC]), ("bfcl-v4-full", list(categories.table(V4)))):
        suite = load_bfcl_suite(name)
        assert (suite.bfcl_version, suite.style, suite.scoring, suite.categories) == (V4, "bfcl-v4", "bfcl-v4", scored)
    assert load_bfcl_suite("bfcl-v3").bfcl_version == V3


def test_a_verdict_is_stored_as_before_unless_it_was_not_scored_or_moved():
    assert stored_verdict(Verdict(True, "", "bfcl"), "bfcl") == {"ok": True, "reason": "", "rules": "bfcl"}
    moved = stored_verdict(Verdict(False, "x", "bfcl-v4", category="simple_python"), "bfcl-v4")
    assert moved == {"ok": False, "reason": "x", "rules": "bfcl-v4", "category": "simple_python"}
    skipped = stored_verdict(Verdict(False, "not scored: y", "bfcl-v4", scored=False), "bfcl-v4")
    assert skipped == {"ok": False, "reason": "not scored: y", "rules": "bfcl-v4", "scored": False}


# -- v4's summary (no data) ------------------------------------------------------------------------------

def _verdicts(passed: int, total: int) -> list[Verdict]:
    return [Verdict(i < passed, "", "bfcl-v4") for i in range(total)]


def _rows(tally: dict[str, tuple[int, int]]) -> dict[str, dict]:
    rows = summarize({c: _verdicts(ok, n) for c, (ok, n) in tally.items()}, "bfcl-v4")
    return {row["category"]: row for row in rows}


FULL = {"simple_python": (300, 400), "simple_java": (50, 100), "simple_javascript": (25, 50), "multiple": (180, 200),
        "parallel": (160, 200), "parallel_multiple": (140, 200), "irrelevance": (216, 240),
        "live_simple": (200, 258), "live_multiple": (800, 1053), "live_parallel": (8, 16),
        "live_parallel_multiple": (12, 24), "live_irrelevance": (800, 884), "live_relevance": (12, 16),
        "multi_turn_base": (100, 200), "multi_turn_miss_func": (80, 200), "multi_turn_miss_param": (60, 200),
        "multi_turn_long_context": (40, 200), "web_search_base": (50, 100), "web_search_no_snippet": (30, 100),
        "memory_kv": (62, 155), "memory_vector": (31, 155), "memory_rec_sum": (93, 155)}


def test_the_v4_overall_is_the_leaderboards_weighted_sum_of_its_columns():
    rows = _rows(FULL)
    acc = {c: 100 * ok / n for c, (ok, n) in FULL.items()}
    simple = (acc["simple_python"] + acc["simple_java"] + acc["simple_javascript"]) / 3
    non_live = (simple + acc["multiple"] + acc["parallel"] + acc["parallel_multiple"]) / 4
    live = 100 * (200 + 800 + 8 + 12) / (258 + 1053 + 16 + 24)
    irrelevance = (acc["irrelevance"] + acc["live_irrelevance"]) / 2
    multi_turn = sum(acc[c] for c in FULL if c.startswith("multi_turn")) / 4
    web_search = (acc["web_search_base"] + acc["web_search_no_snippet"]) / 2
    memory = (acc["memory_kv"] + acc["memory_vector"] + acc["memory_rec_sum"]) / 3
    agentic = (web_search + memory) / 2
    expected = {"NON_LIVE_SIMPLE": simple, "NON_LIVE": non_live, "LIVE": live, "IRRELEVANCE": irrelevance,
                "RELEVANCE": 75.0, "MULTI_TURN": multi_turn, "WEB_SEARCH": web_search, "MEMORY": memory,
                "AGENTIC": agentic}
    for name, value in expected.items():
        assert rows[name]["accuracy"] == pytest.approx(value), name
    overall = (10 * non_live + 10 * live + 10 * irrelevance + 30 * multi_turn + 40 * agentic) / 100
    assert rows["OVERALL"]["accuracy"] == pytest.approx(overall)
    assert "PARTIAL" not in rows["OVERALL"]["note"] and rows["OVERALL"]["total"] == sum(
        n for c, (_, n) in FULL.items() if c != "live_relevance")  # relevance is in no overall
    assert rows["FORMAT_SENSITIVITY"]["scored"] is False and "Max Delta" in rows["FORMAT_SENSITIVITY"]["note"]
    assert sum(WEIGHTS.values()) == 100
    # The leaderboard's columns, as rows after the categories, in its order.
    names = [r for r in rows if r.isupper()]
    assert names == ["NON_LIVE", "NON_LIVE_SIMPLE", "LIVE", "MULTI_TURN", "WEB_SEARCH", "MEMORY", "AGENTIC",
                     "RELEVANCE", "IRRELEVANCE", "FORMAT_SENSITIVITY", "OVERALL"]


def test_a_part_not_run_is_left_out_and_the_overall_is_marked_partial_never_counted_as_zero():
    ran = {c: v for c, v in FULL.items() if c not in AGENTIC}
    rows = _rows(ran)
    for name in ("WEB_SEARCH", "MEMORY", "AGENTIC"):
        assert rows[name]["accuracy"] is None and rows[name]["scored"] is False
        assert "none scored here: their rows, where present, say why" in rows[name]["note"]
    parts = {"non-live": rows["NON_LIVE"], "live": rows["LIVE"], "irrelevance": rows["IRRELEVANCE"],
             "multi-turn": rows["MULTI_TURN"]}
    renormalised = sum(WEIGHTS[k] * r["accuracy"] for k, r in parts.items()) / 60
    assert rows["OVERALL"]["accuracy"] == pytest.approx(renormalised)
    note = rows["OVERALL"]["note"]
    assert "PARTIAL, without agentic (40%" in note and "not the leaderboard's Overall Acc" in note
    # A group with a category missing says so, and what BFCL would do with it.
    rows = _rows({c: v for c, v in ran.items() if c != "simple_java"})
    assert "without simple_java" in rows["NON_LIVE_SIMPLE"]["note"]
    assert "BFCL would count them as 0" in rows["NON_LIVE_SIMPLE"]["note"]


def test_entries_a_release_did_not_judge_count_in_no_total_and_are_named():
    verdicts = {"simple_python": [Verdict(True), Verdict(False),
                                  Verdict(False, "not scored: changed in v4", scored=False)],
                "multi_turn_base": [Verdict(False, "not scored: its v4 score needs a v4 run", scored=False)] * 2}
    rows = {r["category"]: r for r in summarize(verdicts, "bfcl-v4")}
    assert (rows["simple_python"]["correct"], rows["simple_python"]["total"]) == (1, 2)
    assert "1 entry of this run not scored here (changed in v4)" in rows["simple_python"]["note"]
    assert rows["multi_turn_base"]["scored"] is False and "needs a v4 run" in rows["multi_turn_base"]["note"]
    assert rows["MULTI_TURN"]["accuracy"] is None


def test_without_the_other_releases_data_nothing_is_scored_under_its_rules_and_the_reason_says_how_to_fetch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from glmbench.bfcl import counterparts

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(counterparts, "_indexes", {})
    weather = {"name": "get_weather", "description": "d", "parameters": {
        "type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    entry = BFCLEntry("simple_0", "simple", [[{"role": "user", "content": "Weather in Paris?"}]], [weather],
                      [{"get_weather": {"city": ["Paris"]}}])
    record = {"calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}], "names": {}, "error": None}
    assert get_rule_set("bfcl").check(entry, record).ok  # its own release: judged as ever
    verdict = get_rule_set("bfcl-v4").check(entry, record)
    assert (verdict.ok, verdict.scored, verdict.category) == (False, False, "simple_python")
    assert "glmbench data fetch bfcl --version 2026.3.23" in verdict.reason


def test_fetch_takes_the_release_and_checks_its_own_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import dataclasses
    import hashlib
    import zipfile

    from glmbench.bfcl import data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    built = tmp_path / "built.whl"
    with zipfile.ZipFile(built, "w") as zf:
        zf.writestr("bfcl_eval/data/BFCL_v4_multiple.json", "")
    sha = hashlib.sha256(built.read_bytes()).hexdigest()
    monkeypatch.setitem(VERSIONS, V4, dataclasses.replace(VERSIONS[V4], sha256=sha))
    asked = []

    def download(folder: Path, version: str) -> Path:
        asked.append(version)
        return Path(shutil.copy(built, folder / data.wheel_name(version)))

    monkeypatch.setattr(data, "_download", download)
    wheel = data.fetch_bfcl(version=V4)
    assert wheel.name == "bfcl_eval-2026.3.23-py3-none-any.whl" and asked == [V4]
    assert data.cached_wheel(V4) == wheel and data.cached_wheel(V3) is None
    monkeypatch.setitem(VERSIONS, V4, dataclasses.replace(VERSIONS[V4], sha256="0" * 64))
    with pytest.raises(GlmbenchError, match="has sha256") as err:
        data.cached_wheel(V4)
    assert err.value.hint == "run glmbench data fetch bfcl --version 2026.3.23 --force"
    res = run_cli("data", "fetch", "bfcl", "--version", "5")
    assert res.returncode == 2 and "unknown BFCL version '5'" in res.stderr and "Traceback" not in res.stderr


# -- v4's data, its classes, twins across releases (both wheels) -----------------------------------------

@pytest.mark.bfcl_data
def test_v4_data_has_v4_counts_names_and_release(v4_entries):
    from glmbench.bfcl.data import load_bfcl

    found = {}
    for entry in v4_entries.values():
        found[entry.category] = found.get(entry.category, 0) + 1
        assert entry.version == V4
    assert found == {c: n for c, n in categories.counts(V4).items() if not categories.traits(c, V4).own_loader}
    base = v4_entries["multi_turn_base_0"]
    assert "excluded_function" in base.extra and base.function  # v4's field, kept; its functions built as v3's
    _, info = load_bfcl(["multiple", "memory_kv"], "cache", None, V4)
    assert info.version == V4 and info.count_mismatches() == {} and "memory_kv" in info.missing
    with pytest.raises(GlmbenchError, match="unknown BFCL v4 category: simple"):
        load_bfcl(["simple"], "cache", None, V4)


@pytest.mark.bfcl_data
def test_an_entry_is_judged_by_its_twin_in_the_other_release(v3_entries, v4_entries):
    from glmbench.bfcl.counterparts import counterpart

    twin = counterpart(v3_entries["simple_0"], V4)
    assert twin is v4_entries["simple_python_0"] or twin == v4_entries["simple_python_0"]
    assert counterpart(v4_entries["simple_java_3"], V3) == v3_entries["java_3"]
    # Found by content, not id: v4 renumbered live_relevance after dropping its repeated id.
    moved = counterpart(v3_entries["live_relevance_3-3-0#2"], V4)
    assert not isinstance(moved, str) and moved.id == "live_relevance_15-15-0"
    # A changed ground truth: the rules of each release judge against their own.
    changed = [e for e in v3_entries.values() if e.category == "parallel"
               and not isinstance(t := counterpart(e, V4), str) and t.ground_truth != e.ground_truth]
    assert len(changed) == 2
    # v4 changed every multi-turn entry's functions or classes: no twin, and why.
    why = counterpart(v3_entries["multi_turn_base_0"], V4)
    assert isinstance(why, str) and "needs a v4 run" in why
    assert counterpart(v4_entries["live_irrelevance_883-883-0"], V3).startswith("BFCL v3's live_irrelevance has no")
    single = [e for e in v3_entries.values() if not traits(e.category).multi_turn and e.category not in ("sql", "rest")]
    alone = sorted(e.id for e in single if isinstance(counterpart(e, V4), str))
    assert len(single) == 3641 and len(alone) == 9, alone  # every v3 single-turn entry but 9 (changed or dropped)


@pytest.mark.bfcl_data
def test_a_v4_entry_runs_on_v4s_classes_and_a_v3_entry_on_v3s(v3_entries, v4_entries):
    from glmbench.bfcl.multi_turn import execute_calls, new_environment
    from glmbench.bfcl.multi_turn.environment import CLASS_MODULES, BFCLModules, Scenario

    def following(entry: BFCLEntry) -> str:
        config = {"TwitterAPI": {"following_list": ["alice"], "authenticated": True}}
        scenario = Scenario(entry.id, ("TwitterAPI",), config, entry.version)
        return execute_calls(new_environment(scenario), [("list_all_following", {})])[0].result

    v3, v4 = v3_entries["multi_turn_base_0"], v4_entries["multi_turn_base_0"]
    assert Scenario.of(v4).version == V4 and Scenario.of(v3).version == V3
    assert following(v3) == "['alice']"  # v3's TwitterAPI returns the list ...
    assert following(v4) == '{"following_list": ["alice"]}'  # ... v4's a dict
    with pytest.raises(ValueError, match="2026.3.23's; these modules are 2025.6.8's"):
        new_environment(Scenario.of(v4), BFCLModules())
    modules = BFCLModules(version=V4)
    assert set(modules.classes) == set(CLASS_MODULES) and modules.version == V4


@pytest.mark.bfcl_data
def test_adding_v4_changes_nothing_in_a_v3_runs_tables_and_records(v3_entries, monkeypatch: pytest.MonkeyPatch):
    """A v3 run's two v3 tables and stored verdicts are the same with the v4 rule set registered as without it."""
    from glmbench.bfcl.results import summarize_run
    from glmbench.bfcl.runner import score_record

    suite = BFCLSuite(style="bfcl", scoring="bfcl")
    picked = [e for e in v3_entries.values() if not traits(e.category).multi_turn][::40]
    records = {}
    for n, entry in enumerate(picked):
        calls = [] if n % 3 else [{"name": next(iter(c)), "arguments": {}} for c in entry.ground_truth or [{"f": 0}]]
        records[entry.id] = {"id": entry.id, "category": entry.category, "calls": calls, "text_calls": [],
                             "names": {}, "error": None}
    with_v4 = {i: {**r, "verdicts": score_record(r, v3_entries[i])} for i, r in records.items()}
    summary = summarize_run("run", suite, picked, with_v4, {})
    only_v3 = {n: r for n, r in registry._found().items() if r.bfcl_version == V3}
    monkeypatch.setattr(registry, "_found", lambda: only_v3)
    without = {i: {**r, "verdicts": score_record(r, v3_entries[i])} for i, r in records.items()}
    before = summarize_run("run", suite, picked, without, {})
    assert list(summary.tables) == ["lightllm", "bfcl", "bfcl-v4"] and list(before.tables) == ["lightllm", "bfcl"]
    for rules in ("lightllm", "bfcl"):
        assert json.dumps(summary.tables[rules]) == json.dumps(before.tables[rules])
        assert all(with_v4[i]["verdicts"][rules] == without[i]["verdicts"][rules] for i in records)
        assert all(set(r["verdicts"][rules]) == {"ok", "reason", "rules"} for r in with_v4.values())
    assert {r["category"] for r in summary.tables["bfcl-v4"]} >= {"simple_python", "simple_java", "NON_LIVE"}


# -- end to end on the simulator ---------------------------------------------------------------------------

def _bfcl(tmp: Path, *args: str) -> tuple[str, dict]:
    results = tmp / "results"
    res = run_cli("bfcl", "--backend", "sim", *args, "--results-dir", str(results), timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    return res.stderr, json.loads((run_dir / "summary.json").read_text())


def _table(summary: dict, rules: str) -> dict[str, dict]:
    return {row["category"]: row for row in summary["tables"][rules]}


@pytest.mark.e2e
@pytest.mark.bfcl_data
@pytest.mark.parametrize("mode, limit", [("native", 8), ("prompt", 3)])
def test_the_simulator_answering_from_v4s_ground_truth_scores_100_on_every_v4_category_run_here(
        tmp_path: Path, mode: str, limit: int):
    _need_wheels()
    said, summary = _bfcl(tmp_path, "--suite", "bfcl-v4", "--limit", str(limit), "--mode", mode,
                          "--concurrency", "16", "--max-tokens", "4096")
    assert "answers from BFCL's ground truth" in said
    v4 = _table(summary, "bfcl-v4")
    for category in V4_SCORED:
        assert (v4[category]["accuracy"], v4[category]["total"]) == (100.0, limit), (category, v4[category])
    for name in ("NON_LIVE", "NON_LIVE_SIMPLE", "LIVE", "IRRELEVANCE", "RELEVANCE", "MULTI_TURN", "OVERALL"):
        assert v4[name]["accuracy"] == 100.0, (name, v4[name])
    for category in ("memory_kv", "memory_rec_sum"):  # offline: run after their prerequisite conversations
        assert (v4[category]["accuracy"], v4[category]["total"]) == (100.0, limit), (category, v4[category])
    assert v4["MEMORY"]["accuracy"] == v4["AGENTIC"]["accuracy"] == 100.0
    for category in ("memory_vector", "web_search_base", "web_search_no_snippet"):  # named, with what they need
        assert v4[category]["scored"] is False and v4[category]["note"].startswith("not run: needs"), v4[category]
    assert "without memory_vector" in v4["MEMORY"]["note"] and "PARTIAL" in v4["OVERALL"]["note"]
    # The same stored replies under v3's rules: the entries v3 has too, by their v3 names; multi-turn has no v3 twin.
    v3 = _table(summary, "bfcl")
    assert v3["simple"]["total"] == limit and v3["java"]["total"] == limit
    assert v3["multi_turn_base"]["scored"] is False and "needs a v3 run" in v3["multi_turn_base"]["note"]
    assert "memory_kv" not in v3 and "simple_python" not in v3


@pytest.mark.e2e
@pytest.mark.bfcl_data
def test_a_v3_run_is_scored_under_v4_where_v4_has_the_same_entries(tmp_path: Path):
    _need_wheels()
    single = "simple,java,irrelevance,live_relevance,sql"
    _, summary = _bfcl(tmp_path, "--suite", "bfcl-v3-full", "--categories", f"{single},multi_turn_base",
                       "--limit", "4")
    v4 = _table(summary, "bfcl-v4")
    for category in ("simple_python", "simple_java", "irrelevance", "live_relevance"):
        assert (v4[category]["accuracy"], v4[category]["total"]) == (100.0, 4), v4[category]
    assert v4["multi_turn_base"]["scored"] is False and "its v4 score needs a v4 run" in v4["multi_turn_base"]["note"]
    assert "sql" not in v4 and "simple" not in v4
    assert "PARTIAL" in v4["OVERALL"]["note"]
    assert _table(summary, "bfcl")["multi_turn_base"]["accuracy"] == 100.0  # its own rules: as ever
