"""The plot files (``glmbench report --plots DIR``): every figure the report's data allow, as PNG and SVG.

The figures are drawn once per report and shared with the HTML page, which
shows the same ones inline (:func:`figures`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from glmbench.report.formats.base import Format, Output

if TYPE_CHECKING:
    from glmbench.report.figures import Plot
    from glmbench.report.model import EquivalenceRunReport, ExperimentView, RunsReport

__all__ = ["PlotFiles", "FORMAT", "figures"]

_drawn: WeakKeyDictionary[RunsReport | ExperimentView, list[Plot]] = WeakKeyDictionary()


def figures(report: RunsReport | ExperimentView) -> list[Plot]:
    """The report's figures, drawn on first use (matplotlib is slow; HTML and the plot files share them)."""
    from glmbench.report.experiment_figures import experiment_plots
    from glmbench.report.figures import make_plots
    from glmbench.report.model import ExperimentView

    if report not in _drawn:
        _drawn[report] = experiment_plots(report.report) if isinstance(report, ExperimentView) \
            else make_plots(report.runs)
    return _drawn[report]


def _files(plots: list[Plot]) -> Output:
    from glmbench.report.figures import FILE_TYPES, figure_bytes

    return Output(files={f"{plot.name}.{kind}": figure_bytes(plot, kind) for plot in plots for kind in FILE_TYPES})


class PlotFiles(Format):
    """Files named after each plot (``ttft_cdf.png``, ``pareto.svg``...); not printed, so not a --format."""

    name = "plots"
    help = "every plot as PNG and SVG files"
    printed = False

    def runs(self, report: RunsReport) -> Output:
        """Latency CDFs, throughput against latency, spec acceptance, BFCL accuracy and each run's timeline."""
        return _files(figures(report))

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """No figures: an equivalence run's figures are its tables."""
        return Output(files={})

    def experiment(self, report: ExperimentView) -> Output:
        """The Pareto frontier, throughput against TTFT p99 per server, BFCL against load, and the outputs'
        match rates against the reference."""
        return _files(figures(report))


FORMAT = PlotFiles()
