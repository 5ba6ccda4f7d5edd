"""``glmbench experiment run``: servers x load points x BFCL suites from one file, one folder, one index."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional, cast

import typer

from glmbench.cli.options import ApiKey

__all__ = ["register", "print_experiment"]

experiment_app = typer.Typer(help="Experiments: server configurations x load points x BFCL suites, from one file.",
                             no_args_is_help=True)


def print_experiment(folder: Path) -> None:
    """The per-server table, then every point: what ``glmbench report EXPERIMENT_DIR`` prints."""
    from glmbench.cli.output import print_output
    from glmbench.report.formats.base import render
    from glmbench.report.formats.registry import get_format
    from glmbench.report.model import open_report

    print_output(render(get_format("table"), open_report([folder])))


@experiment_app.command("run")
def run(
    file: Annotated[Optional[str], typer.Argument(help="Experiment file: a path, or a name from experiments/.")] = None,
    results_dir: Annotated[Path, typer.Option(help="Where the experiment folder goes.")] = Path("results"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and a rough duration; start nothing.")] = False,
    resume: Annotated[Optional[Path], typer.Option(help="An experiment folder to finish: points that ended are kept, "
                                                   "the rest run.")] = None,
    api_key: ApiKey = None,
    on: Annotated[str, typer.Option("--on", help="Where the cells run: 'local' (one after another here) or 'ray' "
                                    "(in parallel over a Ray cluster's nodes; pip install 'glmbench[ray]').")] = "local",
    address: Annotated[Optional[str], typer.Option(help="With --on ray: the cluster (HOST:6379, or ray://HOST:10001); "
                                                   "default $RAY_ADDRESS or the cluster started on this machine.",
                                                   show_default=False)] = None,
    gpu_resource: Annotated[str, typer.Option(help="With --on ray: the Ray resource that counts as a GPU.")] = "GPU",
    skip_missing: Annotated[bool, typer.Option("--skip-missing", help="Run the server configurations that can start "
                                               "here and record the others (backend not found) as skipped, instead "
                                               "of stopping before anything starts.")] = False,
) -> None:
    """Run an experiment: each server configuration started once, every load point and suite against it."""
    from glmbench.api.experiment import run_experiment
    from glmbench.api.interrupted import RunInterrupted
    from glmbench.cli.progress import TerminalProgress
    from glmbench.errors import GlmbenchError

    if not file and not resume:
        raise GlmbenchError("no experiment file given", "pass FILE (e.g. experiments/cpu-sim.yaml), or --resume DIR")
    if on not in ("local", "ray"):
        raise GlmbenchError(f"--on {on!r}: no such place to run", "pass --on local or --on ray")
    if on == "local" and (address or gpu_resource != "GPU"):
        raise GlmbenchError("--address and --gpu-resource are for --on ray", "add --on ray, or drop them")
    if dry_run:
        _print_plan(file or str(cast(Path, resume) / "experiment.yaml"), here=on == "local")  # resume set: checked
        return
    from glmbench.api.on_ray import RayOptions

    progress = TerminalProgress()
    ray = RayOptions(address, gpu_resource) if on == "ray" else None
    try:
        result = run_experiment(file, results_dir, api_key, progress, resume, ray, skip_missing)
    except RunInterrupted as stop:
        print_experiment(stop.result.path)
        print(f"experiment: {stop.result.path}")
        progress.err.print(f"interrupted; finish it with glmbench experiment run --resume {stop.result.path}")
        sys.exit(130)
    print_experiment(result.path)
    print(f"experiment: {result.path}")
    skipped = result.skipped_cells()
    if skipped:
        progress.err.print(f"skipped {len(skipped)} of {len(result.index.cells)} server configurations that cannot "
                           f"start here (--skip-missing): {', '.join(c.label for c in skipped)}")
    failed = result.failed_cells()
    if failed:
        raise GlmbenchError(f"{len(failed)} of {len(result.index.cells)} server configurations did not finish "
                            f"(first: {failed[0].label}: {(failed[0].reason or failed[0].status).splitlines()[0]})",
                            f"see {result.path / 'index.json'}; rerun what failed with --resume {result.path}",
                            exit_code=1)


# Server configurations the plan lists one by one; a large grid is summed up after them.
_LISTED = 50


def _print_plan(file: str, here: bool = True) -> None:
    """The plan, each server configuration's command and points, and (``here``: run on this machine) which cannot
    start here and why."""
    from glmbench.api.experiment import plan_experiment, searches, unstartable
    from glmbench.backends.registry import get_backend
    from glmbench.experiment.file import set_value
    from glmbench.experiment.plan import cannot_start_error
    from glmbench.util.text import visible

    experiment, planned, seconds, configs = plan_experiment(file)
    missing = unstartable(planned, configs) if here else []
    why = {m.label: m.problem for m in missing}
    found = searches(experiment)
    fixed = len(planned[0].points) if planned else 0
    counts = ([f"{fixed} points"] if fixed or not found else []) + [s.count for s in found]
    print(f"experiment {experiment.name}: {len(planned)} server configurations x {' + '.join(counts)}, "
          f"repeats {experiment.repeats}")
    if planned and experiment.load is not None:
        options = ", ".join(f"{k}={set_value(v)}" for k, v in experiment.load.options.items())
        slo = ", ".join(f"{k}={v:g}{'%' if k.startswith('accuracy') else ' ms'}" for k, v in experiment.slo.items())
        print(visible(f"  every load point: suite {experiment.load.suite}" + (f", options {options}" if options else "")
                      + (f"; SLOs {slo}" if slo else "")))
    for search in found:
        print(f"  {search.text}")
    for cell, cfg in zip(planned[:_LISTED], configs):
        gpus = get_backend(cfg.backend).gpus_per_node(cfg)
        where = f" [{cfg.nodes} node(s) x {gpus} GPU]" if gpus or cfg.nodes > 1 else ""
        print(f"  {visible(cell.label)}{where}: glmbench run " + " ".join(
            ([f"--backend {cell.launch.backend}"] if cell.launch.backend else [])
            + ([f"--config {cell.launch.config}"] if cell.launch.config else [])
            + [f"--set {shlex.quote(s)}" for s in cell.launch.sets]))
        print("    points: " + ", ".join([p.label for p in cell.points] + [s.labels for s in found]))
        if cell.label in why:
            print(f"    cannot start here: {visible(why[cell.label])}")
    if len(planned) > _LISTED:
        print(f"  ... and {len(planned) - _LISTED:,} more server configurations")
    about = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
    print(f"estimated duration: about {about} (rough: start-up and request times assumed per backend"
          + ("; sweeps and capacity searches counted at their most points" if found else "") + ")")
    if missing:
        error = cannot_start_error(missing, len(planned))
        print(f"{visible(error.message)}: glmbench experiment run stops before starting")
        print(f"next: {visible(error.hint or '')}")


def register(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
