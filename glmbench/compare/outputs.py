"""Two equivalence runs compared: the candidate's outputs against the baseline's, pass by pass, judged by the gate.

The baseline is the reference. Its outputs are its own, so each pass's baseline
figure is 1.0; the candidate's is the share of prompts whose output is the
baseline's exactly (:func:`glmbench.equivalence.diff.diff_outputs`). The gate is
the candidate's suite's (``require_alone``, 1.0 by default; ``require_loaded``,
none by default): a pass below it is a regression, a pass not gated is never one
(:func:`~glmbench.compare.verdict.gate_verdict`). ``--max-regression`` does not
apply: an output is the reference's or it is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glmbench.compare.verdict import Verdict, gate_verdict
from glmbench.equivalence.diff import NEAR_TIE, PassDiff, PromptDiff, diff_outputs
from glmbench.equivalence.diff import required_share as share
from glmbench.equivalence.run import OUTPUTS, read_outputs
from glmbench.errors import GlmbenchError
from glmbench.results.schema import EquivalenceSummary

__all__ = ["PassVerdict", "judge_outputs", "required_share"]

# Differences named one by one in the notes, per pass; the rest are counted.
_NAMED = 10


@dataclass
class PassVerdict:
    """One pass of the comparison: its figures and the gate's verdict."""

    name: str
    measured: float | None
    verdict: Verdict


def required_share(summary: EquivalenceSummary, pass_name: str) -> float | None:
    """The least share of prompts that must match the reference in a pass, as the run's suite asked (None: not
    gated)."""
    return share(pass_name, summary.require_alone, summary.require_loaded)


def _difference(pass_name: str, d: PromptDiff) -> str:
    """One prompt's difference in a line: where it starts, the two tokens there and how close to a tie."""
    if d.error is not None:
        return f"{pass_name}: {d.prompt}: not compared ({d.error.splitlines()[0][:80] if d.error else 'no output'})"
    where = f"token {d.token}" if d.token is not None else f"character {d.char}"
    tokens = (f" (baseline {d.reference_token!r}, candidate {d.candidate_token!r})"
              if d.reference_token or d.candidate_token else "")
    margin = ("" if d.margin is None else
              f", margin {d.margin:.3f} ({'near tie' if d.margin < NEAR_TIE else 'wide'})")
    changed = [what for what, flag in (("calls", d.calls_changed), ("verdict", d.verdict_changed)) if flag]
    return (f"{pass_name}: {d.prompt} differs from {where}{tokens}{margin}"
            + (f"; its {' and '.join(changed)} changed" if changed else ""))


def _notes(found: PassDiff) -> list[str]:
    differ = [d for d in found.prompts if not d.match]
    notes = [_difference(found.name, d) for d in differ[:_NAMED]]
    if len(differ) > _NAMED:
        notes.append(f"{found.name}: and {len(differ) - _NAMED} more prompts differ")
    return notes


def judge_outputs(baseline: Path, base: EquivalenceSummary, candidate: Path,
                  cand: EquivalenceSummary) -> tuple[list[PassVerdict], list[str]]:
    """Each pass both runs have, judged by the candidate's gate, and notes naming the prompts that differ."""
    if base.api != cand.api or base.max_tokens != cand.max_tokens:
        raise GlmbenchError(f"the two equivalence runs asked differently ({base.api}, {base.max_tokens} tokens vs "
                            f"{cand.api}, {cand.max_tokens} tokens)", "run both with the same equivalence suite")
    diff = diff_outputs(read_outputs(Path(baseline) / OUTPUTS), read_outputs(Path(candidate) / OUTPUTS),
                        Path(baseline).name, Path(candidate).name)
    if not diff.passes:
        raise GlmbenchError("the two equivalence runs have no pass with outputs in common",
                            f"check that both folders hold {OUTPUTS}")
    verdicts, notes = [], []
    for found in diff.passes:
        differ = [d.prompt for d in found.prompts if not d.match]
        verdict = gate_verdict(found.match_rate, required_share(cand, found.name), differ, len(found.compared))
        verdicts.append(PassVerdict(found.name, found.match_rate, verdict))
        notes += _notes(found)
    if not cand.logprobs:
        notes.append("the candidate gave no logprobs: differences have no margin (near tie or wide)")
    return verdicts, notes
