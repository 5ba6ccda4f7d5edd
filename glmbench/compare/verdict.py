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
- ``paired (McNemar)``: BFCL verdicts of the same entries on both sides. Only
  the entries whose verdict changed carry evidence: ``b`` passed only on the
  baseline, ``c`` only on the candidate. Regressed when the exact McNemar test
  (under no change c ~ Binomial(b + c, 1/2)) gives p < 0.05 and the candidate's
  accuracy is lower by more than the threshold (relative to the baseline accuracy).
- ``threshold``: nothing to measure noise with (a published table, a run-level
  metric of a single run). Regressed when the change passes the threshold.
- ``gate``: the share of prompts whose output is the baseline's exactly (an
  equivalence run's). Regressed when it is below the share the candidate's
  suite requires; a pass not gated is never regressed, and is ``within noise``
  when some outputs differ. Outputs are the same or not: no threshold, no noise.

``improvement`` mirrors ``regression``; ``within noise`` is a change past the
threshold that the noise rule does not confirm; ``ok`` is a change inside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from glmbench.util.proportion import wilson_interval

__all__ = ["Verdict", "repeats_needed", "worse_change", "threshold_verdict", "repeats_verdict", "interval_verdict",
           "proportion_verdict", "paired_proportion_verdict", "mcnemar_p_value", "wilson_interval", "PAIRED_RULE",
           "gate_verdict", "SPREAD_ALLOWANCE", "MAX_REPEATS"]

Status = Literal["regression", "improvement", "within noise", "ok"]
Better = Literal["higher", "lower"]

PAIRED_RULE = "paired (McNemar)"
"""The name of :func:`paired_proportion_verdict`'s rule, as verdicts and tables show it."""
# The significance level of the paired rule's test: two-sided 95%, as the other rules' intervals.
_ALPHA = 0.05


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


def _span(best: float, worst: float) -> str:
    """An interval of worse-direction changes in words: ``5.7% .. 19.1% better``, ``2.0% better .. 3.1% worse``."""
    if best >= 0:
        return f"{_pct(best)} .. {_pct(worst)} worse"
    if worst <= 0:
        return f"{_pct(-worst)} .. {_pct(-best)} better"
    return f"{_pct(-best)} better .. {_pct(worst)} worse"


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


def _shares(required: float) -> str:
    return f"{100 * required:g}%"


def gate_verdict(measured: float | None, required: float | None, differ: Sequence[str], compared: int) -> Verdict:
    """The match rate ``measured`` (None: no prompt compared) of a pass against the least share ``required``
    (None: not gated); ``differ`` names the prompts whose outputs differ, of ``compared``."""
    shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
    what = (f"{len(differ)} of {compared} prompts differ ({shown})" if differ
            else f"all {compared} prompts match" if compared else "no prompt compared (every request failed)")
    if required is None:
        return Verdict("within noise" if differ else "ok", "gate", f"{what}; not gated")
    if measured is None or measured < required:
        return Verdict("regression", "gate", f"{what}; {_pct(measured or 0.0)} match, {_shares(required)} required")
    return Verdict("ok", "gate", f"{what}; {_pct(measured)} match, {_shares(required)} required")


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
    return Verdict(status, what, f"95% interval of the change: {_span(best, worst)} "
                   f"(threshold {_pct(threshold)}; regression only if all of it is past the threshold)",
                   threshold + (worst - best) / 2, (worst - best) / 2 / (1.959964 * math.sqrt(2)))


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


def mcnemar_p_value(base_only: int, cand_only: int) -> float:
    """Two-sided exact McNemar p-value of ``base_only`` entries lost against ``cand_only`` gained.

    Under no change each entry whose verdict changed went either way with even
    odds, so the gains are Binomial(base_only + cand_only, 1/2); p is twice the
    tail at the smaller count, at most 1. Summed in integers, so exact for any count.
    """
    changed = base_only + cand_only
    tail, term = 0, 1  # term: C(changed, k), built up from C(changed, 0)
    for k in range(min(base_only, cand_only) + 1):
        tail += term
        term = term * (changed - k) // (k + 1)
    return min(1.0, 2 * tail / 2 ** changed)


def _smallest_significant_loss(changed: int) -> int:
    """The smallest net loss (lost - gained) that reaches p < 0.05 with ``changed`` entries changed.

    With fewer than 6 changed entries no split reaches it, so the answer is for 6 (all six lost).
    """
    changed = max(changed, 6)
    # The most gains k with 2 * P[X <= k] < 0.05, i.e. 40 * sum(C(changed, i), i <= k) < 2 ** changed.
    whole, tail, term, gained = 2 ** changed, 0, 1, -1
    while 40 * (tail + term) < whole:
        gained += 1
        tail += term
        term = term * (changed - gained) // (gained + 1)
    return changed - 2 * gained


def paired_proportion_verdict(both: int, base_only: int, cand_only: int, neither: int,
                              threshold: float) -> Verdict:
    """Accuracy of the same entries on both sides: an exact McNemar test on the entries that changed.

    ``base_only`` entries passed only on the baseline, ``cand_only`` only on the
    candidate; the entries that pass or fail on both sides say nothing about a
    change, so a real loss in a few entries is not lost in the noise of the rest.
    Regressed when p < 0.05 and the candidate is worse by more than ``threshold`` x
    baseline accuracy (the margin of :func:`proportion_verdict`). ``detectable`` is
    the smallest net loss that would reach p < 0.05 with as many entries changed
    (at least six), relative to the baseline accuracy, or the threshold if larger.
    """
    n = both + base_only + cand_only + neither
    base_ok, cand_ok = both + base_only, both + cand_only
    base_acc = base_ok / n if n else 0.0
    diff = (cand_only - base_only) / n if n else 0.0
    margin = threshold * base_acc
    p = mcnemar_p_value(base_only, cand_only)
    if p < _ALPHA and diff < -margin:
        status: Status = "regression"
    elif p < _ALPHA and diff > margin:
        status = "improvement"
    else:
        status = "within noise" if abs(diff) > margin else "ok"
    loss = _smallest_significant_loss(base_only + cand_only)
    detectable = max(threshold, loss / n / base_acc) if base_acc else None
    return Verdict(status, PAIRED_RULE, f"{cand_only} gained, {base_only} lost of {n} same entries "
                   f"({cand_ok}/{n} vs {base_ok}/{n}); exact McNemar p = {p:.3g}; a verdict needs p < {_ALPHA:g} "
                   f"and a change past {100 * margin:.1f} points (threshold {_pct(threshold)} of the baseline)",
                   detectable)


# How far the advice allows the measured spread to be low: a spread measured from about a dozen runs is
# uncertain by about 1 / sqrt(2 (runs - 1)), some 20%.
SPREAD_ALLOWANCE = 1.2
MAX_REPEATS = 20


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
    spread *= SPREAD_ALLOWANCE
    if max(threshold, 2 * spread) >= effect:
        return None  # the rule's own margin is as large as the change: repeats cannot help
    for n in range(2, MAX_REPEATS + 1):
        if (_repeats_rule_rate(n, spread, threshold, 0.0, seed=1) <= 0.01
                and _repeats_rule_rate(n, spread, threshold, effect, seed=2) >= 0.90):
            return n
    return None
