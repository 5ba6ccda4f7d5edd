"""One load run end to end: samples, then each workload in turn, records and summaries to the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from time import perf_counter_ns
from typing import Any, Literal, Protocol

import aiohttp

from glmbench.backends.base import PlainMetrics, Scraper
from glmbench.datasets.base import DatasetInfo, Sample
from glmbench.datasets.prefix import predicted_prefix_hit
from glmbench.datasets.replay import TraceWindow, trace_samples
from glmbench.datasets.shared_prefix import DEFAULT_BLOCK_TOKENS, SharedPrefixShape, shared_prefix_samples
from glmbench.datasets.sharegpt import load_conversations, load_sharegpt, sample_sessions, sample_sharegpt
from glmbench.datasets.synthetic import random_samples
from glmbench.datasets.tokens import TokenCounter, make_counter
from glmbench.errors import GlmbenchError
from glmbench.load.client import StreamClient, Target, probe_target
from glmbench.load.runner import run_workload
from glmbench.load.sessions import send_sessions, session_spans, turn_ttfts
from glmbench.load.workers import auto_workers
from glmbench.load.workload import DatasetSpec, Suite, Workload
from glmbench.metrics.summary import summarize_workload
from glmbench.results.records import RecordWriter, RequestRecord
from glmbench.results.schema import LoadSummary
from glmbench.results.store import RunStore, write_error

__all__ = ["Plan", "Progress", "Watch", "prepare_samples", "run_plan"]

_StopKind = Literal["server-died", "write-failed"]  # LoadSummary.aborted_by


class Progress(Protocol):
    """What the run reports as it goes; the CLI draws a progress bar from it."""

    def workload_started(self, name: str, title: str, total: int) -> None: ...
    def request_done(self, record: RequestRecord) -> None: ...
    def workload_done(self, row: dict) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class Plan:
    """Everything a load run needs, resolved."""

    suite: Suite
    workloads: list[tuple[str, Workload]]
    samples: list[Sample]
    dataset: DatasetInfo
    slos: Mapping[str, float] = field(default_factory=dict)
    # Client processes per workload (glmbench.load.workers); 1 runs in this process, None picks per workload.
    client_workers: int | None = None


def prepare_samples(spec: DatasetSpec, count: int, model: str | None = None) -> tuple[list[Sample], DatasetInfo]:
    """``count`` samples from the suite's dataset, with the token counter chosen for the served model."""
    counter: TokenCounter = make_counter(spec.tokenizer, model)
    if spec.name == "random":
        return random_samples(count, spec.random_input_len, spec.random_output_len, spec.random_range_ratio,
                              spec.seed, counter)
    if spec.name == "trace":
        assert spec.trace_path is not None  # DatasetSpec checks it
        return trace_samples(spec.trace_path, spec.trace_format, spec.time_scale,
                             TraceWindow(spec.trace_start_s, spec.trace_end_s, count), counter, spec.prefix_block_tokens)
    if spec.name == "shared-prefix":
        shape = SharedPrefixShape(spec.gsp_num_groups, spec.gsp_prompts_per_group, spec.gsp_system_prompt_len,
                                  spec.gsp_question_len, spec.gsp_output_len)
        return shared_prefix_samples(shape, count, spec.seed, counter,
                                     spec.prefix_block_tokens or DEFAULT_BLOCK_TOKENS)
    if spec.name == "sessions":
        conversations, info = load_conversations(spec.source, spec.path, max_turns=2 * spec.session_turns)
        samples = sample_sessions(conversations, count, spec.seed, counter, spec.session_turns)
    else:
        pairs, info = load_sharegpt(spec.source, spec.path)
        samples = sample_sharegpt(pairs, count, spec.seed, counter)
    info = DatasetInfo(**{**asdict(info), "token_counter": counter.name, "approximate_tokens": counter.approximate})
    return samples, info


@dataclass
class Watch:
    """What runs beside each workload: the server's figures every ``interval_s``, and its process.

    ``server_exit`` returns the server's exit code once it has died (None while
    it runs); a death ends the run with the records that finished kept.
    """

    scraper: Scraper = field(default_factory=PlainMetrics)
    interval_s: float = 5.0
    server_exit: Callable[[], int | None] | None = None


async def _watch(watch: Watch, session: aiohttp.ClientSession, root_url: str, store: RunStore, name: str,
                 writer: RecordWriter) -> tuple[str, _StopKind]:
    """Scrape every ``interval_s`` until cancelled; return why the run must stop and its kind, if it must.

    It must stop when the server process dies, or when results can no longer be
    written (a full disk): a run that cannot store what it measures is no run.
    """
    next_scrape = time.monotonic() + watch.interval_s
    while True:
        await asyncio.sleep(0.25)
        if (stop := _must_stop(watch, writer)) is not None:
            return stop
        if time.monotonic() >= next_scrape:
            next_scrape += watch.interval_s
            try:
                store.append_server_metrics(_entry(name, "during", await watch.scraper.scrape(session, root_url)))
            except GlmbenchError as exc:
                return exc.message, "write-failed"


def _must_stop(watch: Watch, writer: RecordWriter) -> tuple[str, _StopKind] | None:
    """Why the run cannot go on, and the kind: records no longer written (a full disk), or the server died."""
    if writer.error is not None:
        return write_error(writer.path, writer.error).message, "write-failed"
    if watch.server_exit is not None and (code := watch.server_exit()) is not None:
        return f"server exited with code {code} mid-run", "server-died"
    return None


def _try(write: Callable[[dict[str, Any]], None], entry: dict[str, Any]) -> None:
    """A scrape that cannot be stored is lost; the records writer says why the run stops."""
    try:
        write(entry)
    except GlmbenchError:
        pass


def _entry(name: str, at: str, scrape: dict[str, Any]) -> dict[str, Any]:
    return {"workload": name, "at": at, "t_ns": perf_counter_ns(), "wall": time.time(), **scrape}


async def run_plan(plan: Plan, target: Target, store: RunStore, progress: Progress | None = None,
                   watch: Watch | None = None) -> LoadSummary:
    """Run every workload of ``plan`` against ``target``; the summary is rewritten after each.

    On cancellation (Ctrl-C) the workload in progress is summarised from the
    requests that finished, marked interrupted, and the cancellation goes on.
    When the server dies mid-run, the same happens and the summary's
    ``aborted`` says why; later workloads are not run.
    """
    watch = watch or Watch()
    await probe_target(target)
    # aborted has a default (Field(None, ...) in results/schema.py) that mypy sees only with the pydantic plugin
    summary = LoadSummary(
        run_id=store.run_id, approximate_tokens=plan.dataset.approximate_tokens)
    request = plan.suite.request
    with RecordWriter(store.records_path) as writer:
        async with StreamClient(target, request) as client, aiohttp.ClientSession(headers=target.headers()) as session:
            for name, workload in plan.workloads:
                samples = plan.samples[: workload.num_prompts or len(plan.samples)]
                finished: list[RequestRecord] = []

                def done(record: RequestRecord, finished: list[RequestRecord] = finished) -> None:
                    # The summary counts what records.jsonl holds: a record that could not be stored is lost.
                    if writer.error is None:
                        finished.append(record)
                    if progress is not None:
                        progress.request_done(record)

                if progress is not None:
                    progress.workload_started(name, workload.title, len(samples))
                before = await watch.scraper.scrape(session, target.root_url)
                _try(store.append_server_metrics, _entry(name, "start", before))
                t0 = perf_counter_ns()
                workers = plan.client_workers
                sessions = plan.suite.dataset.name == "sessions"
                if sessions:
                    workers = 1  # sessions run in this process (glmbench.load.sessions)
                elif workers is None:
                    workers, why = auto_workers(workload, samples)
                    if why is not None and progress is not None:
                        progress.note(f"{name}: {why}")
                interrupted, aborted, aborted_by, lags, cpu = False, None, None, [], 0.0
                loop = asyncio.get_running_loop()
                if sessions:
                    sending = send_sessions(client, name, workload, samples, plan.suite.dataset.seed, writer, done,
                                            think_time_ms=plan.suite.dataset.think_time_ms)
                else:
                    sending = run_workload(client, name, workload, samples, plan.suite.dataset.seed, writer, done,
                                           workers=workers)
                work = loop.create_task(sending)
                watcher = loop.create_task(_watch(watch, session, target.root_url, store, name, writer))
                try:
                    await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
                    if work.done():
                        run = work.result()
                        t0, lags, cpu, workers = run.t0_ns, run.loop_lag_ns, run.client_cpu_s, run.workers
                    else:
                        aborted, aborted_by = watcher.result()
                        work.cancel()
                        await asyncio.gather(work, return_exceptions=True)
                        interrupted = True
                        t0 = min((r.due_ns for r in finished), default=t0)
                except asyncio.CancelledError:
                    work.cancel()
                    await asyncio.gather(work, return_exceptions=True)
                    interrupted = True
                    t0 = min((r.due_ns for r in finished), default=t0)
                finally:
                    watcher.cancel()
                    await asyncio.gather(watcher, return_exceptions=True)
                if not aborted and (stop := _must_stop(watch, writer)) is not None:
                    # What the watcher had no time to see: the last records failed to write, or the
                    # server died and every request after it failed at once.
                    (aborted, aborted_by), interrupted = stop, True
                after = await watch.scraper.scrape(session, target.root_url) if not interrupted else {}
                if after:
                    _try(store.append_server_metrics, _entry(name, "end", after))
                extra: dict = {"description": workload.describe(plan.dataset.arrivals), "num_prompts": len(samples),
                               "approximate_tokens": plan.dataset.approximate_tokens, "dataset": plan.dataset.name,
                               "interrupted": interrupted,
                               "client_workers": workers}
                if before and after:
                    extra.update(watch.scraper.server_figures(before, after) or {})
                if (block := plan.dataset.prefix_block_tokens) is not None:
                    extra.update(prefix_hit_predicted=predicted_prefix_hit(samples, block), prefix_block_tokens=block)
                spans = None
                if sessions:  # a cap holds sessions; TTFT is also shown turn by turn
                    spans = session_spans(finished)
                    extra.update(sessions=len(spans), ttft_ms_mean_by_turn=turn_ttfts(finished))
                row = summarize_workload(name, workload.title, finished, t0, lags, cpu, plan.slos, extra,
                                         cap=workload.max_concurrency, sessions=spans)
                summary.rows.append(row)
                if aborted:
                    summary.aborted, summary.aborted_by = f"{aborted} during {name}", aborted_by
                    if writer.lost:
                        summary.aborted += f"; {writer.lost} ended requests could not be stored"
                try:
                    store.write_summary(summary)
                except GlmbenchError as exc:
                    if not aborted:
                        raise
                    assert summary.aborted is not None  # set above, as the run was aborted
                    summary.aborted += f"; {exc.message}"
                if progress is not None:
                    progress.workload_done(row)
                if aborted:
                    return summary
                if interrupted:
                    raise asyncio.CancelledError
    return summary
