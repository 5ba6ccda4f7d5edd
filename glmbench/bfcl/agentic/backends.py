"""BFCL v4's agentic environments: its memory backends and web search, loaded from the v4 wheel.

The classes are BFCL's own code in ``func_source_code/`` of ``bfcl-eval==2026.3.23``
(``memory_kv.py``, ``memory_rec_sum.py``, ``memory_vector.py`` over
``memory_api_metaclass.py``; ``web_search.py``), compiled from the wheel once a
process and run as a fresh copy per entry under a private package name, with
nothing put in :data:`sys.modules`, as :mod:`glmbench.bfcl.multi_turn.environment`
does for v3's classes. Their imports of BFCL's own package resolve here: the
metaclass's ``bfcl_eval.utils`` helpers (used only by its snapshot files, which
glmbench does not write) and ``overrides.final`` (a marker) get stand-ins, so
BFCL's dependencies are not needed.

What each backend needs:

- ``kv``: ``rank_bm25`` (its key search is BM25+; ``pip install 'glmbench[bfcl-v4]'``);
- ``rec_sum``: nothing;
- ``vector``: numpy, faiss and sentence-transformers, and an embedding model: BFCL
  loads ``all-MiniLM-L6-v2`` from the hub at import; here the model comes from a
  local folder the user names (``embedding_model``), never from the network;
- web search: SerpAPI (``SERPAPI_API_KEY`` in the environment, read by BFCL's code
  and never logged here) and its packages (serpapi, requests, beautifulsoup4,
  html2text); it fetches pages from the internet.

Where a need is not met the category is not run, with the need as the reason
(:func:`not_run_reason`), never scored as zero.

Memory state between conversations. BFCL writes a memory entry's state to a
snapshot file at the end of each prerequisite conversation and loads the latest
snapshot of the scenario when the next conversation starts. Here the snapshot
is the same JSON object (``{"core_memory", "archival_memory"}`` for kv and
vector, ``{"memory"}`` for rec_sum), kept in memory and put through JSON as
BFCL's file is (:func:`snapshot`, :func:`restore`).
"""

from __future__ import annotations

import builtins
import copy
import importlib.util
import inspect
import json
import os
import threading
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from glmbench.bfcl.agentic.wheel import fetch_hint, v4_wheel
from glmbench.bfcl.multi_turn.environment import Environment, Scenario
from glmbench.errors import GlmbenchError

__all__ = [
    "AGENTIC_CLASSES", "MEMORY_BACKENDS", "AgenticOptions", "AgenticModules", "new_agentic_environment",
    "not_run_reason", "snapshot", "restore", "memory_context", "backend_of",
]

# BFCL's class -> the module (file stem) that defines it.
AGENTIC_CLASSES: dict[str, str] = {
    "MemoryAPI_kv": "memory_kv", "MemoryAPI_rec_sum": "memory_rec_sum", "MemoryAPI_vector": "memory_vector",
    "WebSearchAPI": "web_search",
}
# A memory category's backend -> its class.
MEMORY_BACKENDS: dict[str, str] = {"kv": "MemoryAPI_kv", "vector": "MemoryAPI_vector", "rec_sum": "MemoryAPI_rec_sum"}

_WHEEL_FOLDER = "bfcl_eval/eval_checker/multi_turn_eval/func_source_code/"
_BFCL_PACKAGE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
_PRIVATE_PACKAGE = "_glmbench_bfcl_v4_agentic"
_MODULE_STEMS = ("memory_api_metaclass", *AGENTIC_CLASSES.values())
_SEARCH_PACKAGES = {"serpapi": "google-search-results", "requests": "requests", "bs4": "beautifulsoup4",
                    "html2text": "html2text"}
_VECTOR_PACKAGES = {"numpy": "numpy", "faiss": "faiss-cpu", "sentence_transformers": "sentence-transformers"}
SEARCH_KEY = "SERPAPI_API_KEY"


@dataclass(frozen=True)
class AgenticOptions:
    """What the user provides for the agentic categories that need more than this machine has.

    ``embedding_model``: a local sentence-transformers model folder (memory_vector;
    BFCL uses all-MiniLM-L6-v2). ``search``: whether web search may run (it does
    when SerpAPI's key is in the environment, unless turned off).
    """

    embedding_model: Path | None = None
    search: bool = True
    wheel: Path | None = None


def backend_of(category: str) -> str | None:
    """The memory backend of ``memory_kv`` and the like (``kv``), None for another category."""
    if not category.startswith("memory_"):
        return None
    backend = category[len("memory_"):].removesuffix("_prereq")
    return backend if backend in MEMORY_BACKENDS else None


def _missing(packages: dict[str, str]) -> list[str]:
    return [pip for module, pip in packages.items() if importlib.util.find_spec(module) is None]


def not_run_reason(category: str, options: AgenticOptions | None = None) -> str | None:
    """Why an agentic category cannot run here (``"needs ..."``), or None when it can."""
    options = options or AgenticOptions()
    if category.startswith("web_search"):
        if not options.search or not os.environ.get(SEARCH_KEY):
            return f"needs a search service ({SEARCH_KEY})"
        missing = _missing(_SEARCH_PACKAGES)
        return f"needs {', '.join(missing)} (pip install {' '.join(missing)})" if missing else None
    backend = backend_of(category)
    if backend == "kv" and importlib.util.find_spec("rank_bm25") is None:
        return "needs rank_bm25 (pip install 'glmbench[bfcl-v4]')"
    if backend == "vector":
        if options.embedding_model is None:
            return "needs an embedding model (--embedding-model DIR)"
        if not Path(options.embedding_model).is_dir():
            return f"needs an embedding model: {options.embedding_model} is not a folder"
        missing = _missing(_VECTOR_PACKAGES)
        if missing:
            return f"needs {', '.join(missing)} (pip install {' '.join(missing)})"
    return None


# -- the code, compiled once ----------------------------------------------------------

_code_lock = threading.Lock()
_code_cache: dict[Path, dict[str, types.CodeType]] = {}


def _code(wheel: Path | None) -> dict[str, types.CodeType]:
    path = v4_wheel(wheel)
    with _code_lock:
        code = _code_cache.get(path)
        if code is not None:
            return code
    modules = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for stem in _MODULE_STEMS:
                member = f"{_WHEEL_FOLDER}{stem}.py"
                modules[stem] = compile(zf.read(member), f"{path}!{member}", "exec")
    except (OSError, KeyError, zipfile.BadZipFile, SyntaxError) as exc:
        raise GlmbenchError(f"cannot read BFCL v4's agentic classes from {path}: {type(exc).__name__}: {exc}",
                            f"delete it and run {fetch_hint()}") from None
    with _code_lock:
        _code_cache[path] = modules
    return modules


def _utils_stand_in() -> types.ModuleType:
    """``bfcl_eval.utils`` as the metaclass imports it: only its snapshot-file code calls these, which never runs."""
    module = types.ModuleType("bfcl_eval.utils")

    def not_here(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("BFCL's memory snapshot files are not used by glmbench")

    module.get_directory_structure_by_id = not_here  # type: ignore[attr-defined]
    module.is_first_memory_prereq_entry = not_here  # type: ignore[attr-defined]
    module.is_memory_prereq = not_here  # type: ignore[attr-defined]
    return module


def _overrides_stand_in() -> types.ModuleType:
    module = types.ModuleType("overrides")
    module.final = lambda f: f  # type: ignore[attr-defined]  # a marker for type checkers; no behaviour
    return module


def _encoder_stand_in(model_dir: Path) -> types.ModuleType:
    """``sentence_transformers`` whose model is the user's local folder, whatever name BFCL asks for."""
    import sentence_transformers  # type: ignore[import-not-found]  # only for memory_vector with a model given

    module = types.ModuleType("sentence_transformers")

    def local_model(name: str, *args: Any, **kwargs: Any) -> Any:
        return sentence_transformers.SentenceTransformer(str(model_dir), *args, **kwargs)

    module.SentenceTransformer = local_model  # type: ignore[attr-defined]
    return module


class AgenticModules:
    """One fresh execution of BFCL v4's agentic modules; their module-level data belongs to this copy alone."""

    def __init__(self, options: AgenticOptions | None = None) -> None:
        self.options = options or AgenticOptions()
        self._code = _code(self.options.wheel)
        self.modules: dict[str, types.ModuleType] = {}
        self._builtins = dict(vars(builtins), __import__=self._import)

    def module(self, stem: str) -> types.ModuleType:
        """The module ``stem`` (say ``memory_kv``) of this copy, run on first use."""
        module = self.modules.get(stem)
        if module is None:
            compiled = self._code[stem]
            module = types.ModuleType(f"{_PRIVATE_PACKAGE}.{stem}")
            module.__file__ = compiled.co_filename
            module.__package__ = _PRIVATE_PACKAGE
            module.__builtins__ = self._builtins  # type: ignore[attr-defined]  # routes BFCL's imports here
            exec(compiled, vars(module))  # BFCL's own code from the verified wheel, not model text
            self.modules[stem] = module
        return module

    def _import(self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0:
            if name.startswith(_BFCL_PACKAGE + "."):
                stem = name[len(_BFCL_PACKAGE) + 1:]
                if stem not in self._code:
                    raise ImportError(f"{name} is not part of BFCL v4's agentic environment")
                return self.module(stem)
            if name == "bfcl_eval.utils":
                return _utils_stand_in()
            if name == "overrides":
                return _overrides_stand_in()
            if name == "sentence_transformers" and self.options.embedding_model is not None:
                return _encoder_stand_in(Path(self.options.embedding_model))
        return builtins.__import__(name, globals, locals, fromlist, level)

    def environment_class(self, class_name: str) -> type:
        """The BFCL class named ``class_name`` from this copy."""
        stem = AGENTIC_CLASSES.get(class_name)
        if stem is None:
            raise GlmbenchError(f"unknown BFCL v4 agentic class {class_name!r}",
                                f"BFCL's agentic classes are {', '.join(AGENTIC_CLASSES)}")
        try:
            module = self.module(stem)
        except ImportError as exc:
            hint = "pip install 'glmbench[bfcl-v4]'" if exc.name == "rank_bm25" else (
                f"pip install {exc.name}" if exc.name else f"delete the wheel and run {fetch_hint()}")
            raise GlmbenchError(f"BFCL's {class_name} cannot be loaded: {exc}", hint) from None
        return cast(type, getattr(module, class_name))


def new_agentic_environment(entry_id: str, class_name: str, modules: AgenticModules | None = None,
                            state: dict[str, Any] | None = None, show_snippet: bool = True) -> Environment:
    """A fresh instance of ``class_name`` as the one-class environment of entry ``entry_id``.

    A memory class starts from ``state`` (a :func:`snapshot`; empty when None), as BFCL's
    starts from the scenario's latest snapshot file; web search gets ``show_snippet``.
    """
    modules = modules or AgenticModules()
    instance = modules.environment_class(class_name)()
    if class_name == "WebSearchAPI":
        instance._load_scenario({"show_snippet": show_snippet})
    elif state:
        restore(instance, state)
    methods = {name: class_name for name, _ in inspect.getmembers(instance, predicate=inspect.ismethod)
               if not name.startswith("_")}
    # Environment's modules are v3's; the agentic copy serves the same two calls (environment_class, modules).
    return Environment(Scenario(entry_id, (class_name,)), {class_name: instance}, methods, cast(Any, modules))


def snapshot(instance: Any) -> dict[str, Any]:
    """A memory instance's state as BFCL's snapshot file holds it, through JSON as the file is."""
    name = type(instance).__name__
    if name == "MemoryAPI_rec_sum":
        state: dict[str, Any] = {"memory": instance.memory}
    elif name == "MemoryAPI_vector":
        state = {"core_memory": instance.core_memory.export(), "archival_memory": instance.archival_memory.export()}
    else:
        state = {"core_memory": instance.core_memory, "archival_memory": instance.archival_memory}
    return cast(dict[str, Any], json.loads(json.dumps(state)))


def restore(instance: Any, state: dict[str, Any]) -> None:
    """Load a :func:`snapshot` into a fresh memory instance, as BFCL's ``_load_scenario`` loads its file."""
    name = type(instance).__name__
    if name == "MemoryAPI_rec_sum":
        if not isinstance(state.get("memory"), str):
            raise ValueError("a rec_sum snapshot's memory must be text")
        instance.memory = copy.deepcopy(state["memory"])
    elif name == "MemoryAPI_vector":
        instance.core_memory.load_from_snapshot(state["core_memory"])
        instance.archival_memory.load_from_snapshot(state["archival_memory"])
    else:
        instance.core_memory = copy.deepcopy(state["core_memory"])
        instance.archival_memory = copy.deepcopy(state["archival_memory"])


def memory_context(instance: Any) -> str:
    """What BFCL shows the model of a memory instance in its system prompt (``_dump_core_memory_to_context``)."""
    return str(instance._dump_core_memory_to_context())
