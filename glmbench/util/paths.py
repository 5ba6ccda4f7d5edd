"""Paths glmbench makes and removes: files shipped with it, names that become folders, deletes kept inside a run.

Shipped files are ``suites/``, ``configs/`` and ``experiments/`` at the repository
root, or inside the wheel. A name that becomes a path component (a run id, an
experiment server's name, a point's folder) passes :func:`check_name`, so no
name reaches outside the folder it is meant for; a folder glmbench deletes goes
through :func:`remove_tree`, which refuses anything outside the run's own folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from glmbench.errors import GlmbenchError

__all__ = ["shipped_file", "shipped_names", "NAME_MAX", "NAME_RULE", "is_safe_name", "check_name", "is_inside", "remove_tree"]

_PACKAGE = Path(__file__).resolve().parents[1]

# Under the 255 bytes most file systems allow a path component, with room for "-2" suffixes.
NAME_MAX = 240
# Besides letters and digits: "=" and "+" appear in the folder names experiments have always written
# ("fast_itl_ms=10"); "/" and "\\" never, and a leading "." never (".", "..", hidden folders).
_EXTRA = "._-=+"
NAME_RULE = f"letters, digits and {' '.join(_EXTRA)}, not starting with '.', at most {NAME_MAX} bytes"


def is_safe_name(name: object) -> bool:
    """True for a name that can be one path component and nothing else: see :data:`NAME_RULE`."""
    return (isinstance(name, str) and 0 < len(name.encode("utf-8", "surrogatepass")) <= NAME_MAX
            and not name.startswith(".")
            and all(c.isalnum() or c in _EXTRA for c in name))


def check_name(name: object, field: str, hint: str | None = None) -> str:
    """``name`` if :func:`is_safe_name`, else a user error naming ``field`` and the value."""
    if not is_safe_name(name):
        shown = repr(name) if len(str(name)) <= 80 else repr(str(name)[:80] + "...")
        raise GlmbenchError(f"{field} {shown} cannot name a folder: use {NAME_RULE}",
                            hint or f"change {field}")
    return name  # type: ignore[return-value]


def shipped_file(folder: str, name: str) -> Path | None:
    """``<folder>/<name>.yaml`` from the wheel (``glmbench/_<folder>``) or the checkout, if present.

    Only a plain name is looked up (``vllm-mtp``): ``../../etc/x`` is no shipped file, whatever lies there.
    """
    if not is_safe_name(name):
        return None
    for base in (_PACKAGE / f"_{folder}", _PACKAGE.parent / folder):
        candidate = base / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def shipped_names(folder: str) -> list[str]:
    """The names of every ``<folder>/*.yaml`` shipped (``configs``: ``sim``, ``vllm-mtp``, ...), sorted."""
    names = {path.stem for base in (_PACKAGE / f"_{folder}", _PACKAGE.parent / folder) if base.is_dir()
             for path in base.glob("*.yaml") if is_safe_name(path.stem)}
    return sorted(names)


def is_inside(path: Path, root: Path) -> bool:
    """True when ``path`` lies strictly below ``root``, links resolved (``root`` itself is not inside)."""
    target, base = Path(path).resolve(), Path(root).resolve()
    return target != base and target.is_relative_to(base)


def remove_tree(path: Path, root: Path) -> None:
    """Delete the folder ``path``, which must lie inside ``root`` (the folder glmbench made for this run).

    A path outside is refused: a name that slipped past :func:`check_name`, or a damaged index, must
    never cost a result that is not this run's.
    """
    if not is_inside(path, root) or Path(path).is_symlink():
        raise GlmbenchError(f"refusing to delete {path}: it is not inside {root}",
                            "nothing was deleted; report this as a bug in glmbench")
    shutil.rmtree(path)
