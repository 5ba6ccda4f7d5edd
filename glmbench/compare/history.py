"""A metric across many result folders, in the order the runs started (the nightly trend).

Each result is one point of the trend: a repeated run (``--repeat N``) is its
repeats' mean with their 95% interval, not N points. A trend is one
configuration at one load point: an experiment's points are named by the
experiment's own labels (server ``vllm-mtp``, point ``c8``), so ``--workload
burst`` finds the runs of the workload ``burst`` and the experiments' ``burst``
points, never their ``c8`` or ``r20`` points that happen to run on the suite's
burst workload. The plot is :mod:`glmbench.compare.history_plot`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from glmbench.compare.asked import Asked, asked, differences
from glmbench.compare.sides import find_result_folders, is_result
from glmbench.errors import GlmbenchError, did_you_mean
from glmbench.results.schema import BFCLSummary, EquivalenceSummary, LoadSummary, Manifest
from glmbench.util.yamlsafe import load_yaml

__all__ = ["HistoryPoint", "history"]


@dataclass(frozen=True)
class HistoryPoint:
    """One result's value of the metric, with when it started, what served it and at which load point.

    ``config`` is the server configuration (an experiment's server label, a run's ``--label`` or its config
    name); ``point`` the load point (an experiment's point label, else the workload as its table titles it).
    A repeated run's ``value`` is the mean of its ``repeats`` and ``ci`` its 95% interval ``[low, high]``.
    """

    run_id: str
    started_at: str
    backend: str
    config: str
    point: str
    value: float
    repeats: int = 1
    ci: tuple[float, float] | None = None
    differs: str | None = None
    """How this run's workload differs from its series' first run (``num_prompts 30, first run 200``): its value is
    not like for like with the trend's start; None when it asked the same."""

    def shown(self) -> str:
        """The value as a table shows it: ``21.06``, or for a repeated run ``21.06 ±0.58`` (half its interval)."""
        half = f" ±{(self.ci[1] - self.ci[0]) / 2:,.2f}" if self.ci and self.ci[1] > self.ci[0] else ""
        return f"{self.value:,.2f}{half}"

    @property
    def series(self) -> tuple[str, str]:
        """What one trend line follows: a configuration at a load point."""
        return self.config, self.point


def _config_label(folder: Path, backend: str) -> str:
    """The config name the run was started with (``backend`` in config.yaml), else the backend name."""
    path = folder / "config.yaml"
    if path.is_file():
        try:
            data = load_yaml(path.read_text(), str(path)) or {}
        except (yaml.YAMLError, GlmbenchError):
            data = {}
        label = data.get("backend") if isinstance(data, dict) else None
        if isinstance(label, str):
            return label
    return backend


_Summary = LoadSummary | BFCLSummary | EquivalenceSummary


def _results(root: Path) -> Iterator[tuple[Path, Manifest, _Summary]]:
    """Every result under ``root`` once: a repeated run as its own folder (its combined summary), or, written
    before runs kept one, its repeats combined here."""
    from glmbench.metrics.repeats import combine_summaries
    from glmbench.results.store import load_any_summary, load_manifest, load_summary, repeat_folders

    done: set[Path] = set()
    for folder in find_result_folders(root):
        manifest = load_manifest(folder)
        if manifest.repeat is None:
            yield folder, manifest, load_any_summary(folder)
            continue
        run = folder.parent
        if run in done or is_result(run):
            continue  # the run's own folder stands for its repeats
        done.add(run)
        repeats = [r for r in repeat_folders(run) if is_result(r)]
        yield run, manifest, combine_summaries([load_summary(r) for r in repeats], run.name)


class _Experiments:
    """The experiment a result folder is a point of, read once per experiment: (server label, point label)."""

    def __init__(self) -> None:
        self._points: dict[Path, dict[tuple[str, str], tuple[str, str]]] = {}

    def point_of(self, folder: Path) -> tuple[str, str] | None:
        from glmbench.experiment.index import is_experiment, read_index

        top = folder.parent.parent
        if top not in self._points:
            self._points[top] = {}
            if is_experiment(top):
                try:
                    index = read_index(top)
                except GlmbenchError:
                    index = None
                for cell in index.cells if index else []:
                    for point in cell.points:
                        if point.folder:
                            self._points[top][cell.folder, point.folder] = (cell.label, point.label)
        return self._points[top].get((folder.parent.name, folder.name))


def _point(folder: Path, manifest: Manifest, summary: _Summary, workload: str,
           experiments: _Experiments) -> tuple[str, str, dict] | None:
    """(config, point, row) of the result for ``workload``, or None when it has no such row."""
    if isinstance(summary, EquivalenceSummary):
        return None  # outputs, not a metric over time: glmbench compare judges two of them
    found = experiments.point_of(folder)
    if isinstance(summary, BFCLSummary):
        row = next((r for r in summary.tables.get(summary.primary, []) if r.get("category") == workload), None)
        if row is None:
            return None
        config, point = found or (_config(folder, manifest), workload)
        return config, point, row
    if found is not None:
        # An experiment's load point runs one workload, named by the point (written before: by the suite's).
        config, point = found
        return (config, point, summary.rows[-1]) if point == workload and summary.rows else None
    row = next((r for r in summary.rows if r.get("workload") == workload), None)
    if row is None:
        return None
    return _config(folder, manifest), str(row.get("title") or workload), row


def _config(folder: Path, manifest: Manifest) -> str:
    return manifest.label or _config_label(folder, manifest.backend.name)


def _names(folder: Path, summary: _Summary, experiments: _Experiments) -> list[str]:
    """What ``--workload`` may name in this result: its workloads, its experiment point, or its BFCL categories."""
    if isinstance(summary, EquivalenceSummary):
        return []
    if isinstance(summary, BFCLSummary):
        return [str(r["category"]) for r in summary.tables.get(summary.primary, []) if r.get("category")]
    found = experiments.point_of(folder)
    if found is not None:
        return [found[1]]
    return [str(r["workload"]) for r in summary.rows if r.get("workload")]


def history(root: Path, metric: str, workload: str) -> tuple[list[HistoryPoint], int]:
    """Points in start-time order, and how many published reference folders were left out.

    ``workload`` is a workload or an experiment's point label (``c8``); for BFCL runs a category (OVERALL
    included), and ``metric`` is ``accuracy``.
    """
    from glmbench.metrics.repeats import REPEATS, interval

    root = Path(root)
    if not root.is_dir():
        raise GlmbenchError(f"no folder at {root}", "pass the folder your runs write to, e.g. results/")
    points, skipped = [], 0
    settings: dict[int, Asked] = {}
    experiments = _Experiments()
    names: dict[str, None] = {}
    for folder, manifest, summary in _results(root):
        if manifest.dataset.get("published"):
            skipped += 1
            continue
        names.update(dict.fromkeys(_names(folder, summary, experiments)))
        found = _point(folder, manifest, summary, workload, experiments)
        value = found[2].get(metric) if found else None
        if found is None or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        config, point, row = found
        made = HistoryPoint(str(folder.relative_to(root)) if folder != root else folder.name,
                            manifest.started_at, manifest.backend.name, config, point, float(value),
                            int(row.get(REPEATS) or 1), interval(row, metric))
        points.append(made)
        settings[id(made)] = asked(folder, manifest, row)
    if not points:
        from glmbench.compare.metrics import known_metrics

        known = known_metrics("bfcl")  # accuracy and every load metric
        if names and workload not in names:
            shown = ", ".join(list(names)[:12]) + (", ..." if len(names) > 12 else "")
            raise GlmbenchError(f"no run under {root} has the workload {workload!r}{did_you_mean(workload, names)}",
                                f"pass -w one of those found: {shown}")
        raise GlmbenchError(f"no run under {root} has {metric} for {workload}"
                            + ("" if metric in known else did_you_mean(metric, known)),
                            "check the metric (a summary key such as ttft_ms_p99) and the workload name "
                            "(or an experiment's point: c8, r20)")
    points.sort(key=lambda p: (p.started_at, p.run_id))
    return _marked(points, settings), skipped


def _marked(points: list[HistoryPoint], settings: dict[int, Asked]) -> list[HistoryPoint]:
    """``points`` (in time order), each whose workload differs from its series' first run's saying how."""
    first: dict[tuple[str, str], Asked] = {}
    out = []
    for p in points:
        mine = settings[id(p)]
        found = differences(first.setdefault(p.series, mine), mine)
        out.append(replace(p, differs="; ".join(f"{d.name} {d.candidate}, first run {d.baseline}" for d in found))
                   if found else p)
    return out
