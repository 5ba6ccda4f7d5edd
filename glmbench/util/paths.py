"""Files shipped with glmbench: ``suites/`` and ``configs/`` at the repository root, or inside the wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["shipped_file"]

_PACKAGE = Path(__file__).resolve().parents[1]


def shipped_file(folder: str, name: str) -> Path | None:
    """``<folder>/<name>.yaml`` from the wheel (``glmbench/_<folder>``) or the checkout, if present."""
    for base in (_PACKAGE / f"_{folder}", _PACKAGE.parent / folder):
        candidate = base / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None
