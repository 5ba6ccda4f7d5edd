"""The BFCL rule sets glmbench knows: every module of ``glmbench.bfcl.rulesets`` that defines ``RULE_SET``.

Adding a rule set is adding such a module; nothing here or elsewhere lists them.
Each comes back as a :class:`ReleaseRules`: the rule set itself, except that it
judges an entry of another BFCL release by that entry's twin in its own release
(:func:`~glmbench.bfcl.counterparts.counterpart`), or not at all, with the reason.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from typing import Any

from glmbench.bfcl.categories import same_category, table
from glmbench.bfcl.ruleset import RuleSet, Tally
from glmbench.bfcl.types import BFCLEntry, Verdict
from glmbench.bfcl.versions import DEFAULT_VERSION, VERSIONS

__all__ = ["rule_sets", "rule_set_names", "get_rule_set", "default_rule_set", "rule_set_title", "options_help",
           "ReleaseRules"]

# Found by name at run time, as plugins are: the rule sets build on the rest of glmbench.bfcl
# (checkers, multi-turn, tool conversion), which reaches them only through this registry.
_PLUGINS = "glmbench.bfcl.rulesets"


class ReleaseRules:
    """A rule set as the registry hands it out: the same rules, applied to its own BFCL release's entries.

    Everything is the rule set's own but :meth:`check`: an entry of another release
    is judged as its twin in the rule set's release (the verdict then names the
    twin's category when it differs), and where there is no twin the verdict is
    not scored (``scored`` False) and says why. A rule set that names no release is v3's.
    """

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.name: str = rules.name
        self.title: str = rules.title
        self.position: int = rules.position
        self.style_help: str = rules.style_help
        self.scoring_help: str = rules.scoring_help
        self.bfcl_version: str = getattr(rules, "bfcl_version", DEFAULT_VERSION)

    def __repr__(self) -> str:
        return f"ReleaseRules({self.rules!r})"

    @property
    def unscored(self) -> Mapping[str, str]:
        """The rule set's own: category (of its release) -> why it is not scored."""
        return self.rules.unscored

    def messages(self, entry: BFCLEntry) -> list[dict[str, Any]]:
        """The rule set's messages for ``entry`` as it is (a request asks the run's own entries)."""
        return self.rules.messages(entry)

    def tools(self, entry: BFCLEntry) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The rule set's tools for ``entry`` as it is."""
        return self.rules.tools(entry)

    def decoded_fields(self, content: str | None) -> dict[str, Any]:
        """The rule set's own decoded fields."""
        return self.rules.decoded_fields(content)

    def check(self, entry: BFCLEntry, record: Mapping[str, Any]) -> Verdict:
        """The rule set's verdict on ``entry``'s twin in its release; not scored, with why, where there is none."""
        from glmbench.bfcl.counterparts import counterpart

        twin = counterpart(entry, self.bfcl_version)
        if isinstance(twin, str):
            category = same_category(entry.category, entry.version, self.bfcl_version) or ""
            return Verdict(False, f"not scored: {twin}", self.name, scored=False,
                           category=category if category != entry.category else "")
        verdict = self.rules.check(twin, record)
        if twin.category != entry.category:
            verdict = dataclasses.replace(verdict, category=twin.category)
        return verdict

    def summary(self, tally: Tally) -> list[dict[str, Any]]:
        """The rule set's own summary rows."""
        return self.rules.summary(tally)


@cache
def _found() -> dict[str, ReleaseRules]:
    package = importlib.import_module(_PLUGINS)
    found: list[ReleaseRules] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        rule_set = getattr(importlib.import_module(f"{_PLUGINS}.{info.name}"), "RULE_SET", None)
        if rule_set is not None:
            found.append(ReleaseRules(rule_set))
    found.sort(key=lambda r: (r.position, r.name))
    names = [r.name for r in found]
    if len(set(names)) != len(names):
        raise ImportError(f"two BFCL rule sets share a name: {names}")
    for r in found:  # refused here, before a misspelt category could leave a row scored by mistake
        if r.bfcl_version not in VERSIONS:
            raise ImportError(f"BFCL rule set {r.name!r} scores unknown BFCL version {r.bfcl_version!r}")
        unknown = sorted(set(r.unscored) - set(table(r.bfcl_version)))
        if unknown:
            raise ImportError(f"BFCL rule set {r.name!r} leaves unknown categories unscored: {', '.join(unknown)}")
    return {r.name: r for r in found}


def rule_sets() -> tuple[ReleaseRules, ...]:
    """Every rule set, in their ``position`` order (the order of verdicts, tables and reports)."""
    return tuple(_found().values())


def rule_set_names() -> tuple[str, ...]:
    """The names of :func:`rule_sets`, in the same order."""
    return tuple(_found())


def get_rule_set(name: str) -> ReleaseRules:
    """The rule set called ``name``; an unknown name is a ValueError listing the known ones."""
    found = _found()
    if name not in found:
        raise ValueError(f"unknown BFCL rule set {name!r}; known: {', '.join(found)}")
    return found[name]


def default_rule_set(version: str = DEFAULT_VERSION) -> ReleaseRules:
    """The rule set a suite of BFCL release ``version`` asks and shows first when it names none: the first of that
    release's rule sets in ``position`` order (the first of all where it has none)."""
    found = rule_sets()
    return next((r for r in found if r.bfcl_version == version), found[0])


def rule_set_title(name: str) -> str:
    """The title of the table under ``name``; the name itself for a rule set glmbench no longer knows."""
    found = _found().get(name)
    return found.title if found is not None else name


def options_help() -> dict[str, str]:
    """Help for the options that pick a rule set by name: ``style`` (whose requests) and ``scoring`` (shown first)."""
    found = rule_sets()
    return {
        "style": "Requests as " + " or ".join(f"{r.style_help} ({r.name})" for r in found) + ".",
        "scoring": "Rules shown first: " + " or ".join(f"{r.name} ({r.scoring_help})" for r in found) + ".",
    }
