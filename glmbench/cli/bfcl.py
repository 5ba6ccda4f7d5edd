"""``glmbench bfcl`` (run BFCL v3 against a server) and ``glmbench rescore`` (score stored responses again)."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from glmbench import __version__
from glmbench.errors import GlmbenchError

__all__ = ["register", "execute_bfcl", "load_bfcl_suite"]

_MULTI_TURN_WHY = "multi-turn needs BFCL's simulated APIs (stateful tool execution); not implemented yet"


def load_bfcl_suite(name_or_path: str, overrides: dict[str, Any] | None = None):
    """A BFCL suite file (``suites/bfcl-v3.yaml``) with command-line overrides, validated."""
    import yaml
    from pydantic import ValidationError

    from glmbench.bfcl.suite import BFCLSuite
    from glmbench.load.workload import suite_path
    from glmbench.util.config_file import validation_message as format_validation_error

    path = suite_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise GlmbenchError(f"suite file not found: {path}", "check the path") from None
    except yaml.YAMLError as exc:
        raise GlmbenchError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}", "fix the file") from None
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return BFCLSuite.model_validate(data)
    except ValidationError as exc:
        raise GlmbenchError(format_validation_error(exc, str(path)), "fix the option or the suite file") from None


def is_bfcl_suite(name_or_path: str) -> bool:
    """True when the suite file says ``kind: bfcl``."""
    import yaml

    from glmbench.load.workload import suite_path

    try:
        data = yaml.safe_load(suite_path(name_or_path).read_text())
    except (OSError, yaml.YAMLError, GlmbenchError):
        return False
    return isinstance(data, dict) and data.get("kind") == "bfcl"


class _Bar:
    def __init__(self, total: int) -> None:
        from glmbench.util.text import safe_console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("bfcl"), BarColumn(), MofNCompleteColumn(), TextColumn("errors {task.fields[errors]}"),
                            TimeElapsedColumn(), console=safe_console(stderr=True), refresh_per_second=2)
        self.task = self.bar.add_task("bfcl", total=total, errors=0)
        self.errors = 0

    def done(self, record: dict[str, Any]) -> None:
        self.errors += bool(record.get("error"))
        self.bar.update(self.task, advance=1, errors=self.errors)


def execute_bfcl(launch, suite, api_key: Optional[str], results_dir: Path, resume: Optional[Path] = None) -> None:
    """Load the data, open the server, ask every entry, store records and summary, print the tables."""
    from glmbench.util.text import safe_console, visible

    from glmbench.bfcl.data import load_bfcl
    from glmbench.bfcl.results import summarize_run
    from glmbench.bfcl.runner import RECORDS, run_entries
    from glmbench.cli.serving import open_server, prepare_launch, redacted_config
    from glmbench.report.bfcl import print_bfcl
    from glmbench.results.schema import BackendInfo, Manifest
    from glmbench.results.store import RunStore, clock_pair, git_sha, host_facts, new_run_id, now_iso
    from glmbench.util.loop import run_async

    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    wanted = [c for c in suite.categories if not c.startswith("multi_turn")]
    not_run = {c: _MULTI_TURN_WHY for c in suite.categories if c.startswith("multi_turn")}
    entries, info = load_bfcl(wanted, suite.source, suite.data_dir)
    not_run.update({c: f"no data ({why})" for c, why in info.missing.items()})
    if suite.limit:
        entries = _first_per_category(entries, suite.limit)
    prepared = prepare_launch(launch)
    err = safe_console(stderr=True)
    # An endpoint is probed before a result folder exists: an unreachable one leaves nothing behind.
    server = open_server(prepared, launch, api_key, None, err) if prepared.endpoint else None
    store = RunStore.reopen(resume) if resume else RunStore(results_dir, new_run_id(prepared.label, "bfcl"))
    if server is None:
        try:
            server = open_server(prepared, launch, api_key, store, err)
        except BaseException:
            store.release_reserve()
            raise
    cfg = prepared.cfg
    store.write_config({"bfcl_suite": suite.model_dump(mode="json"), "backend": prepared.label,
                        "backend_config": redacted_config(cfg) if cfg else None})
    manifest = Manifest(
        run_id=store.run_id, kind="bfcl", glmbench_version=__version__, git_sha=git_sha(),
        backend=BackendInfo(name=server.name, version=server.version, command=server.command, env=server.env,
                            url=server.base_url, model=server.model, config=redacted_config(cfg) if cfg else None),
        host=host_facts(), suite=suite.name, workloads=sorted({e.category for e in entries}),
        dataset={**asdict(info), "limit_per_category": suite.limit}, seed=0, started_at=now_iso(), clock=clock_pair(),
    )
    store.write_manifest(manifest)
    err.print(f"bfcl: {len(entries)} entries ({suite.mode} mode, {suite.style} requests) against "
              f"{server.base_url} ({visible(server.model)}) -> {store.path}")
    bar = _Bar(len(entries))
    status, interrupted, write_failure = "failed", False, None
    records: dict[str, Any] = {}
    try:
        with bar.bar:
            records = run_async(run_entries(entries, suite, server.base_url, server.model, store.path / RECORDS,
                                            api_key, bar.done))
        status = "all-failed" if records and all(r.get("error") for r in records.values()) else "complete"
    except KeyboardInterrupt:
        status, interrupted = "interrupted", True
        from glmbench.bfcl.runner import read_records

        records = read_records(store.path / RECORDS)
    except GlmbenchError as exc:
        # The records file could not be written (a full disk): stop, keep and summarise what was written.
        status, interrupted, write_failure = "write-failed", True, exc
        from glmbench.bfcl.runner import read_records

        records = read_records(store.path / RECORDS)
    finally:
        if not server.stop():
            err.print(f"warning: port {server.port} still answers after the server was stopped")
        try:
            store.write_manifest(manifest.model_copy(update={"status": status, "finished_at": now_iso()}))
        except GlmbenchError as exc:
            err.print(f"warning: {exc.message}")
        store.release_reserve()
    summary = summarize_run(store.run_id, suite, entries, records, not_run, interrupted)
    try:
        store.write_summary(summary)
    except GlmbenchError as exc:
        if write_failure is None:
            raise
        err.print(f"warning: {exc.message}")
    print_bfcl(summary, f"{suite.name} on {cfg.source_label if cfg else server.name} ({server.model})")
    errors = sum(1 for r in records.values() if r.get("error"))
    if errors:
        err.print(f"* {errors} entries failed at the API (counted as failures); reasons in {store.path / RECORDS}")
    print(f"results: {store.path}")
    if write_failure is not None:
        raise write_failure
    if interrupted:
        sys.exit(130)
    if status == "all-failed":
        first = next(iter(records.values())).get("error")
        raise GlmbenchError(f"every BFCL request failed at the API (first: {first})",
                            "check the server and --endpoint/--model; the reasons are in the records", exit_code=1)


def _first_per_category(entries, limit: int):
    """The first ``limit`` entries of each category, in file order."""
    seen: dict[str, int] = {}
    kept = []
    for entry in entries:
        seen[entry.category] = seen.get(entry.category, 0) + 1
        if seen[entry.category] <= limit:
            kept.append(entry)
    return kept


def bfcl(
    endpoint: Annotated[Optional[str], typer.Option(help="A running server (URL ending in /v1).")] = None,
    backend: Annotated[Optional[str], typer.Option(help="Backend to start (or, with --endpoint, what it is).")] = None,
    config: Annotated[Optional[str], typer.Option(help="Backend config: a name from configs/ or a YAML path.")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Override a backend config field: KEY=VALUE.")] = [],  # noqa: B006
    model: Annotated[Optional[str], typer.Option(help="Model name (default: the first at /v1/models) or path.")] = None,
    suite: Annotated[str, typer.Option(help="BFCL suite name or YAML path.")] = "bfcl-v3",
    categories: Annotated[Optional[str], typer.Option(help="Comma list of categories (default: the suite's).")] = None,
    scoring: Annotated[Optional[str], typer.Option(help="Rules shown first: lightllm (published table) or bfcl.")] = None,
    mode: Annotated[Optional[str], typer.Option(help="native (server parses tool calls) or prompt (glmbench does).")] = None,
    style: Annotated[Optional[str], typer.Option(help="Requests as LightLLM's script (lightllm) or BFCL's handler (bfcl).")] = None,
    concurrency: Annotated[Optional[int], typer.Option(help="Requests in flight.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many entries per category.")] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="A folder in BFCL's layout (BFCL_v3_*.json, possible_answer/).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Per-request timeout in seconds.")] = None,
    api_key: Annotated[Optional[str], typer.Option(help="Bearer key; default $OPENAI_API_KEY. Never stored.", show_default=False)] = None,
    results_dir: Annotated[Path, typer.Option(help="Where result folders go.")] = Path("results"),
    resume: Annotated[Optional[Path], typer.Option(help="A BFCL result folder to finish (entries answered are kept).")] = None,
) -> None:
    """Run BFCL v3 function-calling categories against a server and score them by both rule sets."""
    from glmbench.cli.serving import Launch

    overrides: dict[str, Any] = {
        "scoring": scoring, "mode": mode, "style": style, "concurrency": concurrency, "limit": limit,
        "timeout_s": timeout,
        "categories": [c.strip() for c in categories.split(",") if c.strip()] if categories else None,
    }
    if data_dir:
        overrides.update(data_dir=data_dir, source="dir")
    if resume:
        suite_obj = _resumed_suite(resume, overrides)
    else:
        suite_obj = load_bfcl_suite(suite, overrides)
    launch = Launch(backend=backend, config=config, sets=list(set_), endpoint=endpoint, model=model)
    execute_bfcl(launch, suite_obj, api_key, results_dir, resume)


def _resumed_suite(run_dir: Path, overrides: dict[str, Any]):
    import yaml

    from glmbench.bfcl.suite import BFCLSuite

    path = run_dir / "config.yaml"
    if not path.is_file():
        raise GlmbenchError(f"no config.yaml in {run_dir}", "pass a folder written by glmbench bfcl to --resume")
    data = (yaml.safe_load(path.read_text()) or {}).get("bfcl_suite")
    if not isinstance(data, dict):
        raise GlmbenchError(f"{run_dir} is not a BFCL run", "pass a folder written by glmbench bfcl to --resume")
    # What was asked stays as it was; only how fast it is asked may change.
    data.update({k: overrides[k] for k in ("concurrency", "timeout_s") if overrides.get(k) is not None})
    return BFCLSuite.model_validate(data)


def rescore(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by glmbench bfcl.")],
    scoring: Annotated[Optional[str], typer.Option(help="Rules shown first: lightllm or bfcl.")] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="BFCL data folder, if not the cached wheel.")] = None,
) -> None:
    """Decode and score a BFCL run's stored responses again, without asking the server."""
    from glmbench.bfcl.data import load_bfcl
    from glmbench.bfcl.results import summarize_run
    from glmbench.bfcl.runner import RECORDS, read_records, rescore as rescore_records
    from glmbench.report.bfcl import print_bfcl
    from glmbench.results.store import RunStore

    suite = _resumed_suite(run_dir, {})
    if scoring:
        suite = suite.model_copy(update={"scoring": scoring})
    if data_dir:
        suite = suite.model_copy(update={"data_dir": data_dir, "source": "dir"})
    stored = read_records(run_dir / RECORDS)
    if not stored:
        raise GlmbenchError(f"no BFCL records in {run_dir}", "pass a folder written by glmbench bfcl")
    categories = sorted({r["category"] for r in stored.values()})
    entries, _ = load_bfcl(categories, suite.source, suite.data_dir)
    by_id = {e.id: e for e in entries}
    records = {r["id"]: r for r in rescore_records(stored.values(), by_id, suite.enable_thinking)}
    not_run = {c: "not run" for c in suite.categories if c not in categories}
    summary = summarize_run(run_dir.name, suite, [e for e in entries if e.id in records], records, not_run)
    RunStore.reopen(run_dir).write_summary(summary)
    print_bfcl(summary, f"{run_dir.name} (rescored)")


def register(app: typer.Typer) -> None:
    app.command("bfcl")(bfcl)
    app.command("rescore")(rescore)
