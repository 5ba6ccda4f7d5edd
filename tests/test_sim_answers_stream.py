"""The simulator's scripted answers, streamed, and the load laws that make them wrong or slow.

Against ``glmbench sim`` processes (the ``start_sim`` fixture) with a plain
aiohttp client, not glmbench's own: a streamed chat request whose key is in the
answer book gets its calls as vLLM-style tool_call deltas in every dialect; a
prompt-mode request gets GLM-4.7 text; ``answer_law`` makes replies wrong by the
load the server saw, which the truth log states; ``ttft_ms_per_in_flight``
delays first tokens by that load; ``max_tokens`` cuts a long answer.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from glmbench.glm.template import render_chat
from glmbench.glm.toolcall import parse_tool_calls
from glmbench.sim.answers import request_key
from glmbench.util.loop import run_async

pytestmark = pytest.mark.e2e

TOOLS = [{"type": "function", "function": {"name": name, "description": "d", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}
    for name in ("get_weather", "get_time")]
CALLS = [{"name": "get_weather", "arguments": {"city": "Boston, MA", "days": 3}},
         {"name": "get_time", "arguments": {"city": "Paris"}}]
USAGE = {"include_usage": True, "continuous_usage_stats": True}
REASONING_FIELD = {"vllm": "reasoning", "sglang": "reasoning_content", "lightllm": "reasoning"}


def _chat(question: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": question}], "tools": TOOLS, "max_tokens": 256,
            "stream": True, "stream_options": USAGE, **extra}


def _book(path: Path, bodies: list[tuple[dict[str, Any], bool]], content: str | None = None) -> Path:
    """A book answering each (body, chat) with :data:`CALLS`."""
    path.write_text("".join(json.dumps({"key": request_key(body, chat), "tool_calls": CALLS, "content": content}) + "\n"
                            for body, chat in bodies))
    return path


def _sim(start_sim, **settings: Any):
    return start_sim("--settings", json.dumps({"ttft_ms": 5, "itl_ms": 1, **settings}))


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> list[Any] | dict[str, Any]:
    """A stream's events (``[DONE]`` as the string), or an unstreamed reply's body."""
    async with session.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        text = await resp.text()
    if not body.get("stream"):
        return json.loads(text)
    events = [e[len("data: "):] for e in text.split("\n\n") if e]
    return [e if e == "[DONE]" else json.loads(e) for e in events]


def _post_all(url: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """Every body sent at once."""
    async def main() -> list[Any]:
        async with aiohttp.ClientSession() as session:
            return await asyncio.gather(*(_post(session, url, b) for b in bodies))

    return run_async(main())


def _reassembled(events: list[Any], reasoning_field: str) -> dict[str, Any]:
    """A chat stream put back together: texts in the order their fields first came, calls by index."""
    order: list[str] = []
    texts: dict[str, str] = {}
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for event in events:
        if event == "[DONE]" or not event["choices"]:
            continue
        choice = event["choices"][0]
        finish = choice["finish_reason"] or finish
        for field, value in choice["delta"].items():
            if field == "role" or value == "":
                continue
            if field not in order:
                order.append(field)
            if field == "tool_calls":
                for part in value:
                    if "id" in part:
                        assert part["index"] not in calls and part["type"] == "function"
                        assert part["function"]["arguments"] == "" or "name" in part["function"]
                        calls[part["index"]] = {"name": part["function"]["name"], "arguments": ""}
                    calls[part["index"]]["arguments"] += part["function"]["arguments"]
            else:
                texts[field] = texts.get(field, "") + value
    return {"order": order, "reasoning": texts.get(reasoning_field), "content": texts.get("content"),
            "calls": [{"name": c["name"], "arguments": json.loads(c["arguments"])} for _, c in sorted(calls.items())],
            "finish": finish}


def _truth(sim) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in map(json.loads, sim.truth.read_text().splitlines())}


@pytest.mark.parametrize("dialect", ["vllm", "sglang", "lightllm"])
def test_a_streamed_chat_answer_comes_as_tool_call_deltas_in_every_dialect(start_sim, tmp_path, dialect):
    body, quiet = _chat("Weather and time?"), _chat("Quietly?", chat_template_kwargs={"enable_thinking": False})
    book = _book(tmp_path / "book.jsonl", [(body, True), (quiet, True)], content="Let me look.")
    sim = _sim(start_sim, dialect=dialect, answers=str(book))
    events, quiet_events = _post_all(sim.url + "/chat/completions", [body, quiet])
    field = REASONING_FIELD[dialect]
    got = _reassembled(events, field)
    assert got["calls"] == CALLS and got["finish"] == "tool_calls"
    assert got["order"] == [field, "content", "tool_calls"]
    assert got["reasoning"] == "I should use the tools." and got["content"] == "Let me look."
    assert events[-1] == "[DONE]" and events[-2]["choices"] == []
    # One piece a step here, so each event with something in it is one token.
    tokens = sum(1 for e in events[:-2] if any(v != "" for k, v in e["choices"][0]["delta"].items() if k != "role"))
    assert events[-2]["usage"]["completion_tokens"] == tokens
    if dialect != "lightllm":  # LightLLM sends no usage on every chunk
        counted = [e["usage"]["completion_tokens"] for e in events[:-2] if "usage" in e]
        assert counted == sorted(counted) and counted[-1] == tokens
    entry = _truth(sim)[events[0]["id"]]
    assert sum(entry["tokens"]) == tokens and entry["right"] is True and entry["in_flight"] in (1, 2)
    quiet_got = _reassembled(quiet_events, field)
    assert quiet_got["reasoning"] is None and quiet_got["calls"] == CALLS and quiet_got["order"][0] == "content"


def test_multi_token_steps_merge_pieces_and_unstreamed_replies_carry_the_same_answer(start_sim, tmp_path):
    body = _chat("Weather and time?")
    sim = _sim(start_sim, answers=str(_book(tmp_path / "book.jsonl", [(body, True)])), spec_tokens=3, spec_accept=0.7)
    streamed, unstreamed = _post_all(sim.url + "/chat/completions", [body, {**body, "stream": False}])
    got = _reassembled(streamed, "reasoning")
    assert got["calls"] == CALLS and got["finish"] == "tool_calls"
    entry = _truth(sim)[streamed[0]["id"]]
    assert streamed[-2]["usage"]["completion_tokens"] == sum(entry["tokens"]) > len(entry["tokens"])
    message = unstreamed["choices"][0]["message"]
    assert [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in message["tool_calls"]] == CALLS
    assert unstreamed["choices"][0]["finish_reason"] == "tool_calls"
    assert unstreamed["usage"]["completion_tokens"] == sum(entry["tokens"])
    assert _truth(sim)[unstreamed["id"]]["right"] is True


def test_a_streamed_prompt_mode_answer_is_glm_text_that_parses_to_the_books_calls(start_sim, tmp_path):
    messages = [{"role": "user", "content": "Weather and time?"}]
    body = {"model": "m", "prompt": render_chat(messages, tools=TOOLS, add_generation_prompt=True),
            "max_tokens": 512, "stream": True, "stream_options": USAGE}
    sim = _sim(start_sim, answers=str(_book(tmp_path / "book.jsonl", [(body, False)])))
    [events] = _post_all(sim.url + "/completions", [body])
    chunks = events[:-2]
    text = "".join(e["choices"][0]["text"] for e in chunks)
    parsed = parse_tool_calls(text, TOOLS, thinking=True)
    assert [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in parsed.tool_calls] == CALLS
    assert parsed.reasoning == "I should use the tools." and not parsed.malformed
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["usage"]["completion_tokens"] == len(chunks) > 20 and events[-1] == "[DONE]"


def test_the_answer_law_makes_loaded_replies_wrong_and_the_truth_log_says_which(start_sim, tmp_path):
    bodies = [_chat(f"Question {i}?", max_tokens=512) for i in range(8)]
    book = _book(tmp_path / "book.jsonl", [(b, True) for b in bodies])
    # A slow first token keeps all eight held at once.
    sim = _sim(start_sim, answers=str(book), answer_law=[[1, 1.0], [2, 0.0]], ttft_ms=300)
    [alone] = _post_all(sim.url + "/chat/completions", [bodies[0]])
    assert _reassembled(alone, "reasoning")["calls"] == CALLS
    # Half streamed, half not: both paths hold the request and log the intent.
    sent = [b if i % 2 else {**b, "stream": False} for i, b in enumerate(bodies)]
    replies = _post_all(sim.url + "/chat/completions", sent)
    truth = _truth(sim)
    seen = []
    for reply in replies:
        if isinstance(reply, list):
            rid, calls = reply[0]["id"], _reassembled(reply, "reasoning")["calls"]
        else:
            rid = reply["id"]
            calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                     for c in reply["choices"][0]["message"]["tool_calls"]]
        entry = truth[rid]
        assert entry["p_right"] == (1.0 if entry["in_flight"] == 1 else 0.0)
        assert entry["right"] is (calls == CALLS)
        assert entry["right"] or calls == [{"name": "sim_wrong_answer", "arguments": {}}]
        seen.append(entry["in_flight"])
    assert truth[alone[0]["id"]]["in_flight"] == 1 and truth[alone[0]["id"]]["right"] is True
    assert sorted(seen) == list(range(1, 9))  # all eight held at once: the server counted each arrival
    assert sum(truth[r[0]["id"] if isinstance(r, list) else r["id"]]["right"] for r in replies) == 1


def test_ttft_grows_with_the_requests_held(start_sim):
    sim = _sim(start_sim, ttft_ms=10, ttft_ms_per_in_flight=100)
    plain = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "ignore_eos": True,
             "stream": True}
    _post_all(sim.url + "/chat/completions", [plain])
    _post_all(sim.url + "/chat/completions", [plain] * 6)
    entries = list(_truth(sim).values())
    assert len(entries) == 7 and entries[0]["in_flight"] == 1
    ttft_ms = {e["in_flight"]: (e["write_ns"][0] - e["recv_ns"]) / 1e6 for e in entries[1:]}
    assert sorted(ttft_ms) == list(range(1, 7))
    for in_flight, ttft in ttft_ms.items():
        assert ttft >= 0.9 * (10 + 100 * (in_flight - 1))
    assert ttft_ms[6] > ttft_ms[1] + 300


def test_max_tokens_below_the_answer_cuts_a_stream_with_length(start_sim, tmp_path):
    body = _chat("Weather and time?", max_tokens=9)
    sim = _sim(start_sim, answers=str(_book(tmp_path / "book.jsonl", [(body, True)])))
    streamed, unstreamed = _post_all(sim.url + "/chat/completions", [body, {**body, "stream": False}])
    finishes = [e["choices"][0]["finish_reason"] for e in streamed[:-2]]
    assert finishes[-1] == "length" and not any(finishes[:-1])
    assert streamed[-2]["usage"]["completion_tokens"] == 9 == sum(_truth(sim)[streamed[0]["id"]]["tokens"])
    # Unstreamed replies stay whole, as they always were.
    assert unstreamed["choices"][0]["finish_reason"] == "tool_calls"
    assert len(unstreamed["choices"][0]["message"]["tool_calls"]) == len(CALLS)
