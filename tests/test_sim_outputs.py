"""The simulator's words: the placeholder cycle, words by prompt, vLLM's logprobs and divergences at given positions.

What an output-equivalence check needs from a server pair: the same prompt gets
the same tokens everywhere, logprobs in vLLM's shapes, and a divergence that a
reference run's top-2 candidate and near-tie margin explain exactly.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from pydantic import ValidationError

from glmbench.errors import GlmbenchError
from glmbench.sim.config import SimConfig
from glmbench.sim.generation import WORDS
from glmbench.util.config_file import validate

FAST = ("--ttft-ms", "1", "--itl-ms", "1")
BY_PROMPT = {"outputs": "by-prompt"}
ALPHA = {"prompt": "alpha", "at": 5, "margin": 0.02}


@dataclass
class Reply:
    """One reply, streamed or not, read back into its words and the logprobs of each."""

    id: str
    words: list[str]
    finish_reason: str | None
    # Per token: (token, logprob, [(candidate, logprob), ...]); empty when the reply carries no logprobs.
    logprobs: list[tuple[str, float, list[tuple[str, float]]]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def margin(self, i: int) -> float:
        top = self.logprobs[i][2]
        return top[0][1] - top[1][1]


def _split(text: str) -> list[str]:
    """Words of the simulator end with one space: the text cut back into them."""
    assert text.endswith(" ")
    return [w + " " for w in text[:-1].split(" ")]


def _entries(logprobs: dict[str, Any] | None, chat: bool) -> list[tuple[str, float, list[tuple[str, float]]]]:
    if logprobs is None:
        return []
    if chat:
        assert set(logprobs) == {"content"}
        out = []
        for e in logprobs["content"]:
            assert list(e) == ["token", "logprob", "bytes", "top_logprobs"]
            assert e["bytes"] == list(e["token"].encode())
            for t in e["top_logprobs"]:
                assert list(t) == ["token", "logprob", "bytes"] and t["bytes"] == list(t["token"].encode())
            out.append((e["token"], e["logprob"], [(t["token"], t["logprob"]) for t in e["top_logprobs"]]))
        return out
    assert list(logprobs) == ["text_offset", "token_logprobs", "tokens", "top_logprobs"]
    return [(t, lp, list(top.items()))
            for t, lp, top in zip(logprobs["tokens"], logprobs["token_logprobs"], logprobs["top_logprobs"],
                                  strict=True)]


def _text(choice: dict[str, Any], chat: bool, streamed: bool) -> str:
    if not chat:
        return choice["text"]
    part = choice["delta"] if streamed else choice["message"]
    return "".join(part.get(f) or "" for f in ("reasoning", "reasoning_content", "content"))


async def ask(url: str, prompt: str, *, chat: bool = True, stream: bool = True, max_tokens: int = 16,
              ignore_eos: bool = True, k: int | None = None, session: aiohttp.ClientSession | None = None) -> Reply:
    """Send one request; read the reply whole, streamed or not."""
    body: dict[str, Any] = {"model": "m", "max_tokens": max_tokens, "ignore_eos": ignore_eos, "stream": stream,
                            "temperature": 0}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
        if k is not None:
            body.update(logprobs=True, top_logprobs=k)
    else:
        body["prompt"] = prompt
        if k is not None:
            body["logprobs"] = k
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.post(f"{url}/{'chat/completions' if chat else 'completions'}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            if not stream:
                data = await resp.json()
                (choice,) = data["choices"]
                assert ("logprobs" in choice) == (k is not None)
                return Reply(data["id"], _split(_text(choice, chat, False)), choice["finish_reason"],
                             _entries(choice.get("logprobs"), chat))
            events = []
            async for line in resp.content:
                if line.startswith(b"data: ") and line.strip() != b"data: [DONE]":
                    events.append(orjson.loads(line[6:]))
    finally:
        if own:
            await session.close()
    text, entries, finish = "", [], None
    chunks = [e for e in events if e["choices"]]
    for event in chunks:
        (choice,) = event["choices"]
        piece = _text(choice, chat, True)
        mine = _entries(choice.get("logprobs"), chat)
        if k is None:
            assert "logprobs" not in choice
        elif piece:
            assert [t for t, _, _ in mine] == _split(piece)  # a chunk's logprobs are its own tokens'
        text += piece
        entries += mine
        finish = choice["finish_reason"] or finish
    return Reply(chunks[0]["id"], _split(text), finish, entries, chunks)


def _truth(sim) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in map(json.loads, sim.truth.read_text().splitlines())}


def _settings(**values: Any) -> tuple[str, str]:
    return "--settings", json.dumps(values)


def test_cycle_is_unchanged_by_default(start_sim) -> None:
    sim = start_sim(*FAST)

    async def main() -> tuple[Reply, Reply, Reply]:
        return (await ask(sim.url, "alpha"), await ask(sim.url, "other words", chat=False, stream=False),
                await ask(sim.url, "alpha", k=2))

    plain, text, with_logprobs = asyncio.run(main())
    cycle = [WORDS[i % len(WORDS)] for i in range(16)]
    assert plain.words == cycle and text.words == cycle and plain.finish_reason == "length"
    assert not plain.logprobs and not text.logprobs
    # Logprobs in cycle mode too: the word emitted is top-1, the next in the cycle top-2, logprob_margin apart.
    assert [t for t, _, _ in with_logprobs.logprobs] == cycle
    assert all(top[0][0] == t and lp == top[0][1] and len(top) == 2 for t, lp, top in with_logprobs.logprobs)
    assert with_logprobs.logprobs[0][2][1][0] == WORDS[1]
    assert with_logprobs.margin(3) == pytest.approx(3.0)
    assert all("diverged_at" not in e for e in _truth(sim).values())


def test_by_prompt_words_are_the_same_everywhere(start_sim) -> None:
    sims = [start_sim(*FAST, "--seed", "1", *_settings(**BY_PROMPT)),
            start_sim(*FAST, "--seed", "2", "--dialect", "sglang", *_settings(**BY_PROMPT, reasoning_tokens=3)),
            start_sim(*FAST, "--seed", "3", "--dialect", "lightllm", "--spec-tokens", "3", "--spec-accept", "0.8",
                      *_settings(**BY_PROMPT))]

    async def main() -> dict[str, list[Reply]]:
        out: dict[str, list[Reply]] = {"p": [], "q": [], "free": []}
        for sim in sims:
            for chat in (True, False):
                for stream in (True, False):
                    out["p"].append(await ask(sim.url, "tell me about p", chat=chat, stream=stream, k=2))
            out["q"].append(await ask(sim.url, "tell me about q"))
            out["free"] += [await ask(sim.url, f"free length {n}", max_tokens=40, ignore_eos=False, stream=s)
                            for n in range(4) for s in (True, False)]
        return out

    got = asyncio.run(main())
    first = got["p"][0]
    assert len(first.words) == 16 and len(set(first.words)) > 3 and set(first.words).isdisjoint(WORDS)
    assert all(r.words == first.words and r.logprobs == first.logprobs for r in got["p"])
    assert all(r.words == got["q"][0].words for r in got["q"]) and got["q"][0].words != first.words
    # Without ignore_eos the length is the prompt's too: between half and all of max_tokens, "length" at the top.
    lengths = {}
    for n, r in enumerate(got["free"]):
        prompt = n % 8 // 2
        lengths.setdefault(prompt, len(r.words))
        assert len(r.words) == lengths[prompt] and 20 <= len(r.words) <= 40
        assert r.finish_reason == ("length" if len(r.words) == 40 else "stop")
    assert len(set(lengths.values())) > 1
    # One event per token in LightLLM's style (the steps here are bursts of several): one token's logprobs each.
    lightllm = [r for r in got["p"][8:] if r.events]
    assert all(len(_entries(e["choices"][0].get("logprobs"), "delta" in e["choices"][0])) <= 1
               for r in lightllm for e in r.events)


def test_logprobs_in_vllm_shapes(start_sim) -> None:
    sim = start_sim(*FAST, "--spec-tokens", "2", "--spec-accept", "1", *_settings(**BY_PROMPT, reasoning_tokens=3))

    async def main() -> list[Reply]:
        return [await ask(sim.url, "shapes", chat=chat, stream=stream, k=k)
                for chat in (True, False) for stream in (True, False) for k in (2, 4)]

    replies = asyncio.run(main())
    for r in replies:
        assert [t for t, _, _ in r.logprobs] == r.words  # every token, reasoning included, in order
        for i, (token, lp, top) in enumerate(r.logprobs):
            assert top[0] == (token, lp) and top[1][0] != token
            assert lp == pytest.approx(-0.079, abs=1e-3) and r.margin(i) == pytest.approx(3.0)
            assert [c[1] for c in top] == sorted((c[1] for c in top), reverse=True)
            assert len({c[0] for c in top}) == len(top)
    assert {len(top) for r in replies for _, _, top in r.logprobs} == {2, 4}
    # Three tokens per chunk (two drafts accepted): the chunk's logprobs are those three.
    assert any(len(_split(e["choices"][0]["text"])) == 3 for e in replies[4].events)
    chat_stream, chat_whole, text_stream, text_whole = replies[0], replies[2], replies[4], replies[6]
    assert chat_stream.logprobs == chat_whole.logprobs == text_stream.logprobs == text_whole.logprobs


def test_completion_text_offsets_count_from_the_output_start(start_sim) -> None:
    sim = start_sim(*FAST, *_settings(**BY_PROMPT))

    async def main() -> tuple[Reply, dict[str, Any]]:
        streamed = await ask(sim.url, "offsets", chat=False, k=1)
        async with aiohttp.ClientSession() as session, session.post(
                f"{sim.url}/completions", json={"prompt": "offsets", "max_tokens": 16, "ignore_eos": True,
                                                "logprobs": 1}) as resp:
            return streamed, await resp.json()

    streamed, whole = asyncio.run(main())
    offsets = [o for e in streamed.events for o in e["choices"][0]["logprobs"]["text_offset"]]
    expected = [sum(len(w) for w in streamed.words[:i]) for i in range(len(streamed.words))]
    assert offsets == expected == whole["choices"][0]["logprobs"]["text_offset"]


def test_divergence_at_a_position(start_sim) -> None:
    diverged = start_sim(*FAST, *_settings(**BY_PROMPT, diverge=[ALPHA]))
    reference = start_sim(*FAST, *_settings(**BY_PROMPT))
    prompt = "the alpha prompt"

    async def main() -> list[tuple[Reply, Reply]]:
        pairs = []
        for chat in (True, False):
            for stream in (True, False):
                for ignore_eos in (True, False):
                    kwargs = {"chat": chat, "stream": stream, "ignore_eos": ignore_eos, "k": 2, "max_tokens": 24}
                    pairs.append((await ask(diverged.url, prompt, **kwargs), await ask(reference.url, prompt, **kwargs)))
        pairs.append((await ask(diverged.url, "gamma", k=2), await ask(reference.url, "gamma", k=2)))
        return pairs

    pairs = asyncio.run(main())
    for got, ref in pairs[:-1]:
        assert got.words[:5] == ref.words[:5] and got.words[5] != ref.words[5]
        assert len(got.words) == len(ref.words) and got.finish_reason == ref.finish_reason
        assert got.words[5] == ref.logprobs[5][2][1][0]  # the reference's top-2 there is the diverged token
        assert got.logprobs[5][2][1][0] == ref.words[5]
        assert got.margin(5) == pytest.approx(0.02) and ref.margin(5) == pytest.approx(3.0)
        assert got.words[6:] != ref.words[6:]
    assert pairs[0][0].words == pairs[4][0].words  # the continuation is the prompt's and the position's
    other, other_ref = pairs[-1]
    assert other.words == other_ref.words and other.margin(5) == pytest.approx(3.0)
    truth = _truth(diverged)
    assert all(truth[got.id]["diverged_at"] == 5 for got, _ in pairs[:-1])  # streamed and unstreamed lines
    assert truth[other.id]["diverged_at"] is None
    assert all(e["diverged_at"] is None for e in _truth(reference).values())


def test_divergence_under_load(start_sim) -> None:
    spec = {**ALPHA, "when": "loaded"}
    loaded = start_sim("--ttft-ms", "300", "--itl-ms", "1", *_settings(**BY_PROMPT, diverge=[spec]))
    always = start_sim(*FAST, *_settings(**BY_PROMPT, diverge=[ALPHA]))
    prompt = "alpha under load"

    async def main() -> tuple[Reply, list[Reply], Reply]:
        alone = await ask(loaded.url, prompt, k=2)
        async with aiohttp.ClientSession() as session:
            crowd = await asyncio.gather(*(ask(loaded.url, prompt, k=2, session=session) for _ in range(8)))
        return alone, list(crowd), await ask(always.url, prompt, k=2)

    alone, crowd, reference = asyncio.run(main())
    truth = _truth(loaded)
    assert truth[alone.id]["in_flight"] == 1 and truth[alone.id]["diverged_at"] is None
    assert alone.margin(5) == pytest.approx(0.02)  # the near tie is the prompt's, diverged or not
    assert alone.logprobs[5][2][1][0] == reference.words[5]
    assert max(truth[r.id]["in_flight"] for r in crowd) > 1
    for r in crowd:
        crowded = truth[r.id]["in_flight"] > 1
        assert truth[r.id]["diverged_at"] == (5 if crowded else None)
        assert r.words == (reference.words if crowded else alone.words)
        assert r.margin(5) == pytest.approx(0.02)


def test_diverge_needs_by_prompt() -> None:
    with pytest.raises(ValidationError, match='outputs "by-prompt"'):
        SimConfig(diverge=[ALPHA])
    with pytest.raises(GlmbenchError, match="diverge"):
        validate(SimConfig, {"diverge": [ALPHA]}, "sim config")
    assert SimConfig(outputs="by-prompt", diverge=[ALPHA]).diverge[0].when == "always"
