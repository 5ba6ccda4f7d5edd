"""A BFCL run end to end: the data, the server, every entry asked and stored, both rule sets' tables.

:func:`run_bfcl` returns a :class:`BFCLResult` and never prints. Ctrl-C (or
SIGTERM) raises :class:`~glmbench.api.interrupted.RunInterrupted` once the
answers are kept and the tables of what was answered written; :func:`rescore_run` scores stored answers again without
a server.

Against a simulator that glmbench starts, the entries are answered from BFCL's
ground truth (:mod:`glmbench.bfcl.truth_book`, written into the run folder as
:data:`SIM_ANSWERS`) at a short ITL, unless ``sim_answers=False``: the scores
then check glmbench's pipeline, each table what the book says it scores by
construction (the table shown first near 100%). :func:`answering_from_truth`
does the same for an experiment's simulator, at its own ITL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from glmbench.api.interrupted import RunInterrupted
from glmbench.api.launch import Launch, PreparedLaunch, prepare, redacted_config
from glmbench.api.manifest import build_manifest, finish_manifest
from glmbench.api.progress import Progress
from glmbench.api.serving import open_endpoint, serve
from glmbench.backends.base import Server
from glmbench.bfcl.agentic.data import is_agentic
from glmbench.bfcl.categories import not_run_reason
from glmbench.bfcl.counterparts import read_twins
from glmbench.bfcl.data import BFCLDataInfo, load_bfcl
from glmbench.bfcl.results import summarize_run
from glmbench.bfcl.runner import RECORDS, read_records, rescore, run_entries
from glmbench.bfcl.suite import BFCLSuite
from glmbench.bfcl.truth_book import TruthBook
from glmbench.bfcl.types import BFCLEntry
from glmbench.errors import GlmbenchError
from glmbench.load.workload import suite_path
from glmbench.results.schema import BFCLSummary
from glmbench.results.store import RunStore, new_run_id
from glmbench.util.config_file import read_yaml, validate
from glmbench.util.loop import run_async

__all__ = ["BFCLResult", "SIM_ANSWERS", "run_bfcl", "load_bfcl_suite", "is_bfcl_suite", "resumed_suite",
           "rescore_run", "suite_entries", "answering_from_truth"]

SIM_ANSWERS = "sim_answers.jsonl"
"""The answer book of BFCL's ground truth a simulator glmbench started answered from, in the run folder."""

@dataclass
class BFCLResult:
    """What a BFCL run left: its folder, what happened, the tables, and the entries that failed at the API."""

    path: Path
    status: str
    title: str
    summary: BFCLSummary | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    write_failure: GlmbenchError | None = None

    @property
    def api_errors(self) -> int:
        """Entries whose request failed at the API (counted as failures)."""
        return sum(1 for r in self.records.values() if r.get("error"))

    def retried(self) -> tuple[int, dict[str, int]]:
        """Entries a retry answered (counted by their failed first attempt), and how many of those each
        rule set would have passed on the retried answer: what the figure would gain by counting retries."""
        retried = [r for r in self.records.values() if r.get("first_error") and not r.get("error")]
        passed: dict[str, int] = {}
        for record in retried:
            for rules, verdict in (record.get("retried_verdicts") or {}).items():
                passed[rules] = passed.get(rules, 0) + bool(isinstance(verdict, dict) and verdict.get("ok"))
        return len(retried), passed

    def failure(self) -> GlmbenchError | None:
        """Why this result cannot be vouched for (exit 1), or None."""
        if self.write_failure is not None:
            return self.write_failure
        if self.status == "all-failed":
            first = next(iter(self.records.values())).get("error")
            return GlmbenchError(f"every BFCL request failed at the API (first: {first})",
                                 "check the server and --endpoint/--model; the reasons are in the records",
                                 exit_code=1)
        return None


def load_bfcl_suite(name_or_path: str, overrides: dict[str, Any] | None = None,
                    fields: dict[str, Any] | None = None) -> BFCLSuite:
    """A BFCL suite file (``suites/bfcl-v3.yaml``) with overrides (None leaves the file's value) and ``fields``
    set as given (None included: an experiment's rate point has no cap), validated."""
    path = suite_path(name_or_path)
    data = read_yaml(path, "suite file") or {}
    if not isinstance(data, dict):
        raise GlmbenchError(f"{path} is not a BFCL suite", "see suites/bfcl-v3.yaml for the shape")
    typed = {k for k, v in (overrides or {}).items() if v is not None}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    data.update(fields or {})

    def option(loc: tuple[Any, ...]) -> str | None:
        # An override is an option of glmbench bfcl, spelt as the field but for timeout_s: name it so.
        key = str(loc[0]) if loc else ""
        return ("--timeout" if key == "timeout_s" else "--" + key.replace("_", "-")) if key in typed else None

    return validate(BFCLSuite, data, str(path), "fix the option or the suite file", given=option)


def is_bfcl_suite(name_or_path: str) -> bool:
    """True when the suite file says ``kind: bfcl``."""
    try:
        data = read_yaml(suite_path(name_or_path))
    except GlmbenchError:
        return False
    return isinstance(data, dict) and data.get("kind") == "bfcl"


def resumed_suite(run_dir: Path, overrides: dict[str, Any] | None = None) -> BFCLSuite:
    """The suite a BFCL result folder was run with; only how fast it is asked may change."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise GlmbenchError(f"no config.yaml in {run_dir}", "pass a folder written by glmbench bfcl to --resume")
    data = (read_yaml(path) or {}).get("bfcl_suite")
    if not isinstance(data, dict):
        raise GlmbenchError(f"{run_dir} is not a BFCL run", "pass a folder written by glmbench bfcl to --resume")
    paced = ("concurrency", "request_rate", "burstiness", "timeout_s", "retries")  # how fast it is asked, not what
    data.update({k: (overrides or {})[k] for k in paced if (overrides or {}).get(k) is not None})
    return validate(BFCLSuite, data, str(path), "fix the option or the suite file")


def _first_per_category(entries: list, limit: int) -> list:
    """The first ``limit`` entries of each category, in file order."""
    seen: dict[str, int] = {}
    kept = []
    for entry in entries:
        seen[entry.category] = seen.get(entry.category, 0) + 1
        if seen[entry.category] <= limit:
            kept.append(entry)
    return kept


def _without_environment(categories: list[str], version: str) -> dict[str, str]:
    """Multi-turn categories, each with the reason, when BFCL's simulated APIs (the release's cached wheel) are not
    there."""
    from glmbench.bfcl.categories import traits
    from glmbench.bfcl.multi_turn.environment import environment_code

    multi_turn = [c for c in categories if traits(c).multi_turn]
    if not multi_turn:
        return {}
    try:
        environment_code(version=version)
    except GlmbenchError as exc:
        return {c: f"{exc.message} ({exc.hint})" for c in multi_turn}
    return {}


def agentic_options(suite: BFCLSuite) -> Any:
    """What the user provided for BFCL v4's agentic categories (:class:`~glmbench.bfcl.agentic.backends.AgenticOptions`)."""
    from glmbench.bfcl.agentic.backends import AgenticOptions

    return AgenticOptions(embedding_model=Path(suite.embedding_model) if suite.embedding_model else None)


def _agentic_not_run(categories: list[str], suite: BFCLSuite) -> dict[str, str]:
    """BFCL v4's agentic categories that cannot run here (an embedding model, a search service not provided)."""
    agentic = [c for c in categories if is_agentic(c)]
    if not agentic:
        return {}
    from glmbench.bfcl.agentic.backends import not_run_reason as agentic_not_run

    options = agentic_options(suite)
    return {c: why for c in agentic if (why := agentic_not_run(c, options))}


def _load_entries(categories: list[str], suite: BFCLSuite) -> tuple[list[BFCLEntry], BFCLDataInfo]:
    """The entries of ``categories``: BFCL v4's agentic ones from their own loader (the cached v4 wheel), the rest
    from ``suite``'s source."""
    from glmbench.bfcl.agentic.data import is_agentic
    from glmbench.bfcl.agentic.format_sensitivity import CATEGORY as FORMAT_SENSITIVITY

    agentic = [c for c in categories if is_agentic(c)]
    own = [*agentic, FORMAT_SENSITIVITY]
    others = [c for c in categories if c not in own]
    if others or not agentic:
        entries, info = load_bfcl(others, suite.source, suite.data_dir, suite.bfcl_version)
    else:  # agentic categories alone: what is read is the v4 wheel, by their own loader
        from glmbench.bfcl.agentic.wheel import v4_wheel

        entries, info = [], BFCLDataInfo(f"cache:{v4_wheel().name}", "", {}, version=suite.bfcl_version)
    if FORMAT_SENSITIVITY in categories:
        from glmbench.bfcl.agentic.format_sensitivity import load_entries

        # Its limit is per variant: the first ``limit`` of its 200 entries, each under all 26 prompt formats.
        variants = load_entries(suite.limit, suite.source, suite.data_dir)
        entries = [*entries, *variants]
        info.counts[FORMAT_SENSITIVITY] = len(variants)
    if agentic:
        from glmbench.bfcl.agentic.data import load_agentic

        loaded = load_agentic(agentic).entries
        entries = [*entries, *loaded]
        for entry in loaded:
            info.counts[entry.category] = info.counts.get(entry.category, 0) + 1
    return entries, info


def suite_entries(suite: BFCLSuite) -> tuple[list[BFCLEntry], BFCLDataInfo, dict[str, str]]:
    """The entries a run of ``suite`` asks (at most ``limit`` per category), where they came from, and the
    categories it cannot run here, each with the reason."""
    not_run = {c: why for c in suite.categories if (why := not_run_reason(c, suite.bfcl_version))}
    wanted = [c for c in suite.categories if c not in not_run]
    not_run.update(_without_environment(wanted, suite.bfcl_version))
    not_run.update(_agentic_not_run(wanted, suite))
    if "format_sensitivity" in wanted and suite.mode != "prompt":
        from glmbench.bfcl.agentic.format_sensitivity import NATIVE_NOT_RUN

        not_run["format_sensitivity"] = NATIVE_NOT_RUN
    wanted = [c for c in wanted if c not in not_run]
    entries, info = _load_entries(wanted, suite)
    read_twins(suite.bfcl_version)  # the other release's rules judge twins: read them before the run, not in it
    not_run.update({c: f"no data ({why})" for c, why in info.missing.items()})
    if suite.limit:  # format_sensitivity's limit is applied per variant as it loads
        entries = [*_first_per_category([e for e in entries if e.category != "format_sensitivity"], suite.limit),
                   *[e for e in entries if e.category == "format_sensitivity"]]
    return entries, info, not_run


def answering_from_truth(prepared: PreparedLaunch, asked: Sequence[tuple[list[BFCLEntry], BFCLSuite]], book: Path,
                         quick: bool = True) -> tuple[PreparedLaunch, list[TruthBook]]:
    """``prepared`` answering the entries ``asked`` (each list under the suite it is asked with) from BFCL's ground
    truth, written to ``book``, where it starts a server that can (the simulator; ``quick``: at a short ITL), with
    the book of each suite; as it is, and no books, otherwise (a model, an endpoint, a config with a book of its
    own)."""
    if prepared.cfg is None or prepared.backend is None or prepared.plan is None:
        return prepared, []
    sets = prepared.backend.answer_book_sets(prepared.cfg, book, quick)
    if not sets:
        return prepared, []
    from glmbench.bfcl.truth_book import truth_book, write_truth_book

    books = [truth_book(entries, suite) for entries, suite in asked]
    write_truth_book(book, [line for b in books for line in b.lines])
    # The user's own --set come last, so an ITL they chose wins.
    answering = prepare(replace(prepared.launch, sets=[*sets, *prepared.launch.sets]))
    assert answering.backend is not None and answering.cfg is not None  # as prepared's
    return answering, books


def _answering(prepared: PreparedLaunch, entries: list, suite: BFCLSuite, book: Path,
               progress: Progress) -> PreparedLaunch:
    """``prepared`` answering from BFCL's ground truth, written to ``book``, where it starts a server that can (the
    simulator; said in a note with what each table scores by construction); as it is otherwise."""
    answering, books = answering_from_truth(prepared, [(entries, suite)], book)
    if not books:
        return prepared
    assert answering.backend is not None and answering.cfg is not None  # answering_from_truth's
    _, itl_s = answering.backend.request_seconds(answering.cfg)
    progress.note(f"{prepared.label} answers from BFCL's ground truth ({book.name} in the run folder), a check of "
                  f"glmbench's pipeline, not of a model; ITL {itl_s * 1000:g} ms; {books[0].expected()}. "
                  "glmbench bfcl --sim-answers none: its placeholder replies instead")
    return answering


def run_bfcl(launch: Launch | PreparedLaunch, suite: BFCLSuite, api_key: str | None = None,
             results_dir: Path = Path("results"), resume: Path | None = None,
             progress: Progress | None = None, server: Server | None = None, run_id: str | None = None,
             label: str | None = None, sim_answers: bool = True) -> BFCLResult:
    """Ask every entry of ``suite`` (those not yet answered in ``resume``), store records, summary and manifest.

    ``server``: a server of ``launch`` already running, used and left running;
    ``run_id`` names the result folder, ``label`` what reports call the run.
    ``sim_answers``: a simulator this call starts answers from BFCL's ground truth (False: its placeholder replies).
    """
    progress = progress or Progress()
    prepared = launch if isinstance(launch, PreparedLaunch) else prepare(launch)
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    entries, info, not_run = suite_entries(suite)
    if prepared.endpoint and server is None:
        open_endpoint(prepared, api_key)  # probed before a result folder exists
    store = RunStore.reopen(resume) if resume else \
        RunStore(results_dir, run_id or new_run_id(prepared.label, label or "bfcl"))
    result = BFCLResult(path=store.path, status="failed", title="")
    load: list[dict[str, Any]] = []  # the requests' load summary rows, when asked as traffic
    manifest = None
    interrupted = False
    try:
        if sim_answers and server is None:
            prepared = _answering(prepared, entries, suite, store.path / SIM_ANSWERS, progress)
        with nullcontext(server) if server else serve(prepared, store.server_log, api_key, progress) as server:
            result.title = f"{suite.name} on {prepared.source_label if prepared.cfg else server.name} ({server.model})"
            store.write_config({"bfcl_suite": suite.model_dump(mode="json"), "backend": prepared.label,
                                "backend_config": redacted_config(prepared.cfg) if prepared.cfg else None})
            manifest = build_manifest(store, prepared, server, kind="bfcl", suite=suite.name,
                                      workloads=sorted({e.category for e in entries}),
                                      dataset={**asdict(info), "limit_per_category": suite.limit}, seed=0,
                                      label=label)
            store.write_manifest(manifest)
            progress.run_started(f"bfcl: {len(entries)} entries ({suite.mode} mode, {suite.style} requests)",
                                 server.base_url, server.model, store.path)
            progress.workload_started("bfcl", "bfcl", len(entries))
            # BFCL v4's agentic entries (memory, web search) are asked unstreamed, after their prerequisite
            # conversations, as BFCL's harness asks them; the rest as the suite says.
            agentic = [e for e in entries if is_agentic(e.category)]
            rest = [e for e in entries if not is_agentic(e.category)]
            result.records = {}
            if suite.stream and rest:
                result.records, load = run_async(_as_traffic(rest, suite, prepared, server, store, api_key,
                                                             progress.request_done))
            if agentic or not suite.stream:
                asked = agentic if suite.stream else entries
                result.records.update(run_async(run_entries(
                    asked, suite, server.base_url, server.model, store.path / RECORDS, api_key,
                    progress.request_done, agentic=agentic_options(suite) if agentic else None)))
            answered = result.records.values()
            result.status = "all-failed" if answered and all(r.get("error") for r in answered) else "complete"
    except KeyboardInterrupt:
        result.status, interrupted = "interrupted", True
        result.records = read_records(store.path / RECORDS)
    except GlmbenchError as exc:
        if manifest is None:
            raise
        # The records file could not be written (a full disk): stop, keep and summarise what was written.
        result.status, interrupted, result.write_failure = "write-failed", True, exc
        result.records = read_records(store.path / RECORDS)
    finally:
        finish_manifest(store, manifest, result.status, progress)
        store.release_reserve()
    result.summary = summarize_run(store.run_id, suite, entries, result.records, not_run, interrupted)
    if suite.stream:
        if interrupted and not load:
            # Cut short: the requests that ended are on disk, their figures marked interrupted.
            load = _stored_rows(store, entries, suite)
        result.summary.schedule, result.summary.load = suite.workload().describe(), load
    try:
        store.write_summary(result.summary)
    except GlmbenchError as exc:
        if result.write_failure is None:
            raise
        progress.warning(exc.message)
    if result.status == "interrupted":
        raise RunInterrupted(result)
    return result


async def _as_traffic(entries: list, suite: BFCLSuite, prepared: PreparedLaunch, server: Server, store: RunStore,
                      api_key: str | None, on_done: Any) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Ask ``entries`` as traffic (:mod:`glmbench.bfcl.traffic`): the entries' records, and the requests' load rows
    with the server's speculative acceptance over the run's window, where its counters give one."""
    import aiohttp

    from glmbench.backends.base import PlainMetrics
    from glmbench.bfcl.traffic import run_traffic, traffic_rows
    from glmbench.load.client import Target
    from glmbench.results.records import RecordWriter
    from glmbench.results.store import write_error

    backend = prepared.backend
    target = Target(server.base_url, server.model, api_key, backend.adapt_request if backend else None,
                    backend.warmup_path if backend else "/v1/models")
    scraper = backend or PlainMetrics()
    workload = suite.workload()
    async with aiohttp.ClientSession(headers=target.headers()) as session:
        before = await scraper.scrape(session, target.root_url)
        with RecordWriter(store.records_path) as writer:
            out = await run_traffic(entries, suite, target, store.path / RECORDS, writer, workload, suite.seed, on_done)
            if writer.error is not None:
                raise write_error(writer.path, writer.error)
        after = await scraper.scrape(session, target.root_url)
    acceptance = scraper.server_figures(before, after) if before and after else None
    return out.records, traffic_rows(out, {e.id: e.category for e in entries}, workload.describe(), acceptance)


def _stored_rows(store: RunStore, entries: list, suite: BFCLSuite) -> list[dict[str, Any]]:
    """The load rows of a traffic run cut short, from the request records it kept (none if unreadable)."""
    from glmbench.bfcl.traffic import TrafficRun, traffic_rows
    from glmbench.load.sender import WorkloadRun
    from glmbench.results.records import read_records as read_requests

    try:
        requests = list(read_requests(store.records_path)) if store.records_path.is_file() else []
    except OSError:
        return []
    if not requests:
        return []
    run = WorkloadRun(name="bfcl", t0_ns=min(r.due_ns for r in requests), interrupted=True)
    out = TrafficRun(records={}, requests=requests, run=run, cap=suite.concurrency)
    return traffic_rows(out, {e.id: e.category for e in entries}, suite.workload().describe())


def rescore_run(run_dir: Path, scoring: str | None = None, data_dir: str | None = None) -> BFCLSummary:
    """Decode and score a BFCL run's stored responses again (after a decoder or checker change); no server."""
    suite = resumed_suite(run_dir)
    if scoring:
        suite = suite.model_copy(update={"scoring": scoring})
    if data_dir:
        suite = suite.model_copy(update={"data_dir": data_dir, "source": "dir"})
    stored = read_records(Path(run_dir) / RECORDS)
    if not stored:
        raise GlmbenchError(f"no BFCL records in {run_dir}", "pass a folder written by glmbench bfcl")
    categories = sorted({r["category"] for r in stored.values()})
    entries, _ = _load_entries(categories, suite)
    by_id = {e.id: e for e in entries}
    records = {r["id"]: r for r in rescore(stored.values(), by_id, suite.enable_thinking)}
    not_run = {c: not_run_reason(c, suite.bfcl_version) or "not run" for c in suite.categories if c not in categories}
    summary = summarize_run(Path(run_dir).name, suite, [e for e in entries if e.id in records], records, not_run)
    RunStore.reopen(Path(run_dir)).write_summary(summary)
    return summary
