"""An experiment folder's index (``index.json``): every server configuration and point, their status and folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from glmbench.errors import GlmbenchError

__all__ = ["INDEX", "SCHEMA_VERSION", "read_index", "write_index", "is_experiment"]

INDEX = "index.json"
SCHEMA_VERSION = 1


def is_experiment(folder: Path) -> bool:
    """True for a folder written by ``glmbench experiment run``."""
    return (Path(folder) / INDEX).is_file()


def read_index(folder: Path) -> dict[str, Any]:
    """The index of an experiment folder (a user error if there is none)."""
    path = Path(folder) / INDEX
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        raise GlmbenchError(f"no experiment index at {path}", "pass a folder written by glmbench experiment run") from None
    if not isinstance(index, dict) or index.get("kind") != "experiment":
        raise GlmbenchError(f"{path} is not an experiment index", "pass a folder written by glmbench experiment run")
    return index


def write_index(folder: Path, index: dict[str, Any]) -> None:
    """Write the index through a temporary file (a reader never sees half of it); a full disk is a user error."""
    from glmbench.results.store import replace_file

    replace_file(Path(folder) / INDEX, (json.dumps(index, indent=2, default=str) + "\n").encode())
