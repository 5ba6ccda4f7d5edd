"""Two runs' outputs compared prompt by prompt: where they first differ, how close the model was to a tie there,
and whether the difference changed a BFCL prompt's calls or verdict.

A prompt's outputs match when their texts are equal. Where they are not, the
first difference is placed in tokens when both runs gave tokens (logprobs)
and in characters always; the margin there is the reference's top-1 minus
top-2 logprob at that token (the candidate's when the reference has none): a
margin near zero (under :data:`NEAR_TIE` nats) is a near tie that any change
of numerics (a batch, a kernel, a speculative step's verify) can flip; a wide
one means the candidate computed something else, a bug worth reporting. A run
compared with itself, one at a time against under load, is its batch
invariance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NEAR_TIE", "PromptDiff", "PassDiff", "OutputDiff", "Gate", "diff_outputs", "batch_invariance",
           "gates", "required_share"]

NEAR_TIE = 0.5
"""A margin (top-1 minus top-2 logprob, nats) under which a flipped token is read as numerics, not a bug."""


@dataclass
class PromptDiff:
    """How one prompt's output differs (or not) between the two sides."""

    prompt: str
    kind: str
    match: bool
    token: int | None = None  # the first differing token's position, when both sides gave tokens
    char: int | None = None  # the first differing character's position
    reference_token: str | None = None
    candidate_token: str | None = None
    margin: float | None = None  # top-1 minus top-2 logprob at the difference (nats)
    calls_changed: bool | None = None  # a BFCL prompt: its parsed calls differ
    verdict_changed: bool | None = None  # a BFCL prompt: some rule set's verdict differs
    error: str | None = None  # one side has no output (its request failed)


@dataclass
class PassDiff:
    """One pass (one at a time, or under load) of the comparison."""

    name: str
    prompts: list[PromptDiff] = field(default_factory=list)

    @property
    def compared(self) -> list[PromptDiff]:
        return [p for p in self.prompts if p.error is None]

    @property
    def match_rate(self) -> float | None:
        compared = self.compared
        return sum(p.match for p in compared) / len(compared) if compared else None

    def summary(self) -> dict[str, Any]:
        """The figures a table shows: counts, the match rate, where differences start and how close to a tie."""
        compared, differ = self.compared, [p for p in self.compared if not p.match]
        margins = [p.margin for p in differ if p.margin is not None]
        return {
            "pass": self.name, "prompts": len(self.prompts), "compared": len(compared),
            "matched": len(compared) - len(differ), "match_rate": self.match_rate,
            "first_diff_tokens": sorted(p.token for p in differ if p.token is not None),
            "first_diff_chars": sorted(p.char for p in differ if p.char is not None),
            "near_ties": sum(m < NEAR_TIE for m in margins), "wide_margins": sum(m >= NEAR_TIE for m in margins),
            "calls_changed": sum(bool(p.calls_changed) for p in differ),
            "verdicts_changed": sum(bool(p.verdict_changed) for p in differ),
            "failed": len(self.prompts) - len(compared),
        }


@dataclass
class OutputDiff:
    """Every pass both sides ran, reference against candidate."""

    reference: str
    candidate: str
    passes: list[PassDiff] = field(default_factory=list)

    def pass_named(self, name: str) -> PassDiff | None:
        return next((p for p in self.passes if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"reference": self.reference, "candidate": self.candidate,
                "passes": [{**p.summary(), "differences": [asdict(d) for d in p.prompts if not d.match]}
                           for p in self.passes]}


def _first_outputs(outputs: Iterable[dict[str, Any]], pass_name: str) -> dict[str, dict[str, Any]]:
    """Each prompt's compared output of a pass: copy 0 (the copies under load only keep the load up)."""
    return {o["prompt"]: o for o in outputs if o.get("pass") == pass_name and o.get("copy", 0) == 0}


def _margin(top: list | None, at: int) -> float | None:
    if not top or at >= len(top) or len(top[at]) < 2:
        return None
    (_, first), (_, second) = top[at][0], top[at][1]
    return float(first) - float(second)


def _differ(prompt: str, ref: dict[str, Any], cand: dict[str, Any]) -> PromptDiff:
    kind = str(ref.get("kind") or cand.get("kind") or "")
    if ref.get("text") is None or cand.get("text") is None:
        return PromptDiff(prompt, kind, False, error=ref.get("error") or cand.get("error") or "no output")
    a, b = str(ref["text"]), str(cand["text"])
    out = PromptDiff(prompt, kind, a == b)
    if kind == "bfcl":
        out.calls_changed = ref.get("calls") != cand.get("calls")
        out.verdict_changed = ref.get("verdicts") != cand.get("verdicts")
    if out.match:
        return out
    out.char = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    ta, tb = ref.get("tokens"), cand.get("tokens")
    if ta and tb:
        out.token = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x != y), min(len(ta), len(tb)))
        out.reference_token = ta[out.token] if out.token < len(ta) else None
        out.candidate_token = tb[out.token] if out.token < len(tb) else None
    elif ta or tb:
        # One side's tokens: place the difference among them by the characters before it.
        tokens: list[str] = ta or tb or []
        seen = 0
        for i, token in enumerate(tokens):
            seen += len(token)
            if seen > out.char:
                out.token = i
                break
    if out.token is not None:
        out.margin = _margin(ref.get("top"), out.token)
        if out.margin is None:
            out.margin = _margin(cand.get("top"), out.token)
    return out


def diff_outputs(reference: Sequence[dict[str, Any]], candidate: Sequence[dict[str, Any]],
                 reference_label: str, candidate_label: str,
                 passes: Sequence[tuple[str, str]] = (("alone", "alone"), ("loaded", "loaded"))) -> OutputDiff:
    """``candidate``'s outputs against ``reference``'s, for each (reference pass, candidate pass) both have, on the
    prompts both asked (in the reference's order)."""
    out = OutputDiff(reference_label, candidate_label)
    for ref_pass, cand_pass in passes:
        ref, cand = _first_outputs(reference, ref_pass), _first_outputs(candidate, cand_pass)
        if not ref or not cand:
            continue
        name = ref_pass if ref_pass == cand_pass else f"{ref_pass} vs {cand_pass}"
        out.passes.append(PassDiff(name, [_differ(p, ref[p], cand[p]) for p in ref if p in cand]))
    return out


def batch_invariance(outputs: Sequence[dict[str, Any]], label: str) -> PassDiff | None:
    """A run's own outputs one at a time against under load: the same prompt, alone and among others."""
    diff = diff_outputs(outputs, outputs, label, label, passes=(("alone", "loaded"),))
    return diff.passes[0] if diff.passes else None


@dataclass(frozen=True)
class Gate:
    """A gate of a comparison: the least share of prompts a pass must match, and the share that did."""

    pass_name: str
    required: float
    measured: float | None

    @property
    def held(self) -> bool:
        return self.measured is not None and self.measured >= self.required

    def describe(self) -> str:
        shown = "no prompt compared" if self.measured is None else f"{100 * self.measured:.1f}% of prompts match"
        return f"{self.pass_name}: {shown}, {100 * self.required:g}% required"


def required_share(pass_name: str, require_alone: float | None, require_loaded: float | None) -> float | None:
    """The least share of prompts that must match in a pass (None: the pass is not gated)."""
    return {"alone": require_alone, "loaded": require_loaded}.get(pass_name)


def gates(diff: OutputDiff, require_alone: float | None, require_loaded: float | None) -> list[Gate]:
    """The gate of each pass of ``diff`` that has one, with what the pass measured."""
    out = []
    for found in diff.passes:
        required = required_share(found.name, require_alone, require_loaded)
        if required is not None:
            out.append(Gate(found.name, required, found.match_rate))
    return out
