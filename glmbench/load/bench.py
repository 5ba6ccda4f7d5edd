"""One load run end to end: samples, then each workload in turn, records and summaries to the store."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from time import perf_counter_ns
from typing import Protocol

import aiohttp

from glmbench.datasets.base import DatasetInfo, Sample
from glmbench.datasets.sharegpt import load_sharegpt, sample_sharegpt
from glmbench.datasets.synthetic import random_samples
from glmbench.datasets.tokens import TokenCounter, make_counter
from glmbench.load.client import StreamClient, Target, probe_target
from glmbench.load.records import RecordWriter, RequestRecord
from glmbench.load.runner import run_workload
from glmbench.load.workload import DatasetSpec, Suite, Workload
from glmbench.metrics.server import parse_prometheus, spec_acceptance
from glmbench.metrics.summary import summarize_workload
from glmbench.results.schema import LoadSummary
from glmbench.results.store import RunStore

__all__ = ["Plan", "Progress", "prepare_samples", "run_plan"]


class Progress(Protocol):
    """What the run reports as it goes; the CLI draws a progress bar from it."""

    def workload_started(self, name: str, title: str, total: int) -> None: ...
    def request_done(self, record: RequestRecord) -> None: ...
    def workload_done(self, row: dict) -> None: ...


@dataclass
class Plan:
    """Everything a load run needs, resolved."""

    suite: Suite
    workloads: list[tuple[str, Workload]]
    samples: list[Sample]
    dataset: DatasetInfo
    slos: Mapping[str, float] = field(default_factory=dict)


def prepare_samples(spec: DatasetSpec, count: int, model: str | None = None) -> tuple[list[Sample], DatasetInfo]:
    """``count`` samples from the suite's dataset, with the token counter chosen for the served model."""
    counter: TokenCounter = make_counter(spec.tokenizer, model)
    if spec.name == "random":
        return random_samples(count, spec.random_input_len, spec.random_output_len, spec.random_range_ratio,
                              spec.seed, counter)
    pairs, info = load_sharegpt(spec.source, spec.path)
    samples = sample_sharegpt(pairs, count, spec.seed, counter)
    info = DatasetInfo(**{**asdict(info), "token_counter": counter.name, "approximate_tokens": counter.approximate})
    return samples, info


async def _scrape(session: aiohttp.ClientSession, target: Target) -> dict[str, float] | None:
    """The server's Prometheus metrics, or None if it has none (never fails the run)."""
    try:
        async with session.get(f"{target.root_url}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            if resp.status != 200:
                return None
            return parse_prometheus(await resp.text())
    except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, UnicodeDecodeError):
        return None


async def run_plan(plan: Plan, target: Target, store: RunStore, progress: Progress | None = None) -> LoadSummary:
    """Run every workload of ``plan`` against ``target``; the summary is rewritten after each.

    On cancellation (Ctrl-C) the workload in progress is summarised from the
    requests that finished, marked interrupted, and the cancellation goes on.
    """
    await probe_target(target)
    summary = LoadSummary(run_id=store.run_id, approximate_tokens=plan.dataset.approximate_tokens)
    request = plan.suite.request
    with RecordWriter(store.records_path) as writer:
        async with StreamClient(target, request) as client, aiohttp.ClientSession(headers=target.headers()) as scraper:
            for name, workload in plan.workloads:
                samples = plan.samples[: workload.num_prompts or len(plan.samples)]
                finished: list[RequestRecord] = []

                def done(record: RequestRecord, finished: list[RequestRecord] = finished) -> None:
                    finished.append(record)
                    if progress is not None:
                        progress.request_done(record)

                if progress is not None:
                    progress.workload_started(name, workload.title, len(samples))
                before = await _scrape(scraper, target)
                store.append_server_metrics({"workload": name, "at": "start", "t_ns": perf_counter_ns(), "metrics": before})
                t0 = perf_counter_ns()
                interrupted = False
                try:
                    run = await run_workload(client, name, workload, samples, plan.suite.dataset.seed, writer, done)
                    t0, lags, cpu = run.t0_ns, run.loop_lag_ns, run.client_cpu_s
                except asyncio.CancelledError:
                    interrupted, lags, cpu = True, [], 0.0
                    t0 = min((r.due_ns for r in finished), default=t0)
                after = await _scrape(scraper, target) if not interrupted else None
                if after is not None:
                    store.append_server_metrics({"workload": name, "at": "end", "t_ns": perf_counter_ns(), "metrics": after})
                extra: dict = {"description": workload.describe(), "num_prompts": len(samples),
                               "approximate_tokens": plan.dataset.approximate_tokens, "interrupted": interrupted}
                if before and after:
                    extra.update(spec_acceptance(before, after) or {})
                row = summarize_workload(name, workload.title, finished, t0, lags, cpu, plan.slos, extra)
                summary.rows.append(row)
                store.write_summary(summary)
                if progress is not None:
                    progress.workload_done(row)
                if interrupted:
                    raise asyncio.CancelledError
    return summary
