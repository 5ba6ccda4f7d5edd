"""Ask an equivalence suite's prompts of one server: one at a time, then each among ``loaded`` others.

Every request is greedy (temperature 0, the suite's seed), streamed through
glmbench's own client, and what it said is kept whole (``outputs.jsonl``, one
line per request as it ends): the text (a completion's raw text; for chat, the
reasoning, the answer and the calls), each token with its top alternatives
when the server gives logprobs, the finish reason, and for a BFCL prompt the
calls parsed from it and every rule set's verdict, so that a difference can be
read as a change of calls or of verdict without asking again.

The pass under load is a closed loop of ``loaded`` in flight: each prompt once
(copy 0, the one compared), then as many filler copies as keep the load up
until the last copy 0 has ended; the copies are kept too, and each request
records how many were in flight when it left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from glmbench.equivalence.prompts import Prompt, request_body
from glmbench.equivalence.suite import EquivalenceSuite
from glmbench.load.client import StreamClient, Target
from glmbench.load.reply import Reply
from glmbench.load.sender import connections_needed, keep_schedule
from glmbench.load.workload import RequestSpec, Workload
from glmbench.results.records import RequestRecord
from glmbench.util.jsonl import json_objects

__all__ = ["OUTPUTS", "ask_prompts", "read_outputs", "said"]

OUTPUTS = "outputs.jsonl"


def said(response: dict[str, Any], api: str) -> str:
    """What a reply said, as one text to compare: a completion's raw text; a chat reply's reasoning, answer and
    calls (each call's name and argument text), each part on its own line."""
    choice = (response.get("choices") or [{}])[0]
    if api == "completions":
        return str(choice.get("text") or "")
    message = choice.get("message") or {}
    parts = [str(message.get("reasoning_content") or ""), str(message.get("content") or "")]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
        parts.append(f"{function.get('name', '')} {text}")
    return "\n".join(parts)


def _verdicts(prompt: Prompt, response: dict[str, Any] | None, body: dict[str, Any],
              suite: EquivalenceSuite) -> dict[str, Any]:
    """A BFCL prompt's parsed calls (named as BFCL names them) and every rule set's verdict on the reply."""
    from glmbench.bfcl.requests import decode
    from glmbench.bfcl.runner import score_record

    assert prompt.entry is not None
    endpoint = "completions" if suite.api == "completions" else "chat"
    decoded = decode(endpoint, response, prompt.tools, suite.enable_thinking)
    record: dict[str, Any] = {
        "id": prompt.entry.id, "category": prompt.entry.category, "mode": "prompt" if endpoint == "completions"
        else "native", "style": "bfcl", "endpoint": endpoint, "request": body, "names": prompt.names,
        "response": response, "error": None if response else "no reply", **decoded}
    verdicts = score_record(record, prompt.entry)
    return {"calls": [{**c, "name": prompt.names.get(c["name"], c["name"])} for c in decoded["calls"]],
            "verdicts": {rules: bool(v["ok"]) for rules, v in verdicts.items()}}


def read_outputs(path: Path) -> list[dict[str, Any]]:
    """The output records of a run (torn lines and lines that are not records skipped)."""
    return [r for r in json_objects(path) if isinstance(r.get("prompt"), str) and r.get("pass") in ("alone", "loaded")]


async def ask_prompts(prompts: Sequence[Prompt], suite: EquivalenceSuite, target: Target, folder: Path,
                      on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Ask every prompt one at a time, then under load; every output record is appended to ``folder/outputs.jsonl``
    as its request ends. Returns them all."""
    spec = RequestSpec(api=suite.api, temperature=0.0, ignore_eos=False, timeout_s=suite.timeout_s)
    bodies = [request_body(p, suite, target.model) for p in prompts]
    outputs: list[dict[str, Any]] = []
    folder.mkdir(parents=True, exist_ok=True)
    async with StreamClient(target, spec) as client:
        data = [client.streamed(b) for b in bodies]
        in_flight = 0

        def job_for(pass_name: str) -> Callable:
            async def job(index: int, due: int, free: Callable[[int], None]) -> None:
                nonlocal in_flight
                prompt, body = prompts[index % len(prompts)], bodies[index % len(prompts)]
                record = RequestRecord(workload=pass_name, index=index, prompt_tokens=0,
                                       max_tokens=suite.max_tokens, due_ns=due)
                reply = Reply(chat=suite.api == "chat", logprobs=bool(suite.logprobs))
                in_flight += 1
                sent_among = in_flight
                try:
                    await client.send(record, data[index % len(prompts)], reply)
                finally:
                    in_flight -= 1
                free(record.end_ns)
                response = reply.response() if record.ok else None
                out: dict[str, Any] = {
                    "prompt": prompt.id, "kind": prompt.kind, "pass": pass_name, "copy": index // len(prompts),
                    "in_flight": sent_among, "text": said(response, suite.api) if response else None,
                    "tokens": reply.tokens or None,
                    "top": [[list(a) for a in top[:2]] for top in reply.top] if reply.tokens else None,
                    "finish_reason": reply.finish_reason, "output_tokens": record.output_tokens,
                    "error": None if record.ok else record.error,
                }
                if prompt.kind == "bfcl":
                    out.update(_verdicts(prompt, response, body, suite))
                keep(out)
            return job

        def keep(out: dict[str, Any]) -> None:
            with (folder / OUTPUTS).open("ab") as f:
                f.write(orjson.dumps(out) + b"\n")
            outputs.append(out)
            if on_done is not None:
                on_done(out)

        await client.warm_up(connections_needed(len(prompts), max(1, suite.loaded)))
        alone = Workload(title="one at a time", max_concurrency=1)
        await keep_schedule(len(prompts), alone, suite.seed, job_for("alone"), name="alone")
        if suite.loaded:
            loaded = Workload(title=f"among {suite.loaded}", max_concurrency=suite.loaded)
            await keep_schedule(len(prompts) + suite.loaded, loaded, suite.seed, job_for("loaded"), name="loaded")
    return outputs
