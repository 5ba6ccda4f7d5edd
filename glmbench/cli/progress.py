"""Progress on stderr: a bar per workload on a terminal, a line per finished workload elsewhere (CI logs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from glmbench.api.progress import Progress
from glmbench.results.records import INTERRUPTED
from glmbench.util.text import safe_console, visible

__all__ = ["TerminalProgress", "QuietProgress"]


class TerminalProgress(Progress):
    """Shows a run as it goes, on stderr."""

    def __init__(self) -> None:
        self.err = safe_console(stderr=True)
        self.live = self.err.is_terminal
        self.bar: Any = None
        self.task: Any = None
        self.total = self.done = self.failed = self.cut = 0
        self.title = ""

    def server_starting(self, backend: str, log: Path) -> None:
        self.err.print(f"starting {backend} (log: {log}) ...")

    def run_started(self, what: str, url: str, model: str, folder: Path, repeat: int = 1, repeats: int = 1) -> None:
        self.err.print(f"running {what} against {url} ({visible(model)}) -> {folder}"
                       + (f" (repeat {repeat} of {repeats})" if repeats > 1 else ""))

    def workload_started(self, name: str, title: str, total: int) -> None:
        self.total, self.done, self.failed, self.cut, self.title = total, 0, 0, 0, title
        if not self.live:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("failed {task.fields[failed]}{task.fields[cut]}"), TimeElapsedColumn(),
                       console=self.err, transient=False, refresh_per_second=2)
        self.bar.start()
        self.task = self.bar.add_task(visible(title), total=total, failed=0, cut="")

    def request_done(self, record: Any) -> None:
        """A request ended: done (succeeded or failed), or cut short by an interruption, counted apart."""
        error = record.get("error") if isinstance(record, dict) else record.error
        ok = error is None if isinstance(record, dict) else record.ok
        cut = error == INTERRUPTED
        self.done += not cut
        self.cut += cut
        self.failed += not ok and not cut
        if self.bar is not None:
            self.bar.update(self.task, advance=0 if cut else 1, failed=self.failed,
                            cut=f", cut short {self.cut}" if self.cut else "")

    def workload_done(self, row: dict[str, Any]) -> None:
        self._close()

    def finished(self) -> None:
        """The last workload (or the BFCL entries) ended: close the bar, or write the line."""
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        elif self.total and not self.live:
            self.err.print(self.line())
        self.total = 0

    def line(self) -> str:
        """The workload's count: ``burst: 834/2000 done, 0 failed, 1166 cut short`` (the last part only when a
        Ctrl-C cut requests short)."""
        cut = f", {self.cut} cut short" if self.cut else ""
        return f"{visible(self.title)}: {self.done}/{self.total} done, {self.failed} failed{cut}"

    def repeat_done(self, repeat: int, repeats: int, rows: list[dict[str, Any]]) -> None:
        self.err.print(f"repeat {repeat} of {repeats} done")

    def point_done(self, cell: str, point: str, status: str, reason: str | None) -> None:
        self.err.print(f"{visible(cell)} {visible(point)}: {status}" + (f" ({visible(reason)})" if reason else ""))

    def cell_placed(self, cell: str, where: list[dict[str, Any]]) -> None:
        nodes = ", ".join(f"rank {i} on {w.get('node_name') or str(w.get('ray_node_id'))[:8]} ({w.get('node_address')})"
                          + (f" GPUs {','.join(w['gpus'])}" if w.get("gpus") else "") for i, w in enumerate(where))
        self.err.print(f"{visible(cell)}: placed ({visible(nodes)})")

    def cell_done(self, cell: str, status: str, reason: str | None) -> None:
        self.err.print(f"{visible(cell)}: {status}" + (f" ({visible(reason.splitlines()[0])})" if reason else ""))

    def note(self, text: str) -> None:
        self.err.print(f"note: {visible(text)}")

    def warning(self, text: str) -> None:
        self.err.print(f"warning: {visible(text)}")


class QuietProgress(TerminalProgress):
    """Progress that shows nothing but warnings (``--quiet``)."""

    def __init__(self) -> None:
        super().__init__()
        self.err.quiet = True  # rich prints nothing on it, bars included

    def warning(self, text: str) -> None:
        print(f"warning: {visible(text)}", file=sys.stderr)
