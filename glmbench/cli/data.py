"""``glmbench data``: fetch the datasets glmbench reads, say where they are, and make a sample trace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glmbench.errors import GlmbenchError

__all__ = ["register"]

_DATASETS = ("bfcl",)

data_app = typer.Typer(help="Fetch and locate the datasets glmbench reads; make a sample trace.", no_args_is_help=True)


@data_app.command("fetch")
def fetch(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="Which dataset: bfcl.")],
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", help="Also unpack the data here, in BFCL's own layout, to pass as --data-dir later.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even when the cache is good.")] = False,
    version: Annotated[str, typer.Option(
        "--version", help="The BFCL release: 2025.6.8 (v3), 2026.3.23 (v4, today's leaderboard), or all.")
    ] = "2025.6.8",
) -> None:
    """Download BFCL (the bfcl-eval wheel of a release, from PyPI) into the cache, check its sha256 and count its
    entries."""
    from glmbench.bfcl.versions import VERSIONS

    if dataset not in _DATASETS:
        raise GlmbenchError(f"unknown dataset {dataset!r}", f"use one of {', '.join(_DATASETS)}")
    if version != "all" and version not in VERSIONS:
        raise GlmbenchError(f"unknown BFCL version {version!r}", f"use one of {', '.join(VERSIONS)}, or all")
    if version == "all" and data_dir is not None:
        raise GlmbenchError("--data-dir takes one release's data", "pass --version 2025.6.8 or --version 2026.3.23")
    for release in (VERSIONS if version == "all" else [version]):
        _fetch_bfcl(release, data_dir, force)


def _fetch_bfcl(version: str, data_dir: Path | None, force: bool) -> None:
    from glmbench.bfcl.data import extract_bfcl, fetch_bfcl, load_bfcl
    from glmbench.bfcl.versions import version_info

    info_ = version_info(version)
    wheel = fetch_bfcl(force=force, version=version)
    typer.echo(f"bfcl {info_.label} ({info_.requirement}): {wheel}")
    typer.echo(f"sha256 {info_.sha256} (verified)")
    if data_dir is not None:
        extract_bfcl(wheel, data_dir)
        typer.echo(f"unpacked to {data_dir}")
    _, info = load_bfcl(None, source="dir" if data_dir is not None else "cache", data_dir=data_dir, version=version)
    typer.echo(f"{sum(info.counts.values())} entries in {len(info.counts)} categories")
    for category, (found, expected) in info.count_mismatches().items():
        typer.echo(f"  {category}: {found} entries, BFCL {info_.label} has {expected}")
    for category, reason in info.missing.items():
        typer.echo(f"  {category}: missing ({reason})")
    for category, ids in info.unanswered.items():
        typer.echo(f"  {category}: {len(ids)} entries without a possible answer")
    for category, ids in info.duplicates.items():
        typer.echo(f"  {category}: id repeated in BFCL's file: {', '.join(ids)}")


@data_app.command("where")
def where() -> None:
    """Show where each source of BFCL data is and whether it is there, in the order they are tried."""
    from glmbench.bfcl.data import HUB_REPO, cache_dir, cached_wheel, hub_snapshot, wheel_name
    from glmbench.bfcl.versions import DEFAULT_VERSION, VERSIONS

    typer.echo("bfcl, tried in this order:")
    typer.echo("  1. --data-dir DIR (a folder in BFCL's layout), when given")
    for version, info in VERSIONS.items():
        try:
            wheel = cached_wheel(version)
            absent = f"absent ({cache_dir() / wheel_name(version)}; {info.fetch_command})"
            state = f"{wheel} (sha256 verified)" if wheel else absent
        except GlmbenchError as exc:
            state = f"damaged: {exc.message}"
        which = "" if version == DEFAULT_VERSION else f" ({info.label}, {version})"
        typer.echo(f"  2. cache{which}: {state}")
    snapshot = hub_snapshot(download=False)
    typer.echo(f"  3. hub: {snapshot if snapshot else f'{HUB_REPO} not in the Hugging Face cache'}")


@data_app.command("sample-trace")
def sample_trace(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="The JSONL file to write.")],
    requests: Annotated[int, typer.Option("--requests", min=1, help="Requests in the trace.")] = 200,
    span_s: Annotated[float, typer.Option("--span", min=0.0, help="Seconds from the first request to the last.")] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the made-up trace.")] = 0,
) -> None:
    """Write a small made-up Mooncake-format trace (shared prefixes, Poisson arrivals) to try trace replay."""
    from glmbench.datasets.traces.sample import write_sample_trace

    try:
        written = write_sample_trace(out, requests, seed, span_s)
    except OSError as exc:
        raise GlmbenchError(f"cannot write {out}: {exc.strerror or exc}", "choose another OUT path") from None
    typer.echo(f"{written} requests over {span_s:g} s written to {out}")
    typer.echo(f"replay it: glmbench bench --endpoint URL --trace-path {out} --time-scale 1")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
