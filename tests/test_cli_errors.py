"""Errors that blame the right thing: each names what the user typed (the ``--set`` key, the option, the URL), the
name they probably meant, and the next step; one line and a ``next:`` line, exit 2, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from glmbench.errors import closest, did_you_mean
from tests.conftest import run_cli


def _error(res: subprocess.CompletedProcess, *needles: str, absent: tuple[str, ...] = ()) -> tuple[str, str]:
    """The error and next lines of a user mistake, after checking its shape and what it says (and does not)."""
    assert res.returncode == 2, (res.returncode, res.stdout[-500:], res.stderr[-2000:])
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("next: "), res.stderr
    for needle in needles:
        assert needle in res.stderr, (needle, res.stderr)
    for needle in absent:
        assert needle not in res.stderr, (needle, res.stderr)
    return lines[0], lines[1]


def test_did_you_mean_finds_the_typo_and_nothing_when_nothing_is_close() -> None:
    assert closest("vllm-mpt", ["vllm", "vllm-mtp", "sglang"]) == "vllm-mtp"
    assert closest("Simple", ["simple", "multiple"]) == "simple"  # case is never the typo
    assert closest("zzz", ["simple", "multiple"]) is None
    assert did_you_mean("brust", ["burst", "steady"]) == "; did you mean burst?"
    assert did_you_mean("zzz", ["burst"]) == ""


def test_a_set_key_that_is_an_option_of_the_simulator_is_not_blamed_on_its_config(tmp_path: Path) -> None:
    error, hint = _error(run_cli("run", "--set", "itl_ms=5", "--results-dir", str(tmp_path)),
                         "--set itl_ms=5", absent=("configs/sim.yaml", "Extra inputs"))
    assert "one of sim's options" in error and hint == "next: write --set options.itl_ms=5"


def test_an_unknown_option_key_names_the_key_the_likely_one_and_the_valid_ones(tmp_path: Path) -> None:
    error, hint = _error(run_cli("run", "--set", "options.itl=5", "--results-dir", str(tmp_path)),
                         absent=("Extra inputs", "sim options:"))
    assert error == "error: --set options.itl=5: sim has no option 'itl'; did you mean options.itl_ms?"
    assert "ttft_ms" in hint and "itl_ms" in hint and "max_running" in hint


@pytest.mark.parametrize(("item", "needles"), [
    ("tp=0", ("--set tp=0: Input should be greater than or equal to 1", "next: fix the --set value")),
    ("launch.knd=container", ("--set launch.knd=container: launch has no field 'knd'; did you mean launch.kind?",
                              "kind, entry")),
    ("modle=x", ("a backend config has no field 'modle'; did you mean model?",)),
    ("options.itl_ms=abc", ("--set options.itl_ms=abc: Input should be a valid number", "next: fix the --set value")),
])
def test_a_bad_set_names_the_set_not_the_file(tmp_path: Path, item: str, needles: tuple[str, ...]) -> None:
    _error(run_cli("run", "--set", item, "--results-dir", str(tmp_path)), *needles, absent=("configs/sim.yaml",))


def test_a_config_typo_says_which_config_was_meant_and_lists_them(tmp_path: Path) -> None:
    _, hint = _error(run_cli("run", "--config", "vllm-mpt", "--results-dir", str(tmp_path)),
                     "no backend config named 'vllm-mpt'; did you mean vllm-mtp?")
    shipped = sorted(p.stem for p in (Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert all(name in hint for name in shipped), hint


def test_backends_lists_every_shipped_config() -> None:
    from glmbench.api.launch import describe_backends

    shipped = {p.stem for p in (Path(__file__).parents[1] / "configs").glob("*.yaml")}
    rows = describe_backends()
    assert {r.config for r in rows} == shipped and len(rows) == len(shipped)
    assert "vllm-mtp" in {r.config for r in rows}
    # Each backend's configs together, its default first.
    backends = [r.backend for r in rows]
    assert backends == sorted(backends, key=backends.index)
    assert next(r.config for r in rows if r.backend == "vllm") == "vllm"


def test_an_endpoint_without_a_scheme_says_the_url_needs_one(tmp_path: Path) -> None:
    _, hint = _error(run_cli("bench", "--endpoint", "127.0.0.1:8000/v1", "--results-dir", str(tmp_path)),
                     "--endpoint 127.0.0.1:8000/v1: the URL needs http://", absent=("another service",))
    assert hint == "next: write --endpoint http://127.0.0.1:8000/v1"


def test_set_beside_an_endpoint_is_refused_not_ignored(tmp_path: Path) -> None:
    _error(run_cli("run", "--endpoint", "http://127.0.0.1:9/v1", "--set", "options.itl_ms=5",
                   "--results-dir", str(tmp_path)),
           "--set options.itl_ms=5 configures a server glmbench launches; with --endpoint", "drop --set",
           absent=("cannot reach",))


@pytest.mark.parametrize(("args", "option"), [
    (("--num-prompts", "0"), "--num-prompts"),
    (("--request-rate", "-1"), "--request-rate"),
    (("--dataset", "random", "--input-len", "0"), "--input-len"),
])
def test_a_bad_run_option_names_the_option_not_the_suite_field(tmp_path: Path, args: tuple[str, ...],
                                                                option: str) -> None:
    error, _ = _error(run_cli("run", *args, "--results-dir", str(tmp_path)), absent=("dataset.", "workloads."))
    assert error.startswith(f"error: {option}: ") and error.count(option) == 1  # said once, not per workload


def test_a_bfcl_category_typo_names_the_category_not_the_suite_file(tmp_path: Path) -> None:
    _error(run_cli("bfcl", "--categories", "simpel", "--results-dir", str(tmp_path)),
           "--categories: unknown category simpel; did you mean simple?", absent=("bfcl-v3.yaml",))


@pytest.mark.parametrize(("args", "needle"), [
    (("run", "-w", "brust"), "unknown workload 'brust' in suite 'sharegpt'; did you mean burst?"),
    (("run", "--backend", "simm"), "unknown backend 'simm'; did you mean sim?"),
    (("run", "--suite", "sharegp"), "unknown suite 'sharegp'; did you mean sharegpt?"),
    (("experiment", "run", "cpu-sm", "--dry-run"), "unknown experiment 'cpu-sm'; did you mean cpu-sim?"),
])
def test_a_misspelt_name_says_which_was_meant(args: tuple[str, ...], needle: str) -> None:
    _error(run_cli(*args), needle)


def test_an_unknown_metric_says_which_was_meant() -> None:
    from glmbench.compare import compare_results
    from glmbench.errors import GlmbenchError

    reference = Path(__file__).parents[1] / "results" / "reference" / "lightllm-4xh200"
    with pytest.raises(GlmbenchError, match="unknown load metric 'ttft_ms_p9'; did you mean ttft_ms_p99"):
        compare_results(reference, reference, 0.05, ["ttft_ms_p9"])


def test_report_on_two_experiments_points_at_compare(tmp_path: Path) -> None:
    folders = []
    for name in ("exp_a", "exp_b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.json").write_text("{}")
        folders.append(str(tmp_path / name))
    _, hint = _error(run_cli("report", *folders), "one experiment folder at a time", absent=("summary.json",))
    assert hint == f"next: glmbench compare {folders[0]} {folders[1]} compares them point by point"
