"""``--format html`` and ``glmbench report --out FILE``: one self-contained page: inline CSS, plots as base64
images, no scripts, no external URLs.

Every text that came from a run (labels, model names, commands, error reasons,
BFCL notes) passes through :func:`escape`: control characters made visible, then
:func:`html.escape`; a server cannot inject markup. One run is shown as the
side-by-side report of that run.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape as _html_escape
from typing import TYPE_CHECKING, Any

from glmbench.report.formats.base import Format, Output
from glmbench.util.text import visible

if TYPE_CHECKING:
    from glmbench.report.figures import Plot
    from glmbench.report.model import EquivalenceRunReport, ExperimentView, RunsReport
    from glmbench.report.runs import ReportRun

__all__ = ["Html", "FORMAT", "page", "figure_html", "escape"]


def escape(text: Any) -> str:
    """Text from a run as HTML: control characters written out, markup characters escaped."""
    return _html_escape(visible(text))


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1400px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right;vertical-align:top}
th{background:#f2f4f7}td.l,th.l{text-align:left}
tbody tr:nth-child(even){background:#fafbfc}
code{font-size:.85em;word-break:break-all}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}.note{color:#8a4b00}
table.speed td:nth-child(-n+2),table.detail td:nth-child(-n+2){white-space:nowrap}
"""


def _table(frame: Any, left: int = 2, cls: str = "") -> str:
    """A display frame: the first ``left`` columns left-aligned."""
    head = "".join(f'<th class="{"l" if i < left else ""}">{escape(str(c))}</th>' for i, c in enumerate(frame.columns))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{escape(str(v))}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in frame.itertuples(index=False))
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _run_rows(runs: Sequence[ReportRun]) -> str:
    out = []
    for run in runs:
        m = run.manifest
        facts: dict[str, Any] = {"kind": run.kind, "folder": str(run.path)}
        if m is not None:
            b = m.backend
            facts.update({"backend": f"{b.name} {b.version or ''}".strip(), "model": b.model,
                          "command": " ".join(b.command) if b.command else f"(external endpoint {b.url})",
                          "gpu": ", ".join(m.gpu) or "-", "host": m.host.get("hostname", "-"),
                          "dataset": m.dataset.get("name", "-"), "status": m.status,
                          "started": m.started_at, "finished": m.finished_at or "-", "git": m.git_sha or "-"})
        cells = "".join(f"<tr><th class=\"l\">{escape(k)}</th><td class=\"l\"><code>{escape(str(v))}</code></td></tr>"
                        for k, v in facts.items())
        out.append(f"<h3>{escape(run.label)}</h3><table>{cells}</table>")
    return "".join(out)


def figure_html(plot: Plot) -> str:
    """A plot as an inline SVG image with its caption."""
    from glmbench.report.figures import figure_bytes

    data = base64.b64encode(figure_bytes(plot, "svg")).decode("ascii")
    return (f'<figure><img alt="{escape(plot.title)}" src="data:image/svg+xml;base64,{data}">'
            f"<figcaption>{escape(plot.title)}</figcaption></figure>")


def page(title: str, body: str) -> str:
    """A whole self-contained HTML page around ``body`` (already escaped)."""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>\n{body}\n</body></html>")


def _runs_page(report: RunsReport) -> str:
    """Speed, detail, BFCL (with its notes and, for runs asked as traffic, its latency), the notes, the plots,
    then each run's facts."""
    from glmbench.report.formats.plots import figures

    tables = report.tables
    parts: list[str] = []
    several = len(tables.runs) > 1
    if several:
        parts.append(f"<p>Baseline: <b>{escape(tables.baseline or '')}</b>. Other runs show "
                     "(difference, percent) against it; BFCL differences are percentage points.</p>")

    def by_run(frame: Any, cls: str) -> str:
        # One run needs no column naming it on every row: its name is the page's title.
        return _table(frame, cls=cls) if several else _table(frame.drop(columns=["Run"]), left=1, cls=cls)

    if not tables.speed.empty:
        parts += ["<h2>Speed</h2>", by_run(tables.display_speed(), "speed"),
                  "<h2>Detail</h2>", by_run(tables.display_detail(), "detail")]
    if not tables.bfcl.empty:
        parts += ["<h2>BFCL accuracy per category</h2>", _table(tables.display_bfcl(), cls="bfcl")]
        columns = ["run", "rules", "category", "note"][0 if several else 1:]
        bfcl_notes = tables.bfcl[tables.bfcl["note"] != ""][columns]
        if not bfcl_notes.empty:
            parts += ["<h3>BFCL notes</h3>", _table(bfcl_notes, left=len(columns))]
    if not tables.bfcl_load.empty:
        parts += [f"<h2>{escape(tables.bfcl_load_title())}</h2>", by_run(tables.display_bfcl_load(), "detail")]
    notes = tables.notes()
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f'<li class="note">{escape(n)}</li>' for n in notes) + "</ul>")
    plots = figures(report)
    if plots:
        parts.append("<h2>Plots</h2>" + "".join(figure_html(p) for p in plots))
    parts += ["<h2>Runs</h2>", _run_rows(tables.runs)]
    return page(report.title, "\n".join(parts))


def _cells(headers: list[str], rows: list[list[str]]) -> str:
    """A table of display cells, every one left-aligned and escaped."""
    head = "".join(f'<th class="l">{escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="l">{escape(c)}</td>' for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _equivalence_page(report: EquivalenceRunReport) -> str:
    """The passes, the run's own batch invariance, where its outputs differ, then the notes."""
    summary = report.summary
    body = [f"<p>Equivalence run: {escape(summary.api)}, {summary.max_tokens} tokens per prompt, "
            f"{escape(', '.join(f'{n} {k}' for k, n in summary.prompts.items()))}.</p>",
            "<h2>Passes</h2>", _cells(*report.passes)]
    if report.invariance[1]:
        body += ["<h2>Its own outputs alone against under load</h2>", _cells(*report.invariance)]
    if report.differences[1]:
        body += ["<h2>Where its outputs differ</h2>", _cells(*report.differences)]
    body.append("<h2>Notes</h2><ul>" + "".join(f'<li class="note">{escape(n)}</li>' for n in report.notes) + "</ul>")
    return page(f"glmbench report: {report.title}", "\n".join(body))


def _experiment_page(report: ExperimentView) -> str:
    """The server table, the plots, the point table, the outputs against the reference, then the notes."""
    from glmbench.report.formats.plots import figures

    body = ["<h2>Servers</h2>", _cells(*report.servers), "<h2>Plots</h2>",
            "".join(figure_html(p) for p in figures(report)), "<h2>Points</h2>", _cells(*report.points)]
    if report.outputs[1]:
        body += ["<h2>Outputs against the reference server's</h2>", _cells(*report.outputs)]
    if report.notes:
        body.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>")
    return page(f"experiment {report.report.name}", "\n".join(body))


class Html(Format):
    """One self-contained HTML page (written as is: no final newline)."""

    name = "html"
    help = "one self-contained HTML page (as --out FILE writes)"

    def equivalence_run(self, report: EquivalenceRunReport) -> Output:
        """The run's passes, batch invariance and differences."""
        return Output(text=_equivalence_page(report))

    def runs(self, report: RunsReport) -> Output:
        """The runs side by side, with the plots and each run's facts."""
        return Output(text=_runs_page(report))

    def experiment(self, report: ExperimentView) -> Output:
        """The experiment's tables and plots."""
        return Output(text=_experiment_page(report))


FORMAT = Html()
