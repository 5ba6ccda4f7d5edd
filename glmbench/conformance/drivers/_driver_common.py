"""What every conformance driver shares: reading the job, running each case in each mode, writing the answer.

Drivers run with a serving backend's own interpreter, so this file imports only
the standard library and never glmbench. Input (a file named on the command line,
or stdin) is JSON: ``{"tool_parser", "reasoning_parser", "tokenizer", "modes",
"cases": [{"id", "text", "tools", "thinking", "prompt", "chunks"}]}``. Output (stdout) is
one JSON object: ``{"backend", "version", "parsers", "results": [{"id", MODE:
{"reasoning", "content", "calls": [{"name", "arguments"}]} or {"crash": TEXT}}]}``,
or ``{"fatal": TEXT}`` when the backend's parsers cannot be loaded at all.
Arguments are returned as the parser's JSON text, unparsed.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["read_job", "run_job", "fatal", "Stream", "crash_text", "package_version"]


def package_version(*names: str) -> str | None:
    """The installed version of the first of ``names`` (distribution names) that is installed, else None."""
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def read_job() -> dict[str, Any]:
    """The job from the file named as the first argument, else from stdin."""
    if len(sys.argv) > 1 and sys.argv[1] != "-":
        with open(sys.argv[1], encoding="utf-8") as f:
            return json.load(f)
    return json.load(sys.stdin)


def _write(data: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(json.dumps(data, ensure_ascii=False))
    out.write("\n")
    out.flush()


def fatal(message: str) -> None:
    """The backend's parsers cannot run at all: say why, exit 3."""
    _write({"fatal": message})
    sys.exit(3)


def crash_text(exc: BaseException) -> str:
    """An exception as one line: its type, its message and where in the backend it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}{where}"


class Stream:
    """Collects streamed deltas into one parse: text appended, calls by index (name once, arguments appended)."""

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, reasoning: str | None = None, content: str | None = None) -> None:
        if reasoning:
            self.reasoning.append(reasoning)
        if content:
            self.content.append(content)

    def call(self, index: int, name: str | None = None, arguments: str | None = None) -> None:
        slot = self.calls.setdefault(index, {"name": None, "arguments": ""})
        if name:
            slot["name"] = name
        if arguments:
            slot["arguments"] += arguments

    def result(self) -> dict[str, Any]:
        return {"reasoning": "".join(self.reasoning) or None, "content": "".join(self.content) or None,
                "calls": [self.calls[i] for i in sorted(self.calls)]}


Mode = Callable[[dict[str, Any]], dict[str, Any]]


def run_job(backend: str, version: str | None, parsers: dict[str, str], modes: dict[str, Mode],
            job: dict[str, Any]) -> None:
    """Every case of ``job`` through every mode asked for; a mode that raises is that case's crash."""
    wanted = [m for m in job.get("modes") or list(modes) if m in modes]
    results = []
    for case in job["cases"]:
        row: dict[str, Any] = {"id": case["id"]}
        for name in wanted:
            try:
                row[name] = modes[name](case)
            except Exception as exc:  # noqa: BLE001 - a parser's crash is a finding, not the driver's end
                row[name] = {"crash": crash_text(exc)}
        results.append(row)
    _write({"backend": backend, "version": version, "parsers": parsers, "modes": wanted, "results": results})
