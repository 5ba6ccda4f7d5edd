"""Which simulated APIs each BFCL release has: the table behind :mod:`glmbench.bfcl.multi_turn.environment`.

BFCL's multi-turn (and v4's agentic) entries run on classes that are BFCL's own
code in ``bfcl_eval/eval_checker/multi_turn_eval/func_source_code/`` of the
release's wheel. :data:`ENVIRONMENTS` says, per release (:mod:`~glmbench.bfcl.versions`
version), which classes there are, the module each is defined in, the helper
modules they import and which keep no state; the environment module loads them
from it, and :mod:`glmbench.bfcl.counterparts` compares two releases' code of a
class (:func:`source_digests`). A class joins a release by one line here (and
its imports of modules outside ``func_source_code/`` by a stand-in in ``shims``).
"""

from __future__ import annotations

import hashlib
import threading
import types
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from glmbench.bfcl.versions import DEFAULT_VERSION, V3, V4
from glmbench.errors import GlmbenchError

__all__ = ["CLASS_MODULES", "STATELESS_CLASSES", "WHEEL_FOLDER", "EnvironmentSpec", "ENVIRONMENTS",
           "environment_spec", "source_digests"]

WHEEL_FOLDER = "bfcl_eval/eval_checker/multi_turn_eval/func_source_code/"
"""Where a wheel keeps the classes' modules."""

# BFCL's class -> the module (file stem) that defines it: the eight multi-turn classes, the same in v3 and v4.
CLASS_MODULES: dict[str, str] = {
    "GorillaFileSystem": "gorilla_file_system", "MathAPI": "math_api", "MessageAPI": "message_api",
    "TwitterAPI": "posting_api", "TicketAPI": "ticket_api", "TradingBot": "trading_bot",
    "TravelAPI": "travel_booking", "VehicleControlAPI": "vehicle_control",
}
# Classes BFCL never gives a scenario (they keep no state).
STATELESS_CLASSES: frozenset[str] = frozenset({"MathAPI"})


@dataclass(frozen=True)
class EnvironmentSpec:
    """What one BFCL release's environment is: its classes and the modules they are read from.

    ``classes`` maps a BFCL class to the module (file stem in ``func_source_code/``)
    that defines it; ``helpers`` are the other modules those import (``long_context``);
    ``stateless`` are the classes BFCL never gives a scenario; ``shims`` are stand-ins
    for modules outside ``func_source_code/`` that a class imports (by full name: a
    function returning the module), empty for the eight multi-turn classes.
    """

    version: str
    classes: Mapping[str, str]
    helpers: tuple[str, ...] = ("long_context",)
    stateless: frozenset[str] = STATELESS_CLASSES
    shims: Mapping[str, Callable[[], types.ModuleType]] = field(default_factory=dict)

    @property
    def stems(self) -> tuple[str, ...]:
        """Every module of this environment, helpers first."""
        return tuple(dict.fromkeys((*self.helpers, *self.classes.values())))


ENVIRONMENTS: dict[str, EnvironmentSpec] = {
    V3: EnvironmentSpec(V3, dict(CLASS_MODULES)),
    V4: EnvironmentSpec(V4, dict(CLASS_MODULES)),
}
"""Each BFCL release's environment, by :mod:`~glmbench.bfcl.versions` version."""


def environment_spec(version: str = DEFAULT_VERSION) -> EnvironmentSpec:
    """Release ``version``'s environment (a GlmbenchError naming the known releases for another)."""
    spec = ENVIRONMENTS.get(version)
    if spec is None:
        raise GlmbenchError(f"no BFCL multi-turn environment for version {version!r}",
                            f"use one of {', '.join(ENVIRONMENTS)}")
    return spec


_lock = threading.Lock()
_digests: dict[str, dict[str, str]] = {}


def source_digests(version: str) -> dict[str, str] | None:
    """The sha256 of each of release ``version``'s environment modules (by file stem), read from its cached wheel;
    None without the wheel (or when it cannot be read)."""
    from glmbench.bfcl.data import cached_wheel

    with _lock:
        found = _digests.get(version)
    if found is not None:
        return found
    try:
        wheel = cached_wheel(version)
        if wheel is None:
            return None
        with zipfile.ZipFile(wheel) as zf:
            found = {stem: hashlib.sha256(zf.read(f"{WHEEL_FOLDER}{stem}.py")).hexdigest()
                     for stem in environment_spec(version).stems}
    except (GlmbenchError, OSError, KeyError, zipfile.BadZipFile):
        return None
    with _lock:
        _digests[version] = found
    return found
