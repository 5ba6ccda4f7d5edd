"""Every load metric declared once: its summary-row key, title, unit, better direction and display format.

Reports, compare, history, plots and the summary row's model read these
declarations; none keeps a list of its own (STYLE.md, principle 12). A table
picks which metrics it shows and in what order; how a metric is named,
measured and printed comes from here.

A metric is one value under its ``tag`` (``output_tok_s``) or a family of
statistics under ``{tag}_ms_{stat}`` (``ttft_ms_p99``); families are latencies
in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from glmbench.metrics.base import ALL_STATS, DistributionMetric
from glmbench.metrics.itl import ITL, ITLTokenWeighted
from glmbench.metrics.latency import (
    E2EL,
    TPOT,
    TTFT,
    DispatchLag,
    E2ELFromDue,
    SendOverhead,
    ToolCallDone,
    TTFTAnswer,
    TTFTFromDue,
    TTFTReasoning,
    TTFTToolCall,
)

__all__ = ["Better", "Metric", "METRICS", "ACCURACY", "PUBLISHED_FORMAT", "metric", "lookup",
           "distributions", "published", "column", "columns", "axis_label"]

Better = Literal["higher", "lower"]

# The published table gives whole numbers; its columns here do too, so the two read alike.
PUBLISHED_FORMAT = "{:.0f}"


@dataclass(frozen=True)
class Metric:
    """One metric as every table, comparison and plot names it.

    ``tag``: the summary-row key, or for a family (``stats`` not empty) the
    stem of ``{tag}_ms_{stat}``. ``title``: the name in prose and on axes.
    ``short``: the terminal column header (a family's adds stat and unit:
    ``TTFT p99 ms``). ``better``: which direction is an improvement (None: a
    fact about the run, not a figure of merit). ``compared``: whether
    ``glmbench compare`` judges it (the client's own health qualifies a run,
    it does not rank servers). ``kind``: the Python type of a one-value
    metric in a row. ``always``: every summary row has it (False: only with
    SLOs, a spec-decoding server, or the load runner's extras).
    ``published``: its header in the published reference table, word for
    word. ``calc``: the per-request definition of a distribution.
    ``description``: what a one-value metric is, in a sentence (a
    distribution's comes from its ``calc``); the metric reference shows it.
    """

    tag: str
    title: str
    unit: str
    better: Better | None = None
    short: str = ""
    fmt: str = "{:.2f}"
    stats: tuple[str, ...] = ()
    kind: type = float
    always: bool = True
    compared: bool = False
    published: str | None = None
    calc: type[DistributionMetric] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.stats and self.unit != "ms":
            raise ValueError(f"{self.tag}: a family's keys say ms, its unit must be ms")
        if not self.short:
            object.__setattr__(self, "short", self.title)

    def key(self, stat: str | None = None) -> str:
        """The summary-row key of the value, or of one statistic of a family."""
        if not self.stats:
            return self.tag
        if stat not in self.stats:
            raise KeyError(f"{self.tag} has no statistic {stat!r}")
        return f"{self.tag}_ms_{stat}"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key this metric writes into a summary row."""
        return tuple(self.key(s) for s in self.stats) if self.stats else (self.tag,)

    @property
    def published_key(self) -> str:
        """The key the published table's column reads: a family's mean under ``{tag}_ms``."""
        return f"{self.tag}_ms" if self.stats else self.tag

    def header(self, stat: str | None = None) -> str:
        """A compact column header: ``req/s``, ``TTFT p99 ms``."""
        return f"{self.short} {stat} {self.unit}" if stat else self.short

    def label(self, stat: str | None = None) -> str:
        """The name with its unit, for axes and prose: ``TTFT p99 (ms)``, ``mean TTFT (ms)``,
        ``output throughput (tok/s)``."""
        name = f"mean {self.title}" if stat == "mean" else f"{self.title} {stat}" if stat else self.title
        return f"{name} ({self.unit})" if self.unit and self.unit != "count" else name


def _latency(tag: str, title: str, calc: type[DistributionMetric], fmt: str = "{:.2f}", short: str = "",
             compared: bool = True, published: str | None = None) -> Metric:
    return Metric(tag, title, "ms", "lower", short=short, fmt=fmt, stats=ALL_STATS, compared=compared,
                  published=published, calc=calc)


# In summary-row order: throughput, the distributions, goodput, client health, then the runner's extras.
METRICS: tuple[Metric, ...] = (
    Metric("completed", "completed requests", "count", short="completed", fmt="{:.0f}", kind=int,
           description="requests whose stream ended properly ([DONE] or a finish_reason) and carried at least one token"),
    Metric("failed", "failed requests", "count", "lower", short="failed", fmt="{:.0f}", kind=int,
           description="requests that failed; records.jsonl keeps each one's reason"),
    Metric("duration_s", "duration", "s", short="duration s", fmt="{:.1f}",
           description="from the workload's start to the end of its last response"),
    Metric("request_s", "request throughput", "req/s", "higher", short="req/s", compared=True,
           description="completed requests / duration"),
    Metric("output_tok_s", "output throughput", "tok/s", "higher", short="output tok/s", fmt="{:.1f}", compared=True,
           published="Output (tok/s)", description="output tokens of completed requests / duration"),
    Metric("total_tok_s", "total token throughput", "tok/s", "higher", short="total tok/s", fmt="{:.1f}",
           compared=True,
           description="(input + output tokens of completed requests) / duration"),
    Metric("input_tokens", "input tokens", "tokens", fmt="{:.0f}", kind=int,
           description="prompt tokens of completed requests, as the server's usage counted them where it sent one"),
    Metric("output_tokens", "output tokens", "tokens", fmt="{:.0f}", kind=int,
           description="output tokens of completed requests, from the server's usage where it sent one, else counted chunks"),
    Metric("output_tokens_from_usage", "requests with server usage", "count", fmt="{:.0f}", kind=int,
           description="completed requests whose output tokens came from the server's usage chunk"),
    # TTFT to a tenth and E2E to a whole ms: they run to hundreds and thousands of ms where ITL runs to tens.
    _latency("ttft", "TTFT", TTFT, fmt="{:.1f}", published="TTFT (ms)"),
    _latency("itl", "ITL", ITL),
    _latency("tpot", "TPOT", TPOT),
    _latency("e2e", "E2E latency", E2EL, fmt="{:.0f}", short="E2E", published="E2E Latency (ms)"),
    _latency("itl_token", "ITL per token", ITLTokenWeighted),
    _latency("ttft_reasoning", "TTFT reasoning", TTFTReasoning),
    _latency("ttft_answer", "TTFT answer", TTFTAnswer),
    _latency("ttft_tool_call", "TTFT tool call", TTFTToolCall, short="TTFT call"),
    _latency("tool_call", "tool call complete", ToolCallDone, short="call done"),
    _latency("ttft_due", "TTFT from schedule", TTFTFromDue, fmt="{:.1f}"),
    _latency("e2e_due", "E2E from schedule", E2ELFromDue, fmt="{:.0f}"),
    # The client's own lateness: it says whether to trust the run, not how good the server is.
    _latency("dispatch_lag", "dispatch lag", DispatchLag, compared=False),
    _latency("send_overhead", "send overhead", SendOverhead, compared=False),
    Metric("goodput_request_s", "goodput", "req/s", "higher", short="goodput req/s", always=False, compared=True,
           description="completed requests meeting every SLO given (ttft, tpot, e2e) / duration"),
    Metric("goodput_pct", "goodput share", "%", "higher", short="goodput %", fmt="{:.1f}", always=False,
           compared=True,
           description="requests meeting every SLO given, as a share of all requests sent"),
    Metric("loop_lag", "loop lag", "ms", "lower", stats=("mean", "p99", "max"),
           description="how late the client's event loop woke a 5 ms timer: a late loop takes timestamps late"),
    Metric("issue_lag", "issue lag", "ms", "lower", stats=("mean", "p99"),
           description="request on the wire (else issued) minus its scheduled time, for requests the schedule spread "
                       "out: the client's own delay in the figures from schedule"),
    Metric("client_cpu_pct", "client CPU", "%", "lower", short="client CPU %", fmt="{:.0f}",
           description="the client's CPU time / duration (with several client processes, the busiest one's)"),
    # With kernel receive stamps: how long after its arrival the client read a chunk (not part of any figure).
    Metric("read_delay", "client read delay", "ms", "lower", stats=("mean", "p99"), always=False,
           description="with kernel receive stamps: a chunk's read by the client minus its arrival at the socket"),
    # With kernel receive stamps: reads that took chunks written apart under one stamp (the client read late).
    Metric("merged_reads", "late merged reads", "count", "lower", short="merged reads", fmt="{:.0f}", kind=int,
           always=False,
           description="with kernel receive stamps: reads the client made late enough to hold chunks the server wrote "
                       "apart, every chunk in them stamped at the last one's arrival (they move ITL and, on a first "
                       "read, TTFT)"),
    Metric("merged_chunks", "chunks stamped late", "count", "lower", short="merged chunks", fmt="{:.0f}", kind=int,
           always=False,
           description="with kernel receive stamps: the chunks in late merged reads stamped at a later chunk's arrival"),
    Metric("merged_reads_server", "reads of chunks written together", "count", short="server merged",
           fmt="{:.0f}", kind=int, always=False,
           description="with kernel receive stamps: the other reads of more than one chunk, chunks the server wrote "
                       "together (MTP's one event per token, a flush): no figure is moved by them"),
    Metric("ttft_merge_error", "TTFT error from merged reads", "ms", "lower", stats=("mean", "p99"), always=False,
           description="with kernel receive stamps: TTFT as measured minus TTFT with each late merged first read's "
                       "chunks put back the stream's usual gap apart, per request: the client's estimated TTFT error"),
    Metric("itl_merge_error", "ITL error from merged reads", "ms", "lower", stats=("mean", "p99"), always=False,
           description="with kernel receive stamps: pooled ITL (mean, p99) as measured minus with each late merged "
                       "read's chunks spread back over the gap before it: the client's estimated ITL error"),
    Metric("client_workers", "client processes", "count", short="client procs", fmt="{:.0f}", kind=int,
           always=False,
           description="the client processes that sent the workload"),
    Metric("cap_held_pct", "concurrency held", "%", "higher", short="cap held %", fmt="{:.0f}", always=False,
           description="under a concurrency cap: arrivals after the first cap that found at least cap - 1 others in "
                       "flight (a conversation counts as one while it lasts)"),
    Metric("in_flight_p50", "in flight at arrival, median", "count", short="in flight p50", fmt="{:.0f}",
           always=False, description="under a concurrency cap: the median in flight as an arrival left, itself included"),
    Metric("in_flight_min", "in flight at arrival, least", "count", short="in flight min", fmt="{:.0f}", kind=int,
           always=False, description="under a concurrency cap: the least in flight as an arrival left, itself included"),
    Metric("spec_accept_length", "acceptance length", "tokens/step", "higher", short="accept length", always=False,
           compared=True,
           description="mean tokens per speculative step, 1 + accepted / drafts, from the server's own counters"),
    Metric("spec_accept_rate", "acceptance rate", "", "higher", short="accept rate", always=False, compared=True,
           description="accepted / drafted tokens, from the server's own counters"),
    # What the workload's prompts allow, beside what the server's prefix cache did; a fact, not a figure of merit.
    Metric("prefix_hit_predicted", "predicted prefix hit rate", "", short="prefix hit pred", always=False,
           description="share of prompt tokens in full blocks sent before (each block and all before it), as an "
                       "infinite prefix cache would serve them: from a trace's hash ids or the shared-prefix groups"),
    Metric("prefix_block_tokens", "prefix block size", "tokens", short="prefix block", fmt="{:.0f}", kind=int,
           always=False, description="the block size (tokens) prefix_hit_predicted is counted in"),
    Metric("prefix_hit_rate", "prefix cache hit rate", "", "higher", short="prefix hit", always=False, compared=True,
           description="prompt tokens the server's prefix cache served / prompt tokens it looked up, from its own "
                       "counters over the workload (SGLang without its cached-token counter: its cache_hit_rate "
                       "gauge at the end; the row's prefix_source says which)"),
)

# A BFCL category's accuracy (percent of entries passed), and OVERALL's; not a load metric, so not in METRICS.
ACCURACY = Metric("accuracy", "accuracy", "%", "higher", compared=True,
                  description="a BFCL category's accuracy (percent of entries passed), and OVERALL's")

_BY_TAG = {m.tag: m for m in METRICS}
_BY_KEY: dict[str, tuple[Metric, str | None]] = {
    **{m.key(s): (m, s) for m in METRICS for s in m.stats},
    **{m.tag: (m, None) for m in METRICS if not m.stats},
}
if len(_BY_TAG) != len(METRICS) or len(_BY_KEY) != sum(len(m.keys) for m in METRICS):
    raise ValueError("two metrics share a tag or a summary-row key")


def metric(tag: str) -> Metric:
    """The metric of a tag (``ttft``, ``output_tok_s``); KeyError for an unknown one."""
    return _BY_TAG[tag]


def lookup(key: str) -> tuple[Metric, str | None] | None:
    """The metric and statistic behind a summary-row key (``ttft_ms_p99`` -> TTFT, ``p99``); None if unknown."""
    return _BY_KEY.get(key)


def distributions() -> tuple[Metric, ...]:
    """The per-request distributions, in summary-row order."""
    return tuple(m for m in METRICS if m.calc is not None)


def published() -> tuple[Metric, ...]:
    """The published table's metrics, in its column order."""
    return tuple(m for m in METRICS if m.published)


def column(key: str, fmt: str | None = None) -> tuple[str, str, str]:
    """``(key, header, format)`` of a summary-row key; ``fmt`` overrides the metric's own format for one table."""
    found = lookup(key)
    if found is None:
        raise KeyError(f"{key!r} is no registered metric key")
    m, stat = found
    return key, m.header(stat), fmt or m.fmt


def columns(*keys: str) -> tuple[tuple[str, str, str], ...]:
    """``column`` of each key, in the order given."""
    return tuple(column(k) for k in keys)


def axis_label(key: str) -> str:
    """An axis label for a summary-row key (``TTFT p99 (ms)``), the key itself when it is not a load metric."""
    if key == ACCURACY.tag:
        return ACCURACY.label()
    found = lookup(key)
    if found is None:
        # The published table's aliases (``ttft_ms``) are a family's mean.
        m = next((m for m in published() if m.published_key == key), None)
        return m.label("mean") if m else key
    return found[0].label(found[1])
