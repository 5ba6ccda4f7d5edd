"""A driver's parses against the corpus's expectations: agree, differ or crash, per backend, class and mode.

Texts are compared stripped, empty as none; call names exactly; arguments as JSON
values, strictly typed (``"75001"`` is not ``75001``, ``true`` is not ``1``) except
that an integer equals the same float (one JSON number). Arguments that are not
valid JSON never equal anything but the same text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glmbench.conformance.corpus import Case, Expected

__all__ = ["MODES", "MODE_TITLES", "Outcome", "ClassRow", "Difference", "normalized", "expected_parse",
           "json_equal", "judge", "table", "differences"]

MODES: tuple[str, ...] = ("whole", "tokens", "chunks")
MODE_TITLES: dict[str, str] = {
    "whole": "whole reply (non-streamed response)",
    "tokens": "streamed one token per delta, as a server streams",
    "chunks": "streamed in arbitrary 1-12 character deltas (tags cut anywhere)",
}


@dataclass(frozen=True)
class Outcome:
    """One case in one mode: ``agree``, ``differ``, ``crash`` or ``skipped``, with what the parser gave."""

    case_id: str
    kind: str
    mode: str
    verdict: str
    got: dict[str, Any] | None = None
    fields: tuple[str, ...] = ()
    crash: str | None = None


@dataclass
class ClassRow:
    """One backend and case class: counts per mode (``{mode: {"agree": n, "differ": n, "crash": n}}``)."""

    backend: str
    kind: str
    cases: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    """A case a backend parses differently from the expectation, with both parses."""

    backend: str
    case_id: str
    kind: str
    modes: tuple[str, ...]
    fields: tuple[str, ...]
    expected: dict[str, Any]
    got: dict[str, Any] | None
    crash: str | None = None
    note: str = ""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _arguments(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    try:
        return json.loads(value)
    except (ValueError, TypeError, RecursionError):
        return {"<invalid JSON>": str(value)}


def normalized(parse: Mapping[str, Any]) -> dict[str, Any]:
    """A parse as compared: texts stripped (None when empty), call arguments decoded from JSON."""
    calls = [{"name": c.get("name"), "arguments": _arguments(c.get("arguments"))} for c in parse.get("calls") or []]
    return {"reasoning": _text(parse.get("reasoning")), "content": _text(parse.get("content")), "calls": calls}


def expected_parse(expected: Expected) -> dict[str, Any]:
    """The expectation in the same shape as :func:`normalized`."""
    return {"reasoning": _text(expected.reasoning), "content": _text(expected.content),
            "calls": [{"name": c.name, "arguments": c.arguments} for c in expected.calls]}


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values: no bool/number or number/string mixing; 3 == 3.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _differing_fields(want: Mapping[str, Any], got: Mapping[str, Any]) -> tuple[str, ...]:
    fields = [k for k in ("reasoning", "content") if want[k] != got[k]]
    wc, gc = want["calls"], got["calls"]
    if len(wc) != len(gc):
        fields.append("calls")
    else:
        if any(w["name"] != g["name"] for w, g in zip(wc, gc)):
            fields.append("names")
        if any(not json_equal(w["arguments"], g["arguments"]) for w, g in zip(wc, gc)):
            fields.append("arguments")
    return tuple(fields)


def judge(case: Case, mode: str, answer: Mapping[str, Any] | None) -> Outcome:
    """One driver answer for ``case`` in ``mode`` against the expectation."""
    if answer is None:
        return Outcome(case.id, case.kind, mode, "skipped")
    if "crash" in answer:
        return Outcome(case.id, case.kind, mode, "crash", crash=str(answer["crash"]))
    got = normalized(answer)
    fields = _differing_fields(expected_parse(case.expected), got)
    return Outcome(case.id, case.kind, mode, "differ" if fields else "agree", got, fields)


def _outcomes(cases: Sequence[Case], results: Iterable[Mapping[str, Any]], modes: Sequence[str]) -> list[Outcome]:
    by_id = {r["id"]: r for r in results}
    return [judge(c, m, by_id.get(c.id, {}).get(m)) for c in cases for m in modes]


def table(backend: str, cases: Sequence[Case], results: Iterable[Mapping[str, Any]],
          modes: Sequence[str]) -> list[ClassRow]:
    """Counts per case class (in corpus order) and mode, plus an ``all`` row."""
    rows: dict[str, ClassRow] = {}
    seen: dict[str, set[str]] = {}
    total = ClassRow(backend, "all", len(cases))
    for o in _outcomes(cases, results, modes):
        row = rows.setdefault(o.kind, ClassRow(backend, o.kind, 0))
        seen.setdefault(o.kind, set()).add(o.case_id)
        for r in (row, total):
            counts = r.counts.setdefault(o.mode, {"agree": 0, "differ": 0, "crash": 0})
            if o.verdict in counts:
                counts[o.verdict] += 1
    for kind, row in rows.items():
        row.cases = len(seen[kind])
    return [*rows.values(), total]


def differences(backend: str, cases: Sequence[Case], results: Iterable[Mapping[str, Any]],
                modes: Sequence[str]) -> list[Difference]:
    """Each case that does not agree in some mode, once per distinct parse (modes that gave it listed)."""
    by_case: dict[str, list[Outcome]] = {}
    for o in _outcomes(cases, results, modes):
        if o.verdict in ("differ", "crash"):
            by_case.setdefault(o.case_id, []).append(o)
    out = []
    for case in cases:
        groups: dict[str, list[Outcome]] = {}
        for o in by_case.get(case.id, []):
            key = json.dumps(o.got, sort_keys=True) if o.crash is None else "crash:" + o.crash
            groups.setdefault(key, []).append(o)
        for group in groups.values():
            first = group[0]
            out.append(Difference(backend, case.id, case.kind, tuple(o.mode for o in group), first.fields,
                                  expected_parse(case.expected), first.got, first.crash, case.note))
    # what a served reply shows first (whole, then per token), arbitrary cuts last; corpus order within
    rank = {m: i for i, m in enumerate(MODES)}
    return sorted(out, key=lambda d: min(rank.get(m, len(MODES)) for m in d.modes))
