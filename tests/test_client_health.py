"""The client's self-check names exactly the figures its own lateness moved: records built by hand, one case each.

Streams here are written by the server one chunk every 10 ms after a 50 ms
TTFT; a read is a run of chunks that share one stamp (a kernel stamp is the
arrival of the last packet a read takes) with the client's read delay.
"""

from __future__ import annotations

import pytest

from glmbench.metrics.client import (
    CLIENT_SATURATED,
    LATE_READS,
    LATE_SENDS,
    client_health,
    client_overloaded,
    flagged,
    load_not_held,
    self_check,
)
from glmbench.metrics.merged_reads import merged_reads
from glmbench.metrics.repeats import combine_rows
from glmbench.metrics.summary import summarize_workload
from glmbench.results.records import RequestRecord

MS = 1_000_000
QUIET = [100_000] * 400  # a loop monitor's wake-up delays of 0.1 ms: a loop on time


def stream(index: int, *, due_ms: float, late_ms: float = 0.0, reads: list[int] | None = None,
           delays_ms: list[float] | None = None, chunks: int = 40, stamps: str = "kernel") -> RequestRecord:
    """A request due at ``due_ms``, on the wire ``late_ms`` later; its chunks written 50 ms after that and every
    10 ms on, read in runs of ``reads`` chunks (one each by default), each run stamped at its last chunk's
    arrival and read ``delays_ms`` after it (0.05 ms by default)."""
    wire = round((due_ms + late_ms) * MS)
    arrivals = [wire + 50 * MS + i * 10 * MS for i in range(chunks)]
    reads = reads or [1] * chunks
    assert sum(reads) == chunks
    delays = delays_ms or [0.05] * len(reads)
    chunk_ns: list[int] = []
    chunk_delay_ns: list[int] = []
    for size, delay in zip(reads, delays):
        stamp = arrivals[len(chunk_ns) + size - 1]
        chunk_ns += [stamp] * size
        chunk_delay_ns += [round(delay * MS)] * size
    return RequestRecord(workload="w", index=index, prompt_tokens=10, max_tokens=chunks, due_ns=round(due_ms * MS),
                         send_ns=wire, wire_ns=wire, end_ns=chunk_ns[-1], chunk_ns=chunk_ns, output_tokens=chunks,
                         ok=True, stamps=stamps, chunk_delay_ns=chunk_delay_ns if stamps == "kernel" else [])


def open_loop(n: int = 40, **kw) -> list[RequestRecord]:
    """``n`` requests due 25 ms apart (the first at 0, left out of the issue lag as a first instant)."""
    return [stream(i, due_ms=25.0 * i, **kw) for i in range(n)]


def check(records: list[RequestRecord], loop_lag_ns: list[int] = QUIET, cpu_s: float = 0.5, **kw) -> dict:
    return self_check(records, loop_lag_ns, cpu_s, 10.0, **kw)


def test_a_clean_run_flags_nothing() -> None:
    out = check(open_loop())
    assert out["client_flags"] == [] and out["client_saturated"] is False and out["client_warning"] is None
    assert out["merged_reads"] == 0 and out["merged_reads_server"] == 0 and out["itl_merge_error_ms_p99"] == 0


def test_late_sends_with_kernel_stamps_flag_only_the_figures_from_schedule() -> None:
    # Every spread-out request on the wire 20 ms after its time: the figures from schedule hold 20 ms of the
    # client's; TTFT, ITL and E2E run from the send and are exact.
    out = check(open_loop(late_ms=20.0))
    assert out["client_flags"] == ["ttft_due", "e2e_due", "offered_load"]
    assert out["issue_lag_ms_mean"] == pytest.approx(20.0)
    warning = out["client_warning"]
    assert warning.startswith(f"{LATE_SENDS}: TTFT from schedule, E2E from schedule and the request rate off")
    assert "overstated" not in warning and "not moved" in warning and "--client-workers" in warning
    # Under a cap the load is the concurrency held, judged on its own: late sends flag the figures from schedule.
    capped = check(open_loop(late_ms=20.0), cap=4)
    assert capped["client_flags"] == ["ttft_due", "e2e_due"]
    assert capped["client_warning"].startswith(f"{LATE_SENDS}: TTFT from schedule and E2E from schedule off")
    assert not load_not_held(capped)
    # The row's readers: the load is not held, no latency is off.
    assert load_not_held(out) and not client_overloaded(out)


def test_a_late_loop_with_user_stamps_overstates_the_latencies() -> None:
    late = [20 * MS] * 400  # the loop woke 20 ms late: every read was stamped that late
    out = check(open_loop(stamps="user"), loop_lag_ns=late)
    assert out["client_flags"] == ["ttft", "itl", "e2e"]
    assert out["client_warning"].startswith(f"{LATE_READS}: TTFT, ITL and E2E overstated (user-space receive stamps")
    assert "merged_reads" not in out  # nothing to count without kernel stamps
    assert client_overloaded(out) and not load_not_held(out)


def test_a_late_loop_moves_no_kernel_stamp_when_no_read_merged() -> None:
    # The same late loop, but each chunk read alone and stamped by the kernel at its arrival: nothing is off.
    out = check(open_loop(delays_ms=[4.0] * 40), loop_lag_ns=[20 * MS] * 400, cpu_s=9.8)
    assert out["client_flags"] == [] and out["client_warning"] is None
    # The CPU is reported, and flags nothing by itself.
    assert out["client_cpu_pct"] == pytest.approx(98.0)


def _late_merges(chunks: int = 40) -> tuple[list[int], list[float]]:
    """Reads of one stream whose every 10th read came late enough to take 3 chunks (written 10 ms apart)."""
    reads = [1] * 6 + ([3] + [1] * 7) * 3 + [1] * 4
    assert sum(reads) == chunks
    return reads, [3.0 if size > 1 else 0.05 for size in reads]


def test_reads_merged_by_a_late_client_flag_itl_only() -> None:
    reads, delays = _late_merges()
    out = check(open_loop(n=10, reads=reads, delays_ms=delays))
    # Per stream 3 reads took 3 chunks each: gaps (30, 0, 0) where the server made (10, 10, 10).
    assert out["merged_reads"] == 30 and out["merged_chunks"] == 60 and out["merged_reads_server"] == 0
    assert out["client_flags"] == ["itl"]
    assert out["itl_merge_error_ms_p99"] == pytest.approx(20.0)  # p99 30 ms where the server's was 10 ms
    assert out["itl_merge_error_ms_mean"] == pytest.approx(0.0)  # the gaps' sum is kept
    assert out["ttft_merge_error_ms_p99"] == 0.0
    warning = out["client_warning"]
    assert warning.startswith(f"{LATE_READS}: ITL off (kernel receive stamps, 30 reads held chunks written apart")
    assert "E2E not moved" in warning and "TTFT" not in warning.split(";")[0]
    assert client_overloaded(out)


def test_a_late_first_read_moves_ttft() -> None:
    # A fifth of the streams' first reads came late and took the first 3 chunks under the third one's stamp:
    # their TTFT reads 20 ms long. The rest of each stream was read promptly.
    records = [stream(i, due_ms=25.0 * i, reads=[3] + [1] * 37 if i % 5 == 0 else None,
                      delays_ms=[2.0] + [0.05] * 37 if i % 5 == 0 else None) for i in range(20)]
    out = check(records)
    assert out["merged_reads"] == 4
    assert out["ttft_merge_error_ms_mean"] == pytest.approx(4.0) and out["ttft_merge_error_ms_p99"] == pytest.approx(20.0)
    # ITL lost the 20 ms those reads swallowed: 80 ms over 780 gaps, within its 0.2 ms bar.
    assert out["itl_merge_error_ms_mean"] == pytest.approx(-80 / 780)
    assert out["client_flags"] == ["ttft"]
    assert "TTFT off" in out["client_warning"] and "TTFT p99 +20.0 ms > 5 ms" in out["client_warning"]
    # Every other stream so: ITL's mean is short by 200 ms over 780 gaps, past its bar too.
    records = [stream(i, due_ms=25.0 * i, reads=[3] + [1] * 37 if i % 2 else None,
                      delays_ms=[2.0] + [0.05] * 37 if i % 2 else None) for i in range(20)]
    assert check(records)["client_flags"] == ["ttft", "itl"]


def test_chunks_the_server_wrote_together_are_not_the_clients_doing() -> None:
    # MTP's one event per token: every write holds 2 events, read promptly (0.05 ms after they arrived).
    def pairs(i: int) -> RequestRecord:
        r = stream(i, due_ms=25.0 * i)
        r.chunk_ns = [t for t in r.chunk_ns[1::2] for _ in (0, 1)]  # each pair at the second's arrival
        return r

    out = check([pairs(i) for i in range(20)])
    assert out["client_flags"] == [] and out["merged_reads"] == 0 and out["merged_reads_server"] == 20 * 20


def test_a_pair_after_a_stall_is_late_only_when_the_read_was() -> None:
    # A stream read one chunk at a time but for one read of 2 chunks after a 20 ms gap: two chunks written
    # apart and read late (3 ms after the second arrived), or written together after a stall and read at once.
    reads = [1] * 10 + [2] + [1] * 28
    late = [stream(0, due_ms=0, reads=reads, delays_ms=[0.05] * 10 + [3.0] + [0.05] * 28, chunks=40)]
    prompt = [stream(0, due_ms=0, reads=reads, chunks=40)]
    assert merged_reads(late).late == 1 and merged_reads(late).server == 0
    assert merged_reads(prompt).late == 0 and merged_reads(prompt).server == 1
    # A read of 2 that came one usual gap after the last is one write of 2: not late whatever its delay.
    together = stream(0, due_ms=0, chunks=40, delays_ms=[3.0] * 40)
    together.chunk_ns[11] = together.chunk_ns[10]  # the 11th written with the 10th
    assert merged_reads([together]).late == 0 and merged_reads([together]).server == 1


def test_the_summary_row_carries_the_flags_and_the_merged_reads() -> None:
    reads, delays = _late_merges()
    records = open_loop(n=10, reads=reads, delays_ms=delays, late_ms=20.0)
    row = summarize_workload("w", "t", records, t0_ns=0, loop_lag_ns=QUIET, client_cpu_s=0.5)
    assert row["client_flags"] == ["itl", "ttft_due", "e2e_due", "offered_load"] and row["client_saturated"]
    assert row["merged_reads"] == 30 and row["receive_stamps"] == "kernel"
    # Both reasons, each with its figures, in one line; the next step once.
    warning = row["client_warning"]
    assert warning.index(LATE_READS) < warning.index(LATE_SENDS) and warning.count("--client-workers") == 1
    assert "run from the send and are not moved" not in warning  # ITL is moved: no such claim
    # Repeats: the flags of any repeat.
    clean = summarize_workload("w", "t", open_loop(), t0_ns=0, loop_lag_ns=QUIET, client_cpu_s=0.5)
    (combined,) = combine_rows([[clean], [row]])
    assert combined["client_flags"] == row["client_flags"] and combined["client_saturated"] is True


def test_rows_without_flags_are_read_from_their_warning() -> None:
    cap = "concurrency 8 not held: 52% of arrivals found at least 7 others in flight"
    legacy = {"client_saturated": True, "client_warning": f"{CLIENT_SATURATED}: event-loop delay p99 12 ms"}
    assert flagged(legacy) == ["ttft", "itl", "e2e"] and client_overloaded(legacy) and not load_not_held(legacy)
    capped = {"client_saturated": True, "client_warning": cap}
    assert flagged(capped) == ["offered_load"] and load_not_held(capped) and not client_overloaded(capped)
    assert flagged({"client_saturated": True, "client_warning": None}) == ["ttft", "itl", "e2e"]
    assert flagged({"client_saturated": False, "client_warning": None}) == []
    # Without the records a late loop is taken as user stamps' (latencies overstated), as before.
    assert client_health([20 * MS] * 100, 0.5, 10)["client_flags"] == ["ttft", "itl", "e2e"]
