"""A new search kind: the same load at each of a list of prompt lengths (``len128``, ``len1024``, ...).

One module in ``glmbench/experiment/searches/`` with a ``SEARCH`` that follows
the ``Search`` protocol (``glmbench/experiment/searches/base.py``); the folder's
registry finds it by its file. An experiment file asks for it with
``load.lengths``, a field of ``LoadSpec`` in ``glmbench/experiment/file.py``
(``lengths: list[int] = Field(default_factory=list)``, and the name added to
that model's check that ``load`` asks for something).

Every point is known before anything starts, so the search only plans: as a
``PlannedSearch`` it decides nothing as it runs, records no outcome and has no
dry-run account of its own (its points are listed with the planned ones). Each
point is the suite's all-at-once workload on random prompts of that many
tokens, with the rest of ``load.options`` (``output_len``, ``num_prompts``) as
the file sets them, so a report can set TTFT against prompt length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from glmbench.experiment.searches.base import PlannedSearch

if TYPE_CHECKING:
    from glmbench.experiment.file import Experiment, Point

__all__ = ["SEARCH", "Lengths"]


class Lengths(PlannedSearch):
    """One load point per prompt length of ``load.lengths``, all planned."""

    name: ClassVar[str] = "lengths"
    order: ClassVar[int] = 5  # after the ladder (0), before the sweep (10) and the capacity search

    def applies(self, experiment: Experiment) -> bool:
        return experiment.load is not None and bool(experiment.load.lengths)

    def plan(self, experiment: Experiment) -> list[Point]:
        from glmbench.experiment.file import Point, burst_workload, folder_name

        load = experiment.load
        if load is None or not load.lengths:
            return []
        base = {**experiment.common_options(), "workload": burst_workload(load.suite), "dataset": "random"}
        out = []
        for i, tokens in enumerate(load.lengths):
            label = folder_name(f"len{tokens}", f"load.lengths.{i}")
            out.append(Point(label, "load", experiment.options({**base, "input_len": tokens})))
        return out


SEARCH = Lengths()
