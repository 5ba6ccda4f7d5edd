"""BFCL's ground truth as an answer book: the simulator then answers every entry as BFCL expects.

A BFCL run against glmbench's simulator measures nothing about a model (it has
none); what it can check is the pipeline around one: requests, the server's
tool-call streaming, decoding, both rule sets, latency under load. With this
book (:mod:`glmbench.sim.answers`) a correct pipeline scores what the book says
each table scores by construction (:meth:`TruthBook.expected`), so a drop is a
glmbench or dialect bug, not noise.

One line per request the simulator will see that has calls to give, keyed as
the simulator keys it (:func:`~glmbench.sim.answers.request_key`):

- a single-turn entry: the request :func:`~glmbench.bfcl.requests.prepare` makes,
  answered with its ground truth read as every rule set that scores the entry
  passes: one acceptable value of every parameter (and, at every level, of every
  key of a dict value), Java and JavaScript values written as that language's
  expressions where BFCL's converters read them back as they were
  (:mod:`glmbench.bfcl.java_js`). The rule sets do not always agree: LightLLM's
  script compares a dict with its lists of allowed values as written, wants
  every key (optional ones too) and Java/JavaScript values as JSON; BFCL's
  checker wants one value, an optional key it does not know left out, and those
  values as text. Where no reading passes both, the book answers as the suite's
  own rules (``scoring``, the table shown first) want, and counts the entries
  the other table cannot pass, with why. An entry with no ground truth gets no
  line where the simulator's plain text, no call, is what it expects
  (irrelevance, rest), else a call of the first tool offered (relevance).
- a multi-turn entry: the first request of each turn with ground-truth calls,
  keyed on the user messages and tool results so far, the results those calls
  give on the entry's own environment (BFCL's simulated APIs).

Two entries whose requests have the same key (the same words and tools) and
want different calls get the later one's answer (the simulator keeps the last
line of a key): the earlier one is counted as one the book cannot pass.

The book answers from the ground truth of the entries' own BFCL release (a v4
suite's from v4's). A rule set of the other release scores only the entries that
have a twin there (:mod:`glmbench.bfcl.counterparts`), and cannot pass the few
whose twin's ground truth differs: both are counted in :meth:`TruthBook.expected`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.bfcl.categories import traits
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.types import BFCLEntry

__all__ = ["TruthBook", "truth_book", "write_truth_book"]

# BFCL's checker reads Java and JavaScript values as text (its requests declare them strings, with a type hint).
_TEXT_ARGUMENTS = ("java", "javascript")


def _scoring(entry: BFCLEntry) -> list[Any]:
    """The rule sets that score ``entry``: those whose release has its twin, in a category they score."""
    from glmbench.bfcl.counterparts import counterpart
    from glmbench.bfcl.registry import rule_sets

    out = []
    for rule_set in rule_sets():
        twin = counterpart(entry, rule_set.bfcl_version)
        if not isinstance(twin, str) and twin.category not in rule_set.unscored:
            out.append(rule_set)
    return out


def _other_truth(entry: BFCLEntry, rule_set: Any) -> bool:
    """Whether ``rule_set`` judges ``entry`` against another ground truth (its release's twin has its own)."""
    from glmbench.bfcl.counterparts import counterpart

    twin = counterpart(entry, rule_set.bfcl_version)
    return not isinstance(twin, str) and twin.ground_truth != entry.ground_truth


@dataclass(frozen=True)
class _Reading:
    """One way of reading a possible answer as a call, where the rule sets read it differently: the book sends
    the first reading that every rule set scoring the entry passes, where one does.

    ``unwrap``: a dict's values (at every level) as one allowed value each, BFCL's meaning of a possible answer;
    else as written, lists of allowed values (LightLLM's script compares a dict so). ``text``: Java and
    JavaScript values as the language's expressions (BFCL's converters read them back), else as JSON values.
    ``omit``: a parameter that may be left out (``""`` among its values) is left out when it has no other value
    (``"empty"``), always (``"optional"``), or sent as ``""`` when it has no other (``"send"``)."""

    unwrap: bool
    text: bool
    omit: str

    def distance(self, other: _Reading) -> int:
        """In how many ways ``other`` reads the answer otherwise."""
        return (self.unwrap != other.unwrap) + (self.text != other.text) + (self.omit != other.omit)

    def wanted(self, other: _Reading) -> str:
        """What rules that pass ``other``'s calls and not these want otherwise, in words after a count."""
        if self.unwrap != other.unwrap:
            return ("where its rules want one of a dict's allowed values, not the lists" if other.unwrap
                    else "where its rules want a dict's lists of allowed values as written")
        if self.text != other.text:
            return f"where its rules want Java/JavaScript values as {'text' if other.text else 'JSON values'}"
        sent = other.omit == "send" or (other.omit == "empty" and self.omit == "optional")
        return f"where its rules want an optional parameter {'sent' if sent else 'left out'}"


_NO_READING = "where no answer to the request as sent passes its rules"
_RENAMED = "where the request sent a tool it calls under another name (its '.' as '_')"
_SAME_QUESTION = "with the question and tools of another entry that wants other calls"
_CALL_OR_NONE = "where its rules want a call or none, as the other rules do not"
_OTHER_TRUTH = "where its BFCL release's ground truth differs from the one answered"


def _readings(text_first: bool) -> list[_Reading]:
    """Every reading, BFCL's meaning first; Java/JavaScript values first as the request declares them."""
    return [_Reading(unwrap, text, omit) for unwrap in (True, False) for text in (text_first, not text_first)
            for omit in ("empty", "optional", "send")]


def _first_value(values: list[Any], reading: _Reading) -> tuple[Any, bool]:
    """The first acceptable value that is not BFCL's "may be omitted" marker (``""``), and whether the parameter is
    sent (one with no other value is left out, or, when the reading sends it, sent as ``""``)."""
    if reading.omit == "optional" and "" in values:
        return "", False
    for value in values:
        if value != "":
            return (_chosen(value, reading) if reading.unwrap else value), True
    return "", reading.omit == "send"


def _chosen(value: Any, reading: _Reading) -> Any:
    """A value whose dicts (alone or in a list) are possible answers in turn, ``{key: [values]}``, with one value
    chosen at every level."""
    if isinstance(value, dict):
        out = {}
        for key, values in value.items():
            if not isinstance(values, list):
                return value  # not a possible answer's dict: a value as it is
            chosen, keep = _first_value(values, reading)
            if keep:
                out[key] = chosen
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_chosen(v, reading) for v in value]
    return value


def _literal(value: Any, language: str) -> str:
    """An element of a Java or JavaScript collection: text quoted, booleans and numbers as written."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, language) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_literal(v, language)}" for k, v in value.items()) + "}"
    return str(value)


def _as_text(value: Any, type_hint: str, items_type: str | None, language: str) -> str:
    """``value`` as the Java or JavaScript expression that BFCL's converter reads back as it."""
    if isinstance(value, str):
        return value
    if language == "java":
        if type_hint == "long":
            return f"{value}L"
        if type_hint == "float":
            return f"{value}f"
        if type_hint == "HashMap" and isinstance(value, dict):
            puts = " ".join(f"put({json.dumps(k)}, {_literal(v, language)});" for k, v in value.items())
            return f"new HashMap<String, Object>() {{{{ {puts} }}}}"
        if type_hint == "ArrayList" and isinstance(value, list):
            return "new ArrayList<>(Arrays.asList(" + ", ".join(_literal(v, language) for v in value) + "))"
        if type_hint == "Array" and isinstance(value, list):
            # String elements keep their quotes in BFCL's conversion: written bare, they come back as they were.
            shown = [v if isinstance(v, str) and items_type == "String" else _literal(v, language) for v in value]
            return f"new {items_type or 'Object'}[]{{" + ", ".join(shown) + "}"
    elif type_hint == "Bigint":
        return f"{value}n"
    return _literal(value, language)


def _property_types(function: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Each parameter's declared type and element type, in a BFCL function document."""
    properties = (function.get("parameters") or {}).get("properties") or {}
    return {name: (str(p.get("type", "")), (p.get("items") or {}).get("type")) for name, p in properties.items()
            if isinstance(p, dict)}


def _sent_as_text(tools: list[dict[str, Any]]) -> bool:
    """Whether a request declares every parameter of its tools a string (BFCL's style does for Java and
    JavaScript, with a type hint): a model then answers them as text."""
    properties = [p for tool in tools for p in ((tool.get("function", tool).get("parameters") or {})
                                                 .get("properties") or {}).values()]
    return bool(properties) and all(isinstance(p, dict) and p.get("type") == "string" for p in properties)


def _calls(entry: BFCLEntry, prepared: Any, reading: _Reading) -> list[dict[str, Any]]:
    """The ground truth's calls as the server would send them (sent names), read one way."""
    assert entry.ground_truth  # entries without one get no line
    sent_as = {original: sent for sent, original in prepared.names.items()}
    language = traits(entry.category).language if reading.text else None
    language = language if language in _TEXT_ARGUMENTS else None
    declared = {f.get("name"): _property_types(f) for f in entry.function}
    calls = []
    for call in entry.ground_truth:
        [(name, params)] = call.items()
        arguments = {}
        for param, values in params.items():
            value, keep = _first_value(values, reading)
            if keep:
                if language:
                    type_hint, items_type = declared.get(name, {}).get(param, ("", None))
                    value = _as_text(value, type_hint, items_type, language)
                arguments[param] = value
        calls.append({"name": sent_as.get(name, name), "arguments": arguments})
    return calls


@dataclass
class _Answered:
    """An entry's answers (each request's key and calls; no calls: the simulator's plain text answers it), the
    rule sets that score the entry, and why each of those that the answers cannot pass cannot (by name)."""

    answers: list[tuple[str, list[dict[str, Any]]]]
    scored: list[str]
    short: dict[str, str] = field(default_factory=dict)
    check: Any = None  # calls -> the names of the scoring rule sets they pass (single-turn entries)


def _single_turn(entry: BFCLEntry, suite: BFCLSuite) -> _Answered:
    """The line answering ``entry``: the first reading of its ground truth that every rule set scoring it
    passes; where the rule sets want different answers, the first that the suite's own rules pass (its
    ``scoring``, the table shown first; where they do not score the category, the first rules that do), else
    the first. Without a ground truth: no call (plain text), or a call of the first tool offered (relevance:
    any call does), chosen the same way."""
    from glmbench.bfcl.registry import get_rule_set
    from glmbench.bfcl.requests import decode, prepare
    from glmbench.sim.answers import request_key

    prepared = prepare(entry, suite, "")
    key = request_key(prepared.body, prepared.endpoint == "chat")
    scoring = _scoring(entry)
    if key is None:
        return _Answered([], [r.name for r in scoring])
    first = get_rule_set(suite.scoring)
    first = first if first in scoring else (scoring[0] if scoring else first)

    def passes(calls: list[dict[str, Any]]) -> set[str]:
        # As the run reads the reply: sent as the simulator sends it, decoded as a record's response is.
        reply = decode(prepared.endpoint, _served(calls, prepared.endpoint == "chat"), prepared.tools,
                       suite.enable_thinking)
        record = {**reply, "names": prepared.names}
        return {r.name for r in scoring if r.check(entry, record).ok}

    candidates = _candidates(entry, prepared)
    passed = [passes(calls) for _, calls in candidates]
    names = {r.name for r in scoring}
    index = next((i for i, p in enumerate(passed) if p == names), None)
    if index is None:
        index = next((i for i, p in enumerate(passed) if first.name in p), 0)
    chosen, calls = candidates[index]
    short = {}
    for name in sorted(names - passed[index]):
        if _other_truth(entry, get_rule_set(name)):
            short[name] = _OTHER_TRUTH
            continue
        others = [r for (r, _), p in zip(candidates, passed) if name in p]
        readings = [r for r in others if r is not None]
        if not others:
            called = {n for c in entry.ground_truth or [] for n in c}
            short[name] = _RENAMED if called & set(prepared.names.values()) else _NO_READING
        elif chosen is None or len(readings) < len(others):
            short[name] = _CALL_OR_NONE
        else:
            short[name] = chosen.wanted(min(readings, key=chosen.distance))
    return _Answered([(key, calls)], [r.name for r in scoring], short, passes)


def _served(calls: list[dict[str, Any]], chat: bool) -> dict[str, Any]:
    """The response the simulator gives with ``calls`` from its book: tool calls with JSON arguments (chat), or
    GLM-4.7 text (a raw completion, prompt mode), which glmbench's parser reads back by the tools' types."""
    from glmbench.sim.answers import Answer

    answer = Answer(calls)
    if chat:
        tool_calls = [{"function": {"name": name, "arguments": arguments}} for name, arguments in answer.calls_json()]
        return {"choices": [{"message": {"content": None, "tool_calls": tool_calls}}]}
    return {"choices": [{"text": answer.glm_text()}]}


def _candidates(entry: BFCLEntry, prepared: Any) -> list[tuple[_Reading | None, list[dict[str, Any]]]]:
    """The answers to try, each with the reading that gave it (None: not a reading of a ground truth), in order of
    preference: every reading of the ground truth; without one, no call, then a call of the first tool offered."""
    if not entry.ground_truth:
        tools = prepared.tools
        return [(None, []), *([(None, [{"name": tools[0].get("function", {}).get("name", ""), "arguments": {}}])]
                              if tools else [])]
    candidates: list[tuple[_Reading | None, list[dict[str, Any]]]] = []
    for reading in _readings(_sent_as_text(prepared.tools)):
        calls = _calls(entry, prepared, reading)
        if all(calls != c for _, c in candidates):
            candidates.append((reading, calls))
    return candidates


def _multi_turn(entry: Any, modules: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each turn's first request: its key and the turn's ground-truth calls (none for a turn that wants none: the
    simulator's plain text answers it, unless another entry's line has the same key)."""
    from glmbench.bfcl.convert import bfcl_tools
    from glmbench.bfcl.multi_turn.conversation import turn_functions, turn_messages
    from glmbench.bfcl.multi_turn.environment import Scenario, new_environment
    from glmbench.bfcl.multi_turn.execute import execute_calls, parse_call
    from glmbench.sim.answers import conversation_text, question_key

    env = new_environment(Scenario.of(entry), modules)
    # A few miss_func ground truths call a held-out function before its turn (BFCL's data): sent anyway.
    documents = {f["name"]: f for f in turn_functions(entry, len(entry.question))}
    parts: list[str] = []
    lines: list[tuple[str, list[dict[str, Any]]]] = []
    for turn, truth in enumerate(entry.ground_truth or []):
        parts += [m["content"] for m in turn_messages(entry, turn) if m["role"] == "user"]
        offered = [t["function"]["name"] for t in bfcl_tools(turn_functions(entry, turn), entry.category).tools]
        key = question_key(conversation_text(parts, turn > 0), offered)
        if not truth:
            lines.append((key, []))  # a turn that wants no call: no line of its own
            continue
        calls: list[tuple[str, dict[str, Any]]] = []
        for text in truth:
            parsed = parse_call(text)
            names = list((documents.get(parsed.name, {}).get("parameters") or {}).get("properties") or {})
            calls.append((parsed.name, {**dict(zip(names, parsed.args)), **(parsed.kwargs or {})}))
        lines.append((key, [{"name": name, "arguments": arguments} for name, arguments in calls]))
        parts += [e.result for e in execute_calls(env, list(calls))]
    return lines


@dataclass
class TruthBook:
    """An answer book of BFCL's ground truth: its lines, and what each rule set's table scores on it by
    construction (a correct pipeline scores exactly that; less is a glmbench or dialect bug)."""

    lines: list[dict[str, Any]]
    first: str
    """The rule set whose table is shown first (the suite's ``scoring``): where the rule sets want different
    answers, the book gives the one its rules pass."""
    scored: dict[str, int]
    """Rule set -> the entries it scores."""
    short: dict[str, dict[str, int]]
    """Rule set -> why -> the entries that no answer of the book can pass under its rules."""

    def passes(self, rules: str) -> int:
        """The entries ``rules`` passes by construction."""
        return self.scored.get(rules, 0) - sum(self.short.get(rules, {}).values())

    def expected(self) -> str:
        """What each table scores by construction, in words: the table shown first, then the others, each below
        its count with why."""
        parts = []
        for name in sorted(self.scored, key=lambda n: n != self.first):
            total, passed = self.scored[name], self.passes(name)
            if not total:
                continue
            why = "; ".join(f"{n} {reason}" for reason, n in sorted(self.short.get(name, {}).items(),
                                                                    key=lambda item: -item[1]))
            if name == self.first and passed >= 0.95 * total:
                parts.append(f"the {name} table scores near 100% ({passed} of {total} entries"
                             f"{': ' + why if why else ''})")
            else:
                parts.append(f"the {name} table {passed} of {total}{f' ({why})' if why else ''}")
        return "by construction " + ", ".join(parts)


def _format_variant_lines(entries: Sequence[BFCLEntry], suite: BFCLSuite) -> list[dict[str, Any]]:
    """format_sensitivity's entries (prompt mode only): each answered with its ground truth written in its
    variant's return format, keyed on its whole prompt (which names the variant)."""
    asked = [e for e in entries if traits(e.category, e.version).expects == "format_variants"]
    if not asked or suite.mode != "prompt":
        return []
    from glmbench.bfcl.agentic.format_decoding import truth_reply
    from glmbench.bfcl.requests import prepare
    from glmbench.sim.answers import request_key

    return [{"key": request_key(prepare(e, suite, "").body, False), "tool_calls": [], "content": truth_reply(e)}
            for e in asked]


def truth_book(entries: Sequence[BFCLEntry], suite: BFCLSuite) -> TruthBook:
    """The answer book (lines ``{"key", "tool_calls"}``) that answers ``entries``, asked under ``suite``, with
    their ground truth, and what each table scores on it. Multi-turn entries need BFCL's simulated APIs (the
    cached wheel), as their run does."""
    answered: list[_Answered] = []
    modules: dict[str, Any] = {}  # one copy of BFCL's classes per release
    agentic = [e for e in entries if traits(e.category, e.version).expects == "agentic_answer"]
    for entry in entries:
        if traits(entry.category, entry.version).expects == "agentic_answer":
            # Answered in words (the lines below), which its checker passes; scored by the v4 rules alone.
            answered.append(_Answered([], [r.name for r in _scoring(entry)]))
            continue
        if traits(entry.category, entry.version).expects == "format_variants":
            answered.append(_Answered([], []))  # answered in its variant's format (below); reported apart
            continue
        if traits(entry.category).multi_turn:
            if entry.version not in modules:
                from glmbench.bfcl.multi_turn.environment import BFCLModules

                modules[entry.version] = BFCLModules(version=entry.version)
            scoring = [r.name for r in _scoring(entry)]
            answered.append(_Answered(_multi_turn(entry, modules[entry.version]), scoring))
        else:
            answered.append(_single_turn(entry, suite))
    lines = [{"key": key, "tool_calls": calls} for a in answered for key, calls in a.answers if calls]
    if agentic:
        from glmbench.bfcl.agentic.book import agentic_book_lines

        lines += agentic_book_lines(agentic, suite.mode)
    lines += _format_variant_lines(entries, suite)
    # The simulator keeps the last line of a key: an entry whose own answer another entry's replaces (the same
    # words and tools, other calls) gets that one, which passes it only by chance.
    last = {line["key"]: line["tool_calls"] for line in lines}
    for a in answered:
        replaced = [last.get(key, []) for key, calls in a.answers if last.get(key, []) != calls]
        if replaced:
            passing = a.check(replaced[0]) if a.check is not None else set()
            for name in a.scored:
                if name not in passing:
                    a.short.setdefault(name, _SAME_QUESTION)
    scored: dict[str, int] = {}
    short: dict[str, dict[str, int]] = {}
    for a in answered:
        for name in a.scored:
            scored[name] = scored.get(name, 0) + 1
        for name, why in a.short.items():
            short.setdefault(name, {})[why] = short.get(name, {}).get(why, 0) + 1
    return TruthBook(lines, suite.scoring, scored, short)


def write_truth_book(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    """Write the lines of a :class:`TruthBook` as the JSON Lines file the simulator reads (``options.answers``); a
    failure to write is a user error naming the file."""
    from glmbench.results.store import replace_file

    replace_file(Path(path), "".join(json.dumps(line) + "\n" for line in lines).encode())
