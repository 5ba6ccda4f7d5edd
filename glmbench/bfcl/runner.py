"""Run BFCL entries against a server: concurrent requests, retries, one stored record per entry.

Each entry's request, raw response, decoded calls, every rule set's verdict
and the time it took are appended to ``bfcl_records.jsonl`` as it finishes, so
a run can be resumed (entries already answered are not asked again) and
rescored under other rules without querying the server. Transport errors and
HTTP 5xx are retried; an API error that persists fails the entry with its reason.
A retried request is not a second chance in the accuracy figure: the answer a
retry got was given at another load (often a lower one, once the load that
timed the first attempt out has passed), so an entry is scored by its first
attempt. The record keeps that attempt's error (``first_error``), every rule
set fails the entry on it, and the retried answer stays in the record with its
own verdicts (``retried_verdicts``), shown beside the figure, never in it.
The runner is a coroutine over an ``openai`` client, usable beside a load run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import orjson

from glmbench.bfcl.agentic.data import is_agentic
from glmbench.bfcl.categories import traits
from glmbench.bfcl.registry import get_rule_set, rule_set_names, rule_sets
from glmbench.bfcl.requests import decode, prepare
from glmbench.bfcl.ruleset import stored_verdict
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry
from glmbench.util.jsonl import json_objects
from glmbench.util.text import one_line

if TYPE_CHECKING:
    from glmbench.bfcl.agentic.backends import AgenticOptions
    from glmbench.bfcl.data import LoadedEntry

__all__ = ["run_entries", "score_record", "score_into", "read_records", "EntryLog", "executor", "RECORDS",
           "PREREQUISITES"]

RECORDS = "bfcl_records.jsonl"
PREREQUISITES = "bfcl_memory_prerequisites.jsonl"
"""BFCL v4's memory prerequisite conversations of a run, beside its records: not scored, never read back."""


def score_record(record: dict[str, Any], entry: BFCLEntry) -> dict[str, Any]:
    """Every rule set's verdict on a stored record, by rule set name (no server involved).

    A BFCL v4 agentic entry (memory, web search) is judged by the v4 rules (BFCL's agentic checker); the v3 rule
    sets, whose release has no such entry, store it as not scored."""
    verdicts = {}
    for rule_set in rule_sets():
        verdicts[rule_set.name] = stored_verdict(rule_set.check(entry, record), rule_set.name)
    return verdicts


def score_into(record: dict[str, Any], entry: BFCLEntry) -> None:
    """The record's verdicts; for an entry a retry answered, also what that answer would have scored."""
    record["verdicts"] = score_record(record, entry)
    if record.get("first_error") and not record.get("error"):
        record["retried_verdicts"] = score_record({**record, "first_error": None}, entry)


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """Stored records by entry id (the last one wins; torn lines and lines that are not records are skipped)."""
    out: dict[str, dict[str, Any]] = {}
    for record in json_objects(path):
        if isinstance(record.get("id"), str) and isinstance(record.get("category"), str):
            out[record["id"]] = record  # else an object that is no record (hand-edited or foreign lines)
    return out


def _storable(record: dict[str, Any]) -> bytes:
    """The record as a JSON line. What glmbench decoded is bounded (nested at most 100 deep,
    :mod:`glmbench.glm.limits`), but a server's raw reply may hold anything: when it cannot be
    written (nested past orjson's 255 levels, say), the raw replies are left out of the record,
    which says why, and the rest of the record is kept."""
    try:
        return orjson.dumps(record)
    except orjson.JSONEncodeError as exc:
        why = f"the server's raw reply was not stored: {exc}"
    kept = {**record, "response": None, "response_not_stored": why} if "response" in record else dict(record)
    if kept.get("turns"):
        kept["turns"] = [{**turn, "steps": [{**step, "response": None} for step in turn.get("steps") or []]}
                         for turn in kept["turns"]]
        kept["response_not_stored"] = why
    return orjson.dumps(kept)


class EntryLog:
    """The run's records file: each entry's record appended (and flushed) as it ends, and kept by id.

    A record that cannot be written (a full disk) raises the store's error: the run stops there.
    """

    def __init__(self, path: Path, on_done: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = path
        self.done = read_records(path)
        self.on_done = on_done
        self._sink: Any = None

    def todo(self, entries: Sequence[BFCLEntry]) -> list[BFCLEntry]:
        """The entries not yet answered: never asked, or failed at the API (asked again on resume)."""
        return [e for e in entries if e.id not in self.done or self.done[e.id].get("error")]

    def __enter__(self) -> EntryLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sink = self.path.open("ab")
        return self

    def __exit__(self, *exc: object) -> None:
        self._sink.close()

    def keep(self, record: dict[str, Any]) -> None:
        try:
            self._sink.write(_storable(record) + b"\n")
            self._sink.flush()
        except OSError as exc:
            from glmbench.results.store import write_error

            raise write_error(self.path, exc) from None
        self.done[record["id"]] = record
        if self.on_done is not None:
            self.on_done(record)


def executor(entry: BFCLEntry) -> Callable[[list[tuple[str, dict[str, Any]]]], list[str]]:
    """A multi-turn entry's environment, as the executor its conversation runs calls on: this entry's own
    instances of BFCL's simulated APIs, kept for every turn."""
    from glmbench.bfcl.multi_turn.environment import BFCLModules, Scenario, new_environment
    from glmbench.bfcl.multi_turn.execute import execute_calls

    scenario = Scenario.of(entry)
    env = new_environment(scenario, BFCLModules(version=scenario.version))

    def execute(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
        return [e.result for e in execute_calls(env, calls)]

    return execute


def _retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _short(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        message = exc.message if isinstance(exc.message, str) else str(exc)
        return f"HTTP {exc.status_code}: {one_line(message, 200)}"
    return f"{type(exc).__name__}: {one_line(exc, 200)}"


async def _ask(client: Any, endpoint: str, body: dict[str, Any], retries: int,
               first_errors: list[str] | None = None) -> tuple[dict | None, str | None, int]:
    """The raw response (as a dict), or the error after ``retries`` retries, and the attempts made.

    The first attempt's error, when a retry followed it, is appended to ``first_errors``.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            if endpoint == "chat":
                resp = await client.chat.completions.create(**body)
            else:
                resp = await client.completions.create(**body)
            if not hasattr(resp, "model_dump"):  # e.g. an event stream sent back to a non-streamed request
                return None, f"unexpected reply: {one_line(resp, 200)}", attempt
            return resp.model_dump(mode="json"), None, attempt
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, never raised
            if attempt <= retries and _retryable(exc):
                if attempt == 1 and first_errors is not None:
                    first_errors.append(_short(exc))
                await asyncio.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
                continue
            return None, _short(exc), attempt


async def run_entries(
    entries: Sequence[BFCLEntry],
    suite: BFCLSuite,
    base_url: str,
    model: str,
    records_path: Path,
    api_key: str | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    agentic: AgenticOptions | None = None,
) -> dict[str, dict[str, Any]]:
    """Ask every entry not yet answered in ``records_path``; return all records by id.

    BFCL v4's agentic entries run with ``agentic`` (what the user provided: an embedding model, a search service);
    those of a category that cannot run here (:func:`~glmbench.bfcl.agentic.backends.not_run_reason`) are not
    asked and get no record. The memory prerequisite conversations are kept in :data:`PREREQUISITES` beside
    the records."""
    import openai

    log = EntryLog(records_path, on_done)
    todo = log.todo(entries)
    run = None
    if any(is_agentic(e.category) for e in todo):
        from glmbench.bfcl.agentic.backends import not_run_reason
        from glmbench.bfcl.agentic.play import AgenticRun

        run = AgenticRun(agentic)
        todo = [e for e in todo if not is_agentic(e.category) or not_run_reason(e.category, run.options) is None]
    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "EMPTY", max_retries=0,
                                timeout=suite.timeout_s)
    gate = asyncio.Semaphore(suite.concurrency or len(todo) or 1)
    thinking = suite.enable_thinking

    async def conversation(entry: BFCLEntry) -> dict[str, Any]:
        from glmbench.bfcl.multi_turn.conversation import STYLE, play

        execute = executor(entry)
        first_errors: list[str] = []

        async def ask(endpoint: str, body: dict[str, Any]):
            return await _ask(client, endpoint, body, suite.retries, first_errors)

        async with gate:
            # Scenario.of above refused an entry without BFCL's multi-turn fields, which only LoadedEntry has.
            fields = await play(cast("LoadedEntry", entry), suite, model, ask, execute)
        record = {"id": entry.id, "category": entry.category, "mode": suite.mode, "style": STYLE, "names": {},
                  "attempts": sum(s["attempts"] for t in fields["turns"] for s in t["steps"]), **fields}
        if first_errors:
            record["first_error"] = first_errors[0]  # a step of the conversation needed a retry
        return record

    async def agentic_conversation(entry: BFCLEntry) -> dict[str, Any]:
        from glmbench.bfcl.agentic.play import play_agentic
        from glmbench.bfcl.multi_turn.conversation import STYLE

        first_errors: list[str] = []

        async def ask(endpoint: str, body: dict[str, Any]):
            return await _ask(client, endpoint, body, suite.retries, first_errors)

        assert run is not None
        fields = await play_agentic(cast("LoadedEntry", entry), suite, model, ask, run, gate)
        record = {"id": entry.id, "category": entry.category, "mode": suite.mode, "style": STYLE, "names": {},
                  "attempts": sum(s["attempts"] for t in fields["turns"] for s in t["steps"]), **fields}
        if first_errors:
            record["first_error"] = first_errors[0]
        return record

    async def one(entry: BFCLEntry) -> None:
        if is_agentic(entry.category):
            record = await agentic_conversation(entry)
            score_into(record, entry)
            log.keep(record)
            return
        if traits(entry.category).multi_turn:
            record = await conversation(entry)
            score_into(record, entry)
            log.keep(record)
            return
        prepared = prepare(entry, suite, model)
        first_errors: list[str] = []
        async with gate:
            started = time.perf_counter_ns()
            response, error, attempts = await _ask(client, prepared.endpoint, prepared.body, suite.retries,
                                                   first_errors)
            elapsed_ms = (time.perf_counter_ns() - started) / 1e6
        record = {
            "id": entry.id, "category": entry.category, "mode": suite.mode, "style": suite.style,
            "endpoint": prepared.endpoint, "request": prepared.body, "names": prepared.names,
            "response": response, "error": error, "attempts": attempts, "latency_ms": elapsed_ms,
        }
        if first_errors:
            record["first_error"] = first_errors[0]
        if prepared.variant:
            record["variant"] = prepared.variant  # format_sensitivity: rescoring decodes in its format
        record.update(decode(prepared.endpoint, response, prepared.tools, thinking, prepared.variant))
        score_into(record, entry)
        log.keep(record)

    try:
        with log:
            tasks = [asyncio.ensure_future(one(e)) for e in todo]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                # A record that cannot be written (a full disk) or Ctrl-C: stop asking, quietly.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
    finally:
        await client.close()
        if run is not None and run.prerequisite_records:
            _keep_prerequisites(records_path.with_name(PREREQUISITES), run.prerequisite_records)
    return log.done


def _keep_prerequisites(path: Path, records: list[dict[str, Any]]) -> None:
    """Append the memory prerequisite conversations of a run (not scored; kept to read what the model stored)."""
    try:
        with path.open("ab") as sink:
            for record in records:
                sink.write(_storable(record) + b"\n")
    except OSError as exc:
        from glmbench.results.store import write_error

        raise write_error(path, exc) from None


def rescore(records: Iterable[dict[str, Any]], entries: dict[str, BFCLEntry], thinking: bool = True) -> list[dict[str, Any]]:
    """Decode and score stored records again (after a decoder or checker change); never asks the server."""
    out = []
    for record in records:
        entry = entries.get(record["id"])
        if entry is None:
            continue
        if is_agentic(entry.category) or traits(entry.category).multi_turn:
            # The conversation went as the model's replies decoded then (the results it saw depend on
            # them), so its calls are scored again as stored, by the checker of now.
            record = dict(record)
            score_into(record, entry)
            out.append(record)
            continue
        request = record.get("request")
        tools = (request.get("tools") if isinstance(request, dict) else None) or []
        if record.get("endpoint") == "completions" and record.get("style") in rule_set_names():
            # A prompt carries its tools as text: the ones its request style sent, to parse the reply by.
            tools = get_rule_set(record["style"]).tools(entry)[0]
        if isinstance(record.get("response"), dict) and record["response"]:
            record = {**record, **decode(record.get("endpoint", "chat"), record["response"], tools, thinking,
                                         record.get("variant"))}
        record = dict(record)
        score_into(record, entry)
        out.append(record)
    return out
