"""What a run reports while it goes: the seam between the library, which never prints, and whoever shows progress.

Every method has a do-nothing default, so a caller implements only what it
shows; ``None`` where a progress object is taken means :class:`Progress` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["Progress"]


class Progress:
    """Callbacks of a run, in the order they happen. Subclass and override what you show."""

    def server_starting(self, backend: str, log: Path) -> None:
        """glmbench is starting a server; its output goes to ``log``."""

    def run_started(self, what: str, url: str, model: str, folder: Path, repeat: int = 1, repeats: int = 1) -> None:
        """Requests start going to ``url``; results go to ``folder`` (``what``: the workloads, or ``bfcl: N entries``)."""

    def workload_started(self, name: str, title: str, total: int) -> None:
        """A load workload of ``total`` requests starts."""

    def request_done(self, record: Any) -> None:
        """A request ended (a :class:`~glmbench.results.records.RequestRecord`, or a BFCL record as a dict)."""

    def workload_done(self, row: dict[str, Any]) -> None:
        """A workload ended; ``row`` is its summary row."""

    def repeat_done(self, repeat: int, repeats: int, rows: list[dict[str, Any]]) -> None:
        """One repeat of a ``repeat > 1`` run ended."""

    def point_done(self, cell: str, point: str, status: str, reason: str | None) -> None:
        """An experiment's point ended (``reason`` says why when it did not complete)."""

    def cell_placed(self, cell: str, where: list[dict[str, Any]]) -> None:
        """An experiment's cell got its nodes on a cluster (one entry per rank: node address, GPUs, ...)."""

    def cell_done(self, cell: str, status: str, reason: str | None) -> None:
        """An experiment's cell ended on a cluster (``reason`` says why when it did not complete)."""

    def note(self, text: str) -> None:
        """A choice glmbench made for the user (how many client processes), worth a line."""

    def warning(self, text: str) -> None:
        """Something the user should know that does not stop the run."""
