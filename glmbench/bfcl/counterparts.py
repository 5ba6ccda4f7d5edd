"""An entry's twin in another BFCL release: what lets one run be scored under the rules of both releases.

A rule set judges the entries of one release (its ``bfcl_version``). A stored
reply to an entry of the other release is judged against that entry's *twin*:
the entry of the rule set's release in the same category (v3's ``simple`` is
v4's ``simple_python``) that asks the same thing, so that the request the run
sent is the request the rule set's release sends:

- a single-turn entry: the same question and the same functions. Its ground
  truth may differ (v4 corrected a few); the twin's is the one judged against.
- a multi-turn entry: the same turns, functions (held-out ones too), initial state
  and classes, *and* the same code of those classes in both wheels: the results
  the model saw came from its own release's simulated APIs. v4 changed every
  class but MathAPI, so nearly no multi-turn conversation has a twin.

Twins are found by content, never by id alone (v4 renumbered ``live_relevance``
and dropped two of its entries). Where there is no twin the reply is not scored
under those rules, with the reason: a v4 score of a changed entry needs a v4
run (and a v3 score of it a v3 run). The other release's data comes from its
wheel in glmbench's cache (``glmbench data fetch bfcl --version V``); without
it nothing of the run is scored under that release's rules, and the reason says
how to fetch it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.categories import same_category, traits
from glmbench.bfcl.types import BFCLEntry
from glmbench.bfcl.versions import version_info
from glmbench.errors import GlmbenchError

__all__ = ["counterpart", "content_key", "read_twins"]


def content_key(entry: BFCLEntry) -> str:
    """What must be equal for two entries of one category to be the same question: the question and the functions
    offered; for a multi-turn entry also the held-out functions, the initial state and the classes involved."""
    parts: list[Any] = [entry.question, entry.function]
    if traits(entry.category).multi_turn:
        extra: Mapping[str, Any] = getattr(entry, "extra", None) or {}
        parts += [extra.get("missed_function_docs") or {}, extra.get("initial_config") or {},
                  list(extra.get("involved_classes") or [])]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _Index:
    """One release's entries by category and content (or why they cannot be read)."""

    by_key: dict[tuple[str, str], list[BFCLEntry]] = field(default_factory=dict)
    unavailable: str = ""


_lock = threading.Lock()
_indexes: dict[str, _Index] = {}


def _index(version: str) -> _Index:
    with _lock:
        index = _indexes.get(version)
        if index is not None:
            return index
        index = _indexes[version] = _build(version)
        return index


def read_twins(version: str) -> None:
    """Read now the other releases' entries that the twins of ``version``'s entries are found among (a second or
    two each), so that a run does not pause for them at its first verdict."""
    from glmbench.bfcl.versions import VERSIONS

    for other in VERSIONS:
        if other != version:
            _index(other)


def _build(version: str) -> _Index:
    from glmbench.bfcl.data import cached_wheel, load_bfcl, wheel_name

    info = version_info(version)
    try:
        if cached_wheel(version) is None:
            return _Index(unavailable=f"BFCL {info.label}'s data ({wheel_name(version)}) is not in glmbench's cache "
                                      f"to find the entry's {info.label} twin: run {info.fetch_command}")
        entries, _ = load_bfcl(None, "cache", None, version)
    except GlmbenchError as exc:
        return _Index(unavailable=f"BFCL {info.label}'s data cannot be read: {exc.message} ({exc.hint})")
    index = _Index()
    for entry in entries:
        index.by_key.setdefault((entry.category, content_key(entry)), []).append(entry)
    return index


def _same_environment(entry: BFCLEntry, twin: BFCLEntry) -> str | None:
    """Why the classes ``entry`` ran on are not ``twin``'s (their code differs between the releases), or None."""
    from glmbench.bfcl.environments import environment_spec, source_digests

    mine, theirs = source_digests(entry.version), source_digests(twin.version)
    if mine is None or theirs is None:
        missing = entry.version if mine is None else twin.version
        return f"BFCL {version_info(missing).label}'s simulated APIs are not in glmbench's cache to compare: run " \
               f"{version_info(missing).fetch_command}"
    classes = list((getattr(entry, "extra", None) or {}).get("involved_classes") or [])
    spec, other = environment_spec(entry.version), environment_spec(twin.version)
    changed = []
    for name in classes:
        stem = spec.classes.get(name)
        stems = [*spec.helpers, *([stem] if stem else [])]
        if stem != other.classes.get(name) or any(mine.get(s) != theirs.get(s) for s in stems):
            changed.append(name)
    if changed:
        return (f"BFCL {version_info(twin.version).label} changed the simulated APIs this conversation ran on "
                f"({', '.join(changed)}), so the results the model saw are not {version_info(twin.version).label}'s")
    return None


def counterpart(entry: BFCLEntry, version: str) -> BFCLEntry | str:
    """``entry`` as release ``version`` has it: itself when it is of that release, else its twin there (see the
    module's docstring); or, where there is none, why (a sentence for a verdict's reason)."""
    if entry.version == version:
        return entry
    info, mine = version_info(version), version_info(entry.version)
    category = same_category(entry.category, entry.version, version)
    if category is None:
        return f"{entry.category} is not a BFCL {info.label} category"
    index = _index(version)
    if index.unavailable:
        return index.unavailable
    twins = index.by_key.get((category, content_key(entry)))
    if not twins:
        return (f"BFCL {info.label}'s {category} has no entry with this {mine.label} entry's question and functions "
                f"(changed or dropped in {max(info.label, mine.label)}): its {info.label} score needs a "
                f"{info.label} run")
    # Equal twins (repeated questions) are told apart by id where the ids still match.
    wanted = category + entry.id.split("#")[0][len(entry.category):]
    twin = next((t for t in twins if t.id == wanted), twins[0])
    if traits(category).multi_turn:
        why = _same_environment(entry, twin)
        if why:
            return f"{why}: its {info.label} score needs a {info.label} run"
    return twin
