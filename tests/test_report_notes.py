"""The notes and messages beside the figures say what happened, in words that hold for the run at hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmbench.errors import GlmbenchError
from glmbench.results.records import RequestRecord

# What the load runners write for a request a Ctrl-C cut short (glmbench.results.records.INTERRUPTED).
INTERRUPTED = "interrupted before the stream ended"

_CAP = ("concurrency 8 not held: 52% of arrivals found at least 7 others in flight (median 7, least 5); the figures "
        "are for the load that arrived")


def _point(name: str, warning: str | None) -> dict:
    return {"cell": "sim", "point": name, "kind": "load", "status": "complete", "client_saturated": bool(warning),
            "client_warning": warning, "output_tok_s": 100.0}


def test_the_marks_say_which_points_had_a_saturated_client_and_which_a_cap_not_held() -> None:
    from glmbench.experiment.analysis import ExperimentReport, not_ranked
    from glmbench.metrics.client import client_health, client_overloaded, load_not_held
    from glmbench.report.experiment import mark, notes, point_table

    saturated = client_health([50_000_000] * 10, 0.0, 1.0)["client_warning"]
    assert isinstance(saturated, str)
    points = [_point("c8", _CAP), _point("c32", f"{saturated}; {_CAP}"), _point("c1", None)]
    assert [mark(p) for p in points] == ["~", "*", ""]
    assert [load_not_held(p) for p in points] == [True, True, False]
    assert [client_overloaded(p) for p in points] == [False, True, False]
    said = notes(ExperimentReport("e", Path("."), "complete", points=points))
    assert any(n.startswith("a point marked * had a client that read late: the latencies its note names") for n in said)
    assert any(n.startswith("a point marked ~ did not hold the load asked (a concurrency cap") for n in said)
    _, rows = point_table(ExperimentReport("e", Path("."), "complete", points=points))
    assert [r[1] for r in rows] == ["c8 ~", "c32 *", "c1"]
    # Only caps not held: no word of a client that read late.
    only = notes(ExperimentReport("e", Path("."), "complete", points=[_point("c8", _CAP)]))
    assert not any("read late" in n for n in only)
    assert not_ranked({**_point("c8", _CAP), "output_tok_s_per_gpu": 1.0}).startswith("concurrency cap not held")
    assert not_ranked({**points[1], "output_tok_s_per_gpu": 1.0}) == "the client read late: TTFT, ITL and E2E off by " \
                                                                        "its own delay"


def test_a_point_whose_client_only_sent_late_is_marked_for_its_load_not_its_latencies() -> None:
    from glmbench.experiment.analysis import not_ranked
    from glmbench.metrics.client import client_health
    from glmbench.report.experiment import mark

    # Requests left 20 ms late, reads on time (kernel stamps): TTFT, ITL and E2E hold; the load asked did not.
    late_sends = client_health([100_000] * 100, 0.5, 10, issue_lag_ns=[20_000_000] * 100)
    point = {**_point("r50", late_sends["client_warning"]), "client_flags": late_sends["client_flags"],
             "output_tok_s_per_gpu": 1.0}
    assert mark(point) == "~"
    assert not_ranked(point) == "requests left late: its figures are for the load that arrived"
    # A closed loop refilled late moves only its figures from schedule (its cap has its own check): ranked, unmarked.
    closed = {**_point("c8", "client sent late: TTFT from schedule and E2E from schedule off (issue lag mean 2 ms > 1 ms)"),
              "client_flags": ["ttft_due", "e2e_due"], "output_tok_s_per_gpu": 1.0, "tpot_ms_mean": 20.0}
    assert mark(closed) == "" and not_ranked(closed) is None


def test_the_cap_warning_is_the_one_the_marks_read() -> None:
    from glmbench.metrics.client import client_overloaded, concurrency_held, load_not_held

    # Closed loop of 8 that sagged: the warning the self-check writes is recognised as a cap not held.
    sessions = [(i * 10, i * 10 + 15) for i in range(100)]
    warning = concurrency_held(sessions, 8)["cap_warning"]
    assert isinstance(warning, str)
    assert load_not_held({"client_saturated": True, "client_warning": warning})
    assert not client_overloaded({"client_saturated": True, "client_warning": warning})


def _record(error: str | None) -> RequestRecord:
    return RequestRecord(workload="burst", index=0, prompt_tokens=1, max_tokens=1, due_ns=0, ok=error is None,
                         error=error)


def test_the_progress_line_counts_requests_cut_short_apart(capsys) -> None:
    from glmbench.cli.progress import TerminalProgress

    progress = TerminalProgress()
    progress.live = False
    progress.workload_started("burst", "burst", 2000)
    for _ in range(830):
        progress.request_done(_record(None))
    for _ in range(4):
        progress.request_done(_record("timeout"))
    for _ in range(1166):
        progress.request_done(_record(INTERRUPTED))
    assert progress.line() == "burst: 834/2000 done, 4 failed, 1166 cut short"
    progress.request_done({"error": INTERRUPTED})  # a BFCL record, as a dict
    assert progress.line().endswith("1167 cut short")


def test_the_interrupted_error_is_the_one_the_progress_line_reads() -> None:
    from glmbench.results import records

    assert records.INTERRUPTED == INTERRUPTED


def test_the_interrupted_note_counts_the_requests_that_ended_before_it() -> None:
    from glmbench.report.load_run import notes

    row = {"workload": "burst", "interrupted": True, "completed": 834, "failed": 1166,
           "errors": {INTERRUPTED: 1166}}
    said = notes([row])
    assert "burst: interrupted, figures cover the 834 requests that ended before it (1166 more cut short)" in said


@pytest.mark.parametrize(("dataset", "filter_named"), [("random", False), ("sharegpt", True)])
def test_the_approximate_token_note_fits_the_dataset_and_the_command(dataset: str, filter_named: bool) -> None:
    from glmbench.report.load_run import notes

    row = {"workload": "burst", "approximate_tokens": True, "dataset": dataset}
    (note,) = [n for n in notes([row]) if n.startswith("token lengths are approximate")]
    assert ("ShareGPT" in note) is filter_named
    assert "pass --tokenizer" not in note and "run it again with --tokenizer PATH" in note
    # A row written before rows named their dataset: the run's manifest says.
    (old,) = [n for n in notes([{**row, "dataset": None}], dataset) if n.startswith("token lengths")]
    assert old == note


def _load_folder(root: Path, name: str) -> Path:
    from glmbench.results.schema import BackendInfo, LoadSummary, Manifest
    from glmbench.results.store import RunStore

    store = RunStore(root, name)
    row = {"workload": "burst", "title": "burst", "completed": 4, "failed": 0, "output_tok_s": 12.5,
           "ttft_ms": 3.0, "e2e_ms": 9.0, "client_saturated": False, "client_warning": None, "errors": {},
           "approximate_tokens": True}
    store.write_summary(LoadSummary(run_id=name, rows=[row]))
    store.write_manifest(Manifest(run_id=name, status="complete", glmbench_version="test",
                                  backend=BackendInfo(name="sim", url="http://127.0.0.1:1/v1", model="m"), host={},
                                  suite="random", workloads=["burst"], dataset={"name": "random"}, seed=0,
                                  started_at="2026-12-07T00:00:00+00:00"))
    return store.path


def test_a_stored_random_run_is_not_told_about_sharegpt(tmp_path: Path) -> None:
    from glmbench.report.model import open_report

    report = open_report([_load_folder(tmp_path, "20261207-134718-sim-burst")])
    assert not any("ShareGPT" in n for n in report.notes)  # type: ignore[union-attr]


def test_a_single_run_html_report_has_no_run_column(tmp_path: Path) -> None:
    pytest.importorskip("pandas", reason="reports need pandas")
    from glmbench.report.formats.base import render
    from glmbench.report.formats.registry import get_format
    from glmbench.report.model import open_report

    one = _load_folder(tmp_path, "20261207-134718-sim-burst")
    html = render(get_format("html"), open_report([one])).text or ""
    assert "<th class=\"l\">Run</th>" not in html and html.count("20261207-134718-sim-burst") < 6
    two = render(get_format("html"), open_report([one, _load_folder(tmp_path, "other")])).text or ""
    assert "<th class=\"l\">Run</th>" in two


def test_report_on_a_folder_of_runs_names_the_newest_and_says_to_pass_one(tmp_path: Path) -> None:
    from glmbench.report.model import open_report

    for name in ("20261207-133543-sim-all", "20261207-133913-sim-burst-steady"):
        _load_folder(tmp_path, name)
    with pytest.raises(GlmbenchError) as caught:
        open_report([tmp_path])
    message, hint = caught.value.message, caught.value.hint or ""
    assert "holds runs" in message and "20261207-133913-sim-burst-steady" in message
    assert "no summary.json" not in message
    assert f"glmbench report {tmp_path / '20261207-133913-sim-burst-steady'}" in hint
    assert "\n" not in message
