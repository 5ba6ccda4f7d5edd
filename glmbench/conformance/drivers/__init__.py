"""One standalone script per backend, run with that backend's own interpreter (never imported by glmbench).

:data:`DRIVERS` is the one list of them: backend name -> script file in this folder.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DRIVERS", "driver_path"]

DRIVERS: dict[str, str] = {
    "vllm": "vllm_driver.py",
    "sglang": "sglang_driver.py",
    "lightllm": "lightllm_driver.py",
}


def driver_path(backend: str) -> Path | None:
    """The driver script for ``backend``, or None when there is none."""
    name = DRIVERS.get(backend)
    return Path(__file__).with_name(name) if name else None
