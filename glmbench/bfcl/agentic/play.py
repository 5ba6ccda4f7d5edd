"""Play BFCL v4's agentic entries against a server, as BFCL 2026.3.23's harness does.

Memory (per backend and scenario): the scenario's prerequisite conversations run
first, one after another, in file order, each a multi-turn conversation (the
machinery of :mod:`glmbench.bfcl.multi_turn.conversation`) on a memory instance
that starts from the previous conversation's end state (the first from empty);
its end state is kept as the scenario's snapshot (:func:`~glmbench.bfcl.agentic.backends.snapshot`).
A conversation that fails at the API leaves the snapshot as it was, as BFCL
writes its snapshot only when a conversation ends. Then each scored question
runs on its own fresh instance loaded from the final snapshot: one turn, steps
until the model answers without a call (at most 20 steps more, BFCL's limit).

Every memory conversation's first message is BFCL's memory system prompt: the
scenario's role, how the memory works (core and archival memory for kv and
vector, one unified memory for rec_sum) and what the memory holds now (the
instance's ``_dump_core_memory_to_context``). A scored question already starts
with BFCL's answer-format system message: the memory prompt goes before it, the
two joined by a blank line, as BFCL joins them.

Web search: one fresh WebSearchAPI per question (``show_snippet`` off for
web_search_no_snippet), no prerequisite.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glmbench.bfcl.agentic.backends import (
    MEMORY_BACKENDS,
    AgenticModules,
    AgenticOptions,
    backend_of,
    memory_context,
    new_agentic_environment,
    snapshot,
)
from glmbench.bfcl.agentic.data import Prerequisite, load_agentic
from glmbench.bfcl.agentic.prompts import prompt
from glmbench.bfcl.data import LoadedEntry
from glmbench.bfcl.multi_turn.conversation import Ask, Executor
from glmbench.bfcl.multi_turn.environment import Environment
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.versions import V4

__all__ = ["TOOLS_CATEGORY", "memory_system_prompt", "with_system", "AgenticRun", "scored_question"]

TOOLS_CATEGORY = "multi_turn_base"
"""The category whose tool conversion agentic functions get: BFCL adds its Python hint to the function documents
of every category but Java and JavaScript, as for multi-turn's."""


def memory_system_prompt(category: str, scenario: str, instance: Any, wheel: Path | None = None) -> str:
    """BFCL's memory system prompt for a conversation of ``category`` in ``scenario`` on ``instance`` as it is now."""
    name = "MEMORY_BACKEND_INSTRUCTION_UNIFIED" if "rec_sum" in category else "MEMORY_BACKEND_INSTRUCTION_CORE_ARCHIVAL"
    template = str(prompt(name, wheel))
    setting = prompt("MEMORY_AGENT_SETTINGS", wheel)[scenario]
    return template.format(scenario_setting=setting, memory_content=memory_context(instance))


def with_system(question: list[list[dict[str, Any]]], text: str) -> list[list[dict[str, Any]]]:
    """``question`` with ``text`` as its system message: before the first turn's own system text, or a new one."""
    turns = [[dict(m) for m in turn] for turn in question]
    if turns and turns[0] and turns[0][0].get("role") == "system":
        turns[0][0]["content"] = text + "\n\n" + turns[0][0]["content"]
    elif turns:
        turns[0].insert(0, {"role": "system", "content": text})
    return turns


def _executor(env: Environment) -> Executor:
    from glmbench.bfcl.multi_turn.execute import execute_calls

    def execute(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
        return [e.result for e in execute_calls(env, calls)]

    return execute


def scored_question(entry: LoadedEntry, options: AgenticOptions, state: dict[str, Any] | None
                    ) -> tuple[LoadedEntry, Environment]:
    """The entry as it is sent (a memory entry with its memory system prompt) and its fresh environment."""
    class_name = entry.extra["involved_classes"][0]
    env = new_agentic_environment(entry.id, class_name, AgenticModules(options), state,
                                  show_snippet=bool(entry.extra.get("show_snippet", True)))
    if backend_of(entry.category) is None:
        return entry, env
    system = memory_system_prompt(entry.category, entry.extra["scenario"], env.instances[class_name], options.wheel)
    return dataclasses.replace(entry, question=with_system(entry.question, system)), env


Play = Callable[[LoadedEntry, Executor], Any]


class AgenticRun:
    """The agentic part of one run: each (memory category, scenario)'s prerequisite chain, run once, when the first
    of its questions needs it; its conversations are kept (``prerequisite_records``) beside the run's records."""

    def __init__(self, options: AgenticOptions | None = None,
                 prerequisites: dict[tuple[str, str], list[Prerequisite]] | None = None) -> None:
        self.options = options or AgenticOptions()
        self._prerequisites = prerequisites
        self._chains: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self.prerequisite_records: list[dict[str, Any]] = []

    def _chain(self, category: str, scenario: str) -> list[Prerequisite]:
        if self._prerequisites is None or (category, scenario) not in self._prerequisites:
            loaded = load_agentic([category], self.options.wheel).prerequisites
            self._prerequisites = {**(self._prerequisites or {}), **loaded}
        return self._prerequisites.get((category, scenario), [])

    async def memory_state(self, category: str, scenario: str, play: Play,
                           gate: asyncio.Semaphore | None = None) -> dict[str, Any]:
        """The scenario's snapshot after its prerequisite conversations (run on the first call; later calls wait)."""
        key = (category, scenario)
        future = self._chains.get(key)
        if future is None:
            future = self._chains[key] = asyncio.ensure_future(self._run_chain(category, scenario, play, gate))
        return copy.deepcopy(await asyncio.shield(future))

    async def _run_chain(self, category: str, scenario: str, play: Play,
                         gate: asyncio.Semaphore | None) -> dict[str, Any]:
        class_name = MEMORY_BACKENDS[backend_of(category) or ""]
        state: dict[str, Any] = {}
        for prerequisite in self._chain(category, scenario):
            env = new_agentic_environment(prerequisite.id, class_name, AgenticModules(self.options), state)
            system = memory_system_prompt(category, scenario, env.instances[class_name], self.options.wheel)
            entry = LoadedEntry(id=prerequisite.id, category=category,
                                question=with_system(prerequisite.question, system), function=prerequisite.function,
                                version=V4, extra={"involved_classes": [class_name], "scenario": scenario})
            if gate is None:
                fields = await play(entry, _executor(env))
            else:
                async with gate:
                    fields = await play(entry, _executor(env))
            ended = snapshot(env.instances[class_name])
            if not fields.get("error"):
                state = ended  # BFCL writes the snapshot when a conversation ends, not when it fails
            self.prerequisite_records.append({"id": prerequisite.id, "category": category, "scenario": scenario,
                                              "prerequisite": True, **fields, "memory_after": ended})
        return state


async def play_agentic(entry: LoadedEntry, suite: BFCLSuite, model: str, ask: Ask, run: AgenticRun,
                       gate: asyncio.Semaphore | None = None) -> dict[str, Any]:
    """An agentic entry's conversation (after its scenario's prerequisites): its record fields."""
    from glmbench.bfcl.multi_turn.conversation import play

    async def conversation(sent: LoadedEntry, execute: Executor) -> dict[str, Any]:
        return await play(sent, suite, model, ask, execute, tools_category=TOOLS_CATEGORY)

    state = None
    if backend_of(entry.category) is not None:
        state = await run.memory_state(entry.category, entry.extra["scenario"], conversation, gate)
    sent, env = scored_question(entry, run.options, state)
    if gate is None:
        fields = await conversation(sent, _executor(env))
    else:
        async with gate:
            fields = await conversation(sent, _executor(env))
    return {**fields, "memory_before": state} if state is not None else fields
