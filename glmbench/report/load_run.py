"""One load run as a report shows it: the tables' columns, each cell's text, the latency detail and the notes.

The columns are the published shape (workload, output tok/s, TTFT, E2E latency)
and the usual detail; headers and formats come from the metric registry, a
table here only picks and orders them. How they are drawn is up to each format
(:mod:`glmbench.report.formats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glmbench.datasets.tokens import approximate_effect
from glmbench.metrics.base import STATS
from glmbench.metrics.registry import (
    PUBLISHED_FORMAT,
    Metric,
    columns,
    distributions,
    published,
)
from glmbench.metrics.repeats import REPEATS, interval, total
from glmbench.results.records import INTERRUPTED

__all__ = ["PUBLISHED_COLUMNS", "COUNT_COLUMNS", "DETAIL_METRICS", "CLIENT_COLUMNS", "PREFIX_COLUMNS", "client_columns",
           "Column", "cell", "flagged",
           "flag", "notes", "detail_rows"]

Column = tuple[str, str, str]
"""(key in a row, header, format) of one table column."""


def _published_column(m: Metric) -> Column:
    assert m.published is not None, "published() keeps only metrics with a published header"
    return m.published_key, m.published, PUBLISHED_FORMAT


PUBLISHED_COLUMNS: tuple[Column, ...] = (("title", "Workload", "{}"), *(_published_column(m) for m in published()))

COUNT_COLUMNS: tuple[Column, ...] = (
    ("workload", "workload", "{}"),
    *columns("completed", "failed", "request_s", "output_tok_s", "total_tok_s", "duration_s"),
)

# Distribution metrics shown one per line: (tag, title); rows without values are left out.
DETAIL_METRICS = tuple((m.tag, m.title) for m in distributions())

# One column holds every distribution, so one precision keeps its decimal points aligned.
_DETAIL_FORMAT = "{:.2f}"

CLIENT_COLUMNS: tuple[Column, ...] = (
    ("workload", "workload", "{}"),
    ("description", "schedule", "{}"),
    *columns("spec_accept_length", "goodput_request_s", "loop_lag_ms_p99", "issue_lag_ms_p99", "client_cpu_pct",
             "client_workers"),
)

# Shown after the schedule only when a row has them: the server's prefix-cache hits, and what the workload's
# own blocks predict.
PREFIX_COLUMNS: tuple[Column, ...] = columns("prefix_hit_rate", "prefix_hit_predicted")


def client_columns(rows: Sequence[dict[str, Any]]) -> tuple[Column, ...]:
    """The schedule-and-client table's columns for ``rows``: the prefix-cache ones where any row has a value."""
    shown = tuple(c for c in PREFIX_COLUMNS if any(r.get(c[0]) is not None for r in rows))
    return CLIENT_COLUMNS[:2] + shown + CLIENT_COLUMNS[2:]


def cell(row: dict[str, Any], key: str, fmt: str) -> str:
    """A row's value under ``key`` as text: ``-`` when missing, as is when ``fmt`` does not fit it.

    A row that combines repeats shows a metric as its mean ``± half its 95% interval`` (nothing after the mean
    when every repeat gave the same value).
    """
    value = row.get(key)
    if value is None:
        return "-"
    try:
        text = fmt.format(value)
    except (ValueError, TypeError):
        return str(value)
    found = interval(row, key)
    if found is not None and found[1] > found[0]:
        text += f" ±{fmt.format((found[1] - found[0]) / 2)}"
    return text


def flagged(row: dict[str, Any]) -> bool:
    """Whether a row's figures are ones the client cannot vouch for (saturated or interrupted): shown with a *."""
    return bool(row.get("client_saturated") or row.get("interrupted"))


def flag(row: dict[str, Any]) -> dict[str, Any]:
    """The row with `` *`` after its title when it is :func:`flagged`."""
    if flagged(row):
        return {**row, "title": f"{row.get('title', row.get('workload'))} *"}
    return row


def notes(rows: Sequence[dict[str, Any]], dataset: str | None = None) -> list[str]:
    """Warnings a reader must see beside the numbers; ``dataset``: the run's, for rows that do not name it."""
    out = []
    repeats = sorted({int(r[REPEATS]) for r in rows if isinstance(r.get(REPEATS), int) and r[REPEATS] > 1})
    if repeats:
        out.append(f"figures are means of {' or '.join(map(str, repeats))} repeats; ± is half the 95% confidence "
                   "interval of a mean (Student t, between repeats); each repeat's own figures are in its repeat-N "
                   "folder")
    if any(flagged(r) for r in rows):
        out.append("a workload marked * has figures the client cannot vouch for; the reason follows")
    approximate = [r for r in rows if r.get("approximate_tokens")]
    if approximate:
        effect = approximate_effect(approximate[0].get("dataset") or dataset)
        out.append(f"token lengths are approximate (no tokenizer): {effect} from a run with the model's tokenizer; "
                   "for exact lengths run it again with --tokenizer PATH (the model's folder or its tokenizer.json)")
    for r in rows:
        if r.get("client_warning"):
            out.append(f"{r['workload']}: {r['client_warning']}")
        # Counts of a row that combines repeats are means per repeat: the notes count them in all.
        over = f" over {r[REPEATS]} repeats" if isinstance(r.get(REPEATS), int) and r[REPEATS] > 1 else ""
        if r.get("interrupted"):
            # Requests cut short by the interruption are counted as failed: they did not end on their own.
            cut = (r.get("errors") or {}).get(INTERRUPTED, 0)
            ended = (total(r, "completed") or 0) + (total(r, "failed") or 0) - cut
            out.append(f"{r['workload']}: interrupted, figures cover the {ended:.0f} requests that ended before it"
                       + (f" ({cut} more cut short)" if cut else "") + over)
        if r.get("failed"):
            reasons = "; ".join(f"{k} (x{v})" for k, v in (r.get("errors") or {}).items())
            out.append(f"{r['workload']}: {total(r, 'failed') or 0:.0f} failed{over}: {reasons}")
        if r.get("completed") and r.get("output_tokens_from_usage", r["completed"]) < r["completed"]:
            out.append(f"{r['workload']}: server sent no usage for some requests; their output tokens were counted "
                       "from chunks")
    return out


def detail_rows(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(workload, metric label, [mean, p50, p90, p99] in ms) for every metric that has values."""
    out = []
    for r in rows:
        for tag, label in DETAIL_METRICS:
            if r.get(f"{tag}_ms_mean") is None or _redundant(r, tag):
                continue
            out.append((r["workload"], label, [cell(r, f"{tag}_ms_{stat}", _DETAIL_FORMAT) for stat in STATS]))
    return out


def _redundant(row: dict[str, Any], tag: str) -> bool:
    """Rows that only repeat another: per-token ITL without multi-token chunks, answer TTFT without reasoning."""
    if tag == "itl_token":
        return all(row.get(f"itl_token_ms_{s}") == row.get(f"itl_ms_{s}") for s in STATS)
    if tag == "ttft_answer":
        return row.get("ttft_reasoning_ms_mean") is None
    return False
