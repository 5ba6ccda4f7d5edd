"""Two experiment folders compared point by point: the same server configuration and load point on both sides.

Each matched point is an ordinary comparison (:func:`~glmbench.compare.compare_results`,
with its noise rules); the experiment regresses when any point does. A point the
baseline finished that the candidate did not (its server failed or died, the
point was cut short or is missing) makes the comparison incomplete: it fails
like a regression, since nothing vouches for that point tonight. Beside the
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
from glmbench.compare.verdict import MAX_REPEATS, SPREAD_ALLOWANCE, repeats_needed
from glmbench.errors import GlmbenchError
from glmbench.experiment.index import CellEntry, PointEntry, read_index
from glmbench.experiment.searches import adaptive_kinds

__all__ = ["ExperimentComparison", "compare_experiments", "to_markdown", "dumps"]


@dataclass
class ExperimentComparison:
    """Every matched point's comparison, and what could not be matched."""

    baseline: str
    candidate: str
    threshold: float
    points: list[tuple[str, str, Comparison]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    # Baseline points the candidate did not finish: (server, point, what became of it there).
    incomplete: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[str, str, Any]]:
        return [(cell, point, row) for cell, point, cmp in self.points for row in cmp.regressions]

    @property
    def exit_code(self) -> int:
        """1 on a regression at any point, or when a point the baseline finished did not finish in the candidate."""
        return 1 if self.regressions or self.incomplete else 0

    @property
    def unlike(self) -> list[str]:
        """How the matched points' workloads differ between the two experiments, a line per point and setting."""
        return [f"{cell} {point}: {note}" for cell, point, cmp in self.points for note in cmp.unlike]

    def headline(self) -> str:
        """The verdict in one line: regressions, then the points the candidate did not finish, else OK; and whether
        some points' workloads differ."""
        unlike = len({(cell, point) for cell, point, cmp in self.points if cmp.unlike})
        suffix = f" ({unlike} points' workloads differ: not like for like, see the notes)" if unlike else ""
        return self._verdict() + suffix

    def _verdict(self) -> str:
        parts = []
        if self.regressions:
            parts.append(f"REGRESSION: {len(self.regressions)} regressions in {len(self.points)} points")
        if self.incomplete:
            names = [f"{cell} {point}" for cell, point, _ in self.incomplete]
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            parts.append(f"INCOMPLETE: {len(names)} baseline point{'s' if len(names) != 1 else ''} "
                         f"did not finish in the candidate ({shown})")
        return "; ".join(parts) or f"OK: no regression beyond {100 * self.threshold:g}% in {len(self.points)} points"

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

    def repeats_shown(self, metric: str, effect: float = 0.10) -> str:
        """:meth:`advice` for ``metric`` in words a table shows: a number, or why there is none."""
        spread = self.spreads().get(metric)
        if spread is None:
            return "unknown: single runs give this figure no spread; set repeats in the experiment to measure one"
        n = repeats_needed(spread, self.threshold, effect)
        if n is not None:
            return str(n)
        if self.threshold >= effect:
            return f"none: --max-regression {100 * self.threshold:g}% is past {100 * effect:g}%"
        if 2 * spread * SPREAD_ALLOWANCE >= effect:
            return f"none: the rule's noise margin (2 x spread) alone is past {100 * effect:g}%"
        return f"more than {MAX_REPEATS}"

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "candidate": self.candidate, "threshold": self.threshold,
                "verdict": self.headline(), "exit_code": self.exit_code,
                "regressions": len(self.regressions), "unmatched": self.unmatched,
                "workload_differences": self.unlike,
                "incomplete": [{"server": c, "point": p, "why": why} for c, p, why in self.incomplete],
                "detectable": self.detectable(), "spread": self.spreads(), "repeats_for_10pct": self.advice(),
                "points": [{"server": c, "point": p, **cmp.to_json()} for c, p, cmp in self.points]}


def _entries(root: Path) -> tuple[dict[tuple[str, str], tuple[CellEntry, PointEntry]], dict[str, CellEntry]]:
    """Every point of an experiment by (server label, point label), with its cell; and the cells by label."""
    index = read_index(root)
    points = {}
    for cell in index.cells:
        for point in cell.points:
            points[cell.label, point.label] = (cell, point)
    return points, {cell.label: cell for cell in index.cells}


def _finished(found: tuple[CellEntry, PointEntry] | None) -> bool:
    return bool(found and found[1].folder and found[1].done)


def _what_became(found: tuple[CellEntry, PointEntry] | None, cell: CellEntry | None) -> str:
    """Why a baseline point has no finished counterpart in the candidate, in a few words."""
    if cell is None:
        return "no such server configuration in the candidate"
    if found is None:
        if cell.status == "complete":
            return "missing from the candidate"
        why = cell.reason
        return f"missing from the candidate (server {cell.status}{': ' + why.splitlines()[0] if why else ''})"
    entry = found[1]
    why = entry.reason or (cell.reason if entry.status == "not run" else None)
    return f"{entry.status} in the candidate" + (f": {why.splitlines()[0]}" if why else "")


def compare_experiments(baseline: Path, candidate: Path, threshold: float = 0.05) -> ExperimentComparison:
    """Match the two experiments' points by server label and point label, and compare each pair.

    A point the baseline finished and the candidate did not is listed in ``incomplete``
    (the comparison then exits 1), except a capacity probe or sweep rate the candidate's
    completed search simply did not try.
    """
    base, base_cells = _entries(Path(baseline))
    cand, cand_cells = _entries(Path(candidate))
    result = ExperimentComparison(Path(baseline).name, Path(candidate).name, threshold)
    if not set(base) & set(cand) and not set(base_cells) & set(cand_cells):
        raise GlmbenchError("the two experiments share no point (same server label and point label)",
                            "compare two runs of the same experiment file")
    done = [key for key, found in base.items() if _finished(found)]
    if not done:
        raise GlmbenchError(f"the baseline {baseline} has no finished point to compare with",
                            "pass a baseline experiment that finished")
    # Points a cell decides on as it runs (capacity probes, sweep rates): another night may take other steps.
    adaptive = adaptive_kinds()
    for key in done:
        found, cell = cand.get(key), cand_cells.get(key[0])
        base_cell, base_point = base[key]
        if found is not None and _finished(found):
            b, c = Path(baseline) / base_cell.folder, Path(candidate) / found[0].folder
            result.points.append((*key, compare_results(b / str(base_point.folder), c / str(found[1].folder),
                                                        threshold, same_point=True)))
        elif found is None and base_point.kind in adaptive and cell is not None and cell.status == "complete":
            result.unmatched.append(f"{key[0]} {key[1]}: only in the baseline (the candidate's "
                                    f"{base_point.kind} took other steps)")
        else:
            result.incomplete.append((*key, _what_became(found, cell)))
    for key, entry in cand.items():
        if _finished(entry) and not _finished(base.get(key)):
            result.unmatched.append(f"{key[0]} {key[1]}: only in the candidate")
    return result


def to_markdown(result: ExperimentComparison) -> str:
    """Verdict, regressions, and the detectable change per metric, as markdown; text from runs escaped."""
    from glmbench.util.text import md_text

    regressions = result.regressions
    lines = ["## glmbench compare (experiments)", "", f"**{md_text(result.headline())}**", "",
             f"baseline: {md_text(result.baseline)}  ", f"candidate: {md_text(result.candidate)}", ""]
    if result.incomplete:
        lines += ["Finished in the baseline, not in the candidate (nothing vouches for these points):", "",
                  "| server | point | in the candidate |", "|---|---|---|"]
        lines += [f"| {md_text(c)} | {md_text(p)} | {md_text(why)} |" for c, p, why in result.incomplete]
        lines.append("")
    if regressions:
        lines += ["| server | point | metric | baseline | candidate | why |", "|---|---|---|---:|---:|---|"]
        lines += [f"| {md_text(c)} | {md_text(p)} | {md_text(r.metric)} | {r.baseline:.4g} | {r.candidate:.4g} "
                  f"| {md_text(r.verdict.why)} |" for c, p, r in regressions]
        lines.append("")
    detectable = result.detectable()
    if detectable:
        lines += ["Smallest change caught at every point, per metric:", "",
                  "| metric | detectable change |", "|---|---:|"]
        lines += [f"| {md_text(m)} | {100 * v:.1f}% |" for m, v in sorted(detectable.items())]
    advice = result.advice()
    if advice:
        lines += ["", "Repeats per side to catch a 10% regression 90% of the time with at most 1% false alarms, "
                  "from the run-to-run spread seen:", "", "| metric | spread | repeats |", "|---|---:|---:|"]
        spreads = result.spreads()
        lines += [f"| {md_text(m)} | {100 * spreads[m]:.1f}% | {md_text(result.repeats_shown(m))} |"
                  for m in sorted(advice)]
        if any(row.verdict.rule == "bootstrap" for _, _, cmp in result.points for row in cmp.rows):
            lines += ["", "Single runs: their spread is the sampling error within a run, a lower bound of the "
                      "spread between runs; set `repeats` in the experiment to measure that."]
    if result.unmatched or result.unlike:
        lines += ["", *[f"- {md_text(u)}" for u in (*result.unmatched, *result.unlike)]]
    return "\n".join(lines) + "\n"


def dumps(result: ExperimentComparison) -> str:
    return json.dumps(result.to_json(), indent=2, default=str)
