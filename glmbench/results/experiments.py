"""An experiment folder's index (``index.json``): every server configuration and point, their status and folders.

The runner keeps the index as plain JSON data while it runs (it is written after
every change, and travels to Ray workers and back); :class:`ExperimentIndex` is
its shape, checked whole wherever an index is read back (``--resume``,
``report``, ``compare``), so a damaged or hand-edited index is one line naming
the file and the bad field, never a TypeError half-way through a report. Folder
names in it are checked as names (:func:`~glmbench.util.paths.check_name`): an
index never points a reader or a delete outside the experiment folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from glmbench.errors import GlmbenchError
from glmbench.util.paths import is_safe_name
from glmbench.util.text import one_line

__all__ = ["INDEX", "SCHEMA_VERSION", "ExperimentIndex", "CellEntry", "PointEntry", "read_index", "write_index",
           "is_experiment"]

INDEX = "index.json"
SCHEMA_VERSION = 1


def _folder_name(value: str) -> str:
    if not is_safe_name(value):
        raise ValueError(f"{value[:60]!r} cannot name a folder here")
    return value


FolderName = Annotated[str, AfterValidator(_folder_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointEntry(_Strict):
    """One point of a cell: a load point, a BFCL suite, a sweep point or a capacity probe."""

    label: str
    kind: str = Field(description="load, bfcl, sweep or capacity")
    folder: FolderName | None = Field(description="its result folder under the cell's folder, once it ran")
    status: str
    reason: str | None
    started_at: str | None
    seconds: float | None


class SweepEntry(_Strict):
    """What a cell's sweep measured and the rates it chose from that."""

    sync_request_s: float
    max_request_s: float
    rates: list[float]


class CapacityEntry(_Strict):
    """A cell's capacity search (:meth:`glmbench.api.capacity.Capacity.to_json`)."""

    by: str
    attainment_target: float
    value: float | None = None
    above: float | None = None
    probes: list[dict[str, Any]] = Field(default_factory=list)
    reason: str = ""


class CellEntry(_Strict):
    """One server configuration: its folder, how it was started, and its points.

    Every field but the last three has been written since the first index; those three only by a cell
    that ran a sweep, a capacity search, or on Ray.
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
    sweep: SweepEntry | None = None
    capacity: CapacityEntry | None = None
    placement: dict[str, Any] | None = Field(None, description="where Ray ran the cell (--on ray)")


class ExperimentIndex(_Strict):
    """The whole ``index.json``."""

    schema_version: Literal[1]
    kind: Literal["experiment"]
    name: str
    status: str
    started_at: str | None
    finished_at: str | None
    cells: list[CellEntry]


# Nothing measured is lost with a damaged index: each point folder is an ordinary result folder.
_RERUN = ("run the experiment again into a new --results-dir (not --resume); the point folders here are kept "
          "and each opens with glmbench report FOLDER")


def is_experiment(folder: Path) -> bool:
    """True for a folder written by ``glmbench experiment run``."""
    return (Path(folder) / INDEX).is_file()


def read_index(folder: Path) -> dict[str, Any]:
    """The index of an experiment folder, its whole shape checked (:class:`ExperimentIndex`).

    Returned as the JSON data the runner keeps, with the keys the file has (a resumed index is written
    back as it was). No index is a user error; an index that is cut short or of the wrong shape is one
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
        index = ExperimentIndex.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = one_line(errors[0]["msg"].removeprefix("Value error, "), 120)
        raise GlmbenchError(f"{path} is damaged: {where}: {message}{more}", _RERUN) from None
    return index.model_dump(mode="json", exclude_unset=True)


def write_index(folder: Path, index: dict[str, Any]) -> None:
    """Write the index through a temporary file (a reader never sees half of it); a full disk is a user error."""
    from glmbench.results.store import replace_file

    replace_file(Path(folder) / INDEX, (json.dumps(index, indent=2, default=str) + "\n").encode())
