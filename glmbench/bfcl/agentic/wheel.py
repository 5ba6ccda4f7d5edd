"""BFCL v4's wheel (``bfcl-eval==2026.3.23``): where it is, verified once, and its files read by name.

Like v3's (:mod:`glmbench.bfcl.data`), the wheel is read with :mod:`zipfile`, never
installed or imported: its data, its simulated memory and web-search classes and
the literal prompt texts of ``bfcl_eval/constants/default_prompts.py`` are the
benchmark, read at run time.
"""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

from glmbench.bfcl.data import cache_dir, sha256_file
from glmbench.bfcl.versions import V4, VERSIONS
from glmbench.errors import GlmbenchError

__all__ = ["V4_WHEEL_NAME", "V4_WHEEL_SHA256", "V4_REQUIREMENT", "v4_wheel", "read_member", "fetch_hint"]

V4_REQUIREMENT = VERSIONS[V4].requirement
V4_WHEEL_NAME = VERSIONS[V4].wheel_name
V4_WHEEL_SHA256 = VERSIONS[V4].sha256

_lock = threading.Lock()
_verified: set[Path] = set()


def fetch_hint() -> str:
    """The command that puts the v4 wheel where glmbench looks for it."""
    return f"{VERSIONS[V4].fetch_command} (or pip download --no-deps --only-binary=:all: {V4_REQUIREMENT} -d {cache_dir()})"


def v4_wheel(path: Path | None = None) -> Path:
    """The v4 wheel (``path``, else the one in glmbench's BFCL cache), checked against its sha256 once a process."""
    wheel = Path(path) if path is not None else cache_dir() / V4_WHEEL_NAME
    with _lock:
        if wheel in _verified:
            return wheel
    if not wheel.is_file():
        raise GlmbenchError(f"BFCL v4 needs {V4_WHEEL_NAME}, not found at {wheel}", f"run {fetch_hint()}")
    digest = sha256_file(wheel)
    if digest != V4_WHEEL_SHA256:
        raise GlmbenchError(f"{wheel} has sha256 {digest}, not {V4_REQUIREMENT}'s {V4_WHEEL_SHA256}",
                            f"delete it and run {fetch_hint()}")
    with _lock:
        _verified.add(wheel)
    return wheel


def read_member(wheel: Path, member: str) -> bytes:
    """One file of the wheel (``bfcl_eval/...``); a missing or unreadable one is an error naming it."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise GlmbenchError(f"cannot read {member} from {wheel}: {type(exc).__name__}: {exc}",
                            f"delete it and run {fetch_hint()}") from None
