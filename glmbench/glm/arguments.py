"""Type tool-call argument values back by the tool's JSON schema.

The GLM template writes string values raw and everything else as JSON, so the
text alone cannot tell the string ``"75001"`` from the number 75001; the schema
can (LightLLM's parser does not look, and gets zip codes wrong). A ``string``
parameter keeps its exact text, spaces included; other types are decoded as
JSON, then as a Python literal (``True``, ``None``, ``{'a': 1}``; read with
``ast.literal_eval``, never ``eval``), else kept as text; a value over the bounds
of :mod:`glmbench.glm.limits` is kept as text too. Unions (``type`` lists,
``anyOf``/``oneOf``), ``allOf``, ``enum``/``const`` and local ``$ref`` are
followed; a value that fits a non-string branch of a union takes it. Unknown
tools and parameters are decoded as JSON when they can be.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glmbench.glm.limits import MAX_CALL_TEXT_CHARS, MAX_LITERAL_TEXT_CHARS, value_problem

__all__ = ["ArgumentTyper"]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@dataclass(frozen=True, slots=True)
class _Spec:
    types: frozenset[str] | None  # None: the schema does not say
    enum: tuple[Any, ...] = ()


_UNKNOWN = _Spec(None)


class ArgumentTyper:
    """Decodes raw argument text by the parameter's schema in the request's tools."""

    def __init__(self, tools: Sequence[Mapping[str, Any]] | None) -> None:
        self._params: dict[str, Mapping[str, Any]] = {}
        for tool in tools or ():
            fn = tool.get("function", tool) if isinstance(tool, Mapping) else None
            if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                params = fn.get("parameters")
                self._params[fn["name"]] = params if isinstance(params, Mapping) else {}
        self._specs: dict[tuple[str, str], _Spec] = {}

    def decode(self, name: str, key: str, raw: str) -> Any:
        """The value of argument ``key`` of tool ``name`` written as ``raw``."""
        spec = self._specs.get((name, key))
        if spec is None:
            spec = self._specs[(name, key)] = self._spec(name, key)
        return _decode(raw, spec)

    def _spec(self, name: str, key: str) -> _Spec:
        params = self._params.get(name)
        if not params:
            return _UNKNOWN
        props = params.get("properties")
        prop = props.get(key) if isinstance(props, Mapping) else None
        return _spec_of(prop, params, 0) if prop is not None else _UNKNOWN


def _spec_of(schema: Any, root: Mapping[str, Any], depth: int) -> _Spec:
    if not isinstance(schema, Mapping) or depth > 16:  # depth bounds $ref cycles
        return _UNKNOWN
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        return _spec_of(_resolve(root, ref), root, depth + 1)
    types: set[str] | None = None
    declared = schema.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list):
        types = {t for t in declared if isinstance(t, str)}
    enum: list[Any] = [schema["const"]] if "const" in schema else list(schema.get("enum") or [])
    if enum and types is None:
        types = {_json_type(v) for v in enum}
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            specs = [_spec_of(b, root, depth + 1) for b in branches]
            for s in specs:
                enum.extend(s.enum)
            if all(s.types is not None for s in specs):
                union: set[str] = set().union(*(s.types for s in specs if s.types is not None))
                types = union if types is None else types & union
            # a branch that does not say leaves the union open
            elif types is None:
                return _Spec(None, tuple(enum))
    for branch in schema.get("allOf") or []:
        s = _spec_of(branch, root, depth + 1)
        if s.types is not None:
            types = set(s.types) if types is None else types & s.types
    if types is not None and "number" in types:
        types.add("integer")  # JSON Schema: every integer is a number
    return _Spec(frozenset(types) if types is not None else None, tuple(enum))


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    node: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _decode(raw: str, spec: _Spec) -> Any:
    if spec.enum:
        if any(isinstance(e, str) and e == raw for e in spec.enum):
            return raw
        ok, value = _loads(raw.strip())
        if ok and any(_json_type(e) == _json_type(value) and e == value for e in spec.enum):
            return value
    if spec.types is not None and spec.types <= {"string"}:
        return raw  # the template wrote it raw: whitespace and digits are the value
    ok, value = _loads(raw.strip())
    if spec.types is None:
        return value if ok else raw
    if ok and not isinstance(value, str) and _json_type(value) in spec.types:
        return value
    if "string" in spec.types:
        return raw
    return value if ok else raw


def _loads(text: str) -> tuple[bool, Any]:
    """JSON, else a Python literal (``True``, ``None``, ``'x'``) that is also JSON data.

    A value over glmbench's bounds (:mod:`glmbench.glm.limits`: nested too deep,
    too large) does not decode, and Python-literal text over
    :data:`~glmbench.glm.limits.MAX_LITERAL_TEXT_CHARS` is not parsed: the value
    stays text, as any value that does not decode.
    """
    if len(text) > MAX_CALL_TEXT_CHARS:
        return False, None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        return (True, value) if value_problem(value) is None else (False, None)
    if len(text) > MAX_LITERAL_TEXT_CHARS:
        return False, None
    try:
        value = ast.literal_eval(text)
        if value_problem(value) is not None:
            return False, None
        json.dumps(value)  # sets, bytes and complex numbers are not argument values
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    return True, list(value) if isinstance(value, tuple) else value
