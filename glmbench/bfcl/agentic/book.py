"""Answer-book lines for BFCL v4's agentic entries: the simulator then answers each question as BFCL expects.

A scored agentic question's first request (after its memory system prompt, which
the key does not read) is answered with text in BFCL's answer format,
``{'answer': <the first acceptable answer>, 'context': ...}``, and no call, which
BFCL's agentic checker passes. Each turn of the prerequisite conversations is
answered with a short acknowledgement and no call (storing nothing, which the scored
questions do not need since the book knows their answers): without a line the
simulator would stream a placeholder of ``max_tokens`` tokens at every turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glmbench.bfcl.agentic.backends import backend_of
from glmbench.bfcl.agentic.data import load_agentic
from glmbench.bfcl.agentic.play import TOOLS_CATEGORY
from glmbench.bfcl.types import BFCLEntry

__all__ = ["agentic_book_lines", "answer_text", "ACKNOWLEDGED"]

ACKNOWLEDGED = "Noted."
"""The simulator's reply to each turn of a prerequisite conversation."""


def answer_text(answer: str) -> str:
    """A reply in BFCL's agentic answer format whose answer is ``answer``."""
    return "{'answer': " + repr(answer) + ", 'context': 'from the ground truth'}"


def agentic_book_lines(entries: Sequence[BFCLEntry], mode: str = "native") -> list[dict[str, Any]]:
    """One book line (``{"key", "tool_calls": [], "content"}``) per agentic entry with an answer, keyed as the
    simulator keys its first request (the question's user text and the tools offered, in either mode)."""
    from glmbench.bfcl.convert import bfcl_tools
    from glmbench.sim.answers import conversation_text, question_key

    lines = []
    for entry in entries:
        answers = getattr(entry, "extra", {}).get("answers") or []
        if not answers:
            continue
        users = [m["content"] for m in entry.question[0] if m.get("role") == "user"]
        names = [t["function"]["name"] for t in bfcl_tools(entry.function, TOOLS_CATEGORY).tools]
        lines.append({"key": question_key(conversation_text(users, False), names), "tool_calls": [],
                      "content": answer_text(answers[0])})
    scenarios = {(e.category, str(getattr(e, "extra", {}).get("scenario"))) for e in entries
                 if backend_of(e.category) is not None}
    if scenarios:
        prerequisites = load_agentic(sorted({c for c, _ in scenarios})).prerequisites
        for key in sorted(scenarios):
            for conversation in prerequisites.get(key, []):
                names = [t["function"]["name"] for t in bfcl_tools(conversation.function, TOOLS_CATEGORY).tools]
                said: list[str] = []
                for turn, messages in enumerate(conversation.question):
                    said += [m["content"] for m in messages if m.get("role") == "user"]
                    lines.append({"key": question_key(conversation_text(said, turn > 0), names), "tool_calls": [],
                                  "content": ACKNOWLEDGED})
    return lines
