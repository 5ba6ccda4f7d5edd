"""The simulator's prefix cache, and the prefix hit rate each backend reads from its server's own counters.

The simulated server runs in the test's event loop with a truth log; requests
go one after another, so which blocks are cached when each arrives is known.
The expected hits come from the block rule written out here on the pieces
themselves (a block hits when every piece up to its end began an earlier
prompt in whole blocks), not from the cache's hashes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from glmbench.backends.base import PlainMetrics
from glmbench.backends.registry import get_backend
from glmbench.metrics.server import parse_prometheus
from glmbench.sim.config import SimConfig
from glmbench.sim.generation import count_tokens, openai_prompt, prompt_pieces
from glmbench.sim.prefix_cache import PrefixCache
from glmbench.sim.run import start_in_loop
from glmbench.util.loop import run_async

from .conftest import run_cli

FAST = {"ttft_ms": 2, "itl_ms": 1}
DIALECTS = ("vllm", "sglang", "lightllm")
# Each dialect's (hit tokens, looked-up tokens) counters, as its real server names them.
COUNTERS = {"vllm": ("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"),
            "sglang": ("sglang:cached_tokens_total", "sglang:prompt_tokens_total"),
            "lightllm": ("lightllm_cache_length_sum", "lightllm_prompt_tokens_total")}

_WORDS = ("the", "model", "serves", "requests", "under", "load", "with", "a", "shared", "system", "prompt", "and",
          "different", "questions", "after", "it", "cache", "blocks", "keep", "their", "prefix")
SYSTEM = " ".join(_WORDS[(7 * i) % len(_WORDS)] for i in range(400)) + "."
QUESTIONS = ("What is the capital of France?", "How far away is the Moon?", "Name three prime numbers.",
             "Why is the sky blue?")


def _chat(question: str, system: str = SYSTEM, stream: bool = True) -> dict:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
            "max_tokens": 4, "ignore_eos": True, "stream": stream}


def _completion(prompt: str) -> dict:
    return {"prompt": prompt, "max_tokens": 3, "ignore_eos": True}


def expected_hits(prompts: list[str], block: int) -> list[int]:
    """Hit tokens of each prompt sent in order to an unlimited cache, by the block rule."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for text in prompts:
        pieces = prompt_pieces(text)
        lookable = (len(pieces) - 1) // block  # never the block with the last token
        hits = 0
        while hits < lookable and tuple(pieces[:(hits + 1) * block]) in seen:
            hits += 1
        out.append(hits * block)
        seen.update(tuple(pieces[:(j + 1) * block]) for j in range(len(pieces) // block))
    return out


@contextlib.asynccontextmanager
async def _serve(tmp_path: Path, **settings) -> AsyncIterator[tuple[aiohttp.ClientSession, str, Path]]:
    truth = tmp_path / f"truth-{settings.get('dialect', 'vllm')}-{len(list(tmp_path.iterdir()))}.jsonl"
    runner, port = await start_in_loop(SimConfig(**{**FAST, **settings}), truth_log=truth)
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{port}", truth
    finally:
        await runner.cleanup()


async def _send(session: aiohttp.ClientSession, base: str, body: dict) -> None:
    path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
    async with session.post(base + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        await resp.read()


async def _metrics(session: aiohttp.ClientSession, base: str) -> dict[str, float]:
    async with session.get(base + "/metrics") as resp:
        return parse_prometheus(await resp.text())


def _truth(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the cache's rule, through the server ----------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_shared_prefixes_hit_as_predicted_and_every_figure_agrees(dialect, tmp_path):
    bodies = [_chat(q) for q in QUESTIONS]
    bodies.append(_completion(openai_prompt(bodies[0], chat=True)))  # the first prompt again, unstreamed
    aligned = " ".join(["alpha"] * 32)  # exactly two blocks: the second can never hit
    bodies += [_completion(aligned), _completion(aligned)]
    prompts = [openai_prompt(b, chat="messages" in b) for b in bodies]
    want = expected_hits(prompts, 16)
    assert want[0] == 0 and all(h >= 16 * (count_tokens(SYSTEM) // 16) for h in want[1:5])
    assert want[-2:] == [0, 16]

    async def main():
        backend = get_backend(dialect)
        async with _serve(tmp_path, dialect=dialect, prefix_cache=True) as (s, base, truth):
            await _send(s, base, bodies[0])
            before = await backend.scrape(s, base)
            for body in bodies[1:]:
                await _send(s, base, body)
            after = await backend.scrape(s, base)
            metrics = await _metrics(s, base)
        return before, after, metrics, _truth(truth)

    before, after, metrics, lines = run_async(main())
    assert [e["prefix_hit_tokens"] for e in lines] == want
    assert [e["prefix_query_tokens"] for e in lines] == [count_tokens(p) for p in prompts]
    hits_name, queries_name = COUNTERS[dialect]
    assert metrics[hits_name] == sum(want)
    assert metrics[queries_name] == sum(count_tokens(p) for p in prompts)
    # The backend's reader over the window after the first request: hits / looked-up tokens of the rest.
    found = get_backend(dialect).prefix_hits(before, after)
    assert found is not None and hits_name in found["prefix_source"]
    assert found["prefix_hit_rate"] == pytest.approx(sum(want[1:]) / sum(count_tokens(p) for p in prompts[1:]))
    figures = get_backend(dialect).server_figures(before, after)
    assert figures is not None and {k: figures[k] for k in found} == found
    if dialect == "vllm":  # what a server of unknown kind and the sim backend read: vLLM's names
        assert PlainMetrics().prefix_hits(before, after) == found == get_backend("sim").prefix_hits(before, after)


def test_the_sglang_gauge_is_the_last_prefills_share(tmp_path):
    async def main():
        async with _serve(tmp_path, dialect="sglang", prefix_cache=True) as (s, base, _):
            assert (await _metrics(s, base))["sglang:cache_hit_rate"] == 0.0
            assert "sglang:cached_tokens_total" not in await _metrics(s, base)  # a label set appears with a hit
            for q in QUESTIONS[:2]:
                await _send(s, base, _chat(q))
            return await _metrics(s, base)

    metrics = run_async(main())
    prompt = openai_prompt(_chat(QUESTIONS[1]), chat=True)
    hit = expected_hits([openai_prompt(_chat(QUESTIONS[0]), chat=True), prompt], 16)[1]
    assert metrics["sglang:cache_hit_rate"] == pytest.approx(hit / count_tokens(prompt))


def test_lru_eviction_drops_the_least_recently_used_blocks_tails_first(tmp_path):
    # Three prompts of 9 pieces, none sharing its first: two full blocks of 4 each.
    a, b, c = (" ".join(f"{x}{i}" for i in range(9)) for x in "abc")

    async def hits(capacity: int, order: str) -> list[int]:
        async with _serve(tmp_path, prefix_cache=True, prefix_block_tokens=4, prefix_cache_blocks=capacity) as (
                s, base, truth):
            for name in order:
                await _send(s, base, _completion({"a": a, "b": b, "c": c}[name]))
            return [e["prefix_hit_tokens"] for e in _truth(truth)]

    async def main():
        return await hits(4, "abacbca"), await hits(0, "abacbca"), await hits(3, "aba")

    room_for_two, unlimited, tail_evicted = run_async(main())
    # Four blocks hold two prompts: c pushes out b (a was used since), b then pushes out a, a then pushes out b.
    assert room_for_two == [0, 0, 8, 0, 0, 8, 0]
    assert unlimited == [0, 0, 8, 0, 8, 8, 8]
    # Three blocks: b pushes out a's second block, not its first, so a still hits one block.
    assert tail_evicted == [0, 0, 4]


def test_a_hit_shortens_the_prefill_unless_it_saves_nothing(tmp_path):
    async def ttfts(discount: float) -> list[float]:
        async with _serve(tmp_path, prefix_cache=True, ttft_ms=5, prefill_ms_per_1k=100,
                          prefill_hit_discount=discount) as (s, base, truth):
            for q in QUESTIONS[:2]:
                await _send(s, base, _chat(q))
            return [(e["write_ns"][0] - e["recv_ns"]) / 1e6 for e in _truth(truth)]

    async def main():
        return await ttfts(1.0), await ttfts(0.0)

    (miss, hit), (miss_again, no_saving) = run_async(main())
    prefill_ms = 100 * count_tokens(openai_prompt(_chat(QUESTIONS[0]), chat=True)) / 1000  # about 230 ms
    assert min(miss, miss_again, no_saving) >= 0.9 * prefill_ms
    assert hit < miss - prefill_ms / 2


def test_without_the_cache_nothing_hits_and_no_rate_is_read(tmp_path):
    async def main():
        backend = get_backend("vllm")
        async with _serve(tmp_path) as (s, base, truth):
            before = await backend.scrape(s, base)
            for q in QUESTIONS[:2]:
                await _send(s, base, _chat(q))
            await _send(s, base, _completion(SYSTEM))  # unstreamed: no truth line without a cache
            return before, await backend.scrape(s, base), _truth(truth)

    before, after, lines = run_async(main())
    assert after["metrics"]["vllm:prefix_cache_queries_total"] == after["metrics"]["vllm:prefix_cache_hits_total"] == 0
    assert len(lines) == 2 and not any("prefix_hit_tokens" in e for e in lines)
    assert get_backend("vllm").prefix_hits(before, after) is None


def test_the_cache_chains_blocks_and_caps_its_size():
    cache = PrefixCache(2, capacity=3)
    assert cache.admit(list("abcdefg")) == 0 and len(cache) == 3  # 3 full blocks, the partial one not cached
    assert cache.admit(list("abcdefg")) == 6  # every full block: the last piece is in the partial one
    assert cache.admit(list("abcdef")) == 4  # the last block holds the last piece: recomputed
    assert cache.admit(list("xbcdef")) == 0  # the same later blocks after a different first: no hit
    assert cache.block_hashes(list("abcd"))[1] != cache.block_hashes(list("xbcd"))[1]


# --- the readers on each server's own text --------------------------------------------------------------


def _scrape(text: str) -> dict:
    return {"metrics": parse_prometheus(text)}


def test_vllm_reads_its_current_counters_then_the_older_names():
    now = "vllm:prefix_cache_queries_total{{engine=\"0\",model_name=\"m\"}} {q}\nvllm:prefix_cache_hits_total {h}\n"
    found = get_backend("vllm").prefix_hits(_scrape(now.format(q=100, h=10)), _scrape(now.format(q=300, h=110)))
    assert found == {"prefix_hit_rate": pytest.approx(0.5),
                     "prefix_source": "vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total"}
    old = "vllm:gpu_prefix_cache_queries_total {q}\nvllm:gpu_prefix_cache_hits_total {h}\n"
    found = get_backend("vllm").prefix_hits(_scrape(old.format(q=0, h=0)), _scrape(old.format(q=40, h=30)))
    assert found is not None and found["prefix_hit_rate"] == pytest.approx(0.75)
    assert "gpu_prefix_cache" in found["prefix_source"]
    same = _scrape(now.format(q=100, h=10))
    assert get_backend("vllm").prefix_hits(same, same) is None  # nothing looked up: prefix caching off, or idle
    assert get_backend("vllm").prefix_hits({}, same) is None


def test_sglang_reads_its_token_counters_else_its_gauge():
    backend = get_backend("sglang")
    counters = ("sglang:prompt_tokens_total{{is_streaming=\"true\"}} {p}\n"
                "sglang:cached_tokens_total{{is_streaming=\"true\"}} {c}\nsglang:cache_hit_rate 0.9\n")
    found = backend.prefix_hits(_scrape(counters.format(p=100, c=0)), _scrape(counters.format(p=500, c=300)))
    assert found["prefix_hit_rate"] == pytest.approx(0.75) and "cached_tokens_total" in found["prefix_source"]
    gauge = "sglang:prompt_tokens_total {p}\nsglang:cache_hit_rate 0.4\n"
    found = backend.prefix_hits(_scrape(gauge.format(p=100)), _scrape(gauge.format(p=200)))
    assert found == {"prefix_hit_rate": 0.4, "prefix_source": "sglang:cache_hit_rate gauge (last prefill batch)"}
    assert backend.prefix_hits(_scrape(gauge.format(p=100)), _scrape(gauge.format(p=100))) is None  # idle


def test_lightllm_reads_its_cache_length_histogram_over_prompt_tokens():
    backend = get_backend("lightllm")
    text = ('lightllm_cache_length_sum{{model_name="m"}} {c}\nlightllm_cache_length_count{{model_name="m"}} 4\n'
            'lightllm_prompt_tokens_total{{model_name="m"}} {p}\n')
    found = backend.prefix_hits(_scrape(text.format(c=10, p=100)), _scrape(text.format(c=70, p=200)))
    assert found["prefix_hit_rate"] == pytest.approx(0.6)
    old = 'lightllm_cache_length_sum {c}\nlightllm_request_input_length_sum {p}\n'
    found = backend.prefix_hits(_scrape(old.format(c=0, p=0)), _scrape(old.format(c=5, p=20)))
    assert found["prefix_hit_rate"] == pytest.approx(0.25) and "input_length" in found["prefix_source"]
    assert backend.prefix_hits({}, _scrape("lightllm_prompt_tokens_total 5\n")) is None
    assert get_backend("transformers").prefix_hits({}, {}) is None


def test_server_figures_hold_acceptance_and_prefix_hits_together():
    text = ("vllm:spec_decode_num_drafts_total {d}\nvllm:spec_decode_num_accepted_tokens_total {a}\n"
            "vllm:prefix_cache_queries_total {q}\nvllm:prefix_cache_hits_total {h}\n")
    before, after = _scrape(text.format(d=0, a=0, q=0, h=0)), _scrape(text.format(d=10, a=5, q=100, h=20))
    for scraper in (get_backend("vllm"), PlainMetrics()):
        figures = scraper.server_figures(before, after)
        assert figures["spec_accept_length"] == pytest.approx(1.5) and figures["prefix_hit_rate"] == pytest.approx(0.2)
        assert scraper.acceptance(before, after)["spec_accept_length"] == pytest.approx(1.5)  # the old name still works


# --- a load run's row --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_bench_row_has_the_servers_prefix_hit_rate(start_sim, tmp_path):
    sim = start_sim("--ttft-ms", "2", "--itl-ms", "1", "--settings", '{"prefix_cache": true, "prefix_block_tokens": 4}')
    res = run_cli("bench", "--endpoint", sim.url, "--workload", "steady", "--num-prompts", "6", "--request-rate", "50",
                  "--dataset", "random", "--input-len", "40", "--output-len", "4", "--results-dir", str(tmp_path / "results"))
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list((tmp_path / "results").iterdir())
    [row] = json.loads((run_dir / "summary.json").read_text())["rows"]
    scrapes = [json.loads(line) for line in (run_dir / "server_metrics.jsonl").read_text().splitlines()]
    start, end = (next(s["metrics"] for s in scrapes if s["at"] == at) for at in ("start", "end"))
    hits, queries = (end[n] - start[n] for n in COUNTERS["vllm"])
    assert queries > 0 and row["prefix_hit_rate"] == pytest.approx(hits / queries)
    assert row["prefix_source"] == "vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total"
