"""Faults found by the independent fault rig (issue 22) in experiments and the files around them.

Each is a user's mistake or a damaged file, and each must end as two lines
(``error:`` naming the problem, ``next:`` the step to take) with exit code 2,
quickly, with nothing already measured lost:

- an ``index.json`` of the wrong shape, or cut short, read by ``experiment run
  --resume``, ``report`` and ``compare``;
- a YAML alias bomb in an experiment, suite or config file, or a ``--set`` value;
- a grid of 10^12 server configurations, and ``--dry-run`` of a large one;
- names that would leave the results folder: an experiment server named ``..``,
  ``--run-id ../x`` or ``/abs``, ``--config ../../x``;
- control characters of a stored label in ``report --format csv``.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import pytest

from glmbench.errors import GlmbenchError
from tests.conftest import REPO, run_cli
from tests.test_faults import assert_outcome

_EXPERIMENT = """schema_version: 1
name: t
servers:
  - {name: a, backend: sim, grid: {options.itl_ms: [1, 2]}}
load:
  workloads: [burst]
  rate: [20]
  options: {num_prompts: 4, dataset: random, input_len: 16, output_len: 8}
"""

# Nine levels of nine: a few hundred bytes that stand for 9^9 (387 million) nodes.
_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


# ---------------------------------------------------------------- an experiment folder without a server

def _experiment_folder(tmp_path: Path, name: str = "exp") -> Path:
    """An experiment folder as ``experiment run`` leaves it before any server started: experiment.yaml and
    index.json, written by the runner's own code."""
    from glmbench.api.experiment_file import cells, load_experiment
    from glmbench.experiment.index import new_index, write_index
    from glmbench.experiment.run import cell_entries

    source = tmp_path / f"{name}.yaml"
    source.write_text(_EXPERIMENT)
    experiment = load_experiment(source)
    folder = tmp_path / name
    folder.mkdir()
    (folder / "experiment.yaml").write_text(_EXPERIMENT)
    index = new_index(experiment.name, cell_entries(cells(experiment)), "2025-01-01T00:00:00")
    index.status = "interrupted"
    write_index(folder, index)
    return folder


def _edit(folder: Path, change) -> None:
    index = json.loads((folder / "index.json").read_text())
    change(index)
    (folder / "index.json").write_text(json.dumps(index))


def _set(path: str, value):
    """An edit that sets the dotted ``path`` of the index (``cells.0.points``) to ``value``."""
    def change(index):
        *parents, last = path.split(".")
        node = index
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


def _drop(path: str):
    def change(index):
        *parents, last = path.split(".")
        node = index
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
    return change


# (the edit, the field path the error must name)
_DAMAGE = {
    "cells-not-a-list": (_set("cells", 5), "cells"),
    "cell-is-a-string": (_set("cells.0", "a"), "cells.0"),
    "cell-without-points": (_drop("cells.0.points"), "cells.0.points"),
    "points-not-a-list": (_set("cells.1.points", {"burst": 1}), "cells.1.points"),
    "point-status-not-a-string": (_set("cells.0.points.0.status", 3), "cells.0.points.0.status"),
    "point-without-label": (_drop("cells.0.points.1.label"), "cells.0.points.1.label"),
    "cell-label-a-list": (_set("cells.0.label", ["a"]), "cells.0.label"),
    "cell-folder-up": (_set("cells.0.folder", ".."), "cells.0.folder"),
    "point-folder-absolute": (_set("cells.0.points.0.folder", "/etc"), "cells.0.points.0.folder"),
    "unknown-field": (_set("cells.0.colour", "red"), "cells.0.colour"),
    "seconds-not-a-number": (_set("cells.0.points.0.seconds", "soon"), "cells.0.points.0.seconds"),
    "no-name": (_drop("name"), "name"),
}


def _readers(folder: Path, other: Path):
    """Every reader of an index, called as the commands call them."""
    from glmbench.api.experiment import run_experiment
    from glmbench.compare.experiments import compare_experiments
    from glmbench.report.experiment import experiment_report

    return {"resume": lambda: run_experiment(resume=folder),
            "report": lambda: experiment_report(folder),
            "compare": lambda: compare_experiments(other, folder)}


@pytest.mark.parametrize("damage", list(_DAMAGE))
def test_an_index_of_the_wrong_shape_is_one_line_naming_the_field(tmp_path: Path, damage: str) -> None:
    change, field = _DAMAGE[damage]
    good, folder = _experiment_folder(tmp_path, "good"), _experiment_folder(tmp_path, "bad")
    _edit(folder, change)
    before = (folder / "index.json").read_text()
    for reader, call in _readers(folder, good).items():
        with pytest.raises(GlmbenchError) as caught:
            call()
        message = caught.value.message
        assert f"{folder / 'index.json'} is damaged: {field}:" in message, (reader, message)
        assert "\n" not in message and "--results-dir" in caught.value.hint and "--resume" in caught.value.hint
    assert (folder / "index.json").read_text() == before  # nothing rewritten, nothing measured lost


def test_a_cut_short_index_is_damaged_not_missing(tmp_path: Path) -> None:
    good, folder = _experiment_folder(tmp_path, "good"), _experiment_folder(tmp_path, "bad")
    text = (folder / "index.json").read_text()
    (folder / "index.json").write_text(text[:len(text) // 2])
    for reader, call in _readers(folder, good).items():
        with pytest.raises(GlmbenchError, match="is damaged: not valid JSON") as caught:
            call()
        assert "no experiment index" not in caught.value.message, reader
    (folder / "index.json").unlink()
    with pytest.raises(GlmbenchError, match="no experiment index"):
        _readers(folder, good)["report"]()


def test_a_good_index_reads_back_as_written(tmp_path: Path) -> None:
    """The check changes nothing for a good index: the runner writes back exactly what it read."""
    from glmbench.experiment.index import read_index

    folder = _experiment_folder(tmp_path)
    written = json.loads((folder / "index.json").read_text())
    assert read_index(folder).to_json() == written
    ran = copy.deepcopy(written)  # as a cell that ran a sweep and a capacity search on Ray leaves it
    ran["cells"][0].update(sweep={"sync_request_s": 1.5, "max_request_s": 9.0, "rates": [3.0, 6.0]},
                           capacity={"by": "rate", "attainment_target": 0.99, "value": 4.0, "above": 8.0,
                                     "probes": [{"load": 4.0, "attained": 1.0, "held": True}], "reason": "x"},
                           placement={"node_name": "n1", "ranks": []}, command=["python", "-m", "glmbench"])
    (folder / "index.json").write_text(json.dumps(ran))
    assert read_index(folder).to_json() == ran


@pytest.mark.parametrize("command", ["resume", "report", "compare"])
def test_a_damaged_index_at_the_command_line_is_two_lines(tmp_path: Path, command: str) -> None:
    good, folder = _experiment_folder(tmp_path, "good"), _experiment_folder(tmp_path, "bad")
    _edit(folder, _set("cells.0.points.0", "burst"))
    args = {"resume": ("experiment", "run", "--resume", str(folder)), "report": ("report", str(folder)),
            "compare": ("compare", str(good), str(folder))}[command]
    res = run_cli(*args, timeout=60)
    assert_outcome(res, 2, "index.json is damaged: cells.0.points.0:")
    assert not (folder / "a_itl_ms=1").exists()  # resume started nothing


# ---------------------------------------------------------------- YAML alias bombs

@pytest.mark.parametrize("where", ["set", "options"])
def test_an_alias_bomb_in_an_experiment_file_is_refused_at_once(tmp_path: Path, where: str) -> None:
    path = tmp_path / "bomb.yaml"
    use = ("servers: [{backend: sim, set: {options.x: *a8}}]\nload: {workloads: [burst]}" if where == "set" else
           "servers: [{backend: sim}]\nload: {workloads: [burst], options: {extra_body: {x: *a8}}}")
    path.write_text(f"schema_version: 1\nname: bomb\n{_BOMB}{use}\n")
    started = time.monotonic()
    res = run_cli("experiment", "run", str(path), "--results-dir", str(tmp_path / "r"), timeout=60)
    assert time.monotonic() - started < 30
    assert_outcome(res, 2, f"{path}: YAML aliases expand to")
    assert not (tmp_path / "r").exists()


def test_every_user_yaml_goes_through_the_safe_loader(tmp_path: Path) -> None:
    from glmbench.backends.config import apply_overrides, load_backend_config
    from glmbench.load.workload import load_suite

    config, suite = tmp_path / "c.yaml", tmp_path / "s.yaml"
    config.write_text(f"backend: sim\n{_BOMB}")
    suite.write_text(f"{_BOMB}workloads: {{}}\n")
    for load, path in ((load_backend_config, config), (load_suite, suite)):
        with pytest.raises(GlmbenchError, match=f"{path}: YAML aliases expand to"):
            load(str(path))
    flow = "[" + ", ".join(["&a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]) + "]"
    with pytest.raises(GlmbenchError, match="--set options.x: YAML aliases expand to"):
        apply_overrides({}, [f"options.x={flow}"])
    loop = tmp_path / "loop.yaml"
    loop.write_text("backend: sim\noptions: &o {self: *o}\n")
    with pytest.raises(GlmbenchError, match="refers to a block that contains it"):
        load_backend_config(str(loop))


def test_a_few_anchors_still_load(tmp_path: Path) -> None:
    from glmbench.api.experiment_file import cells, load_experiment

    path = tmp_path / "anchors.yaml"
    path.write_text("""schema_version: 1
name: anchors
servers:
  - {name: fast, backend: sim, set: &fast {options.ttft_ms: 5, options.itl_ms: 1}}
  - name: slow
    backend: sim
    set: {<<: *fast, options.itl_ms: 4}
load:
  workloads: [burst]
  options: &opts {num_prompts: 4, dataset: random}
""")
    planned = cells(load_experiment(path))
    assert [c.overrides for c in planned] == [{"options.ttft_ms": 5, "options.itl_ms": 1},
                                              {"options.ttft_ms": 5, "options.itl_ms": 4}]


# ---------------------------------------------------------------- large grids

def _grid(tmp_path: Path, keys: int) -> Path:
    """A grid of ``keys`` keys of ten values each; the first three are simulator options that resolve."""
    names = ["options.itl_ms", "options.ttft_ms", "options.max_running"] + [f"options.k{i}" for i in range(keys)]
    grid = ", ".join(f"{name}: [{', '.join(str(v) for v in range(1, 11))}]" for name in names[:keys])
    path = tmp_path / f"grid{keys}.yaml"
    path.write_text(f"schema_version: 1\nname: grid\nservers:\n  - {{name: g, backend: sim, grid: {{{grid}}}}}\n"
                    "load: {workloads: [burst]}\n")
    return path


def test_a_grid_of_a_trillion_cells_is_refused_before_it_is_built(tmp_path: Path) -> None:
    from glmbench.api.experiment_file import MAX_CELLS, count_cells, load_experiment

    path = _grid(tmp_path, 12)
    assert count_cells(load_experiment(path)) == 10 ** 12 > MAX_CELLS
    for args in (("--dry-run",), ("--results-dir", str(tmp_path / "r"))):
        started = time.monotonic()
        res = run_cli("experiment", "run", str(path), *args, timeout=60)
        assert time.monotonic() - started < 30
        assert_outcome(res, 2, "the experiment has 1,000,000,000,000 server configurations, more than the 10,000")
        assert "fewer values per key" in res.stderr
    assert not (tmp_path / "r").exists()


def test_dry_run_of_a_large_grid_is_bounded_and_resolves_each_config_once(tmp_path: Path, monkeypatch,
                                                                          capsys) -> None:
    import glmbench.api.experiment as runner
    import glmbench.api.launch as launch
    from glmbench.cli.experiment import _print_plan

    resolved = []
    real = launch.resolve_config

    def counted(cell_launch):
        resolved.append(cell_launch.sets)
        return real(cell_launch)

    monkeypatch.setattr(runner, "resolve_config", counted)
    monkeypatch.setattr(launch, "resolve_config", counted)
    started = time.monotonic()
    _print_plan(str(_grid(tmp_path, 3)))
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert len(resolved) == 1000 and len({tuple(s) for s in resolved}) == 1000  # each cell once
    assert "1000 server configurations" in out and "... and 950 more server configurations" in out
    assert len(out.splitlines()) < 120 and took < 30


# ---------------------------------------------------------------- names that would leave the results folder

def test_a_server_named_dot_dot_deletes_nothing(tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "r20").mkdir(parents=True)
    (results / "r20" / "precious.txt").write_text("measured last week")
    path = tmp_path / "exp.yaml"
    path.write_text(_EXPERIMENT.replace("name: a,", "name: '..',").replace(", grid: {options.itl_ms: [1, 2]}", ""))
    res = run_cli("experiment", "run", str(path), "--results-dir", str(results), timeout=60)
    assert_outcome(res, 2, "servers.0.name: '..' cannot name a folder")
    assert (results / "r20" / "precious.txt").read_text() == "measured last week"
    assert sorted(p.name for p in results.iterdir()) == ["r20"]


@pytest.mark.parametrize("body,field", [
    ("servers: [{name: ../x, backend: sim}]\nload: {workloads: [burst]}", "servers.0.name"),
    ("servers: [{name: .hidden, backend: sim}]\nload: {workloads: [burst]}", "servers.0.name"),
    ("servers: [{backend: sim}]\nload: {workloads: [..]}", "load.workloads.0"),
    ("servers: [{backend: sim}]\nload: {workloads: [burst, ...]}", "load.workloads.1"),
])
def test_names_that_become_folders_are_checked(tmp_path: Path, body: str, field: str) -> None:
    from glmbench.api.experiment_file import cells, load_experiment

    path = tmp_path / "exp.yaml"
    path.write_text(f"schema_version: 1\nname: n\n{body}\n")
    with pytest.raises(GlmbenchError) as caught:
        cells(load_experiment(path))
    assert field in caught.value.message
    assert "cannot name a folder" in caught.value.message or "makes no folder name" in caught.value.message


def test_folder_names_and_deletes_stay_inside_the_run(tmp_path: Path) -> None:
    from glmbench.api.experiment_file import folder_name
    from glmbench.experiment.executors.ray import _unpack
    from glmbench.util.paths import check_name, remove_tree

    assert folder_name("fast itl_ms=10", "server") == "fast_itl_ms=10"  # as experiments always named them
    assert folder_name("./my.yaml", "server") == "_my.yaml"
    for bad in ("..", ".", "", "a/b", "/abs", "x" * 300):
        with pytest.raises(GlmbenchError, match="run id"):
            check_name(bad, "run id")
    with pytest.raises(GlmbenchError, match="makes no folder name"):
        folder_name("..", "point")
    run, outside = tmp_path / "run", tmp_path / "outside"
    (run / "cell" / "c2").mkdir(parents=True)
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    for target in (outside, run / ".." / "outside", run):
        with pytest.raises(GlmbenchError, match="refusing to delete"):
            remove_tree(target, run)
    (run / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(GlmbenchError, match="refusing to delete"):
        remove_tree(run / "link", run)
    with pytest.raises(GlmbenchError, match="cell folder"):
        _unpack(b"", run / "cell", "..")  # a Ray cell's folder comes back only into its own place
    assert (outside / "keep.txt").exists() and (run / "cell" / "c2").is_dir()
    remove_tree(run / "cell" / "c2", run / "cell")
    assert not (run / "cell" / "c2").exists()


@pytest.mark.parametrize("command", ["run", "bench"])
@pytest.mark.parametrize("run_id", ["../x", "ABS"])
def test_a_run_id_that_leaves_the_results_dir_is_refused(tmp_path: Path, command: str, run_id: str) -> None:
    run_id = str(tmp_path / "abs") if run_id == "ABS" else run_id
    target = ["--backend", "sim"] if command == "run" else ["--endpoint", "http://127.0.0.1:9/v1"]
    res = run_cli(command, *target, "--run-id", run_id, "--num-prompts", "2", "--dataset", "random",
                  "--results-dir", str(tmp_path / "r" / "results"), timeout=60)
    assert_outcome(res, 2, f"--run-id {run_id!r} cannot name a folder")
    assert list(tmp_path.iterdir()) == []  # no folder anywhere: not under --results-dir, not beside it
    from glmbench.results.store import RunStore

    with pytest.raises(GlmbenchError, match="--run-id"):
        RunStore(tmp_path / "results", run_id)  # the one place result folders are made checks it too
    assert list(tmp_path.iterdir()) == []


def test_a_config_name_is_looked_up_only_in_configs(tmp_path: Path) -> None:
    from glmbench.backends.config import config_path

    evil = tmp_path / "evil.yaml"
    evil.write_text("backend: sim\n")
    name = os.path.relpath(tmp_path / "evil", REPO / "configs")  # ../../.../evil: configs/<name>.yaml is evil.yaml
    with pytest.raises(GlmbenchError, match="no backend config named"):
        config_path(name)
    res = run_cli("run", "--config", name, "--results-dir", str(tmp_path / "r"), timeout=60)
    assert_outcome(res, 2, "no backend config named")
    assert config_path("vllm-mtp").parent.name == "configs"  # a plain name still finds the shipped file
    assert config_path(str(evil)) == evil  # and an explicit path to a YAML file is still the user's to pass


# ---------------------------------------------------------------- control characters in CSV

_HOSTILE = "hostile\x1b]0;pwned\x07\x1b[2J"


def test_csv_reports_show_control_characters_as_data(tmp_path: Path) -> None:
    """A stored label, workload title and server label with ESC and BEL: every CSV writes them out."""
    from glmbench.results.schema import BackendInfo, LoadSummary, Manifest
    from glmbench.results.store import RunStore

    runs = []
    for name in ("one", "two"):
        store = RunStore(tmp_path / "runs", name)
        store.write_summary(LoadSummary(run_id=name, rows=[{"workload": "burst", "title": _HOSTILE, "completed": 2,
                                                            "failed": 0, "output_tok_s": 10.0}]))
        store.write_manifest(Manifest(run_id=name, status="complete", glmbench_version="test",
                                      backend=BackendInfo(name="sim", url="http://127.0.0.1:1/v1", model=_HOSTILE),
                                      host={}, suite="sharegpt", workloads=["burst"], dataset={}, seed=0,
                                      started_at="2026-01-01T00:00:00Z", label=_HOSTILE + name))
        runs.append(store.path)
    folder = _experiment_folder(tmp_path)
    _edit(folder, _set("cells.0.label", _HOSTILE))
    for args in ((str(runs[0]),), (str(runs[0]), str(runs[1])), (str(folder),)):
        res = run_cli("report", *args, "--format", "csv", timeout=60)
        assert_outcome(res, 0)
        assert "\x1b" not in res.stdout and "\x07" not in res.stdout, res.stdout
        assert "hostile\\x1b]0;pwned\\x07\\x1b[2J" in res.stdout, res.stdout
