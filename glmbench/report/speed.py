"""The speed table: the published shape (workload, output tok/s, TTFT, E2E latency) and the usual detail."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from glmbench.metrics.base import STATS
from glmbench.metrics.registry import (
    PUBLISHED_FORMAT,
    columns,
    distributions,
    published,
)
from glmbench.util.text import csv_cell, md_text, rich_text

__all__ = ["PUBLISHED_COLUMNS", "COUNT_COLUMNS", "DETAIL_METRICS", "CLIENT_COLUMNS", "json_rows", "to_markdown",
           "to_csv", "rich_tables", "detail_rows", "notes"]

# (key, header, format) of each table; headers and formats come from the registry, a table only picks and orders.
PUBLISHED_COLUMNS = (
    ("title", "Workload", "{}"),
    *((m.published_key, m.published, PUBLISHED_FORMAT) for m in published()),
)

COUNT_COLUMNS = (
    ("workload", "workload", "{}"),
    *columns("completed", "failed", "request_s", "output_tok_s", "total_tok_s", "duration_s"),
)

# Distribution metrics shown one per line: (tag, title); rows without values are left out.
DETAIL_METRICS = tuple((m.tag, m.title) for m in distributions())

# One column holds every distribution, so one precision keeps its decimal points aligned.
_DETAIL_FORMAT = "{:.2f}"

CLIENT_COLUMNS = (
    ("workload", "workload", "{}"),
    ("description", "schedule", "{}"),
    *columns("spec_accept_length", "goodput_request_s", "loop_lag_ms_p99", "issue_lag_ms_p99", "client_cpu_pct",
             "client_workers"),
)


def _cell(row: dict[str, Any], key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def json_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a JSON array, every field of every row."""
    return json.dumps(list(rows), indent=2, default=str)


def notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Warnings a reader must see beside the numbers."""
    out = []
    if any(r.get("client_saturated") or r.get("interrupted") for r in rows):
        out.append("a workload marked * has figures the client cannot vouch for; the reason follows")
    if any(r.get("approximate_tokens") for r in rows):
        out.append("token lengths are approximate (no tokenizer): max_tokens and the ShareGPT filter differ from a "
                   "run with the model's tokenizer; pass --tokenizer PATH")
    for r in rows:
        if r.get("client_warning"):
            out.append(f"{r['workload']}: {r['client_warning']}")
        if r.get("interrupted"):
            out.append(f"{r['workload']}: interrupted, figures cover the {r.get('completed', 0) + r.get('failed', 0)} "
                       "requests that ended")
        if r.get("failed"):
            reasons = "; ".join(f"{k} (x{v})" for k, v in (r.get("errors") or {}).items())
            out.append(f"{r['workload']}: {r['failed']} failed: {reasons}")
        if r.get("completed") and r.get("output_tokens_from_usage", r["completed"]) < r["completed"]:
            out.append(f"{r['workload']}: server sent no usage for some requests; their output tokens were counted "
                       "from chunks")
    return out


def _flagged(row: dict[str, Any]) -> bool:
    return bool(row.get("client_saturated") or row.get("interrupted"))


def _flag(row: dict[str, Any]) -> dict[str, Any]:
    if _flagged(row):
        return {**row, "title": f"{row.get('title', row.get('workload'))} *"}
    return row


def _md_cell(row: dict[str, Any], key: str, fmt: str) -> str:
    """A cell as markdown: its text escaped, then glmbench's own flag."""
    text = md_text(_cell(row, key, fmt))
    return f"{text} *" if key == "title" and _flagged(row) else text


def to_markdown(rows: Sequence[dict[str, Any]], columns=PUBLISHED_COLUMNS) -> str:
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_md_cell(r, k, f) for k, _, f in columns) + " |" for r in rows]
    extra = [f"\n* {md_text(n)}" for n in notes(rows)]
    return "\n".join([head, rule, *body]) + "".join(extra) + "\n"


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys and not isinstance(r[k], dict))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[csv_cell(k) for k in keys], extrasaction="ignore")
    writer.writeheader()
    writer.writerows({csv_cell(k): csv_cell(v) for k, v in r.items()} for r in rows)
    return buf.getvalue()


def detail_rows(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(workload, metric label, [mean, p50, p90, p99] in ms) for every metric that has values."""
    out = []
    for r in rows:
        for tag, label in DETAIL_METRICS:
            if r.get(f"{tag}_ms_mean") is None or _redundant(r, tag):
                continue
            out.append((r["workload"], label, [_cell(r, f"{tag}_ms_{stat}", _DETAIL_FORMAT) for stat in STATS]))
    return out


def _redundant(row: dict[str, Any], tag: str) -> bool:
    """Rows that only repeat another: per-token ITL without multi-token chunks, answer TTFT without reasoning."""
    if tag == "itl_token":
        return all(row.get(f"itl_token_ms_{s}") == row.get(f"itl_ms_{s}") for s in STATS)
    if tag == "ttft_answer":
        return row.get("ttft_reasoning_ms_mean") is None
    return False


def rich_tables(rows: Sequence[dict[str, Any]], title: str = "") -> list[Any]:
    """The published-shape table, then counts, latency detail and client/schedule facts, for the terminal."""
    from rich.table import Table

    def simple(name: str, columns) -> Table:
        table = Table(title=rich_text(name), title_justify="left")
        for i, (_, header, _) in enumerate(columns):
            table.add_column(header, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*(rich_text(_cell(_flag(r), k, f)) for k, _, f in columns))
        return table

    detail = Table(title="Latency (ms)", title_justify="left")
    for header in ("workload", "metric", *STATS):
        detail.add_column(header, justify="left" if header in ("workload", "metric") else "right")
    for workload, label, cells in detail_rows(rows):
        detail.add_row(rich_text(workload), label, *cells)
    return [simple(title or "Speed", PUBLISHED_COLUMNS), simple("Requests and throughput", COUNT_COLUMNS), detail,
            simple("Schedule and client", CLIENT_COLUMNS)]
