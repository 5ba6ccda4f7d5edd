"""Two experiment folders compared point by point: the same server configuration and load point on both sides.

Each matched point is an ordinary comparison (:func:`~glmbench.compare.compare_results`,
with its noise rules); the experiment regresses when any point does. Beside the
verdicts it says, per metric, the smallest change the data could have caught at
every point (the largest of the points' detectable changes), so a quiet night is
known to be quiet down to that size and no further.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.compare.compare import Comparison, compare_results
from glmbench.compare.verdict import repeats_needed
from glmbench.errors import GlmbenchError
from glmbench.results.experiments import read_index

__all__ = ["ExperimentComparison", "compare_experiments", "to_markdown", "dumps"]


@dataclass
class ExperimentComparison:
    """Every matched point's comparison, and what could not be matched."""

    baseline: str
    candidate: str
    threshold: float
    points: list[tuple[str, str, Comparison]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[str, str, Any]]:
        return [(cell, point, row) for cell, point, cmp in self.points for row in cmp.regressions]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def _largest(self, attribute: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for _, _, cmp in self.points:
            for row in cmp.rows:
                value = getattr(row.verdict, attribute)
                if value is not None:
                    out[row.metric] = max(out.get(row.metric, 0.0), value)
        return out

    def detectable(self) -> dict[str, float]:
        """Per metric, the smallest change that would have been caught at every point (the worst point's)."""
        return self._largest("detectable")

    def spreads(self) -> dict[str, float]:
        """Per metric, the largest run-to-run spread seen at any point (relative std of one run's value)."""
        return self._largest("spread")

    def advice(self, effect: float = 0.10) -> dict[str, int | None]:
        """Per metric, the repeats per side that would catch a change of ``effect`` at every point 90% of the
        time with at most 1% false alarms, from the spread seen (None: no number of repeats would)."""
        return {metric: repeats_needed(spread, self.threshold, effect) for metric, spread in self.spreads().items()}

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "candidate": self.candidate, "threshold": self.threshold,
                "regressions": len(self.regressions), "unmatched": self.unmatched,
                "detectable": self.detectable(), "spread": self.spreads(), "repeats_for_10pct": self.advice(),
                "points": [{"server": c, "point": p, **cmp.to_json()} for c, p, cmp in self.points]}


def _folders(root: Path) -> dict[tuple[str, str], Path]:
    index = read_index(root)
    out = {}
    for cell in index["cells"]:
        for point in cell["points"]:
            if point.get("folder") and point["status"] in ("complete", "all-failed"):
                out[cell["label"], point["label"]] = root / cell["folder"] / point["folder"]
    return out


def compare_experiments(baseline: Path, candidate: Path, threshold: float = 0.05) -> ExperimentComparison:
    """Match the two experiments' points by server label and point label, and compare each pair."""
    base, cand = _folders(Path(baseline)), _folders(Path(candidate))
    result = ExperimentComparison(Path(baseline).name, Path(candidate).name, threshold)
    for key in base:
        if key not in cand:
            result.unmatched.append(f"{key[0]} {key[1]}: only in the baseline")
    for key in cand:
        if key not in base:
            result.unmatched.append(f"{key[0]} {key[1]}: only in the candidate")
    for key in (k for k in base if k in cand):
        result.points.append((*key, compare_results(base[key], cand[key], threshold)))
    if not result.points:
        raise GlmbenchError("the two experiments share no finished point (same server label and point label)",
                            "compare two runs of the same experiment file")
    return result


def to_markdown(result: ExperimentComparison) -> str:
    """Verdict, regressions, and the detectable change per metric, as markdown; text from runs escaped."""
    from glmbench.util.text import md_text

    regressions = result.regressions
    head = (f"REGRESSION: {len(regressions)} regressions in {len(result.points)} points" if regressions else
            f"OK: no regression beyond {100 * result.threshold:g}% in {len(result.points)} points")
    lines = ["## glmbench compare (experiments)", "", f"**{head}**", "",
             f"baseline: {md_text(result.baseline)}  ", f"candidate: {md_text(result.candidate)}", ""]
    if regressions:
        lines += ["| server | point | metric | baseline | candidate | why |", "|---|---|---|---:|---:|---|"]
        lines += [f"| {md_text(c)} | {md_text(p)} | {md_text(r.metric)} | {r.baseline:.4g} | {r.candidate:.4g} "
                  f"| {md_text(r.verdict.why)} |" for c, p, r in regressions]
        lines.append("")
    lines += ["Smallest change caught at every point, per metric:", "",
              "| metric | detectable change |", "|---|---:|"]
    lines += [f"| {md_text(m)} | {100 * v:.1f}% |" for m, v in sorted(result.detectable().items())]
    advice = result.advice()
    if advice:
        lines += ["", "Repeats per side to catch a 10% regression 90% of the time with at most 1% false alarms, "
                  "from the run-to-run spread seen:", "", "| metric | spread | repeats |", "|---|---:|---:|"]
        spreads = result.spreads()
        lines += [f"| {md_text(m)} | {100 * spreads[m]:.1f}% | {n if n is not None else 'none suffices'} |"
                  for m, n in sorted(advice.items())]
        if any(row.verdict.rule == "bootstrap" for _, _, cmp in result.points for row in cmp.rows):
            lines += ["", "Single runs: their spread is the sampling error within a run, a lower bound of the "
                      "spread between runs; set `repeats` in the experiment to measure that."]
    if result.unmatched:
        lines += ["", *[f"- {md_text(u)}" for u in result.unmatched]]
    return "\n".join(lines) + "\n"


def dumps(result: ExperimentComparison) -> str:
    return json.dumps(result.to_json(), indent=2, default=str)
