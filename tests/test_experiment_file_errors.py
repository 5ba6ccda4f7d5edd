"""A mistake in an experiment file is named where it is in the file (``servers.0.set: options.itl_mss``,
``load.options.num_prompts``, ``suites.0.options.categories``), never as the command-line option or the shipped
file it became, with the name that was probably meant; a YAML slip says its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmbench.errors import GlmbenchError
from tests.conftest import run_cli

_HEAD = "schema_version: 1\nname: t\n"


def _plan_error(tmp_path: Path, body: str) -> GlmbenchError:
    """The user error planning the experiment ``body`` raises (nothing starts)."""
    from glmbench.api.experiment import plan_experiment

    path = tmp_path / "exp.yaml"
    path.write_text(_HEAD + body)
    with pytest.raises(GlmbenchError) as caught:
        plan_experiment(path)
    return caught.value


@pytest.mark.parametrize(("body", "start", "absent"), [
    # A server's set and grid: the entry and key, not the --set it became.
    ("servers: [{backend: sim, set: {options.itl_mss: 5}}]\nload: {concurrency: [1]}",
     "servers.0.set: options.itl_mss: sim has no option 'itl_mss'; did you mean options.itl_ms?", "--set"),
    ("servers: [{backend: sim}, {backend: sim, grid: {options.ttft_ms: [1, -2]}}]\nload: {concurrency: [1]}",
     "servers.1.grid: options.ttft_ms: Input should be greater than or equal to 0", "--set"),
    ("servers: [{backend: sim, set: {tp: 0}}]\nload: {concurrency: [1]}",
     "servers.0.set: tp: Input should be greater than or equal to 1", "--set"),
    ("servers: [{backend: sim}, {config: vllm-mpt}]\nload: {concurrency: [1]}",
     "servers.1: no backend config named 'vllm-mpt'; did you mean vllm-mtp?", "--config"),
    # A run option: where load.options sets it, not --num-prompts.
    ("servers: [{backend: sim}]\nload: {concurrency: [1], options: {num_prompts: 0}}",
     "load.options.num_prompts: Input should be greater than or equal to 1", "--num-prompts"),
])
def test_a_server_or_load_mistake_names_its_place_in_the_file(tmp_path: Path, body: str, start: str,
                                                              absent: str) -> None:
    error = _plan_error(tmp_path, body)
    assert error.message.startswith(start), error.message
    assert absent not in error.message and "Value error" not in error.message
    assert error.exit_code == 2 and error.hint


@pytest.mark.parametrize(("body", "wanted"), [
    ("servers: [{backend: sim}]\nsuites: [{suite: bfcl-v3, options: {categories: [simpel]}}]",
     "exp.yaml: suites.0.options.categories: unknown category simpel; did you mean simple?"),
    ("servers: [{backend: sim}]\nload: {concurrency: [1], options: {num_prompt: 20}}",
     "exp.yaml: load.options.num_prompt: unknown run option; did you mean num_prompts?"),
    ("servers: [{backend: sim}]\nload: {workload: [burst]}", "exp.yaml: load.workload: unknown field; did you mean "
                                                             "workloads?"),
    ("servers: [{backend: sim}]\nload: {concurency: [1]}", "exp.yaml: load.concurency: unknown field; did you mean "
                                                           "concurrency?"),
    ("servers: [{backend: sim}]\nsuites: [{suite: bfcl-v3, concurency: [1]}]",
     "exp.yaml: suites.0.concurency: unknown field; did you mean concurrency?"),
    ("servers: [{backend: sim}]\nsuites: [{suite: bfcl-v3, options: {limt: 5}}]",
     "exp.yaml: suites.0.options.limt: unknown BFCL option; did you mean limit?"),
])
def test_a_misspelt_field_says_where_and_which_was_meant(tmp_path: Path, body: str, wanted: str) -> None:
    error = _plan_error(tmp_path, body)
    assert error.message.startswith(f"{tmp_path / wanted.split(':')[0]}:{wanted.split(':', 1)[1]}"), error.message
    for noise in ("Value error", "Extra inputs", "bfcl-v3.yaml", "entry"):
        assert noise not in error.message, (noise, error.message)


def test_an_unknown_option_with_nothing_close_lists_a_few_known_not_all(tmp_path: Path) -> None:
    error = _plan_error(tmp_path, "servers: [{backend: sim}]\nload: {concurrency: [1], options: {zzz: 1}}")
    assert error.message.startswith(f"{tmp_path / 'exp.yaml'}: load.options.zzz: unknown run option (known: ")
    assert error.message.endswith(", ...)") and len(error.message) < len(str(tmp_path)) + 200


def test_an_experiment_mistake_is_two_lines_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(_HEAD + "servers: [{backend: sim, set: {options.itl_mss: 5}}]\nload: {concurrency: [1]}\n")
    res = run_cli("experiment", "run", str(path), "--dry-run")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 2 and "Traceback" not in res.stderr, res.stderr
    assert lines[0] == "error: servers.0.set: options.itl_mss: sim has no option 'itl_mss'; did you mean options.itl_ms?"
    assert lines[1].startswith("next: valid keys under options.: ")


def test_invalid_yaml_says_the_line_column_and_problem(tmp_path: Path) -> None:
    error = _plan_error(tmp_path, "servers: [{backend: sim\n")
    assert error.message == (f"{tmp_path / 'exp.yaml'} is not valid YAML: line 4, column 1: expected ',' or '}}', but "
                             "got '<stream end>' (while parsing a flow mapping from line 3, column 11)")


def test_the_dry_run_prints_load_options_as_keys_and_values(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(_HEAD + "servers: [{backend: sim}]\nload: {concurrency: [1], options: {num_prompts: 20, "
                    "dataset: random, input_len: 64}}\nslo: {ttft: 200}\n")
    res = run_cli("experiment", "run", str(path), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert ("  every load point: suite sharegpt, options num_prompts=20, dataset=random, input_len=64; "
            "SLOs ttft=200 ms\n") in res.stdout
    assert "{" not in res.stdout
