"""BFCL data: the folder loader on a made-up mini set, the cached wheel, fetching, bad inputs.

No test here needs the network: the wheel tests build a small zip in the real
wheel's layout. The one ``bfcl_data`` test reads the real cached wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from glmbench.bfcl import data
from glmbench.bfcl.data import (
    WHEEL_NAME,
    BFCLDataInfo,
    LoadedEntry,
    cached_wheel,
    fetch_bfcl,
    load_bfcl,
)
from glmbench.bfcl.types import CATEGORIES
from glmbench.errors import GlmbenchError
from tests.conftest import REPO

MINI = Path(__file__).parent / "data" / "bfcl_mini"
MINI_COUNTS = {c: 3 if c == "simple" else 2 for c in CATEGORIES}


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache dir and no hub copy: the user's real cache is never touched."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "hub_snapshot", lambda download=False: None)
    return tmp_path / "xdg" / "glmbench" / "bfcl"


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    """A writable copy of the mini set, to damage."""
    return Path(shutil.copytree(MINI, tmp_path / "mini"))


def mini_wheel(path: Path) -> str:
    """A zip holding the mini set under ``bfcl_eval/data/``, as the real wheel holds BFCL's; returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bfcl_eval/__init__.py", "")
        for file in sorted(MINI.rglob("*")):
            if file.is_file():
                zf.write(file, "bfcl_eval/data/" + file.relative_to(MINI).as_posix())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_id(entries: list) -> dict[str, LoadedEntry]:
    return {e.id: e for e in entries}


# -- the folder loader --------------------------------------------------------

def test_mini_folder_loads_every_category():
    entries, info = load_bfcl(None, data_dir=MINI)
    assert info.counts == MINI_COUNTS
    assert len(entries) == sum(MINI_COUNTS.values())
    assert info.missing == {} and info.unanswered == {} and info.duplicates == {}
    assert info.source == f"dir:{MINI}"
    assert len(info.sha256) == 64
    assert info.count_mismatches()["simple"] == (3, 400)
    assert all(isinstance(e, LoadedEntry) for e in entries)


def test_ground_truth_is_joined_by_id_not_by_line():
    entries = by_id(load_bfcl(["simple"], data_dir=MINI)[0])
    # the answer file lists simple_2, simple_1, simple_0
    assert entries["simple_0"].ground_truth == [{"geometry.circle_area": {"radius": [3.0], "unit": ["m", ""]}}]
    assert list(entries["simple_2"].ground_truth[0]) == ["text.count_words"]


def test_categories_without_call_answers_have_none():
    entries = by_id(load_bfcl(["irrelevance", "live_irrelevance", "live_relevance", "rest"], data_dir=MINI)[0])
    assert all(e.ground_truth is None for e in entries.values())
    assert json.loads(entries["rest_0"].extra["expected_response"])["phase"] == "waxing gibbous"


def test_sql_sits_in_unused_datasets_and_its_single_turn_is_wrapped():
    entries = by_id(load_bfcl(["sql"], data_dir=MINI)[0])
    question = entries["sql_0"].question
    assert len(question) == 1 and question[0][0]["role"] == "user"
    assert entries["sql_0"].ground_truth[0]["sql.execute"]["table_name"] == ["books"]


def test_multi_turn_keeps_extras_and_builds_functions_from_class_docs():
    entries = by_id(load_bfcl(["multi_turn_base", "multi_turn_miss_func"], data_dir=MINI)[0])
    base = entries["multi_turn_base_1"]
    assert set(base.extra) == {"initial_config", "involved_classes", "path"}
    assert base.extra["involved_classes"] == ["MathAPI", "GorillaFileSystem"]
    assert [f["name"] for f in base.function] == ["mean", "square_root", "cd", "ls", "touch"]
    assert base.ground_truth == [["mean(numbers=[4.0, 8.0, 15.0])"], ["square_root(number=9.0)"]]
    assert entries["multi_turn_base_0"].extra["initial_config"]["GorillaFileSystem"]["root"]
    held = entries["multi_turn_miss_func_1"]
    assert "square_root" not in [f["name"] for f in held.function]
    assert held.extra["missed_function"] == {"1": ["square_root"]}
    assert [d["name"] for d in held.extra["missed_function_docs"]["1"]] == ["square_root"]


def test_a_subset_loads_only_what_was_asked():
    entries, info = load_bfcl(["java", "javascript", "java"], data_dir=MINI)
    assert info.counts == {"java": 2, "javascript": 2}
    assert {e.category for e in entries} == {"java", "javascript"}


# -- bad inputs ---------------------------------------------------------------

def test_unknown_category_lists_the_known_ones():
    with pytest.raises(GlmbenchError) as err:
        load_bfcl(["simple", "simpel"], data_dir=MINI)
    assert "simpel" in err.value.message
    assert "live_parallel_multiple" in err.value.hint and "multi_turn_base" in err.value.hint


def test_malformed_line_names_file_and_line(mini_copy: Path):
    file = mini_copy / "BFCL_v3_parallel.json"
    lines = file.read_text().splitlines()
    lines[1] = lines[1][:-5]
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(GlmbenchError, match=r"BFCL_v3_parallel\.json line 2: not valid JSON"):
        load_bfcl(["parallel"], data_dir=mini_copy)


def test_a_line_without_an_id_is_refused(mini_copy: Path):
    (mini_copy / "possible_answer" / "BFCL_v3_java.json").write_text('{"ground_truth": []}\n')
    with pytest.raises(GlmbenchError, match=r"possible_answer/BFCL_v3_java\.json line 1: not an object"):
        load_bfcl(["java"], data_dir=mini_copy)


def test_missing_folder_is_a_user_error(tmp_path: Path):
    with pytest.raises(GlmbenchError, match="BFCL data folder not found") as err:
        load_bfcl(None, data_dir=tmp_path / "nowhere")
    assert "--data-dir" in err.value.hint


def test_a_folder_without_bfcl_files_is_a_user_error(tmp_path: Path):
    with pytest.raises(GlmbenchError, match="no BFCL data in dir:") as err:
        load_bfcl(["simple"], data_dir=tmp_path)
    assert "glmbench data fetch bfcl" in err.value.hint


def test_missing_answers_are_counted_not_fatal(mini_copy: Path):
    answers = mini_copy / "possible_answer" / "BFCL_v3_multiple.json"
    answers.write_text(answers.read_text().splitlines()[0] + "\n")
    (mini_copy / "possible_answer" / "BFCL_v3_parallel.json").unlink()
    entries, info = load_bfcl(["multiple", "parallel"], data_dir=mini_copy)
    assert info.counts == {"multiple": 2, "parallel": 2}
    assert info.unanswered == {"multiple": ["multiple_1"], "parallel": ["parallel_0", "parallel_1"]}
    assert by_id(entries)["multiple_1"].ground_truth is None


def test_repeated_ids_are_reported(mini_copy: Path):
    file = mini_copy / "BFCL_v3_irrelevance.json"
    file.write_text(file.read_text() + file.read_text().splitlines()[0] + "\n")
    entries, info = load_bfcl(["irrelevance"], data_dir=mini_copy)
    assert len(entries) == 3 and info.duplicates == {"irrelevance": ["irrelevance_0"]}


def test_missing_category_files_and_class_docs_are_reported(mini_copy: Path):
    (mini_copy / "BFCL_v3_javascript.json").unlink()
    (mini_copy / "multi_turn_func_doc" / "math_api.json").unlink()
    _, info = load_bfcl(["simple", "javascript", "multi_turn_base"], data_dir=mini_copy)
    assert info.counts == {"simple": 3}
    assert info.missing["javascript"] == "BFCL_v3_javascript.json not found"
    assert "MathAPI" in info.missing["multi_turn_base"]


def test_unknown_source_and_conflicting_arguments():
    with pytest.raises(GlmbenchError, match="unknown BFCL data source"):
        load_bfcl(None, source="ftp")
    with pytest.raises(GlmbenchError, match="both given"):
        load_bfcl(None, source="cache", data_dir=MINI)
    with pytest.raises(GlmbenchError, match="needs a folder"):
        load_bfcl(None, source="dir")


def test_no_data_anywhere_says_what_to_run(user_cache: Path):
    with pytest.raises(GlmbenchError, match="^no BFCL data:") as err:
        load_bfcl(["simple"])
    assert err.value.hint == "run glmbench data fetch bfcl, or pass --data-dir DIR"


# -- the cached wheel and fetching ------------------------------------------------

def test_cached_wheel_is_read_in_place(user_cache: Path, monkeypatch: pytest.MonkeyPatch):
    sha = mini_wheel(user_cache / WHEEL_NAME)
    monkeypatch.setattr(data, "WHEEL_SHA256", sha)
    assert cached_wheel() == user_cache / WHEEL_NAME
    entries, info = load_bfcl(None)  # auto: no folder given, so the cache
    assert info.source.startswith("pypi:bfcl-eval==2025.6.8")
    assert info.sha256 == sha
    assert info.counts == MINI_COUNTS
    folder_entries, _ = load_bfcl(None, data_dir=MINI)
    assert entries == folder_entries


def test_cached_wheel_with_the_wrong_sha256_is_refused(user_cache: Path):
    mini_wheel(user_cache / WHEEL_NAME)
    with pytest.raises(GlmbenchError, match="has sha256") as err:
        load_bfcl(["simple"], source="cache")
    assert "--force" in err.value.hint


def test_fetch_keeps_a_verified_download_and_reuses_it(user_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path):
    sha = mini_wheel(tmp_path / "built.whl")
    monkeypatch.setattr(data, "WHEEL_SHA256", sha)
    calls = []

    def download(folder: Path, version: str) -> Path:
        calls.append(folder)
        return Path(shutil.copy(tmp_path / "built.whl", folder / WHEEL_NAME))

    monkeypatch.setattr(data, "_download", download)
    assert fetch_bfcl() == user_cache / WHEEL_NAME
    assert fetch_bfcl() == user_cache / WHEEL_NAME
    assert len(calls) == 1
    fetch_bfcl(force=True)
    assert len(calls) == 2
    assert [p.name for p in user_cache.iterdir()] == [WHEEL_NAME]  # no temporary folder left behind


def test_fetch_refuses_a_download_with_the_wrong_sha256(user_cache: Path, monkeypatch: pytest.MonkeyPatch):
    def download(folder: Path, version: str) -> Path:
        mini_wheel(folder / WHEEL_NAME)
        return folder / WHEEL_NAME

    monkeypatch.setattr(data, "_download", download)
    with pytest.raises(GlmbenchError, match="refused"):
        fetch_bfcl()
    assert not (user_cache / WHEEL_NAME).exists()
    assert cached_wheel() is None


def test_a_failed_pip_download_shows_pips_last_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    pip_said = "Collecting bfcl-eval\nERROR: No matching distribution\n"
    failed = subprocess.CompletedProcess([], 1, stdout="", stderr=pip_said)
    monkeypatch.setattr(data.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(GlmbenchError, match="pip could not download bfcl-eval==2025.6.8: ERROR: No matching"):
        data._download(tmp_path)


def test_extract_writes_bfcl_layout(tmp_path: Path):
    mini_wheel(tmp_path / "w.whl")
    out = data.extract_bfcl(tmp_path / "w.whl", tmp_path / "out")
    assert (out / "possible_answer" / "BFCL_v3_simple.json").is_file()
    assert not (out / "__init__.py").exists()
    assert load_bfcl(None, data_dir=out)[1].counts == MINI_COUNTS


# -- the command --------------------------------------------------------------

def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf")}
    return subprocess.run([sys.executable, "-m", "glmbench", "data", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=60)


def test_data_where_and_unknown_dataset(tmp_path: Path):
    res = _cli(tmp_path, "where")
    assert res.returncode == 0, res.stderr
    assert "2. cache: absent" in res.stdout and "3. hub:" in res.stdout
    res = _cli(tmp_path, "fetch", "squad")
    assert res.returncode == 2
    assert "error: unknown dataset 'squad'" in res.stderr and "next: use one of bfcl" in res.stderr


# -- the real data --------------------------------------------------------------

@pytest.mark.bfcl_data
def test_real_wheel_has_bfcl_v3_counts():
    wheel = cached_wheel()
    if wheel is None:
        if os.environ.get("GLMBENCH_REQUIRE_BFCL_DATA") == "1":
            pytest.fail("GLMBENCH_REQUIRE_BFCL_DATA=1 but the BFCL wheel is not cached: run glmbench data fetch bfcl")
        pytest.skip("the BFCL wheel is not cached (glmbench data fetch bfcl)")
    entries, info = load_bfcl(None, source="cache")
    assert isinstance(info, BFCLDataInfo)
    assert info.sha256 == data.WHEEL_SHA256
    assert info.missing == {} and info.unanswered == {}
    assert info.counts == CATEGORIES
    assert info.count_mismatches() == {}
    assert len(entries) == sum(CATEGORIES.values())
    # BFCL's own quirk: two live_relevance lines share an id (different questions)
    assert info.duplicates == {"live_relevance": ["live_relevance_3-3-0"]}
    # The repeated id is kept apart ("#2") so each entry has its own record.
    assert len({e.id for e in entries}) == len(entries)
    assert any(e.id == "live_relevance_3-3-0#2" for e in entries)
    multi = [e for e in entries if e.category.startswith("multi_turn")]
    assert all(e.function and "initial_config" in e.extra for e in multi)
