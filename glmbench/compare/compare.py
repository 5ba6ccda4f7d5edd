"""``compare_results``: two sides, per workload (or BFCL category) and metric, a change and a verdict.

A BFCL comparison judges accuracy per category (rows whose metric is
``accuracy``) and, when both sides were asked as traffic, the speed of their
requests per load row (``all``, ``single-turn``, ``multi-turn``; rows whose
metric is a load metric key) exactly as load runs are judged, so either fails it.
An equivalence comparison has a row per pass (``alone``, ``loaded``; metric
``match_rate``) judged by the candidate suite's gate (:mod:`glmbench.compare.outputs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from glmbench.compare.asked import Asked, Difference, asked, difference_note, differences
from glmbench.compare.bootstrap import RequestSample, ratio_interval, request_sample
from glmbench.compare.metrics import (
    BFCL_METRIC,
    DEFAULT_BFCL_LOAD_METRICS,
    DEFAULT_LOAD_METRICS,
    MATCH_RATE,
    MetricSpec,
    known_metrics,
    metric_spec,
)
from glmbench.compare.sides import Run, Side, load_side
from glmbench.compare.verdict import (
    Verdict,
    interval_verdict,
    paired_proportion_verdict,
    proportion_verdict,
    repeats_verdict,
    threshold_verdict,
    worse_change,
)
from glmbench.errors import GlmbenchError, did_you_mean
from glmbench.metrics.client import flagged, in_words

__all__ = ["Row", "Comparison", "compare_results", "parse_threshold"]


@dataclass
class Row:
    """One metric of one workload (or BFCL category) on both sides."""

    workload: str
    metric: str
    unit: str
    better: str
    baseline: float
    candidate: float
    change: float | None
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = asdict(self.verdict)
        return data


@dataclass
class Comparison:
    """The rows of a comparison, what the two sides were, and notes on what differs between them."""

    baseline: str
    candidate: str
    kind: str
    threshold: float
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    unlike: list[str] = field(default_factory=list)
    """Notes on how the two sides' workloads differ (:mod:`glmbench.compare.asked`): empty when like for like."""

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict.regressed]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "candidate": self.candidate, "kind": self.kind,
                "threshold": self.threshold, "regressed": bool(self.regressions),
                "like_for_like": not self.unlike, "workload_differences": self.unlike,
                "rows": [r.to_json() for r in self.rows], "notes": self.notes}


def parse_threshold(text: str) -> float:
    """``5%`` or ``0.05`` to 0.05."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1 or (not raw.endswith("%") and value >= 1):
        raise GlmbenchError(f"bad --max-regression {text!r}", "write a percentage such as 5% (or a fraction, 0.05)")
    return value


def compare_results(baseline: Path, candidate: Path, threshold: float = 0.05,
                    metrics: Sequence[str] = (), same_point: bool = False) -> Comparison:
    """Compare two sides; raises GlmbenchError on inputs that cannot be compared.

    ``same_point``: the two sides are one load point (an experiment's, matched by its label), so their one
    workload each is compared whatever each names it (a point folder written before points were named by
    their load calls its workload after the suite's).
    """
    base, cand = load_side(baseline, "baseline"), load_side(candidate, "candidate")
    if base.kind != cand.kind:
        raise GlmbenchError(f"baseline is {_a(base.kind)} run and candidate {_a(cand.kind)} run",
                            "compare a load run with a load run, a BFCL run with a BFCL run, an equivalence run "
                            "with an equivalence run")
    for name in metrics:
        if metric_spec(name, base.kind) is None:
            raise GlmbenchError(f"unknown {base.kind} metric {name!r}{did_you_mean(name, known_metrics(base.kind))}",
                                f"use one of {', '.join(known_metrics(base.kind))}")
    result = Comparison(base.label, cand.label, base.kind, threshold, [], _notes(base, cand))
    if base.kind == "equivalence":
        _compare_outputs(base, cand, result)
    elif base.kind == "bfcl":
        _compare_bfcl(base, cand, result, list(metrics))
    else:
        _compare_load(base, cand, result, list(metrics) or list(DEFAULT_LOAD_METRICS), same_point)
    if not result.rows:
        raise GlmbenchError("the two sides have no metric in common to compare",
                            "check --metric, or that both ran the same workloads")
    return result


def _a(kind: str) -> str:
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def _notes(base: Side, cand: Side) -> list[str]:
    notes = []
    if base.hardware != cand.hardware:
        notes.append(f"hardware differs: baseline {base.hardware}; candidate {cand.hardware} "
                     "(the change is not like for like)")
    for side, name in ((base, "baseline"), (cand, "candidate")):
        for run in side.runs:
            if run.published:
                # A reference's source names it a published table already: "published table (LightLLM ...)".
                source = str(run.manifest.dataset.get("source") or "")
                what = source if source.startswith("published table") else f"published table ({source})"
                notes.append(f"{name} is a {what}: no per-request records, so its metrics get a plain threshold "
                             "comparison")
                break
    several = [f"{name} {side.path.name}: {len(side.runs)} {'repeats' if side.repeated else 'runs'}"
               for side, name in ((base, "baseline"), (cand, "candidate")) if len(side.runs) > 1]
    if several:
        notes.append(f"{'; '.join(several)}: each run's figure is one sample; a metric is compared by the mean over "
                     "the runs, with their run-to-run spread as the noise (the repeats rule)")
    backends = {r.manifest.backend.name for r in base.runs}, {r.manifest.backend.name for r in cand.runs}
    if backends[0] != backends[1]:
        notes.append(f"backends differ: {'/'.join(sorted(backends[0]))} vs {'/'.join(sorted(backends[1]))}")
    return notes


def _compare_outputs(base: Side, cand: Side, result: Comparison) -> None:
    """One row per pass: the share of prompts whose output is the baseline's, judged by the candidate's gate."""
    from glmbench.compare.outputs import judge_outputs
    from glmbench.results.schema import EquivalenceSummary

    if len(base.runs) != 1 or len(cand.runs) != 1:
        raise GlmbenchError("an equivalence comparison takes one run a side",
                            "pass the two equivalence runs' folders themselves")
    (b,), (c,) = base.runs, cand.runs
    assert isinstance(b.summary, EquivalenceSummary) and isinstance(c.summary, EquivalenceSummary)
    verdicts, notes = judge_outputs(b.path, b.summary, c.path, c.summary)
    for found in verdicts:
        measured = 0.0 if found.measured is None else found.measured
        result.rows.append(Row(found.name, MATCH_RATE.key, MATCH_RATE.unit, MATCH_RATE.better, 1.0, measured,
                               measured - 1.0, found.verdict))
    result.notes += ["outputs are the baseline's or not: each pass is judged by the candidate suite's gate "
                     "(require_alone, require_loaded), not by --max-regression", *notes]


_RunRows = dict[str, list[tuple[Run, dict[str, Any]]]]


def _workload_rows(side: Side) -> _RunRows:
    """Each load row's name (a load run's workload, a BFCL run's traffic class) with the runs' rows of it."""
    by_workload: _RunRows = {}
    for run in side.runs:
        for row in run.load_rows:
            by_workload.setdefault(row["workload"], []).append((run, row))
    return by_workload


def _compare_load(base: Side, cand: Side, result: Comparison, metrics: list[str], same_point: bool = False) -> None:
    base_rows, cand_rows = _workload_rows(base), _workload_rows(cand)
    common = [w for w in base_rows if w in cand_rows]
    if not common and same_point and len(base_rows) == 1 and len(cand_rows) == 1:
        [(old, rows)] = base_rows.items()
        [name] = cand_rows
        result.notes.append(f"the point's workload is {old} in the baseline and {name} in the candidate: "
                            "compared as one point")
        base_rows, common = {name: rows}, [name]
    if not common:
        raise GlmbenchError(f"no common workloads: baseline has {', '.join(base_rows) or 'none'}, "
                            f"candidate has {', '.join(cand_rows) or 'none'}", "run the same workloads on both sides")
    _note_unlike(base_rows, cand_rows, common, result)
    _judge_load_rows(base_rows, cand_rows, common, result, metrics)


def _side_asked(rows: list[tuple[Run, dict[str, Any]]]) -> Asked:
    """What a side asked at one workload: each setting as its runs recorded it (``a / b`` when they differ)."""
    found = [asked(run.path, run.manifest, row) for run, row in rows]
    names = [n for one in found for n in one]
    return {n: " / ".join(sorted({one[n] for one in found if n in one}))
            for n in dict.fromkeys(names) if all(n in one for one in found)}


def _note_unlike(base_rows: _RunRows, cand_rows: _RunRows, common: list[str], result: Comparison) -> None:
    """A note per setting the two sides asked differently (``num_prompts differs: 200 vs 30: ...``), naming the
    workloads unless it is all of them, and what that means for the verdicts."""
    at: dict[Difference, list[str]] = {}
    for workload in common:
        for found in differences(_side_asked(base_rows[workload]), _side_asked(cand_rows[workload])):
            at.setdefault(found, []).append(workload)
    if not at:
        return
    result.unlike = [difference_note(found, workloads, len(workloads) == len(common)) for found, workloads in at.items()]
    result.notes += result.unlike
    result.notes.append("the two sides asked different workloads (above), so the verdicts compare unlike figures; "
                        "the exit code follows the verdicts alone (a difference in workload does not fail it, as a "
                        "published table or other hardware does not): rerun one side with the other's workload for "
                        "a verdict to trust")


def _untrusted(row: dict[str, Any]) -> str:
    """Which of a load row's verdicts its client's self-check says not to trust, in words."""
    names = [f for f in flagged(row) if f != "offered_load"]
    if not names:
        return "its figures are for the load that arrived, not the one asked"
    return f"its {in_words(names)} verdicts are not to be trusted"


def _judge_load_rows(base_rows: _RunRows, cand_rows: _RunRows, common: list[str], result: Comparison,
                     metrics: list[str]) -> None:
    """The rows of ``metrics`` for each load row in ``common``, with notes on failures and saturated clients."""
    for workload in common:
        failed = sum(int(row.get("failed") or 0) for _, row in cand_rows[workload])
        if failed:
            result.notes.append(f"candidate {workload}: {failed} failed requests")
        for side, rows in (("baseline", base_rows[workload]), ("candidate", cand_rows[workload])):
            saturated = [row for _, row in rows if row.get("client_saturated")]
            if saturated:
                result.notes.append(f"{side} {workload}: {_untrusted(saturated[0])}: "
                                    f"{saturated[0].get('client_warning') or 'the client read late'}")
        for name in metrics:
            spec = metric_spec(name, "load")
            assert spec is not None
            row = _load_row(workload, spec, base_rows[workload], cand_rows[workload], result.threshold)
            if row is not None:
                result.rows.append(row)


def _values(rows: list[tuple[Run, dict[str, Any]]], key: str) -> list[float]:
    return [float(row[key]) for _, row in rows if isinstance(row.get(key), (int, float))]


def _load_row(workload: str, spec: MetricSpec, base_rows, cand_rows, threshold: float) -> Row | None:
    b, c = _values(base_rows, spec.key), _values(cand_rows, spec.key)
    if not b or not c:
        return None
    b_mean, c_mean = sum(b) / len(b), sum(c) / len(c)
    if len(b) > 1 or len(c) > 1:
        verdict = repeats_verdict(b, c, spec.better, threshold)
    elif spec.per_request and base_rows[0][0].has_records and cand_rows[0][0].has_records:
        point = worse_change(b_mean, c_mean, spec.better)
        verdict = _bootstrap(workload, spec, base_rows[0][0], cand_rows[0][0], threshold, point) or threshold_verdict(
            b_mean, c_mean, spec.better, threshold, "too few requests to resample")
    else:
        published = any(r.published or not r.has_records for r, _ in (*base_rows, *cand_rows))
        reason = ("no per-request records (published table)" if published
                  else "a run-level figure of single runs; use 'glmbench run --repeat N' for its spread")
        verdict = threshold_verdict(b_mean, c_mean, spec.better, threshold, reason)
    change = worse_change(b_mean, c_mean, spec.better)
    signed = None if change in (float("inf"), float("-inf")) else (change if spec.better == "lower" else -change)
    return Row(workload, spec.key, spec.unit, spec.better, b_mean, c_mean, signed, verdict)


_SAMPLES: dict[tuple[Path, str, str], RequestSample] = {}


def _sample(run: Run, workload: str, tag: str) -> RequestSample:
    key = (run.path, workload, tag)
    if key not in _SAMPLES:
        _SAMPLES[key] = request_sample(run.records(workload), tag)
    return _SAMPLES[key]


def _bootstrap(workload: str, spec: MetricSpec, base: Run, cand: Run, threshold: float,
               point: float) -> Verdict | None:
    assert spec.tag is not None and spec.stat is not None
    interval = ratio_interval(_sample(base, workload, spec.tag), _sample(cand, workload, spec.tag), spec.stat)
    if interval is None:
        return None
    return interval_verdict(*interval, spec.better, threshold, point, "bootstrap")


def _bfcl_rules(base: Side, cand: Side) -> str:
    first = base.runs[0].summary
    assert first.kind == "bfcl"
    preferred = [first.primary, *first.tables]
    for rules in preferred:
        if all(rules in r.summary.tables for r in (*base.runs, *cand.runs)):  # type: ignore[union-attr]
            return rules
    raise GlmbenchError("the two BFCL sides share no scoring rules", "rescore both with 'glmbench rescore'")


def _bfcl_counts(side: Side, rules: str) -> dict[str, tuple[float, int | None, int | None]]:
    """Per category: mean accuracy over the runs, and correct/total summed (None if a run lacks counts)."""
    acc: dict[str, list[float]] = {}
    counts: dict[str, tuple[int, int] | None] = {}
    for run in side.runs:
        for row in run.summary.tables[rules]:  # type: ignore[union-attr]
            if row.get("accuracy") is None:
                continue
            category = row["category"]
            acc.setdefault(category, []).append(float(row["accuracy"]))
            previous = counts.get(category, (0, 0))
            ok = row.get("correct") is not None and row.get("total")
            counts[category] = ((previous[0] + int(row["correct"]), previous[1] + int(row["total"]))
                                if ok and previous is not None else None)
    return {c: (sum(v) / len(v), *(counts[c] or (None, None))) for c, v in acc.items()}


def _entry_outcomes(run: Run, rules: str) -> dict[str, dict[str, bool]]:
    """Per category, each entry's verdict under ``rules``, from the run's stored BFCL records."""
    from glmbench.bfcl.runner import RECORDS, read_records

    out: dict[str, dict[str, bool]] = {}
    for entry_id, record in read_records(run.path / RECORDS).items():
        verdict = (record.get("verdicts") or {}).get(rules)
        if verdict is not None:
            out.setdefault(record.get("category", ""), {})[entry_id] = bool(verdict["ok"])
    return out


class _Pair(NamedTuple):
    """One category's entries on both sides: how many passed on both, on the baseline only, on the candidate
    only, on neither, and how many there are."""

    both: int
    base_only: int
    cand_only: int
    neither: int
    n: int


def _paired_counts(base: Side, cand: Side, rules: str) -> dict[str, _Pair | None]:
    """Every category with entries on either side: its :class:`_Pair` when both sides asked exactly the
    same entries, None when they did not.

    Only for one run a side; repeats are pooled by counts instead.
    """
    if len(base.runs) != 1 or len(cand.runs) != 1:
        return {}
    b, c = _entry_outcomes(base.runs[0], rules), _entry_outcomes(cand.runs[0], rules)
    out: dict[str, _Pair | None] = {}
    for category in b.keys() | c.keys():
        ids = b.get(category, {}).keys()
        if ids != c.get(category, {}).keys():
            out[category] = None
            continue
        pairs = [(b[category][i], c[category][i]) for i in ids]
        out[category] = _Pair(pairs.count((True, True)), pairs.count((True, False)), pairs.count((False, True)),
                              pairs.count((False, False)), len(pairs))
    return out


def _usable_pairs(pairs: dict[str, _Pair | None], common: list[str],
                  b: dict[str, tuple[float, int | None, int | None]],
                  c: dict[str, tuple[float, int | None, int | None]]) -> dict[str, _Pair]:
    """The rows of ``common`` to compare entry by entry: the categories whose entries are the same on both
    sides and are the rows' counts; and, when every category row is one of them, the rows that sum them all
    (OVERALL: a row no entry is in, whose count is the union's) on that union.
    """
    usable = {cat: pair for cat in common if (pair := pairs.get(cat)) is not None and pair.n == b[cat][2] == c[cat][2]}
    entry_rows = [cat for cat in common if cat in pairs]
    if not entry_rows or any(cat not in usable for cat in entry_rows):
        return usable
    union = _Pair(*(sum(counts) for counts in zip(*(usable[cat] for cat in entry_rows))))
    # A summary row's counts sum some of the categories, so only the row over all of them has the union's count.
    for cat in common:
        if cat not in pairs and union.n == b[cat][2] == c[cat][2]:
            usable[cat] = union
    return usable


def _compare_bfcl(base: Side, cand: Side, result: Comparison, metrics: list[str]) -> None:
    """Accuracy per category, then the requests' speed; ``metrics`` (none: accuracy and the default speed
    metrics) picks which."""
    if not metrics or BFCL_METRIC.key in metrics:
        _compare_accuracy(base, cand, result)
    speed = [m for m in metrics if m != BFCL_METRIC.key] if metrics else list(DEFAULT_BFCL_LOAD_METRICS)
    if speed:
        _compare_bfcl_speed(base, cand, result, speed)


def _compare_bfcl_speed(base: Side, cand: Side, result: Comparison, metrics: list[str]) -> None:
    """The load rows of two BFCL sides asked as traffic, matched by name and judged as load runs' rows are.

    A request record's row comes from its entry's category (:meth:`Run.records`), so the bootstrap resamples
    the requests behind each row. Sides not both asked as traffic are left out, with a note when one was.
    """
    untimed = [name for name, side in (("baseline", base), ("candidate", cand))
               if not all(run.load_rows for run in side.runs)]
    if untimed:
        if len(untimed) == 1:
            result.notes.append(f"speed not compared: the {untimed[0]} was not asked as traffic "
                                "(bfcl --no-stream, or a run written before BFCL requests were timed)")
        return
    base_rows, cand_rows = _workload_rows(base), _workload_rows(cand)
    common = [w for w in base_rows if w in cand_rows]
    if not common:
        result.notes.append(f"speed not compared: no common load rows (baseline {', '.join(base_rows)}; "
                            f"candidate {', '.join(cand_rows)})")
        return
    schedules = [" / ".join(sorted({str(run.schedule) for run in side.runs})) for side in (base, cand)]
    if schedules[0] != schedules[1]:
        result.notes.append(f"schedules differ: baseline {schedules[0]}; candidate {schedules[1]} "
                            "(the speed change is not like for like)")
    result.notes.append("speed: the BFCL requests' load rows (all, then single-turn and multi-turn) are compared as "
                        "load runs' are, their metric keys beside accuracy; per-request latencies by a bootstrap "
                        "over each row's requests in records.jsonl")
    _judge_load_rows(base_rows, cand_rows, common, result, metrics)


def _compare_accuracy(base: Side, cand: Side, result: Comparison) -> None:
    rules = _bfcl_rules(base, cand)
    result.notes.append(f"BFCL accuracy under the {rules} scoring rules; repeats are pooled by entry counts")
    b, c = _bfcl_counts(base, rules), _bfcl_counts(cand, rules)
    common = [cat for cat in b if cat in c]
    if not common:
        raise GlmbenchError("no common BFCL categories", "run the same categories on both sides")
    paired = _usable_pairs(_paired_counts(base, cand, rules), common, b, c)
    if paired:
        result.notes.append("categories asked with the same entries on both sides are compared entry by entry "
                            "(paired, an exact McNemar test): only the entries that changed verdict count as evidence; "
                            "OVERALL too when every category is")
    for category in common:
        (b_acc, b_ok, b_n), (c_acc, c_ok, c_n) = b[category], c[category]
        pair = paired.get(category)
        if pair is not None:
            verdict = paired_proportion_verdict(*pair[:4], result.threshold)
        elif b_ok is not None and b_n and c_ok is not None and c_n:
            verdict = proportion_verdict(b_ok, b_n, c_ok, c_n, result.threshold)
        else:
            verdict = threshold_verdict(b_acc, c_acc, "higher", result.threshold, "no entry counts")
        change = (c_acc - b_acc) / b_acc if b_acc else None
        result.rows.append(Row(category, BFCL_METRIC.key, BFCL_METRIC.unit, "higher", b_acc, c_acc, change, verdict))
