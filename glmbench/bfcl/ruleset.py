"""The contract of a BFCL rule set, and the small pieces every rule set's summary is made of.

A rule set is one way of asking BFCL entries and judging the replies: BFCL v3's
own checker, LightLLM's ``eval_bfcl.py`` (the published table), BFCL v4's.
Each is one module of :mod:`glmbench.bfcl.rulesets` defining ``RULE_SET``, an
object that meets :class:`RuleSet`; :mod:`glmbench.bfcl.registry` finds them.
The rest of glmbench (the suite, requests, runner, scoring, reports, the CLI)
reaches rule sets only through the registry and never spells a rule set's name.

Every rule set scores every stored reply (a run is rescored under all of them);
a suite's ``style`` picks whose requests are sent and ``scoring`` whose table is
shown first. A rule set judges the entries of one BFCL release (its
``bfcl_version``): given an entry of the other release, the registry hands it
that entry's twin in its own release (the same question and functions; its own
ground truth), or, where its release has none (the entry changed), a verdict
that is not scored, with why (:mod:`glmbench.bfcl.counterparts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from glmbench.bfcl.types import BFCLEntry, Verdict

__all__ = ["RuleSet", "Tally", "summary_row", "percent", "sums", "request_failed", "stored_verdict"]

Tally = Mapping[str, tuple[int, int]]
"""Category -> (entries passed, entries), over the categories a rule set scores that have entries."""


@runtime_checkable
class RuleSet(Protocol):
    """How one set of rules asks an entry, decodes the reply, judges it and sums a run up.

    ``name`` is how users pick it (``--style``, ``--scoring``) and the key of its
    verdict in every record and of its table in ``summary.json``. ``title`` heads
    its table. ``position`` orders rule sets wherever all of them appear (verdicts,
    tables, reports); the lowest of a release is the default style and scoring of
    that release's suites. ``style_help`` and ``scoring_help`` finish the CLI's
    help for those options. ``bfcl_version``: the BFCL release whose entries,
    ground truth and category names it scores (:mod:`glmbench.bfcl.versions`).
    """

    name: str
    title: str
    position: int
    style_help: str
    scoring_help: str
    bfcl_version: str

    @property
    def unscored(self) -> Mapping[str, str]:
        """Category -> why these rules do not score it; every other category is scored."""
        ...

    def messages(self, entry: BFCLEntry) -> list[dict[str, Any]]:
        """The chat messages its request style sends for ``entry``."""
        ...

    def tools(self, entry: BFCLEntry) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The OpenAI tools its request style sends for ``entry``, and the map from sent names back to BFCL's."""
        ...

    def decoded_fields(self, content: str | None) -> dict[str, Any]:
        """Record fields it reads besides the server's calls, decoded from the reply's text ``content``.

        The same keys come back for no content, so every record has them.
        """
        ...

    def check(self, entry: BFCLEntry, record: Mapping[str, Any]) -> Verdict:
        """Its verdict on ``entry`` from the stored ``record`` (a reply, or a multi-turn conversation)."""
        ...

    def summary(self, tally: Tally) -> list[dict[str, Any]]:
        """Its summary rows (upper-case ``category``) after the per-category rows; none without entries."""
        ...


def percent(correct: int, total: int) -> float | None:
    """``correct`` of ``total`` as a percentage, None without entries."""
    return 100.0 * correct / total if total else None


def sums(tally: Tally, categories: Sequence[str]) -> tuple[int, int]:
    """(entries passed, entries) over those of ``categories`` in ``tally``."""
    parts = [tally[c] for c in categories if c in tally]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def summary_row(category: str, accuracy: float | None, correct: int | None, total: int | None, rules: str,
                note: str = "", scored: bool = True) -> dict[str, Any]:
    """One row of a rule set's table, as ``summary.json`` stores it."""
    return {"category": category, "accuracy": accuracy, "correct": correct, "total": total,
            "scored": scored, "note": note, "rules": rules}


def stored_verdict(verdict: Verdict, rules: str) -> dict[str, Any]:
    """A verdict as a record stores it: ``{"ok", "reason", "rules"}``, plus ``"scored": False`` for one the rules did
    not judge and ``"category"`` where they counted it under another category than the entry's (each only then,
    so the verdicts of an entry judged as it is are stored as they always were)."""
    stored: dict[str, Any] = {"ok": verdict.ok, "reason": verdict.reason, "rules": rules}
    if not verdict.scored:
        stored["scored"] = False
    if verdict.category:
        stored["category"] = verdict.category
    return stored


def request_failed(record: Mapping[str, Any]) -> str | None:
    """A verdict's reason when the entry's request failed at the API (the entry fails), else None.

    An entry whose first attempt failed and a retry answered fails too: it is
    scored by its first attempt, as the load it was asked under saw it (see
    :mod:`glmbench.bfcl.runner`).
    """
    if record.get("error"):
        return f"request failed: {record['error']}"
    if record.get("first_error"):
        return (f"request failed on its first attempt: {record['first_error']} "
                f"(the retried answer is kept in the record, not counted)")
    return None
