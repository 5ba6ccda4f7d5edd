"""The one user-facing error type, and the "did you mean" every unknown name gets.

Library code raises :class:`GlmbenchError` for anything a user can fix (a bad
path, an unknown workload, an unreachable endpoint). The CLI catches it at one
boundary and prints ``error: <message>`` and, on the next line, what to do next,
then exits with ``exit_code``. Anything else is a bug and keeps its traceback.

A message names what the user typed (``--set itl_ms``, ``--config vllm-mpt``,
the URL), not the file or field it was applied to; a name that is not one of a
known few says which one was probably meant (:func:`did_you_mean`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["GlmbenchError", "closest", "did_you_mean"]


class GlmbenchError(Exception):
    """A problem the user can fix, with the next step to take."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word`` (a typo of it), or None when none is close."""
    choices = [str(c) for c in choices]
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not found:
        # Case and separators are never the typo worth a miss: ``Simple``, ``vllm_mtp``.
        folded = {c.lower().replace("_", "-"): c for c in choices}
        found = [folded[f] for f in difflib.get_close_matches(word.lower().replace("_", "-"), folded, n=1)]
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the choice closest to ``word``, or ``""``: the tail of an error message."""
    match = closest(word, choices)
    return f"; did you mean {match}?" if match is not None else ""
