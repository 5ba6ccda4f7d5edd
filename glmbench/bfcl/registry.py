"""The BFCL rule sets glmbench knows: every module of ``glmbench.bfcl.rulesets`` that defines ``RULE_SET``.

Adding a rule set is adding such a module; nothing here or elsewhere lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from glmbench.bfcl.categories import TABLE
from glmbench.bfcl.ruleset import RuleSet

__all__ = ["rule_sets", "rule_set_names", "get_rule_set", "default_rule_set", "rule_set_title", "options_help"]

# Found by name at run time, as plugins are: the rule sets build on the rest of glmbench.bfcl
# (checkers, multi-turn, tool conversion), which reaches them only through this registry.
_PLUGINS = "glmbench.bfcl.rulesets"


@cache
def _found() -> dict[str, RuleSet]:
    package = importlib.import_module(_PLUGINS)
    found: list[RuleSet] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        rule_set = getattr(importlib.import_module(f"{_PLUGINS}.{info.name}"), "RULE_SET", None)
        if rule_set is not None:
            found.append(rule_set)
    found.sort(key=lambda r: (r.position, r.name))
    names = [r.name for r in found]
    if len(set(names)) != len(names):
        raise ImportError(f"two BFCL rule sets share a name: {names}")
    for r in found:  # refused here, before a misspelt category could leave a row scored by mistake
        unknown = sorted(set(r.unscored) - set(TABLE))
        if unknown:
            raise ImportError(f"BFCL rule set {r.name!r} leaves unknown categories unscored: {', '.join(unknown)}")
    return {r.name: r for r in found}


def rule_sets() -> tuple[RuleSet, ...]:
    """Every rule set, in their ``position`` order (the order of verdicts, tables and reports)."""
    return tuple(_found().values())


def rule_set_names() -> tuple[str, ...]:
    """The names of :func:`rule_sets`, in the same order."""
    return tuple(_found())


def get_rule_set(name: str) -> RuleSet:
    """The rule set called ``name``; an unknown name is a ValueError listing the known ones."""
    found = _found()
    if name not in found:
        raise ValueError(f"unknown BFCL rule set {name!r}; known: {', '.join(found)}")
    return found[name]


def default_rule_set() -> RuleSet:
    """The rule set a suite asks and shows first when it names none: the first in ``position`` order."""
    return rule_sets()[0]


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
