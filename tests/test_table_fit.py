"""Terminal tables in a narrow console: no empty cell, no cut name, no figure broken inside a word."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from glmbench.report.formats.registry import get_format
from glmbench.util.fitted_table import Column, FittedTable

_RUN_A, _RUN_B = "20261207-133543-sim-all", "20261207-133913-sim-burst-steady"
_WORKLOADS = (("burst", "burst", "all at t=0"), ("high-conc", "high-conc (512)", "closed loop, cap 512"),
              ("moderate", "moderate (10 req/s)", "Poisson 10 req/s"), ("steady", "steady (5 req/s)", "Poisson 5 req/s"))


def _row(workload: str, title: str, schedule: str, scale: float) -> dict:
    figures = {"completed": 200, "failed": 0, "request_s": 6.89 * scale, "output_tok_s": 1542.4 * scale,
               "total_tok_s": 3369.7 * scale, "duration_s": 29.0, "ttft_ms": 125.18 * scale,
               "e2e_ms": 5363.14 * scale, "loop_lag_ms_p99": 1.02, "issue_lag_ms_p99": 0.0, "client_cpu_pct": 5.0,
               "client_workers": 1}
    for tag in ("ttft", "itl", "tpot", "e2e"):
        figures.update({f"{tag}_ms_{stat}": 23.51 * scale * (i + 1) for i, stat in enumerate(("mean", "p50", "p90",
                                                                                            "p99"))})
    return {"workload": workload, "title": title, "description": schedule, "client_saturated": False,
            "client_warning": None, "errors": {}, **figures}


def _run(root: Path, name: str, scale: float) -> Path:
    folder = root / name
    folder.mkdir()
    rows = [_row(w, t, s, scale) for w, t, s in _WORKLOADS]
    (folder / "summary.json").write_text(json.dumps({"schema_version": 1, "run_id": name, "kind": "load", "rows": rows}))
    (folder / "manifest.json").write_text(json.dumps({
        "schema_version": 1, "run_id": name, "kind": "load", "status": "complete", "glmbench_version": "0", "suite": "sharegpt",
        "backend": {"name": "sim", "url": "http://x/v1", "model": "m"}, "host": {}, "workloads": [],
        "dataset": {"name": "sharegpt"}, "seed": 0, "started_at": "2026-12-07T13:35:43+00:00"}))
    return folder


def _printed(items, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), markup=False, emoji=False, highlight=False)
    for item in items:
        console.print(item)
    return console.file.getvalue()


def _cells(text: str) -> list[str]:
    """Every non-empty cell text of every table line."""
    return [c.strip() for line in text.splitlines() if "│" in line for c in line.split("│")[1:-1]]


@pytest.mark.parametrize("width", [80, 100])
def test_two_runs_side_by_side_keep_every_figure_whole(tmp_path: Path, width: int) -> None:
    pytest.importorskip("pandas", reason="reports need pandas")
    from glmbench.report.formats.base import render
    from glmbench.report.model import open_report

    paths = [_run(tmp_path, _RUN_A, 1.0), _run(tmp_path, _RUN_B, 0.374)]
    report = open_report(paths)
    text = _printed(render(get_format("table"), report).console, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    cells = _cells(text)
    # Every figure a cell shows is whole on one line: the speed cells with their differences included.
    tables = report.tables
    speed, detail = tables.display_speed(), tables.display_detail()
    shown = set(cells)
    for frame in (speed, detail):
        for row in frame.itertuples(index=False):
            for value in row[2:]:
                # On one line, or the figure on one and its difference (in brackets) on the next.
                figure, _, difference = str(value).partition(" (")
                assert str(value) in shown or (figure in shown and f"({difference}" in shown), (value, width)
    # The key columns' names are whole wherever they are; every figure column's header is there too.
    for name in (_RUN_A, _RUN_B, "burst", "high-conc"):
        assert name in shown
    for header in detail.columns[2:]:
        for word in header.split():
            assert word in text, header


def test_one_run_names_its_workloads_in_full_at_80_columns() -> None:
    rows = [_row(w, t, s, 1.0) for w, t, s in _WORKLOADS]
    fmt = get_format("table")
    text = _printed(fmt.speed(rows, "run").console, 80)
    cells = set(_cells(text))
    assert {"burst", "high-conc", "moderate", "steady"} <= cells
    assert "worklo…" not in text and "high-c…" not in text and "…" not in text
    # The schedule column breaks between words only.
    assert "Poisson" in text and "req/s" in text and "Poiss" not in text.replace("Poisson", "")


def test_experiment_points_table_breaks_no_word_at_100_columns() -> None:
    from glmbench.report.formats.terminal import _cells_table

    headers = ["server", "point", "status", "output tok/s", "TTFT mean ms", "TTFT p99 ms", "TPOT mean ms",
               "goodput req/s", "BFCL overall % (95% CI)", "Pareto"]
    rows = [["sim itl_ms=10", p, "complete", "1393", "100.6", "140.4", "10.37", "43.53", "0.00 (0.0-56.1)",
             "frontier"] for p in ("burst", "c1", "c8", "bfcl-v3")]
    text = _printed([_cells_table("experiment my-sim: points", headers, rows)], 100)
    cells = set(_cells(text))
    for word in ("complete", "frontier", "itl_ms=10", "0.00", "(0.0-56.1)"):
        assert any(word in c.split() for c in cells), word
    assert "complet" not in cells and "fronti" not in cells


def test_a_header_breaks_between_words_only() -> None:
    table = FittedTable("Detail", [Column("Workload"), Column("Run"), *(Column(f"completed {i}", "right")
                                                                      for i in range(12))],
                        [["burst", _RUN_B, *("200" for _ in range(12))]], keys=2)
    text = _printed([table], 130)
    assert "complete" not in text.replace("completed", "")
    assert "completed" in text


def test_a_table_too_narrow_even_for_its_keys_is_printed_row_by_row() -> None:
    table = FittedTable("Speed", [Column("Workload"), Column("Run"), Column("Output (tok/s)", "right")],
                        [["burst", _RUN_B, "577 (-966, -62.6%)"]], keys=2)
    text = _printed([table], 40)
    assert "Output (tok/s): 577 (-966, -62.6%)" in text and _RUN_B in text
