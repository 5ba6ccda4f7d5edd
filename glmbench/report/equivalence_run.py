"""Equivalence outputs as reports show them: one run's passes and batch invariance, and the comparison tables'
cells, shared by the run report and the experiment report.

A comparison's figures are a :meth:`glmbench.equivalence.diff.PassDiff.summary` dict (an equivalence summary's
``batch_invariance``, or an experiment point's pass against its reference); these functions only turn them into
the cells every format shows.
"""

from __future__ import annotations

from typing import Any

from glmbench.results.schema import EquivalenceSummary

__all__ = ["PASS_HEADERS", "FIGURE_HEADERS", "DIFFERENCE_HEADERS", "pct", "positions", "pass_rows", "figure_cells",
           "invariance_rows", "difference_rows", "notes"]

PASS_HEADERS = ["pass", "requests", "failed", "in flight (median)"]
FIGURE_HEADERS = ["match", "first diff token (min / median / max)", "near ties / wide margins",
                  "calls / verdicts changed", "failed"]
DIFFERENCE_HEADERS = ["prompt", "token", "char", "alone", "loaded", "margin", "calls / verdict"]


def pct(value: float | None) -> str:
    """A share as a percentage (``-`` for none)."""
    return "-" if value is None else f"{100 * value:.1f}%"


def positions(values: list[int]) -> str:
    """Where differences start, compactly: the least, the median and the most (``-`` when none differ)."""
    if not values:
        return "-"
    return f"{values[0]} / {values[len(values) // 2]} / {values[-1]}"


def figure_cells(figures: dict[str, Any]) -> list[str]:
    """One comparison's figures as :data:`FIGURE_HEADERS` cells: the match rate with the prompts behind it
    (``71.4% (5/7)``), where differences start, how many at a near tie and how many at a wide margin, how many
    BFCL prompts' calls and verdicts changed, and how many prompts were not compared (a request failed)."""
    def get(key: str) -> str:
        return str(figures.get(key, "-"))

    match = pct(figures.get("match_rate"))
    if figures.get("compared"):
        match += f" ({figures.get('matched', '-')}/{figures['compared']})"
    return [match, positions(figures.get("first_diff_tokens") or []), f"{get('near_ties')} / {get('wide_margins')}",
            f"{get('calls_changed')} / {get('verdicts_changed')}", get("failed")]


def pass_rows(summary: EquivalenceSummary) -> list[list[str]]:
    """Each pass the run made: requests, failures and the median in flight."""
    return [[str(p.get("pass", "-")), str(p.get("requests", "-")), str(p.get("failed", "-")),
             str(p.get("in_flight_p50", "-"))] for p in summary.passes]


def invariance_rows(summary: EquivalenceSummary) -> list[list[str]]:
    """The run's own outputs one at a time against under load (none without a pass under load)."""
    if not summary.batch_invariance:
        return []
    return [[f"alone vs among {summary.loaded}", *figure_cells(summary.batch_invariance)]]


def difference_rows(differences: list[dict[str, Any]]) -> list[list[str]]:
    """Each prompt whose outputs differ: where, the two tokens there, the margin, and a BFCL prompt's changes."""
    rows = []
    for d in differences:
        changed = "-" if d.get("calls_changed") is None else (
            f"{'changed' if d['calls_changed'] else 'same'} / {'changed' if d.get('verdict_changed') else 'same'}")
        rows.append([str(d.get("prompt", "-")), "-" if d.get("token") is None else str(d["token"]),
                     "-" if d.get("char") is None else str(d["char"]), str(d.get("reference_token") or ""),
                     str(d.get("candidate_token") or ""), "-" if d.get("margin") is None else f"{d['margin']:.3f}",
                     (d.get("error") or "")[:60] or changed])
    return rows


def notes(summary: EquivalenceSummary) -> list[str]:
    """What a reader must see beside the tables: failures, a run cut short, no logprobs, and how to compare."""
    out = []
    failed = sum(int(p.get("failed") or 0) for p in summary.passes)
    if failed:
        out.append(f"{failed} requests failed: their prompts are not compared (the reasons are in outputs.jsonl)")
    if summary.interrupted:
        out.append("interrupted: the outputs kept are those that ended")
    if not summary.logprobs:
        out.append("the server gave no logprobs: differences are placed in characters and have no margin")
    if summary.batch_invariance and summary.batch_invariance.get("match_rate") not in (None, 1.0):
        out.append("some outputs change under load: the server is not batch invariant for these prompts")
    gates = f"alone {100 * summary.require_alone:g}%" + (
        f", loaded {100 * summary.require_loaded:g}%" if summary.require_loaded is not None else "")
    out.append(f"to compare it with a reference run: glmbench compare REFERENCE THIS (its gates: {gates} of prompts "
               "must match)")
    return out
