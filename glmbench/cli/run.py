"""``glmbench run`` (start a backend, then load it) and ``glmbench bench`` (load a server that already runs)."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench import __version__
from glmbench.errors import GlmbenchError

__all__ = ["register"]


def _suite_with_overrides(suite_name: str, workload: str, num_prompts, seed, request_rate, max_concurrency,
                          burstiness, dataset, dataset_path, dataset_source, tokenizer, api, input_len, output_len,
                          extra_body, timeout_s, stall_timeout_s=None):
    from pydantic import ValidationError

    from glmbench.load.workload import Suite, load_suite
    from glmbench.util.config_file import validation_message as format_validation_error

    suite = load_suite(suite_name)
    data = suite.model_dump()
    ds, req = data["dataset"], data["request"]
    for key, value in (("num_prompts", num_prompts), ("seed", seed), ("name", dataset), ("path", dataset_path),
                       ("source", dataset_source), ("tokenizer", tokenizer), ("random_input_len", input_len),
                       ("random_output_len", output_len)):
        if value is not None:
            ds[key] = value
    if dataset_path:
        ds["name"] = dataset or "sharegpt"
    for key, value in (("api", api), ("timeout_s", timeout_s), ("stall_timeout_s", stall_timeout_s)):
        if value is not None:
            req[key] = value
    if extra_body:
        import json

        try:
            req["extra_body"] = {**req["extra_body"], **json.loads(extra_body)}
        except (json.JSONDecodeError, TypeError):
            raise GlmbenchError("--extra-body is not a JSON object", 'write it as JSON, e.g. \'{"chat_template_kwargs": {"enable_thinking": false}}\'') from None
    for wl in data["workloads"].values():
        if num_prompts is not None:
            wl["num_prompts"] = None
        for key, value in (("request_rate", request_rate), ("max_concurrency", max_concurrency),
                           ("burstiness", burstiness)):
            if value is not None:
                wl[key] = value
        if request_rate is not None or max_concurrency is not None:
            # The suite's title names its own rate or cap; say what was actually run.
            wl["title"] = wl["title"].split(" (")[0] + " (overridden)"
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise GlmbenchError(format_validation_error(exc, "run settings"), "fix the option named above") from None
    return suite, suite.select(workload)


def _gpus() -> list[str]:
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.TimeoutExpired):
        return []


class _BarProgress:
    """A rich progress bar per workload, on stderr."""

    def __init__(self) -> None:
        from glmbench.util.text import safe_console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = safe_console(stderr=True)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(),
                            console=self.console, transient=False, refresh_per_second=2)
        self.task = None

    def workload_started(self, name: str, title: str, total: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task(title, total=total, failed=0)

    def request_done(self, record) -> None:
        task = self.bar.tasks[-1]
        self.bar.update(self.task, advance=1, failed=task.fields["failed"] + (0 if record.ok else 1))

    def workload_done(self, row: dict) -> None:
        self.bar.stop()


def _finish_manifest(store, manifest, status: str, err) -> None:
    """The manifest's final status, if it can still be written (it says what happened to the run)."""
    from glmbench.results.store import now_iso

    if manifest is None:
        return
    try:
        store.write_manifest(manifest.model_copy(update={"status": status, "finished_at": now_iso()}))
    except GlmbenchError as exc:
        err.print(f"warning: {exc.message}")


def _run_status(summary) -> str:
    """What happened, for the manifest: stopped early, no request succeeded, or complete."""
    if summary.aborted:
        return summary.aborted_by or "server-died"
    if summary.rows and not any(r.get("completed") for r in summary.rows):
        return "all-failed"
    return "complete"


def _failed_workloads(summary) -> GlmbenchError | None:
    """Exit 1 when a workload had not one successful request: a nightly job must not pass on a dead server."""
    dead = [r for r in summary.rows if not r.get("completed") and r.get("failed")]
    if not dead:
        return None
    reasons = dead[0].get("errors") or {}
    reason = max(reasons, key=reasons.get) if reasons else "unknown"
    names = ", ".join(r["workload"] for r in dead)
    return GlmbenchError(f"every request of {names} failed (most often: {reason})",
                         "check the server and --endpoint/--model; the failures are listed above", exit_code=1)


def _execute(launch, api_key: Optional[str], suite_args: dict[str, Any], workload: str, goodput: list[str],
             results_dir: Path, repeat: int = 1, client_workers: int = 1) -> None:
    from glmbench.cli.output import print_speed
    from glmbench.cli.serving import open_server, prepare_launch, redacted_config
    from glmbench.load.bench import Plan, Watch, prepare_samples, run_plan
    from glmbench.load.client import Target
    from glmbench.metrics.goodput import parse_slos
    from glmbench.results.schema import BackendInfo, Manifest
    from glmbench.results.store import RunStore, clock_pair, git_sha, host_facts, new_run_id, now_iso
    from glmbench.util.loop import run_async
    from glmbench.util.text import safe_console, visible

    suite, workloads = _suite_with_overrides(workload=workload, **suite_args)
    slos = parse_slos(goodput)
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    prepared = prepare_launch(launch)
    count = max((wl.num_prompts or suite.dataset.num_prompts) for _, wl in workloads)
    samples, dataset_info = prepare_samples(suite.dataset, count, prepared.cfg.model if prepared.cfg else launch.model)

    err = safe_console(stderr=True)
    # A server someone else runs is probed before a result folder exists: an unreachable
    # endpoint leaves nothing behind. A server glmbench starts logs into the folder.
    server = open_server(prepared, launch, api_key, None, err) if prepared.endpoint else None
    parent = RunStore(results_dir, new_run_id(prepared.label, workload))
    if server is None:
        try:
            server = open_server(prepared, launch, api_key, parent, err)
        except BaseException:
            parent.release_reserve()  # the folder keeps the server's log
            raise
    cfg, backend = prepared.cfg, prepared.backend
    plan = Plan(suite=suite, workloads=workloads, samples=samples, dataset=dataset_info, slos=slos,
                client_workers=client_workers)
    target = Target(server.base_url, server.model, api_key, backend.adapt_request if backend else None,
                    backend.warmup_path if backend else "/v1/models")
    watch = Watch(interval_s=cfg.scrape_interval_s if cfg else 5.0, server_exit=server.exit_code)
    if backend is not None:
        watch.scraper = backend
    label = f"{suite.name} on {cfg.source_label if cfg else server.name} ({server.model})"
    status, summary, store, manifest = "failed", None, parent, None
    try:
        for i in range(1, repeat + 1):
            # Repeats share the server; each is a complete result folder of its own, so that
            # compare can use their spread (glmbench compare takes the parent folder).
            store = parent if repeat == 1 else RunStore(parent.path, f"repeat-{i}")
            manifest = None
            store.write_config({"suite": suite.model_dump(mode="json"), "workloads": [n for n, _ in workloads],
                                "goodput_slos": slos, "backend": prepared.label, "repeat": i, "repeats": repeat,
                                "backend_config": cfg.model_dump(mode="json") if cfg else None})
            manifest = Manifest(
                run_id=store.run_id, glmbench_version=__version__, git_sha=git_sha(),
                backend=BackendInfo(name=server.name, version=server.version, command=server.command, env=server.env,
                                    url=server.base_url, model=server.model,
                                    config=redacted_config(cfg) if cfg else None),
                host=host_facts(), gpu=_gpus(), suite=suite.name, workloads=[n for n, _ in workloads],
                dataset=asdict(dataset_info), seed=suite.dataset.seed, started_at=now_iso(), clock=clock_pair(),
                repeat=i if repeat > 1 else None, repeats=repeat,
            )
            store.write_manifest(manifest)
            err.print(f"running {', '.join(n for n, _ in workloads)} against {server.base_url} ({visible(server.model)}) "
                      f"-> {store.path}" + (f" (repeat {i} of {repeat})" if repeat > 1 else ""))
            status = "failed"
            summary = run_async(run_plan(plan, target, store, _BarProgress(), watch))
            status = _run_status(summary)
            _finish_manifest(store, manifest, status, err)
            if repeat > 1:
                print_speed(summary.rows, f"{label}, repeat {i} of {repeat}")
            if summary.aborted:
                break
    except KeyboardInterrupt:
        status = "interrupted"
        summary = None
        _finish_manifest(store, manifest, status, err)
    finally:
        if not server.stop():
            err.print(f"warning: port {server.port} still answers after the server was stopped")
        if status == "failed":
            _finish_manifest(store, manifest, status, err)
        store.release_reserve()
        parent.release_reserve()
    if summary is None:
        from glmbench.results.store import load_summary

        try:
            summary = load_summary(store.path)
        except GlmbenchError:
            err.print(f"interrupted before any workload finished; records kept in {store.records_path}")
            sys.exit(130)
    if repeat == 1 or status == "interrupted":
        print_speed(summary.rows, label)
    print(f"results: {parent.path}")
    if status == "interrupted":
        err.print(f"interrupted; the requests that ended are kept in {store.records_path}")
        sys.exit(130)
    if summary.aborted:
        hint = f"see {parent.server_log}" if summary.aborted_by == "server-died" and server.process else \
            "free space on that disk or pass --results-dir on another" if summary.aborted_by == "write-failed" else \
            "check the server"
        raise GlmbenchError(f"{summary.aborted}; the requests that ended are kept in {store.records_path}",
                            hint, exit_code=1)
    failure = _failed_workloads(summary)
    if failure is not None:
        raise failure


# Options shared by ``run`` and ``bench``.
Workload_ = Annotated[str, typer.Option("--workload", "-w", help="Workload of the suite, a comma list, or 'all'.")]
Suite_ = Annotated[str, typer.Option(help="Suite name or YAML path.")]
NumPrompts = Annotated[Optional[int], typer.Option(help="Prompts per workload.")]
Seed = Annotated[Optional[int], typer.Option(help="Seed of the dataset shuffle and arrival times.")]
RequestRate = Annotated[Optional[float], typer.Option(help="Override the arrival rate (req/s) of every workload.")]
MaxConcurrency = Annotated[Optional[int], typer.Option(help="Override the in-flight cap of every workload.")]
Burstiness = Annotated[Optional[float], typer.Option(help="Gamma shape of arrivals: 1 Poisson, <1 burstier.")]
Dataset = Annotated[Optional[str], typer.Option(help="sharegpt or random.")]
DatasetPath = Annotated[Optional[str], typer.Option(help="ShareGPT JSON file to read.")]
DatasetSource = Annotated[Optional[str], typer.Option(help="Where ShareGPT comes from without a path: auto, hub, package.")]
Tokenizer = Annotated[Optional[str], typer.Option(help="Folder or tokenizer.json for exact token counts.")]
InputLen = Annotated[Optional[int], typer.Option(help="Random dataset: prompt tokens.")]
OutputLen = Annotated[Optional[int], typer.Option(help="Random dataset: output tokens.")]
Api = Annotated[Optional[str], typer.Option(help="chat (default) or completions.")]
ExtraBody = Annotated[Optional[str], typer.Option(help="JSON merged into every request body.")]
Timeout = Annotated[Optional[float], typer.Option(help="Limit on each whole request in seconds, from sending to the "
                                                 "stream's end (default 600); a request past it fails as a timeout.")]
StallTimeout = Annotated[Optional[float], typer.Option(help="Limit in seconds on the silence between two reads of a "
                                                       "stream, the wait for the first byte included (default: none).")]
Goodput = Annotated[list[str], typer.Option(help="SLO as KEY:MS (ttft, tpot, e2e); repeatable.")]
ApiKey = Annotated[Optional[str], typer.Option(help="Bearer key; default $OPENAI_API_KEY. Never stored.", show_default=False)]
ResultsDir = Annotated[Path, typer.Option(help="Where result folders go.")]
ClientWorkers = Annotated[int, typer.Option(min=1, help="Client processes, one event loop and core each: for loads past "
                                            "one core (~25,000 chunks/s); records merge on one clock.")]


Backend_ = Annotated[Optional[str], typer.Option(help="Backend to start (glmbench backends lists them); default sim.")]
Config_ = Annotated[Optional[str], typer.Option(help="Backend config: a name from configs/ (vllm-mtp) or a YAML path.")]
Set_ = Annotated[list[str], typer.Option("--set", help="Override a config field: KEY=VALUE, dotted for nested; repeatable.")]


def run(
    backend: Backend_ = None,
    config: Config_ = None,
    set_: Set_ = [],  # noqa: B006
    workload: Workload_ = "burst",
    suite: Suite_ = "sharegpt",
    endpoint: Annotated[Optional[str], typer.Option(help="Use a running server instead of starting one (URL ending in /v1).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model path or name (overrides the config; a local folder's tokenizer is used).")] = None,
    num_prompts: NumPrompts = None, seed: Seed = None, request_rate: RequestRate = None,
    max_concurrency: MaxConcurrency = None, burstiness: Burstiness = None, dataset: Dataset = None,
    dataset_path: DatasetPath = None, dataset_source: DatasetSource = None, tokenizer: Tokenizer = None,
    input_len: InputLen = None, output_len: OutputLen = None, api: Api = None, extra_body: ExtraBody = None,
    timeout: Timeout = None, stall_timeout: StallTimeout = None, goodput: Goodput = [],  # noqa: B006
    api_key: ApiKey = None, results_dir: ResultsDir = Path("results"),
    sim_config: Annotated[Optional[Path], typer.Option(help="Simulator settings YAML over the sim config's options (as for glmbench sim --config).")] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Run the workloads N times against the same server (results/<run-id>/repeat-i/).")] = 1,
    client_workers: ClientWorkers = 1,
) -> None:
    """Start a backend, run the suite's workloads against it, print the tables, write results/<run-id>/."""
    suite_args = dict(suite_name=suite, num_prompts=num_prompts, seed=seed, request_rate=request_rate,
                      max_concurrency=max_concurrency, burstiness=burstiness, dataset=dataset,
                      dataset_path=dataset_path, dataset_source=dataset_source, tokenizer=tokenizer, api=api,
                      input_len=input_len, output_len=output_len, extra_body=extra_body, timeout_s=timeout,
                      stall_timeout_s=stall_timeout)
    from glmbench.cli.bfcl import execute_bfcl, is_bfcl_suite, load_bfcl_suite
    from glmbench.cli.serving import Launch

    launch = Launch(backend=backend, config=config, sets=list(set_), endpoint=endpoint, model=model,
                    sim_settings=sim_config)
    if is_bfcl_suite(suite):
        # A function-calling suite: the same server launch, BFCL's runner instead of the load engine.
        overrides = {"timeout_s": timeout}
        execute_bfcl(launch, load_bfcl_suite(suite, overrides), api_key, results_dir)
        return
    _execute(launch, api_key, suite_args, workload, goodput, results_dir, repeat, client_workers)


def bench(
    endpoint: Annotated[str, typer.Option(help="Server to load (URL ending in /v1).")],
    backend: Annotated[Optional[str], typer.Option(help="What the server is (vllm, sglang, lightllm, ...), to read its metrics.")] = None,
    workload: Workload_ = "burst",
    suite: Suite_ = "sharegpt",
    model: Annotated[Optional[str], typer.Option(help="Model name; default the first one at /v1/models.")] = None,
    num_prompts: NumPrompts = None, seed: Seed = None, request_rate: RequestRate = None,
    max_concurrency: MaxConcurrency = None, burstiness: Burstiness = None, dataset: Dataset = None,
    dataset_path: DatasetPath = None, dataset_source: DatasetSource = None, tokenizer: Tokenizer = None,
    input_len: InputLen = None, output_len: OutputLen = None, api: Api = None, extra_body: ExtraBody = None,
    timeout: Timeout = None, stall_timeout: StallTimeout = None, goodput: Goodput = [],  # noqa: B006
    api_key: ApiKey = None, results_dir: ResultsDir = Path("results"),
    client_workers: ClientWorkers = 1,
) -> None:
    """Run the suite's workloads against a server that is already running."""
    run(backend=backend, config=None, set_=[], workload=workload, suite=suite, endpoint=endpoint, model=model,
        num_prompts=num_prompts, seed=seed, request_rate=request_rate, max_concurrency=max_concurrency,
        burstiness=burstiness, dataset=dataset, dataset_path=dataset_path, dataset_source=dataset_source,
        tokenizer=tokenizer, input_len=input_len, output_len=output_len, api=api, extra_body=extra_body,
        timeout=timeout, stall_timeout=stall_timeout, goodput=goodput, api_key=api_key, results_dir=results_dir,
        sim_config=None, repeat=1,
        client_workers=client_workers)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("bench")(bench)
