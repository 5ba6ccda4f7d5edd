"""``glmbench equivalence run`` (one server's outputs to a fixed prompt set) and ``diff`` (two runs compared)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench.cli.options import ApiKey, BackendName, ConfigName, Endpoint, ModelName, Sets

__all__ = ["register", "print_diff"]

equivalence_app = typer.Typer(help="Output equivalence: the same prompts at temperature 0 against two configurations, "
                              "compared token by token.", no_args_is_help=True)


def print_diff(rows: list[dict[str, Any]], title: str, notes: list[str]) -> None:
    """A comparison's table (one row per pass) and its differences, escaped for the terminal."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from glmbench.report.equivalence_run import pct, positions
    from glmbench.util.text import visible

    console = Console(width=160 if not sys.stdout.isatty() else None)
    table = Table(title=Text(visible(title)))
    for header in ("pass", "compared", "match", "first diff token (min / median / max)", "near ties", "wide margins",
                   "calls changed", "verdicts changed", "failed"):
        table.add_column(header, justify="left" if header == "pass" else "right")
    for row in rows:
        table.add_row(Text(visible(row["pass"])), str(row["compared"]), pct(row["match_rate"]),
                      positions(row["first_diff_tokens"]), str(row["near_ties"]), str(row["wide_margins"]),
                      str(row["calls_changed"]), str(row["verdicts_changed"]), str(row["failed"]))
    console.print(table)
    differ = Table(title="where outputs differ")
    for header in ("pass", "prompt", "token", "char", "reference", "candidate", "margin", "calls / verdict"):
        differ.add_column(header, justify="right" if header in ("token", "char", "margin") else "left")
    shown = 0
    for row in rows:
        for d in row.get("differences", []):
            if shown == 50:
                break
            shown += 1
            margin = "-" if d["margin"] is None else f"{d['margin']:.3f}"
            changed = "-" if d["calls_changed"] is None else \
                f"{'changed' if d['calls_changed'] else 'same'} / {'changed' if d['verdict_changed'] else 'same'}"
            differ.add_row(Text(visible(row["pass"])), Text(visible(d["prompt"])), str(d["token"] if d["token"] is not
                           None else "-"), str(d["char"] if d["char"] is not None else "-"),
                           Text(visible(d["reference_token"] or "")), Text(visible(d["candidate_token"] or "")),
                           margin, Text(d["error"] and visible(d["error"])[:60] or changed))
    if shown:
        console.print(differ)
    for note in notes:
        console.print(Text(f"note: {visible(note)}"))


@equivalence_app.command("run")
def run(
    endpoint: Endpoint = None,
    backend: BackendName = None,
    config: ConfigName = None,
    set_: Sets = None,
    model: ModelName = None,
    suite: Annotated[str, typer.Option(help="Equivalence suite name or YAML path.")] = "equivalence",
    max_tokens: Annotated[Optional[int], typer.Option(help="Output tokens per prompt.")] = None,
    loaded: Annotated[Optional[int], typer.Option(help="In flight for the pass under load (0: one at a time only).")]
    = None,
    sharegpt: Annotated[Optional[int], typer.Option(help="ShareGPT prompts.")] = None,
    bfcl: Annotated[Optional[int], typer.Option(help="BFCL single-turn prompts with tools.")] = None,
    conversations: Annotated[Optional[int], typer.Option(help="Long ShareGPT conversations.")] = None,
    api: Annotated[Optional[str], typer.Option(help="completions (raw output; default) or chat.")] = None,
    bfcl_data_dir: Annotated[Optional[str], typer.Option(help="A folder in BFCL's layout, if not the cached wheel.")]
    = None,
    api_key: ApiKey = None,
    results_dir: Annotated[Path, typer.Option(help="Where result folders go.")] = Path("results"),
    label: Annotated[Optional[str], typer.Option(help="What comparisons call this run.")] = None,
) -> None:
    """Ask a fixed prompt set at temperature 0, one at a time and under load, and keep every output."""
    from glmbench.api import Launch, RunInterrupted
    from glmbench.api.equivalence import load_equivalence_suite, run_equivalence
    from glmbench.cli.progress import TerminalProgress

    overrides: dict[str, Any] = {"max_tokens": max_tokens, "loaded": loaded, "sharegpt": sharegpt, "bfcl": bfcl,
                                 "conversations": conversations, "api": api}
    if bfcl_data_dir:
        overrides.update(bfcl_data_dir=bfcl_data_dir, bfcl_source="dir")
    suite_obj = load_equivalence_suite(suite, overrides)
    launch = Launch(backend=backend, config=config, sets=list(set_ or []), endpoint=endpoint, model=model)
    progress = TerminalProgress()
    try:
        result = run_equivalence(launch, suite_obj, api_key, results_dir, progress, label=label)
        interrupted = False
    except RunInterrupted as stop:
        result, interrupted = stop.result, True
    progress.finished()
    summary = result.summary
    if summary is not None and summary.batch_invariance:
        own = {**summary.batch_invariance, "pass": "alone vs loaded (this server)", "differences": summary.differences}
        print_diff([own], f"{result.path.name}: the same prompt alone and among {summary.loaded}",
                   [] if summary.logprobs else ["the server gave no logprobs: differences are placed in characters "
                                                "and have no margin"])
    print(f"results: {result.path}")
    if interrupted:
        sys.exit(130)
    failure = result.failure()
    if failure is not None:
        raise failure


@equivalence_app.command("diff")
def diff(
    reference: Annotated[Path, typer.Argument(help="The reference run (e.g. speculation off, or transformers serve).")],
    candidate: Annotated[Path, typer.Argument(help="The run compared with it.")],
    require_alone: Annotated[Optional[float], typer.Option(help="Least share of prompts that must match one at a "
                                                           "time (default: the candidate's suite, 1.0).")] = None,
    require_loaded: Annotated[Optional[float], typer.Option(help="The same under load (default: the suite's; "
                                                            "none: not gated).")] = None,
    format_: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")] = "table",
) -> None:
    """Compare two equivalence runs prompt by prompt; exit 1 when a gate does not hold."""
    from glmbench.api.equivalence import diff_equivalence
    from glmbench.errors import GlmbenchError

    if format_ not in ("table", "json"):
        raise GlmbenchError(f"unknown format {format_!r}", "use --format table or --format json")
    result, gates = diff_equivalence(reference, candidate, require_alone, require_loaded)
    data = result.to_dict()
    data["gates"] = [{"pass": g.pass_name, "required": g.required, "measured": g.measured, "held": g.held}
                     for g in gates]
    data["passed"] = all(g.held for g in gates)
    if format_ == "json":
        print(json.dumps(data, indent=2))
    else:
        print_diff(data["passes"], f"{result.candidate} against {result.reference}",
                   [("gate held: " if g.held else "gate failed: ") + g.describe() for g in gates])
    if not data["passed"]:
        failed = next(g for g in gates if not g.held)
        raise GlmbenchError(f"outputs changed: {failed.describe()}", "see the differences above; a near tie is "
                            "numerics, a wide margin a difference worth a report", exit_code=1)


def register(app: typer.Typer) -> None:
    app.add_typer(equivalence_app, name="equivalence")
