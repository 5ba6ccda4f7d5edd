"""What a report shows, worked out once from stored folders and handed to every output format.

A report is one of five kinds, each holding its figures, rows and notes (read
or computed on first use, so a format pays only for what it shows):

- :class:`LoadRunReport`: one load run, in the published speed shape;
- :class:`BFCLRunReport`: one BFCL run, one table per rule set;
- :class:`EquivalenceRunReport`: one equivalence run, its passes and its own batch invariance;
- :class:`RunsReport`: several runs side by side, differences against the first;
- :class:`ExperimentView`: an experiment folder, per server and per point.

:func:`open_report` picks the kind for the folders given. The formats
(:mod:`glmbench.report.formats`) only draw what these hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError
from glmbench.experiment.analysis import ExperimentReport
from glmbench.metrics.repeats import REPEATS
from glmbench.report import bfcl_run, equivalence_run, load_run
from glmbench.report import experiment as experiment_tables
from glmbench.report.runs import ReportRun, Result, one_result, open_results, open_runs
from glmbench.report.tables import ReportTables, build_tables
from glmbench.results.schema import BFCLSummary, EquivalenceSummary, LoadSummary

__all__ = ["LoadRunReport", "BFCLRunReport", "EquivalenceRunReport", "RunsReport", "ExperimentView", "Report",
           "open_report"]


@dataclass(eq=False)
class RunsReport:
    """Runs side by side (one or several): the first is the baseline; see :class:`ReportTables`."""

    paths: list[Path]

    @cached_property
    def runs(self) -> list[ReportRun]:
        """The runs opened, each with a short unique label."""
        return open_runs(self.paths)

    @cached_property
    def tables(self) -> ReportTables:
        """Figures, differences against the baseline, display cells and notes."""
        return build_tables(self.runs)

    @property
    def title(self) -> str:
        """``glmbench report: `` and the runs' labels."""
        return "glmbench report: " + ", ".join(r.label for r in self.runs)


@dataclass(eq=False)
class LoadRunReport:
    """One load run: a row per workload, the latency detail and the notes a reader must see beside them.

    ``folder`` is where it was read from (None for a summary shown straight after a run).
    """

    title: str
    summary: LoadSummary
    folder: Path | None = None
    sources: list[Path] = field(default_factory=list)
    """The folders given for it (a repeated run's ``repeat-i`` folders, or its own); empty: ``folder``."""

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One summary row per workload, as stored (a repeated run's: each metric's mean and 95% interval)."""
        return self.summary.rows

    @cached_property
    def notes(self) -> list[str]:
        """Warnings beside the numbers (saturated client, failures, approximate token counts...)."""
        return load_run.notes(self.rows, _dataset(self.folder))

    @cached_property
    def detail_rows(self) -> list[tuple[str, str, list[str]]]:
        """(workload, metric, [mean, p50, p90, p99] in ms) for every distribution with values."""
        return load_run.detail_rows(self.rows)

    @cached_property
    def as_runs(self) -> RunsReport:
        """The same run as a side-by-side report of one (how HTML and plots show it)."""
        return RunsReport(list(self.sources)) if self.sources else _runs_of(self.folder)


def _dataset(folder: Path | None) -> str | None:
    """The dataset a stored run's manifest names (None without one): notes of rows written before rows named it."""
    from glmbench.results.store import load_manifest

    if folder is None or not (folder / "manifest.json").is_file():
        return None
    try:
        return load_manifest(folder).dataset.get("name")
    except GlmbenchError:
        return None


@dataclass(eq=False)
class BFCLRunReport:
    """One BFCL run: a table per rule set, the primary first, and whether it was interrupted; a run asked as
    traffic also its requests' latency table (:attr:`load_rows`) and its notes."""

    title: str
    summary: BFCLSummary
    folder: Path | None = None

    @cached_property
    def rule_order(self) -> list[str]:
        """The rule sets in the order shown."""
        return bfcl_run.rule_order(self.summary)

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """Every rule set's rows, each naming its ``rules``."""
        return bfcl_run.bfcl_rows(self.summary)

    @property
    def load_rows(self) -> list[dict[str, Any]]:
        """The requests' load summary rows (``all`` first) of a run asked as traffic; none for an unstreamed
        run or one written before."""
        return self.summary.load

    @cached_property
    def latency_columns(self) -> tuple[load_run.Column, ...]:
        """The latency table's columns (the acceptance rate only where the server gave one)."""
        return bfcl_run.latency_columns(self.load_rows)

    @cached_property
    def latency_notes(self) -> list[str]:
        """Warnings beside the latency table (a cap not held, a saturated client, failures...)."""
        return bfcl_run.latency_notes(self.summary)

    @cached_property
    def as_runs(self) -> RunsReport:
        """The same run as a side-by-side report of one (how HTML and plots show it)."""
        return _runs_of(self.folder)


@dataclass(eq=False)
class EquivalenceRunReport:
    """One equivalence run: its passes, its own batch invariance (outputs alone against under load), the prompts
    whose outputs differ between the two, and the notes. Comparing it with a reference run is ``glmbench compare``."""

    title: str
    summary: EquivalenceSummary
    folder: Path | None = None

    @cached_property
    def passes(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the passes table: requests, failures, median in flight."""
        return list(equivalence_run.PASS_HEADERS), equivalence_run.pass_rows(self.summary)

    @cached_property
    def invariance(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the batch invariance table (no row without a pass under load)."""
        return ["comparison", *equivalence_run.FIGURE_HEADERS], equivalence_run.invariance_rows(self.summary)

    @cached_property
    def differences(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the prompts whose outputs differ alone and under load."""
        return list(equivalence_run.DIFFERENCE_HEADERS), equivalence_run.difference_rows(self.summary.differences)

    @cached_property
    def notes(self) -> list[str]:
        """Failures, no logprobs, outputs that change under load, and how to compare the run."""
        return equivalence_run.notes(self.summary)


@dataclass(eq=False)
class ExperimentView:
    """An experiment folder: the per-server and per-point tables, the best server and the notes."""

    folder: Path

    @cached_property
    def report(self) -> ExperimentReport:
        """The analysis: points, frontier, best server (:mod:`glmbench.experiment.analysis`)."""
        return experiment_tables.experiment_report(self.folder)

    @cached_property
    def servers(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the per-server table."""
        return experiment_tables.server_table(self.report)

    @cached_property
    def points(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the per-point table."""
        return experiment_tables.point_table(self.report)

    @cached_property
    def outputs(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the equivalence table: each server's outputs against the reference's, pass by pass,
        and its own batch invariance (no rows without an equivalence point)."""
        return experiment_tables.outputs_table(self.report)

    @cached_property
    def notes(self) -> list[str]:
        """Saturated clients, points left off the frontier, and outputs that changed."""
        return experiment_tables.notes(self.report)

    @cached_property
    def best_server(self) -> str:
        """The best server by the experiment's objective, or ``none``."""
        return experiment_tables.best_server(self.report)


Report = LoadRunReport | BFCLRunReport | EquivalenceRunReport | RunsReport | ExperimentView
"""Any kind of report a format can draw."""


def _runs_of(folder: Path | None) -> RunsReport:
    if folder is None:
        raise GlmbenchError("this report was not read from a result folder",
                            "pass the run's folder to glmbench report")
    return RunsReport([folder])


def open_report(paths: Sequence[Path]) -> Report:
    """The report for ``paths``: one experiment folder, one run (load, BFCL or equivalence), or several runs side
    by side."""
    from glmbench.experiment.index import is_experiment

    for path in paths:
        if not path.is_dir():
            raise GlmbenchError(f"no result folder at {path}",
                                "pass a folder under results/ written by 'glmbench run'")
    if len(paths) == 1 and is_experiment(paths[0]):
        return ExperimentView(paths[0])
    if any(is_experiment(p) for p in paths):
        return RunsReport(list(paths))  # several folders, an experiment among them: the runs say what is wrong
    # A repeated run is one result, given as its folder or as several of its repeat-i folders.
    if len(paths) > 1 and not one_result(paths):
        return RunsReport(list(paths))
    results = open_results(paths)
    if len(results) == 1:
        one = results[0]
        if isinstance(one.summary, BFCLSummary):
            return BFCLRunReport(one.path.name, one.summary, one.path)
        if isinstance(one.summary, EquivalenceSummary):
            return EquivalenceRunReport(one.path.name, one.summary, one.path)
        return LoadRunReport(_load_title(one), one.summary, one.path, list(paths))
    return RunsReport(list(paths))


def _load_title(result: Result) -> str:
    """A load run's title: its folder's name, and for a repeated run what its figures are."""
    rows = result.summary.rows if isinstance(result.summary, LoadSummary) else []
    counts = {row.get(REPEATS) for row in rows}
    repeats = max((c for c in counts if isinstance(c, int)), default=1)
    return f"{result.path.name}: mean of {repeats} repeats, ± 95% CI" if repeats > 1 else result.path.name
