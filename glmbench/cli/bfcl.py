"""``glmbench bfcl`` (run BFCL v3 against a server) and ``glmbench rescore`` (score stored responses again)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench.bfcl.registry import options_help, rule_set_names
from glmbench.cli.options import ApiKey, BackendName, ConfigName, Endpoint, ModelName, Sets
from glmbench.cli.output import FormatOption, QuietOption, Shown

__all__ = ["register", "bfcl_suite_run"]

# The options that pick a rule set by name take their choices and help from the registry
# (Typer takes choices from an Enum; this one is built at import, so mypy cannot list its members).
_HELP = options_help()
_RuleSetName = Enum("_RuleSetName", {name: name for name in rule_set_names()}, type=str)  # type: ignore[misc]


def _name(choice: Optional[Enum]) -> Optional[str]:
    return None if choice is None else str(choice.value)


class _SimAnswers(str, Enum):
    truth = "truth"
    none = "none"


def _render(launch: Any, suite: Any, api_key: Optional[str], results_dir: Path, resume: Optional[Path] = None,
            sim_answers: bool = True, run_id: Optional[str] = None, label: Optional[str] = None,
            shown: Optional[Shown] = None) -> None:
    """Run ``suite`` through :func:`glmbench.api.run_bfcl` and show the tables (or what ``shown`` asks), then what
    went wrong if anything."""
    from glmbench.api import RunInterrupted, run_bfcl
    from glmbench.bfcl.runner import RECORDS

    shown = shown or Shown()
    progress = shown.progress()
    try:
        result = run_bfcl(launch, suite, api_key, results_dir, resume, progress, run_id=run_id, label=label,
                          sim_answers=sim_answers)
        interrupted = False
    except RunInterrupted as stop:
        result, interrupted = stop.result, True
    progress.finished()
    if result.summary is not None:
        shown.bfcl(result.summary, result.title, result.path)
    if result.api_errors:
        progress.err.print(f"* {result.api_errors} entries failed at the API (counted as failures); "
                           f"reasons in {result.path / RECORDS}")
    retried, passed = result.retried()
    if retried:
        would = ", ".join(f"{rules} {n}" for rules, n in passed.items())
        progress.err.print(f"* {retried} entries failed on their first attempt and a retry answered them: "
                           f"counted as failures (the load they were asked under failed them); their retried "
                           f"answers would pass {would}")
    shown.results(result.path)
    if interrupted:
        sys.exit(130)
    failure = result.failure()
    if failure is not None:
        raise failure


# run's options that a BFCL suite takes, by the suite field each sets; run_id, label, results_dir and suite are
# taken as they are. Any other given is refused: a BFCL run would ignore it.
_RUN_OPTIONS = {"timeout_s": "timeout_s", "max_concurrency": "concurrency", "request_rate": "request_rate",
                "burstiness": "burstiness", "seed": "seed"}
_RUN_AS_IS = ("suite", "results_dir", "run_id", "label")


def _not_for_bfcl(options: Any) -> list[str]:
    """The options of ``run`` given (other than their defaults) that a BFCL suite has no use for, as spelt."""
    from glmbench.cli.options import option_fields

    fields = option_fields(type(options), "run")
    given = [name for name, info in type(options).model_fields.items()
             if name in fields and getattr(options, name) != info.get_default(call_default_factory=True)]
    return [fields[n].spelling(n) for n in given if n not in _RUN_OPTIONS and n not in _RUN_AS_IS]


def bfcl_suite_run(launch: Any, options: Any, limit: Optional[int], api_key: Optional[str],
                   shown: Optional[Shown] = None) -> None:
    """``glmbench run --suite bfcl-v3``: a BFCL suite file against the launch of ``run``, with the options of ``run``
    (:class:`~glmbench.load.options.RunOptions`) that mean something to it, and ``--limit``."""
    from glmbench.api import load_bfcl_suite
    from glmbench.errors import GlmbenchError

    refused = _not_for_bfcl(options)
    if refused:
        counted = "--num-prompts counts the prompts of a load workload; " if "--num-prompts" in refused else ""
        what = "not an option" if len(refused) == 1 else "not options"
        raise GlmbenchError(f"{', '.join(refused)}: {what} of a BFCL suite ({options.suite})",
                            f"{counted}a BFCL suite takes --limit N (at most N entries per category), "
                            "--concurrency, --request-rate, --timeout; glmbench bfcl --help lists the rest")
    overrides = {field: getattr(options, name) for name, field in _RUN_OPTIONS.items()}
    suite = load_bfcl_suite(options.suite, {**overrides, "limit": limit})
    if options.request_rate is not None and options.max_concurrency is None:
        suite = suite.model_copy(update={"concurrency": None})  # a rate alone is an open loop, as in glmbench bfcl
    _render(launch, suite, api_key, options.results_dir, run_id=options.run_id, label=options.label, shown=shown)


def bfcl(
    endpoint: Endpoint = None,
    backend: BackendName = None,
    config: ConfigName = None,
    set_: Sets = None,
    model: ModelName = None,
    suite: Annotated[str, typer.Option(help="BFCL suite name or YAML path.")] = "bfcl-v3",
    categories: Annotated[Optional[str], typer.Option(help="Comma list of categories (default: the suite's).")] = None,
    scoring: Annotated[Optional[_RuleSetName], typer.Option(help=_HELP["scoring"])] = None,
    mode: Annotated[Optional[str], typer.Option(help="native (server parses tool calls) or prompt (glmbench does).")] = None,
    style: Annotated[Optional[_RuleSetName], typer.Option(help=_HELP["style"])] = None,
    concurrency: Annotated[Optional[int], typer.Option(help="Entries in flight at most, held as a closed loop (a "
                                                      "multi-turn entry holds its slot for its conversation).")] = None,
    request_rate: Annotated[Optional[float], typer.Option(help="Entries arriving per second (Poisson; no cap unless "
                                                          "--concurrency is given too).")] = None,
    burstiness: Annotated[Optional[float], typer.Option(help="Shape of the arrivals with --request-rate: 1 Poisson, "
                                                        "below 1 burstier.")] = None,
    tool_latency_ms: Annotated[Optional[float], typer.Option(help="Time the tools take before a multi-turn step sends "
                                                             "their results.")] = None,
    stream: Annotated[Optional[bool], typer.Option("--stream/--no-stream", help="Stream through glmbench's client "
                                                   "with full latency records (default), or ask unstreamed as BFCL's "
                                                   "harness does.")] = None,
    retries: Annotated[Optional[int], typer.Option(help="Retries of a request on transport errors and HTTP 5xx (the "
                                                   "entry still counts by its first attempt).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many entries per category.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Output tokens allowed per request (the suite's, "
                                                      "1024 in bfcl-v3).")] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="A folder in BFCL's layout (BFCL_v3_*.json, "
                                                    "possible_answer/).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Per-request timeout in seconds.")] = None,
    embedding_model: Annotated[Optional[Path], typer.Option(help="BFCL v4's memory_vector: a local "
                                                            "sentence-transformers model folder (BFCL uses "
                                                            "all-MiniLM-L6-v2); without it memory_vector is not "
                                                            "run.")] = None,
    api_key: ApiKey = None,
    results_dir: Annotated[Path, typer.Option(help="Where result folders go.")] = Path("results"),
    resume: Annotated[Optional[Path], typer.Option(help="A BFCL result folder to finish (entries answered are "
                                                   "kept).")] = None,
    sim_answers: Annotated[_SimAnswers, typer.Option(help="A simulator glmbench starts (--backend sim): answer from "
                                                     "BFCL's ground truth at a 1 ms ITL (truth: the table shown "
                                                     "first scores near 100% by construction, a check of the "
                                                     "pipeline) or stream its "
                                                     "placeholder replies (none).")] = _SimAnswers.truth,
    format: FormatOption = "table",
    quiet: QuietOption = False,
) -> None:
    """Run BFCL function calling (v3, or v4 with --suite bfcl-v4) against a server; score by every rule set."""
    from glmbench.api import Launch, load_bfcl_suite, resumed_suite

    overrides: dict[str, Any] = {
        "scoring": _name(scoring), "mode": mode, "style": _name(style), "concurrency": concurrency, "limit": limit,
        "timeout_s": timeout, "request_rate": request_rate, "burstiness": burstiness,
        "tool_latency_ms": tool_latency_ms, "stream": stream, "retries": retries, "max_tokens": max_tokens,
        "categories": [c.strip() for c in categories.split(",") if c.strip()] if categories else None,
    }
    if data_dir:
        overrides.update(data_dir=data_dir, source="dir")
    if embedding_model is not None:
        overrides["embedding_model"] = str(embedding_model)
    suite_obj = resumed_suite(resume, overrides) if resume else load_bfcl_suite(suite, overrides)
    if request_rate is not None and concurrency is None:
        suite_obj = suite_obj.model_copy(update={"concurrency": None})  # a rate alone is an open loop
    launch = Launch(backend=backend, config=config, sets=list(set_ or []), endpoint=endpoint, model=model)
    _render(launch, suite_obj, api_key, results_dir, resume, sim_answers=sim_answers is _SimAnswers.truth,
            shown=Shown(format, quiet))


def rescore(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by glmbench bfcl.")],
    scoring: Annotated[Optional[_RuleSetName], typer.Option(help=_HELP["scoring"])] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="BFCL data folder, if not the cached wheel.")] = None,
) -> None:
    """Decode and score a BFCL run's stored responses again, without asking the server."""
    from glmbench.api import rescore_run
    from glmbench.cli.output import print_bfcl

    print_bfcl(rescore_run(run_dir, _name(scoring), data_dir), f"{run_dir.name} (rescored)")


def register(app: typer.Typer) -> None:
    app.command("bfcl")(bfcl)
    app.command("rescore")(rescore)
