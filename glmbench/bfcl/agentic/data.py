"""BFCL v4's agentic entries, read from the v4 wheel: memory (per backend), its prerequisite conversations, web search.

As BFCL 2026.3.23 builds them (``bfcl_eval/utils.py``, ``load_dataset_entry``):

- ``memory_<backend>`` (kv, vector, rec_sum): the 155 questions of
  ``BFCL_v4_memory.json``, ids ``memory_<n>-<scenario>-<k>`` renamed
  ``memory_<backend>_<n>-...``; one turn each; answers (a list of acceptable
  texts) from ``possible_answer/BFCL_v4_memory.json``. Each scenario (student,
  customer, finance, healthcare, notetaker) has prerequisite conversations in
  ``memory_prereq_conversation/memory_<scenario>.json`` (ids
  ``memory_prereq_<n>-<scenario>-<k>``, renamed ``memory_<backend>_prereq_...``),
  several turns of user messages each, run in file order before the scenario's
  questions; they are not scored.
- ``web_search_base`` and ``web_search_no_snippet``: the 100 questions of
  ``BFCL_v4_web_search.json`` under both names (ids ``web_search_<n>`` renamed),
  the second with search results shown without their snippets.
- functions: the class's documents from ``multi_turn_func_doc/`` (``memory_kv.json``
  and so on, ``web_search.json``).
- every scored entry's first turn starts with BFCL's system message asking for the
  ``{'answer': ..., 'context': ...}`` format; prerequisite conversations do not.

The entries are :class:`~glmbench.bfcl.data.LoadedEntry` with ``ground_truth``
None and, in ``extra``, ``answers``, ``involved_classes`` and ``scenario``
(memory) or ``show_snippet`` (web search).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.bfcl.agentic.backends import MEMORY_BACKENDS, backend_of
from glmbench.bfcl.agentic.prompts import prompt
from glmbench.bfcl.agentic.wheel import fetch_hint, read_member, v4_wheel
from glmbench.bfcl.data import LoadedEntry
from glmbench.bfcl.versions import V4
from glmbench.errors import GlmbenchError

__all__ = ["AGENTIC_CATEGORIES", "MEMORY_CATEGORIES", "WEB_SEARCH_CATEGORIES", "SCENARIOS", "AgenticData",
           "Prerequisite", "load_agentic", "is_agentic"]

MEMORY_CATEGORIES = tuple(f"memory_{b}" for b in MEMORY_BACKENDS)
WEB_SEARCH_CATEGORIES = ("web_search_base", "web_search_no_snippet")
AGENTIC_CATEGORIES = MEMORY_CATEGORIES + WEB_SEARCH_CATEGORIES
SCENARIOS = ("student", "customer", "finance", "healthcare", "notetaker")
"""BFCL's memory scenarios, in its order."""

_DATA = "bfcl_eval/data/"
_DOCS = {"MemoryAPI_kv": "memory_kv.json", "MemoryAPI_vector": "memory_vector.json",
         "MemoryAPI_rec_sum": "memory_rec_sum.json", "WebSearchAPI": "web_search.json"}


def is_agentic(category: str) -> bool:
    """Whether ``category`` is one of BFCL v4's agentic categories."""
    return category in AGENTIC_CATEGORIES


@dataclass(frozen=True)
class Prerequisite:
    """One prerequisite conversation of a memory scenario: its turns of user messages, for one backend."""

    id: str
    category: str
    scenario: str
    question: list[list[dict[str, Any]]]
    function: list[dict[str, Any]]
    involved_class: str


@dataclass
class AgenticData:
    """What was read: scored entries, prerequisite conversations by (category, scenario), the files' hash."""

    entries: list[LoadedEntry]
    prerequisites: dict[tuple[str, str], list[Prerequisite]] = field(default_factory=dict)
    sha256: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def _lines(wheel: Path, rel: str, hashes: dict[str, str]) -> list[dict[str, Any]]:
    data = read_member(wheel, _DATA + rel)
    hashes[rel] = hashlib.sha256(data).hexdigest()
    rows = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GlmbenchError(f"{wheel}!{_DATA}{rel} line {number}: not valid JSON ({exc.msg})",
                                f"delete the wheel and run {fetch_hint()}") from None
        if not isinstance(row, dict):
            raise GlmbenchError(f"{wheel}!{_DATA}{rel} line {number}: not an object",
                                f"delete the wheel and run {fetch_hint()}")
        rows.append(row)
    return rows


def _answers(wheel: Path, rel: str, hashes: dict[str, str]) -> dict[str, list[str]]:
    return {row["id"]: [str(a) for a in row.get("ground_truth") or []] for row in _lines(wheel, rel, hashes)}


def _with_format_prompt(question: list[list[dict[str, Any]]], text: str) -> list[list[dict[str, Any]]]:
    turns = [[dict(m) for m in turn] for turn in question]
    turns[0].insert(0, {"role": "system", "content": text})
    return turns


def load_agentic(categories: Iterable[str], wheel: Path | None = None) -> AgenticData:
    """The entries (and, for memory, the prerequisite conversations) of ``categories``, from the v4 wheel."""
    wanted = list(dict.fromkeys(categories))
    unknown = [c for c in wanted if c not in AGENTIC_CATEGORIES]
    if unknown:
        raise GlmbenchError(f"not a BFCL v4 agentic category: {', '.join(unknown)}",
                            f"choose from {', '.join(AGENTIC_CATEGORIES)}")
    path = v4_wheel(wheel)
    hashes: dict[str, str] = {}
    docs: dict[str, list[dict[str, Any]]] = {}

    def functions(class_name: str) -> list[dict[str, Any]]:
        if class_name not in docs:
            docs[class_name] = _lines(path, f"multi_turn_func_doc/{_DOCS[class_name]}", hashes)
        return json.loads(json.dumps(docs[class_name]))

    format_prompt = str(prompt("ADDITIONAL_SYSTEM_PROMPT_FOR_AGENTIC_RESPONSE_FORMAT", path))
    out = AgenticData([])
    for category in wanted:
        backend = backend_of(category)
        if backend is not None:
            class_name = MEMORY_BACKENDS[backend]
            answers = _answers(path, "possible_answer/BFCL_v4_memory.json", hashes)
            for scenario in SCENARIOS:
                out.prerequisites[category, scenario] = [
                    Prerequisite(row["id"].replace("memory", category, 1), category, scenario, row["question"],
                                 functions(class_name), class_name)
                    for row in _lines(path, f"memory_prereq_conversation/memory_{scenario}.json", hashes)]
            rows = _lines(path, "BFCL_v4_memory.json", hashes)
            extra: dict[str, Any] = {"involved_classes": [class_name]}
        else:
            answers = _answers(path, "possible_answer/BFCL_v4_web_search.json", hashes)
            rows = _lines(path, "BFCL_v4_web_search.json", hashes)
            extra = {"involved_classes": ["WebSearchAPI"], "show_snippet": category != "web_search_no_snippet"}
        for row in rows:
            entry_id = row["id"].replace("memory" if backend is not None else "web_search", category, 1)
            more = {"scenario": row["scenario"]} if "scenario" in row else {}
            out.entries.append(LoadedEntry(
                id=entry_id, category=category, question=_with_format_prompt(row["question"], format_prompt),
                function=functions(extra["involved_classes"][0]), ground_truth=None, version=V4,
                extra={**extra, **more, "answers": answers.get(row["id"], [])}))
            out.counts[category] = out.counts.get(category, 0) + 1
    out.sha256 = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()
    return out
