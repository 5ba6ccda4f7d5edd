"""``glmbench backends`` (what is installed and how each is launched) and ``glmbench serve`` (start one, wait, Ctrl-C stops)."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from glmbench.errors import GlmbenchError

__all__ = ["register"]

# A launch argument longer than this (the simulator's settings as JSON) is cut short in the table: the command
# is printed whole under it, on one line, to be copied.
_LONG_ARGUMENT = 48


def _short_command(command: str) -> tuple[str, bool]:
    """``command`` with each long argument cut short, and whether any was."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command, False
    cut = [shlex.quote(w if len(w) <= _LONG_ARGUMENT else w[:_LONG_ARGUMENT // 2] + "…") for w in words]
    return " ".join(cut), any(len(w) > _LONG_ARGUMENT for w in words)


def _home(path: str | None) -> str:
    """A path with the home folder written ``~``."""
    home = str(Path.home())
    return "~" + path[len(home):] if path and home != "/" and path.startswith(home + "/") else path or ""


def backends(
    config: Annotated[list[str], typer.Option(help="Also check these configs (names or paths); repeatable.",
                                              metavar="NAME|PATH")] = [],  # noqa: B006
    set_: Annotated[list[str], typer.Option("--set", help="KEY=VALUE applied to every config checked.",
                                            metavar="KEY=VALUE")] = [],  # noqa: B006
    format: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT",
                                        help="table, or json: one object per config.")] = "table",
) -> None:
    """Every config in configs/: its backend found where it would launch? which version? the exact command."""
    from glmbench.api.launch import describe_backends

    if format not in ("table", "json"):
        raise GlmbenchError(f"unknown backends format {format!r}", "use table or json")
    rows = describe_backends(config, set_)
    if format == "json":
        import dataclasses
        import json

        typer.echo(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))
        return
    from rich.table import Table

    from glmbench.util.text import rich_text, safe_console, visible

    table = Table(title="glmbench backends", show_lines=True)
    for col in ("backend", "config", "found", "version", "launch"):
        table.add_column(col, overflow="fold")
    whole = []
    for row in rows:
        found = f"yes: {_home(row.where)}" if row.found else f"no: {row.problem}\n{row.hint}"
        if row.command is None:
            command = f"({row.command_problem}" + (f"; {row.command_hint}" if row.command_hint else "") + ")"
        else:
            command, cut = _short_command(row.command)
            if cut:
                command += " (in full below)"
                whole.append(f"{row.config}: {row.command}")
        table.add_row(*(rich_text(v) for v in (row.backend, row.config, found, row.version or "-", command)))
    safe_console(width=160).print(table)
    if whole:
        typer.echo("launch commands in full:")
        for line in whole:
            typer.echo(f"  {visible(line)}")


def serve(
    backend: Annotated[Optional[str], typer.Option(help="Backend to start; its default config unless --config.",
                                                   metavar="NAME")] = None,
    config: Annotated[Optional[str], typer.Option(help="Backend config: a name from configs/ or a YAML path.",
                                                  metavar="NAME|PATH")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config field: KEY=VALUE; "
                                                      "repeatable.", metavar="KEY=VALUE")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model path or name (overrides the config).",
                                                 metavar="NAME|PATH")] = None,
    port: Annotated[Optional[int], typer.Option(min=0, max=65535, help="Port to listen on (default: the config's "
                                                "port; 0 picks a free one).", show_default=False)] = None,
    log: Annotated[Optional[Path], typer.Option(help="Server log file (default results/serve-<backend>-<time>.log).")] = None,
) -> None:
    """Start a backend, wait until it is ready, print its URL, and stop it on Ctrl-C."""
    from glmbench.api import Launch, prepare
    from glmbench.api import serve as serving
    from glmbench.cli.progress import TerminalProgress

    sets = [*(set_ or []), *([f"port={port}"] if port is not None else [])]  # --port wins over a --set port=
    prepared = prepare(Launch(backend=backend, config=config, sets=sets, model=model))
    if prepared.endpoint:
        raise GlmbenchError("this config is an external endpoint: there is nothing to start",
                            "use glmbench bench --endpoint URL")
    cfg = prepared.cfg
    assert cfg is not None  # only an external endpoint comes without a config
    log = log or Path("results") / f"serve-{cfg.backend}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    try:
        with serving(prepared, log, progress=TerminalProgress()) as server:
            print(f"{server.base_url}  model {server.model}  ({cfg.source_label}, "
                  f"{server.version or 'version unknown'})", flush=True)
            print(f"command: {shlex.join(server.command or [])}", file=sys.stderr, flush=True)
            print("Ctrl-C stops it", file=sys.stderr, flush=True)
            while (code := server.exit_code()) is None:
                time.sleep(0.5)
            raise GlmbenchError(f"{cfg.backend} exited with code {code}", f"see {log}", exit_code=1)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr, flush=True)


def register(app: typer.Typer) -> None:
    app.command("backends")(backends)
    app.command("serve")(serve)
