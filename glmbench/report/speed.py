"""The speed table: the published shape (workload, output tok/s, TTFT, E2E latency) and the usual detail."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["PUBLISHED_COLUMNS", "DETAIL_COLUMNS", "json_rows", "to_markdown", "to_csv", "rich_tables", "notes"]

# (key, header, format)
PUBLISHED_COLUMNS = (
    ("title", "Workload", "{}"),
    ("output_tok_s", "Output (tok/s)", "{:.0f}"),
    ("ttft_ms", "TTFT (ms)", "{:.0f}"),
    ("e2e_ms", "E2E Latency (ms)", "{:.0f}"),
)

DETAIL_COLUMNS = (
    ("workload", "workload", "{}"),
    ("completed", "ok", "{}"),
    ("failed", "failed", "{}"),
    ("request_s", "req/s", "{:.2f}"),
    ("output_tok_s", "out tok/s", "{:.1f}"),
    ("ttft_ms_mean", "TTFT mean", "{:.1f}"),
    ("ttft_ms_p50", "p50", "{:.1f}"),
    ("ttft_ms_p90", "p90", "{:.1f}"),
    ("ttft_ms_p99", "p99", "{:.1f}"),
    ("itl_ms_mean", "ITL mean", "{:.2f}"),
    ("itl_ms_p50", "p50", "{:.2f}"),
    ("itl_ms_p90", "p90", "{:.2f}"),
    ("itl_ms_p99", "p99", "{:.2f}"),
    ("tpot_ms_mean", "TPOT mean", "{:.2f}"),
    ("tpot_ms_p50", "p50", "{:.2f}"),
    ("tpot_ms_p90", "p90", "{:.2f}"),
    ("tpot_ms_p99", "p99", "{:.2f}"),
    ("e2e_ms_mean", "E2EL mean", "{:.0f}"),
    ("e2e_ms_p50", "p50", "{:.0f}"),
    ("e2e_ms_p90", "p90", "{:.0f}"),
    ("e2e_ms_p99", "p99", "{:.0f}"),
)

CLIENT_COLUMNS = (
    ("workload", "workload", "{}"),
    ("description", "schedule", "{}"),
    ("ttft_due_ms_mean", "TTFT from schedule mean", "{:.1f}"),
    ("ttft_due_ms_p99", "p99", "{:.1f}"),
    ("dispatch_lag_ms_mean", "dispatch lag mean", "{:.2f}"),
    ("dispatch_lag_ms_p99", "p99", "{:.2f}"),
    ("itl_token_ms_mean", "ITL/token mean", "{:.2f}"),
    ("ttft_answer_ms_mean", "TTFT answer mean", "{:.1f}"),
    ("spec_accept_length", "accept len", "{:.2f}"),
    ("loop_lag_ms_p99", "loop lag p99", "{:.2f}"),
    ("client_cpu_pct", "client CPU %", "{:.0f}"),
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


def _flag(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("client_saturated") or row.get("interrupted"):
        return {**row, "title": f"{row.get('title', row.get('workload'))} *"}
    return row


def to_markdown(rows: Sequence[dict[str, Any]], columns=PUBLISHED_COLUMNS) -> str:
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(_flag(r), k, f) for k, _, f in columns) + " |" for r in rows]
    extra = [f"\n* {n}" for n in notes(rows)]
    return "\n".join([head, rule, *body]) + "".join(extra) + "\n"


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys and not isinstance(r[k], dict))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def rich_tables(rows: Sequence[dict[str, Any]], title: str = "") -> list[Any]:
    """The published-shape table, the detail table and the client table, for the terminal."""
    from rich.table import Table

    tables = []
    for name, columns in ((title or "Speed", PUBLISHED_COLUMNS), ("Detail (ms)", DETAIL_COLUMNS),
                          ("Client and schedule (ms)", CLIENT_COLUMNS)):
        table = Table(title=name, title_justify="left")
        for i, (_, header, _) in enumerate(columns):
            table.add_column(header, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*(_cell(_flag(r), k, f) for k, _, f in columns))
        tables.append(table)
    return tables
