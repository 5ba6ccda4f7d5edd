"""JSON Lines written as things end: read back whole objects, skipping what a crash or a hand edit left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

__all__ = ["json_objects"]


def json_objects(path: Path) -> Iterator[dict[str, Any]]:
    """Each line of ``path`` that is a JSON object, in order; torn lines (a kill mid-write, a full disk) and lines
    that are not objects are skipped; nothing when the file does not exist."""
    if not path.is_file():
        return
    with path.open("rb") as f:
        for line in f:
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                yield value
