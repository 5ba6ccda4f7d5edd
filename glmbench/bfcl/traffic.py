"""BFCL entries as traffic: asked on a load schedule, streamed through glmbench's own client, timed and scored.

Each entry is one arrival of the schedule a :class:`~glmbench.load.workload.Workload`
describes, the same as a load run's (:func:`~glmbench.load.sender.keep_schedule`):
all at once, a concurrency cap held as a closed loop, or a Poisson (gamma) rate.
A single-turn entry is one request; a multi-turn entry is a session: its steps
go one after another, each leaving when the previous step's tool results are
ready (after ``tool_latency_ms``, when the suite sets one), and the session
holds its concurrency slot from its first step to its last, as an agent does.

Every request is streamed (``stream: true`` with usage), so it gets the load
run's full record (:class:`~glmbench.results.records.RequestRecord`, in the
run's ``records.jsonl``): TTFT, time to the first reasoning and answer token,
to the first tool-call token and to the complete call, every chunk's time and
tokens, E2E, reasoning and answer tokens. What it said is put back together
(:class:`~glmbench.load.reply.Reply`) into the response the same request gets
unstreamed, then decoded and scored exactly as an unstreamed run's; the entry's
record (``bfcl_records.jsonl``) carries each request's timing beside its
verdicts, and each request record names its entry.

A failed request is retried only when the suite allows retries, and the entry
is then scored by its failed first attempt (:mod:`glmbench.bfcl.runner`); every
attempt is a request record of its own, so the load figures count it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, cast

from glmbench.bfcl.categories import traits
from glmbench.bfcl.requests import decode, prepare
from glmbench.bfcl.runner import EntryLog, executor, score_into
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry
from glmbench.load.client import StreamClient, Target
from glmbench.load.reply import Reply
from glmbench.load.sender import WorkloadRun, connections_needed, keep_schedule, sleep_until
from glmbench.load.sessions import session_spans
from glmbench.load.workload import RequestSpec, Workload
from glmbench.results.records import INTERRUPTED, RecordWriter, RequestRecord

if TYPE_CHECKING:
    from glmbench.bfcl.data import LoadedEntry

__all__ = ["TrafficRun", "run_traffic", "traffic_rows", "timing", "request_spec", "WORKLOAD"]

WORKLOAD = "bfcl"
"""The ``workload`` every request record of a BFCL run names (its traffic class is its entry's category)."""


@dataclass
class TrafficRun:
    """What a BFCL traffic run left: the entries' records by id, every request's record, and the schedule's facts."""

    records: dict[str, dict[str, Any]]
    requests: list[RequestRecord] = field(default_factory=list)
    run: WorkloadRun | None = None
    cap: int | None = None


def request_spec(suite: BFCLSuite) -> RequestSpec:
    """How a BFCL request is sent: the suite's endpoint and timeout, the model's own end (no ignore_eos)."""
    return RequestSpec(api="completions" if suite.mode == "prompt" else "chat", temperature=suite.temperature,
                       ignore_eos=False, timeout_s=suite.timeout_s)


def timing(record: RequestRecord) -> dict[str, Any]:
    """A request's latency record in ms from its send, for the entry's record beside its verdict."""
    start = record.start_ns

    def since(ns: int | None) -> float | None:
        return round((ns - start) / 1e6, 3) if ns and start else None

    out: dict[str, Any] = {
        "request": record.index, "ttft_ms": since(record.chunk_ns[0] if record.chunk_ns else None),
        "ttft_reasoning_ms": since(record.first_reasoning_ns), "ttft_answer_ms": since(record.first_content_ns),
        "tool_call_ms": since(record.first_tool_call_ns), "tool_call_done_ms": since(record.tool_call_end_ns),
        "e2e_ms": since(record.chunk_ns[-1] if record.chunk_ns else None),
        "prompt_tokens": record.server_prompt_tokens, "output_tokens": record.output_tokens,
        "reasoning_tokens": record.reasoning_tokens,
    }
    return out


def _retryable(record: RequestRecord) -> bool:
    """A transport failure or a server error (5xx) may pass; a 4xx or a broken stream will not."""
    status = record.http_status
    if status is not None and status != 200:
        return status >= 500
    return (record.error or "").startswith(("cannot connect", "timeout", "stalled", "stream cut"))


async def run_traffic(entries: Sequence[BFCLEntry], suite: BFCLSuite, target: Target, records_path: Path,
                      requests: RecordWriter, workload: Workload, seed: int = 0,
                      on_done: Callable[[dict[str, Any]], None] | None = None) -> TrafficRun:
    """Ask every entry not yet answered in ``records_path`` on ``workload``'s schedule; request records go to
    ``requests`` as each request ends, entry records to ``records_path`` as each entry ends."""
    log = EntryLog(records_path, on_done)
    todo = log.todo(entries)
    spec = request_spec(suite)
    endpoint = spec.api
    out = TrafficRun(records=log.done, cap=workload.max_concurrency)
    numbers = itertools.count()

    async with StreamClient(target, spec) as client:

        async def send(entry: BFCLEntry, data: bytes, due: int, step: int | None, first_errors: list[str],
                       free: Callable[[int], None] | None = None) -> tuple[RequestRecord, Reply, int]:
            """One request of ``entry`` (its serialised body), retried as the suite allows: the last attempt's
            record and reply, and the attempts made (a first attempt's error, when a retry followed, goes to
            ``first_errors``). ``free`` gives the slot back as the last attempt ends, before anything else."""
            attempt = 0
            while True:
                attempt += 1
                record = RequestRecord(workload=WORKLOAD, index=next(numbers), prompt_tokens=0,
                                       max_tokens=suite.max_tokens, due_ns=due if attempt == 1 else perf_counter_ns(),
                                       entry=entry.id, step=step)
                reply = Reply(chat=endpoint == "chat")
                last = True
                try:
                    await client.send(record, data, reply)
                    last = record.ok or attempt > suite.retries or not _retryable(record)
                finally:
                    if not record.ok and not record.error:
                        record.error = INTERRUPTED
                    if last and free is not None:
                        free(record.end_ns or perf_counter_ns())  # the next arrival goes now
                    if not last:
                        keep_request(record)
                if last:
                    return record, reply, attempt
                if attempt == 1:
                    first_errors.append(record.error or "failed")
                await asyncio.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))

        def keep_request(record: RequestRecord) -> None:
            requests.write(record)
            out.requests.append(record)

        async def single(entry: BFCLEntry, due: int, free: Callable[[int], None]) -> tuple[dict[str, Any], list]:
            prepared, data = bodies[entry.id]
            first_errors: list[str] = []
            request, reply, attempts = await send(entry, data, due, None, first_errors, free)
            response = reply.response() if request.ok else None
            record = {
                "id": entry.id, "category": entry.category, "mode": suite.mode, "style": suite.style,
                "endpoint": prepared.endpoint, "request": prepared.body, "names": prepared.names,
                "response": response, "error": None if request.ok else request.error,
                "attempts": attempts, "latency_ms": (request.end_ns - request.start_ns) / 1e6,
                "timing": timing(request),
            }
            if first_errors:
                record["first_error"] = first_errors[0]
            if prepared.variant:
                record["variant"] = prepared.variant  # format_sensitivity: rescoring decodes in its format
            record.update(decode(prepared.endpoint, response, prepared.tools, suite.enable_thinking, prepared.variant))
            return record, [request]

        async def conversation(entry: BFCLEntry, due: int, free: Callable[[int], None]) -> tuple[dict[str, Any], list]:
            from glmbench.bfcl.multi_turn.conversation import STYLE, play

            execute = executor(entry)
            first_errors: list[str] = []
            timings: list[dict[str, Any]] = []
            end, called = 0, False

            async def ask(asked: str, body: dict[str, Any]) -> tuple[dict | None, str | None, int]:
                nonlocal end, called
                if asked != endpoint:  # play asks the suite's endpoint, as the client was made for
                    return None, f"a {asked} request on a {endpoint} client", 0
                step = len(timings)
                leaves = due if step == 0 else perf_counter_ns()
                if called and suite.tool_latency_ms:
                    # The results are ready the tools' own time after the reply that called them ended.
                    leaves = end + int(suite.tool_latency_ms * 1e6)
                    await sleep_until(leaves)
                request, reply, attempts = await send(entry, client.streamed(body), leaves, step, first_errors)
                keep_request(request)  # as each step ends: a long conversation cut short keeps its steps' times
                timings.append(timing(request))
                end, called = request.end_ns, bool(request.ok and (reply.calls or reply.call_end_ns))
                if not request.ok:
                    return None, request.error, attempts
                return reply.response(), None, attempts

            # Scenario.of in executor() refused an entry without BFCL's multi-turn fields, which only LoadedEntry has.
            fields = await play(cast("LoadedEntry", entry), suite, target.model, ask, execute)
            free(end or perf_counter_ns())
            steps = [s for t in fields["turns"] for s in t["steps"]]
            for step, step_timing in zip(steps, timings):
                step["timing"] = step_timing
            record = {"id": entry.id, "category": entry.category, "mode": suite.mode, "style": STYLE, "names": {},
                      "attempts": sum(s["attempts"] for s in steps), **fields}
            if first_errors:
                record["first_error"] = first_errors[0]
            return record, []

        async def job(index: int, due: int, free: Callable[[int], None]) -> None:
            entry = todo[index]
            ask = conversation if traits(entry.category).multi_turn else single
            record, unkept = await ask(entry, due, free)
            score_into(record, entry)
            log.keep(record)
            for request in unkept:  # after the verdict: on a full disk the verdicts go first
                keep_request(request)

        # Single-turn bodies are made and serialised before the clock starts, as a load run's are.
        bodies = {}
        for entry in todo:
            if not traits(entry.category).multi_turn:
                prepared = prepare(entry, suite, target.model)
                bodies[entry.id] = prepared, client.streamed(prepared.body)

        await client.warm_up(connections_needed(len(todo), workload.max_concurrency, workload.request_rate))
        with log:
            out.run = await keep_schedule(len(todo), workload, seed, job, name=WORKLOAD,
                                          stopped=lambda: requests.error is not None)
    return out


def traffic_rows(out: TrafficRun, categories: Mapping[str, str], schedule: str,
                 server: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The load summary rows of a traffic run: ``all`` (every request; whether the cap was held, over the
    entries' sessions), then ``single-turn`` and ``multi-turn`` when both were asked. ``categories`` maps entry
    ids to categories; ``server`` holds figures the server's counters gave over the whole run (acceptance)."""
    from glmbench.metrics.summary import summarize_workload

    run = out.run
    if run is None or not out.requests:
        return []
    classes: dict[str, list[RequestRecord]] = {}
    for r in out.requests:
        multi = traits(categories.get(r.entry or "", "simple")).multi_turn
        classes.setdefault("multi-turn" if multi else "single-turn", []).append(r)
    extra = {"description": schedule, "num_prompts": len(session_spans(out.requests)), "interrupted": run.interrupted}
    rows = [summarize_workload("all", "every request", out.requests, run.t0_ns, run.loop_lag_ns, run.client_cpu_s,
                               extra={**extra, **(server or {})}, cap=out.cap, sessions=session_spans(out.requests))]
    if len(classes) > 1:
        for name in ("single-turn", "multi-turn"):
            records = classes[name]
            rows.append(summarize_workload(name, f"{name} requests", records, run.t0_ns, run.loop_lag_ns,
                                           run.client_cpu_s, extra={**extra, "num_prompts": len(session_spans(records))}))
    return rows
