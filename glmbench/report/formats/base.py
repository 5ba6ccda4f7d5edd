"""The interface every output format implements, and what a format hands back.

A format draws each kind of report (:mod:`glmbench.report.model`) and returns an
:class:`Output`; it never prints or writes. The command decides where an Output
goes: stdout, the ``--out`` file or the ``--plots`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the reports' modules pull in numpy and pydantic; the CLI's --help reads formats without them
    from glmbench.report.model import (
        BFCLRunReport,
        EquivalenceRunReport,
        ExperimentView,
        LoadRunReport,
        Report,
        RunsReport,
    )

__all__ = ["Output", "OutputFormat", "Format", "render", "text_output"]


@dataclass(frozen=True)
class Output:
    """What a format made of a report; one of ``text``, ``console`` and ``files`` is set.

    ``text`` is printed exactly as it is (it carries its own final newline) or
    written to one file; ``console`` holds rich renderables, printed one after
    another on a console ``width`` columns wide when stdout is not a terminal
    (None: rich's default); ``files`` maps file names to their bytes, written
    into one folder.
    """

    text: str | None = None
    console: tuple[Any, ...] | None = None
    width: int | None = None
    files: dict[str, bytes] | None = None


def text_output(text: str) -> Output:
    """``text`` as printed output, ending in one newline."""
    return Output(text=text if text.endswith("\n") else text + "\n")


class OutputFormat(Protocol):
    """One way to show a report, found by ``name`` (what ``glmbench report --format`` takes).

    ``help`` is its line in ``--help``; ``printed`` is False for a format that
    only makes files (the plots), which ``--format`` does not offer.
    """

    name: str
    help: str
    printed: bool

    def load_run(self, report: LoadRunReport) -> Output:
        """One load run."""
        ...

    def bfcl_run(self, report: BFCLRunReport) -> Output:
        """One BFCL run."""
        ...

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """One equivalence run."""
        ...

    def runs(self, report: RunsReport) -> Output:
        """Runs side by side."""
        ...

    def experiment(self, report: ExperimentView) -> Output:
        """An experiment folder."""
        ...


class Format:
    """A base for formats that show one run as a side-by-side report of that run (what HTML and the plots do);
    a format with a shape of its own for one run overrides :meth:`load_run` and :meth:`bfcl_run`."""

    name = ""
    help = ""
    printed = True

    def load_run(self, report: LoadRunReport) -> Output:
        """One load run, as the side-by-side report of that run."""
        return self.runs(report.as_runs)

    def bfcl_run(self, report: BFCLRunReport) -> Output:
        """One BFCL run, as the side-by-side report of that run."""
        return self.runs(report.as_runs)

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """One equivalence run: every format draws these (it has no side-by-side shape)."""
        raise NotImplementedError

    def runs(self, report: RunsReport) -> Output:
        """Runs side by side: every format draws these."""
        raise NotImplementedError

    def experiment(self, report: ExperimentView) -> Output:
        """An experiment folder: every format draws these."""
        raise NotImplementedError


def render(fmt: OutputFormat, report: Report) -> Output:
    """``report`` drawn by ``fmt``: the one place that picks the method for a kind of report."""
    from glmbench.report.model import BFCLRunReport, EquivalenceRunReport, LoadRunReport, RunsReport

    if isinstance(report, LoadRunReport):
        return fmt.load_run(report)
    if isinstance(report, BFCLRunReport):
        return fmt.bfcl_run(report)
    if isinstance(report, EquivalenceRunReport):
        return fmt.equivalence_run(report)
    if isinstance(report, RunsReport):
        return fmt.runs(report)
    return fmt.experiment(report)
