"""Run a backend's conformance driver in that backend's own interpreter and read its answer.

The job goes in as a JSON file, the answer comes back on stdout (see
``drivers/_driver_common.py``). Whatever stops the driver (no interpreter, the
backend's parsers do not import, a tokenizer that does not load, a timeout, output
that is not the answer) is one :class:`~glmbench.errors.GlmbenchError` line with
the driver's last words, shown as text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmbench.conformance.corpus import Case, cases_json
from glmbench.conformance.drivers import DRIVERS, driver_path
from glmbench.errors import GlmbenchError
from glmbench.util.text import one_line

__all__ = ["DriverAnswer", "run_driver"]


@dataclass(frozen=True)
class DriverAnswer:
    """What a driver reported: the backend's version, the parser classes it used, the modes and per-case parses."""

    backend: str
    version: str | None
    parsers: dict[str, Any]
    modes: tuple[str, ...]
    results: list[dict[str, Any]]
    python: str


def run_driver(backend: str, python: str, cases: Sequence[Case], tokenizer: str, tool_parser: str,
               reasoning_parser: str, modes: Sequence[str], timeout_s: float = 900.0,
               env: dict[str, str] | None = None) -> DriverAnswer:
    """Parse ``cases`` with ``backend``'s own parsers under ``python``; raises a one-line error when it cannot."""
    script = driver_path(backend)
    if script is None:
        raise GlmbenchError(f"no parser-conformance driver for {backend}",
                            f"pick a config of one of: {', '.join(DRIVERS)}")
    if not (shutil.which(python) or Path(python).is_file()):
        raise GlmbenchError(f"python not found: {python}",
                            "point launch.venv (or launch.python) at the backend's environment in the config")
    job = {"tool_parser": tool_parser, "reasoning_parser": reasoning_parser, "tokenizer": tokenizer,
           "modes": list(modes), "cases": cases_json(cases)}
    with tempfile.TemporaryDirectory(prefix="glmbench-parsers-") as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        try:
            done = subprocess.run([python, str(script), str(job_path)], capture_output=True, text=True,
                                  timeout=timeout_s, env={**os.environ, **(env or {}), "PYTHONNOUSERSITE": "1"})
        except subprocess.TimeoutExpired:
            raise GlmbenchError(f"{backend}'s parser driver did not finish in {timeout_s:.0f} s",
                                "try fewer cases (--bfcl-limit) or a longer --timeout") from None
        except OSError as exc:
            raise GlmbenchError(f"cannot run {python}: {one_line(exc)}",
                                "point launch.venv (or launch.python) at the backend's environment") from None
    answer = _answer(done.stdout)
    if answer is not None and "fatal" in answer:
        raise GlmbenchError(f"{backend}'s parsers cannot run under {python}: {one_line(answer['fatal'], 300)}",
                            f"install {backend} into that environment, or point the config's launch.venv at one "
                            "that has it")
    if answer is None or done.returncode != 0 or not isinstance(answer.get("results"), list):
        tail = one_line((done.stderr or done.stdout or "no output")[-600:], 300)
        raise GlmbenchError(f"{backend}'s parser driver failed (exit {done.returncode}): {tail}",
                            f"run {python} {script} JOB.json by hand to see the whole error")
    return DriverAnswer(backend, answer.get("version"), dict(answer.get("parsers") or {}),
                        tuple(answer.get("modes") or ()), answer["results"], python)


def _answer(stdout: str) -> dict[str, Any] | None:
    # The answer is the last line; a backend may print warnings of its own before it.
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        return data if isinstance(data, dict) else None
    return None
