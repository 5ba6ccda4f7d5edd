"""BFCL v4's agentic checker (memory and web search), as its 2026.3.23 eval runner applies it, written from its rules.

An agentic entry is one turn of several steps: the model calls memory or search
functions, then answers in text. BFCL scores only that answer:

1. The model's result must be one turn; anything else (inference failed) fails as
   ``agentic:inference_error``.
2. Of the turn's steps, the last one that is not a call (a reply that decodes to no
   call, or does not decode) is the answer; an answer that is empty or missing
   (every step was a call, as when the step limit ended the turn) fails as
   ``agentic:no_last_message``.
3. Both the answer and each acceptable answer are standardized: the characters
   ``, . / - _ * ^ ( )`` removed, lower-cased, ``'`` made ``"``; whitespace is kept.
   The entry passes when some acceptable answer occurs in the answer between word
   boundaries (``\\b`` on both sides, as a regular expression of the escaped text),
   else fails as ``agentic:answer_not_found``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.types import Verdict, short_repr

__all__ = ["INFERENCE_ERROR", "NO_LAST_MESSAGE", "ANSWER_NOT_FOUND", "ERROR_TYPES", "AgenticVerdict",
           "standardize", "check_answer", "last_answer", "check_steps", "record_steps", "check_agentic_record",
           "check_agentic_entry"]

INFERENCE_ERROR = "agentic:inference_error"
NO_LAST_MESSAGE = "agentic:no_last_message"
ANSWER_NOT_FOUND = "agentic:answer_not_found"
ERROR_TYPES = (INFERENCE_ERROR, NO_LAST_MESSAGE, ANSWER_NOT_FOUND)

_REMOVED = re.compile(r"[,./\-_*^()]")


@dataclass(frozen=True)
class AgenticVerdict(Verdict):
    """A :class:`Verdict` plus BFCL's error type and the answer it read."""

    error_type: str = ""
    answer: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def standardize(text: str) -> str:
    """BFCL's standard form of an answer: ``,./-_*^()`` removed, lower case, ``'`` as ``"``."""
    return _REMOVED.sub("", text).lower().replace("'", '"')


def check_answer(answer: Any, acceptable: Sequence[str]) -> AgenticVerdict:
    """Whether one of the ``acceptable`` texts occurs, standardized and between word boundaries, in ``answer``."""
    if isinstance(answer, list) and answer:  # BFCL: a one-element list of text is its text
        answer = answer[0]
    text = answer if isinstance(answer, str) else str(answer)
    found = standardize(text)
    for expected in acceptable:
        if re.search(rf"\b{re.escape(standardize(expected))}\b", found):
            return AgenticVerdict(True, "", answer=text)
    return AgenticVerdict(False, f"{ANSWER_NOT_FOUND}: none of {short_repr(list(acceptable), 120)} in the answer "
                                 f"{short_repr(text, 160)}", error_type=ANSWER_NOT_FOUND, answer=text)


def last_answer(steps: Sequence[Any]) -> Any:
    """The answer BFCL reads from one turn's steps: the last step that is not a decoded call.

    A step is a list of calls (a call step) or anything else: text, or None for a reply that did not decode
    (then the reply as given). An empty list is no call: its text is what the record kept for it.
    """
    answer: Any = None
    for step in steps:
        if isinstance(step, list) and step and not (len(step) == 1 and _empty(step[0])):
            continue
        answer = step
    return answer


def _empty(value: Any) -> bool:
    """BFCL's empty decoded reply: ``[]``, or one element of length 0 (``[""]``)."""
    try:
        return len(value) == 0
    except TypeError:
        return False


def _fail(error_type: str, why: str) -> AgenticVerdict:
    return AgenticVerdict(False, f"{error_type}: {why}", error_type=error_type)


def check_steps(turns: Sequence[Sequence[Any]] | None, acceptable: Sequence[str]) -> AgenticVerdict:
    """BFCL's verdict on a model result given as turns of steps (see :func:`last_answer`)."""
    if turns is None or not isinstance(turns, (list, tuple)) or len(turns) != 1:
        return _fail(INFERENCE_ERROR, "the model's result is not one turn: inference failed")
    answer = last_answer(turns[0])
    if not answer:
        return _fail(NO_LAST_MESSAGE, "no reply without a call: the model never answered in text")
    return check_answer(answer, acceptable)


def record_steps(record: dict[str, Any]) -> list[list[Any]] | None:
    """A stored agentic conversation as BFCL's result reads it: per step, its decoded calls, or its text when it made
    none (a reply whose calls did not decode counts as text: its first call as BFCL's handler would show it)."""
    if record.get("error") or record.get("first_error"):
        return None
    turns = record.get("turns") or []
    out = []
    for turn in turns:
        steps: list[Any] = []
        for step in turn.get("steps") or []:
            calls = step.get("calls") or []
            if calls and step.get("decoded") is not False:
                steps.append([(c.get("name"), c.get("arguments") or {}) for c in calls])
            elif calls:  # BFCL's handler gives such a reply as its calls, of which the checker reads the first
                steps.append(str({calls[0].get("name"): calls[0].get("arguments") or {}}))
            else:
                steps.append(step.get("content") or "")
        out.append(steps)
    return out


def check_agentic_record(record: dict[str, Any], answers: Sequence[str]) -> AgenticVerdict:
    """The verdict on a stored agentic record (a first attempt's API error fails it, as every rule set does)."""
    if record.get("first_error") or record.get("error"):
        why = record.get("first_error") or record.get("error")
        return _fail(INFERENCE_ERROR, f"the API failed: {short_repr(why, 160)}")
    return check_steps(record_steps(record), answers)


def check_agentic_entry(entry: Any, record: dict[str, Any]) -> AgenticVerdict:
    """The verdict on ``record`` for a loaded agentic ``entry`` (its acceptable answers in ``extra["answers"]``)."""
    return check_agentic_record(record, entry.extra.get("answers") or [])
