"""Multi-turn chat sessions (issue 26): ShareGPT conversations played turn by turn, the model's replies sent back.

Against the simulator (a real process on 127.0.0.1): every turn is its own
request record naming its session and turn; a turn carries the whole
conversation so far, so the prompt the server counts grows turn by turn by the
model's reply and the next question; the next turn leaves the think time after
the reply ended; the cap holds sessions, not requests; TTFT is summarised per turn.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmbench.results.records import read_records

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def test_sessions_send_the_conversation_so_far_after_the_think_time(start_sim, tmp_path: Path) -> None:
    sim = start_sim("--ttft-ms", "5", "--itl-ms", "1")
    results = tmp_path / "r"
    res = run_cli("bench", "--endpoint", sim.url, "--dataset", "sessions", "--num-prompts", "12", "--session-turns",
                  "3", "--think-time-ms", "40", "--max-concurrency", "3", "--results-dir",
                  str(results), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    [run_dir] = list(results.iterdir())
    records = list(read_records(run_dir / "records.jsonl"))
    by_session: dict[str, list] = {}
    for r in records:
        by_session.setdefault(r.entry, []).append(r)
    assert len(by_session) == 12 and all(r.ok for r in records)
    multi = 0
    for turns in by_session.values():
        turns.sort(key=lambda r: r.step)
        assert [r.step for r in turns] == list(range(len(turns)))
        prompts = [r.server_prompt_tokens for r in turns]
        # Each turn holds the last one's prompt, its reply and a new question.
        for (before, after), previous in zip(zip(prompts, prompts[1:]), turns):
            assert after > before + previous.output_tokens - 1
        for previous, turn in zip(turns, turns[1:]):
            assert turn.due_ns == previous.end_ns + 40_000_000 and turn.send_ns >= turn.due_ns
        multi += len(turns) > 1
    assert multi >= 4  # most ShareGPT conversations have several turns
    row = json.loads((run_dir / "summary.json").read_text())["rows"][0]
    assert row["sessions"] == 12 and row["completed"] == len(records)
    assert len(row["ttft_ms_mean_by_turn"]) == max(r.step for r in records) + 1
    assert row["cap_held_pct"] is None or row["in_flight_p50"] <= 3  # the cap counts sessions


def test_sessions_need_the_chat_api(tmp_path: Path) -> None:
    res = run_cli("bench", "--endpoint", "http://127.0.0.1:9/v1", "--dataset", "sessions", "--api", "completions",
                  "--results-dir", str(tmp_path / "r"))
    assert res.returncode == 2 and "chat sessions send the conversation as messages" in res.stderr, res.stderr
