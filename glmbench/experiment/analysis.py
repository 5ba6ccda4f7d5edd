"""What an experiment measured, from its folder: every point's figures, one row per server, the Pareto frontier
and the best server by the experiment's objective. Rendering lives in :mod:`glmbench.report.experiment`.

Read from ``index.json`` and the point folders only, so a report can be made
again anywhere. The frontier follows InferenceX's axes: output tok/s per GPU (the
cost side) against output tok/s per user (1000 / mean TPOT, interactivity); a
server configuration none of whose load points is on the frontier is dominated.

An equivalence point's outputs are compared with the reference server's at the
same point (the server the suite entry's ``reference`` names; the first by
default), pass by pass, and judged by the suite's gates (``require_alone``,
``require_loaded``); its own batch invariance (alone against loaded) is read from
its summary. A gate that fails leaves the point complete (it ran) and is noted.

Only points whose figures can be trusted are ranked: a point whose client read
late (a latency counted from the send moved by the client's own delay), whose
load was not the one asked (a cap not held, requests that left late), or
whose mean TPOT is missing or below :data:`MIN_TPOT_MS` (its tokens arrived
together, so 1000 / TPOT is no decode speed), is drawn as "not ranked" and
decides nothing; a server none of whose points is ranked is neither on the
frontier nor dominated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError
from glmbench.experiment.file import suite_label
from glmbench.experiment.index import CellEntry, ExperimentIndex, PointEntry, read_index
from glmbench.experiment.searches import registered
from glmbench.metrics.client import LATE_SENDS, LATENCIES, client_overloaded, flagged, in_words, load_not_held
from glmbench.metrics.registry import ACCURACY, Metric, lookup
from glmbench.metrics.repeats import CI_SUFFIX, REPEATS
from glmbench.results.schema import EquivalenceSummary
from glmbench.results.store import load_any_summary, load_manifest, summary_folder

__all__ = ["MIN_TPOT_MS", "ExperimentReport", "experiment_report", "frontier", "metric_of", "not_ranked",
           "outputs_changed"]

_POINT_KEYS = ("output_tok_s", "ttft_ms_mean", "ttft_ms_p50", "ttft_ms_p99", "tpot_ms_mean", "tpot_ms_p50",
               "tpot_ms_p99", "e2e_ms_p50", "e2e_ms_p99", "itl_ms_p50", "itl_ms_p99", "goodput_request_s",
               "goodput_pct", "completed", "failed", "client_saturated", "client_warning", "spec_accept_rate",
               "spec_accept_length", "prefix_hit_rate", "prefix_hit_predicted")
# What a BFCL point asked as traffic adds: its tool-calling turns' latency and whether its cap was held.
_TRAFFIC_KEYS = ("e2e_ms_mean", "ttft_tool_call_ms_mean", "tool_call_ms_mean", "tool_call_ms_p99", "cap_held_pct")

# Point kinds that are suites, not load points (every other kind, a search's included, is a load point).
_SUITES = ("bfcl", "equivalence")

# A mean TPOT below this (10,000 tok/s for one user) is no decode speed: the tokens reached the
# client together (a buffered stream, or a client too late to read them apart).
MIN_TPOT_MS = 0.1


@dataclass
class ExperimentReport:
    """What an experiment folder holds: its points (one dict each) and one row per server configuration."""

    name: str
    path: Path
    status: str
    objective: str = "goodput"
    # The BFCL accuracy floor (%) by category, from the experiment's slo (OVERALL for slo.accuracy).
    floor: dict[str, float] = field(default_factory=dict)
    # The experiment's latency SLOs (ms) by metric tag: ttft, tpot, e2e.
    slo: dict[str, float] = field(default_factory=dict)
    points: list[dict[str, Any]] = field(default_factory=list)
    servers: list[dict[str, Any]] = field(default_factory=list)


def _run_dir(folder: Path, cell: CellEntry, point: PointEntry) -> Path | None:
    if not point.folder:
        return None
    return summary_folder(folder / cell.folder / point.folder)


def _gpus(run_dir: Path) -> int:
    """GPUs the server used: tp x dp of its config (1 without a config, as for an endpoint or the simulator)."""
    try:
        config = load_manifest(run_dir).backend.config or {}
    except GlmbenchError:
        return 1
    return max(1, int(config.get("tp") or 1) * int(config.get("dp") or 1))


def _hardware(run_dir: Path) -> str | None:
    """What served the point: ``gpu``, ``cpu`` (a server that uses GPUs found none), ``simulator`` (a backend that
    uses no GPU) or ``endpoint`` (a server glmbench did not start: its hardware is unknown); None unread."""
    from glmbench.backends.registry import backends

    try:
        manifest = load_manifest(run_dir)
    except GlmbenchError:
        return None
    backend = backends().get(manifest.backend.name)
    if backend is not None and not backend.uses_gpus:
        return "simulator"
    if not manifest.backend.command:
        return "endpoint"
    return "gpu" if manifest.gpu else "cpu"


def _load_pace(run_dir: Path) -> dict[str, Any]:
    """A load point's load, from its config: ``in_flight`` (its concurrency cap) and ``rate`` (req/s), each None
    when the workload has none (all at once).

    A point named by its load (``c8``) ran the suite's workload that sends everything at once, with the ladder's
    or the search's override applied to every workload of the suite: a value all the suite's workloads share is
    that override, one they do not share is that workload's own, none.
    """
    from glmbench.util.config_file import read_yaml

    try:
        config = read_yaml(run_dir / "config.yaml") or {}
        [name] = config.get("workloads") or []
        workloads = config["suite"]["workloads"]
        if name in workloads:
            workload = workloads[name]
        else:
            shared = [{w.get(k) for w in workloads.values()} for k in ("max_concurrency", "request_rate")]
            workload = {k: next(iter(v)) if len(v) == 1 else None
                        for k, v in zip(("max_concurrency", "request_rate"), shared)}
    except (GlmbenchError, AttributeError, KeyError, TypeError, ValueError):
        return {}
    cap, rate = workload.get("max_concurrency"), workload.get("request_rate")
    return {"in_flight": cap if isinstance(cap, int) else None,
            "rate": float(rate) if isinstance(rate, (int, float)) else None}


def _ladder(point: dict[str, Any], workloads: list[str]) -> str | None:
    """The series a load point belongs to, joined in load order on plots: ``concurrency`` or ``rate`` for the
    file's ladders, the search's name for a search's points; None for a suite, or a workload of its own."""
    if point["kind"] in _SUITES or point["point"] in workloads:
        return None
    if point["kind"] != "load":
        return point["kind"]
    cap, rate = point.get("in_flight"), point.get("rate")
    return "concurrency" if cap is not None and rate is None else "rate" if rate is not None and cap is None else None


def _point_row(folder: Path, cell: CellEntry, point: PointEntry) -> dict[str, Any]:
    row: dict[str, Any] = {"cell": cell.label, "point": point.label, "kind": point.kind,
                           "status": point.status, "seconds": point.seconds,
                           "reason": point.reason or (cell.reason if point.status == "not run" else None)}
    run_dir = _run_dir(folder, cell, point)
    if run_dir is None:
        return row
    try:
        summary = load_any_summary(run_dir)
    except GlmbenchError:
        return row
    if summary.kind == "load" and summary.rows:
        last = summary.rows[-1]  # a point runs one workload
        row.update({k: last.get(k) for k in _POINT_KEYS})
        # A repeated point's 95% intervals ({key}_ci), for the plots' error bars, and how many repeats.
        row.update({k + CI_SUFFIX: last[k + CI_SUFFIX] for k in _POINT_KEYS if k + CI_SUFFIX in last})
        if last.get(REPEATS):
            row[REPEATS] = last[REPEATS]
        row.update(_load_pace(run_dir))
        row["hardware"] = _hardware(run_dir)
        row["gpus"] = _gpus(run_dir)
        if row.get("output_tok_s") is not None:
            row["output_tok_s_per_gpu"] = row["output_tok_s"] / row["gpus"]
        if row.get("tpot_ms_mean"):
            row["tok_s_per_user"] = 1000.0 / row["tpot_ms_mean"]
    elif summary.kind == "bfcl":
        table = summary.tables.get(summary.primary, [])
        overall = next((r for r in table if r["category"] == "OVERALL"), None) or {}
        row["bfcl_overall"] = overall.get("accuracy")
        row["bfcl_low"], row["bfcl_high"] = overall.get("accuracy_low"), overall.get("accuracy_high")
        row["bfcl_rules"] = summary.primary
        row["bfcl_categories"] = {r["category"]: r["accuracy"] for r in table if r.get("accuracy") is not None}
        if summary.load:  # asked as traffic: the requests' figures at this point's load
            row.update({k: summary.load[0].get(k) for k in (*_POINT_KEYS, *_TRAFFIC_KEYS)})
            row["schedule"] = summary.schedule
            row.update(_bfcl_pace(run_dir))
    elif summary.kind == "equivalence":
        row["prompts"] = sum(summary.prompts.values())
        row["batch_invariance"] = summary.batch_invariance  # alone against loaded, this server's own
    return row


def _references(folder: Path) -> dict[str, str]:
    """Each equivalence point's reference server as the experiment file names it (point label -> cell label)."""
    out: dict[str, str] = {}
    for entry in _experiment_file(folder).get("suites") or []:
        # Only an equivalence entry may name a reference (the file was validated before it ran).
        if isinstance(entry, dict) and isinstance(entry.get("suite"), str) and isinstance(entry.get("reference"), str):
            out[suite_label(entry["suite"], "equivalence")] = entry["reference"]
    return out


def _outputs_of(folder: Path, cell: CellEntry, point: PointEntry) -> tuple[Path, EquivalenceSummary] | None:
    """A finished equivalence point's folder and summary (None when it did not finish or cannot be read)."""
    run_dir = _run_dir(folder, cell, point) if point.done else None
    if run_dir is None:
        return None
    try:
        summary = load_any_summary(run_dir)
    except GlmbenchError:
        return None
    return (run_dir, summary) if isinstance(summary, EquivalenceSummary) else None


def _against(folder: Path, cell: CellEntry, point: PointEntry, reference: CellEntry | None) -> dict[str, Any]:
    """A cell's equivalence point against the reference cell's: each pass's figures with its gate, and whether
    every gate held (None: not compared, or this is the reference)."""
    from glmbench.equivalence.diff import diff_outputs, gates
    from glmbench.equivalence.run import OUTPUTS, read_outputs

    out: dict[str, Any] = {"reference": reference.label if reference else None, "role": "compared", "passes": [],
                           "held": None, "why": None}
    if reference is None:
        return {**out, "role": "not compared", "why": "the reference server is not in the experiment"}
    if reference.label == cell.label:
        return {**out, "role": "reference"}
    mine, theirs = _outputs_of(folder, cell, point), None
    ref_point = reference.point(point.label)
    if ref_point is not None:
        theirs = _outputs_of(folder, reference, ref_point)
    if mine is None or theirs is None:
        whose = "this server's" if mine is None else f"the reference {reference.label}'s"
        return {**out, "role": "not compared", "why": f"{whose} {point.label} point did not finish"}
    (cand_dir, cand), (ref_dir, ref) = mine, theirs
    if (ref.api, ref.max_tokens) != (cand.api, cand.max_tokens):
        return {**out, "role": "not compared", "why": "the two servers were asked differently"}
    diff = diff_outputs(read_outputs(ref_dir / OUTPUTS), read_outputs(cand_dir / OUTPUTS), reference.label,
                        cell.label)
    # The gates are the suite's, as the candidate ran it (glmbench equivalence diff reads them the same way).
    held = {g.pass_name: g for g in gates(diff, cand.require_alone, cand.require_loaded)}
    for found in diff.passes:
        gate = held.get(found.name)
        figures = found.summary()
        figures.update(required=gate.required if gate else None, held=gate.held if gate else None,
                       differ=[d.prompt for d in found.prompts if not d.match])
        out["passes"].append(figures)
    gated = [p["held"] for p in out["passes"] if p["held"] is not None]
    out["held"] = all(gated) if gated else None
    return out


def _compare_outputs(report: ExperimentReport, index: ExperimentIndex, folder: Path) -> None:
    """Every equivalence point's outputs against its reference server's, into its row (``outputs``, and
    ``match_alone``, ``match_loaded`` and ``gate`` for the tables)."""
    cells = {c.label: c for c in index.cells}
    references = _references(folder)
    rows = {(p["cell"], p["point"]): p for p in report.points}
    for cell in index.cells:
        for point in cell.points:
            if point.kind != "equivalence":
                continue
            name = references.get(point.label, index.cells[0].label)
            found = _against(folder, cell, point, cells.get(name))
            row = rows[cell.label, point.label]
            row["outputs"] = found
            passes = {p["pass"]: p for p in found["passes"]}
            row["match_alone"] = passes.get("alone", {}).get("match_rate")
            row["match_loaded"] = passes.get("loaded", {}).get("match_rate")
            row["gate"] = ("reference" if found["role"] == "reference" else "not compared" if found["held"] is None
                           and not found["passes"] else "held" if found["held"] is not False else "FAILED")


def outputs_changed(point: dict[str, Any]) -> list[str]:
    """Each failed gate of an equivalence point, in words (``alone: 71.4% of prompts match base's, 100% required;
    differ: sharegpt-1, bfcl-simple_3``)."""
    found = point.get("outputs") or {}
    out = []
    for p in found.get("passes") or []:
        if p["held"] is False:
            rate = "no prompt compared" if p["match_rate"] is None else f"{100 * p['match_rate']:.1f}% of prompts match"
            differ = ", ".join(p["differ"][:6]) + (f" and {len(p['differ']) - 6} more" if len(p["differ"]) > 6 else "")
            out.append(f"{p['pass']}: {rate} {found['reference']}'s, {100 * p['required']:g}% required"
                       + (f"; differ: {differ}" if differ else ""))
    return out


def _bfcl_pace(run_dir: Path) -> dict[str, Any]:
    """How a BFCL point was paced, from its config: ``in_flight`` (its cap) or ``rate`` (entries/s), for curves."""
    from glmbench.util.config_file import read_yaml

    try:
        suite = (read_yaml(run_dir / "config.yaml") or {}).get("bfcl_suite") or {}
    except (GlmbenchError, AttributeError):
        return {}
    if isinstance(suite.get("request_rate"), (int, float)):
        return {"rate": float(suite["request_rate"])}
    if isinstance(suite.get("concurrency"), int):
        return {"in_flight": suite["concurrency"]}
    return {}


def _below_floor(point: dict[str, Any], floor: dict[str, float]) -> list[str]:
    """Each accuracy of a BFCL point under the experiment's floor, in words ("OVERALL 45.0% < 60%")."""
    accuracies = point.get("bfcl_categories") or {}
    return [f"{category} {accuracies[category]:.1f}% < {least:g}%" for category, least in floor.items()
            if accuracies.get(category) is not None and accuracies[category] < least]


def not_ranked(point: dict[str, Any]) -> str | None:
    """Why a load point may not take part in the Pareto frontier (None: it may)."""
    if point.get("output_tok_s_per_gpu") is None:
        return "no throughput"
    if point.get("below_floor"):
        return f"its server's BFCL accuracy is under the floor ({'; '.join(point['below_floor'])})"
    if client_overloaded(point):
        return f"the client read late: {in_words([f for f in flagged(point) if f in LATENCIES])} off by its own delay"
    if load_not_held(point):
        # (Late sends alone move only the figures from schedule, which are not ranked on.)
        warning = point.get("client_warning") or ""
        why = "concurrency cap not held" if not warning.startswith(LATE_SENDS) else "requests left late"
        return f"{why}: its figures are for the load that arrived"
    tpot = point.get("tpot_ms_mean")
    if not tpot or tpot < MIN_TPOT_MS:
        shown = f"{tpot:.2g}" if isinstance(tpot, (int, float)) and not isinstance(tpot, bool) else "-"
        return (f"mean TPOT {shown} ms: the tokens arrived together, "
                f"1000 / TPOT is no decode speed")
    return None


def frontier(points: list[dict[str, Any]]) -> list[int]:
    """Indices of the points no other point beats on both tok/s per GPU and tok/s per user (ties kept).

    Points :func:`not_ranked` rules out are neither on it nor decide it.
    """
    usable = [(i, p["tok_s_per_user"], p["output_tok_s_per_gpu"]) for i, p in enumerate(points)
              if p.get("tok_s_per_user") is not None and not_ranked(p) is None]
    on = []
    for i, x, y in usable:
        if not any(x2 >= x and y2 >= y and (x2 > x or y2 > y) for j, x2, y2 in usable if j != i):
            on.append(i)
    return on


def metric_of(key: str) -> Metric:
    """The registered metric of a summary-row key (``ttft_ms_p99``), or BFCL's accuracy."""
    if key == ACCURACY.tag:
        return ACCURACY
    found = lookup(key)
    if found is None:
        raise KeyError(f"{key!r} is no registered metric key")
    return found[0]


def _best(rows: list[dict[str, Any]], key: str) -> tuple[Any, str | None]:
    """The best value of metric ``key`` over ``rows`` (its registered direction says which end) and its point."""
    found = [r for r in rows if r.get(key) is not None]
    if not found:
        return None, None
    best = (min if metric_of(key).better == "lower" else max)(found, key=lambda r: r[key])
    return best[key], best["point"]


def experiment_report(folder: Path) -> ExperimentReport:
    """Read an experiment folder (a user error if it is none)."""
    folder = Path(folder)
    index = read_index(folder)
    report = ExperimentReport(index.name, folder, index.status, objective=_objective(folder))
    for cell in index.cells:
        report.points += [_point_row(folder, cell, p) for p in cell.points]
    report.floor = _floor(folder)
    report.slo = _latency_slo(folder)
    workloads = _own_workloads(folder)
    for p in report.points:
        p["ladder"] = _ladder(p, workloads)
    if report.floor:
        # A server is only as fast as it is right: below the floor at any BFCL point, none of its points ranks.
        below: dict[str, list[str]] = {}
        for p in report.points:
            if p["kind"] == "bfcl" and (reasons := _below_floor(p, report.floor)):
                p["below_floor"] = reasons
                p["pareto"] = "below floor"
                below.setdefault(p["cell"], []).extend(f"{p['point']}: {r}" for r in reasons)
        for p in report.points:
            if p["kind"] not in _SUITES and p["cell"] in below:
                p["below_floor"] = below[p["cell"]]
    _compare_outputs(report, index, folder)
    load_points = [p for p in report.points if p["kind"] not in _SUITES and p.get("output_tok_s") is not None]
    on_frontier = {id(load_points[i]) for i in frontier(load_points)}
    for p in load_points:
        p["not_ranked"] = not_ranked(p)
        p["on_frontier"] = None if p["not_ranked"] else id(p) in on_frontier
        p["pareto"] = "not ranked" if p["not_ranked"] else "frontier" if p["on_frontier"] else "dominated"
    for cell in index.cells:
        mine = [p for p in report.points if p["cell"] == cell.label]
        loads = [p for p in mine if p["kind"] not in _SUITES]
        best_tok, best_tok_at = _best(loads, "output_tok_s")
        best_ttft, best_ttft_at = _best(loads, "ttft_ms_p99")
        goodput, goodput_at = _best(loads, "goodput_request_s")
        bfcl = next((p.get("bfcl_overall") for p in mine if p["kind"] == "bfcl"), None)
        under = [r for p in mine if p["kind"] == "bfcl" for r in p.get("below_floor") or []]
        ranked = [p for p in loads if p.get("on_frontier") is not None]
        placed = [p for p in loads if p.get("output_tok_s") is not None]
        report.servers.append({
            "server": cell.label, "status": cell.status, "reason": cell.reason,
            **{k: v for search in registered() for k, v in search.summary(cell).items()},
            "best_output_tok_s": best_tok, "best_output_at": best_tok_at,
            "best_ttft_ms_p99": best_ttft, "best_ttft_at": best_ttft_at,
            "max_goodput_request_s": goodput, "max_goodput_at": goodput_at, "bfcl_overall": bfcl,
            "below_floor": under or None,
            # None when no point of the server could be placed: it is neither on the frontier nor dominated.
            "dominated": not any(p["on_frontier"] for p in ranked) if ranked else None,
            "pareto": ("on the frontier" if any(p["on_frontier"] for p in ranked) else "dominated") if ranked
            else "below the accuracy floor" if under else "not ranked" if placed else None,
        })
        gates = [p["gate"] for p in mine if p["kind"] == "equivalence"]
        if gates:  # its outputs against the reference's: the worst of its equivalence points
            report.servers[-1]["outputs"] = next(g for g in ("FAILED", "not compared", "held", "reference")
                                                 if g in gates)
    _mark_best(report)
    return report


# Objective -> (server row key, the metric it holds: its registered direction says which end is best; None:
# higher is best). A search kind adds its own (the capacity search: the most load held under the SLOs).
_OBJECTIVES: dict[str, tuple[str, str | None]] = {
    "goodput": ("max_goodput_request_s", "goodput_request_s"),
    "throughput": ("best_output_tok_s", "output_tok_s"), "ttft": ("best_ttft_ms_p99", "ttft_ms_p99"),
    "bfcl": ("bfcl_overall", ACCURACY.tag)}


def _objectives() -> dict[str, tuple[str, str | None]]:
    return {**_OBJECTIVES, **{k: v for search in registered() for k, v in search.objectives.items()}}


def _floor(folder: Path) -> dict[str, float]:
    """The experiment's BFCL accuracy floor (%), by category (``OVERALL`` for ``slo.accuracy``); empty without one."""
    data = _experiment_file(folder)
    slo = data.get("slo") if isinstance(data.get("slo"), dict) else {}
    out: dict[str, float] = {}
    for key, value in (slo or {}).items():
        if isinstance(key, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
            if key == "accuracy":
                out["OVERALL"] = float(value)
            elif key.startswith("accuracy."):
                out[key.split(".", 1)[1]] = float(value)
    return out


def _experiment_file(folder: Path) -> dict[str, Any]:
    """The experiment file kept in the folder, as data (empty when it cannot be read)."""
    import yaml

    from glmbench.util.yamlsafe import load_yaml

    path = folder / "experiment.yaml"
    try:
        data = load_yaml(path.read_text(), str(path)) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, GlmbenchError):
        return {}
    return data if isinstance(data, dict) else {}


def _latency_slo(folder: Path) -> dict[str, float]:
    """The experiment file's latency SLOs (ms): ``ttft``, ``tpot``, ``e2e`` (empty without)."""
    slo = _experiment_file(folder).get("slo")
    return {k: float(v) for k, v in (slo if isinstance(slo, dict) else {}).items()
            if k in ("ttft", "tpot", "e2e") and isinstance(v, (int, float)) and not isinstance(v, bool)}


def _own_workloads(folder: Path) -> list[str]:
    """The suite workloads the experiment file runs as they are (``load.workloads``): points of their own."""
    load = _experiment_file(folder).get("load")
    names = load.get("workloads") if isinstance(load, dict) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _objective(folder: Path) -> str:
    """The experiment file's objective (goodput when it names none, or for folders written before it existed)."""
    objective = _experiment_file(folder).get("objective")
    return objective if isinstance(objective, str) else "goodput"


def _mark_best(report: ExperimentReport) -> None:
    key, measure = _objectives().get(report.objective, _OBJECTIVES["goodput"])
    higher = measure is None or metric_of(measure).better == "higher"
    # A server below the BFCL accuracy floor is no candidate, however fast.
    scored = [r for r in report.servers if r.get(key) is not None and not r.get("below_floor")]
    best = (max if higher else min)(scored, key=lambda r: r[key]) if scored else None
    for row in report.servers:
        row["best"] = row is best
