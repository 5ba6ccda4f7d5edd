"""Writing and reading ``results/<run-id>/``.

Files: ``config.yaml`` (the resolved suite and backend settings), ``manifest.json``,
``records.jsonl`` (one line per request, appended as requests end),
``summary.json`` (rewritten after each workload), ``server.log`` and
``server_metrics.jsonl`` when there is a server to read. A ``--repeat N`` run
holds one such folder per repeat (``repeat-i/``) and, beside them, its own
``config.yaml``, ``manifest.json`` and ``summary.json``: the repeats as one
result (each metric's mean and 95% interval, :mod:`glmbench.metrics.repeats`).
"""

from __future__ import annotations

import errno
import json
import os
import platform
import socket
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml
from pydantic import ValidationError

from glmbench.errors import GlmbenchError
from glmbench.results.schema import SCHEMA_VERSION, BFCLSummary, EquivalenceSummary, LoadSummary, Manifest
from glmbench.util.paths import check_name

__all__ = ["RunStore", "write_error", "replace_file", "repeat_folders", "summary_folder", "load_summary", "load_manifest",
           "new_run_id", "host_facts", "git_sha", "now_iso", "clock_pair", "load_any_summary", "load_equivalence_summary"]

# Kept free in every result folder while a run writes into it, and given back the
# first time a write finds the disk full: the final summary and manifest still fit.
_RESERVE_BYTES = 64 * 1024
_RESERVE = ".reserve"


def write_error(path: Path, exc: OSError) -> GlmbenchError:
    """The one error for a result file that could not be written (a full disk, a removed folder)."""
    return GlmbenchError(f"cannot write {path}: {exc.strerror or exc}",
                         f"free space under {path.parent} or pass --results-dir on another disk; "
                         "what was written before is kept", exit_code=1)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id(backend: str, workload: str) -> str:
    """``20261122-153000-sim-burst``; a numeric suffix is added if the folder exists."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{backend}-{workload}")
    safe = safe.encode()[:180].decode(errors="ignore")  # a long --label must still make a folder name
    return f"{datetime.now():%Y%m%d-%H%M%S}-{safe}"


def host_facts() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(),
            "python": platform.python_version(), "cpu_count": os.cpu_count()}


def git_sha() -> str | None:
    """The glmbench checkout's commit, if it is one."""
    here = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


class RunStore:
    """One result folder being written: ``root/<run_id>``, never anywhere else."""

    def __init__(self, root: Path, run_id: str) -> None:
        # "../x" or "/abs" would put the run beside --results-dir or anywhere on the disk.
        check_name(run_id, "--run-id", "pass --run-id a plain folder name; the run goes under --results-dir")
        path = root / run_id
        n = 1
        while path.exists():
            n += 1
            path = root / f"{run_id}-{n}"
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise GlmbenchError(f"cannot create result folder {path}: {exc.strerror}", "check --results-dir") from None
        self.path = path
        self.run_id = path.name
        self.records_path = path / "records.jsonl"
        self.server_log = path / "server.log"
        self._reserve()

    @classmethod
    def reopen(cls, path: Path) -> RunStore:
        """An existing result folder, to finish or rescore a run in place."""
        path = Path(path)
        if not path.is_dir():
            raise GlmbenchError(f"no result folder at {path}", "pass a folder under results/")
        store = cls.__new__(cls)
        store.path = path
        store.run_id = path.name
        store.records_path = path / "records.jsonl"
        store.server_log = path / "server.log"
        return store

    def _reserve(self) -> None:
        try:
            with (self.path / _RESERVE).open("wb") as f:
                f.write(b"\0" * _RESERVE_BYTES)
        except OSError:
            self.release_reserve()  # a disk already this full fails on the first real write, with its own error

    def release_reserve(self) -> None:
        """Give the space kept for the final files back (at the end of a run, or when the disk is full)."""
        try:
            (self.path / _RESERVE).unlink()
        except OSError:
            pass

    def write_config(self, config: dict[str, Any]) -> None:
        self._write(self.path / "config.yaml", yaml.safe_dump(config, sort_keys=False).encode())

    def write_manifest(self, manifest: Manifest) -> None:
        """Write the manifest; once the run has ended (any status but running) the reserve is given back."""
        self._write_json("manifest.json", manifest.model_dump(mode="json"))
        if manifest.status != "running":
            self.release_reserve()

    def write_summary(self, summary: LoadSummary | BFCLSummary | EquivalenceSummary) -> None:
        self._write_json("summary.json", summary.model_dump(mode="json"))

    def append_server_metrics(self, entry: dict[str, Any]) -> None:
        path = self.path / "server_metrics.jsonl"
        try:
            with path.open("ab") as f:
                f.write(orjson.dumps(entry) + b"\n")
        except OSError as exc:
            raise write_error(path, exc) from None

    def _write_json(self, name: str, data: Any) -> None:
        text = json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"
        self._write(self.path / name, text.encode())

    def _write(self, path: Path, data: bytes) -> None:
        """:func:`replace_file`; on a full disk, with the reserve given back once first."""
        try:
            _replace(path, data)
        except OSError as exc:
            if exc.errno != errno.ENOSPC or not (self.path / _RESERVE).exists():
                raise write_error(path, exc) from None
            self.release_reserve()
            replace_file(path, data)


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` through a temporary file, so a reader never sees half of it; a failure is :func:`write_error`."""
    try:
        _replace(path, data)
    except OSError as exc:
        raise write_error(path, exc) from None


def summary_folder(run_dir: Path) -> Path | None:
    """Where a run's figures are: the folder itself (a ``--repeat N`` run's holds its repeats' means), or for a
    repeated run written before runs kept that, its last repeat (None if neither)."""
    for folder in (Path(run_dir), *reversed(repeat_folders(run_dir))):
        if (folder / "summary.json").is_file():
            return folder
    return None


def repeat_folders(run_dir: Path) -> list[Path]:
    """The ``repeat-i`` folders of a ``--repeat N`` run, in order (empty for a single run)."""
    found = [p for p in Path(run_dir).glob("repeat-*") if p.name.split("-", 1)[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]))


def clock_pair() -> dict[str, int]:
    """Monotonic and wall clock read together, to place records on the calendar later."""
    return {"perf_counter_ns": time.perf_counter_ns(), "time_ns": time.time_ns()}


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise GlmbenchError(f"no {path.name} in {path.parent}", f"pass a folder written by 'glmbench run' ({what})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GlmbenchError(f"{path} is not valid JSON: {exc}", "the run may have been cut off; run it again") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise GlmbenchError(f"{path} has schema version {version}, this glmbench reads {SCHEMA_VERSION}",
                            "use the glmbench version that wrote it")
    return data


_Model = TypeVar("_Model", LoadSummary, BFCLSummary, EquivalenceSummary, Manifest)


def _validated(model: type[_Model], path: Path, data: dict[str, Any], what: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise GlmbenchError(f"{path} does not match the {what} schema: {exc.errors()[0]['msg']}", "regenerate it") from None


def load_any_summary(run_dir: Path) -> LoadSummary | BFCLSummary | EquivalenceSummary:
    """The summary of a load run, a BFCL run or an equivalence run, by its ``kind``."""
    path = Path(run_dir) / "summary.json"
    data = _read_json(path, "summary")
    if data.get("kind") == "bfcl":
        return _validated(BFCLSummary, path, data, "summary")
    if data.get("kind") == "equivalence":
        return _validated(EquivalenceSummary, path, data, "summary")
    return _validated(LoadSummary, path, data, "summary")


def load_equivalence_summary(run_dir: Path) -> EquivalenceSummary:
    """The summary of an equivalence run, validated (a user error when the folder holds another kind)."""
    path = Path(run_dir) / "summary.json"
    data = _read_json(path, "summary")
    if data.get("kind") != "equivalence":
        raise GlmbenchError(f"{run_dir} is not an equivalence run",
                            "pass folders written by glmbench equivalence run")
    return _validated(EquivalenceSummary, path, data, "summary")


def load_summary(run_dir: Path) -> LoadSummary:
    """The summary of a result folder, validated."""
    path = Path(run_dir) / "summary.json"
    return _validated(LoadSummary, path, _read_json(path, "summary"), "summary")


def load_manifest(run_dir: Path) -> Manifest:
    """The manifest of a result folder, validated."""
    path = Path(run_dir) / "manifest.json"
    return _validated(Manifest, path, _read_json(path, "manifest"), "manifest")
