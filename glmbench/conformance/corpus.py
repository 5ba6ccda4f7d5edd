"""The conformance corpus: raw GLM-4.7 replies, the tools they were written for, and the parse they must give.

A :class:`Case` is what a server's parser sees: the prompt it generated from
(rendered by glmbench's template, so a parser that looks at the prompt's end,
``<think>`` or ``</think>``, sees what a server would), the raw reply text and
the request's tools. Its :class:`Expected` parse is written down independently
of any parser: for a generated case it is the data the reply was rendered from.
``tests/test_conformance.py`` holds glmbench's own parsers to every expectation,
whole and streamed, so a wrong expectation fails there before it can blame a
backend.

Texts are compared with their surrounding whitespace stripped and empty text as
none (glmbench's parser strips; servers differ in where they leave a newline,
which no client acts on). Arguments are compared as JSON values: ``"75001"``
and ``75001`` differ, ``3`` and ``3.0`` do not (one JSON number).

Streams: each case carries ``chunks``, the text cut into seeded arbitrary-size
deltas (1 to 12 characters, so tags are split anywhere); drivers that hold a
tokenizer also stream it one token at a time, as a server does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from glmbench.glm.template import render_call, render_chat

__all__ = ["ExpectedCall", "Expected", "Case", "reply_case", "cut_chunks", "cases_json", "ground_truth_case",
           "plain_case", "CORPUS_VERSION"]

CORPUS_VERSION = 1
_CHUNK_SEED = 18


@dataclass(frozen=True)
class ExpectedCall:
    """One call: the function name and its arguments as JSON values."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Expected:
    """The parse a reply must give: reasoning, answer content (None when empty) and calls in order."""

    reasoning: str | None = None
    content: str | None = None
    calls: tuple[ExpectedCall, ...] = ()


@dataclass(frozen=True)
class Case:
    """One raw reply with its tools, prompt, class (a row of the table) and expected parse."""

    id: str
    kind: str
    text: str
    tools: list[dict[str, Any]]
    thinking: bool
    prompt: str
    expected: Expected
    note: str = ""
    chunks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The case as a driver reads it (and the expectation, for reports)."""
        data = asdict(self)
        data["chunks"] = list(self.chunks)
        return data


def cut_chunks(text: str, seed: str) -> tuple[str, ...]:
    """``text`` cut into deltas of 1 to 12 characters, the same cuts for the same ``seed``."""
    rng = random.Random(f"{_CHUNK_SEED}:{seed}")
    out, at = [], 0
    while at < len(text):
        size = rng.randint(1, 12)
        out.append(text[at:at + size])
        at += size
    return tuple(out)


def _prompt(tools: Sequence[Mapping[str, Any]], thinking: bool, user: str) -> str:
    return render_chat([{"role": "user", "content": user}], tools=list(tools) or None,
                       add_generation_prompt=True, enable_thinking=thinking)


def reply_case(case_id: str, kind: str, text: str, tools: Sequence[Mapping[str, Any]], expected: Expected,
               thinking: bool = True, note: str = "", user: str = "Help me with this.") -> Case:
    """A case from a raw reply written by hand (the expectation written beside it)."""
    copied = [dict(t) for t in tools]
    return Case(case_id, kind, text, copied, thinking, _prompt(copied, thinking, user), expected, note,
                cut_chunks(text, case_id))


def plain_case(case_id: str, kind: str, tools: Sequence[Mapping[str, Any]], reasoning: str | None,
               content: str | None, calls: Iterable[ExpectedCall] = (), thinking: bool = True,
               user: str = "Help me with this.", note: str = "") -> Case:
    """A case rendered in GLM-4.7 layout from its parts: ``REASONING</think>CONTENT<tool_call>...``.

    With thinking off there is no reasoning and no ``</think>`` (the prompt closed it).
    """
    calls = tuple(calls)
    body = (content or "") + "".join(render_call(c.name, c.arguments) for c in calls)
    text = f"{reasoning or ''}</think>{body}" if thinking else body
    expected = Expected(reasoning or None if thinking else None, content or None, calls)
    return reply_case(case_id, kind, text, tools, expected, thinking, note, user)


# -- BFCL ground truth ---------------------------------------------------------------------

def _schema_type(schema: Any) -> str | None:
    if isinstance(schema, Mapping) and isinstance(schema.get("type"), str):
        return schema["type"]
    return None


def fit_value(value: Any, schema: Any) -> Any:
    """A ground-truth value as the model would write it for this parameter's schema.

    BFCL's answers are not always in the schema's type (java and javascript send
    every parameter as a string; some answers give ``"5"`` for an integer). The
    template writes a string raw, so what the reply says, and what a parser can
    give back, is: for a string parameter, the text (a non-string answer becomes
    its JSON text); for any other parameter, a string answer that is JSON text is
    that JSON value (``"5"`` -> 5), else the string.
    """
    kind = _schema_type(schema)
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and kind is not None:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _chosen(accepted: Any) -> tuple[bool, Any]:
    """The first acceptable value that is not the "may be omitted" marker; (False, None) to omit."""
    options = accepted if isinstance(accepted, list) else [accepted]
    for option in options:
        if option != "":
            return True, option
    return False, None


def ground_truth_case(case_id: str, kind: str, tools: Sequence[Mapping[str, Any]],
                      truth: Sequence[tuple[str, Mapping[str, Any]]], user: str, thinking: bool = True) -> Case:
    """A BFCL entry's reply as the model would write it for its ground truth.

    ``truth`` is ``[(sent function name, {param: acceptable values})]``; each
    parameter takes its first acceptable value (fitted to the schema), and one
    that may be omitted and has no other value is left out.
    """
    schemas = {}
    for tool in tools:
        fn = tool.get("function", tool)
        props = (fn.get("parameters") or {}).get("properties") or {}
        schemas[fn.get("name")] = props
    calls = []
    for name, params in truth:
        props = schemas.get(name, {})
        args = {}
        for key, accepted in params.items():
            keep, value = _chosen(accepted)
            if keep:
                args[key] = fit_value(value, props.get(key))
        calls.append(ExpectedCall(name, args))
    names = ", ".join(c.name for c in calls)
    reasoning = f"The user wants {names}. I will call it with the values from the question."
    return plain_case(case_id, kind, tools, reasoning if thinking else None, None, calls, thinking, user)


def cases_json(cases: Iterable[Case]) -> list[dict[str, Any]]:
    """The cases as JSON data for a driver."""
    return [c.to_json() for c in cases]
