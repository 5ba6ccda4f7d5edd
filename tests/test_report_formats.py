"""Output formats: one module each, found by name, every one drawing every kind of report; nothing started."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from glmbench.errors import GlmbenchError
from glmbench.report.formats.base import Format, Output, OutputFormat, render
from glmbench.report.formats.registry import (
    DEFAULT,
    formats,
    get_format,
    printed_formats,
)
from glmbench.report.model import (
    BFCLRunReport,
    ExperimentView,
    LoadRunReport,
    RunsReport,
    open_report,
)
from glmbench.results.schema import BFCLSummary, LoadSummary
from tests.conftest import run_cli

_BFCL = BFCLSummary(run_id="b", mode="native", style="lightllm", interrupted=True,
                    tables={"lightllm": [{"category": "simple", "accuracy": 50.0, "correct": 1, "total": 2,
                                          "note": "a|b"},
                                         {"category": "OVERALL", "accuracy": 50.0, "correct": 1, "total": 2}]})
_LOAD = LoadSummary(run_id="l", rows=[{"workload": "burst", "title": "burst", "completed": 4, "failed": 1,
                                       "errors": {"timeout": 1}, "output_tok_s": 12.5, "ttft_ms_mean": 3.0,
                                       "client_saturated": True}])


def test_every_format_module_is_found_by_its_name_default_first() -> None:
    found = formats()
    assert next(iter(found)) == DEFAULT == "table"
    assert set(found) == {"table", "json", "md", "csv", "html", "plots"}
    for name, fmt in found.items():
        assert fmt.name == name and fmt.help and isinstance(fmt, Format)
        module = sys.modules[type(fmt).__module__]
        assert module.__doc__ and type(fmt).__doc__
    # The plots are files, so --format does not offer them; --plots DIR writes them.
    assert "plots" not in printed_formats() and get_format("plots", printed=False).name == "plots"


def test_an_unknown_format_is_a_user_error_naming_the_known_ones() -> None:
    with pytest.raises(GlmbenchError) as caught:
        get_format("xml")
    assert caught.value.hint == "use one of table, csv, html, json, md"


@pytest.mark.parametrize("name", ["table", "json", "md", "csv"])
def test_the_text_formats_draw_one_run_of_each_kind(name: str) -> None:
    fmt: OutputFormat = get_format(name)
    for report in (LoadRunReport("run-a", _LOAD), BFCLRunReport("run-b", _BFCL)):
        output = render(fmt, report)
        assert isinstance(output, Output) and output.files is None
        if name == "table":
            assert output.console and output.text is None
        else:
            assert output.text and output.text.endswith("\n")
    md = render(get_format("md"), BFCLRunReport("run-b", _BFCL)).text or ""
    assert "| simple | 50.00% | 1/2 | a\\|b |" in md


def test_one_run_is_drawn_by_html_as_the_side_by_side_report_of_that_run(tmp_path: Path) -> None:
    # A summary shown straight after a run has no folder to read the side-by-side report from.
    with pytest.raises(GlmbenchError):
        render(get_format("html"), LoadRunReport("run-a", _LOAD))
    assert isinstance(LoadRunReport("r", _LOAD, tmp_path).as_runs, RunsReport)


def test_open_report_picks_the_kind_and_rejects_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(GlmbenchError, match="no result folder"):
        open_report([tmp_path / "nope"])
    assert isinstance(open_report([tmp_path, tmp_path]), RunsReport)
    assert ExperimentView(tmp_path).folder == tmp_path


def test_the_cli_lists_the_printed_formats_from_the_registry() -> None:
    res = run_cli("report", "--help")
    assert res.returncode == 0
    for name in printed_formats():
        assert f"{name}:" in res.stdout
    res = run_cli("report", ".", "--format", "xml")
    assert res.returncode != 0 and "use one of table, csv, html, json, md" in res.stderr + res.stdout
