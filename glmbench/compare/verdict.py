"""The verdict rules, on plain numbers.

A change is measured in the worse direction, relative to the baseline: +0.10
means 10% worse whichever way the metric is better. Each rule says whether the
change is a regression beyond ``threshold`` once noise is allowed for:

- ``repeats``: several runs a side. Regressed when the candidate's mean is
  worse by more than ``max(threshold, 2 * pooled std / baseline mean)``.
- ``bootstrap``: single runs with per-request records. Regressed when the whole
  95% bootstrap interval of candidate/baseline lies beyond the threshold.
- ``two-proportion``: BFCL counts. Regressed when the whole 95% interval of the
  accuracy difference (Newcombe's hybrid score interval) lies beyond the
  threshold (relative to the baseline accuracy).
- ``paired``: BFCL verdicts of the same entries on both sides. The same rule on
  Newcombe's interval for paired proportions, which uses that most entries
  pass or fail on both sides: only the entries that changed carry evidence.
- ``threshold``: nothing to measure noise with (a published table, a run-level
  metric of a single run). Regressed when the change passes the threshold.

``improvement`` mirrors ``regression``; ``within noise`` is a change past the
threshold that the noise rule does not confirm; ``ok`` is a change inside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Verdict", "repeats_needed", "worse_change", "threshold_verdict", "repeats_verdict", "interval_verdict",
           "proportion_verdict", "paired_proportion_verdict", "wilson_interval"]

Status = Literal["regression", "improvement", "within noise", "ok"]
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Verdict:
    """What a comparison concluded, by which rule, and why, in words fit for a CI summary."""

    status: Status
    rule: str
    why: str
    # The smallest change (worse direction, relative to the baseline) this rule would have
    # called a regression with this data: the threshold, widened by the noise it allows for.
    detectable: float | None = None
    # The run-to-run spread of the metric (relative std of one run's value) the rule saw, when it saw one.
    spread: float | None = None

    @property
    def regressed(self) -> bool:
        return self.status == "regression"


def worse_change(baseline: float, candidate: float, better: Better) -> float:
    """Relative change in the worse direction (+ is worse); inf when a zero baseline got worse."""
    if baseline == 0:
        if candidate == baseline:
            return 0.0
        worse = candidate > 0 if better == "lower" else candidate < 0
        return math.inf if worse else -math.inf
    rel = (candidate - baseline) / abs(baseline)
    return rel if better == "lower" else -rel


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _classify(worse: float, margin: float, threshold: float) -> Status:
    if worse > margin:
        return "regression"
    if -worse > margin:
        return "improvement"
    return "within noise" if abs(worse) > threshold else "ok"


def threshold_verdict(baseline: float, candidate: float, better: Better, threshold: float, reason: str) -> Verdict:
    """Plain threshold comparison; ``reason`` says why no noise estimate was possible."""
    worse = worse_change(baseline, candidate, better)
    status: Status = "regression" if worse > threshold else "improvement" if -worse > threshold else "ok"
    return Verdict(status, "threshold", f"{_pct(worse)} worse vs threshold {_pct(threshold)}; threshold only: {reason}"
                   if worse > 0 else f"{_pct(-worse)} better; threshold only: {reason}", threshold)


def repeats_verdict(baseline: Sequence[float], candidate: Sequence[float], better: Better,
                    threshold: float) -> Verdict:
    """Means of repeated runs, with the pooled run-to-run spread as the noise margin."""
    base, cand = np.asarray(baseline, float), np.asarray(candidate, float)
    dof = sum(len(v) - 1 for v in (base, cand) if len(v) > 1)
    pooled_var = sum((len(v) - 1) * v.var(ddof=1) for v in (base, cand) if len(v) > 1) / max(dof, 1)
    base_mean = float(base.mean())
    spread = math.sqrt(pooled_var) / abs(base_mean) if base_mean else math.inf
    margin = max(threshold, 2 * spread)
    worse = worse_change(base_mean, float(cand.mean()), better)
    status = _classify(worse, margin, threshold)
    change = f"{_pct(worse)} worse" if worse > 0 else f"{_pct(-worse)} better"
    return Verdict(status, "repeats", f"mean of {len(cand)} vs {len(base)} runs {change}; margin {_pct(margin)} "
                   f"= max(threshold {_pct(threshold)}, 2 x run-to-run std {_pct(spread)})", margin,
                   spread if dof else None)


def interval_verdict(ratio_low: float, ratio_high: float, better: Better, threshold: float,
                     point: float, what: str = "bootstrap") -> Verdict:
    """A confidence interval on candidate/baseline: regression only when all of it is past the threshold.

    ``point`` is the measured change (worse direction), which decides ``within noise`` against ``ok``.
    """
    # Worse-direction change at each end of the interval: for lower-is-better a ratio of 1.1 is +10%.
    ends = sorted((r - 1.0) if better == "lower" else (1.0 - r) for r in (ratio_low, ratio_high))
    best, worst = ends
    if best > threshold:
        status: Status = "regression"
    elif -worst > threshold:
        status = "improvement"
    else:
        status = "within noise" if abs(point) > threshold else "ok"
    # The interval is about the measured change +- half its width: it clears the threshold from
    # a change of the threshold plus that half width.
    return Verdict(status, what, f"95% interval of the change {_pct(best)} .. {_pct(worst)} worse "
                   f"(threshold {_pct(threshold)}; regression only if all of it is past the threshold)",
                   threshold + (worst - best) / 2, (worst - best) / 2 / (1.959964 * math.sqrt(2)))


def wilson_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_verdict(base_correct: int, base_total: int, cand_correct: int, cand_total: int,
                       threshold: float) -> Verdict:
    """Accuracy of two independent samples: Newcombe's hybrid score interval on the difference, judged
    against ``threshold`` x baseline accuracy, so one entry in a 16-entry category cannot fail a night.
    """
    pb, pc = base_correct / base_total, cand_correct / cand_total
    lb, ub = wilson_interval(base_correct, base_total)
    lc, uc = wilson_interval(cand_correct, cand_total)
    diff = pc - pb
    low = diff - math.sqrt((pc - lc) ** 2 + (ub - pb) ** 2)
    high = diff + math.sqrt((uc - pc) ** 2 + (pb - lb) ** 2)
    return _accuracy_verdict(diff, low, high, pb, threshold, "two-proportion",
                             f"{cand_correct}/{cand_total} vs {base_correct}/{base_total}")


def _accuracy_verdict(diff: float, low: float, high: float, base_acc: float, threshold: float, rule: str,
                      counts: str) -> Verdict:
    margin = threshold * base_acc
    if high < -margin:
        status: Status = "regression"
    elif low > margin:
        status = "improvement"
    else:
        status = "within noise" if abs(diff) > margin else "ok"
    detectable = threshold + (high - low) / 2 / base_acc if base_acc else None
    return Verdict(status, rule, f"{counts}; 95% interval of the difference {100 * low:+.1f} .. {100 * high:+.1f} "
                   f"points (threshold {100 * margin:.1f} points = {_pct(threshold)} of the baseline)", detectable)


def paired_proportion_verdict(both: int, base_only: int, cand_only: int, neither: int,
                              threshold: float) -> Verdict:
    """Accuracy of the same entries on both sides (Newcombe 1998, method 10), judged as :func:`proportion_verdict`.

    ``base_only`` entries passed only on the baseline, ``cand_only`` only on the
    candidate. The interval narrows with the correlation between the sides, so
    a real change in a few entries is not lost in the noise of the rest.
    """
    n = both + base_only + cand_only + neither
    base_ok, cand_ok = both + base_only, both + cand_only
    pb, pc = base_ok / n, cand_ok / n
    lb, ub = wilson_interval(base_ok, n)
    lc, uc = wilson_interval(cand_ok, n)
    denom = math.sqrt(base_ok * (n - base_ok) * cand_ok * (n - cand_ok))
    phi = (both * neither - base_only * cand_only) / denom if denom else 0.0
    diff = pc - pb
    low = diff - math.sqrt(max(0.0, (pc - lc) ** 2 - 2 * phi * (pc - lc) * (ub - pb) + (ub - pb) ** 2))
    high = diff + math.sqrt(max(0.0, (uc - pc) ** 2 - 2 * phi * (uc - pc) * (pb - lb) + (pb - lb) ** 2))
    return _accuracy_verdict(diff, low, high, pb, threshold, "paired",
                             f"{cand_ok}/{n} vs {base_ok}/{n}, same entries ({cand_only} gained, {base_only} lost)")

# How far the advice allows the measured spread to be low: a spread measured from about a dozen runs is
# uncertain by about 1 / sqrt(2 (runs - 1)), some 20%.
_SPREAD_ALLOWANCE = 1.2
_MAX_REPEATS = 20


def _repeats_rule_rate(n: int, spread: float, threshold: float, change: float, seed: int,
                       trials: int = 10_000) -> float:
    """How often :func:`repeats_verdict` says ``regression`` for n normal runs a side, the candidate ``change`` worse."""
    rng = np.random.default_rng(seed)
    base = 1.0 + spread * rng.standard_normal((trials, n))
    cand = 1.0 + change + spread * rng.standard_normal((trials, n))
    base_mean = base.mean(axis=1)
    pooled = np.sqrt((base.var(axis=1, ddof=1) + cand.var(axis=1, ddof=1)) / 2) / np.abs(base_mean)
    margin = np.maximum(threshold, 2 * pooled)
    worse = (cand.mean(axis=1) - base_mean) / np.abs(base_mean)
    return float((worse > margin).mean())


def repeats_needed(spread: float, threshold: float, effect: float = 0.10) -> int | None:
    """Repeats per side for the ``repeats`` rule to catch a change of ``effect`` 90% of the time with at most
    1% false alarms, given the run-to-run ``spread`` (relative std of one run's value); None if no number will.

    The rule's margin comes from the spread the runs themselves show, which with few runs is often well off
    the true one; so the rates are those of the rule as applied, on normal run-to-run noise (a seeded
    simulation, the same answer every time), sized for a spread 20% above the one given: a spread measured
    from a dozen runs is uncertain by about that much. At least 2: the rule needs a spread of its own.
    """
    if spread <= 0:
        return 2
    spread *= _SPREAD_ALLOWANCE
    if max(threshold, 2 * spread) >= effect:
        return None  # the rule's own margin is as large as the change: repeats cannot help
    for n in range(2, _MAX_REPEATS + 1):
        if (_repeats_rule_rate(n, spread, threshold, 0.0, seed=1) <= 0.01
                and _repeats_rule_rate(n, spread, threshold, effect, seed=2) >= 0.90):
            return n
    return None
