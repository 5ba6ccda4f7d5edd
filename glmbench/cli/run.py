"""``glmbench run`` (start a backend, then load it) and ``glmbench bench`` (load a server that already runs).

Their run options are the fields of :class:`~glmbench.api.RunOptions`, made
options by :func:`~glmbench.cli.options.options_command`; each command adds its
own options for the server it loads. Both call :func:`~glmbench.api.run_load`
and render what it returns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench.cli.options import ApiKey, options_command
from glmbench.cli.output import FormatOption, QuietOption, Shown
from glmbench.load.options import RunOptions

__all__ = ["register"]

# What server to load: Launch's fields, not run options, so each command declares its own; the run
# options themselves are RunOptions' fields (glmbench/load/options.py).
Backend_ = Annotated[Optional[str], typer.Option(help="Backend to start (glmbench backends lists them); default sim.",
                                                 metavar="NAME")]
Config_ = Annotated[Optional[str], typer.Option(help="Backend config: a name from configs/ (vllm-mtp) or a YAML path.",
                                                metavar="NAME|PATH")]
Set_ = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config field: KEY=VALUE, dotted for "
                                                   "nested; repeatable.", metavar="KEY=VALUE")]
Endpoint_ = Annotated[Optional[str], typer.Option(help="Use a running server instead of starting one (URL ending "
                                                  "in /v1).", metavar="URL")]
Model_ = Annotated[Optional[str], typer.Option(help="Model path or name (overrides the config; a local folder's "
                                               "tokenizer is used).", metavar="NAME|PATH")]
SimConfig_ = Annotated[Optional[Path], typer.Option(help="Simulator settings YAML over the sim config's options "
                                                    "(as for glmbench sim --sim-config).")]
BenchEndpoint = Annotated[str, typer.Option(help="Server to load (URL ending in /v1).", metavar="URL")]
BenchBackend = Annotated[Optional[str], typer.Option(help="What the server is (vllm, sglang, lightllm, ...), to read "
                                                     "its metrics.")]
BenchModel = Annotated[Optional[str], typer.Option(help="Model name; default the first one at /v1/models.")]
Limit_ = Annotated[Optional[int], typer.Option(min=1, help="A BFCL suite (--suite bfcl-v3): at most this many "
                                               "entries per category.")]


def _load(launch: Any, options: RunOptions, api_key: Optional[str], limit: Optional[int] = None,
          shown: Optional[Shown] = None) -> None:
    """Run the load suite of ``options`` against ``launch`` and render the result (a BFCL suite runs BFCL), as
    ``shown`` says (tables, or another format; quiet)."""
    from glmbench.api import RunInterrupted, is_bfcl_suite, prepare, run_load

    shown = shown or Shown()
    print_speed = shown.speed

    if is_bfcl_suite(options.suite):
        # A function-calling suite: the same server launch, BFCL's runner instead of the load engine.
        from glmbench.cli.bfcl import bfcl_suite_run

        bfcl_suite_run(launch, options, limit, api_key, shown)
        return
    if limit is not None:
        from glmbench.errors import GlmbenchError
        from glmbench.load.workload import suite_path

        suite_path(options.suite)  # a suite that does not exist is said first, as it is without --limit
        raise GlmbenchError(f"--limit is for BFCL suites; {options.suite} is a load suite",
                            "pass --num-prompts N for the prompts of each workload")
    prepared = prepare(launch)
    progress = shown.progress()
    try:
        result = run_load(prepared, options, api_key, progress)
    except RunInterrupted as stop:
        result = stop.result
        # The repeat cut short writes into the folder of records_path; its summary (if a workload of it
        # ended) is the last one, after those of the repeats that completed.
        cut = result.records_path.parent.name if result.records_path else None
        completed = [s for s in result.summaries if s.run_id != cut]
        if len(completed) > 1:
            from glmbench.metrics.repeats import combine_rows

            print_speed(combine_rows([s.rows for s in completed]),
                        f"{result.label}: mean of repeats 1-{len(completed)} of {options.repeat}, ± 95% CI")
        elif completed:
            print_speed(completed[0].rows, f"{result.label}, repeat 1 of {options.repeat}")
        interrupted = next((s for s in result.summaries if s.run_id == cut), None)
        if interrupted is None:
            if completed:
                shown.results(result.path)
            which = f" of repeat {len(completed) + 1}" if completed else ""
            progress.err.print(f"interrupted before any workload{which} finished; "
                               f"records kept in {result.records_path}")
        else:
            print_speed(interrupted.rows, result.label)
            shown.results(result.path)
            progress.err.print(f"interrupted; the requests that ended are kept in {result.records_path}")
        sys.exit(130)
    if len(result.summaries) > 1:
        # The repeats as one result: each figure's mean and 95% interval (each repeat's: report FOLDER/repeat-i).
        print_speed(result.rows, f"{result.label}: mean of {len(result.summaries)} repeats, ± 95% CI")
    else:
        print_speed(result.rows, result.label)
    shown.results(result.path)
    failure = result.failure()
    if failure is not None:
        raise failure


# Where each command's own options show in --help among the run options (before the one named).
@options_command(RunOptions, "run", before={"workload": ("backend", "config", "set_"),
                                            "num_prompts": ("endpoint", "model"), "results_dir": ("api_key",),
                                            "repeat": ("sim_config",)})
def run(options: RunOptions, *, backend: Backend_ = None, config: Config_ = None, set_: Set_ = None,
        endpoint: Endpoint_ = None, model: Model_ = None, api_key: ApiKey = None,
        sim_config: SimConfig_ = None, limit: Limit_ = None, format: FormatOption = "table",
        quiet: QuietOption = False) -> None:
    """Start a backend, run the suite's workloads against it, print the tables, write results/<run-id>/."""
    from glmbench.api import Launch

    launch = Launch(backend=backend, config=config, sets=list(set_ or []), endpoint=endpoint, model=model,
                    sim_settings=sim_config)
    _load(launch, options, api_key, limit, Shown(format, quiet))


@options_command(RunOptions, "bench", before={"workload": ("endpoint", "backend"), "num_prompts": ("model",),
                                              "results_dir": ("api_key",)})
def bench(options: RunOptions, *, endpoint: BenchEndpoint, backend: BenchBackend = None, model: BenchModel = None,
          api_key: ApiKey = None, limit: Limit_ = None, format: FormatOption = "table",
          quiet: QuietOption = False) -> None:
    """Run the suite's workloads against a server that is already running."""
    from glmbench.api import Launch

    _load(Launch(backend=backend, endpoint=endpoint, model=model), options, api_key, limit, Shown(format, quiet))


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``bench`` to ``app``."""
    app.command("run")(run)
    app.command("bench")(bench)
