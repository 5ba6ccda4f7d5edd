"""The one user-facing error type.

Library code raises :class:`GlmbenchError` for anything a user can fix (a bad
path, an unknown workload, an unreachable endpoint). The CLI catches it at one
boundary and prints ``error: <message>`` and, on the next line, what to do next,
then exits with ``exit_code``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["GlmbenchError"]


class GlmbenchError(Exception):
    """A problem the user can fix, with the next step to take."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"
