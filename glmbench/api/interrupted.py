"""How a run ended by Ctrl-C or SIGTERM reaches its caller: as an interrupt that carries what was kept."""

from __future__ import annotations

from typing import Any

__all__ = ["RunInterrupted"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM ended a run once its server was stopped and its files were written.

    ``result`` is the run's partial result (a ``LoadResult`` or ``BFCLResult``;
    its summary may be None when nothing had ended yet). It is a
    KeyboardInterrupt, so a caller that does not look for it stops as on Ctrl-C.
    """

    def __init__(self, result: Any) -> None:
        super().__init__("interrupted")
        self.result = result
