"""A load run end to end: the server, the suite's workloads (repeated if asked), one result folder per run.

:func:`run_load` returns a :class:`LoadResult` and never prints; Ctrl-C (or
SIGTERM) raises :class:`RunInterrupted` carrying the partial result, once the
server is stopped and the manifest says what happened.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from glmbench.api.interrupted import RunInterrupted
from glmbench.api.launch import Launch, PreparedLaunch, prepare, redacted_config
from glmbench.api.manifest import build_manifest, finish_manifest
from glmbench.api.options import RunOptions
from glmbench.api.progress import Progress
from glmbench.api.serving import open_endpoint, serve
from glmbench.backends.base import Server
from glmbench.errors import GlmbenchError
from glmbench.load.bench import Plan, Watch, prepare_samples, run_plan
from glmbench.load.client import Target
from glmbench.metrics.goodput import parse_slos
from glmbench.metrics.repeats import combine_summaries
from glmbench.results.schema import LoadSummary, Manifest
from glmbench.results.store import RunStore, load_summary, new_run_id, now_iso
from glmbench.util.loop import run_async

__all__ = ["LoadResult", "run_load"]


@dataclass
class LoadResult:
    """What a load run left: its folder, what happened, and the summary of each repeat (one without repeats)."""

    path: Path
    status: str
    label: str
    summaries: list[LoadSummary] = field(default_factory=list)
    records_path: Path | None = None
    server_log: Path | None = None
    repeats: int = 1

    @property
    def summary(self) -> LoadSummary | None:
        """The last repeat's summary (the only one without repeats)."""
        return self.summaries[-1] if self.summaries else None

    @property
    def combined(self) -> LoadSummary | None:
        """The run as one result: with several repeats, each metric's mean over them with its 95% interval
        (:mod:`glmbench.metrics.repeats`, what the run's folder holds as its summary); else the one summary."""
        if len(self.summaries) > 1:
            return combine_summaries(self.summaries, self.path.name)
        return self.summary

    @property
    def rows(self) -> list[dict]:
        """The summary rows, one per workload: with repeats, the means over them (:attr:`combined`)."""
        combined = self.combined
        return combined.rows if combined else []

    def failure(self) -> GlmbenchError | None:
        """Why this result cannot be vouched for (exit 1), or None.

        Every repeat counts: a run stopped early, or a workload with no success in
        any one repeat (a later repeat that succeeds does not make up for it).
        """
        for summary in self.summaries:
            if summary.aborted:
                hint = {"server-died": f"see {self.server_log}" if self.server_log else "check the server",
                        "write-failed": "free space on that disk or pass --results-dir on another"}
                return GlmbenchError(f"{summary.aborted}; the requests that ended are kept in {self.records_path}",
                                     hint.get(summary.aborted_by or "", "check the server"), exit_code=1)
        dead = [(i, [r for r in s.rows if not r.get("completed") and r.get("failed")])
                for i, s in enumerate(self.summaries, start=1)]
        dead = [(i, rows) for i, rows in dead if rows]
        if not dead:
            return None
        first, rows = dead[0]
        reasons: dict[str, int] = rows[0].get("errors") or {}  # error kind -> count
        reason = max(reasons, key=reasons.__getitem__) if reasons else "unknown"
        names = ", ".join(r["workload"] for r in rows)
        where = ""
        if len(self.summaries) > 1 or self.repeats > 1:
            which = [i for i, _ in dead]
            where = (f" in repeat {first}" if len(which) == 1 else
                     f" in repeats {', '.join(map(str, which))}") + f" of {max(self.repeats, len(self.summaries))}"
        return GlmbenchError(f"every request of {names} failed{where} (most often: {reason})",
                             "check the server and --endpoint/--model; the failures are listed above", exit_code=1)


def _status(summary: LoadSummary) -> str:
    """What happened, for the manifest: stopped early, no request succeeded, or complete."""
    if summary.aborted:
        return summary.aborted_by or "server-died"
    if summary.rows and not any(r.get("completed") for r in summary.rows):
        return "all-failed"
    return "complete"


def _overall(summaries: list[LoadSummary]) -> str:
    """What happened to a run of several repeats: the last repeat that did not complete says it, else complete."""
    return next((s for s in map(_status, reversed(summaries)) if s != "complete"), "complete")


def _write_repeats(parent: RunStore, first: Manifest | None, ended: list[LoadSummary], status: str, repeats: int,
                   progress: Progress) -> None:
    """The folder of a repeated run as one result: the repeats' combined summary (means and 95% intervals,
    :mod:`glmbench.metrics.repeats`) and the run's manifest, so that report, compare and history read it whole."""
    if first is None or not ended:
        return
    try:
        parent.write_summary(combine_summaries(ended, parent.run_id))
        parent.write_manifest(first.model_copy(update={"run_id": parent.run_id, "repeat": None, "repeats": repeats,
                                                       "status": status, "finished_at": now_iso()}))
    except GlmbenchError as exc:
        progress.warning(exc.message)


def run_load(launch: Launch | PreparedLaunch, options: RunOptions | None = None, api_key: str | None = None,
             progress: Progress | None = None, server: Server | None = None, point: str | None = None) -> LoadResult:
    """Start (or probe) the server of ``launch``, run the workloads of ``options``, write ``results_dir/<run-id>/``.

    Everything that can fail before a server starts fails first, as a user error
    (nothing left behind). With ``repeat`` N each repeat is a result folder of
    its own under the run's folder, against the same server, and the run's folder
    holds the repeats as one result: their combined summary (each metric's mean
    and 95% interval) and a manifest of the whole run. ``server``, when given, is
    a server of ``launch`` already running (from :func:`serve`): the run uses it
    and leaves it running, as an experiment does for its load points; ``point``
    names the workload after the load point it is (``c8``: see
    :meth:`RunOptions.suite_and_workloads`).
    """
    options = options or RunOptions()
    progress = progress or Progress()
    prepared = launch if isinstance(launch, PreparedLaunch) else prepare(launch)
    suite, workloads = options.suite_and_workloads(point)
    slos = parse_slos(options.goodput)
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    count = max((wl.num_prompts or suite.dataset.num_prompts) for _, wl in workloads)
    samples, dataset = prepare_samples(suite.dataset, count, prepared.cfg.model if prepared.cfg else prepared.launch.model)
    # A server someone else runs is probed before a result folder exists: an unreachable
    # endpoint leaves nothing behind. A server glmbench starts logs into the folder.
    if prepared.endpoint and server is None:
        open_endpoint(prepared, api_key)
    names = [n for n, _ in workloads]
    parent = RunStore(options.results_dir, options.run_id or new_run_id(prepared.label, options.label or options.workload))
    result = LoadResult(path=parent.path, status="failed", label="", records_path=parent.records_path,
                        repeats=options.repeat,
                        server_log=server.process.log_path if server and server.process else
                        None if prepared.endpoint else parent.server_log)
    plan = Plan(suite=suite, workloads=workloads, samples=samples, dataset=dataset, slos=slos,
                client_workers=options.client_workers)
    store, manifest = parent, None
    first: Manifest | None = None  # the first repeat's manifest: the run's own, with repeats
    ended: list[LoadSummary] = []  # the repeats that ran to their end (or stopped early), not one cut short
    try:
        with nullcontext(server) if server else serve(prepared, parent.server_log, api_key, progress) as server:
            result.label = f"{suite.name} on {prepared.source_label if prepared.cfg else server.name} ({server.model})"
            backend = prepared.backend
            target = Target(server.base_url, server.model, api_key, backend.adapt_request if backend else None,
                            backend.warmup_path if backend else "/v1/models")
            watch = Watch(interval_s=prepared.cfg.scrape_interval_s if prepared.cfg else 5.0,
                          server_exit=server.exit_code)
            if backend is not None:
                watch.scraper = backend
            cfg = prepared.cfg
            for i in range(1, options.repeat + 1):
                # Repeats share the server; each is a complete result folder of its own, so that
                # compare can use their spread (glmbench compare takes the parent folder).
                store = parent if options.repeat == 1 else RunStore(parent.path, f"repeat-{i}")
                result.records_path, manifest = store.records_path, None
                config = {"suite": suite.model_dump(mode="json"), "workloads": names, "goodput_slos": slos,
                          "backend": prepared.label, "repeat": i, "repeats": options.repeat,
                          "backend_config": redacted_config(cfg) if cfg else None}
                if store is not parent and i == 1:
                    parent.write_config({**config, "repeat": None})  # the whole run's, as its summary is
                store.write_config(config)
                manifest = build_manifest(store, prepared, server, kind="load", suite=suite.name, workloads=names,
                                          dataset=asdict(dataset), seed=suite.dataset.seed,
                                          repeat=i if options.repeat > 1 else None, repeats=options.repeat,
                                          label=options.label)
                store.write_manifest(manifest)
                first = first or manifest
                progress.run_started(", ".join(names), server.base_url, server.model, store.path, i, options.repeat)
                result.status = "failed"
                summary = run_async(run_plan(plan, target, store, progress, watch))
                result.summaries.append(summary)
                ended.append(summary)
                result.status = _status(summary)
                finish_manifest(store, manifest, result.status, progress)  # this repeat's own status
                result.status = _overall(result.summaries)
                if options.repeat > 1:
                    progress.repeat_done(i, options.repeat, summary.rows)
                if summary.aborted:
                    break
    except KeyboardInterrupt:
        result.status = "interrupted"
        finish_manifest(store, manifest, "interrupted", progress)
        try:
            result.summaries.append(load_summary(store.path))  # the workloads that ended, the one cut short last
        except GlmbenchError:
            pass
        raise RunInterrupted(result) from None
    finally:
        if result.status == "failed":
            finish_manifest(store, manifest, "failed", progress)
        if options.repeat > 1:
            _write_repeats(parent, first, ended, result.status, options.repeat, progress)
        store.release_reserve()
        parent.release_reserve()
    return result
