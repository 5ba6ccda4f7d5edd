"""``glmbench run`` (start a backend, then load it) and ``glmbench bench`` (load a server that already runs).

Both parse their flags into :class:`~glmbench.api.RunOptions` (flags named as its
fields), call :func:`~glmbench.api.run_load` and render what it returns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

__all__ = ["register"]

# Options shared by ``run`` and ``bench``, named as the fields of RunOptions.
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
Timeout = Annotated[Optional[float], typer.Option("--timeout", help="Limit on each whole request in seconds, from "
                                                  "sending to the stream's end (default 600); a request past it fails.")]
StallTimeout = Annotated[Optional[float], typer.Option("--stall-timeout", help="Limit in seconds on the silence between "
                                                       "two reads of a stream, the wait for the first byte included "
                                                       "(default: none).")]
HttpClient = Annotated[Optional[str], typer.Option(help="wire (glmbench's own HTTP reader with kernel receive "
                                                 "stamps, the default) or aiohttp; https:// always uses aiohttp.",
                                                 show_default=False)]
Goodput = Annotated[Optional[list[str]], typer.Option(help="SLO as KEY:MS (ttft, tpot, e2e); repeatable.")]
ApiKey = Annotated[Optional[str], typer.Option(help="Bearer key; default $OPENAI_API_KEY. Never stored.", show_default=False)]
ResultsDir = Annotated[Path, typer.Option(help="Where result folders go.")]
Label = Annotated[Optional[str], typer.Option(help="What reports call this run (default: its folder name).")]
RunId = Annotated[Optional[str], typer.Option(help="The result folder's name (default: time, backend, workloads).")]
ClientWorkers = Annotated[Optional[int], typer.Option(help="Client processes, one event loop and core each; records "
                                                      "merge on one clock. Default: chosen per workload from its "
                                                      "expected chunk rate and the free cores.", show_default=False)]
Repeat = Annotated[int, typer.Option(help="Run the workloads N times against the same server "
                                     "(results/<run-id>/repeat-i/).")]
Backend_ = Annotated[Optional[str], typer.Option(help="Backend to start (glmbench backends lists them); default sim.")]
Config_ = Annotated[Optional[str], typer.Option(help="Backend config: a name from configs/ (vllm-mtp) or a YAML path.")]
Set_ = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config field: KEY=VALUE, dotted for "
                                                   "nested; repeatable.")]
Endpoint_ = Annotated[Optional[str], typer.Option(help="Use a running server instead of starting one (URL ending "
                                                  "in /v1).")]
Model_ = Annotated[Optional[str], typer.Option(help="Model path or name (overrides the config; a local folder's "
                                               "tokenizer is used).")]
SimConfig_ = Annotated[Optional[Path], typer.Option(help="Simulator settings YAML over the sim config's options "
                                                    "(as for glmbench sim --config).")]


def _load(launch: Any, flags: dict[str, Any], api_key: Optional[str]) -> None:
    """Run the load suite of ``flags`` against ``launch`` and render the result (a BFCL suite runs BFCL)."""
    from glmbench.api import (
        RunInterrupted,
        RunOptions,
        is_bfcl_suite,
        prepare,
        run_load,
    )
    from glmbench.cli.output import print_speed
    from glmbench.cli.progress import TerminalProgress

    if is_bfcl_suite(flags["suite"]):
        # A function-calling suite: the same server launch, BFCL's runner instead of the load engine.
        from glmbench.cli.bfcl import bfcl_suite_run

        bfcl_suite_run(launch, flags["suite"], {"timeout_s": flags.get("timeout_s")}, api_key, flags["results_dir"])
        return
    options = RunOptions.from_flags(flags)
    prepared = prepare(launch)
    progress = TerminalProgress()
    try:
        result = run_load(prepared, options, api_key, progress)
    except RunInterrupted as stop:
        result = stop.result
        # The repeat cut short writes into the folder of records_path; its summary (if a workload of it
        # ended) is the last one, after those of the repeats that completed.
        cut = result.records_path.parent.name if result.records_path else None
        completed = [s for s in result.summaries if s.run_id != cut]
        for i, summary in enumerate(completed, start=1):
            print_speed(summary.rows, f"{result.label}, repeat {i} of {options.repeat}")
        interrupted = next((s for s in result.summaries if s.run_id == cut), None)
        if interrupted is None:
            if completed:
                print(f"results: {result.path}")
            which = f" of repeat {len(completed) + 1}" if completed else ""
            progress.err.print(f"interrupted before any workload{which} finished; "
                               f"records kept in {result.records_path}")
        else:
            print_speed(interrupted.rows, result.label)
            print(f"results: {result.path}")
            progress.err.print(f"interrupted; the requests that ended are kept in {result.records_path}")
        sys.exit(130)
    if options.repeat > 1:
        for i, summary in enumerate(result.summaries, start=1):
            print_speed(summary.rows, f"{result.label}, repeat {i} of {options.repeat}")
    else:
        print_speed(result.rows, result.label)
    print(f"results: {result.path}")
    failure = result.failure()
    if failure is not None:
        raise failure


def run(
    backend: Backend_ = None, config: Config_ = None, set_: Set_ = None, workload: Workload_ = "burst",
    suite: Suite_ = "sharegpt", endpoint: Endpoint_ = None, model: Model_ = None,
    num_prompts: NumPrompts = None, seed: Seed = None, request_rate: RequestRate = None,
    max_concurrency: MaxConcurrency = None, burstiness: Burstiness = None, dataset: Dataset = None,
    dataset_path: DatasetPath = None, dataset_source: DatasetSource = None, tokenizer: Tokenizer = None,
    input_len: InputLen = None, output_len: OutputLen = None, api: Api = None, extra_body: ExtraBody = None,
    timeout_s: Timeout = None, stall_timeout_s: StallTimeout = None, http_client: HttpClient = None,
    goodput: Goodput = None,
    api_key: ApiKey = None, results_dir: ResultsDir = Path("results"), label: Label = None, run_id: RunId = None,
    sim_config: SimConfig_ = None,
    repeat: Repeat = 1, client_workers: ClientWorkers = None,
) -> None:
    """Start a backend, run the suite's workloads against it, print the tables, write results/<run-id>/."""
    from glmbench.api import Launch

    flags = dict(locals())
    launch = Launch(backend=backend, config=config, sets=list(set_ or []), endpoint=endpoint, model=model,
                    sim_settings=sim_config)
    _load(launch, flags, api_key)


def bench(
    endpoint: Annotated[str, typer.Option(help="Server to load (URL ending in /v1).")],
    backend: Annotated[Optional[str], typer.Option(help="What the server is (vllm, sglang, lightllm, ...), to read "
                                                   "its metrics.")] = None,
    workload: Workload_ = "burst", suite: Suite_ = "sharegpt",
    model: Annotated[Optional[str], typer.Option(help="Model name; default the first one at /v1/models.")] = None,
    num_prompts: NumPrompts = None, seed: Seed = None, request_rate: RequestRate = None,
    max_concurrency: MaxConcurrency = None, burstiness: Burstiness = None, dataset: Dataset = None,
    dataset_path: DatasetPath = None, dataset_source: DatasetSource = None, tokenizer: Tokenizer = None,
    input_len: InputLen = None, output_len: OutputLen = None, api: Api = None, extra_body: ExtraBody = None,
    timeout_s: Timeout = None, stall_timeout_s: StallTimeout = None, http_client: HttpClient = None,
    goodput: Goodput = None,
    api_key: ApiKey = None, results_dir: ResultsDir = Path("results"), label: Label = None, run_id: RunId = None,
    client_workers: ClientWorkers = None,
) -> None:
    """Run the suite's workloads against a server that is already running."""
    from glmbench.api import Launch

    flags = dict(locals())
    _load(Launch(backend=backend, endpoint=endpoint, model=model), flags, api_key)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("bench")(bench)
