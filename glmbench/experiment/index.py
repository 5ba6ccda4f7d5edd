"""An experiment folder's index (``index.json``): every server configuration and point, their status and folders.

Typed on both sides: the runner builds and updates :class:`ExperimentIndex`
objects and writes them after every change; ``--resume``, ``report`` and
``compare`` read one back with its whole shape checked, so a damaged or
hand-edited index is one line naming the file and the bad field, never a
TypeError half-way through a report. Folder names in it are checked as names
(:func:`~glmbench.util.paths.check_name`): an index never points a reader or a
delete outside the experiment folder.

What is written is the fields that were set, in the order declared here: a cell
gains ``placement`` (on Ray) and each search's outcome (``sweep``, ``capacity``)
only once it has them, as the first index files did, so every index already on
disk reads back and is written back as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from glmbench.errors import GlmbenchError
from glmbench.experiment.searches.capacity import CapacityEntry
from glmbench.experiment.searches.sweep import SweepEntry
from glmbench.util.paths import is_safe_name
from glmbench.util.text import one_line

__all__ = ["DONE", "INDEX", "SCHEMA_VERSION", "CellEntry", "ExperimentIndex", "PointEntry", "is_experiment",
           "new_index", "read_index", "write_index"]

INDEX = "index.json"
SCHEMA_VERSION: Literal[1] = 1

# Statuses a point ends with that need no rerun on resume.
DONE = frozenset({"complete", "all-failed"})


def _folder_name(value: str) -> str:
    if not is_safe_name(value):
        raise ValueError(f"{value[:60]!r} cannot name a folder here")
    return value


FolderName = Annotated[str, AfterValidator(_folder_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointEntry(_Strict):
    """One point of a cell: a load point, a BFCL suite, or a point a search decided on (its kind is the search's)."""

    label: str
    kind: str = Field(description="load, bfcl, or the name of the search that ran it (sweep, capacity)")
    folder: FolderName | None = Field(description="its result folder under the cell's folder, once it ran")
    status: str
    reason: str | None
    started_at: str | None
    seconds: float | None

    @property
    def done(self) -> bool:
        """Whether it ended in a way that needs no rerun."""
        return self.status in DONE

    @classmethod
    def pending(cls, label: str, kind: str) -> PointEntry:
        """A point not run yet."""
        return cls(label=label, kind=kind, folder=None, status="pending", reason=None, started_at=None, seconds=None)


class CellEntry(_Strict):
    """One server configuration: its folder, how it was started, and its points.

    Every field but the last three has been written since the first index; ``placement`` only by a cell run on
    Ray, and each search's field (named as the search) only by a cell that ran that search.
    """

    label: str
    folder: FolderName
    backend: str | None
    config: str | None
    overrides: dict[str, Any]
    status: str
    reason: str | None
    command: list[str] | None
    server_log: str | None
    started_at: str | None
    finished_at: str | None
    points: list[PointEntry]
    placement: dict[str, Any] | None = Field(default=None, description="where Ray ran the cell (--on ray)")
    sweep: SweepEntry | None = None
    capacity: CapacityEntry | None = None

    def point(self, label: str) -> PointEntry | None:
        """The point labelled ``label``, if the cell has it."""
        return next((p for p in self.points if p.label == label), None)

    def fail(self, reason: str, status: str = "failed") -> None:
        """Record that the cell cannot go on: it failed (or, ``status="skipped"``, was left out before anything
        started: its server cannot start here), and its points not run say why in a line."""
        self.status, self.reason = status, reason
        for pentry in self.points:
            if pentry.status in ("pending", "running"):
                pentry.status, pentry.reason = "not run", reason.splitlines()[0]

    @property
    def skipped(self) -> bool:
        """Left out of this run before anything started (``--skip-missing``: its server cannot start here)."""
        return self.status == "skipped"


class ExperimentIndex(_Strict):
    """The whole ``index.json``."""

    schema_version: Literal[1]
    kind: Literal["experiment"]
    name: str
    status: str
    started_at: str | None
    finished_at: str | None
    cells: list[CellEntry]

    def failed_cells(self) -> list[CellEntry]:
        """Cells that did not finish every point (those skipped before anything started included)."""
        return [c for c in self.cells if c.status != "complete"]

    def to_json(self) -> dict[str, Any]:
        """The index as JSON data: the fields set, in declared order."""
        return self.model_dump(mode="json", exclude_unset=True)


def new_index(name: str, cells: list[CellEntry], started_at: str) -> ExperimentIndex:
    """The index of an experiment about to run."""
    return ExperimentIndex(schema_version=SCHEMA_VERSION, kind="experiment", name=name, status="running",
                           started_at=started_at, finished_at=None, cells=cells)


# Nothing measured is lost with a damaged index: each point folder is an ordinary result folder.
_RERUN = ("run the experiment again into a new --results-dir (not --resume); the point folders here are kept "
          "and each opens with glmbench report FOLDER")


def is_experiment(folder: Path) -> bool:
    """True for a folder written by ``glmbench experiment run``."""
    return (Path(folder) / INDEX).is_file()


def read_index(folder: Path) -> ExperimentIndex:
    """The index of an experiment folder, its whole shape checked.

    No index is a user error; an index that is cut short or of the wrong shape is one
    line naming the file and the first bad field path.
    """
    path = Path(folder) / INDEX
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GlmbenchError(f"no experiment index at {path}",
                            "pass a folder written by glmbench experiment run") from None
    except OSError as exc:
        raise GlmbenchError(f"cannot read {path}: {exc.strerror or exc}", "check the folder's permissions") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # cut off mid-write by a crash or a full disk, or edited by hand
        why = one_line(str(exc) or type(exc).__name__, 120)
        raise GlmbenchError(f"{path} is damaged: not valid JSON ({why})", _RERUN) from None
    if not isinstance(data, dict) or data.get("kind") != "experiment":
        raise GlmbenchError(f"{path} is not an experiment index", "pass a folder written by glmbench experiment run")
    try:
        return ExperimentIndex.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = one_line(errors[0]["msg"].removeprefix("Value error, "), 120)
        raise GlmbenchError(f"{path} is damaged: {where}: {message}{more}", _RERUN) from None


def write_index(folder: Path, index: ExperimentIndex) -> None:
    """Write the index through a temporary file (a reader never sees half of it); a full disk is a user error."""
    from glmbench.results.store import replace_file

    replace_file(Path(folder) / INDEX, (json.dumps(index.to_json(), indent=2, default=str) + "\n").encode())
