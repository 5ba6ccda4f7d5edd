"""Result folders opened for reporting: summary, manifest and a short unique label per run.

A run repeated with ``--repeat N`` is one result wherever it is given: its own
folder, or some of its ``repeat-i`` folders side by side (``report RUN/repeat-*``)
are the repeats' means and intervals (:mod:`glmbench.metrics.repeats`), their
records pooled; one ``repeat-i`` folder alone is that repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError
from glmbench.results.schema import BFCLSummary, EquivalenceSummary, LoadSummary, Manifest

__all__ = ["ReportRun", "Result", "one_result", "open_results", "open_runs", "require"]


def require(module: str) -> Any:
    """Import an optional reporting package, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GlmbenchError(f"reports need {module.split('.')[0]}, which is not installed",
                            "pip install pandas matplotlib") from None


@dataclass
class ReportRun:
    """One stored run as reports see it; records and server scrapes are read on first use."""

    label: str
    path: Path
    summary: LoadSummary | BFCLSummary
    manifest: Manifest | None
    repeats: list[Path] = field(default_factory=list)
    """The ``repeat-i`` folders a repeated run's figures combine (empty for one run): its records are theirs."""

    @property
    def kind(self) -> str:
        """``load`` or ``bfcl``, from the summary."""
        return self.summary.kind

    @property
    def rows(self) -> list[dict[str, Any]]:
        """A load run's summary rows (none for a BFCL run)."""
        return self.summary.rows if isinstance(self.summary, LoadSummary) else []

    @cached_property
    def records(self) -> list:
        """Per-request records (empty for folders without them, such as published reference tables)."""
        from glmbench.results.records import read_records

        paths = [folder / "records.jsonl" for folder in self.repeats or [self.path]]
        return [record for path in paths if path.is_file() for record in read_records(path)]

    @cached_property
    def server_metrics(self) -> list[dict[str, Any]]:
        """Server scrapes (``t_ns`` on the records' clock), oldest first; torn lines skipped."""
        import orjson

        out = []
        for path in [folder / "server_metrics.jsonl" for folder in self.repeats or [self.path]]:
            if not path.is_file():
                continue
            for line in path.read_bytes().splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and "t_ns" in entry:
                    out.append(entry)
        return sorted(out, key=lambda e: e["t_ns"])


@dataclass
class Result:
    """One result as given: a folder, or a repeated run (its own folder, or several of its ``repeat-i`` folders)."""

    path: Path
    summary: LoadSummary | BFCLSummary | EquivalenceSummary
    manifest: Manifest | None
    repeats: list[Path] = field(default_factory=list)
    """The ``repeat-i`` folders the result combines (empty for one run)."""


def _repeat_of(path: Path) -> Path | None:
    """The repeated run's folder when ``path`` is one of its ``repeat-i`` folders, else None."""
    from glmbench.results.store import load_manifest, repeat_folders

    parent = path.parent if path.parent.name else path.resolve().parent  # repeat-1 given from inside the run
    if path.resolve() not in {p.resolve() for p in repeat_folders(parent)}:
        return None
    if (path / "manifest.json").is_file() and load_manifest(path).repeat is None:
        return None  # a folder that happens to be named so, not a repeat
    return parent


def _combined(folder: Path, repeats: Sequence[Path]) -> Result:
    """The repeats of the run at ``folder`` as one result: their summaries combined, the run's manifest (or the
    first repeat's, for a run written before the run's own existed)."""
    from glmbench.metrics.repeats import combine_summaries
    from glmbench.results.store import load_manifest, load_summary

    ended = [r for r in repeats if (r / "summary.json").is_file()]
    if not ended:
        raise GlmbenchError(f"no repeat of {folder} has a summary.json", "run it again; no repeat ended")
    summary = combine_summaries([load_summary(r) for r in ended], folder.name)
    has = [f for f in (folder, ended[0]) if (f / "manifest.json").is_file()]
    return Result(folder, summary, load_manifest(has[0]) if has else None, list(ended))


def _one(path: Path) -> Result:
    """A folder as one result: a run, or a repeated run's own folder (its stored combined summary, or one made
    from its repeats when it has none)."""
    from glmbench.results.store import load_any_summary, load_manifest, repeat_folders

    repeats = [r for r in repeat_folders(path) if (r / "summary.json").is_file()]
    if repeats and not (path / "summary.json").is_file():
        return _combined(path, repeats)
    if not (path / "summary.json").is_file():
        _not_a_folder_of_runs(path)
    manifest = load_manifest(path) if (path / "manifest.json").is_file() else None
    return Result(path, load_any_summary(path), manifest, repeats)


# How many of the runs in a folder of runs the error names.
_NAMED = 3


def _not_a_folder_of_runs(path: Path) -> None:
    """Raise, naming its newest runs and experiments, when ``path`` is a folder that holds runs rather than one."""
    from glmbench.experiment.index import is_experiment

    held = [p for p in path.iterdir() if p.is_dir() and ((p / "summary.json").is_file() or is_experiment(p))]
    if not held:
        return
    held.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    shown = ", ".join(p.name for p in held[:_NAMED]) + (f" and {len(held) - _NAMED} more" if len(held) > _NAMED
                                                        else "")
    runs = [p for p in held if not is_experiment(p)]
    two = f"; two side by side: glmbench report {runs[1]} {runs[0]}" if len(runs) > 1 else ""
    raise GlmbenchError(f"{path} holds runs, it is not one: {len(held)} of them, newest first: {shown}",
                        f"pass one of them, e.g. glmbench report {held[0]}{two}")


def one_result(paths: Sequence[Path]) -> bool:
    """Whether ``paths`` are ``repeat-i`` folders of one run (read as that run, once)."""
    parents = {None if (p := _repeat_of(Path(path))) is None else p.resolve() for path in paths if Path(path).is_dir()}
    return len(parents) == 1 and None not in parents and all(Path(path).is_dir() for path in paths)


def open_results(paths: Sequence[Path]) -> list[Result]:
    """The results of ``paths`` in the order given: each folder one, except that ``repeat-i`` folders of one run
    given together are that run, once (their means; one alone is that repeat)."""
    # (the result's folder, the folders given for it, whether they are its repeats)
    groups: list[tuple[Path, list[Path], bool]] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise GlmbenchError(f"no result folder at {path}", "pass a folder under results/ written by 'glmbench run'")
        parent = _repeat_of(path)
        group = None if parent is None else next(
            (g for g in groups if g[2] and g[0].resolve() == parent.resolve()), None)
        if group is None:
            groups.append((parent or path, [path], parent is not None))
        else:
            group[1].append(path)
    return [_combined(folder, given) if len(given) > 1 else _one(given[0]) for folder, given, _ in groups]


def open_runs(paths: Sequence[Path]) -> list[ReportRun]:
    """The runs in the order given (:func:`open_results`), each labelled by its ``--label`` (an experiment's point)
    or else its folder name.

    Labels that repeat are made unique.
    """
    runs = []
    for found in open_results(paths):
        summary, path = found.summary, found.path
        if isinstance(summary, EquivalenceSummary):
            raise GlmbenchError(f"{path} is an equivalence run: its outputs are not shown beside other runs",
                                "report it alone (glmbench report RUN), or compare two with glmbench compare "
                                "REFERENCE CANDIDATE")
        label = (found.manifest.label if found.manifest is not None else None) or path.name
        runs.append(ReportRun(label=label, path=path, summary=summary, manifest=found.manifest,
                              repeats=found.repeats))
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
    for run in runs:
        if seen[run.label] > 1:
            run.label = f"{run.path.parent.name}/{run.path.name}"
    for i, run in enumerate(runs):
        if sum(r.label == run.label for r in runs) > 1:
            run.label = f"{run.label} #{i + 1}"
    return runs
