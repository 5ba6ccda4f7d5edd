"""Metrics on hand-built records: every figure checked against a value worked out by hand.

No server, no network: records are built with known nanosecond timestamps.
"""

from __future__ import annotations

import math

import pytest

from glmbench.errors import GlmbenchError
from glmbench.metrics.base import describe_ns
from glmbench.metrics.client import client_health, issue_lags
from glmbench.metrics.goodput import goodput, parse_slos
from glmbench.metrics.itl import ITL, ITLTokenWeighted
from glmbench.metrics.latency import (
    E2EL,
    TPOT,
    TTFT,
    DispatchLag,
    E2ELFromDue,
    SendOverhead,
    TTFTAnswer,
    TTFTFromDue,
    TTFTReasoning,
)
from glmbench.metrics.server import parse_prometheus, spec_acceptance
from glmbench.metrics.summary import summarize_workload
from glmbench.metrics.throughput import error_reasons, throughput
from glmbench.results.records import RecordWriter, RequestRecord, read_records

MS = 1_000_000


def rec(index: int = 0, *, due: int = 0, send: int = 0, wire: int = 0, chunks_ms: list[float] = (),
        tokens: list[int] | None = None, out: int | None = None, ok: bool = True, end_ms: float | None = None,
        prompt: int = 10, error: str | None = None, **kw) -> RequestRecord:
    """A record with chunk times given in ms from 0."""
    chunk_ns = [round(c * MS) for c in chunks_ms]
    end = round(end_ms * MS) if end_ms is not None else (chunk_ns[-1] if chunk_ns else send)
    return RequestRecord(workload="w", index=index, prompt_tokens=prompt, max_tokens=out or 0, due_ns=due,
                         send_ns=send, wire_ns=wire, end_ns=end, chunk_ns=chunk_ns, chunk_tokens=tokens or [],
                         output_tokens=out, ok=ok, error=error, **kw)


def test_ttft_e2el_tpot_follow_vllms_definitions():
    # Sent at 0 ms; tokens at 100, 120, 140, 160 ms; 4 output tokens.
    r = rec(send=0, chunks_ms=[100, 120, 140, 160], out=4)
    assert TTFT().values([r]) == [100 * MS]
    assert E2EL().values([r]) == [160 * MS]
    assert TPOT().values([r]) == [pytest.approx(20 * MS)]  # (160 - 100) / (4 - 1)
    assert ITL().values([r]) == [20 * MS] * 3


def test_tpot_uses_server_token_count_not_chunks():
    # MTP: two chunks carried 7 tokens; TPOT divides by tokens - 1, not chunks - 1.
    r = rec(chunks_ms=[50, 110], tokens=[3, 4], out=7)
    assert TPOT().values([r]) == [pytest.approx(10 * MS)]


def test_tpot_skips_single_token_requests():
    assert TPOT().values([rec(chunks_ms=[50], out=1)]) == []


def test_latency_starts_at_the_wire_time_when_known():
    r = rec(send=1 * MS, wire=3 * MS, chunks_ms=[13, 23], out=2)
    assert TTFT().values([r]) == [10 * MS]
    assert SendOverhead().values([r]) == [2 * MS]
    # Without a wire time, the issue time is the start.
    r2 = rec(send=1 * MS, chunks_ms=[13], out=1)
    assert TTFT().values([r2]) == [12 * MS]
    assert SendOverhead().values([r2]) == []


def test_latency_from_schedule_and_dispatch_lag():
    # Due at 0, sent 5 ms late: standard TTFT hides the lateness, TTFT from schedule does not.
    r = rec(due=0, send=5 * MS, chunks_ms=[25, 45], out=2)
    assert TTFT().values([r]) == [20 * MS]
    assert TTFTFromDue().values([r]) == [25 * MS]
    assert E2ELFromDue().values([r]) == [45 * MS]
    assert DispatchLag().values([r]) == [5 * MS]


def test_failed_requests_do_not_count_in_latency_but_do_in_dispatch_lag():
    bad = rec(due=1 * MS, send=3 * MS, chunks_ms=[10], ok=False, error="HTTP 500")
    good = rec(1, due=1 * MS, send=1 * MS, chunks_ms=[31], out=1)
    assert TTFT().values([bad, good]) == [30 * MS]
    assert sorted(DispatchLag().values([bad, good])) == [0, 2 * MS]


def test_reasoning_and_answer_ttft():
    r = rec(chunks_ms=[40, 50, 60, 70], out=4, first_reasoning_ns=40 * MS, first_content_ns=60 * MS)
    plain = rec(1, chunks_ms=[30], out=1, first_content_ns=30 * MS)
    assert TTFTReasoning().values([r, plain]) == [40 * MS]
    assert TTFTAnswer().values([r, plain]) == [60 * MS, 30 * MS]


def test_itl_pooled_by_chunk_and_weighted_by_tokens():
    # One chunk of 1 token, then a 30 ms gap bringing 3 tokens, then 10 ms bringing 1.
    r = rec(chunks_ms=[100, 130, 140], tokens=[1, 3, 1], out=5)
    assert ITL().values([r]) == [30 * MS, 10 * MS]
    assert ITLTokenWeighted().values([r]) == [10 * MS, 10 * MS, 10 * MS, 10 * MS]
    # Pooled mean over chunks is 20 ms; per token it is 10 ms: MTP makes the two differ.
    assert describe_ns(ITL().values([r]))["mean"] == pytest.approx(20.0)
    assert describe_ns(ITLTokenWeighted().values([r]))["mean"] == pytest.approx(10.0)


def test_itl_per_token_needs_per_chunk_counts():
    r = rec(chunks_ms=[100, 130], out=5)  # no chunk_tokens: the server did not report them
    assert ITLTokenWeighted().values([r]) == []


def test_describe_ns_percentiles_interpolate_like_numpy():
    values = [i * MS for i in range(1, 101)]  # 1..100 ms
    d = describe_ns(values)
    assert d["mean"] == pytest.approx(50.5)
    assert d["p50"] == pytest.approx(50.5)
    assert d["p90"] == pytest.approx(90.1)
    assert d["p99"] == pytest.approx(99.01)
    assert d["max"] == pytest.approx(100.0)
    assert describe_ns([])["mean"] is None


def test_throughput_counts_completed_requests_over_the_workload_duration():
    t0 = 1_000 * MS
    a = rec(send=t0, chunks_ms=[1100, 1500], end_ms=1500, out=100, prompt=20, server_prompt_tokens=25)
    b = rec(1, send=t0, chunks_ms=[1200, 3000], end_ms=3000, out=300, prompt=30)
    failed = rec(2, send=t0, chunks_ms=[], ok=False, end_ms=2000, out=None, error="HTTP 500: boom")
    t = throughput([a, b, failed], t0)
    assert t["duration_s"] == pytest.approx(2.0)  # t0 to the last response
    assert t["completed"] == 2 and t["failed"] == 1
    assert t["request_s"] == pytest.approx(1.0)
    assert t["output_tok_s"] == pytest.approx(200.0)
    # Server-reported prompt tokens win over the dataset's count.
    assert t["input_tokens"] == 25 + 30
    assert t["total_tok_s"] == pytest.approx((55 + 400) / 2)
    assert error_reasons([a, b, failed]) == {"HTTP 500: boom": 1}


def test_goodput_counts_requests_meeting_every_slo():
    fast = rec(chunks_ms=[100, 200], out=11)   # TTFT 100, TPOT 10
    slow_first = rec(1, chunks_ms=[600, 700], out=11)  # TTFT 600
    slow_decode = rec(2, chunks_ms=[100, 700], out=11)  # TPOT 60
    g = goodput([fast, slow_first, slow_decode], {"ttft": 500, "tpot": 50}, duration_s=2.0)
    assert g["goodput_request_s"] == pytest.approx(0.5)
    assert g["goodput_pct"] == pytest.approx(100 / 3)


def test_parse_slos_accepts_vllm_syntax_and_rejects_the_rest():
    assert parse_slos(["ttft:500", "TPOT:50", "e2el:3000"]) == {"ttft": 500.0, "tpot": 50.0, "e2e": 3000.0}
    for bad in ("ttft", "ttft:-1", "itl:5", "ttft:abc"):
        with pytest.raises(GlmbenchError, match="bad --goodput"):
            parse_slos([bad])


def test_client_health_flags_a_late_client():
    healthy = client_health([100_000] * 100, client_cpu_s=0.5, duration_s=10)
    assert not healthy["client_saturated"] and healthy["client_warning"] is None
    late = client_health([20 * MS] * 100, client_cpu_s=0.5, duration_s=10)
    assert late["client_saturated"] and "event-loop delay" in late["client_warning"]
    # A busy CPU moves no figure by itself: reported, not flagged; named beside a flag it may explain.
    busy = client_health([100_000] * 100, client_cpu_s=9.8, duration_s=10)
    assert not busy["client_saturated"] and busy["client_cpu_pct"] == pytest.approx(98.0)
    busy_late = client_health([20 * MS] * 100, client_cpu_s=9.8, duration_s=10)
    assert "client CPU 98% of a core" in busy_late["client_warning"]
    # One descheduling (a single 30 ms wake-up among thousands) is not a late client.
    blip = client_health([100_000] * 2000 + [30 * MS], client_cpu_s=1, duration_s=10)
    assert not blip["client_saturated"]
    # Requests sent after their scheduled time: the figures from schedule and the load, not the latencies.
    late_issue = client_health([100_000] * 100, client_cpu_s=0.5, duration_s=10, issue_lag_ns=[3 * MS] * 50)
    assert late_issue["client_flags"] == ["ttft_due", "e2e_due", "offered_load"]
    assert "issue lag mean 3.00 ms > 1 ms" in late_issue["client_warning"]
    tail_issue = client_health([100_000] * 100, 0.5, 10, issue_lag_ns=[100_000] * 95 + [40 * MS] * 5)
    assert tail_issue["client_saturated"] and "issue lag p99" in tail_issue["client_warning"]
    on_time = client_health([100_000] * 100, 0.5, 10, issue_lag_ns=[200_000] * 100)
    assert not on_time["client_saturated"] and on_time["issue_lag_ms_p99"] == pytest.approx(0.2)


def test_issue_lag_leaves_out_requests_due_at_the_first_instant():
    def rec(due, send):
        return RequestRecord(workload="w", index=0, prompt_tokens=1, max_tokens=1, due_ns=due, send_ns=send)

    # A burst: everything due at t0; the last leaves 40 ms later by design.
    assert issue_lags([rec(0, i * MS) for i in range(40)]) == []
    # A closed loop: the first wave is left out, the slot-freed requests are kept.
    assert issue_lags([rec(0, 0), rec(0, 5 * MS), rec(50 * MS, 51 * MS), rec(60 * MS, 60 * MS)]) == [MS, 0]
    # A request never issued (send_ns 0) has no lag.
    assert issue_lags([rec(0, 0), rec(10 * MS, 0)]) == []
    # Counted to the wire when the client stamped it: the client's own queue after the call is late too.
    queued = RequestRecord(workload="w", index=1, prompt_tokens=1, max_tokens=1, due_ns=10 * MS, send_ns=11 * MS,
                           wire_ns=14 * MS)
    assert issue_lags([rec(0, 0), queued]) == [4 * MS]


PROM_BEFORE = """
# HELP vllm:spec_decode_num_drafts_total Number of spec decoding drafts.
# TYPE vllm:spec_decode_num_drafts_total counter
vllm:spec_decode_num_drafts_total{engine="0",model_name="glm"} 100.0
vllm:spec_decode_num_draft_tokens_total{engine="0",model_name="glm"} 300.0
vllm:spec_decode_num_accepted_tokens_total{engine="0",model_name="glm"} 150.0
"""
PROM_AFTER = """
vllm:spec_decode_num_drafts_total{engine="0",model_name="glm"} 600.0
vllm:spec_decode_num_draft_tokens_total{engine="0",model_name="glm"} 1800.0
vllm:spec_decode_num_accepted_tokens_total{engine="0",model_name="glm"} 1150.0
vllm:num_requests_running{engine="0"} 3
vllm:num_requests_running{engine="1"} 2
not_a_number{a="b"} NaN-ish
"""


def test_spec_acceptance_from_counter_deltas():
    before, after = parse_prometheus(PROM_BEFORE), parse_prometheus(PROM_AFTER)
    assert after["vllm:num_requests_running"] == 5  # summed over labels
    acc = spec_acceptance(before, after)
    # 500 drafts, 1500 draft tokens, 1000 accepted over the run.
    assert acc == {"spec_accept_length": pytest.approx(3.0), "spec_accept_rate": pytest.approx(2 / 3)}
    assert spec_acceptance(after, after) is None


def test_summary_row_has_the_published_tables_columns():
    t0 = 1 * MS
    records = [rec(i, due=t0, send=t0, chunks_ms=[101 + i, 201 + i], out=11, end_ms=201 + i) for i in range(10)]
    row = summarize_workload("burst", "all at t=0", records, t0_ns=t0, slos={"ttft": 105})
    assert row["workload"] == "burst"
    assert row["ttft_ms"] == row["ttft_ms_mean"] == pytest.approx(104.5)
    assert row["e2e_ms"] == pytest.approx(204.5)
    assert row["output_tok_s"] == pytest.approx(110 / 0.209)
    assert row["completed"] == 10 and row["failed"] == 0
    assert row["goodput_pct"] == pytest.approx(60.0)  # TTFT 100..105 ms meet 105
    for key in ("ttft_ms_p99", "itl_ms_p50", "tpot_ms_mean", "e2e_ms_p90", "dispatch_lag_ms_mean"):
        assert key in row and not math.isnan(row[key])


def test_records_round_trip_and_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "records.jsonl"
    with RecordWriter(path) as w:
        w.write(rec(0, chunks_ms=[1, 2], tokens=[1, 1], out=2))
        w.write(rec(1, chunks_ms=[3], out=1, first_content_ns=3 * MS))
    with path.open("ab") as f:
        f.write(b'{"workload": "w", "index": 2, "prompt_')  # killed mid-write
    back = list(read_records(path))
    assert [r.index for r in back] == [0, 1]
    assert back[0].chunk_ns == [MS, 2 * MS] and back[0].chunk_tokens == [1, 1]
    assert back[1].first_content_ns == 3 * MS


def test_summary_row_is_declared_by_the_registry_and_keeps_its_order():
    from pydantic import ValidationError

    from glmbench.metrics.registry import METRICS
    from glmbench.metrics.row import SummaryRow, validated_row

    t0 = 1 * MS
    records = [rec(i, due=t0, send=t0, chunks_ms=[101 + i, 201 + i], out=11, end_ms=201 + i) for i in range(4)]
    row = summarize_workload("burst", "all at t=0", records, t0_ns=t0, slos={"ttft": 105},
                             extra={"client_workers": 1, "spec_accept_length": 2.5, "my_own": "kept"})
    # every key the summary writes is a declared field (metric or not), except the caller's own extras
    assert set(row) - set(SummaryRow.model_fields) == {"my_own"}
    assert all(key in row for m in METRICS if m.always for key in m.keys)
    assert isinstance(row["completed"], int) and isinstance(row["goodput_request_s"], float)
    assert list(validated_row(row)) == list(row) and validated_row(row) == row
    # an optional metric the row lacks stays absent rather than appearing as None
    assert "spec_accept_rate" not in row
    with pytest.raises(ValidationError):
        validated_row({**row, "completed": "many"})
    without = dict(row)
    del without["ttft_ms_p99"]
    with pytest.raises(ValidationError):
        validated_row(without)


def test_tables_compare_and_calculators_read_one_registry():
    from glmbench.compare.metrics import LOAD_METRICS
    from glmbench.metrics.registry import METRICS, lookup, metric
    from glmbench.metrics.summary import DISTRIBUTIONS
    from glmbench.report.load_run import COUNT_COLUMNS, DETAIL_METRICS, PUBLISHED_COLUMNS
    from glmbench.report.tables import DETAIL_COLUMNS

    assert [c[1] for c in PUBLISHED_COLUMNS] == ["Workload", "Output (tok/s)", "TTFT (ms)", "E2E Latency (ms)"]
    assert dict(DETAIL_METRICS) == {d.tag: metric(d.tag).title for d in DISTRIBUTIONS}
    assert {d.tag for d in DISTRIBUTIONS} == {m.tag for m in METRICS if m.calc is not None}
    for key, header, _ in (*COUNT_COLUMNS[1:], *DETAIL_COLUMNS):
        m, stat = lookup(key)
        assert header == m.header(stat)
    for key, spec in LOAD_METRICS.items():
        m, _ = lookup(key)
        assert (spec.better, spec.unit) == (m.better, m.unit) and m.compared
    assert "dispatch_lag_ms_mean" not in LOAD_METRICS  # the client's own health is not a server figure
