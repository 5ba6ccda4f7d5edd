"""BFCL's multi-turn environment: its eight simulated APIs, loaded from the cached wheel of a BFCL release.

The classes (GorillaFileSystem, MathAPI, MessageAPI, TwitterAPI, TicketAPI,
TradingBot, TravelAPI, VehicleControlAPI) are BFCL's own code in
``bfcl_eval/eval_checker/multi_turn_eval/func_source_code/`` of the release's
wheel (``bfcl-eval==2025.6.8`` for v3, ``bfcl-eval==2026.3.23`` for v4; see
:mod:`glmbench.bfcl.data`), trusted like the data: they are the benchmark. Each
release has its own code (v4 changed all of them but MathAPI: ``cd`` refuses
paths, ``list_all_following`` returns a dict, a buy order needs the funds, ...),
so an entry runs on its own release's classes (:attr:`Scenario.version`), listed
per release in :data:`~glmbench.bfcl.environments.ENVIRONMENTS` (re-exported
here): the class -> module table, the helper modules the classes import, the
stateless classes. A release's other classes (v4's memory and web search) join
by a line in that table. They are in-memory simulations (a dict tree for the
file system, dicts for accounts and tickets); none of them opens a file, a socket
or a process (``gorilla_file_system`` imports :mod:`subprocess` and never uses it).

They are read from the wheel with :mod:`zipfile` and compiled once per process;
nothing is extracted or installed. Each :class:`BFCLModules` is a fresh execution
of that code under the private package name ``_glmbench_bfcl_env``: the
``bfcl_eval...func_source_code`` imports among the files resolve to the same
fresh copy, and nothing is put in :data:`sys.modules`, so an installed
``bfcl_eval`` neither clashes nor leaks in. A fresh copy matters: some methods
insert and then mutate module-level data (the long-context credit cards, the
weather record), so one copy shared by every entry would make a score depend on
the order entries ran in. Within one copy, as within BFCL's one process, such
data is shared by every instance, which the checker relies on to match BFCL.

An entry's :class:`Environment` is one instance per involved class, set up as
BFCL does: ``_load_scenario(deepcopy(initial_config.get(name, {})),
long_context=...)``, except for the stateless MathAPI, which gets no scenario;
long context is on when the entry id contains ``long_context`` or ``composite``.

MathAPI imports ``mpmath`` (BFCL pins 1.3.0).
"""

from __future__ import annotations

import builtins
import copy
import inspect
import threading
import types
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmbench.bfcl.data import cache_dir, cached_wheel, wheel_name
from glmbench.bfcl.environments import (
    CLASS_MODULES,
    ENVIRONMENTS,
    STATELESS_CLASSES,
    WHEEL_FOLDER,
    EnvironmentSpec,
    environment_spec,
)
from glmbench.bfcl.versions import DEFAULT_VERSION, version_info
from glmbench.errors import GlmbenchError

__all__ = [
    "CLASS_MODULES", "STATELESS_CLASSES", "ENVIRONMENTS", "EnvironmentSpec", "BFCLModules", "Environment",
    "Scenario", "environment_code", "environment_spec", "is_long_context", "new_environment", "public_state",
]

_BFCL_PACKAGE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
_PRIVATE_PACKAGE = "_glmbench_bfcl_env"


def is_long_context(entry_id: str) -> bool:
    """Whether BFCL loads this entry's scenario with its long-context extensions."""
    return "long_context" in entry_id or "composite" in entry_id


@dataclass(frozen=True)
class Scenario:
    """What an entry's environment is built from: the fields BFCL reads from a multi-turn entry, and the BFCL
    release whose classes it runs on."""

    entry_id: str
    involved_classes: tuple[str, ...]
    initial_config: Mapping[str, Any] = field(default_factory=dict)
    version: str = DEFAULT_VERSION

    @property
    def long_context(self) -> bool:
        """On when the id contains ``long_context`` or ``composite``, as in BFCL."""
        return is_long_context(self.entry_id)

    @classmethod
    def of(cls, entry: Any) -> Scenario:
        """The scenario of a loaded entry (``extra`` holds BFCL's fields; its release is ``entry.version``) or of
        BFCL's own entry dict (its release under ``"version"`` when set there, else v3)."""
        if isinstance(entry, Mapping):
            entry_id, extra, version = entry["id"], entry, entry.get("version") or DEFAULT_VERSION
        else:
            entry_id, extra = entry.id, getattr(entry, "extra", None) or {}
            version = getattr(entry, "version", None) or DEFAULT_VERSION
        involved = tuple(extra.get("involved_classes") or ())
        if not involved:
            raise ValueError(f"entry {entry_id} names no involved_classes: not a multi-turn entry")
        return cls(entry_id, involved, extra.get("initial_config") or {}, version)


# -- the code, compiled once ------------------------------------------------------

@dataclass(frozen=True)
class _Code:
    wheel: Path
    modules: dict[str, types.CodeType]
    spec: EnvironmentSpec


_code_lock = threading.Lock()
_code_cache: dict[tuple[Path, str], _Code] = {}


def environment_code(wheel: Path | None = None, version: str = DEFAULT_VERSION) -> _Code:
    """Release ``version``'s environment modules compiled from ``wheel`` (its verified cached wheel when None),
    once per process."""
    spec = environment_spec(version)
    if wheel is None:
        with _code_lock:  # verified once: hashing the wheel for every entry would cost more than the entry
            code = _code_cache.get((cache_dir() / wheel_name(version), version))
        if code is not None:
            return code
        wheel = cached_wheel(version)
        if wheel is None:
            raise GlmbenchError(f"BFCL's multi-turn environment needs {wheel_name(version)} in {cache_dir()}",
                                f"run {version_info(version).fetch_command}")
    wheel = Path(wheel)
    with _code_lock:
        code = _code_cache.get((wheel, version))
        if code is None:
            code = _code_cache[(wheel, version)] = _compile(wheel, spec)
    return code


def _compile(wheel: Path, spec: EnvironmentSpec) -> _Code:
    modules = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for stem in spec.stems:
                member = f"{WHEEL_FOLDER}{stem}.py"
                modules[stem] = compile(zf.read(member), f"{wheel}!{member}", "exec")
    except (OSError, KeyError, zipfile.BadZipFile, SyntaxError) as exc:
        raise GlmbenchError(f"cannot read BFCL's multi-turn environment from {wheel}: {type(exc).__name__}: {exc}",
                            f"run {version_info(spec.version).fetch_command} --force") from None
    return _Code(wheel, modules, spec)


# -- one fresh copy of the modules ---------------------------------------------------

class BFCLModules:
    """One fresh execution of a BFCL release's environment modules; module-level data belongs to this copy alone.

    A module runs when first needed (a class of it is asked for, or a module
    being run imports it). One that cannot run (``math_api`` without ``mpmath``)
    is an error naming the fix when its class is asked for. ``version`` is the
    release (v3 by default), ``wheel`` its wheel (the cached one by default).
    """

    def __init__(self, wheel: Path | None = None, *, version: str = DEFAULT_VERSION) -> None:
        self._code = environment_code(wheel, version)
        self.version = version
        self.modules: dict[str, types.ModuleType] = {}
        self._builtins = dict(vars(builtins), __import__=self._import)

    def module(self, stem: str) -> types.ModuleType:
        """The module ``stem`` (say ``gorilla_file_system``) of this copy, run on first use."""
        module = self.modules.get(stem)
        if module is None:
            compiled = self._code.modules[stem]
            module = types.ModuleType(f"{_PRIVATE_PACKAGE}.{stem}")
            module.__file__ = compiled.co_filename
            module.__package__ = _PRIVATE_PACKAGE
            module.__builtins__ = self._builtins  # type: ignore[attr-defined]  # routes the bfcl_eval imports here
            exec(compiled, vars(module))  # BFCL's own environment code from the verified wheel, not model text
            self.modules[stem] = module
        return module

    def _import(self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0 and name.startswith(_BFCL_PACKAGE + "."):
            stem = name[len(_BFCL_PACKAGE) + 1:]
            if stem not in self._code.modules:
                raise ImportError(f"{name} is not part of BFCL's multi-turn environment")
            return self.module(stem)
        shim = self._code.spec.shims.get(name) if level == 0 else None
        if shim is not None:
            return shim()
        return builtins.__import__(name, globals, locals, fromlist, level)

    @property
    def classes(self) -> Mapping[str, str]:
        """This release's classes, each with its module."""
        return self._code.spec.classes

    def environment_class(self, class_name: str) -> type:
        """The BFCL class named ``class_name`` from this copy."""
        stem = self.classes.get(class_name)
        if stem is None:
            raise GlmbenchError(f"unknown BFCL multi-turn class {class_name!r}",
                                f"BFCL's classes are {', '.join(self.classes)}")
        try:
            module = self.module(stem)
        except ImportError as exc:
            hint = (f"pip install {exc.name}" if exc.name
                    else f"run {version_info(self.version).fetch_command} --force")
            raise GlmbenchError(f"BFCL's {class_name} cannot be loaded: {exc}", hint) from None
        return getattr(module, class_name)


# -- an entry's instances -------------------------------------------------------------

@dataclass
class Environment:
    """The instances of one entry's involved classes, and which public method lives on which.

    ``methods`` maps a public method name to its class as BFCL builds that map:
    every bound method of each instance (``inspect.ismethod``) not starting with
    ``_``, in ``involved_classes`` order, a later class taking a name an earlier
    one has (no two of BFCL's eight classes share a public method name).
    ``broken`` is set when a call overran its time limit on a helper thread that
    may still be changing the instances; nothing more runs here then.
    """

    scenario: Scenario
    instances: dict[str, Any]
    methods: dict[str, str]
    modules: BFCLModules
    broken: str | None = None

    def method(self, name: str) -> Any:
        """The bound public method ``name`` of an involved instance, or None."""
        class_name = self.methods.get(name)
        return None if class_name is None else getattr(self.instances[class_name], name)

    def owner_elsewhere(self, name: str) -> str | None:
        """The BFCL class, not involved here, that has a public method ``name``: for a clearer refusal."""
        if name.startswith("_"):
            return None
        for class_name in self.modules.classes:
            if class_name in self.instances:
                continue
            try:
                cls = self.modules.environment_class(class_name)
            except GlmbenchError:
                continue
            if inspect.isfunction(getattr(cls, name, None)):
                return class_name
        return None


def new_environment(scenario: Scenario, modules: BFCLModules | None = None) -> Environment:
    """Fresh instances for ``scenario`` from ``modules`` (a fresh copy of the scenario's release when None), set up
    as BFCL does. ``modules`` of another release than the scenario's is a ValueError: its classes are not the
    ones the entry was written for."""
    modules = modules or BFCLModules(version=scenario.version)
    if modules.version != scenario.version:
        raise ValueError(f"entry {scenario.entry_id} is BFCL {scenario.version}'s; these modules are "
                         f"{modules.version}'s")
    stateless = modules._code.spec.stateless
    instances: dict[str, Any] = {}
    methods: dict[str, str] = {}
    for class_name in dict.fromkeys(scenario.involved_classes):
        instance = modules.environment_class(class_name)()
        if class_name not in stateless:
            config = copy.deepcopy(scenario.initial_config.get(class_name, {}))
            instance._load_scenario(config, long_context=scenario.long_context)
        instances[class_name] = instance
        for name, _ in inspect.getmembers(instance, predicate=inspect.ismethod):
            if not name.startswith("_"):
                methods[name] = class_name
    return Environment(scenario, instances, methods, modules)


def public_state(instance: Any) -> dict[str, Any]:
    """An instance's attributes that BFCL's state check compares: those not starting with ``_``."""
    return {name: value for name, value in vars(instance).items() if not name.startswith("_")}
